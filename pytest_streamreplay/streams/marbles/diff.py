"""Compare expected and actual marble events and explain the difference as a person reads it.

Output: both streams as aligned diagrams, a caret at the first differing frame, then that frame's
two notifications (a key-by-key diff when both values are dicts) and a legend for values the
expected diagram did not name. Errors match by type and args, or by ``isinstance`` when the
expectation names only a class.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .parser import MarbleEvent, Subscription
from .render import align, format_ms, render, render_subscription

__all__ = [
    "MarbleAssertionError",
    "describe_mismatch",
    "describe_subscription_mismatch",
    "error_matches",
    "events_match",
]

_SPECIAL = set(" -()|#^!")
_SPARE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ@$%&*+=?~<>"


class MarbleAssertionError(AssertionError):
    """A marble expectation that did not hold; the message shows both diagrams."""


def error_matches(expected: Any, actual: Any) -> bool:
    """A class matches by isinstance; an instance by exact type and args (never by str())."""
    if isinstance(expected, type) and issubclass(expected, BaseException):
        return isinstance(actual, expected)
    if isinstance(expected, BaseException) and isinstance(actual, BaseException):
        return type(expected) is type(actual) and expected.args == actual.args
    return bool(expected == actual)


def events_match(expected: MarbleEvent, actual: MarbleEvent) -> bool:
    if expected.frame != actual.frame or expected.kind != actual.kind:
        return False
    if expected.kind == "on_next":
        return bool(expected.value == actual.value)
    if expected.kind == "on_error":
        return error_matches(expected.error, actual.error)
    return True


def _show_error(error: Any) -> str:
    if isinstance(error, type):
        return error.__name__
    return repr(error)


def show(event: MarbleEvent | None) -> str:
    if event is None:
        return "nothing"
    if event.kind == "on_next":
        return f"on_next({event.value!r})"
    if event.kind == "on_error":
        return f"on_error({_show_error(event.error)})"
    return "on_completed()"


def _dict_diff(expected: Mapping[Any, Any], actual: Mapping[Any, Any]) -> list[str]:
    lines: list[str] = []
    for key in expected:
        if key not in actual:
            lines.append(f"      - {key!r}: {expected[key]!r}   (missing in actual)")
        elif expected[key] != actual[key]:
            lines.append(f"      ~ {key!r}: expected {expected[key]!r}, actual {actual[key]!r}")
    for key in actual:
        if key not in expected:
            lines.append(f"      + {key!r}: {actual[key]!r}   (only in actual)")
    return lines


def _chars_for_actual(
    actual: Sequence[MarbleEvent], values: Mapping[str, Any] | None
) -> tuple[list[str], dict[str, Any]]:
    """A marker per actual event: the expected diagram's name for equal values, else a spare."""
    named = dict(values or {})
    legend: dict[str, Any] = {}
    used = set(named)
    spare = iter(c for c in _SPARE if c not in used)
    chars: list[str] = []
    for event in actual:
        if event.kind == "on_completed":
            chars.append("|")
            continue
        if event.kind == "on_error":
            chars.append("#")
            continue
        found = next((k for k, v in named.items() if _equal(v, event.value)), None)
        if found is None:
            value = event.value
            if isinstance(value, str) and len(value) == 1 and value not in _SPECIAL | set(named):
                found = value
            else:
                found = next(spare, "?")
            named[found] = value
            if found != value:
                legend[found] = value
        chars.append(found)
    return chars, legend


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return False


def describe_mismatch(
    diagram: str,
    expected: Sequence[MarbleEvent],
    actual: Sequence[MarbleEvent],
    values: Mapping[str, Any] | None,
) -> str | None:
    """None when the streams agree, else the explanation."""
    if len(expected) == len(actual) and all(
        events_match(e, a) for e, a in zip(expected, actual, strict=True)
    ):
        return None
    first = next(
        (
            i
            for i, (e, a) in enumerate(zip(expected, actual, strict=False))
            if not events_match(e, a)
        ),
        min(len(expected), len(actual)),
    )
    exp_r = render((e.frame, e.char or "?") for e in expected if e.frame >= 0)
    chars, legend = _chars_for_actual(actual, values)
    act_r = render((a.frame, c) for a, c in zip(actual, chars, strict=True))
    e_ev = expected[first] if first < len(expected) else None
    a_ev = actual[first] if first < len(actual) else None
    frames = [ev.frame for ev in (e_ev, a_ev) if ev is not None]
    frame = min(frames)
    column = act_r.columns.get(frame, exp_r.columns.get(frame, 0))
    pad = len("expected") + 2
    lines = [
        f"marble expectation failed: to_be({diagram!r})",
        align([("expected", exp_r.diagram), ("actual", act_r.diagram)]),
        " " * (pad + column) + f"^ first difference at frame {format_ms(frame)}",
        f"  expected: {show(e_ev)}" + (f" at frame {format_ms(e_ev.frame)}" if e_ev else ""),
        f"  actual:   {show(a_ev)}" + (f" at frame {format_ms(a_ev.frame)}" if a_ev else ""),
    ]
    if (
        e_ev is not None
        and a_ev is not None
        and e_ev.kind == a_ev.kind == "on_next"
        and isinstance(e_ev.value, Mapping)
        and isinstance(a_ev.value, Mapping)
        and e_ev.value != a_ev.value
    ):
        lines.append("    dict diff (expected -> actual):")
        lines.extend(_dict_diff(e_ev.value, a_ev.value))
    if values:
        used = {e.char for e in expected}
        shown = {k: v for k, v in values.items() if k in used}
        if shown:
            lines.append("  values:   " + ", ".join(f"{k}={v!r}" for k, v in shown.items()))
    if legend:
        lines.append("  actual-only values: " + ", ".join(f"{k}={v!r}" for k, v in legend.items()))
    if not (exp_r.exact and act_r.exact):
        lines.append("  (some events are too close together for a diagram; exact times:)")
        lines.append(
            "  expected: " + ", ".join(f"{show(e)}@{format_ms(e.frame)}" for e in expected)
        )
        lines.append("  actual:   " + ", ".join(f"{show(a)}@{format_ms(a.frame)}" for a in actual))
    return "\n".join(lines)


def describe_subscription_mismatch(
    diagrams: Sequence[str], expected: Sequence[Subscription], actual: Sequence[Subscription]
) -> str | None:
    if list(expected) == list(actual):
        return None
    rows: list[tuple[str, str]] = []
    for i, sub in enumerate(expected):
        rows.append((f"expected[{i}]", render_subscription(sub.subscribed, sub.unsubscribed)))
    for i, sub in enumerate(actual):
        rows.append((f"actual[{i}]", render_subscription(sub.subscribed, sub.unsubscribed)))
    if not actual:
        rows.append(("actual", "(never subscribed)"))

    def span(s: Subscription) -> str:
        end = "never" if math.isinf(s.unsubscribed) else format_ms(s.unsubscribed)
        return f"subscribed at {format_ms(s.subscribed)}, unsubscribed at {end}"

    lines = [f"subscription expectation failed: to_be({', '.join(map(repr, diagrams))})"]
    lines.append(align(rows))
    for i in range(max(len(expected), len(actual))):
        e = expected[i] if i < len(expected) else None
        a = actual[i] if i < len(actual) else None
        if e != a:
            lines.append(
                f"  first difference, subscription {i}: expected "
                f"{span(e) if e else 'none'}; actual {span(a) if a else 'none'}"
            )
            break
    return "\n".join(lines)
