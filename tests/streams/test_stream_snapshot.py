"""The stream_snapshot fixture through pytester: write, pass, fail with a diff, matchers."""

from __future__ import annotations

import pytest

from pytest_streamreplay.streams import Notification, render_timeline

TEST_FILE = """
import reactivex
from syrupy.filters import props
from syrupy.matchers import path_type
from pytest_streamreplay.streams import VirtualScheduler, collect_notifications

PRICE = "{price}"

def trades():
    s = VirtualScheduler()
    stream = reactivex.from_iterable([
        {{"price": "101.5", "size": 2, "ts": 111}},
        {{"price": PRICE, "size": 1, "ts": 222}},
    ]).pipe(reactivex.operators.delay(0.0125))
    return collect_notifications(stream, scheduler=s)

def test_trades(stream_snapshot):
    assert trades() == stream_snapshot

def test_trades_without_ts(stream_snapshot):
    assert trades() == stream_snapshot(exclude=props("ts"))

def test_trades_ts_as_type(stream_snapshot):
    ts_type = path_type({{r"\\d+\\.value\\.ts": (int,)}}, regex=True)
    assert trades() == stream_snapshot(matcher=ts_type)
"""


def _run(pytester: pytest.Pytester, price: str, *args: str) -> pytest.RunResult:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_trades=TEST_FILE.format(price=price))
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args)


def test_snapshot_update_then_pass_then_fail_with_a_text_diff(pytester: pytest.Pytester) -> None:
    _run(pytester, "101.6", "--snapshot-update").assert_outcomes(passed=3)
    stored = (pytester.path / "__snapshots__" / "test_trades.ambr").read_text()
    assert '12.5ms on_next      {"price":"101.5","size":2,"ts":111}' in stored
    assert "12.5ms on_completed" in stored
    assert '{"price":"101.6","size":1}' in stored  # exclude=props("ts")
    assert '{"price":"101.6","size":1,"ts":int}' in stored  # matcher=path_type(...)

    _run(pytester, "101.6").assert_outcomes(passed=3)

    changed = _run(pytester, "99.0")
    changed.assert_outcomes(failed=3)
    changed.stdout.fnmatch_lines(
        [
            '*- 12.5ms on_next      {"price":"101.6","size":1,"ts":222}*',
            '*+ 12.5ms on_next      {"price":"99.0","size":1,"ts":222}*',
        ]
    )


def test_timeline_rendering_directly() -> None:
    notes = [
        Notification(0.0, "on_next", {"b": 1, "a": [1, "x"]}),
        Notification(1500.25, "on_error", error=ValueError("boom")),
    ]
    assert render_timeline(notes) == (
        '0ms       on_next      {"a":[1,"x"],"b":1}\n1500.25ms on_error     ValueError["boom"]'
    )
    assert render_timeline([]) == "(no notifications)"


def test_syrupy_paths_filter_and_matcher_apply_to_timeline_paths() -> None:
    from syrupy.filters import paths
    from syrupy.matchers import path_type

    notes = [
        Notification(0.0, "on_next", {"ts": 1, "p": "1"}),
        Notification(1.0, "on_next", {"ts": 2, "p": "2"}),
    ]
    only_first = render_timeline(notes, exclude=paths("0.value.ts"))
    assert only_first.splitlines() == [
        '0ms on_next      {"p":"1"}',
        '1ms on_next      {"p":"2","ts":2}',
    ]
    times = render_timeline(notes, matcher=path_type({"1.time": (float,)}))
    assert times.splitlines()[1].startswith("float on_next")
