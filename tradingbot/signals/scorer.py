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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

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

    def _signals(self, x: SignalInputs) -> dict[str, tuple[float, dict[str, str]] | None]:
        out: dict[str, tuple[float, dict[str, str]] | None] = dict.fromkeys(self.COMPONENTS)
        atr_ok = x.atr is not None and x.atr > 0
        if x.ema_fast is not None and x.ema_slow is not None and atr_ok:
            assert x.atr is not None
            out["trend"] = (
                math.tanh(_ratio(x.ema_fast - x.ema_slow, x.atr)),
                {"ema_fast": str(x.ema_fast), "ema_slow": str(x.ema_slow), "atr": str(x.atr)},
            )
        if x.rsi is not None:
            out["momentum"] = (_ratio(x.rsi - 50, Decimal(50)), {"rsi": str(x.rsi)})
        if x.price is not None and x.vwap is not None and atr_ok:
            assert x.atr is not None
            out["mean_reversion"] = (
                -math.tanh(_ratio(x.price - x.vwap, x.atr)),
                {"price": str(x.price), "vwap": str(x.vwap), "atr": str(x.atr)},
            )
        if x.imbalance is not None:
            out["book"] = (float(x.imbalance), {"imbalance": str(x.imbalance)})
        return out

    def score(self, market: str, inputs: SignalInputs) -> Score:
        signals = self._signals(inputs)
        available = {k: w for k, w in self.weights.items() if signals[k] is not None}
        missing = tuple(k for k in self.weights if k not in available)
        total_weight = sum(available.values())
        components: list[ScoreComponent] = []
        for name, weight in available.items():
            found = signals[name]
            assert found is not None
            signal, used = found
            signal = max(-1.0, min(1.0, signal))
            components.append(
                ScoreComponent(name, signal, weight, weight * signal / total_weight, used)
            )
        raw = sum(c.contribution for c in components)
        damping = 1.0
        vol = inputs.volatility
        if self.volatility_cap is not None and vol is not None and vol > self.volatility_cap:
            damping = self.volatility_cap / vol
        value = max(-1.0, min(1.0, raw * damping))
        return Score(market, value, tuple(components), damping, missing)
