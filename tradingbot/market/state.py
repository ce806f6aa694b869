"""The market layer of a run: books, bars, candle checks and data quality, fed event by event.

:class:`MarketState` is the one definition of how the bot turns events into market state (when
a bar is confirmed, which trades are history, when a feed is stale); :func:`market_stage` is its
operator form and ``Pipeline`` calls the same :meth:`MarketState.apply` in its fused chain.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import reactivex
from reactivex import Observable, abc

from tradingbot.feeds.events import Candle, ErrorEvent, MarketEvent, OraclePrice, Subscribed, Trade
from tradingbot.stages import KindOf

from .bars import Bar, BarEngine, CandleCheck, CandleChecker, LateTrade
from .book import BookEngine, ResyncRequest
from .quality import DataQualityMonitor, QualityIssue

__all__ = ["LIVENESS_EVERY", "MarketSettings", "MarketState", "market_stage"]


class MarketSettings(Protocol):
    """What :class:`MarketState` reads from a run's configuration (``PipelineConfig`` has it)."""

    @property
    def book_depth(self) -> int: ...
    @property
    def resolutions(self) -> tuple[str, ...]: ...
    @property
    def stale_after(self) -> timedelta: ...
    @property
    def exchange_clock(self) -> bool: ...
    def confirm_delay(self) -> timedelta: ...


LIVENESS_EVERY = timedelta(seconds=1)
"""How often (market time) :class:`MarketState` checks its streams for silence."""

_MARKET_INPUT = KindOf(Trade, OraclePrice, Subscribed, ErrorEvent, Candle)
_TRADE, _ORACLE_PRICE, _SUBSCRIBED, _FEED_ERROR, _CANDLE = range(5)


class MarketState:
    """L3 state of a run: books, bars, candle checks and data quality, fed event by event."""

    def __init__(self, config: MarketSettings) -> None:
        self.books = BookEngine(config.book_depth)
        self.bars = BarEngine(config.resolutions, confirm_delay=config.confirm_delay())
        self.candles = CandleChecker(Decimal("0.000001"))
        self.quality = DataQualityMonitor(config.stale_after)
        self.snapshot_ids: set[tuple[str | None, int]] = set()
        self.bars_confirmed = 0
        self.late_trades = 0
        self.resyncs = 0
        self._mismatched: set[tuple[str, str, datetime]] = set()
        self.history_trades = 0
        self.issues: list[QualityIssue] = []
        self.feed_errors = 0
        self.exchange_clock = config.exchange_clock
        self.exchange_time: datetime | None = None
        self._exchange_seen_at: datetime | None = None  # received_at when exchange_time moved
        self._liveness_due = datetime.min.replace(tzinfo=UTC)
        self.first_time: datetime | None = None
        self.last_time: datetime | None = None
        """The span of this state's clock (exchange time on the exchange clock, else the
        receive stamps): the run's market time."""

    def apply(self, event: MarketEvent) -> tuple[bool, list[Any]]:
        """(forward the event?, derived items). Trades of a subscription snapshot are history,
        not news: they are not forwarded and build no bars."""
        out: list[Any] = []
        now = event.received_at
        kind = _MARKET_INPUT[type(event)]
        if self.exchange_clock:
            seen = (
                event.created_at  # type: ignore[attr-defined]
                if kind == _TRADE
                else event.effective_at  # type: ignore[attr-defined]
                if kind == _ORACLE_PRICE
                else None
            )
            if seen is not None and (self.exchange_time is None or seen > self.exchange_time):
                self.exchange_time = seen
                self._exchange_seen_at = event.received_at
            now = self.exchange_time
        if now is not None:
            self.last_time = now
        if kind == _SUBSCRIBED and event.message_id is not None:
            self.snapshot_ids.add((event.connection_id, event.message_id))
        if kind == _TRADE and (event.connection_id, event.message_id) in self.snapshot_ids:
            self.history_trades += 1
            return False, out
        for issue in self.quality.apply(event, now):
            self._issue(issue, out)
        if now is not None and now >= self._liveness_due:  # the first event: always
            if self.first_time is None:
                self.first_time = now
            self._liveness(now, out)
        if kind == _FEED_ERROR:
            self.feed_errors += 1
        for book_out in self.books.apply(event):
            if isinstance(book_out, ResyncRequest):
                self.resyncs += 1
            out.append(book_out)
        if kind == _TRADE:
            for bar_out in self.bars.apply(event):
                out += self._bar(bar_out)
        elif kind == _CANDLE:
            out += self._checks(self.candles.on_candle(event))  # type: ignore[arg-type]
        if now is not None:
            deadline = self.bars.next_deadline()
            if deadline is not None and deadline <= now:
                for bar in self.bars.on_time(now):
                    out += self._bar(bar)
        return True, out

    def on_time(self, wall: datetime) -> list[Any]:
        """What the clock alone reveals at ``wall`` (the driver's clock: virtual in replay, the
        wall clock live): streams silent for longer than ``stale_after``, even when no event
        arrives at all. On the exchange clock, market time is the last exchange time seen plus
        the wall time since it was seen (1x: conservative for a simulator running faster)."""
        now: datetime | None = wall
        if self.exchange_clock:
            seen, at = self.exchange_time, self._exchange_seen_at
            now = None if seen is None or at is None else seen + max(wall - at, timedelta(0))
        out: list[Any] = []
        if now is not None and now >= self._liveness_due:
            self._liveness(now, out)
        return out

    def next_deadline(self) -> datetime | None:
        """The driver's clock should stop here (None: nothing is due): a stream that goes stale
        then is reported at that time, not when the next event happens to arrive."""
        return None if self.exchange_clock else self.quality.next_deadline()

    def _liveness(self, now: datetime, out: list[Any]) -> None:
        # once per LIVENESS_EVERY of market time, like quality_checks' periodic timer: the
        # check walks every stream, too much work for every event
        self._liveness_due = now + LIVENESS_EVERY
        for issue in self.quality.on_time(now):
            self._issue(issue, out)

    def _issue(self, issue: QualityIssue, out: list[Any]) -> None:
        self.issues = [*self.issues[-19:], issue]
        out.append(issue)

    def _bar(self, item: Bar | LateTrade) -> list[Any]:
        if isinstance(item, LateTrade):
            self.late_trades += 1
            return [item]
        out: list[Any] = [item]
        if item.confirmed:
            self.bars_confirmed += 1
            out += self._checks(self.candles.on_bar(item))
        return out

    def _checks(self, checks: list[CandleCheck]) -> list[Any]:
        # The venue re-sends a bucket's candle as it fills, so an early one may lag behind a
        # bar confirmed since: a bucket counts as mismatched while its latest check disagrees.
        for check in checks:
            key = (check.market, check.resolution, check.started_at)
            if check.ok:
                self._mismatched.discard(key)
            else:
                self._mismatched.add(key)
        return list(checks)

    @property
    def candle_mismatches(self) -> int:
        """Buckets whose bar and the venue's latest candle for it disagree."""
        return len(self._mismatched)


def market_stage(state: MarketState) -> Callable[[Observable[MarketEvent]], Observable[Any]]:
    """Events (forwarded) followed by book states, bars, candle checks and quality issues."""

    def _op(source: Observable[MarketEvent]) -> Observable[Any]:
        def subscribe(
            observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            def on_next(event: MarketEvent) -> None:
                forward, derived = state.apply(event)
                if forward:
                    observer.on_next(event)
                for item in derived:
                    observer.on_next(item)

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return reactivex.create(subscribe)

    return _op
