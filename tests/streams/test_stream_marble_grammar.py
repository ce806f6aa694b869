"""The RxJS run()-mode grammar, case by case, and parse/render round trips."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_streamreplay.streams.marbles import (
    MarbleSyntaxError,
    parse_marbles,
    parse_subscription,
    render,
)


def frames(diagram: str, **kw: object) -> list[tuple[float, str]]:
    events, _ = parse_marbles(diagram, **kw)  # type: ignore[arg-type]
    return [(e.frame, e.char) for e in events]


def test_dashes_are_frames_and_spaces_are_ignored() -> None:
    assert frames("--a--b--|") == [(2, "a"), (5, "b"), (8, "|")]
    assert frames("  --a  --b--|  ") == [(2, "a"), (5, "b"), (8, "|")]


def test_values_are_looked_up_else_the_character_itself() -> None:
    events, _ = parse_marbles("a-b", {"a": {"p": 1}})
    assert [e.value for e in events] == [{"p": 1}, "b"]


@pytest.mark.parametrize(
    ("diagram", "expected"),
    [
        ("a 9ms b 9s c|", [(0, "a"), (10, "b"), (9011, "c"), (9012, "|")]),
        ("1.4s a", [(1400, "a")]),
        ("5.25m |", [(315000, "|")]),
        ("- 10ms a", [(11, "a")]),
        # No space before or after: not a progression, just values.
        ("a10ms", [(0, "a"), (1, "1"), (2, "0"), (3, "m"), (4, "s")]),
        ("a 10ms", [(0, "a"), (1, "1"), (2, "0"), (3, "m"), (4, "s")]),
    ],
)
def test_time_progression(diagram: str, expected: list[tuple[float, str]]) -> None:
    assert frames(diagram) == expected


def test_group_emits_together_then_advances_by_its_length() -> None:
    assert frames("--(abc)-|") == [(2, "a"), (2, "b"), (2, "c"), (8, "|")]
    assert frames("(ab|)") == [(0, "a"), (0, "b"), (0, "|")]


def test_hot_subscription_point_is_frame_zero() -> None:
    events, sub = parse_marbles("--a--^--b--|")
    assert sub == 5
    assert [(e.frame, e.char) for e in events] == [(-3, "a"), (3, "b"), (6, "|")]


def test_error_marker_carries_the_error_value() -> None:
    boom = ValueError("boom")
    events, _ = parse_marbles("--#", error=boom)
    assert events[0].kind == "on_error" and events[0].error is boom and events[0].frame == 2
    default, _ = parse_marbles("#")
    assert type(default[0].error) is Exception and default[0].error.args == ("error",)


def test_subscription_diagrams() -> None:
    assert parse_subscription("^--!") == parse_subscription("^ 2ms !")
    sub = parse_subscription("---^---!-")
    assert (sub.subscribed, sub.unsubscribed) == (3, 7)
    assert math.isinf(parse_subscription("--^--").unsubscribed)
    assert (parse_subscription("(^!)").subscribed, parse_subscription("(^!)").unsubscribed) == (
        0,
        0,
    )


@pytest.mark.parametrize(
    ("diagram", "message"),
    [
        ("a-!", "'!'"),
        ("(a(b))", "nested"),
        ("(ab", "unclosed"),
        ("a)", "without"),
    ],
)
def test_syntax_errors_name_the_problem(diagram: str, message: str) -> None:
    with pytest.raises(MarbleSyntaxError, match=message):
        parse_marbles(diagram)


def test_cold_rejects_subscription_point_and_subscription_rejects_values() -> None:
    with pytest.raises(MarbleSyntaxError, match="cold"):
        parse_marbles("-^-a", allow_subscription=False)
    with pytest.raises(MarbleSyntaxError, match="found 'a'"):
        parse_subscription("^-a-!")


def test_render_uses_dashes_groups_and_progressions() -> None:
    assert render([(2, "a"), (5, "b"), (8, "|")]).diagram == "--a--b--|"
    assert render([(2, "a"), (2, "b"), (8, "|")]).diagram == "--(ab)--|"
    assert render([(0, "a"), (100, "b")]).diagram == "a 99ms b"
    overlapping = render([(0, "a"), (0, "b"), (1, "c")])
    assert not overlapping.exact


_VALUE = st.sampled_from(list("abcxyz019m"))
_TOKEN = st.one_of(
    st.just("-"),
    st.just(" "),
    _VALUE,
    st.lists(_VALUE, min_size=1, max_size=3).map(lambda vs: "(" + "".join(vs) + ")"),
    st.integers(1, 400).map(lambda n: f" {n}ms "),
    st.sampled_from([" 1.5s ", " 0.25m ", " 2.5ms "]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_TOKEN, max_size=12), st.sampled_from(["", "|", "#", "(a|)"]))
def test_parse_render_parse_round_trips(tokens: list[str], end: str) -> None:
    diagram = "".join(tokens) + end
    events, _ = parse_marbles(diagram)
    rendered = render((e.frame, e.char) for e in events)
    assert rendered.exact
    again, _ = parse_marbles(rendered.diagram)
    assert [(e.frame, e.kind, e.char) for e in again] == [(e.frame, e.kind, e.char) for e in events]


def test_render_never_writes_values_that_read_as_a_time_progression() -> None:
    rendered = render([(0, "1"), (1, "m"), (40, "a")])
    assert rendered.exact
    assert [(e.frame, e.char) for e in parse_marbles(rendered.diagram)[0]] == [
        (0, "1"),
        (1, "m"),
        (40, "a"),
    ]
    assert not render([(0, "1"), (1, "m"), (2.5, "a")]).exact
