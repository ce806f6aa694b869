"""The local indexer speaks the indexer protocol: checked with a real websocket client."""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import websocket

from tradingbot.feeds import dydx
from tradingbot.feeds.events import BookDelta, BookSnapshot, ErrorEvent
from tradingbot.simulator import GARBAGE_TEXT, SimulatorThread


class Client:
    """A blocking websocket client with bounded waits."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.ws = websocket.create_connection(url, timeout=timeout)
        self.frames: list[tuple[float, str]] = []

    def send(self, **message: Any) -> None:
        self.ws.send(json.dumps(message))

    def recv_text(self, timeout: float = 5.0) -> str:
        self.ws.settimeout(timeout)
        text = self.ws.recv()
        assert isinstance(text, str)
        self.frames.append((time.monotonic(), text))
        return text

    def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        message = json.loads(self.recv_text(timeout))
        assert isinstance(message, dict)
        return message

    def collect(self, seconds: float) -> list[dict[str, Any]]:
        """Every message that arrives within ``seconds``."""
        out: list[dict[str, Any]] = []
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                out.append(self.recv(timeout=left))
            except websocket.WebSocketTimeoutException:
                break
        return out

    def until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            message = self.recv(timeout=left)
            if predicate(message):
                return message
        raise AssertionError("expected message did not arrive in time")

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def client(simulator: SimulatorThread) -> Any:
    c = Client(simulator.ws_url)
    yield c
    c.close()


def test_connected_first(client: Client) -> None:
    hello = client.recv()
    assert hello["type"] == "connected" and hello["message_id"] == 0
    assert len(hello["connection_id"]) == 36


def test_subscribe_returns_an_uncrossed_snapshot(client: Client) -> None:
    client.recv()
    client.send(type="subscribe", channel="v4_orderbook", id="BTC-USD", batched=True)
    subscribed = client.recv()
    assert subscribed["type"] == "subscribed"
    assert (subscribed["channel"], subscribed["id"], subscribed["message_id"]) == (
        "v4_orderbook",
        "BTC-USD",
        1,
    )
    events = dydx.decode(subscribed)
    book = events[1]
    assert isinstance(book, BookSnapshot)
    bids, asks = [p for p, _ in book.bids], [p for p, _ in book.asks]
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
    assert bids[0] < asks[0]
    assert len(bids) > 10 and len(asks) > 10


def test_batched_flush_cadence_and_monotonic_ids(
    make_simulator: Callable[..., SimulatorThread],
) -> None:
    sim = make_simulator(seed=2, tick_ms=25, flush_ms=250, settle_ms=20)
    client = Client(sim.ws_url)
    try:
        client.recv()
        client.send(type="subscribe", channel="v4_orderbook", id="BTC-USD", batched=True)
        client.send(type="subscribe", channel="v4_trades", id="ETH-USD", batched=False)
        messages = client.collect(1.6)
    finally:
        client.close()
    ids = [m["message_id"] for m in messages]
    assert ids == list(range(1, len(ids) + 1)), "one counter per connection, no gaps"
    book = [
        (t, json.loads(text))
        for t, text in client.frames
        if '"v4_orderbook"' in text and '"channel_batch_data"' in text
    ]
    assert not [
        m for m in messages if m["channel"] == "v4_orderbook" and m["type"] == "channel_data"
    ]
    assert len(book) >= 4
    # The average interval: a loaded machine delays single flushes, the clock catches up.
    mean_gap = (book[-1][0] - book[0][0]) / (len(book) - 1)
    assert 0.18 <= mean_gap <= 0.40, [b[0] - a[0] for a, b in itertools.pairwise(book)]
    assert all(isinstance(m["contents"], list) and m["contents"] for _, m in book)
    trades = [m for m in messages if m["channel"] == "v4_trades" and m["type"] == "channel_data"]
    assert trades, "unbatched subscriptions get channel_data"


def test_errors_for_bad_requests_keep_the_connection(client: Client) -> None:
    client.recv()
    bad = [
        {"type": "subscribe", "channel": "v4_nope", "id": "BTC-USD"},
        {"type": "subscribe", "channel": "v4_orderbook"},
        {"type": "subscribe", "channel": "v4_trades", "id": "DOGE-XYZ"},
        {"type": "subscribe", "channel": "v4_candles", "id": "BTC-USD/7MINS"},
        {"type": "subscribe", "channel": "v4_subaccounts", "id": "no-number"},
        {"type": "unsubscribe", "channel": "v4_trades", "id": "BTC-USD"},
        {"type": "hello"},
    ]
    for message in bad:
        client.send(**message)
    errors = [client.recv() for _ in bad]
    assert [e["type"] for e in errors] == ["error"] * len(bad)
    texts = [e["message"] for e in errors]
    assert "unknown channel 'v4_nope'" in texts[0]
    assert "requires an id" in texts[1]
    assert "unknown market 'DOGE-XYZ'" in texts[2]
    assert "MARKET/RESOLUTION" in texts[3]
    assert "ADDRESS/NUMBER" in texts[4]
    assert "not subscribed" in texts[5]
    assert "unknown type 'hello'" in texts[6]
    client.ws.send("{not json")
    assert "could not parse" in client.recv()["message"]
    for event in (e for m in errors for e in dydx.decode(m)):
        assert isinstance(event, ErrorEvent)
    client.send(type="subscribe", channel="v4_markets")
    assert client.recv()["type"] == "subscribed"
    client.send(type="subscribe", channel="v4_markets")
    assert "already subscribed" in client.until(lambda m: m["type"] == "error")["message"]


def test_ping_pong_and_unsubscribe(client: Client) -> None:
    client.recv()
    client.send(type="ping")
    pong = client.recv()
    assert pong["type"] == "pong" and pong["message_id"] == 1
    client.send(type="subscribe", channel="v4_trades", id="BTC-USD")
    client.recv()
    client.until(lambda m: m["type"] == "channel_data")
    client.send(type="unsubscribe", channel="v4_trades", id="BTC-USD")
    done = client.until(lambda m: m["type"] == "unsubscribed")
    assert (done["channel"], done["id"]) == ("v4_trades", "BTC-USD")
    assert client.collect(0.3) == []


def test_book_deltas_keep_the_book_uncrossed(client: Client) -> None:
    client.recv()
    client.send(type="subscribe", channel="v4_orderbook", id="ETH-USD", batched=True)
    client.send(type="subscribe", channel="v4_candles", id="ETH-USD/1MIN", batched=True)
    client.send(type="subscribe", channel="v4_markets", batched=True)
    client.send(type="subscribe", channel="v4_subaccounts", id="dydx1abc/0")
    messages = [client.recv() for _ in range(4)] + client.collect(1.0)
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    deltas = 0
    kinds: set[str] = set()
    for message in messages:
        for event in dydx.decode(message):
            kinds.add(type(event).__name__)
            assert not isinstance(event, ErrorEvent), event
            if isinstance(event, BookSnapshot | BookDelta) and event.market == "ETH-USD":
                if isinstance(event, BookSnapshot):
                    bids, asks = dict(event.bids), dict(event.asks)
                else:
                    deltas += 1
                for side, levels in ((bids, event.bids), (asks, event.asks)):
                    for price, size in levels:
                        if size == 0:
                            side.pop(price, None)
                        else:
                            side[price] = size
                assert max(bids) < min(asks), "crossed book"
    assert deltas >= 10
    assert {"Candle", "MarketUpdate", "OraclePrice", "SubaccountSnapshot"} <= kinds


def _first_messages(sim: SimulatorThread, count: int) -> list[str]:
    client = Client(sim.ws_url)
    try:
        client.recv_text()
        client.send(type="subscribe", channel="v4_orderbook", id="BTC-USD", batched=True)
        client.send(type="subscribe", channel="v4_trades", id="BTC-USD")
        client.send(type="subscribe", channel="v4_candles", id="ETH-USD/1MIN", batched=True)
        client.send(type="subscribe", channel="v4_markets", batched=True)
        return [client.recv_text() for _ in range(count)]
    finally:
        client.close()


def test_same_seed_same_bytes(make_simulator: Callable[..., SimulatorThread]) -> None:
    config = {"tick_ms": 10, "flush_ms": 50, "settle_ms": 150, "warmup_steps": 50}
    first = _first_messages(make_simulator(seed=42, **config), 60)
    second = _first_messages(make_simulator(seed=42, **config), 60)
    other = _first_messages(make_simulator(seed=43, **config), 60)
    assert first == second
    assert first != other
    assert sum('"channel_batch_data"' in m for m in first) >= 3


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_rest_endpoints(simulator: SimulatorThread) -> None:
    base = simulator.rest_url
    status, markets = _get(f"{base}/v4/perpetualMarkets")
    assert status == 200 and set(markets["markets"]) == {"BTC-USD", "ETH-USD"}
    status, one = _get(f"{base}/v4/perpetualMarkets?ticker=ETH-USD")
    assert list(one["markets"]) == ["ETH-USD"]
    assert _get(f"{base}/v4/perpetualMarkets?ticker=NOPE-USD")[0] == 404
    status, book = _get(f"{base}/v4/orderbooks/perpetualMarket/BTC-USD")
    assert status == 200 and Decimal(book["bids"][0]["price"]) < Decimal(book["asks"][0]["price"])
    status, trades = _get(f"{base}/v4/trades/perpetualMarket/BTC-USD?limit=5")
    assert status == 200 and len(trades["trades"]) == 5 and "createdAtHeight" in trades["trades"][0]
    status, candles = _get(
        f"{base}/v4/candles/perpetualMarkets/BTC-USD?resolution=1MIN&limit=3"
        "&fromISO=2024-01-01T00:01:00.000Z"
    )
    assert status == 200 and len(candles["candles"]) == 3
    starts = [c["startedAt"] for c in candles["candles"]]
    assert starts == sorted(starts, reverse=True) and min(starts) >= "2024-01-01T00:01"
    assert _get(f"{base}/v4/candles/perpetualMarkets/BTC-USD?resolution=2MIN")[0] == 400
    status, funding = _get(f"{base}/v4/historicalFunding/ETH-USD?limit=4")
    assert status == 200 and len(funding["historicalFunding"]) == 4
    status, sub = _get(f"{base}/v4/addresses/dydx1abc/subaccountNumber/0")
    assert status == 200 and sub["subaccount"]["equity"] == "10000"
    assert _get(f"{base}/v4/orderbooks/perpetualMarket/NOPE-USD")[0] == 404
    for decoded in (
        dydx.decode_perpetual_markets(markets),
        dydx.decode_orderbook(book, "BTC-USD"),
        dydx.decode_trades(trades, "BTC-USD"),
        dydx.decode_candles(candles, "BTC-USD"),
        dydx.decode_historical_funding(funding, "ETH-USD"),
        dydx.decode_subaccount(sub),
    ):
        assert decoded and not [e for e in decoded if isinstance(e, ErrorEvent)]


# -- faults --------------------------------------------------------------------------------


def test_drop_after_query_cuts_the_connection(simulator: SimulatorThread) -> None:
    client = Client(simulator.ws_url + "?drop_after=3")
    try:
        client.recv()
        client.send(type="subscribe", channel="v4_trades", id="BTC-USD")
        client.recv()
        client.recv()
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
            client.recv(timeout=3)
    finally:
        client.close()


def test_stall_garbage_drop_and_reject(simulator: SimulatorThread) -> None:
    client = Client(simulator.ws_url)
    try:
        client.recv()
        client.send(type="subscribe", channel="v4_trades", id="BTC-USD")
        client.recv()
        client.until(lambda m: m["type"] == "channel_data")
        assert simulator.send_garbage() == 1
        texts = [client.recv_text() for _ in range(6)]
        assert GARBAGE_TEXT in texts
        assert any(
            isinstance(e, ErrorEvent) and "not-a-price" in e.message
            for t in texts
            if t != GARBAGE_TEXT
            for e in dydx.decode_text(t)
        )
        assert simulator.stall() == 1
        client.collect(0.1)  # what was already on the wire
        assert client.collect(0.4) == [], "a stalled connection sends nothing"
        simulator.resume()
        assert client.until(lambda m: m["type"] == "channel_data")
        assert simulator.drop_connections() == 1
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
            client.collect(2.0)
    finally:
        client.close()
    simulator.reject_connections()
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        Client(simulator.ws_url)
    assert info.value.status_code == 503
    request = urllib.request.Request(
        simulator.rest_url + "/_sim/fault",
        data=json.dumps({"action": "accept"}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read())["action"] == "accept"
    again = Client(simulator.ws_url)
    assert again.recv()["type"] == "connected"
    again.close()


def test_replay_serves_captured_messages(
    dydx_data: Path, make_simulator: Callable[..., SimulatorThread]
) -> None:
    """``simulate --replay DIR`` on a folder of captured messages: the local indexer's
    recording (in the repository) and the real captures (when present)."""
    folder = dydx_data / "websocket"
    sim = make_simulator(replay_dir=folder, tick_ms=10, settle_ms=10)
    captured = json.loads((folder / "v4_orderbook_snapshot.json").read_text())
    trades = json.loads((folder / "v4_trades.json").read_text())
    client = Client(sim.ws_url)
    try:
        client.recv()
        client.send(type="subscribe", channel="v4_orderbook", id=captured["id"])
        snap = client.recv()
        assert snap["contents"] == captured["contents"]
        assert snap["message_id"] == 1 and snap["connection_id"] != captured["connection_id"]
        client.send(type="subscribe", channel="v4_trades", id=trades["id"])
        client.recv()
        data = client.until(lambda m: m["type"] == "channel_data" and m["channel"] == "v4_trades")
        assert data["contents"]["trades"][0]["id"] == trades["contents"]["trades"][0]["id"]
        client.send(type="subscribe", channel="v4_orderbook", id="NOPE-USD")
        assert "could not fetch data" in client.recv()["message"]
    finally:
        client.close()
