"""Bars from hand-built trades, venue candle checks, and the reactive operator on virtual time."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex.notification import Notification
from reactivex.testing import ReactiveTest, TestScheduler

from tradingbot.feeds.events import Candle, Side, Trade, TradeType
from tradingbot.market import (
    Bar,
    BarEngine,
    CandleChecker,
    FieldDifference,
    LateTrade,
    bars,
    bucket_start,
    compare_candle,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def trade(sec: float, price: str, size: str, market: str = "BTC-USD", tid: str = "") -> Trade:
    return Trade(
        id=tid or f"t{sec}",
        market=market,
        side=Side.BUY,
        price=D(price),
        size=D(size),
        type=TradeType.LIMIT,
        created_at=T0 + timedelta(seconds=sec),
    )


def minute_bar(start_min: int, o, h, lo, c, vol, usd, n, confirmed=False, partial=False) -> Bar:
    start = T0 + timedelta(minutes=start_min)
    return Bar(
        "BTC-USD",
        "1MIN",
        start,
        start + timedelta(minutes=1),
        D(o),
        D(h),
        D(lo),
        D(c),
        D(vol),
        D(usd),
        n,
        confirmed,
        partial,
    )


def test_bucket_alignment() -> None:
    t = datetime(2026, 1, 1, 13, 7, 42, tzinfo=UTC)
    assert bucket_start(t, "1MIN") == datetime(2026, 1, 1, 13, 7, tzinfo=UTC)
    assert bucket_start(t, "5MINS") == datetime(2026, 1, 1, 13, 5, tzinfo=UTC)
    assert bucket_start(t, "4HOURS") == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert bucket_start(t, "1DAY") == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        bucket_start(datetime(2026, 1, 1), "1MIN")
    with pytest.raises(ValueError):
        BarEngine(["2MINS"])


def test_forming_then_confirmed_by_next_bucket_trade() -> None:
    engine = BarEngine(since=T0)
    assert (
        engine.apply(
            Candle(
                market="BTC-USD",
                resolution="1MIN",
                started_at=T0,
                open=D(1),
                high=D(1),
                low=D(1),
                close=D(1),
                base_volume=D(1),
                usd_volume=D(1),
                trades=1,
                starting_open_interest=D(0),
            )
        )
        == []
    )  # only trades make bars
    assert engine.apply(trade(1, "100", "1")) == [minute_bar(0, 100, 100, 100, 100, 1, 100, 1)]
    assert engine.apply(trade(20, "103", "2")) == [
        minute_bar(0, 100, 103, 100, 103, 3, 306, 2)  # usd 100*1 + 103*2 = 306
    ]
    assert engine.apply(trade(59.9, "99", "0.5")) == [
        minute_bar(0, 100, 103, 99, 99, "3.5", "355.5", 3)  # 306 + 99*0.5 = 355.5
    ]
    out = engine.apply(trade(61, "101", "1"))
    assert out == [
        minute_bar(0, 100, 103, 99, 99, "3.5", "355.5", 3, confirmed=True),
        minute_bar(1, 101, 101, 101, 101, 1, 101, 1),
    ]
    assert out[0].vwap == D("355.5") / D("3.5")  # type: ignore[union-attr]
    assert list(engine.history("BTC-USD", "1MIN")) == [out[0]]
    assert engine.forming("BTC-USD", "1MIN") == out[1]


def test_clock_confirms_at_bucket_end_plus_delay() -> None:
    engine = BarEngine(confirm_delay=timedelta(seconds=2), since=T0)
    engine.apply(trade(10, "100", "1"))
    assert engine.next_deadline() == T0 + timedelta(seconds=62)
    assert engine.on_time(T0 + timedelta(seconds=61)) == []
    (bar,) = engine.on_time(T0 + timedelta(seconds=62))
    assert bar == minute_bar(0, 100, 100, 100, 100, 1, 100, 1, confirmed=True)
    assert engine.next_deadline() is None
    # a trade for the confirmed minute is late: reported, not applied
    late = trade(59, "1", "1")
    assert engine.apply(late) == [LateTrade(late, "1MIN", T0)]
    assert engine.history("BTC-USD", "1MIN")[-1] == bar


def test_trade_older_than_forming_bucket_is_late() -> None:
    engine = BarEngine(since=T0)
    engine.apply(trade(70, "100", "1"))
    late = trade(30, "1", "1")
    (out,) = engine.apply(late)
    assert out == LateTrade(late, "1MIN", T0)
    assert engine.forming("BTC-USD", "1MIN").trades == 1  # type: ignore[union-attr]


def test_several_resolutions_and_markets() -> None:
    engine = BarEngine(["1MIN", "5MINS"], since=T0)
    engine.apply(trade(0, "10", "1"))
    engine.apply(trade(0, "5", "1", market="ETH-USD"))
    out = engine.apply(trade(130, "12", "1"))
    # 1MIN: minute 0 confirmed, minute 2 forming; 5MINS: still one forming bar with 2 trades
    assert [(b.resolution, b.confirmed, b.trades) for b in out] == [  # type: ignore[union-attr]
        ("1MIN", True, 1),
        ("1MIN", False, 1),
        ("5MINS", False, 2),
    ]
    five = out[2]
    assert (five.open, five.high, five.low, five.close) == (D(10), D(12), D(10), D(12))  # type: ignore[union-attr]
    eth = engine.forming("ETH-USD", "1MIN")
    assert eth is not None and eth.close == D(5)
    # the clock confirms everything due, ordered by end time
    done = engine.on_time(T0 + timedelta(minutes=5))
    assert [(b.market, b.resolution, b.started_at.minute) for b in done] == [
        ("ETH-USD", "1MIN", 0),
        ("BTC-USD", "1MIN", 2),
        ("BTC-USD", "5MINS", 0),
        ("ETH-USD", "5MINS", 0),
    ]


def test_partial_first_bar() -> None:
    # without `since` the engine cannot know it saw the whole first bucket
    engine = BarEngine()
    (first,) = engine.apply(trade(5, "1", "1"))
    assert first.partial  # type: ignore[union-attr]
    confirmed, second = engine.apply(trade(65, "1", "1"))
    assert confirmed.partial and not second.partial  # type: ignore[union-attr]
    # `since` after the bucket start: also partial
    (late_start,) = BarEngine(since=T0 + timedelta(seconds=3)).apply(trade(5, "1", "1"))
    assert late_start.partial  # type: ignore[union-attr]


def candle(start_min: int, o, h, lo, c, vol, usd, n) -> Candle:
    return Candle(
        market="BTC-USD",
        resolution="1MIN",
        started_at=T0 + timedelta(minutes=start_min),
        open=D(o),
        high=D(h),
        low=D(lo),
        close=D(c),
        base_volume=D(vol),
        usd_volume=D(usd),
        trades=n,
        starting_open_interest=D(0),
    )


def test_compare_candle_reports_differences() -> None:
    bar = minute_bar(0, 100, 103, 99, 99, "3.5", "355.5", 3, confirmed=True)
    assert compare_candle(bar, candle(0, 100, 103, 99, 99, "3.5", "355.5", 3)).ok
    check = compare_candle(bar, candle(0, 100, 104, 99, 99, "3.6", "355.5", 4))
    assert check.differences == (
        FieldDifference("high", D(103), D(104)),
        FieldDifference("base_volume", D("3.5"), D("3.6")),
        FieldDifference("trades", 3, 4),
    )
    # a tolerance absorbs rounding in the venue's numbers, but never the trade count
    loose = compare_candle(bar, candle(0, 100, "103.001", 99, 99, "3.5", "355.5", 3), D("0.01"))
    assert loose.ok
    with pytest.raises(ValueError):
        compare_candle(bar, candle(1, 1, 1, 1, 1, 1, 1, 1))


def test_candle_checker_pairs_either_order_and_skips_partial() -> None:
    checker = CandleChecker()
    bar0 = minute_bar(0, 1, 1, 1, 1, 1, 1, 1, confirmed=True)
    assert checker.on_bar(bar0) == []
    (check,) = checker.on_candle(candle(0, 1, 1, 1, 1, 1, 1, 1))
    assert check.ok
    # the venue re-sends the bucket with a change: checked again
    (check,) = checker.on_candle(candle(0, 1, 2, 1, 1, 1, 1, 1))
    assert check.differences == (FieldDifference("high", D(1), D(2)),)
    assert checker.on_candle(candle(1, 1, 1, 1, 1, 1, 1, 1)) == []
    (check,) = checker.on_bar(minute_bar(1, 1, 1, 1, 1, 1, 1, 1, confirmed=True))
    assert check.ok
    assert checker.on_bar(minute_bar(2, 1, 1, 1, 1, 1, 1, 1)) == []  # forming
    assert checker.on_bar(minute_bar(3, 1, 1, 1, 1, 1, 1, 1, True, partial=True)) == []


def test_bars_operator_confirms_on_virtual_clock() -> None:
    scheduler = TestScheduler()
    base = int(T0.timestamp())  # virtual time is seconds since the epoch
    on_next, on_completed = ReactiveTest.on_next, ReactiveTest.on_completed
    source = scheduler.create_hot_observable(
        on_next(base + 1, trade(1, "100", "1")),
        on_next(base + 30, trade(30, "101", "1")),
        on_completed(base + 200),
    )
    results = scheduler.start(
        lambda: source.pipe(bars(["1MIN"], scheduler=scheduler, since=T0)),
        created=base - 2,
        subscribed=base - 1,
        disposed=base + 300,
    )
    got = [
        (m.time - base, cast(Notification[Bar], m.value).kind, getattr(m.value, "value", None))
        for m in results.messages
    ]
    confirmed = minute_bar(0, 100, 101, 100, 101, 2, 201, 2, confirmed=True)
    assert got == [
        (1, "N", minute_bar(0, 100, 100, 100, 100, 1, 100, 1)),
        (30, "N", minute_bar(0, 100, 101, 100, 101, 2, 201, 2)),
        (60, "N", confirmed),  # no later trade: the clock confirmed it at the bucket end
        (200, "C", None),
    ]


def test_bars_operator_each_subscription_has_its_own_engine() -> None:
    import reactivex

    events = [trade(1, "1", "1"), trade(61, "2", "1")]
    scheduler = TestScheduler()
    stream = reactivex.from_iterable(events).pipe(bars(scheduler=scheduler, since=T0))
    first: list[object] = []
    second: list[object] = []
    stream.subscribe(first.append)
    stream.subscribe(second.append)
    assert first == second and len(first) == 3


@given(
    st.lists(
        st.tuples(
            st.integers(0, 400),
            st.decimals(D(1), D(100), places=1),
            st.decimals(D("0.1"), D(5), places=1),
        ),
        max_size=40,
    ),
    st.sampled_from(["1MIN", "5MINS"]),
)
@settings(max_examples=60, deadline=None)
def test_bars_match_batch_grouping(raw: list[tuple[int, D, D]], resolution: str) -> None:
    trades = [
        trade(sec, str(p), str(s), tid=str(i))
        for i, (sec, p, s) in enumerate(sorted(raw, key=lambda r: r[0]))
    ]
    engine = BarEngine([resolution], since=T0)
    confirmed: list[Bar] = []
    for t in trades:
        outs = engine.apply(t)
        assert not any(isinstance(o, LateTrade) for o in outs)  # time never went backwards
        confirmed += [o for o in outs if isinstance(o, Bar) and o.confirmed]
    confirmed += engine.on_time(T0 + timedelta(days=1))
    groups: dict[datetime, list[Trade]] = {}
    for t in trades:
        groups.setdefault(bucket_start(t.created_at, resolution), []).append(t)
    expected = [
        (
            start,
            ts[0].price,
            max(t.price for t in ts),
            min(t.price for t in ts),
            ts[-1].price,
            sum((t.size for t in ts), D(0)),
            sum((t.price * t.size for t in ts), D(0)),
            len(ts),
        )
        for start, ts in sorted(groups.items())
    ]
    got = [
        (b.started_at, b.open, b.high, b.low, b.close, b.base_volume, b.usd_volume, b.trades)
        for b in confirmed
    ]
    assert got == expected
    assert all(b.confirmed and not b.partial for b in confirmed)
