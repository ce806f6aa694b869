"""The whole bot as one chain: decoded events -> market state -> signals -> strategy -> risk
and execution, with the counters of its summary.

The market state (:class:`~tradingbot.market.MarketState`) and the layers above it
(:class:`~tradingbot.layers.Layer`: signals, strategy, execution) are the same objects the
operator forms run (``market_stage``, ``signal_stage``, ``strategy_stage``,
``execution_stage``); here they are fused into nested calls (:func:`~tradingbot.layers.compose`)
so an event costs no reactivex observer layer per stage. Every stage is pass-through, so the run
is one ordered stream and a replay repeats it exactly.

The pipeline takes decoded, stamped events in replay and live alike (the drivers differ only in
their source and their clock). Each event is processed under :attr:`Pipeline.lock`, and its
latency is the time from its arrival at the pipeline until every stage is done with it.
"""

from __future__ import annotations

import threading
import time
from array import array
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import reactivex
from reactivex import Observable, abc

from pytest_streamreplay.streams import StreamHasher
from tradingbot.execution import ExecutionEngine, PaperBroker, RiskGate, execution_layer
from tradingbot.execution.base import Broker
from tradingbot.execution.reports import AccountState
from tradingbot.feeds.cassette import DecodedMessages, decode_stage
from tradingbot.feeds.events import (
    ErrorEvent,
    FeedStatus,
    Fill,
    MarketEvent,
    MarketUpdate,
    OraclePrice,
)
from tradingbot.layers import Layer, compose, event_time
from tradingbot.market import MarketState
from tradingbot.signals import Score, SignalEngine, SignalScorer, signal_layer
from tradingbot.stages import KindOf
from tradingbot.strategy import (
    IntentKind,
    ScoreStrategy,
    StrategyConfig,
    TradeIntent,
    strategy_layer,
)

from .config import PipelineConfig
from .summary import best_prices, summary

__all__ = ["LatencyRecorder", "Pipeline"]


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


_TAP_IN = KindOf(ErrorEvent, OraclePrice, MarketUpdate)
_ERROR, _ORACLE, _UPDATE = range(3)
_TAP_OUT = KindOf(Score, TradeIntent, Fill, AccountState)
_SCORE, _INTENT, _FILL = range(3)


class Pipeline:
    """One run's components, the fused chain and the counters of its summary.

    Build one per run (components keep state). ``broker`` defaults to a :class:`PaperBroker`
    from the config; pass a live adapter for real orders. ``taps`` see every item of the run
    in stream order (bars, scores, intents, fills...), e.g. to publish bars over the network.
    ``clock`` stamps raw messages decoded by :meth:`operator`.
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
        """Above the market state, in order: what the chain composes."""
        self.latency = LatencyRecorder()
        self.intent_hasher = StreamHasher()
        self.fill_hasher = StreamHasher()
        self.messages = 0
        self._last_mid: int | None = None  # the message the last event came from
        self._last_connection: str | None = None
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
        self.mode = ""
        """Set by the driver: ``replay`` or ``live``."""
        self.completed = False
        self.error: BaseException | None = None
        self._on_time: Callable[[datetime], None] | None = None
        self.lock = threading.RLock()
        """Held while the pipeline processes an event or a tick: take it to read state
        consistently while a live feed's thread delivers events."""

    # -- the chain -------------------------------------------------------------------------

    def operator(self) -> Callable[[Observable[Any]], Observable[Any]]:
        """Raw indexer messages -> every item of the run (decoded and stamped with ``clock``)."""
        decode = decode_stage(self.clock)
        return lambda messages: self.from_events(decode(messages))

    def from_events(self, events: Observable[MarketEvent]) -> Observable[Any]:
        """Decoded, stamped events -> every item of the run (events and all they caused)."""
        return self._items(events, forward=True)

    def run(
        self, events: Observable[MarketEvent], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        """Subscribe the chain to ``events`` (the drivers' entry); completion and the first
        error (of the source or of any stage) end the run and are recorded."""

        def done() -> None:
            self.completed = True
            self.finished_wall = time.perf_counter()

        def failed(exc: Exception) -> None:
            self.error = exc
            done()

        # nothing subscribes to the items: the stages run without handing each one on
        return self._items(events, forward=False).subscribe(
            on_error=failed, on_completed=done, scheduler=scheduler
        )

    def _items(self, events: Observable[MarketEvent], *, forward: bool) -> Observable[Any]:
        def subscribe(
            observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            sink = self._event_sink(observer, forward=forward)
            if isinstance(events, DecodedMessages):  # decode straight into the chain
                return events.messages.subscribe(
                    events.decoding(sink),
                    observer.on_error,
                    observer.on_completed,
                    scheduler=scheduler,
                )
            return events.subscribe(
                sink, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return reactivex.create(subscribe)

    def _event_sink(
        self, observer: abc.ObserverBase[Any], *, forward: bool = True
    ) -> Callable[[MarketEvent], None]:
        """``on_next`` for decoded events: the market state, then the composed layers, then
        the taps and ``observer`` (not called with ``forward=False``). An exception in any
        stage ends the run as an error instead of reaching the feed's thread."""
        market, tap_in, tap_out = self.market.apply, self._tap_in, self._tap_out
        taps, counted = self.taps, _TAP_OUT
        emit = observer.on_next if forward else None
        lock, perf, record = self.lock, time.perf_counter_ns, self.latency.samples.append

        def sink(item: Any, now: datetime | None) -> None:
            if taps or counted[type(item)] >= 0:  # else _tap_out has nothing to do
                tap_out(item)
            if emit is not None:
                emit(item)

        push = compose(self.layers, sink)

        def process(event: MarketEvent) -> None:
            start = perf()
            try:
                t = tap_in(event)
                passed, derived = market(event)
                if passed:
                    push(event, t)
                for item in derived:
                    push(item, event_time(item))
            except Exception as exc:
                observer.on_error(exc)
                return
            record(perf() - start)

        def locked(event: MarketEvent) -> None:
            with lock:
                process(event)

        # a feed's thread delivers live events while the driver's thread reads and ticks: the
        # lock; a replay runs on one thread and needs none
        on_next = locked if self.mode == "live" else process

        def on_time(wall: datetime) -> None:
            with lock:
                try:
                    for item in self.market.on_time(wall):
                        push(item, event_time(item))
                except Exception as exc:
                    observer.on_error(exc)

        self._on_time = on_time
        return on_next

    def tick(self, wall: datetime) -> None:
        """The driver's clock reached ``wall``: run what time alone reveals (a feed that went
        silent) through the chain."""
        if self._on_time is not None:
            self._on_time(wall)

    def _tap_in(self, event: MarketEvent) -> datetime | None:
        """Count the event (and its message); returns its :func:`event_time`."""
        self.events += 1
        mid = event.message_id
        if mid is None:
            self.messages += 1
        elif mid != self._last_mid or event.connection_id != self._last_connection:
            self.messages += 1
            self._last_mid, self._last_connection = mid, event.connection_id
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

    # -- results ---------------------------------------------------------------------------

    def followed_markets(self) -> list[str]:
        """The markets the run follows: those with an order book and those the strategy
        trades. v4_markets reports every market of the venue (ETH-USD beside BTC-USD, a
        hundred on mainnet); a market heard only there is not one the run asked for."""
        traded = set(self.config.strategy.markets or ()) if self.config.trade else set()
        books = self.market.books
        return sorted(m for m in self.markets if m in traded or books.book(m) is not None)

    def best_prices(self) -> dict[str, tuple[Decimal | None, Decimal | None]]:
        return best_prices(self)

    def summary(self) -> dict[str, Any]:
        """The run in numbers (see :mod:`tradingbot.pipeline.summary`)."""
        return summary(self)
