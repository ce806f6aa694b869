"""The feeds on the real dydx-v4-client (IndexerClient, IndexerSocket) against the local indexer."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from reactivex import operators as ops
from recorder import Recorder

pytest.importorskip("dydx_v4_client", reason="dydx-v4-client is not installed (Python < 3.13 only)")

from tradingbot.feeds.events import (
    BookDelta,
    BookSnapshot,
    Candle,
    ErrorEvent,
    FeedState,
    FeedStatus,
    FundingRate,
    MarketEvent,
    MarketUpdate,
    OraclePrice,
    SubaccountSnapshot,
    Subscribed,
    Trade,
    Unsubscribed,
)
from tradingbot.feeds.resilience import Backoff, CircuitBreaker, CircuitOpenError, RateLimiter
from tradingbot.feeds.rest import RestError, RestFeed
from tradingbot.feeds.stream import StreamFeed
from tradingbot.simulator import SimulatorThread

WAIT = 8.0


def count(kind: type, since: int = 0) -> Callable[[list[Any]], int]:
    """How many items of ``kind`` (after index ``since``); truthy once there is one."""
    return lambda items: sum(isinstance(i, kind) for i in items[since:])


def states(items: list[FeedStatus]) -> list[FeedState]:
    return [s.state for s in items]


def fast_feed(url: str, **kw: Any) -> StreamFeed:
    options: dict[str, Any] = {
        "silence_timeout": 2.0,
        "backoff": Backoff(initial=0.05, maximum=0.2),
        "breaker": CircuitBreaker(failure_threshold=3, reset_timeout=0.4),
    }
    options.update(kw)
    return StreamFeed(url, **options)


@pytest.fixture
def feed_factory() -> Iterator[Callable[..., StreamFeed]]:
    feeds: list[StreamFeed] = []

    def make(url: str, **kw: Any) -> StreamFeed:
        feed = fast_feed(url, **kw)
        feeds.append(feed)
        return feed

    yield make
    for feed in feeds:
        feed.close()
    leaked = [t.name for t in threading.enumerate() if t.name.startswith("stream-feed")]
    assert not leaked, f"feed threads leaked: {leaked}"


# -- REST ----------------------------------------------------------------------------------


def test_rest_feed_decodes_every_endpoint(simulator: SimulatorThread) -> None:
    with RestFeed(simulator.rest_url, timeout=5) as rest:
        markets = rest.run(rest.fetch_markets())
        updates = {e.market: e for e in markets if isinstance(e, MarketUpdate)}
        assert set(updates) == {"BTC-USD", "ETH-USD"}
        btc = updates["BTC-USD"]
        assert btc.initial_margin_fraction == Decimal("0.05") and btc.tick_size == Decimal(1)
        assert any(isinstance(e, OraclePrice) for e in markets)
        (book,) = rest.run(rest.fetch_orderbook("ETH-USD"))
        assert isinstance(book, BookSnapshot) and book.bids[0][0] < book.asks[0][0]
        trades = rest.run(rest.fetch_trades("BTC-USD", limit=5))
        assert len(trades) == 5 and all(isinstance(t, Trade) for t in trades)
        candles = rest.run(rest.fetch_candles("BTC-USD", "1MIN", limit=3))
        assert len(candles) == 3 and all(isinstance(c, Candle) for c in candles)
        starts = [c.started_at for c in candles if isinstance(c, Candle)]
        assert starts == sorted(starts, reverse=True)
        funding = rest.funding("ETH-USD", limit=4).pipe(ops.to_list()).run()
        assert len(funding) == 4 and all(isinstance(f, FundingRate) for f in funding)
        (sub,) = rest.subaccount("dydx1abc", 0).pipe(ops.to_list()).run()
        assert isinstance(sub, SubaccountSnapshot) and sub.equity == Decimal(10000)
        with pytest.raises(RestError, match="404"):
            rest.run(rest.fetch_orderbook("NOPE-USD"))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_rest_retries_then_opens_the_circuit() -> None:
    statuses = Recorder(WAIT)
    rest = RestFeed(
        f"http://127.0.0.1:{_closed_port()}",
        timeout=1,
        retries=2,
        backoff=Backoff(initial=0.01, maximum=0.02),
        breaker=CircuitBreaker(failure_threshold=5, reset_timeout=60),
    )
    rest.status.subscribe(statuses)
    try:
        with pytest.raises(RestError, match="failed after 3 attempts"):
            rest.run(rest.fetch_markets())
        assert states(statuses.snapshot()).count(FeedState.RECONNECTING) == 2
        with pytest.raises(RestError):
            rest.run(rest.fetch_markets())  # failures 4 and 5: the breaker opens
        with pytest.raises(CircuitOpenError):
            rest.run(rest.fetch_markets())
        assert FeedState.CIRCUIT_OPEN in states(statuses.snapshot())
        errors = Recorder(WAIT)
        rest.markets().subscribe(on_error=errors)
        assert isinstance(errors.wait_for(lambda i: bool(i))[0], CircuitOpenError)
    finally:
        rest.close()


def test_rest_rate_limiter_reports_waits(simulator: SimulatorThread) -> None:
    statuses = Recorder(WAIT)
    frozen = FrozenClock()  # no refill: the waits are exact, whatever the machine's load
    with RestFeed(simulator.rest_url, limiter=RateLimiter(rate=8, burst=1, clock=frozen)) as rest:
        rest.status.subscribe(statuses)

        async def three() -> list[list[MarketEvent]]:
            return list(await asyncio.gather(*(rest.fetch_orderbook("BTC-USD") for _ in range(3))))

        start = time.monotonic()
        books = rest.run(three())
        assert time.monotonic() - start >= 0.25  # the third call waited two tokens at 8/s
    assert all(isinstance(b[0], BookSnapshot) for b in books)
    limited = [s for s in statuses.snapshot() if s.state is FeedState.RATE_LIMITED]
    assert sorted(s.delay or 0 for s in limited) == pytest.approx([0.125, 0.25])


class FrozenClock:
    def __call__(self) -> float:
        return 0.0


# -- websocket -----------------------------------------------------------------------------


def test_one_connection_carries_every_subscription(
    simulator: SimulatorThread, feed_factory: Callable[..., StreamFeed]
) -> None:
    feed = feed_factory(simulator.ws_url)
    everything, book, trades, candles, markets, account = (Recorder(WAIT) for _ in range(6))
    feed.events.subscribe(everything)
    feed.order_book("BTC-USD").subscribe(book)
    feed.trades("ETH-USD", batched=False).subscribe(trades)
    feed.candles("BTC-USD", "1MIN").subscribe(candles)
    feed.markets().subscribe(markets)
    feed.subaccount("dydx1abc", 0).subscribe(account)
    feed.start()
    book.wait_for(lambda i: count(BookDelta)(i) >= 5)
    trades.wait_for(lambda i: count(Trade)(i) >= 3)
    candles.wait_for(lambda i: count(Candle)(i) >= 2)
    markets.wait_for(lambda i: count(MarketUpdate)(i) >= 2 and count(OraclePrice)(i) >= 2)
    account.wait_for(count(SubaccountSnapshot))
    assert simulator.connections_total == 1
    seen = everything.snapshot()
    assert len({e.connection_id for e in seen}) == 1
    ids = [e.message_id for e in seen]
    assert ids == sorted(ids), "one message_id order across channels"
    assert isinstance(book.snapshot()[0], Subscribed) and isinstance(
        book.snapshot()[1], BookSnapshot
    )
    assert {e.market for e in book.snapshot() if isinstance(e, BookDelta)} == {"BTC-USD"}
    assert not [e for e in seen if isinstance(e, ErrorEvent)]


def test_disposing_unsubscribes(
    simulator: SimulatorThread, feed_factory: Callable[..., StreamFeed]
) -> None:
    feed = feed_factory(simulator.ws_url)
    everything, trades = Recorder(WAIT), Recorder(WAIT)
    feed.events.subscribe(everything)
    feed.start()
    subscription = feed.trades("BTC-USD", batched=False).subscribe(trades)
    trades.wait_for(lambda i: count(Trade)(i) >= 1)
    subscription.dispose()
    everything.wait_for(count(Unsubscribed))
    after = len(trades.snapshot())
    time.sleep(0.3)
    assert len(trades.snapshot()) == after


def test_reconnects_and_resubscribes_after_a_drop(
    simulator: SimulatorThread, feed_factory: Callable[..., StreamFeed]
) -> None:
    feed = feed_factory(simulator.ws_url)
    statuses, book = Recorder(WAIT), Recorder(WAIT)
    feed.status.subscribe(statuses)
    feed.order_book("ETH-USD").subscribe(book)
    feed.markets().subscribe(lambda e: None)
    feed.start()
    statuses.wait_for(lambda s: FeedState.SUBSCRIBED in states(s))
    first_id = feed.connection_id
    assert simulator.drop_connections() == 1
    seen = statuses.wait_for(lambda s: states(s).count(FeedState.SUBSCRIBED) >= 2)
    order = states(seen)
    after_drop = order[order.index(FeedState.DISCONNECTED) :]
    assert after_drop[:4] == [
        FeedState.DISCONNECTED,
        FeedState.RECONNECTING,
        FeedState.CONNECTING,
        FeedState.CONNECTED,
    ]
    assert seen[-1].detail == "2 subscriptions"
    snapshots = book.wait_for(lambda i: count(BookSnapshot)(i) >= 2)
    fresh = [e for e in snapshots if isinstance(e, BookSnapshot)][-1]
    assert fresh.connection_id != first_id == snapshots[1].connection_id
    assert simulator.connections_total == 2


def test_silent_connection_is_recycled(
    simulator: SimulatorThread, feed_factory: Callable[..., StreamFeed]
) -> None:
    feed = feed_factory(simulator.ws_url, silence_timeout=0.6)
    statuses, book = Recorder(WAIT), Recorder(WAIT)
    feed.status.subscribe(statuses)
    feed.order_book("BTC-USD").subscribe(book)
    feed.start()
    statuses.wait_for(lambda s: FeedState.SUBSCRIBED in states(s))
    assert simulator.stall() == 1
    seen = statuses.wait_for(lambda s: states(s).count(FeedState.SUBSCRIBED) >= 2)
    stale = next(s for s in seen if s.state is FeedState.STALE)
    assert stale.detail.startswith("silent for")
    before = len(book.snapshot())
    book.wait_for(lambda i: count(BookDelta, before)(i) >= 2)


def test_garbage_yields_error_events_not_a_crash(
    simulator: SimulatorThread, feed_factory: Callable[..., StreamFeed]
) -> None:
    feed = feed_factory(simulator.ws_url)
    statuses, errors, book = Recorder(WAIT), Recorder(WAIT), Recorder(WAIT)
    feed.status.subscribe(statuses)
    feed.errors.subscribe(errors)
    feed.order_book("BTC-USD").subscribe(book)
    feed.start()
    book.wait_for(count(BookSnapshot))
    simulator.send_garbage(count=2)
    got = errors.wait_for(lambda e: len(e) >= 4)
    messages = [e.message for e in got]
    assert sum(m.startswith("not JSON") for m in messages) == 2
    assert sum("not-a-price" in m for m in messages) == 2
    before = len(book.snapshot())
    book.wait_for(lambda i: count(BookDelta, before)(i) >= 2)
    assert FeedState.DISCONNECTED not in states(statuses.snapshot())


def test_circuit_breaker_opens_and_recovers(
    simulator: SimulatorThread, feed_factory: Callable[..., StreamFeed]
) -> None:
    simulator.reject_connections()
    feed = feed_factory(simulator.ws_url)
    statuses = Recorder(WAIT)
    feed.status.subscribe(statuses)
    feed.trades("BTC-USD").subscribe(lambda e: None)
    feed.start()
    seen = statuses.wait_for(lambda s: FeedState.CIRCUIT_OPEN in states(s))
    assert states(seen).count(FeedState.CONNECTING) == 3  # failure_threshold attempts
    opened = next(s for s in seen if s.state is FeedState.CIRCUIT_OPEN)
    assert opened.delay is not None and 0 < opened.delay <= 0.4
    simulator.reject_connections(False)
    seen = statuses.wait_for(lambda s: FeedState.SUBSCRIBED in states(s))
    order = states(seen)
    assert order.index(FeedState.CIRCUIT_HALF_OPEN) < order.index(FeedState.CONNECTED)


def test_close_completes_and_reports_closed(
    simulator: SimulatorThread, feed_factory: Callable[..., StreamFeed]
) -> None:
    feed = feed_factory(simulator.ws_url)
    statuses, done = Recorder(WAIT), Recorder(WAIT)
    feed.status.subscribe(statuses)
    feed.events.subscribe(on_completed=lambda: done(True))
    feed.start()
    statuses.wait_for(lambda s: FeedState.CONNECTED in states(s))
    feed.close()
    assert done.snapshot() == [True]
    assert states(statuses.snapshot())[-1] is FeedState.CLOSED
    events: list[MarketEvent] = []
    feed.events.subscribe(events.append)
    assert events == []
