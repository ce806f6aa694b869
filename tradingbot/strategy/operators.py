"""The strategy as a reactivex stage: every input item passes through, intents follow it.

Pass-through keeps one ordered stream from the feed to execution, so every layer above sees
market data and the decisions made on it in the order they happened (no merge races, and a
replay is byte-for-byte repeatable).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from reactivex import Observable
from reactivex import operators as ops

from tradingbot.feeds.events import MarketEvent, OraclePrice, Trade
from tradingbot.market.book import BookState
from tradingbot.stages import Derive, KindOf, pass_through

from .core import ScoreStrategy
from .intents import TradeIntent

__all__ = ["event_time", "intents", "strategy_stage", "timed"]


def event_time(item: Any) -> datetime | None:
    """The market time an item carries: receive stamp, else trade/oracle/book time."""
    kind = _TIMED[type(item)]
    if kind < 0:
        return None
    if kind == _BOOK:
        return item.time
    t: datetime | None = item.received_at
    if t is not None or kind == _EVENT:
        return t
    return item.created_at if kind == _TRADE else item.effective_at


_TIMED = KindOf(Trade, OraclePrice, MarketEvent, BookState)
_TRADE, _EVENT, _BOOK = 0, 2, 3


def strategy_stage(
    strategy: ScoreStrategy | Callable[[], ScoreStrategy],
) -> Callable[[Observable[Any]], Observable[Any]]:
    """``Observable[Any] -> Observable[Any]``: items unchanged, each followed by the
    :class:`TradeIntent`\\ s it caused. ``now`` is the latest :func:`event_time` seen.

    Give a factory for a fresh strategy per subscription (cold streams replayed twice)."""

    def fresh() -> Derive:
        strat = strategy if isinstance(strategy, ScoreStrategy) else strategy()
        return timed(strat.apply)

    return pass_through(fresh)


def timed(apply: Callable[[Any, datetime | None], Iterable[Any]]) -> Derive:
    """Call ``apply(item, now)`` with ``now`` the latest market time seen on the stream."""
    now: datetime | None = None

    def derive(item: Any) -> Iterable[Any]:
        nonlocal now
        t = event_time(item)
        if t is not None:
            now = t
        return apply(item, now)

    return derive


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
