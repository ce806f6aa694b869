"""The bundled dYdX cassettes (``cassettes/dydx/``): the same tests record and replay them.

* ``pytest tests/tradingbot/cassettes --record-mode=rewrite -m record_cassettes`` records: each
  test starts the local indexer (``tradingbot.simulator``, seed :data:`SEED`, 20-100x real time) and
  routes the real mainnet URLs to it, so the cassettes hold ``https://indexer.dydx.trade`` and
  ``wss://indexer.dydx.trade/v4/ws`` exactly as the real client spoke to them.
* ``pytest`` (and ``pytest --replay-strict``) replays: no simulator, no network; the proxy plays
  the cassette into the real dydx-v4-client through ``StreamFeed`` and ``RestFeed``.

Every assertion holds in both modes. Where a recording's length depends on wall time (the feed
stops reading at a market time, but a few more messages were already in flight), the checks cut
the stream at the message where the test decided to stop, which is the same message in every
recording of the same seed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import reactivex
from recorder import Recorder

from pytest_streamreplay import StreamHasher, cassette_stream, collect
from pytest_streamreplay.cassette import iter_records, read_header
from pytest_streamreplay.cassette.records import WsClose, WsConnection, WsMessage
from pytest_streamreplay.harness import StreamReplayHandle, use_cassette

pytest.importorskip("dydx_v4_client", reason="dydx-v4-client is not installed (Python < 3.13 only)")

from tradingbot.feeds.events import (
    BookDelta,
    BookSnapshot,
    Candle,
    FeedState,
    FeedStatus,
    FundingRate,
    MarketEvent,
    MarketUpdate,
    OraclePrice,
    SubaccountSnapshot,
    Subscribed,
    Trade,
)
from tradingbot.feeds.network import MAINNET
from tradingbot.feeds.resilience import Backoff, CircuitBreaker
from tradingbot.feeds.rest import RestFeed
from tradingbot.feeds.stream import StreamFeed
from tradingbot.record import MARKET_SPEED_KEY
from tradingbot.simulator import SimulatorConfig, SimulatorThread

REPO = Path(__file__).resolve().parents[3]
DYDX = REPO / "cassettes" / "dydx"
SEED = 7
MARKETS = ("BTC-USD", "ETH-USD")
NOTE = (
    "recorded from the local indexer (tradingbot.simulator, seed {seed}) by dydx-v4-client "
    "through pytest-streamreplay"
)
LIVE_START = datetime(2024, 1, 1, 0, 5, tzinfo=UTC)  # after the simulator's 300 warm-up steps
WAIT = 60.0
ADDRESS = "dydx1cassette0recorded0from0the0local0indexer0x"  # not a real account

BOOK_TRADES_CANDLES = DYDX / "book_trades_candles.jsonl"
MARKETS_ORACLE = DYDX / "markets_oracle.jsonl"
SUBACCOUNT = DYDX / "subaccount.jsonl"
RECONNECT = DYDX / "reconnect.jsonl"
REST = DYDX / "rest.jsonl"


def sim_config(seed: int = SEED, tick_ms: float = 10.0, warmup_steps: int = 300) -> SimulatorConfig:
    """The recording indexer: one market second per step, ``tick_ms`` of wall time per step
    (10 ms: 100x real time), one batch per step, no websocket heartbeats (their ping frames
    are not indexer data). What it sends depends on the seed and the steps, not on
    ``tick_ms``: every subscription arrives before the clock starts (``settle_ms``)."""
    return SimulatorConfig(
        seed=seed,
        tick_ms=tick_ms,
        step_ms=1000,
        flush_ms=tick_ms,
        settle_ms=200.0,
        heartbeat_s=None,
        warmup_steps=warmup_steps,
    )


@contextlib.contextmanager
def indexer(
    sr: StreamReplayHandle | None,
    seed: int = SEED,
    tick_ms: float = 10.0,
    warmup_steps: int = 300,
) -> Iterator[SimulatorThread | None]:
    """While recording: the local indexer standing in for mainnet. While replaying: nothing."""
    if sr is None or sr.mode != "record":
        yield None
        return
    with SimulatorThread(sim_config(seed, tick_ms, warmup_steps)) as sim:
        sr.route(MAINNET.rest_url, sim.rest_url)
        sr.route(MAINNET.ws_url, sim.ws_url)
        sr.note = NOTE.format(seed=seed)
        sr.metadata[MARKET_SPEED_KEY] = 1000.0 / tick_ms  # one market second per step
        yield sim


def make_feed(reconnect_after: float = 5.0) -> StreamFeed:
    """The feed on the REAL mainnet URL: the proxy records it from, or replays it into, it.

    ``reconnect_after``: the first reconnect delay. Long by default: a test that does not
    expect a drop must close the feed before it could reconnect (a reconnect the cassette does
    not hold is refused in replay)."""
    return StreamFeed(
        MAINNET.ws_url,
        silence_timeout=20.0,
        backoff=Backoff(initial=reconnect_after, maximum=max(reconnect_after, 0.5)),
        breaker=CircuitBreaker(failure_threshold=5, reset_timeout=1.0),
    )


def first_trade_at(moment: datetime) -> Callable[[list[Any]], MarketEvent | None]:
    """The first live trade at or after ``moment`` (market time): where a test stops reading."""
    return lambda items: next(
        (e for e in items if isinstance(e, Trade) and e.created_at >= moment), None
    )


def upto(events: list[MarketEvent], stop: MarketEvent) -> list[MarketEvent]:
    """Events of ``stop``'s connection up to and including ``stop``'s message."""
    assert stop.message_id is not None
    return [
        e
        for e in events
        if e.connection_id == stop.connection_id
        and e.message_id is not None
        and e.message_id <= stop.message_id
    ]


def stripped(event: MarketEvent) -> dict[str, Any]:
    """The event as a dict without local receive times (``received_at``, also on nested
    events): the only fields that differ between runs."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "received_at"}
        if isinstance(value, list | tuple):
            return [strip(v) for v in value]
        return value

    return {"type": type(event).__name__, **strip(dataclasses.asdict(event))}


def digest(events: list[MarketEvent]) -> str:
    hasher = StreamHasher()
    hasher.update_all([stripped(e) for e in events])
    return hasher.digest


def kinds(events: list[MarketEvent]) -> dict[str, int]:
    """How many events of each type per subscription: ``BookDelta BTC-USD: 300``."""
    counts = Counter(f"{type(e).__name__} {e.subscription_id or e.channel}" for e in events)
    return dict(sorted(counts.items()))


def assert_book_never_crossed(events: list[MarketEvent]) -> dict[str, Book]:
    """Rebuild each market's book from snapshot + deltas (absolute sizes, 0 deletes): after
    every message the best bid stays below the best ask, and neither side is empty."""
    books: dict[str, Book] = {}
    for e in events:
        if isinstance(e, BookSnapshot):
            books[e.market] = Book(dict(e.bids), dict(e.asks))
        elif isinstance(e, BookDelta):
            books[e.market].apply(e)  # a delta before its snapshot fails here (KeyError)
        else:
            continue
        book = books[e.market]
        assert book.bids and book.asks, f"message {e.message_id}: {e.market} one-sided"
        assert max(book.bids) < min(book.asks), f"message {e.message_id}: {e.market} crossed"
    return books


@dataclasses.dataclass
class Book:
    bids: dict[Decimal, Decimal]
    asks: dict[Decimal, Decimal]

    def apply(self, delta: BookDelta) -> None:
        for side, levels in ((self.bids, delta.bids), (self.asks, delta.asks)):
            for price, size in levels:
                if size == 0:
                    side.pop(price, None)
                else:
                    side[price] = size


def assert_ids_increase(events: list[MarketEvent]) -> None:
    """Per connection, message ids never go back (events of one message share its id)."""
    last: dict[str | None, int] = {}
    for e in events:
        assert e.message_id is not None
        assert e.message_id >= last.get(e.connection_id, -1), f"id went back at {e}"
        last[e.connection_id] = e.message_id


def ws_records(path: Path) -> list[Any]:
    return [r for r in iter_records(path) if isinstance(r, WsConnection | WsMessage | WsClose)]


def bundled(path: Path) -> Any:
    return pytest.mark.streamreplay(cassette=str(path))


# -- (a) order books, trades and candles of two markets ---------------------------------------

BOOK_MINUTES = 5
BOOK_TICK_MS = 50.0  # 20x real time: the pipeline (`tradingbot replay`) paces on recorded `t`


def book_trades_candles_session(
    sr: StreamReplayHandle | None, minutes: int = BOOK_MINUTES, tick_ms: float = BOOK_TICK_MS
) -> list[MarketEvent]:
    """Subscribe to what ``tradingbot run`` subscribes to (v4_markets, then each market's book,
    trades and 1-minute candles; batched, one connection) and read until the first trade
    ``minutes`` of market time after the live start."""
    events = Recorder(WAIT)
    with indexer(sr, tick_ms=tick_ms):
        feed = make_feed()
        streams: list[reactivex.Observable[MarketEvent]] = [feed.markets()]
        for market in MARKETS:
            streams += [feed.order_book(market), feed.trades(market), feed.candles(market)]
        reactivex.merge(*streams).subscribe(events)
        feed.start()
        try:
            stop = events.wait_value(first_trade_at(LIVE_START + timedelta(minutes=minutes)))
        finally:
            feed.close()
    return upto(events.snapshot(), stop)


@pytest.mark.record_cassettes
@bundled(BOOK_TRADES_CANDLES)
def test_book_trades_candles(streamreplay: StreamReplayHandle, stream_snapshot: Any) -> None:
    events = book_trades_candles_session(streamreplay)
    assert_ids_increase(events)
    books = assert_book_never_crossed(events)
    assert set(books) == set(MARKETS)
    subscribed = [(e.channel, e.subscription_id) for e in events if isinstance(e, Subscribed)]
    assert subscribed == [("v4_markets", None)] + [
        (channel, sub_id)
        for market in MARKETS
        for channel, sub_id in (
            ("v4_orderbook", market),
            ("v4_trades", market),
            ("v4_candles", f"{market}/1MIN"),
        )
    ]
    assert len({e.connection_id for e in events}) == 1
    for market in MARKETS:
        live_trades = [
            e
            for e in events
            if isinstance(e, Trade) and e.market == market and e.created_at > LIVE_START
        ]
        assert live_trades, f"no live {market} trades"
        times = [t.created_at for t in live_trades]
        assert times == sorted(times)
        minutes = {
            e.started_at
            for e in events
            if isinstance(e, Candle) and e.market == market and e.started_at >= LIVE_START
        }
        assert len(minutes) >= BOOK_MINUTES, f"{market}: candles for {sorted(minutes)}"
        assert sum(isinstance(e, OraclePrice) and e.market == market for e in events) > 100
    assert {"counts": kinds(events), "sha256": digest(events)} == stream_snapshot


def test_same_seed_same_recording(tmp_path: Path) -> None:
    """Two recordings of the same seed hold the same messages in the same order, and so does
    the bundled cassette (recorded at another wall speed: what the indexer sends depends on the
    steps, not on their wall time). Compared: the JSON body and order of every client message
    and of every server message up to the one where the test stopped reading (one minute of
    market time here). Not compared: the ``t`` offsets (wall time), how the two directions
    interleave in the file (they cross), and the few messages still in flight when the client
    closed (how many depends on wall time)."""
    runs = []
    for n in range(2):
        path = tmp_path / f"run{n}.jsonl"
        with use_cassette(path, record_mode="all") as sr:
            events = book_trades_candles_session(sr, minutes=1, tick_ms=10.0)
        stop = events[-1].message_id
        runs.append((stop, _messages_upto(path, stop)))
    assert runs[0] == runs[1]
    assert read_header(tmp_path / "run0.jsonl").extra == {MARKET_SPEED_KEY: 100.0}
    stop, messages = runs[0]
    assert len(messages["recv"]) > 250 and len(messages["send"]) == 7
    assert _messages_upto(BOOK_TRADES_CANDLES, stop) == messages


def _messages_upto(path: Path, stop: int | None) -> dict[str, list[str]]:
    """Canonical JSON of the first connection's messages per direction: every client message,
    and the server's messages up to message id ``stop``. Per direction, because the file
    interleaves the two as they crossed the proxy (the subscriptions go out while ``connected``
    is on its way), which is not part of what the indexer sent."""
    assert stop is not None
    sends: list[str] = []
    recvs: list[str] = []
    stopped = False
    for r in iter_records(path):
        if not isinstance(r, WsMessage) or r.conn != 0:
            continue
        if r.dir == "send":
            sends.append(json.dumps(r.value, sort_keys=True))
        elif not stopped:
            recvs.append(json.dumps(r.value, sort_keys=True))
            stopped = isinstance(r.value, dict) and r.value.get("message_id") == stop
    assert stopped, f"{path}: no message {stop}"
    return {"send": sends, "recv": recvs}


# -- (d) a dropped connection in the middle ----------------------------------------------------


@pytest.mark.record_cassettes
@bundled(RECONNECT)
def test_reconnect_resubscribes(streamreplay: StreamReplayHandle) -> None:
    """The indexer drops the connection (TCP abort, no close frame) after a minute of market
    time; the feed reconnects and resubscribes, and data resumes on the new connection."""
    events, statuses = Recorder(WAIT), Recorder(WAIT)
    with indexer(streamreplay) as sim:
        feed = make_feed(reconnect_after=0.1)
        feed.status.subscribe(statuses)
        reactivex.merge(
            feed.markets(), *(feed.order_book(m) for m in MARKETS), feed.trades("BTC-USD")
        ).subscribe(events)
        feed.start()
        try:
            first = events.wait_value(first_trade_at(LIVE_START + timedelta(minutes=1)))
            if sim is not None:
                assert sim.drop_connections() == 1
            second = events.wait_value(
                lambda items: next(
                    (
                        e
                        for e in items
                        if isinstance(e, Trade)
                        and e.connection_id != first.connection_id
                        and e.created_at >= LIVE_START + timedelta(minutes=2)
                    ),
                    None,
                )
            )
            statuses.wait_value(
                lambda items: [s.state for s in items].count(FeedState.SUBSCRIBED) >= 2
            )
        finally:
            feed.close()
    seen = events.snapshot()
    connections = list(dict.fromkeys(e.connection_id for e in seen))
    assert connections == [first.connection_id, second.connection_id]
    before = [e for e in seen if e.connection_id == first.connection_id]
    after = upto(seen, second)
    for part in (before, after):
        assert_ids_increase(part)
        assert_book_never_crossed(part)
    # The same subscriptions, in the same order, on both connections: a fresh snapshot each.
    subs = [
        [(e.channel, e.subscription_id) for e in part if isinstance(e, Subscribed)]
        for part in (before, after)
    ]
    assert subs[0] == subs[1] and len(subs[0]) == 4
    assert sum(isinstance(e, BookSnapshot) for e in after) == len(MARKETS)
    assert any(isinstance(e, OraclePrice) for e in after)
    states = [s.state for s in statuses.snapshot() if isinstance(s, FeedStatus)]
    reconnect = states[states.index(FeedState.DISCONNECTED) :]
    assert reconnect[:5] == [
        FeedState.DISCONNECTED,
        FeedState.RECONNECTING,
        FeedState.CONNECTING,
        FeedState.CONNECTED,
        FeedState.SUBSCRIBED,
    ]
    assert states[-1] is FeedState.CLOSED
    assert states[:3] == [FeedState.CONNECTING, FeedState.CONNECTED, FeedState.SUBSCRIBED]


def test_reconnect_cassette_holds_two_connections() -> None:
    """The cassette itself: two connections to the mainnet URL, the first cut by the server
    (1006, no close frame), the second closed when the test closed the feed; both carry the
    same four subscriptions."""
    records = ws_records(RECONNECT)
    conns = [r for r in records if isinstance(r, WsConnection)]
    closes = {r.conn: r for r in records if isinstance(r, WsClose)}
    assert [c.url for c in conns] == [MAINNET.ws_url] * 2
    assert (closes[0].code, closes[0].by) == (1006, "server")
    assert closes[1].by == "client"
    for conn in conns:
        sent = collect(
            cassette_stream(RECONNECT, connection=conn.id, direction="send", speed="instant")
        )
        assert [(m["channel"], m.get("id")) for m in sent] == [
            ("v4_markets", None),
            ("v4_orderbook", "BTC-USD"),
            ("v4_orderbook", "ETH-USD"),
            ("v4_trades", "BTC-USD"),
        ]


@pytest.mark.parametrize(
    "path",
    [BOOK_TRADES_CANDLES, MARKETS_ORACLE, SUBACCOUNT, RECONNECT],
    ids=lambda p: p.stem,
)
def test_sessions_end_with_the_client_closing(path: Path) -> None:
    """Each session ends with the test closing the feed. The feed sends a close frame and cuts
    the TCP connection at once, and the proxy sometimes books that as a close by the server;
    replay would then close on the client and the feed would reconnect into a connection the
    cassette does not hold. Re-record if this fails."""
    closes = [r for r in ws_records(path) if isinstance(r, WsClose)]
    assert closes[-1].by == "client", closes[-1]


# -- (b) markets and oracle prices -------------------------------------------------------------


@pytest.mark.record_cassettes
@bundled(MARKETS_ORACLE)
def test_markets_and_oracle_prices(streamreplay: StreamReplayHandle, stream_snapshot: Any) -> None:
    events = Recorder(WAIT)
    with indexer(streamreplay):
        feed = make_feed()
        feed.markets().subscribe(events)
        feed.start()
        try:
            stop = events.wait_value(
                lambda items: next(
                    (
                        e
                        for e in items
                        if isinstance(e, OraclePrice)
                        and e.effective_at is not None
                        and e.effective_at >= LIVE_START + timedelta(minutes=3)
                    ),
                    None,
                )
            )
        finally:
            feed.close()
    seen = upto(events.snapshot(), stop)
    assert_ids_increase(seen)
    snapshot = [e for e in seen if isinstance(e, MarketUpdate) and e.is_snapshot]
    assert {e.market for e in snapshot} == set(MARKETS)
    assert all(e.tick_size and e.step_size and e.initial_margin_fraction for e in snapshot)
    oracle = [e for e in seen if isinstance(e, OraclePrice)]
    for market in MARKETS:
        prices = [o for o in oracle if o.market == market]
        assert len(prices) > 50, f"{market}: {len(prices)} oracle prices"
        times = [o.effective_at for o in prices if o.effective_at is not None]
        assert times == sorted(times)
        assert all(o.price > 0 for o in prices)
    assert any(isinstance(e, MarketUpdate) and not e.is_snapshot for e in seen)
    assert {"counts": kinds(seen), "sha256": digest(seen)} == stream_snapshot


# -- (c) a subaccount --------------------------------------------------------------------------


@pytest.mark.record_cassettes
@bundled(SUBACCOUNT)
def test_subaccount(streamreplay: StreamReplayHandle, stream_snapshot: Any) -> None:
    """v4_subaccounts over the websocket, and the same account over REST. The simulator's
    account is static: a snapshot and no updates."""
    events = Recorder(WAIT)
    with indexer(streamreplay):
        # REST first: the first subscription starts the indexer's clock, and block heights
        # read after that would depend on wall time.
        with RestFeed(MAINNET.rest_url, timeout=10) as rest:
            (rest_snapshot,) = rest.run(rest.fetch_subaccount(ADDRESS, 0))
        feed = make_feed()
        feed.subaccount(ADDRESS, 0).subscribe(events)
        feed.start()
        try:
            stop = events.wait_value(
                lambda items: next((e for e in items if isinstance(e, SubaccountSnapshot)), None)
            )
        finally:
            feed.close()
    seen = upto(events.snapshot(), stop)
    assert [type(e).__name__ for e in seen] == ["Subscribed", "SubaccountSnapshot"]
    assert isinstance(stop, SubaccountSnapshot) and isinstance(rest_snapshot, SubaccountSnapshot)
    assert stop.equity > 0 and stop.free_collateral <= stop.equity
    assert rest_snapshot.equity == stop.equity
    assert {"ws": digest(seen), "rest": digest([rest_snapshot])} == stream_snapshot


# -- (e) REST ----------------------------------------------------------------------------------

REST_WARMUP = 7200


@pytest.mark.record_cassettes
@bundled(REST)
def test_rest_snapshots(streamreplay: StreamReplayHandle, stream_snapshot: Any) -> None:
    """Perpetual markets, candle history, order books, trades and historical funding through
    RestFeed (IndexerClient). The indexer runs two hours of market time before serving."""
    with (
        indexer(streamreplay, warmup_steps=REST_WARMUP),
        RestFeed(MAINNET.rest_url, timeout=10) as rest,
    ):
        markets = rest.run(rest.fetch_markets())
        results: dict[str, list[MarketEvent]] = {"markets": markets}
        for market in MARKETS:
            results[f"candles {market}"] = rest.run(rest.fetch_candles(market, "1MIN", limit=100))
            results[f"orderbook {market}"] = rest.run(rest.fetch_orderbook(market))
            results[f"trades {market}"] = rest.run(rest.fetch_trades(market, limit=50))
            results[f"funding {market}"] = rest.run(rest.fetch_funding(market, limit=24))
    assert {e.market for e in markets if isinstance(e, MarketUpdate)} == set(MARKETS)
    for market in MARKETS:
        candles = results[f"candles {market}"]
        assert len(candles) == 100 and all(isinstance(c, Candle) for c in candles)
        starts = [c.started_at for c in candles if isinstance(c, Candle)]
        assert starts == sorted(starts, reverse=True)  # newest first
        assert all(c.low <= c.open <= c.high for c in candles if isinstance(c, Candle))
        (book,) = results[f"orderbook {market}"]
        assert isinstance(book, BookSnapshot) and book.bids[0][0] < book.asks[0][0]
        trades = results[f"trades {market}"]
        assert len(trades) == 50 and all(isinstance(t, Trade) for t in trades)
        funding = results[f"funding {market}"]
        assert len(funding) == 24 and all(isinstance(f, FundingRate) for f in funding)
    assert {name: digest(found) for name, found in results.items()} == stream_snapshot
