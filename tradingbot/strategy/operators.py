"""The strategy as a reactivex stage: every input item passes through, intents follow it.

Pass-through keeps one ordered stream from the feed to execution, so every layer above sees
market data and the decisions made on it in the order they happened (no merge races, and a
replay is byte-for-byte repeatable).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import reactivex
from reactivex import Observable, abc
from reactivex import operators as ops

from tradingbot.feeds.events import MarketEvent, OraclePrice, Trade
from tradingbot.market.book import BookState

from .core import ScoreStrategy
from .intents import TradeIntent

__all__ = ["event_time", "intents", "strategy_stage"]


def event_time(item: Any) -> datetime | None:
    """The market time an item carries: receive stamp, else trade/oracle/book time."""
    if isinstance(item, MarketEvent) and item.received_at is not None:
        return item.received_at
    if isinstance(item, Trade):
        return item.created_at
    if isinstance(item, OraclePrice):
        return item.effective_at
    if isinstance(item, BookState):
        return item.time
    return None


def strategy_stage(
    strategy: ScoreStrategy | Callable[[], ScoreStrategy],
) -> Callable[[Observable[Any]], Observable[Any]]:
    """``Observable[Any] -> Observable[Any]``: items unchanged, each followed by the
    :class:`TradeIntent`\\ s it caused. ``now`` is the latest :func:`event_time` seen.

    Give a factory for a fresh strategy per subscription (cold streams replayed twice)."""

    def _op(source: Observable[Any]) -> Observable[Any]:
        def subscribe(
            observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            strat = strategy if isinstance(strategy, ScoreStrategy) else strategy()
            now: list[datetime | None] = [None]

            def on_next(item: Any) -> None:
                observer.on_next(item)
                t = event_time(item)
                if t is not None:
                    now[0] = t
                for intent in strat.apply(item, now[0]):
                    observer.on_next(intent)

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return reactivex.create(subscribe)

    return _op


def intents(
    strategy: ScoreStrategy | Callable[[], ScoreStrategy],
) -> Callable[[Observable[Any]], Observable[TradeIntent]]:
    """Only the intents of :func:`strategy_stage`."""

    def _op(source: Observable[Any]) -> Observable[TradeIntent]:
        staged = strategy_stage(strategy)(source)
        only: Callable[[Observable[Any]], Observable[TradeIntent]] = ops.filter(
            lambda x: isinstance(x, TradeIntent)
        )
        return only(staged)

    return _op
