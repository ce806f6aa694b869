"""L4/L5 signals: O(1) incremental indicators, the per-market signal scorer, and the engine
that feeds market-state outputs (bars, trades, book states) into both."""

from .engine import MarketSignals, SignalConfig, SignalEngine, scores
from .indicators import (
    ATR,
    EMA,
    RSI,
    VWAP,
    BookImbalance,
    HighLowClose,
    RealizedVolatility,
    book_imbalance,
    utc_day,
)
from .scorer import DEFAULT_WEIGHTS, Score, ScoreComponent, SignalInputs, SignalScorer
from .stage import SIGNAL_INPUTS, signal_layer, signal_stage

__all__ = [
    "ATR",
    "DEFAULT_WEIGHTS",
    "EMA",
    "RSI",
    "SIGNAL_INPUTS",
    "VWAP",
    "BookImbalance",
    "HighLowClose",
    "MarketSignals",
    "RealizedVolatility",
    "Score",
    "ScoreComponent",
    "SignalConfig",
    "SignalEngine",
    "SignalInputs",
    "SignalScorer",
    "book_imbalance",
    "scores",
    "signal_layer",
    "signal_stage",
    "utc_day",
]
