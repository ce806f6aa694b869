"""The signal layer's step (:func:`signal_layer`) and its operator form (:func:`signal_stage`):
bars, book states and trades each followed by their market's new :class:`Score`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from reactivex import Observable

from tradingbot.feeds.events import Trade
from tradingbot.layers import Layer, layer_stage
from tradingbot.market.bars import Bar
from tradingbot.market.book import BookState
from tradingbot.stages import KindOf

from .engine import SignalEngine
from .scorer import Score

__all__ = ["SIGNAL_INPUTS", "signal_layer", "signal_stage"]

SIGNAL_INPUTS = KindOf(Bar, BookState, Trade)
"""What :meth:`SignalEngine.apply` takes; other items pass the layer without a call."""


def signal_layer(engine: SignalEngine) -> Layer:
    """The signal layer: ``derive(item, now)`` is ``[score]`` when ``item`` changed an input of
    its market's score, else nothing (scores need no clock)."""
    apply = engine.apply

    def derive(item: Any, now: datetime | None) -> tuple[Score, ...]:
        score = apply(item)
        return () if score is None else (score,)

    return Layer(derive, SIGNAL_INPUTS)


def signal_stage(
    engine: SignalEngine | Callable[[], SignalEngine],
) -> Callable[[Observable[Any]], Observable[Any]]:
    """``Observable[Any] -> Observable[Any]``: items unchanged, each bar, book state or trade
    followed by its market's new Score. Give a factory for a fresh engine per subscription."""
    return layer_stage(
        lambda: signal_layer(engine if isinstance(engine, SignalEngine) else engine())
    )
