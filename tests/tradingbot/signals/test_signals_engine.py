import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
import reactivex
from reactivex.testing import TestScheduler

from tradingbot.feeds.events import Side, Trade, TradeType
from tradingbot.market import Bar, BookState, bars
from tradingbot.signals import Score, SignalConfig, SignalEngine, scores

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CFG = SignalConfig(ema_fast=2, ema_slow=3, rsi=2, atr=2, volatility_window=2)


def bar(i: int, close: int, confirmed: bool = True, resolution: str = "1MIN") -> Bar:
    start = T0 + timedelta(minutes=i)
    c = D(close)
    return Bar(
        "BTC-USD",
        resolution,
        start,
        start + timedelta(minutes=1),
        c,
        c + 1,
        c - 1,
        c,
        D(1),
        c,
        1,
        confirmed,
    )


def test_engine_scores_from_confirmed_bars_by_hand() -> None:
    engine = SignalEngine(config=CFG)
    got = [engine.apply(bar(i, c)) for i, c in enumerate((10, 11, 12, 13))]
    assert all(isinstance(s, Score) for s in got)
    last = got[-1]
    assert last is not None
    # EMA2 (alpha 2/3): 10.5, 11.5, 12.5; EMA3 (alpha 1/2): 11, 12; RSI2: no losses -> 100
    # ATR2: every TR is 2 -> 2.  trend tanh((12.5 - 12)/2) = tanh(.25), momentum +1
    # weights .4 and .2 over the available .6 (no VWAP, no book yet)
    assert last.value == pytest.approx((0.4 * math.tanh(0.25) + 0.2) / 0.6)
    assert last.missing == ("mean_reversion", "book")
    signals = engine.market("BTC-USD")
    assert signals.ema_fast.value == D("12.5") and signals.ema_slow.value == D(12)
    # forming bars and other resolutions do not move the indicators
    assert engine.apply(bar(4, 50, confirmed=False)) is None
    assert engine.apply(bar(4, 50, resolution="5MINS")) is None
    assert signals.ema_fast.value == D("12.5")


def test_book_and_trades_add_components() -> None:
    engine = SignalEngine(config=CFG)
    book = BookState("ETH-USD", ((D(99), D(3)),), ((D(101), D(1)),))
    score = engine.apply(book)
    # imbalance (3-1)/4 = .5 is the only component
    assert score is not None and score.value == pytest.approx(0.5)
    assert engine.market("ETH-USD").last_price == D(100)
    t = Trade(
        id="1",
        market="ETH-USD",
        side=Side.BUY,
        price=D(100),
        size=D(2),
        type=TradeType.LIMIT,
        created_at=T0,
    )
    engine.apply(t)
    assert engine.market("ETH-USD").vwap.value == D(100)


def test_scores_operator_after_bars_operator() -> None:
    trades = [
        Trade(
            id=str(i),
            market="BTC-USD",
            side=Side.BUY,
            price=D(p),
            size=D(1),
            type=TradeType.LIMIT,
            created_at=T0 + timedelta(minutes=i),
        )
        for i, p in enumerate((10, 11, 12, 13, 14))
    ]
    out: list[Score] = []
    bar_stream = reactivex.from_iterable(trades).pipe(bars(since=T0, scheduler=TestScheduler()))
    bar_stream.pipe(scores(config=CFG)).subscribe(out.append)
    # the bars operator emits a forming bar per trade (ignored) and a confirmed bar per later
    # bucket: 4 confirmed bars -> 4 scores. (A virtual clock that never advances keeps the
    # wall clock, long past these 2026-01-01 buckets, from confirming the last one.)
    # RSI2 and EMA3 need 3 closes: the first two scores have no components
    assert len(out) == 4
    assert [s.ready for s in out] == [False, False, True, True]
    assert "trend" in out[-1].contributions()
