from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
import reactivex
from reactivex.testing import ReactiveTest, TestScheduler

from tradingbot.feeds.events import (
    BookDelta,
    BookSnapshot,
    Candle,
    Connected,
    OraclePrice,
    Side,
    Trade,
    TradeType,
)
from tradingbot.market import (
    Bar,
    BookState,
    DataQualityMonitor,
    QualityIssue,
    QualityKind,
    ResyncRequest,
    RingBuffer,
    book_states,
    candle_checks,
    order_books,
    quality_checks,
)

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def trade(sec: float, mid: int | None = None, conn: str | None = "c1") -> Trade:
    return Trade(
        id=str(sec),
        market="BTC-USD",
        side=Side.SELL,
        price=D(1),
        size=D(1),
        type=TradeType.LIMIT,
        created_at=T0 + timedelta(seconds=sec),
        channel="v4_trades",
        message_id=mid,
        connection_id=conn,
    )


def test_ring_buffer_bounds_and_indexing() -> None:
    buf: RingBuffer[int] = RingBuffer(3)
    for i in range(5):
        buf.append(i)
    assert list(buf) == [2, 3, 4] and len(buf) == 3 and buf.dropped == 2
    assert buf[0] == 2 and buf[-1] == 4 and buf[1:] == [3, 4]
    assert buf.last(2) == [3, 4] and buf.last(0) == [] and buf.capacity == 3
    buf.replace_last(9)
    assert buf[-1] == 9
    buf.clear()
    assert not buf
    with pytest.raises(IndexError):
        buf.replace_last(1)
    with pytest.raises(ValueError):
        RingBuffer(0)


def test_message_ids_gap_and_out_of_order() -> None:
    mon = DataQualityMonitor(contiguous_ids=True)
    assert mon.apply(Connected(message_id=0, connection_id="c1", channel="")) == []
    assert mon.apply(trade(1, 1)) == []
    assert mon.apply(trade(2, 1)) == []  # same message (batch)
    (gap,) = mon.apply(trade(3, 4))
    assert gap.kind is QualityKind.MESSAGE_GAP and gap.stream == "v4_trades:BTC-USD"
    assert gap.detail == "expected message 2, got 4 (2 missing)" and gap.message_id == 4
    (back,) = mon.apply(trade(4, 3))
    assert back.kind is QualityKind.MESSAGE_OUT_OF_ORDER and back.detail == "message 3 after 4"
    # a new connection restarts the counter
    assert mon.apply(trade(5, 0, conn="c2")) == []
    assert [i.kind for i in mon.issues] == [
        QualityKind.MESSAGE_GAP,
        QualityKind.MESSAGE_OUT_OF_ORDER,
    ]
    # without contiguous ids a jump is normal (other channels share the counter)
    assert DataQualityMonitor().apply(trade(1, 1)) == []


def test_event_time_going_backwards() -> None:
    mon = DataQualityMonitor()
    mon.apply(trade(10))
    (issue,) = mon.apply(trade(5))
    assert issue.kind is QualityKind.OUT_OF_ORDER_TIME
    assert issue.detail == ("event time 2026-01-01T12:00:05+00:00 before 2026-01-01T12:00:10+00:00")
    assert mon.apply(trade(11)) == []  # compared against 10, the latest good time
    oracle = OraclePrice(market="BTC-USD", price=D(1), effective_at=T0, channel="v4_markets")
    assert mon.apply(oracle) == []  # its own stream
    earlier = OraclePrice(
        market="BTC-USD", price=D(1), effective_at=T0 - timedelta(1), channel="v4_markets"
    )
    assert [i.kind for i in mon.apply(earlier)] == [QualityKind.OUT_OF_ORDER_TIME]


def test_stale_and_recovered_once_each() -> None:
    mon = DataQualityMonitor(stale_after=timedelta(seconds=30))
    mon.apply(trade(0), now=T0)
    assert mon.on_time(T0 + timedelta(seconds=30)) == []  # exactly at the limit: fine
    (stale,) = mon.on_time(T0 + timedelta(seconds=31))
    assert stale == QualityIssue(
        QualityKind.STALE_FEED,
        "v4_trades:BTC-USD",
        "no event for 0:00:31 (limit 0:00:30)",
        T0 + timedelta(seconds=31),
    )
    assert mon.on_time(T0 + timedelta(seconds=40)) == []  # reported once
    (back,) = mon.apply(trade(41), now=T0 + timedelta(seconds=41))
    assert back.kind is QualityKind.FEED_RECOVERED
    # arrival time falls back to the last clock when neither now nor received_at is given
    mon.on_time(T0 + timedelta(seconds=100))  # stale again
    mon.apply(trade(101))
    assert mon.on_time(T0 + timedelta(seconds=129)) == []


def test_quality_operator_on_virtual_clock() -> None:
    scheduler = TestScheduler()
    base = int(T0.timestamp())
    source = scheduler.create_hot_observable(
        ReactiveTest.on_next(base + 1, trade(1)),
        ReactiveTest.on_next(base + 20, trade(20)),
        ReactiveTest.on_next(base + 26, trade(19)),
    )
    results = scheduler.start(
        lambda: source.pipe(
            quality_checks(
                timedelta(seconds=5), check_every=timedelta(seconds=1), scheduler=scheduler
            )
        ),
        created=base - 2,
        subscribed=base - 1,
        disposed=base + 40,
    )
    got = [(m.time - base, m.value.value.kind) for m in results.messages]  # type: ignore[union-attr]
    assert got == [
        (7, QualityKind.STALE_FEED),  # last event at 1; silent > 5 s first seen at tick 7
        (20, QualityKind.FEED_RECOVERED),
        (26, QualityKind.OUT_OF_ORDER_TIME),  # created_at 19 after 20
        (32, QualityKind.STALE_FEED),  # last arrival 26
    ]


def snap(mid: int) -> BookSnapshot:
    return BookSnapshot(
        market="BTC-USD",
        bids=((D(1), D(1)),),
        asks=((D(2), D(1)),),
        message_id=mid,
        connection_id="c1",
    )


def delta(mid: int, bid: str) -> BookDelta:
    return BookDelta(
        market="BTC-USD", bids=((D(bid), D(3)),), asks=(), message_id=mid, connection_id="c1"
    )


def test_book_operators() -> None:
    events = [snap(1), delta(2, "1.5"), delta(5, "1.2"), delta(4, "1.1"), snap(6)]
    out: list[object] = []
    reactivex.from_iterable(events).pipe(order_books(depth=1)).subscribe(out.append)
    assert [type(o).__name__ for o in out] == [
        "BookState",
        "BookState",
        "BookState",
        "ResyncRequest",
        "BookState",
    ]
    assert out[3] == ResyncRequest("BTC-USD", "message out of order: 4 after 5", "c1", 4)
    states: list[BookState] = []
    reactivex.from_iterable(events).pipe(book_states(depth=1)).subscribe(states.append)
    assert [s.best_bid for s in states] == [
        (D(1), D(1)),
        (D("1.5"), D(3)),
        (D("1.5"), D(3)),
        (D(1), D(1)),
    ]
    # the contiguous mode turns the 2 -> 5 jump into a resync
    out.clear()
    reactivex.from_iterable(events).pipe(order_books(contiguous_ids=True)).subscribe(out.append)
    assert [type(o).__name__ for o in out] == [
        "BookState",
        "BookState",
        "ResyncRequest",
        "BookState",
    ]


def test_candle_checks_operator() -> None:
    start = T0
    bar = Bar(
        "BTC-USD",
        "1MIN",
        start,
        start + timedelta(minutes=1),
        D(1),
        D(2),
        D(1),
        D(2),
        D(2),
        D(3),
        2,
        confirmed=True,
    )
    venue = Candle(
        market="BTC-USD",
        resolution="1MIN",
        started_at=start,
        open=D(1),
        high=D(2),
        low=D(1),
        close=D(2),
        base_volume=D(2),
        usd_volume=D(3),
        trades=3,
        starting_open_interest=D(0),
    )
    checks: list[object] = []
    items: list[Bar | Candle] = [venue, bar]
    reactivex.from_iterable(items).pipe(candle_checks()).subscribe(checks.append)
    (check,) = checks
    assert not check.ok and [d.field for d in check.differences] == ["trades"]  # type: ignore[attr-defined]
