"""MarketClock: virtual time drives reactivex timers; live time follows the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import reactivex
import reactivex.operators as ops

from pytest_streamreplay.streams import MarketClock
from pytest_streamreplay.streams.clock import DEFAULT_START


def test_virtual_clock_runs_timers_as_it_advances() -> None:
    clock = MarketClock(datetime(2024, 3, 1, 9, 30, tzinfo=UTC))
    bars: list[tuple[int, str]] = []
    reactivex.interval(60.0, scheduler=clock.scheduler).pipe(ops.take(3)).subscribe(
        lambda i: bars.append((i, clock.now.strftime("%H:%M")))
    )
    clock.advance(150)
    assert bars == [(0, "09:31"), (1, "09:32")]
    assert clock.now == datetime(2024, 3, 1, 9, 32, 30, tzinfo=UTC)
    clock.seek(datetime(2024, 3, 1, 10, 0, tzinfo=UTC))
    assert bars[-1] == (2, "09:33")
    assert clock.timestamp_ms == 1709287200000


def test_defaults_timezone_and_direction() -> None:
    assert MarketClock().now == DEFAULT_START
    ny = timezone(timedelta(hours=-5))
    clock = MarketClock(datetime(2024, 1, 2, 9, 30, tzinfo=ny))
    clock.advance(timedelta(minutes=1))
    assert clock.now.utcoffset() == timedelta(hours=-5) and clock.now.minute == 31
    with pytest.raises(ValueError):
        clock.seek(datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert MarketClock(datetime(2024, 1, 1)).now.tzinfo is UTC  # naive = UTC


def test_freeze_pauses_and_refuses_moves() -> None:
    clock = MarketClock()
    clock.freeze()
    with pytest.raises(RuntimeError, match="frozen"):
        clock.advance(1)
    clock.unfreeze()
    assert clock.advance(1) == DEFAULT_START + timedelta(seconds=1)


def test_live_clock_follows_wall_time_with_offsets() -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    clock = MarketClock(start, virtual=False)
    assert abs(clock.now - start) < timedelta(seconds=1)
    clock.advance(3600)
    assert abs(clock.now - (start + timedelta(hours=1))) < timedelta(seconds=1)
    with clock:
        frozen = clock.now
        assert clock.now == frozen
    assert clock.now >= frozen
    wall = MarketClock(virtual=False)
    assert abs(wall.now - datetime.now(UTC)) < timedelta(seconds=1)
