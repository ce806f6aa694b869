"""The drivers: one loop, two sources and two clocks (NautilusTrader's rule: the same code runs
in backtest and live, only the data source and the clock differ).

:func:`replay` feeds recorded cassettes (decoded by :mod:`tradingbot.feeds.cassette`) on a
virtual clock; :func:`run_live` feeds a live Observable of decoded events (a
:class:`~tradingbot.feeds.stream.StreamFeed`'s) on the wall clock. Both hand :func:`_drive` a
source and a clock; it subscribes the pipeline, advances the clock a slice at a time, tells the
pipeline the time (:meth:`Pipeline.tick`: a silent feed is noticed even without events),
reports progress, and ends the run on completion, on the first error (raised to the caller) or
when the clock says so.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from reactivex import Observable, abc

from pytest_streamreplay.streams import MarketClock
from pytest_streamreplay.streams.scheduling import next_due
from tradingbot.execution.base import Broker
from tradingbot.feeds.cassette import cassette_duration_ms, cassette_events, cassette_start
from tradingbot.feeds.events import FeedStatus, MarketEvent

from .chain import Pipeline
from .config import PipelineConfig

__all__ = ["Progress", "replay", "run_live"]

Progress = Callable[[Pipeline, float], None]
"""``on_progress(pipeline, fraction done)``, called with the pipeline's lock held."""


def _drive(
    pipeline: Pipeline,
    events: Observable[MarketEvent],
    *,
    advance: Callable[[], bool],
    now: Callable[[], datetime],
    fraction: Callable[[], float],
    on_progress: Progress | None,
    scheduler: abc.SchedulerBase | None = None,
) -> Pipeline:
    """The one driver loop. ``advance()`` moves the clock one slice (False: the run is over)."""
    subscription = pipeline.run(events, scheduler)
    try:
        while not pipeline.completed and advance():
            pipeline.tick(now())
            if on_progress is not None:
                with pipeline.lock:
                    on_progress(pipeline, fraction())
    finally:
        subscription.dispose()
        if pipeline.finished_wall is None:
            pipeline.finished_wall = time.perf_counter()
    if pipeline.error is not None:
        raise pipeline.error
    if on_progress is not None:
        with pipeline.lock:
            on_progress(pipeline, 1.0)
    return pipeline


def replay(
    paths: Sequence[str | os.PathLike[str]],
    *,
    config: PipelineConfig | None = None,
    speed: float = 0.0,
    on_progress: Progress | None = None,
    slice_seconds: float = 1.0,
    broker: Broker | None = None,
    taps: Sequence[Callable[[Any], None]] = (),
    time_scale: float = 1.0,
) -> Pipeline:
    """Replay cassettes (one after another) through a fresh pipeline on a virtual clock.

    ``time_scale`` F: the cassette was recorded while market time ran F times faster than the
    wall clock (a simulator at F x): its offsets are stretched F times so the virtual clock,
    bars, cooldowns and funding run in market time.

    The clock starts at the first cassette's market time, so bars and cooldowns see the
    recorded times. ``speed`` 0 runs as fast as possible; N > 0 paces the virtual clock at N
    market seconds per wall second. ``on_progress(pipeline, fraction)`` is called after each
    ``slice_seconds`` of market time.
    """
    if not paths:
        raise ValueError("need at least one cassette")
    if time_scale <= 0:
        raise ValueError(f"time_scale must be positive, not {time_scale}")
    start = cassette_start(paths[0]) or datetime(2024, 1, 1, tzinfo=UTC)
    clock = MarketClock(start)
    sched = clock.scheduler
    pipeline = Pipeline(config, broker=broker, taps=taps)
    pipeline.mode = "replay"
    events = cassette_events(paths, clock, time_scale=time_scale)
    total_ms = 1.0
    if on_progress is not None:  # a full read of each cassette: only for progress reports
        total_ms = sum(cassette_duration_ms(p) for p in paths) * time_scale or 1.0
    step = timedelta(seconds=slice_seconds)
    wall0 = time.perf_counter()

    def advance() -> bool:
        due = next_due(sched)  # type: ignore[arg-type]
        if due is None:
            return False  # nothing left to run: a source that never completes
        target = clock.now + step
        if speed <= 0 and due > target:  # skip a quiet stretch, but stop where a stream
            stale = pipeline.market.next_deadline()  # may go stale
            target = max(target, due if stale is None else min(due, stale))
        clock.seek(target)
        if speed > 0:
            ahead = (clock.now - start).total_seconds() / speed - (time.perf_counter() - wall0)
            if ahead > 0:
                time.sleep(min(ahead, 1.0))
        return True

    def fraction() -> float:
        return min(1.0, (clock.now - start).total_seconds() * 1000 / total_ms)

    return _drive(
        pipeline,
        events,
        advance=advance,
        now=lambda: clock.now,
        fraction=fraction,
        on_progress=on_progress,
        scheduler=sched,
    )


def run_live(
    events: Observable[MarketEvent],
    *,
    duration: float,
    config: PipelineConfig | None = None,
    broker: Broker | None = None,
    status: Observable[FeedStatus] | None = None,
    on_progress: Progress | None = None,
    refresh: float = 0.25,
    taps: Sequence[Callable[[Any], None]] = (),
) -> Pipeline:
    """Run the pipeline on a live Observable of decoded events for ``duration`` wall seconds.

    Events arrive on the feed's thread and are processed there under the pipeline's lock; this
    thread ticks the clock every ``refresh`` seconds. An error of the source or of any stage
    ends the run at once and is raised here.
    """
    pipeline = Pipeline(config, broker=broker, taps=taps)
    pipeline.mode = "live"
    watch = None
    if status is not None:
        watch = status.subscribe(lambda s: setattr(pipeline, "feed_status", s))
    deadline = time.monotonic() + duration

    def advance() -> bool:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(refresh, left))
        return True

    try:
        return _drive(
            pipeline,
            events,
            advance=advance,
            now=lambda: datetime.now(UTC),
            fraction=lambda: min(1.0, 1 - (deadline - time.monotonic()) / duration),
            on_progress=on_progress,
        )
    finally:
        if watch is not None:
            watch.dispose()
