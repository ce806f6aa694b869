"""OHLCV bars built from trades, and their check against the venue's candles.

Buckets are aligned to the Unix epoch in UTC, like the indexer's candles (``startedAt`` is a
multiple of the resolution; days start at 00:00 UTC). A bar is emitted as *forming* on every
trade and as *confirmed* exactly once, when either a trade of a later bucket arrives or the clock
passes the bucket end plus ``confirm_delay`` (``on_time``). Buckets without trades produce no
bar. A trade for a bucket that is already confirmed is reported as :class:`LateTrade` and not
applied: a confirmed bar never changes.

The first bar of each market/resolution is flagged ``partial`` when the engine may have missed
trades before it started (no ``since`` given, or ``since`` after the bucket start); the candle
check skips partial bars.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from tradingbot.feeds.events import Candle, MarketEvent, Trade
from tradingbot.stages import frozen_maker

from .ringbuffer import RingBuffer

__all__ = [
    "RESOLUTIONS",
    "Bar",
    "BarEngine",
    "BarOutput",
    "CandleCheck",
    "CandleChecker",
    "FieldDifference",
    "LateTrade",
    "bucket_start",
    "compare_candle",
]

RESOLUTIONS: dict[str, timedelta] = {
    "1MIN": timedelta(minutes=1),
    "5MINS": timedelta(minutes=5),
    "15MINS": timedelta(minutes=15),
    "30MINS": timedelta(minutes=30),
    "1HOUR": timedelta(hours=1),
    "4HOURS": timedelta(hours=4),
    "1DAY": timedelta(days=1),
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZERO = Decimal(0)


def bucket_start(t: datetime, resolution: str) -> datetime:
    """Start of the epoch-aligned bucket holding ``t`` (which must be timezone-aware)."""
    if t.tzinfo is None:
        raise ValueError("naive datetime: market times must be timezone-aware")
    step = RESOLUTIONS[resolution]
    return _EPOCH + ((t - _EPOCH) // step) * step


@dataclass(frozen=True, slots=True)
class Bar:
    market: str
    resolution: str
    started_at: datetime
    ended_at: datetime
    """Exclusive end: started_at + resolution."""
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    base_volume: Decimal
    usd_volume: Decimal
    trades: int
    confirmed: bool = False
    partial: bool = False

    @property
    def vwap(self) -> Decimal | None:
        return self.usd_volume / self.base_volume if self.base_volume else None

    def with_trade(self, price: Decimal, size: Decimal) -> Bar:
        return _make_bar(  # not dataclasses.replace nor Bar(): this runs on every trade
            self.market,
            self.resolution,
            self.started_at,
            self.ended_at,
            self.open,
            max(self.high, price),
            min(self.low, price),
            price,
            self.base_volume + size,
            self.usd_volume + price * size,
            self.trades + 1,
            self.confirmed,
            self.partial,
        )


_make_bar = frozen_maker(Bar)  # Bar(...), faster: one per trade


@dataclass(frozen=True, slots=True)
class LateTrade:
    """A trade for a bucket whose bar was already confirmed: dropped, reported."""

    trade: Trade
    resolution: str
    bucket: datetime


BarOutput = Bar | LateTrade


class BarEngine:
    """Forming/confirmed bars per (market, resolution), with bounded confirmed history."""

    def __init__(
        self,
        resolutions: Iterable[str] = ("1MIN",),
        *,
        confirm_delay: timedelta = timedelta(0),
        since: datetime | None = None,
        history: int = 500,
    ) -> None:
        self.resolutions = tuple(resolutions)
        unknown = [r for r in self.resolutions if r not in RESOLUTIONS]
        if unknown:
            raise ValueError(f"unknown resolutions {unknown}; known {list(RESOLUTIONS)}")
        self.confirm_delay = confirm_delay
        self.since = since
        self._capacity = history
        self._forming: dict[tuple[str, str], Bar] = {}
        self._last_confirmed: dict[tuple[str, str], datetime] = {}
        self._history: dict[tuple[str, str], RingBuffer[Bar]] = {}
        self._next_end: datetime | None = None
        self._ends_changed = False

    def forming(self, market: str, resolution: str) -> Bar | None:
        return self._forming.get((market, resolution))

    def history(self, market: str, resolution: str) -> RingBuffer[Bar]:
        """Confirmed bars, oldest first (bounded: the oldest are dropped)."""
        key = (market, resolution)
        if key not in self._history:
            self._history[key] = RingBuffer(self._capacity)
        return self._history[key]

    def next_deadline(self) -> datetime | None:
        """When ``on_time`` will next confirm something (for schedulers)."""
        if self._ends_changed:  # the forming bars' ends change only when one starts or ends
            self._next_end = min((b.ended_at for b in self._forming.values()), default=None)
            self._ends_changed = False
        return None if self._next_end is None else self._next_end + self.confirm_delay

    def _confirm(self, key: tuple[str, str]) -> Bar:
        bar = replace(self._forming.pop(key), confirmed=True)
        self._ends_changed = True
        self._last_confirmed[key] = bar.started_at
        self.history(*key).append(bar)
        return bar

    def apply(self, event: MarketEvent) -> list[BarOutput]:
        """For a trade, per resolution: the bar it confirmed (if any), then the forming bar.
        Other events produce nothing."""
        if not isinstance(event, Trade):
            return []
        trade = event
        out: list[BarOutput] = []
        for res in self.resolutions:
            key = (trade.market, res)
            start = bucket_start(trade.created_at, res)
            last = self._last_confirmed.get(key)
            current = self._forming.get(key)
            if (last is not None and start <= last) or (
                current is not None and start < current.started_at
            ):
                out.append(LateTrade(trade, res, start))
                continue
            if current is not None and start > current.started_at:
                out.append(self._confirm(key))
                current = None
            if current is None:
                first = last is None and key not in self._history
                partial = first and (self.since is None or self.since > start)
                self._ends_changed = True
                bar = _make_bar(
                    trade.market,
                    res,
                    start,
                    start + RESOLUTIONS[res],
                    trade.price,
                    trade.price,
                    trade.price,
                    trade.price,
                    trade.size,
                    trade.price * trade.size,
                    1,
                    partial=partial,
                )
            else:
                bar = current.with_trade(trade.price, trade.size)
            self._forming[key] = bar
            out.append(bar)
        return out

    def on_time(self, now: datetime) -> list[Bar]:
        """Confirm every forming bar whose end (+ delay) is at or before ``now``."""
        due = [
            key for key, bar in self._forming.items() if bar.ended_at + self.confirm_delay <= now
        ]
        due.sort(key=lambda k: (self._forming[k].ended_at, k))
        return [self._confirm(key) for key in due]


# -- check against venue candles --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldDifference:
    field: str
    ours: Decimal | int
    venue: Decimal | int


@dataclass(frozen=True, slots=True)
class CandleCheck:
    """Our confirmed bar against the venue candle of the same bucket."""

    market: str
    resolution: str
    started_at: datetime
    differences: tuple[FieldDifference, ...]

    @property
    def ok(self) -> bool:
        return not self.differences


_make_check = frozen_maker(CandleCheck)  # CandleCheck(...), faster: one per candle


_Key = tuple[str, str, datetime]
_T = TypeVar("_T")

_FIELDS = (
    ("open", "open"),
    ("high", "high"),
    ("low", "low"),
    ("close", "close"),
    ("base_volume", "base_volume"),
    ("usd_volume", "usd_volume"),
)


def compare_candle(bar: Bar, candle: Candle, tolerance: Decimal = ZERO) -> CandleCheck:
    """Compare OHLC, base and USD volume (within ``tolerance``, absolute) and the trade count
    (exactly). Raises ValueError if they are not the same market/resolution/bucket."""
    if (bar.market, bar.resolution, bar.started_at) != (
        candle.market,
        candle.resolution,
        candle.started_at,
    ):
        raise ValueError("bar and candle describe different buckets")
    diffs: list[FieldDifference] = []
    for ours_name, venue_name in _FIELDS:
        ours: Decimal = getattr(bar, ours_name)
        venue: Decimal = getattr(candle, venue_name)
        if abs(ours - venue) > tolerance:
            diffs.append(FieldDifference(ours_name, ours, venue))
    if bar.trades != candle.trades:
        diffs.append(FieldDifference("trades", bar.trades, candle.trades))
    return _make_check(bar.market, bar.resolution, bar.started_at, tuple(diffs))


class CandleChecker:
    """Pairs confirmed, complete bars with the venue's candles as either side arrives.

    The live candles channel re-sends a bucket's candle as it changes, so the latest one per
    bucket is kept and a later candle for an already-checked bucket is checked again. Bounded:
    at most ``capacity`` buckets of each side are remembered.
    """

    def __init__(self, tolerance: Decimal = ZERO, capacity: int = 1000) -> None:
        self.tolerance = tolerance
        self.capacity = capacity
        self._bars: OrderedDict[_Key, Bar] = OrderedDict()
        self._candles: OrderedDict[_Key, Candle] = OrderedDict()

    def _remember(self, store: OrderedDict[_Key, _T], key: _Key, item: _T) -> None:
        store[key] = item
        store.move_to_end(key)
        while len(store) > self.capacity:
            store.popitem(last=False)

    def apply(self, item: Bar | Candle) -> list[CandleCheck]:
        return self.on_bar(item) if isinstance(item, Bar) else self.on_candle(item)

    def on_bar(self, bar: Bar) -> list[CandleCheck]:
        if not bar.confirmed or bar.partial:
            return []
        key = (bar.market, bar.resolution, bar.started_at)
        self._remember(self._bars, key, bar)
        candle = self._candles.get(key)
        return [] if candle is None else [compare_candle(bar, candle, self.tolerance)]

    def on_candle(self, candle: Candle) -> list[CandleCheck]:
        key = (candle.market, candle.resolution, candle.started_at)
        self._remember(self._candles, key, candle)
        bar = self._bars.get(key)
        return [] if bar is None else [compare_candle(bar, candle, self.tolerance)]
