"""L4/L5 signals: O(1) incremental indicators and the per-market signal scorer."""

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

__all__ = [
    "ATR",
    "DEFAULT_WEIGHTS",
    "EMA",
    "RSI",
    "VWAP",
    "BookImbalance",
    "HighLowClose",
    "RealizedVolatility",
    "Score",
    "ScoreComponent",
    "SignalInputs",
    "SignalScorer",
    "book_imbalance",
    "utc_day",
]
