"""The strategy as a reactivex stage: every input item passes through, intents follow it.

Pass-through keeps one ordered stream from the feed to execution, so every layer above sees
market data and the decisions made on it in the order they happened (no merge races, and a
replay is byte-for-byte repeatable).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reactivex import Observable
from reactivex import operators as ops

from tradingbot.layers import Layer, event_time, layer_stage

from .core import INPUTS, ScoreStrategy
from .intents import TradeIntent

__all__ = ["event_time", "intents", "strategy_layer", "strategy_stage"]


def strategy_layer(strategy: ScoreStrategy) -> Layer:
    """The strategy layer: ``derive(item, now)`` is the intents ``item`` caused."""
    return Layer(strategy.apply, INPUTS)


def strategy_stage(
    strategy: ScoreStrategy | Callable[[], ScoreStrategy],
) -> Callable[[Observable[Any]], Observable[Any]]:
    """``Observable[Any] -> Observable[Any]``: items unchanged, each followed by the
    :class:`TradeIntent`\\ s it caused. ``now`` is the latest :func:`event_time` seen.

    Give a factory for a fresh strategy per subscription (cold streams replayed twice)."""
    return layer_stage(
        lambda: strategy_layer(strategy if isinstance(strategy, ScoreStrategy) else strategy())
    )


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
