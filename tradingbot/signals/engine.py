"""Wires market-state outputs into the indicators and the scorer, one set per market.

Bars update the bar indicators only when *confirmed* (a forming bar would feed the same bucket
several times); trades feed the session VWAP; book states feed the imbalance and the latest mid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import reactivex
from reactivex import Observable, abc

from tradingbot.feeds.events import Trade
from tradingbot.market.bars import Bar
from tradingbot.market.book import BookState
from tradingbot.stages import frozen_maker

from .indicators import ATR, EMA, RSI, VWAP, BookImbalance, RealizedVolatility
from .scorer import Score, SignalInputs, SignalScorer

__all__ = ["MarketSignals", "SignalConfig", "SignalEngine", "scores"]

SignalSource = Bar | BookState | Trade

_make_inputs = frozen_maker(SignalInputs)


@dataclass(frozen=True, slots=True)
class SignalConfig:
    """Indicator settings; ``resolution`` picks which confirmed bars drive the bar indicators."""

    resolution: str = "1MIN"
    ema_fast: int = 12
    ema_slow: int = 26
    rsi: int = 14
    atr: int = 14
    volatility_window: int = 30
    periods_per_year: float = 1.0
    book_depth: int = 5


class MarketSignals:
    """The indicators of one market."""

    def __init__(self, market: str, config: SignalConfig | None = None) -> None:
        cfg = config or SignalConfig()
        self.market = market
        self.config = cfg
        self.ema_fast = EMA(cfg.ema_fast)
        self.ema_slow = EMA(cfg.ema_slow)
        self.rsi = RSI(cfg.rsi)
        self.atr = ATR(cfg.atr)
        self.volatility = RealizedVolatility(cfg.volatility_window, cfg.periods_per_year)
        self.vwap = VWAP()
        self.imbalance = BookImbalance(cfg.book_depth)
        self.last_price: Decimal | None = None
        """Latest confirmed close, trade price or book mid, whichever came last."""

    def update(self, item: SignalSource) -> bool:
        """Apply one item; True if it changed an input of the score."""
        if isinstance(item, Bar):
            if not item.confirmed or item.resolution != self.config.resolution:
                return False
            self.ema_fast.update(item.close)
            self.ema_slow.update(item.close)
            self.rsi.update(item.close)
            self.atr.update(item)
            self.volatility.update(item.close)
            self.last_price = item.close
            return True
        if isinstance(item, Trade):
            self.vwap.update(item.price, item.size, item.created_at)
            self.last_price = item.price
            return True
        self.imbalance.update(item.bids, item.asks)
        mid = item.mid
        if mid is not None:
            self.last_price = mid
        return True

    def inputs(self) -> SignalInputs:
        return _make_inputs(  # SignalInputs(...) positionally: this runs for every score
            self.last_price,
            self.ema_fast.value,
            self.ema_slow.value,
            self.rsi.value,
            self.atr.value,
            self.vwap.value,
            self.imbalance.value,
            self.volatility.value,
        )


class SignalEngine:
    """Per-market :class:`MarketSignals` plus one scorer: ``apply(item) -> Score | None``."""

    def __init__(
        self, scorer: SignalScorer | None = None, config: SignalConfig | None = None
    ) -> None:
        self.scorer = scorer or SignalScorer()
        self.config = config or SignalConfig()
        self._markets: dict[str, MarketSignals] = {}

    def market(self, market: str) -> MarketSignals:
        if market not in self._markets:
            self._markets[market] = MarketSignals(market, self.config)
        return self._markets[market]

    def apply(self, item: SignalSource) -> Score | None:
        signals = self._markets.get(item.market) or self.market(item.market)
        if not signals.update(item):
            return None
        return self.scorer.score(item.market, signals.inputs())


def scores(
    scorer: SignalScorer | None = None, config: SignalConfig | None = None
) -> Callable[[Observable[Any]], Observable[Score]]:
    """``Observable[Bar | BookState | Trade] -> Observable[Score]``: a fresh engine per
    subscription; other items (late trades, resync requests, ...) are ignored, so the outputs
    of the market operators can be merged and piped in unfiltered."""

    def _op(source: Observable[Any]) -> Observable[Score]:
        def subscribe(
            observer: abc.ObserverBase[Score], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            engine = SignalEngine(scorer, config)

            def on_next(item: object) -> None:
                if isinstance(item, Bar | BookState | Trade):
                    score = engine.apply(item)
                    if score is not None:
                        observer.on_next(score)

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return reactivex.create(subscribe)

    return _op
