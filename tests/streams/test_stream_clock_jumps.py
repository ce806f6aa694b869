"""cassette_stream's fast path on a running VirtualScheduler: exact times, stops, errors.

Under ``VirtualScheduler.start()`` the stream moves the clock itself (``JumpWindow``) with due
times kept as integer microseconds; these tests pin that it lands on exactly the times the
``datetime`` arithmetic gives, on every kind of virtual clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import reactivex.operators as ops
from hypothesis import given
from hypothesis import strategies as st
from reactivex.testing import TestScheduler

from pytest_streamreplay.cassette import CassetteError
from pytest_streamreplay.streams import VirtualScheduler, cassette_stream, collect_notifications
from pytest_streamreplay.streams.scheduling import ms_to_us

_MS = timedelta(milliseconds=1)
_US = timedelta(microseconds=1)

# Offsets near half-microseconds, out of order and repeated, a long gap.
OFFSETS = [0.0005, 0.0015, 1.0, 0.5, 1.0, 12.3455, 750.0005, 750.0005, 86_400_000.25]


@given(
    st.floats(min_value=-1e13, max_value=1e13, allow_nan=False)
    | st.integers(min_value=-(10**9), max_value=10**9).map(lambda k: k / 2000)
    | st.integers(min_value=0, max_value=10**7).map(lambda k: k * 0.0005)
)
def test_ms_to_us_is_timedelta_arithmetic(ms: float) -> None:
    assert ms_to_us(ms) == (ms * _MS) // _US


def _expected(offsets: list[float], factor: float = 1.0) -> list[float]:
    """The times the datetime arithmetic gives: offset * factor ms on a microsecond clock,
    never before the previous item."""
    out: list[float] = []
    last = timedelta(0)
    for offset in offsets:
        due = max(last, (offset * factor) * _MS if factor != 1.0 else offset * _MS)
        last = due
        out.append(due / _MS)
    return out


def _run_started(
    path: Path, scheduler: VirtualScheduler, **kwargs: Any
) -> list[tuple[float, object]]:
    start = scheduler.now
    seen: list[tuple[float, object]] = []
    cassette_stream(path, scheduler=scheduler, **kwargs).subscribe(
        lambda v: seen.append(((scheduler.now - start) / _MS, v))
    )
    scheduler.start()
    return seen


@pytest.mark.parametrize("speed", [None, 2.0, 0.3])
@pytest.mark.parametrize(
    "initial", [0.0, 1_700_000_000.123456, datetime(2024, 5, 1, 12, 0, 0, 500, tzinfo=UTC)]
)
def test_jumps_land_on_the_datetime_times(
    tmp_path: Path, ws_cassette: Callable[..., Path], speed: float | None, initial: Any
) -> None:
    msgs = [(1, "recv", t, i) for i, t in enumerate(OFFSETS)]
    path = ws_cassette(tmp_path / "odd.jsonl", msgs, {1: ("wss://x", 0.0)})
    factor = 1.0 / speed if speed else 1.0
    want = list(zip(_expected(OFFSETS, factor), range(len(OFFSETS)), strict=True))
    assert _run_started(path, VirtualScheduler(initial), speed=speed) == want
    # The stepping collectors (no jumps) and reactivex's TestScheduler agree.
    for other in (VirtualScheduler(initial), TestScheduler()):
        notes = collect_notifications(cassette_stream(path, scheduler=other, speed=speed))
        assert [(n.time, n.value) for n in notes[:-1]] == want


def test_disposal_mid_stream_stops_the_clock_jumps(
    tmp_path: Path, ws_cassette: Callable[..., Path]
) -> None:
    msgs = [(1, "recv", float(t), t) for t in range(1, 1001)]
    path = ws_cassette(tmp_path / "many.jsonl", msgs, {1: ("wss://x", 0.0)})
    s = VirtualScheduler()
    seen: list[tuple[float, object]] = []
    cassette_stream(path, scheduler=s).pipe(ops.take(3)).subscribe(
        lambda v: seen.append((s.now_ms, v))
    )
    s.start()
    assert seen == [(1.0, 1), (2.0, 2), (3.0, 3)]
    assert s.now_ms == 3.0  # nothing read or jumped after the third item


def test_a_malformed_line_fails_at_its_line_after_the_items_before_it(
    tmp_path: Path, ws_cassette: Callable[..., Path]
) -> None:
    msgs = [(1, "recv", 1.0, "a"), (1, "recv", 2.0, "b")]
    path = ws_cassette(tmp_path / "bad.jsonl", msgs, {1: ("wss://x", 0.0)})
    with path.open("a") as fh:
        fh.write('{"kind":"ws_msg","conn":1,"dir":"send","t":"soon"}\n')  # skipped dir, bad t
        fh.write('{"kind":"ws_msg","conn":1,"dir":"recv","t":9.0,"json":"c"}\n')
    s = VirtualScheduler()
    seen: list[tuple[float, object]] = []
    errors: list[Exception] = []
    cassette_stream(path, scheduler=s).subscribe(
        lambda v: seen.append((s.now_ms, v)), errors.append
    )
    s.start()
    assert seen == [(1.0, "a"), (2.0, "b")]
    [error] = errors
    assert isinstance(error, CassetteError) and str(error).startswith(f"{path}:5: bad record")


def test_a_cancelled_timer_neither_fires_nor_holds_the_stream_back(
    tmp_path: Path, ws_cassette: Callable[..., Path]
) -> None:
    msgs = [(1, "recv", t, v) for t, v in [(1.0, "a"), (2.0, "b"), (3.0, "c"), (4.0, "d")]]
    path = ws_cassette(tmp_path / "cancel.jsonl", msgs, {1: ("wss://x", 0.0)})
    s = VirtualScheduler()
    seen: list[tuple[float, object]] = []
    timers = []

    def on_next(v: object) -> None:
        seen.append((s.now_ms, v))
        if v == "a":  # due at 2.5, cancelled at 2.0: the queue head is then a dead action
            timers.append(s.schedule_relative(0.0015, lambda *_: seen.append((s.now_ms, "t"))))
        if v == "b":
            timers[0].dispose()

    cassette_stream(path, scheduler=s).subscribe(on_next)
    s.start()
    assert seen == [(1.0, "a"), (2.0, "b"), (3.0, "c"), (4.0, "d")]
