"""reactivex operators over the plain market-state classes.

Each operator creates a fresh engine per subscription (so a cold, replayed stream gives the same
outputs every time) and forwards errors and completion unchanged. Time-based work (confirming
bars when their bucket ends, staleness checks) runs on the given scheduler, so a
``TestScheduler`` or a replay clock drives it deterministically.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import reactivex
from reactivex import Observable, abc
from reactivex import operators as ops
from reactivex.disposable import CompositeDisposable, Disposable, SerialDisposable
from reactivex.scheduler import TimeoutScheduler

from tradingbot.feeds.events import Candle, MarketEvent

from .bars import Bar, BarEngine, BarOutput, CandleCheck, CandleChecker
from .book import BookEngine, BookOutput, BookState
from .quality import DataQualityMonitor, QualityIssue

__all__ = ["bars", "book_states", "candle_checks", "order_books", "quality_checks"]


def order_books(
    depth: int = 25, *, contiguous_ids: bool = False
) -> Callable[[Observable[MarketEvent]], Observable[BookOutput]]:
    """``Observable[MarketEvent] -> Observable[BookState | ResyncRequest | CrossedBookResolved]``
    (see :class:`BookEngine`). Non-book events only feed the ordering checks."""

    def _op(source: Observable[MarketEvent]) -> Observable[BookOutput]:
        def subscribe(
            observer: abc.ObserverBase[BookOutput], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            engine = BookEngine(depth, contiguous_ids=contiguous_ids)

            def on_next(event: MarketEvent) -> None:
                for out in engine.apply(event):
                    observer.on_next(out)

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return reactivex.create(subscribe)

    return _op


def book_states(
    depth: int = 25, *, contiguous_ids: bool = False
) -> Callable[[Observable[MarketEvent]], Observable[BookState]]:
    """``Observable[MarketEvent] -> Observable[BookState]``: :func:`order_books` without the
    resync and uncross reports (use that one when you act on resyncs)."""

    def _op(source: Observable[MarketEvent]) -> Observable[BookState]:
        outputs: Observable[BookOutput] = order_books(depth, contiguous_ids=contiguous_ids)(source)
        only_states: Callable[[Observable[BookOutput]], Observable[BookState]] = ops.filter(
            lambda o: isinstance(o, BookState)
        )  # type: ignore[assignment]
        return only_states(outputs)

    return _op


def bars(
    resolutions: Iterable[str] = ("1MIN",),
    *,
    scheduler: abc.SchedulerBase | None = None,
    confirm_delay: timedelta = timedelta(0),
    since: datetime | None = None,
    history: int = 500,
) -> Callable[[Observable[MarketEvent]], Observable[BarOutput]]:
    """``Observable[MarketEvent] -> Observable[Bar | LateTrade]`` from the trades in the stream.

    Forming bars on every trade; a confirmed bar when a later bucket's trade arrives or, by a
    timer on ``scheduler``, when the scheduler's clock reaches the bucket end + ``confirm_delay``.
    Forming bars left at completion are not confirmed (their bucket never closed).

    The timer compares bucket ends (exchange time) with ``scheduler.now``: when replaying
    recorded trades, pass the replay's virtual-time scheduler. On the default wall-clock
    scheduler every past bucket is already over, so each bar would confirm right after its
    first trade and the rest of its trades would come out as :class:`LateTrade`.
    """
    resolutions = tuple(resolutions)

    def _op(source: Observable[MarketEvent]) -> Observable[BarOutput]:
        def subscribe(
            observer: abc.ObserverBase[BarOutput], sub_scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            sched = scheduler or sub_scheduler or TimeoutScheduler.singleton()
            engine = BarEngine(
                resolutions, confirm_delay=confirm_delay, since=since, history=history
            )
            lock = threading.RLock()
            timer = SerialDisposable()
            armed: list[datetime | None] = [None]

            def fire(_: abc.SchedulerBase, __: Any = None) -> None:
                with lock:
                    armed[0] = None
                    for bar in engine.on_time(sched.now):
                        observer.on_next(bar)
                    arm()

            def arm() -> None:
                deadline = engine.next_deadline()
                if deadline == armed[0]:
                    return
                armed[0] = deadline
                timer.disposable = (
                    Disposable() if deadline is None else sched.schedule_absolute(deadline, fire)
                )

            def on_next(event: MarketEvent) -> None:
                with lock:
                    for out in engine.apply(event):
                        observer.on_next(out)
                    arm()

            def on_completed() -> None:
                with lock:
                    timer.dispose()
                    observer.on_completed()

            sub = source.subscribe(
                on_next, observer.on_error, on_completed, scheduler=sub_scheduler
            )
            return CompositeDisposable(sub, timer)

        return reactivex.create(subscribe)

    return _op


def candle_checks(
    tolerance: Decimal = Decimal(0),
) -> Callable[[Observable[Bar | Candle]], Observable[CandleCheck]]:
    """``Observable[Bar | Candle] -> Observable[CandleCheck]``: merge our bars with the venue's
    candles (``reactivex.merge``) and get a check per confirmed, complete bucket."""

    def _op(source: Observable[Bar | Candle]) -> Observable[CandleCheck]:
        def subscribe(
            observer: abc.ObserverBase[CandleCheck], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            checker = CandleChecker(tolerance)

            def on_next(item: Bar | Candle) -> None:
                for check in checker.apply(item):
                    observer.on_next(check)

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return reactivex.create(subscribe)

    return _op


def quality_checks(
    stale_after: timedelta = timedelta(seconds=60),
    *,
    check_every: timedelta = timedelta(seconds=1),
    contiguous_ids: bool = False,
    scheduler: abc.SchedulerBase | None = None,
) -> Callable[[Observable[MarketEvent]], Observable[QualityIssue]]:
    """``Observable[MarketEvent] -> Observable[QualityIssue]``; events are stamped with the
    scheduler's clock on arrival and staleness is checked every ``check_every``."""

    def _op(source: Observable[MarketEvent]) -> Observable[QualityIssue]:
        def subscribe(
            observer: abc.ObserverBase[QualityIssue],
            sub_scheduler: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            sched = scheduler or sub_scheduler or TimeoutScheduler.singleton()
            monitor = DataQualityMonitor(stale_after, contiguous_ids=contiguous_ids)
            lock = threading.RLock()

            def tick(_: Any = None) -> None:
                with lock:
                    for issue in monitor.on_time(sched.now):
                        observer.on_next(issue)

            def on_next(event: MarketEvent) -> None:
                with lock:
                    for issue in monitor.apply(event, sched.now):
                        observer.on_next(issue)

            periodic = (
                sched.schedule_periodic(check_every, tick)
                if isinstance(sched, abc.PeriodicSchedulerBase)
                else Disposable()
            )
            sub = source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=sub_scheduler
            )
            return CompositeDisposable(sub, periodic)

        return reactivex.create(subscribe)

    return _op
