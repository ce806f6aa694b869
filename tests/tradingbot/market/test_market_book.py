"""Order books from hand-built snapshot/delta sequences: exact states after each event."""

from datetime import UTC, datetime
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from tradingbot.feeds.events import BookDelta, BookSnapshot, Level, Side, Trade, TradeType
from tradingbot.market import (
    BookEngine,
    BookOutput,
    BookState,
    CrossedBookResolved,
    OrderBook,
    ResyncRequest,
)


def one_state(outputs: list[BookOutput]) -> BookState:
    (state,) = outputs
    assert isinstance(state, BookState)
    return state


def lv(*pairs: tuple[str, str]) -> tuple[Level, ...]:
    return tuple((D(p), D(s)) for p, s in pairs)


def snap(mid: int | None, bids=(), asks=(), market="BTC-USD", conn="c1") -> BookSnapshot:
    return BookSnapshot(
        market=market,
        bids=lv(*bids),
        asks=lv(*asks),
        message_id=mid,
        connection_id=conn if mid is not None else None,
        channel="v4_orderbook",
    )


def delta(mid: int, bids=(), asks=(), market="BTC-USD", conn="c1") -> BookDelta:
    return BookDelta(
        market=market,
        bids=lv(*bids),
        asks=lv(*asks),
        message_id=mid,
        connection_id=conn,
        channel="v4_orderbook",
    )


SNAP = snap(1, bids=[("100", "1"), ("99", "2"), ("98", "3")], asks=[("101", "1.5"), ("102", "4")])


def test_snapshot_then_deltas_absolute_sizes_and_deletes() -> None:
    engine = BookEngine(depth=2)
    state = one_state(engine.apply(SNAP))
    assert state == BookState(
        "BTC-USD", lv(("100", "1"), ("99", "2")), lv(("101", "1.5"), ("102", "4")), 1, "c1"
    )
    assert state.mid == D("100.5") and state.spread == D("1")
    # size 5 replaces (absolute, not added); "0" deletes 100; new ask level 101.5
    state = one_state(
        engine.apply(delta(2, bids=[("99", "5"), ("100", "0")], asks=[("101.5", "2")]))
    )
    assert state.bids == lv(("99", "5"), ("98", "3"))
    assert state.asks == lv(("101", "1.5"), ("101.5", "2"))
    assert state.best_bid == (D(99), D(5)) and state.best_ask == (D(101), D("1.5"))
    assert state.mid == D(100) and state.spread == D(2)
    assert state.message_id == 2 and not state.crossed
    book = engine.book("BTC-USD")
    assert book is not None
    assert book.bids() == lv(("99", "5"), ("98", "3"))
    assert book.asks() == lv(("101", "1.5"), ("101.5", "2"), ("102", "4"))
    # deleting a level that does not exist is harmless
    state = one_state(engine.apply(delta(3, asks=[("200", "0")])))
    assert state.asks == lv(("101", "1.5"), ("101.5", "2"))


def test_depth_within_band() -> None:
    book = OrderBook("BTC-USD")
    book.apply_snapshot(SNAP.bids, SNAP.asks)
    # mid 100.5; 1% band: [99.495, 101.505] -> bids 100 (1); asks 101 (1.5)
    assert book.depth_within(D("0.01")) == (D(1), D("1.5"))
    # 2% band: [98.49, 102.51] -> bids 100+99 = 3; asks 101+102 = 5.5
    assert book.depth_within(D("0.02")) == (D(3), D("5.5"))
    assert book.state(1).depth_within(D("0.02")) == (D(1), D("1.5"))  # only the view's levels
    assert OrderBook("X").depth_within(D("0.01")) is None
    assert OrderBook("X").mid is None and OrderBook("X").spread is None


def test_crossed_delta_drops_stale_opposite_levels() -> None:
    engine = BookEngine()
    engine.apply(SNAP)
    # a new bid at 101.5 crosses asks 101: ask 101 is stale and dropped, 102 stays
    out = engine.apply(delta(2, bids=[("101.5", "0.7")]))
    assert out[0] == CrossedBookResolved("BTC-USD", "asks", lv(("101", "1.5")), 2)
    state = out[1]
    assert isinstance(state, BookState)
    assert state.best_bid == (D("101.5"), D("0.7")) and state.best_ask == (D(102), D(4))
    assert not state.crossed
    # a new ask at 99 drops every bid at or above it: 101.5, 100, 99
    out = engine.apply(delta(3, asks=[("99", "1")]))
    assert out[0] == CrossedBookResolved(
        "BTC-USD", "bids", lv(("101.5", "0.7"), ("100", "1"), ("99", "2")), 3
    )
    after = out[1]
    assert isinstance(after, BookState)
    assert after.bids == lv(("98", "3"))
    assert after.asks[0] == (D(99), D(1))


def test_self_crossing_delta_asks_win() -> None:
    engine = BookEngine()
    engine.apply(SNAP)
    # bids 103 (drops asks 101, 102), then ask 102.5 drops bid 103
    out = engine.apply(delta(2, bids=[("103", "1")], asks=[("102.5", "1")]))
    assert [type(o).__name__ for o in out] == [
        "CrossedBookResolved",
        "CrossedBookResolved",
        "BookState",
    ]
    state = out[-1]
    assert isinstance(state, BookState)
    assert state.bids[0] == (D(100), D(1)) and state.asks == lv(("102.5", "1"))


def test_crossed_snapshot_is_flagged_not_repaired() -> None:
    state = one_state(BookEngine().apply(snap(1, bids=[("101", "1")], asks=[("100", "1")])))
    assert state.crossed and state.spread == D(-1)


def test_out_of_order_message_requests_resync_until_snapshot() -> None:
    engine = BookEngine()
    engine.apply(SNAP)
    engine.apply(delta(5, bids=[("100", "2")]))
    out = engine.apply(delta(4, bids=[("100", "9")]))
    assert out == [ResyncRequest("BTC-USD", "message out of order: 4 after 5", "c1", 4)]
    assert not engine.is_synced("BTC-USD")
    # further deltas are ignored without repeating the request
    assert engine.apply(delta(6, bids=[("100", "7")])) == []
    assert engine.book("BTC-USD").best_bid == (D(100), D(2))  # type: ignore[union-attr]
    state = one_state(engine.apply(snap(7, bids=[("90", "1")], asks=[("91", "1")])))
    assert state.best_bid == (D(90), D(1)) and engine.is_synced("BTC-USD")
    state = one_state(engine.apply(delta(8, bids=[("90", "3")])))
    assert state.best_bid == (D(90), D(3))


def test_ids_may_skip_without_contiguous_mode_and_repeat_within_a_message() -> None:
    engine = BookEngine()
    engine.apply(SNAP)
    assert isinstance(engine.apply(delta(9, bids=[("100", "2")]))[0], BookState)
    # batched message: two deltas with the same id
    assert isinstance(engine.apply(delta(9, bids=[("100", "3")]))[0], BookState)


def test_contiguous_gap_resyncs_every_book_on_the_connection() -> None:
    engine = BookEngine(contiguous_ids=True)
    engine.apply(SNAP)
    engine.apply(snap(2, bids=[("10", "1")], asks=[("11", "1")], market="ETH-USD"))
    # a trade message counts too: 3 is fine
    trade = Trade(
        id="t",
        market="BTC-USD",
        side=Side.BUY,
        price=D(1),
        size=D(1),
        type=TradeType.LIMIT,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        message_id=3,
        connection_id="c1",
    )
    assert engine.apply(trade) == []
    out = engine.apply(delta(5, bids=[("100", "2")]))
    assert out == [
        ResyncRequest("BTC-USD", "message gap: expected 4, got 5", "c1", 5),
        ResyncRequest("ETH-USD", "message gap: expected 4, got 5", "c1", 5),
    ]
    # a snapshot resyncs its market only
    state = one_state(
        engine.apply(snap(6, bids=[("10", "2")], asks=[("11", "1")], market="ETH-USD"))
    )
    assert engine.is_synced("ETH-USD") and not engine.is_synced("BTC-USD")
    assert state.market == "ETH-USD"


def test_delta_before_snapshot_and_new_connection() -> None:
    engine = BookEngine()
    out = engine.apply(delta(1, bids=[("1", "1")]))
    assert out == [ResyncRequest("BTC-USD", "delta without a trusted snapshot", "c1", 1)]
    engine.apply(snap(2, bids=[("1", "1")], asks=[("2", "1")]))
    # reconnect: the counter restarts and the book waits for the new connection's snapshot
    out = engine.apply(delta(1, bids=[("1", "5")], conn="c2"))
    assert out == [ResyncRequest("BTC-USD", "delta without a trusted snapshot", "c2", 1)]
    state = one_state(engine.apply(snap(1, bids=[("1", "4")], asks=[("2", "1")], conn="c2")))
    assert state.best_bid == (D(1), D(4)) and state.connection_id == "c2"


def test_rest_snapshot_without_ids() -> None:
    engine = BookEngine()
    state = one_state(engine.apply(snap(None, bids=[("1", "1")], asks=[("2", "1")])))
    assert state.message_id is None and state.mid == D("1.5")


# -- property: the book agrees with a naive model of the same rules -----------------------

prices = st.integers(90, 110).map(D)
sizes = st.sampled_from([D(0), D(0), D(1), D("2.5")])
side = st.lists(st.tuples(prices, sizes), max_size=4)


def model_apply(bids: dict[D, D], asks: dict[D, D], d_bids, d_asks) -> None:
    for p, s in d_bids:
        bids.pop(p, None) if s == 0 else bids.__setitem__(p, s)
    set_b = [p for p, s in d_bids if s > 0]
    if set_b:
        for p in [p for p in asks if p <= max(set_b)]:
            del asks[p]
    for p, s in d_asks:
        asks.pop(p, None) if s == 0 else asks.__setitem__(p, s)
    set_a = [p for p, s in d_asks if s > 0]
    if set_a:
        for p in [p for p in bids if p >= min(set_a)]:
            del bids[p]


@given(st.lists(st.tuples(side, side), max_size=25))
@settings(max_examples=80, deadline=None)
def test_book_matches_naive_model_and_stays_uncrossed(deltas) -> None:
    book = OrderBook("X")
    bids: dict[D, D] = {}
    asks: dict[D, D] = {}
    for d_bids, d_asks in deltas:
        book.apply_delta(d_bids, d_asks)
        model_apply(bids, asks, d_bids, d_asks)
        assert book.bids() == tuple(sorted(bids.items(), reverse=True))
        assert book.asks() == tuple(sorted(asks.items()))
        assert not book.crossed
