"""Signal scorer: indicator values in, one score per market in [-1, 1] with its explanation out.

Each component maps one idea onto [-1, 1] (positive = bullish); the score is their weighted
average over the components whose inputs are available, optionally damped when realised
volatility is above a cap. Every part is returned, so a dashboard or a log can say *why*
the bot wants to buy, and a test can pin each contribution.

Components (ATR normalises price distances so one weight fits every market):

* ``trend``          tanh((EMA_fast - EMA_slow) / ATR)
* ``momentum``       (RSI - 50) / 50
* ``mean_reversion`` -tanh((price - VWAP) / ATR)      (above VWAP leans short)
* ``book``           top-of-book imbalance, already in [-1, 1]

Scores are floats: they steer decisions and never become prices or sizes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradingbot.stages import frozen_maker

__all__ = [
    "DEFAULT_WEIGHTS",
    "Score",
    "ScoreComponent",
    "SignalInputs",
    "SignalScorer",
]

DEFAULT_WEIGHTS: Mapping[str, float] = {
    "trend": 0.4,
    "momentum": 0.2,
    "mean_reversion": 0.2,
    "book": 0.2,
}


@dataclass(frozen=True, slots=True)
class SignalInputs:
    """Latest indicator values for one market; ``None`` = not warmed up / not available."""

    price: Decimal | None = None
    ema_fast: Decimal | None = None
    ema_slow: Decimal | None = None
    rsi: Decimal | None = None
    atr: Decimal | None = None
    vwap: Decimal | None = None
    imbalance: Decimal | None = None
    volatility: float | None = None


@dataclass(frozen=True, slots=True)
class ScoreComponent:
    """One part of a score: ``signal`` in [-1, 1] from ``inputs``; ``contribution`` is
    weight * signal / (sum of the available weights), so contributions add up to the raw score."""

    name: str
    signal: float
    weight: float
    contribution: float
    inputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Score:
    market: str
    value: float
    """Final score in [-1, 1] (after volatility damping)."""
    components: tuple[ScoreComponent, ...]
    damping: float = 1.0
    """Multiplier applied for high volatility (1 = none)."""
    missing: tuple[str, ...] = ()
    """Weighted components left out because their inputs were not available."""

    @property
    def ready(self) -> bool:
        return bool(self.components)

    def explain(self) -> str:
        parts = [f"{c.name}={c.signal:+.3f}x{c.weight:g}->{c.contribution:+.3f}" for c in self]
        text = f"{self.market} score {self.value:+.3f}: " + (", ".join(parts) or "no inputs")
        if self.damping != 1.0:
            text += f"; volatility damping x{self.damping:.3f}"
        if self.missing:
            text += f"; missing {', '.join(self.missing)}"
        return text

    def __iter__(self) -> Iterator[ScoreComponent]:
        return iter(self.components)

    def contributions(self) -> dict[str, float]:
        """Component name -> contribution to the (undamped) score."""
        return {c.name: c.contribution for c in self.components}


# Score(...) and ScoreComponent(...), faster: one score per book state or trade
_make_score = frozen_maker(Score)
_make_component = frozen_maker(ScoreComponent)


def _ratio(num: Decimal, den: Decimal) -> float:
    return float(num / den)


class SignalScorer:
    """Combines :class:`SignalInputs` into a :class:`Score`.

    ``weights`` choose and weigh components (unknown names are an error, zero weight drops one);
    ``volatility_cap``: above it the score is multiplied by cap / volatility.
    """

    COMPONENTS = ("trend", "momentum", "mean_reversion", "book")

    def __init__(
        self,
        weights: Mapping[str, float] = DEFAULT_WEIGHTS,
        volatility_cap: float | None = None,
    ) -> None:
        unknown = set(weights) - set(self.COMPONENTS)
        if unknown:
            raise ValueError(f"unknown components {sorted(unknown)}; known {self.COMPONENTS}")
        if any(w < 0 for w in weights.values()):
            raise ValueError("weights must be >= 0 (components already carry their sign)")
        self.weights = {k: w for k, w in weights.items() if w > 0}
        self.volatility_cap = volatility_cap
        self._weighted = tuple(
            (self.COMPONENTS.index(name), name, weight) for name, weight in self.weights.items()
        )
        self._total_weight = sum([weight for _, _, weight in self._weighted])
        self._memos: dict[str, list[_Slot | None]] = {}

    def _signals(self, x: SignalInputs, memo: list[_Slot | None]) -> list[_Signal | None]:
        """Each component's (signal, inputs used) in :attr:`COMPONENTS` order, None where its
        inputs are missing.

        A component whose inputs are the very same objects as in the previous call for this
        market (the bar indicators only change on confirmed bars, while book states and trades
        come many times a minute) reuses its previous result instead of recomputing it.
        Identity, not equality: Decimal("1.0") == Decimal("1") but they print differently."""
        atr = x.atr
        atr_ok = atr is not None and atr > 0
        out: list[_Signal | None] = [None, None, None, None]
        if x.ema_fast is not None and x.ema_slow is not None and atr_ok:
            out[0] = _memo(memo, 0, x.ema_fast, x.ema_slow, atr, _trend)
        if x.rsi is not None:
            out[1] = _memo(memo, 1, x.rsi, None, None, _momentum)
        if x.price is not None and x.vwap is not None and atr_ok:
            out[2] = _memo(memo, 2, x.price, x.vwap, atr, _mean_reversion)
        if x.imbalance is not None:
            out[3] = _memo(memo, 3, x.imbalance, None, None, _book)
        return out

    def score(self, market: str, inputs: SignalInputs) -> Score:
        memo = self._memos.get(market)
        if memo is None:
            memo = self._memos[market] = [None] * 8  # 0-3: signals, 4-7: components
        signals = self._signals(inputs, memo)
        available = [
            (i, name, weight) for i, name, weight in self._weighted if signals[i] is not None
        ]
        if len(available) == len(self._weighted):
            missing: tuple[str, ...] = ()
            total_weight = self._total_weight
        else:
            missing = tuple(name for i, name, _ in self._weighted if signals[i] is None)
            total_weight = sum([weight for _, _, weight in available])
        components: list[ScoreComponent] = []
        for i, name, weight in available:
            found = signals[i]
            assert found is not None
            previous = memo[4 + i]
            if previous is not None and previous[0] is found and previous[1] == total_weight:
                components.append(previous[2])  # same inputs, same weights: same component
                continue
            signal, used = found
            signal = max(-1.0, min(1.0, signal))
            component = _make_component(name, signal, weight, weight * signal / total_weight, used)
            memo[4 + i] = (found, total_weight, component)
            components.append(component)
        raw = sum([c.contribution for c in components])
        damping = 1.0
        vol = inputs.volatility
        if self.volatility_cap is not None and vol is not None and vol > self.volatility_cap:
            damping = self.volatility_cap / vol
        value = max(-1.0, min(1.0, raw * damping))
        return _make_score(market, value, tuple(components), damping, missing)


_Signal = tuple[float, dict[str, str]]
_Slot = tuple[Any, ...]
"""A memo slot: (input objects..., signal) for a signal, (signal, total weight, component)
for a component."""


def _memo(
    memo: list[_Slot | None],
    i: int,
    a: Any,
    b: Any,
    c: Any,
    compute: Callable[..., _Signal],
) -> _Signal:
    last = memo[i]
    if last is not None and last[0] is a and last[1] is b and last[2] is c:
        return last[3]
    result = compute(a) if b is None else compute(a, b, c)
    memo[i] = (a, b, c, result)
    return result


def _trend(ema_fast: Decimal, ema_slow: Decimal, atr: Decimal) -> _Signal:
    return (
        math.tanh(_ratio(ema_fast - ema_slow, atr)),
        {"ema_fast": str(ema_fast), "ema_slow": str(ema_slow), "atr": str(atr)},
    )


def _momentum(rsi: Decimal) -> _Signal:
    return _ratio(rsi - 50, _FIFTY), {"rsi": str(rsi)}


def _mean_reversion(price: Decimal, vwap: Decimal, atr: Decimal) -> _Signal:
    return (
        -math.tanh(_ratio(price - vwap, atr)),
        {"price": str(price), "vwap": str(vwap), "atr": str(atr)},
    )


def _book(imbalance: Decimal) -> _Signal:
    return float(imbalance), {"imbalance": str(imbalance)}


_FIFTY = Decimal(50)
