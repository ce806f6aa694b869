"""Incremental indicators: each ``update`` costs O(1) time and memory (book imbalance O(depth)).

They keep only the running state a recursive definition needs, so a strategy can update them on
every event of a live or replayed stream without recomputing history. Each returns ``None`` until
it has seen enough data (its warm-up) and exposes the latest result as ``value``.

Prices stay ``Decimal`` (exact inputs, results comparable with the venue's numbers); the
realised volatility works in ``float`` because it needs logarithms and square roots, and a
volatility estimate has no use for 28 significant digits.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

__all__ = [
    "ATR",
    "EMA",
    "RSI",
    "VWAP",
    "BookImbalance",
    "HighLowClose",
    "RealizedVolatility",
    "book_imbalance",
    "utc_day",
]

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class HighLowClose(Protocol):
    """Anything bar-like: market bars and venue candles both fit."""

    @property
    def high(self) -> Decimal: ...
    @property
    def low(self) -> Decimal: ...
    @property
    def close(self) -> Decimal: ...


class _Smoother:
    """x_t = x_{t-1} + alpha * (input - x_{t-1}), seeded by the mean of the first ``period``
    inputs: the recursion EMA and Wilder's averages share."""

    __slots__ = ("_alpha", "_count", "_seed_sum", "period", "value")

    def __init__(self, period: int, alpha: Decimal) -> None:
        if period < 1:
            raise ValueError("period must be >= 1")
        self.period = period
        self._alpha = alpha
        self._count = 0
        self._seed_sum = ZERO
        self.value: Decimal | None = None

    def update(self, x: Decimal) -> Decimal | None:
        self._count += 1
        if self.value is not None:
            self.value += self._alpha * (x - self.value)
        else:
            self._seed_sum += x
            if self._count == self.period:
                self.value = self._seed_sum / self.period
        return self.value


class EMA:
    """Exponential moving average, alpha = 2 / (period + 1), seeded with the simple average of
    the first ``period`` values (so its warm-up is ``period`` updates)."""

    __slots__ = ("_s",)

    def __init__(self, period: int) -> None:
        self._s = _Smoother(period, Decimal(2) / Decimal(period + 1))

    @property
    def period(self) -> int:
        return self._s.period

    @property
    def value(self) -> Decimal | None:
        return self._s.value

    def update(self, x: Decimal) -> Decimal | None:
        return self._s.update(x)


class RSI:
    """Wilder's relative strength index in [0, 100].

    Gains and losses of successive closes are averaged with Wilder's smoothing
    (alpha = 1/period, seeded by their simple average over the first ``period`` changes), so the
    first value comes with the (period+1)-th price. RSI = 100 - 100/(1 + avgGain/avgLoss);
    100 when there are no losses, 50 when the price never moved.
    """

    __slots__ = ("_gain", "_loss", "_prev", "value")

    def __init__(self, period: int = 14) -> None:
        self._gain = _Smoother(period, Decimal(1) / Decimal(period))
        self._loss = _Smoother(period, Decimal(1) / Decimal(period))
        self._prev: Decimal | None = None
        self.value: Decimal | None = None

    def update(self, close: Decimal) -> Decimal | None:
        prev, self._prev = self._prev, close
        if prev is None:
            return None
        change = close - prev
        gain = self._gain.update(max(change, ZERO))
        loss = self._loss.update(max(-change, ZERO))
        if gain is None or loss is None:
            return None
        if loss == ZERO:
            self.value = Decimal(50) if gain == ZERO else HUNDRED
        else:
            self.value = HUNDRED - HUNDRED / (1 + gain / loss)
        return self.value


class ATR:
    """Wilder's average true range over bars.

    TR = max(high - low, |high - prevClose|, |low - prevClose|) (the first bar: high - low);
    ATR = Wilder average of TR (alpha = 1/period, seeded with the mean of the first ``period``).
    """

    __slots__ = ("_prev_close", "_s")

    def __init__(self, period: int = 14) -> None:
        self._s = _Smoother(period, Decimal(1) / Decimal(period))
        self._prev_close: Decimal | None = None

    @property
    def value(self) -> Decimal | None:
        return self._s.value

    def update(self, bar: HighLowClose) -> Decimal | None:
        tr = bar.high - bar.low
        if self._prev_close is not None:
            tr = max(tr, abs(bar.high - self._prev_close), abs(bar.low - self._prev_close))
        self._prev_close = bar.close
        return self._s.update(tr)


def utc_day(t: datetime) -> object:
    """Default VWAP session key: the UTC calendar day (perpetuals trade around the clock)."""
    return t.astimezone(UTC).date() if t.tzinfo is not None else t.date()


class VWAP:
    """Session volume-weighted average price sum(p*v)/sum(v), reset when the session changes.

    ``session`` maps a trade time to a session key (default: its UTC calendar day).
    """

    __slots__ = ("_pv", "_session", "_session_of", "_volume", "value")

    def __init__(self, session: Callable[[datetime], object] = utc_day) -> None:
        self._session_of = session
        self._session: object = None
        self._pv = ZERO
        self._volume = ZERO
        self.value: Decimal | None = None

    def update(self, price: Decimal, size: Decimal, time: datetime) -> Decimal | None:
        key = self._session_of(time)
        if key != self._session:
            self._session, self._pv, self._volume, self.value = key, ZERO, ZERO, None
        self._pv += price * size
        self._volume += size
        if self._volume > ZERO:
            self.value = self._pv / self._volume
        return self.value


class RealizedVolatility:
    """Sample standard deviation of the last ``window`` log returns, times
    sqrt(``periods_per_year``) (1 = per-period volatility).

    Floats: ``log`` and ``sqrt`` have no exact Decimal use here. The running sums of r and r^2
    would drift as values leave the window, so they are recomputed from the window every
    ``window`` updates: amortised O(1), error bounded by one window's rounding.
    """

    __slots__ = (
        "_n_since_refresh",
        "_prev",
        "_returns",
        "_scale",
        "_sum",
        "_sumsq",
        "value",
        "window",
    )

    def __init__(self, window: int = 30, periods_per_year: float = 1.0) -> None:
        if window < 2:
            raise ValueError("window must be >= 2 for a sample standard deviation")
        self.window = window
        self._scale = math.sqrt(periods_per_year)
        self._returns: deque[float] = deque(maxlen=window)
        self._sum = 0.0
        self._sumsq = 0.0
        self._prev: Decimal | None = None
        self._n_since_refresh = 0
        self.value: float | None = None

    def update(self, price: Decimal) -> float | None:
        if price <= ZERO:
            raise ValueError(f"price must be positive, got {price}")
        prev, self._prev = self._prev, price
        if prev is None:
            return None
        r = math.log(float(price / prev))
        if len(self._returns) == self.window:
            old = self._returns[0]
            self._sum -= old
            self._sumsq -= old * old
        self._returns.append(r)
        self._sum += r
        self._sumsq += r * r
        self._n_since_refresh += 1
        if self._n_since_refresh >= self.window:
            self._sum = math.fsum(self._returns)
            self._sumsq = math.fsum(x * x for x in self._returns)
            self._n_since_refresh = 0
        n = len(self._returns)
        if n < self.window:
            return None
        variance = max((self._sumsq - self._sum * self._sum / n) / (n - 1), 0.0)
        self.value = math.sqrt(variance) * self._scale
        return self.value


def book_imbalance(
    bids: Sequence[tuple[Decimal, Decimal]], asks: Sequence[tuple[Decimal, Decimal]], depth: int
) -> Decimal | None:
    """(bidVolume - askVolume) / (bidVolume + askVolume) over the best ``depth`` levels of each
    side (levels best first), in [-1, 1]: positive means more resting buy interest.
    None for an empty book."""
    bid_volume = ask_volume = ZERO
    for _, size in bids[:depth]:
        bid_volume += size
    for _, size in asks[:depth]:
        ask_volume += size
    total = bid_volume + ask_volume
    if total == ZERO:
        return None
    return (bid_volume - ask_volume) / total


class BookImbalance:
    """Stateful wrapper of :func:`book_imbalance` with the indicator interface."""

    __slots__ = ("depth", "value")

    def __init__(self, depth: int = 5) -> None:
        if depth < 1:
            raise ValueError("depth must be >= 1")
        self.depth = depth
        self.value: Decimal | None = None

    def update(
        self, bids: Sequence[tuple[Decimal, Decimal]], asks: Sequence[tuple[Decimal, Decimal]]
    ) -> Decimal | None:
        self.value = book_imbalance(bids, asks, self.depth)
        return self.value
