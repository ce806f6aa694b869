"""Incremental indicators against straightforward batch computations on the same data."""

import itertools
import math
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradingbot.signals import (
    ATR,
    EMA,
    RSI,
    VWAP,
    BookImbalance,
    RealizedVolatility,
    book_imbalance,
)

prices = st.lists(
    st.decimals(D("1"), D("1000"), places=2, allow_nan=False, allow_infinity=False),
    max_size=60,
)
periods = st.integers(1, 10)
TOL = D("1e-20")


@dataclass(frozen=True)
class Bar:
    high: D
    low: D
    close: D


# -- batch references: closed forms of the recursions, not the recursions themselves --------


def power(base: D, k: int) -> D:
    return D(1) if k == 0 else base**k  # Decimal refuses 0 ** 0


def batch_smoothed(xs: list[D], period: int, alpha: D) -> list[D | None]:
    """value_t = (1-a)^(t-n+1) * mean(x[:n]) + sum_{j=n..t} a (1-a)^(t-j) x_j, for t >= n-1."""
    out: list[D | None] = []
    for t in range(len(xs)):
        if t < period - 1:
            out.append(None)
            continue
        seed = sum(xs[:period], D(0)) / period
        value = power(1 - alpha, t - period + 1) * seed
        value += sum((alpha * power(1 - alpha, t - j) * xs[j] for j in range(period, t + 1)), D(0))
        out.append(value)
    return out


def close_enough(a: D | None, b: D | None, tol: D = TOL) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= tol * max(D(1), abs(b))


@given(prices, periods)
@settings(deadline=None)
def test_ema_matches_batch(xs: list[D], period: int) -> None:
    ema = EMA(period)
    got = [ema.update(x) for x in xs]
    expected = batch_smoothed(xs, period, D(2) / (period + 1))
    assert all(close_enough(g, e) for g, e in zip(got, expected, strict=True))


def batch_rsi(xs: list[D], period: int) -> list[D | None]:
    changes = [b - a for a, b in itertools.pairwise(xs)]
    gains = batch_smoothed([max(c, D(0)) for c in changes], period, D(1) / period)
    losses = batch_smoothed([max(-c, D(0)) for c in changes], period, D(1) / period)
    out: list[D | None] = [None] if xs else []
    for g, loss in zip(gains, losses, strict=True):
        if g is None or loss is None:
            out.append(None)
        elif loss == 0:
            out.append(D(50) if g == 0 else D(100))
        else:
            out.append(100 - 100 / (1 + g / loss))
    return out


@given(prices, periods)
@settings(deadline=None)
def test_rsi_matches_batch(xs: list[D], period: int) -> None:
    rsi = RSI(period)
    got = [rsi.update(x) for x in xs]
    expected = batch_rsi(xs, period)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        # the smoothed averages agree to ~1e-26; a loss near zero magnifies that in the ratio
        assert close_enough(g, e, D("1e-12"))
        assert g is None or D(0) <= g <= D(100)


hlc = st.lists(st.decimals(D("1"), D("1000"), places=2), min_size=3, max_size=3)


@given(st.lists(hlc, max_size=40), periods)
@settings(deadline=None)
def test_atr_matches_batch(raw: list[list[D]], period: int) -> None:
    bars = [Bar(max(t), min(t), sorted(t)[1]) for t in raw]
    trs = [
        bar.high - bar.low
        if i == 0
        else max(
            bar.high - bar.low,
            abs(bar.high - bars[i - 1].close),
            abs(bar.low - bars[i - 1].close),
        )
        for i, bar in enumerate(bars)
    ]
    atr = ATR(period)
    got = [atr.update(b) for b in bars]
    assert all(
        close_enough(g, e)
        for g, e in zip(got, batch_smoothed(trs, period, D(1) / period), strict=True)
    )


T0 = datetime(2026, 1, 1, 22, tzinfo=UTC)


@given(
    st.lists(
        st.tuples(
            st.decimals(D("1"), D("1000"), places=2),
            st.decimals(D("0"), D("10"), places=3),
            st.integers(0, 3600),
        ),
        max_size=40,
    )
)
@settings(deadline=None)
def test_vwap_matches_batch(trades: list[tuple[D, D, int]]) -> None:
    times = []
    t = T0
    for _, _, step in trades:
        t += timedelta(seconds=step)
        times.append(t)
    vwap = VWAP()
    for i, (price, size, _) in enumerate(trades):
        got = vwap.update(price, size, times[i])
        day = times[i].date()
        same = [
            (p, s)
            for (p, s, _), tt in zip(trades[: i + 1], times, strict=False)
            if tt.date() == day
        ]
        volume = sum((s for _, s in same), D(0))
        expected = sum((p * s for p, s in same), D(0)) / volume if volume else None
        assert got == expected


@given(
    st.lists(st.floats(-0.05, 0.05), min_size=0, max_size=120),
    st.integers(2, 20),
)
@settings(deadline=None)
def test_realized_volatility_matches_batch(steps: list[float], window: int) -> None:
    ps = [D(100)]
    for r in steps:
        ps.append((ps[-1] * D(str(math.exp(r)))).quantize(D("0.000001")))
    rv = RealizedVolatility(window, periods_per_year=4)
    got = [rv.update(p) for p in ps]
    logs = [math.log(float(b / a)) for a, b in itertools.pairwise(ps)]
    for t, g in enumerate(got):
        if t < window:
            assert g is None
            continue
        last = logs[t - window : t]
        # compare variances: float cancellation in sum(r^2) - sum(r)^2/n is bounded by the
        # window's sum of squares, and a sqrt would magnify it near zero
        batch_var = statistics.variance(last) * 4
        assert g is not None
        assert abs(g * g - batch_var) <= 1e-12 * (1 + math.fsum(r * r for r in last))


@given(
    st.lists(st.tuples(st.decimals(D(1), D(100), places=1), st.decimals(D(0), D(9), places=2))),
    st.lists(st.tuples(st.decimals(D(1), D(100), places=1), st.decimals(D(0), D(9), places=2))),
    st.integers(1, 6),
)
@settings(deadline=None)
def test_imbalance_matches_batch(
    bids: list[tuple[D, D]], asks: list[tuple[D, D]], depth: int
) -> None:
    b = sum((s for _, s in bids[:depth]), D(0))
    a = sum((s for _, s in asks[:depth]), D(0))
    got = BookImbalance(depth).update(bids, asks)
    assert got == (None if a + b == 0 else (b - a) / (a + b))
    assert got is None or -1 <= got <= 1


# -- fixed series, worked by hand ----------------------------------------------------------


def test_ema_fixed_series() -> None:
    ema = EMA(3)
    # seed (1+2+3)/3 = 2 at the third value; alpha = 2/4 = 0.5: 2 + .5(4-2) = 3; 3 + .5(5-3) = 4
    assert [ema.update(D(x)) for x in (1, 2, 3, 4, 5)] == [None, None, D(2), D(3), D(4)]
    assert ema.value == D(4) and ema.period == 3


def test_rsi_fixed_series() -> None:
    rsi = RSI(2)
    # changes +1, -1, +1, +1 -> seed gain (1+0)/2 = .5, loss (0+1)/2 = .5 -> RSI 50
    # gain .5 + .5(1-.5) = .75, loss .5 + .5(0-.5) = .25: RS 3 -> 100 - 100/4 = 75
    # gain .875, loss .125: RS 7 -> 100 - 100/8 = 87.5
    got = [rsi.update(D(x)) for x in (1, 2, 1, 2, 3)]
    assert got == [None, None, D(50), D(75), D("87.5")]
    flat = RSI(2)
    assert [flat.update(D(1)) for _ in range(3)][-1] == D(50)
    up = RSI(2)
    assert [up.update(D(x)) for x in (1, 2, 3)][-1] == D(100)


def test_atr_fixed_series() -> None:
    bars = [
        Bar(D(10), D(8), D(9)),
        Bar(D(11), D(9), D(10)),
        Bar(D(13), D(10), D(12)),
        Bar(D(12), D(7), D(8)),
    ]
    # TR: 2; max(2, |11-9|, |9-9|) = 2; max(3, |13-10|, 0) = 3; max(5, 0, |7-12|) = 5
    # ATR(2): seed (2+2)/2 = 2; 2 + .5(3-2) = 2.5; 2.5 + .5(5-2.5) = 3.75
    atr = ATR(2)
    assert [atr.update(b) for b in bars] == [None, D(2), D("2.5"), D("3.75")]


def test_vwap_fixed_series_resets_each_utc_day() -> None:
    vwap = VWAP()
    day1 = datetime(2026, 1, 1, 23, 59, tzinfo=UTC)
    assert vwap.update(D(100), D(1), day1) == D(100)
    # (100*1 + 102*3) / 4 = 406 / 4 = 101.5
    assert vwap.update(D(102), D(3), day1) == D("101.5")
    assert vwap.update(D(50), D(2), day1 + timedelta(minutes=1)) == D(50)
    # zero volume at the start of a session leaves it undefined
    assert VWAP().update(D(1), D(0), day1) is None


def test_volatility_fixed_series() -> None:
    rv = RealizedVolatility(2)
    # returns ln(2), ln(1/2): mean 0, sample variance (ln2^2 + ln2^2)/1 -> std = sqrt(2) ln 2
    got = [rv.update(D(x)) for x in (1, 2, 1)]
    assert got[:2] == [None, None]
    assert got[2] == pytest.approx(math.sqrt(2) * math.log(2), rel=1e-12)
    with pytest.raises(ValueError):
        rv.update(D(0))
    with pytest.raises(ValueError):
        RealizedVolatility(1)


def test_imbalance_fixed_book() -> None:
    bids = [(D(99), D(3)), (D(98), D(2)), (D(97), D(1))]
    asks = [(D(101), D(1)), (D(102), D(1))]
    # depth 2: bids 3+2 = 5, asks 1+1 = 2 -> (5-2)/7
    assert book_imbalance(bids, asks, 2) == D(3) / D(7)
    assert book_imbalance([], [], 3) is None
    with pytest.raises(ValueError):
        BookImbalance(0)


def test_invalid_periods() -> None:
    with pytest.raises(ValueError):
        EMA(0)
