"""L3 market state: order books, bars, data-quality checks and bounded history.

Plain classes (``apply(event) -> outputs``) hold the logic; :mod:`.operators` wraps them as
reactivex operators over ``Observable[MarketEvent]``.
"""

from .bars import (
    RESOLUTIONS,
    Bar,
    BarEngine,
    BarOutput,
    CandleCheck,
    CandleChecker,
    FieldDifference,
    LateTrade,
    bucket_start,
    compare_candle,
)
from .book import BookEngine, BookOutput, BookState, CrossedBookResolved, OrderBook, ResyncRequest
from .operators import bars, book_states, candle_checks, order_books, quality_checks
from .quality import DataQualityMonitor, QualityIssue, QualityKind
from .ringbuffer import RingBuffer
from .state import LIVENESS_EVERY, MarketSettings, MarketState, market_stage

__all__ = [
    "LIVENESS_EVERY",
    "RESOLUTIONS",
    "Bar",
    "BarEngine",
    "BarOutput",
    "BookEngine",
    "BookOutput",
    "BookState",
    "CandleCheck",
    "CandleChecker",
    "CrossedBookResolved",
    "DataQualityMonitor",
    "FieldDifference",
    "LateTrade",
    "MarketSettings",
    "MarketState",
    "OrderBook",
    "QualityIssue",
    "QualityKind",
    "ResyncRequest",
    "RingBuffer",
    "bars",
    "book_states",
    "bucket_start",
    "candle_checks",
    "compare_candle",
    "market_stage",
    "order_books",
    "quality_checks",
]
