"""The whole bot as one reactivex chain: decoded events -> books/bars/quality -> signals ->
strategy -> risk -> execution, plus the replay and live drivers and the run summary.

Every stage is pass-through (it re-emits what it received, then what it derived), so the chain
is one ordered stream: each layer sees market data and earlier layers' decisions in the order
they happened, and a replay repeats the run exactly. Stages only take Observables of events;
nothing here knows about sockets (the live driver gets its Observable from ``feeds.stream``).

Latency is measured per decoded event: from the moment the event leaves the decoder (plus its
message's decode time, charged to the message's first event) until every stage has finished
with it, which in a synchronous chain is when ``on_next`` returns.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import threading
import time
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import reactivex
from reactivex import Observable, abc
from reactivex.scheduler import VirtualTimeScheduler

from pytest_streamreplay.cassette import iter_records, read_header
from pytest_streamreplay.cassette.records import WsMessage
from pytest_streamreplay.streams import MarketClock, StreamHasher, cassette_stream
from pytest_streamreplay.streams.scheduling import next_due

from .execution import ExecutionEngine, FeeSchedule, PaperBroker, RiskGate
from .execution.base import Broker
from .execution.engine import DEFAULT_LIMITS, execution_layer
from .execution.reports import AccountState
from .feeds.dydx import decode
from .feeds.events import (
    Candle,
    ErrorEvent,
    FeedStatus,
    Fill,
    MarketEvent,
    MarketUpdate,
    OraclePrice,
    Subscribed,
    Trade,
)
from .layers import Layer, compose, event_time
from .market import BarEngine, BookEngine, CandleChecker, DataQualityMonitor
from .market.bars import Bar, CandleCheck, LateTrade
from .market.book import ResyncRequest
from .market.quality import QualityIssue
from .risk import GuardConfig, RiskLimits
from .signals import Score, SignalConfig, SignalEngine, SignalScorer, signal_layer, signal_stage
from .stages import KindOf
from .strategy import IntentKind, ScoreStrategy, StrategyConfig, TradeIntent, strategy_layer

__all__ = [
    "DEV_SIGNALS",
    "LatencyRecorder",
    "MarketState",
    "Pipeline",
    "PipelineConfig",
    "cassette_duration_ms",
    "cassette_start",
    "decode_stage",
    "decoding",
    "market_stage",
    "peak_rss_mb",
    "replay",
    "run_live",
    "signal_stage",
]

ZERO = Decimal(0)

DEV_SIGNALS = SignalConfig(ema_fast=3, ema_slow=8, rsi=5, atr=5, volatility_window=10)
"""Short indicator periods: minutes of replay are enough to warm every component up."""


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1024 * 1024 if os.uname().sysname == "Darwin" else 1024
    return round(peak / scale, 1)


class LatencyRecorder:
    """Per-event processing times in nanoseconds, kept compactly (8 bytes an event)."""

    def __init__(self) -> None:
        self.samples = array("d")

    def add(self, ns: float) -> None:
        self.samples.append(ns)

    def stats_ms(self) -> dict[str, float]:
        """p50, p99 and max in milliseconds (zeros before any event)."""
        if not self.samples:
            return {"p50": 0.0, "p99": 0.0, "max": 0.0}
        ordered = sorted(self.samples)
        n = len(ordered)

        def pick(q: float) -> float:
            return round(ordered[min(n - 1, int(q * n))] / 1e6, 4)

        return {"p50": pick(0.50), "p99": pick(0.99), "max": round(ordered[-1] / 1e6, 4)}


EXCHANGE_CLOCK_CONFIRM_DELAY = timedelta(seconds=2)
"""More than one batch interval of the indexer (the local one flushes every market second)."""


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Everything that shapes a run; the defaults suit the development cassettes."""

    book_depth: int = 10
    resolutions: tuple[str, ...] = ("1MIN",)
    signals: SignalConfig = DEV_SIGNALS
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    limits: RiskLimits = DEFAULT_LIMITS
    guard: GuardConfig = field(default_factory=GuardConfig)
    starting_quote: Decimal = Decimal(10_000)
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    positions: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    """Positions to start with: ``{market: (signed size, entry price)}``."""
    trade: bool = True
    """False: run market data, signals and risk but let the strategy send nothing."""
    stale_after: timedelta = timedelta(seconds=60)
    exchange_clock: bool = False
    """Confirm bars on the latest exchange timestamp seen (trades, oracle prices) instead of
    ``received_at``: for live feeds whose market time is not the wall time (the simulator)."""
    bar_confirm_delay: timedelta | None = None
    """How long after a bar's end the clock waits before confirming it (a trade of a later
    bucket confirms it at once). None: 2 s on the exchange clock, whose oracle prices run ahead
    of the trades the indexer sends in batches (without the wait a bar's last trades arrive
    after it was confirmed and are dropped as late); none on the receive clock, where a bar's
    trades arrive before the clock passes its end."""

    def confirm_delay(self) -> timedelta:
        if self.bar_confirm_delay is not None:
            return self.bar_confirm_delay
        return EXCHANGE_CLOCK_CONFIRM_DELAY if self.exchange_clock else timedelta(0)


# -- stages ----------------------------------------------------------------------------------


def decode_stage(
    clock: Callable[[], datetime] | None = None,
    latency: LatencyRecorder | None = None,
    counter: Callable[[], None] | None = None,
) -> Callable[[Observable[Any]], Observable[MarketEvent]]:
    """Raw indexer messages (parsed JSON) -> decoded events stamped ``received_at = clock()``.

    With ``latency``, each event's downstream processing time is recorded (see the module
    docstring)."""

    def _op(source: Observable[Any]) -> Observable[MarketEvent]:
        def subscribe(
            observer: abc.ObserverBase[MarketEvent], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            return source.subscribe(
                decoding(observer.on_next, clock, latency, counter),
                observer.on_error,
                observer.on_completed,
                scheduler=scheduler,
            )

        return reactivex.create(subscribe)

    return _op


def decoding(
    push: Callable[[MarketEvent], None],
    clock: Callable[[], datetime] | None = None,
    latency: LatencyRecorder | None = None,
    counter: Callable[[], None] | None = None,
) -> Callable[[Any], None]:
    """``on_next`` for raw messages: decode each and ``push`` its events (see
    :func:`decode_stage`)."""
    perf = time.perf_counter_ns
    record = latency.samples.append if latency is not None else None  # add(), one call less

    def on_next(message: Any) -> None:
        start = perf()
        if counter is not None:
            counter()
        for event in decode(message, clock() if clock is not None else None):
            push(event)
            end = perf()
            if record is not None:
                record(end - start)
            start = end

    return on_next


LIVENESS_EVERY = timedelta(seconds=1)
"""How often (market time) :class:`MarketState` checks its streams for silence."""

_MARKET_INPUT = KindOf(Trade, OraclePrice, Subscribed, ErrorEvent, Candle)
_TRADE, _ORACLE_PRICE, _SUBSCRIBED, _FEED_ERROR, _CANDLE = range(5)


class MarketState:
    """L3 state of a run: books, bars, candle checks and data quality, fed event by event."""

    def __init__(self, config: PipelineConfig) -> None:
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
        self._liveness_due: datetime | None = None

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
        if kind == _SUBSCRIBED and event.message_id is not None:
            self.snapshot_ids.add((event.connection_id, event.message_id))
        if kind == _TRADE and (event.connection_id, event.message_id) in self.snapshot_ids:
            self.history_trades += 1
            return False, out
        for issue in self.quality.apply(event, now):
            self._issue(issue, out)
        if now is not None and (self._liveness_due is None or now >= self._liveness_due):
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
        if now is not None and (self._liveness_due is None or now >= self._liveness_due):
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


# -- the pipeline ----------------------------------------------------------------------------

_TAP_IN = KindOf(ErrorEvent, OraclePrice, MarketUpdate)
_ERROR, _ORACLE, _UPDATE = range(3)
_TAP_OUT = KindOf(Score, TradeIntent, Fill, AccountState)
_SCORE, _INTENT, _FILL = range(3)


class Pipeline:
    """One run's components, the composed operator and the counters of its summary.

    Build one per run (components keep state). ``broker`` defaults to a :class:`PaperBroker`
    from the config; pass a live adapter for real orders. ``taps`` see every item of the run
    in stream order (bars, scores, intents, fills...), e.g. to publish bars over the network.
    """

    def __init__(
        self,
        config: PipelineConfig | None = None,
        *,
        broker: Broker | None = None,
        clock: Callable[[], datetime] | None = None,
        taps: Sequence[Callable[[Any], None]] = (),
    ) -> None:
        cfg = config or PipelineConfig()
        self.config = cfg
        self.taps = tuple(taps)
        self.clock = clock
        self.market = MarketState(cfg)
        self.signals = SignalEngine(SignalScorer(), cfg.signals)
        self.broker: Broker = broker or PaperBroker(
            cfg.starting_quote, fees=cfg.fees, positions=cfg.positions
        )
        # trade=False: a strategy for no market, so signals and risk run but nothing is sent
        strategy_config = cfg.strategy if cfg.trade else StrategyConfig(markets=())
        self.strategy = ScoreStrategy(strategy_config, self.broker)
        self.last_scores: dict[str, Score] = {}
        self.execution = ExecutionEngine(self.broker, RiskGate(cfg.limits, cfg.guard))
        self.layers: tuple[Layer, ...] = (
            signal_layer(self.signals),
            strategy_layer(self.strategy),
            execution_layer(self.execution),
        )
        """Above the market state, in order: what :meth:`operator` composes."""
        self.latency = LatencyRecorder()
        self.intent_hasher = StreamHasher()
        self.fill_hasher = StreamHasher()
        self.messages = 0
        self.events = 0
        self.scores = 0
        self.intents = 0
        self.guard_intents: list[TradeIntent] = []
        self.markets: set[str] = set()
        self.oracle: dict[str, Decimal] = {}
        self.account_states = 0
        self.feed_status: FeedStatus | None = None
        self.started_wall = time.perf_counter()
        self.finished_wall: float | None = None
        self.first_time: datetime | None = None
        self.last_time: datetime | None = None
        self.completed = False
        self.error: BaseException | None = None
        self._on_time: Callable[[datetime], None] | None = None
        self.lock = threading.RLock()
        """Held while a live run processes an event: take it to read state consistently."""

    def _count_message(self) -> None:
        self.messages += 1

    def operator(self) -> Callable[[Observable[Any]], Observable[Any]]:
        """Raw messages -> every item of the run (events and everything derived)."""
        return self._operator(forward=True)

    def _operator(self, *, forward: bool) -> Callable[[Observable[Any]], Observable[Any]]:
        def _op(messages: Observable[Any]) -> Observable[Any]:
            def subscribe(
                observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
            ) -> abc.DisposableBase:
                # decode_stage piped into from_events, as one operator (one observer layer)
                on_event = self._event_sink(observer, forward=forward)
                on_message = decoding(on_event, self.clock, self.latency, self._count_message)
                return messages.subscribe(
                    on_message, observer.on_error, observer.on_completed, scheduler=scheduler
                )

            return reactivex.create(subscribe)

        return _op

    def from_events(self, events: Observable[MarketEvent]) -> Observable[Any]:
        """Decoded events (a live feed's, already stamped) -> every item of the run."""

        def subscribe(
            observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            return events.subscribe(
                self._event_sink(observer),
                observer.on_error,
                observer.on_completed,
                scheduler=scheduler,
            )

        return reactivex.create(subscribe)

    def _event_sink(
        self, observer: abc.ObserverBase[Any], *, forward: bool = True
    ) -> Callable[[MarketEvent], None]:
        """``on_next`` for decoded events: every stage, then ``observer`` (not called with
        ``forward=False``: :meth:`run` has no subscriber for the items).

        The market state, then the layers (signals, strategy, execution) composed by
        :func:`~tradingbot.layers.compose` from the same :class:`~tradingbot.layers.Layer`
        steps that ``signal_stage``, ``strategy_stage`` and ``execution_stage`` run as
        operators, then the taps: the same items in the same order as piping those stages,
        without a reactivex observer layer per stage and item."""
        market, tap_in, tap_out = self.market.apply, self._tap_in, self._tap_out
        taps, counted = self.taps, _TAP_OUT
        emit = observer.on_next if forward else None

        def sink(item: Any, now: datetime | None) -> None:
            if taps or counted[type(item)] >= 0:  # else _tap_out has nothing to do
                try:
                    tap_out(item)
                except Exception as exc:  # like do_action: a failing tap ends the run
                    observer.on_error(exc)
                    return
            if emit is not None:
                emit(item)

        push = compose(self.layers, sink)

        def on_next(event: MarketEvent) -> None:
            try:
                t = tap_in(event)
            except Exception as exc:
                observer.on_error(exc)
                return
            passed, derived = market(event)
            if passed:
                push(event, t)
            for item in derived:
                push(item, event_time(item))

        def on_time(wall: datetime) -> None:
            for item in self.market.on_time(wall):
                push(item, event_time(item))

        self._on_time = on_time
        return on_next

    def tick(self, wall: datetime) -> None:
        """The drivers' clock reached ``wall``: run what time alone reveals (a feed that went
        silent) through the chain. Live drivers call it with :attr:`lock` held."""
        if self._on_time is not None:
            self._on_time(wall)

    def _tap_in(self, event: MarketEvent) -> datetime | None:
        """Count the event; returns its :func:`event_time`."""
        self.events += 1
        t = event_time(event)
        if t is not None:
            if self.first_time is None:
                self.first_time = t
            self.last_time = t
        kind = _TAP_IN[type(event)]
        market = getattr(event, "market", None)
        if kind != _ERROR and isinstance(market, str):
            self.markets.add(market)
        if kind == _ORACLE:
            self.oracle[event.market] = event.price  # type: ignore[attr-defined]
        elif kind == _UPDATE and event.oracle_price is not None:  # type: ignore[attr-defined]
            self.oracle[event.market] = event.oracle_price  # type: ignore[attr-defined]
        return t

    def _tap_out(self, item: Any) -> None:
        for tap in self.taps:
            tap(item)
        kind = _TAP_OUT[type(item)]
        if kind < 0:
            return
        if kind == _SCORE:
            self.scores += 1
            self.last_scores[item.market] = item
        elif kind == _INTENT:
            self.intents += 1
            self.intent_hasher.update(item)
            if item.kind in (IntentKind.REDUCE, IntentKind.CLOSE):
                self.guard_intents.append(item)
        elif kind == _FILL:
            self.fill_hasher.update(item)
        else:
            self.account_states += 1

    def run(self, messages: Observable[Any], scheduler: abc.SchedulerBase | None = None) -> None:
        """Subscribe the chain to ``messages``; completion and errors are recorded."""

        def done() -> None:
            self.completed = True
            self.finished_wall = time.perf_counter()

        def failed(exc: Exception) -> None:
            self.error = exc
            done()

        # nothing subscribes to the items: the stages run without handing each one on
        operator = self._operator(forward=False)
        operator(messages).subscribe(on_error=failed, on_completed=done, scheduler=scheduler)

    # -- results ---------------------------------------------------------------------------

    def best_prices(self) -> dict[str, tuple[Decimal | None, Decimal | None]]:
        out: dict[str, tuple[Decimal | None, Decimal | None]] = {}
        for market in sorted(self.markets):
            book = self.market.books.book(market)
            if book is None:
                continue
            bid, ask = book.best_bid, book.best_ask
            out[market] = (bid[0] if bid else None, ask[0] if ask else None)
        return out

    def summary(self) -> dict[str, Any]:
        """The run in numbers (JSON-ready: money as decimal strings)."""
        ex = self.execution
        state = ex.state(self.last_time)
        prices = self.best_prices()
        wall = (self.finished_wall or time.perf_counter()) - self.started_wall
        virtual = (
            (self.last_time - self.first_time).total_seconds()
            if self.first_time and self.last_time
            else 0.0
        )
        broker = self.broker
        extra: dict[str, Any] = {}
        if isinstance(broker, PaperBroker):
            extra = {
                "fees_paid": _num(broker.fees_paid),
                "funding_paid": _num(broker.funding_paid),
                "realized_pnl": _num(broker.realized_pnl, 8),
            }
        return {
            "markets": sorted(self.markets),
            "messages": self.messages,
            "events": self.events,
            "bars_confirmed": self.market.bars_confirmed,
            "best_bid": {m: _num(b) for m, (b, _) in prices.items()},
            "best_ask": {m: _num(a) for m, (_, a) in prices.items()},
            "oracle_price": {m: _num(p) for m, p in sorted(self.oracle.items())},
            "signals": self.scores,
            "orders": ex.orders,
            "rejected": ex.rejected,
            "fills": ex.fills,
            "equity": _num(state.equity, 8),
            "max_margin_usage": _num(ex.max_margin_usage, 6),
            "max_maintenance_ratio": _num(ex.max_maintenance_ratio, 6),
            "liquidatable_at_any_time": ex.ever_liquidatable,
            "liquidation_guard_actions": ex.guard_actions,
            "positions": {
                p.market: {
                    "size": _num(p.size),
                    "entry_price": _num(p.entry_price, 8),
                    "liquidation_price": _num(p.liquidation_price, 8),
                }
                for p in state.positions
            },
            **extra,
            "quality_issues": len(self.market.quality.issues),
            "candle_mismatches": self.market.candle_mismatches,
            "late_trades": self.market.late_trades,
            "resyncs": self.market.resyncs,
            "feed_errors": self.market.feed_errors,
            "intents_sha256": self.intent_hasher.digest,
            "fills_sha256": self.fill_hasher.digest,
            "latency_ms": self.latency.stats_ms(),
            "peak_rss_mb": peak_rss_mb(),
            "market_seconds": round(virtual, 3),
            "wall_seconds": round(wall, 3),
            "events_per_second": round(self.events / wall, 1) if wall > 0 else 0.0,
        }


def _num(value: Decimal | None, places: int | None = None) -> str | None:
    """Money and prices go out as plain decimal strings (JSON floats would round them);
    ``places`` rounds derived values (averages, ratios) that carry 28 digits of division."""
    if value is None:
        return None
    if not value.is_finite():
        return str(value)
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    return format(value.normalize(), "f")


# -- drivers ---------------------------------------------------------------------------------


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cassette_start(path: str | os.PathLike[str], scan: int = 500) -> datetime | None:
    """Market time at the cassette's opening: the header's ``market_start`` if recorded,
    else the first trade or oracle time among the first ``scan`` messages."""
    header = read_header(path)
    start = header.extra.get("market_start")
    if isinstance(start, str) and (moment := _parse_time(start)) is not None:
        return moment
    for n, record in enumerate(iter_records(path)):
        if n >= scan:
            break
        if isinstance(record, WsMessage) and record.dir == "recv":
            for event in decode(record.value):
                t = event_time(event)
                if t is not None:
                    return t - timedelta(milliseconds=record.t)
    return None


def cassette_duration_ms(path: str | os.PathLike[str]) -> float:
    """Offset of the last recorded message (read from the file's tail: no full scan)."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        fh.seek(max(0, size - 256 * 1024))
        tail = fh.read().decode("utf-8", "replace").splitlines()
    for line in reversed(tail):
        with contextlib.suppress(ValueError):
            obj = json.loads(line)
            if isinstance(obj, dict) and obj.get("kind") == "ws_msg":
                return float(obj.get("t", 0.0))
    return 0.0


def _stamp_clock(clock: MarketClock) -> Callable[[], datetime]:
    """``clock.now`` for stamping every replayed message, cheaper: the virtual scheduler's
    datetime itself when it is in the clock's zone (then ``clock.now`` is that very object),
    else ``clock.now``. For a clock only the replay drives (never frozen)."""
    sched = clock.scheduler
    zone = clock.now.tzinfo
    if not isinstance(sched, VirtualTimeScheduler):
        return lambda: clock.now

    def now() -> datetime:
        t = sched._clock
        if type(t) is datetime and t.tzinfo is zone:
            return t
        return clock.now

    return now


def replay(
    paths: Sequence[str | os.PathLike[str]],
    *,
    config: PipelineConfig | None = None,
    speed: float = 0.0,
    on_progress: Callable[[Pipeline, float], None] | None = None,
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
    ``slice_seconds`` of market time (dashboards refresh there).
    """
    if not paths:
        raise ValueError("need at least one cassette")
    start = cassette_start(paths[0]) or datetime(2024, 1, 1, tzinfo=UTC)
    clock = MarketClock(start)
    sched = clock.scheduler
    pipeline = Pipeline(config, broker=broker, clock=_stamp_clock(clock), taps=taps)
    if time_scale <= 0:
        raise ValueError(f"time_scale must be positive, not {time_scale}")
    total_ms = sum(cassette_duration_ms(p) for p in paths) * time_scale or 1.0
    stretch = None if time_scale == 1.0 else 1.0 / time_scale
    streams = [cassette_stream(p, direction="recv", scheduler=sched, speed=stretch) for p in paths]
    pipeline.run(reactivex.concat(*streams), scheduler=sched)
    wall0 = time.perf_counter()
    step = timedelta(seconds=slice_seconds)
    while not pipeline.completed:
        due = next_due(sched)  # type: ignore[arg-type]
        if due is None:
            break  # nothing left to run: a source that never completes
        if speed <= 0:  # skip quiet stretches, but stop where a stream may go stale
            stale = pipeline.market.next_deadline()
            target = max(clock.now + step, due if stale is None else min(due, stale))
        else:
            target = clock.now + step
        clock.seek(target)
        pipeline.tick(clock.now)
        if on_progress is not None:
            done_ms = (clock.now - start).total_seconds() * 1000
            on_progress(pipeline, min(1.0, done_ms / total_ms))
        if speed > 0:
            ahead = (clock.now - start).total_seconds() / speed - (time.perf_counter() - wall0)
            if ahead > 0:
                time.sleep(min(ahead, 1.0))
    if pipeline.error is not None:
        raise pipeline.error
    if on_progress is not None:
        on_progress(pipeline, 1.0)
    return pipeline


def run_live(
    events: Observable[MarketEvent],
    *,
    duration: float,
    config: PipelineConfig | None = None,
    broker: Broker | None = None,
    status: Observable[FeedStatus] | None = None,
    on_progress: Callable[[Pipeline, float], None] | None = None,
    refresh: float = 0.25,
    taps: Sequence[Callable[[Any], None]] = (),
) -> Pipeline:
    """Run the pipeline on a live Observable of decoded events for ``duration`` wall seconds.

    Events arrive on the feed's thread; the pipeline runs there under a lock, and this thread
    only waits (and calls ``on_progress`` every ``refresh`` seconds with a snapshot of the run).
    """
    pipeline = Pipeline(config, broker=broker, taps=taps)
    lock = pipeline.lock
    subscribers: list[abc.DisposableBase] = []

    def guarded(source: Observable[Any]) -> Observable[Any]:
        def subscribe(
            observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            def on_next(item: Any) -> None:
                with lock:
                    observer.on_next(item)

            return source.subscribe(on_next, observer.on_error, observer.on_completed)

        return reactivex.create(subscribe)

    if status is not None:
        subscribers.append(status.subscribe(lambda s: setattr(pipeline, "feed_status", s)))

    def done() -> None:
        pipeline.completed = True

    def count(event: MarketEvent) -> None:
        pipeline.messages += 1

    def timed(source: Observable[MarketEvent]) -> Observable[MarketEvent]:
        def subscribe(
            observer: abc.ObserverBase[MarketEvent], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            def on_next(event: MarketEvent) -> None:
                start = time.perf_counter_ns()
                observer.on_next(event)
                pipeline.latency.add(time.perf_counter_ns() - start)

            return source.subscribe(on_next, observer.on_error, observer.on_completed)

        return reactivex.create(subscribe)

    chain = pipeline.from_events(timed(guarded(events.pipe(reactivex.operators.do_action(count)))))
    subscribers.append(chain.subscribe(on_completed=done, on_error=lambda e: done()))
    deadline = time.monotonic() + duration
    try:
        while not pipeline.completed:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(refresh, left))
            with lock:
                pipeline.tick(datetime.now(UTC))
                if on_progress is not None:
                    on_progress(pipeline, min(1.0, 1 - left / duration))
    finally:
        for sub in subscribers:
            sub.dispose()
        pipeline.finished_wall = time.perf_counter()
    return pipeline
