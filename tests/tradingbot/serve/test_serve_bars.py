"""The bot's bars over the network (``tradingbot/serve``, ``--serve``).

In process: the hub's snapshot/live hand-over, the app's REST, WebSocket and page over a hub,
and a clean server shutdown with a client still connected. Out of process: ``tradingbot replay
--serve 0`` on the bundled cassette, read with a real WebSocket client and REST.
Everything listens on 127.0.0.1 only; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
import warnings
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from bot_process import BotProcess
from websockets.sync.client import connect

from pytest_streamreplay.streams.parity import canonical_json
from tradingbot.market.bars import Bar
from tradingbot.pipeline import replay
from tradingbot.serve import (
    BAR_CONFIRMED,
    BAR_FORMING,
    BarHub,
    BarServer,
    bar_parity,
    create_app,
)

with warnings.catch_warnings():  # starlette's note about httpx2 is not ours to act on
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parents[3]
CASSETTE = REPO / "cassettes" / "dydx" / "book_trades_candles.jsonl"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def sha256_of(bar: Any) -> str:
    return hashlib.sha256(canonical_json(bar).encode("utf-8")).hexdigest()


def make_bar(minute: int, close: str, *, confirmed: bool, market: str = "BTC-USD") -> Bar:
    start = T0 + minute * MINUTE
    price = Decimal(close)
    return Bar(
        market,
        "1MIN",
        start,
        start + MINUTE,
        price,
        price + 1,
        price - 1,
        price,
        Decimal("0.5"),
        price / 2,
        3,
        confirmed=confirmed,
    )


# -- the hub -----------------------------------------------------------------------------------


def test_hub_snapshot_then_live_from_another_thread() -> None:
    hub = BarHub(("1MIN",))
    first = make_bar(0, "100", confirmed=True)
    forming = make_bar(1, "101", confirmed=False)
    hub.publish(first)
    hub.publish(forming)
    assert hub.knows("BTC-USD", "1MIN") and not hub.knows("ETH-USD", "1MIN")
    assert not hub.knows("BTC-USD", "5MINS")

    async def scenario() -> list[dict[str, Any]]:
        sub = hub.subscribe("BTC-USD", "1MIN")
        assert [m["type"] for m in sub.initial] == [BAR_CONFIRMED, BAR_FORMING]
        assert sub.initial[0]["parity"] == sha256_of(first) == sha256_of(sub.initial[0]["bar"])

        def producer() -> None:
            hub.publish(make_bar(1, "102", confirmed=False))
            hub.publish(make_bar(1, "103", confirmed=True))
            hub.publish(make_bar(0, "5", confirmed=True, market="ETH-USD"))  # another key
            hub.close()

        thread = threading.Thread(target=producer)
        thread.start()
        received = []
        while (message := await asyncio.wait_for(sub.get(), 5)) is not None:
            received.append(message)
        thread.join(5)
        return received

    received = asyncio.run(scenario())
    assert [(m["type"], m["bar"]["close"]) for m in received] == [
        (BAR_FORMING, "102"),
        (BAR_CONFIRMED, "103"),
    ]
    for message in received:
        assert message["parity"] == sha256_of(message["bar"])
    # history: confirmed only, oldest first; the confirmed bar replaced the forming one
    assert [m["bar"]["close"] for m in hub.confirmed("BTC-USD", "1MIN")] == ["100", "103"]
    assert hub.forming("BTC-USD", "1MIN") is None
    assert hub.subscriber_count() == 0


def test_hub_overflow_ends_a_slow_subscription_and_markets_come_from_events() -> None:
    hub = BarHub(("1MIN",), markets=("SOL-USD",))

    async def scenario() -> tuple[list[Any], bool]:
        sub = hub.subscribe("BTC-USD", "1MIN", maxsize=2)
        for n in range(5):
            hub.publish(make_bar(n, str(100 + n), confirmed=True))
        await asyncio.sleep(0.05)  # let the loop run the deliveries
        got = []
        while (message := await asyncio.wait_for(sub.get(), 5)) is not None:
            got.append(message)
        return got, sub.overflowed

    got, overflowed = asyncio.run(scenario())
    assert overflowed and len(got) == 2
    assert hub.knows("SOL-USD", "1MIN")  # declared

    class Event:
        market = "DOGE-USD"

    hub.observe(Event())
    assert hub.knows("DOGE-USD", "1MIN")
    assert hub.markets() == ["BTC-USD", "DOGE-USD", "SOL-USD"]


# -- the app over a hub (in process) ---------------------------------------------------------


def test_app_rest_websocket_and_page() -> None:
    hub = BarHub(("1MIN",))
    hub.publish(make_bar(0, "100", confirmed=True))
    hub.publish(make_bar(1, "101", confirmed=False))
    with TestClient(create_app(hub)) as client:
        rest = client.get("/api/v1/bars/BTC-USD/1MIN")
        assert rest.status_code == 200
        [item] = rest.json()
        assert item["close"] == "100" and item["confirmed"] is True
        body = {k: v for k, v in item.items() if k != "parity"}
        assert item["parity"] == sha256_of(body) == bar_parity(make_bar(0, "100", confirmed=True))

        for path in ("/api/v1/bars/NOPE-USD/1MIN", "/api/v1/bars/BTC-USD/2MIN"):
            missing = client.get(path)
            assert missing.status_code == 404, path
            assert missing.headers["content-type"].startswith("application/json")
            assert "unknown" in missing.json()["error"]
        assert client.get("/api/v1/bars").json() == {
            "markets": ["BTC-USD"],
            "resolutions": ["1MIN"],
        }

        with client.websocket_connect("/ws/bars/BTC-USD/1MIN") as ws:
            assert ws.receive_json()["type"] == BAR_CONFIRMED
            assert ws.receive_json()["type"] == BAR_FORMING
            hub.publish(make_bar(1, "102", confirmed=True))
            live = ws.receive_json()
            assert (live["type"], live["bar"]["close"]) == (BAR_CONFIRMED, "102")
            assert live["parity"] == sha256_of(live["bar"])

        with client.websocket_connect("/ws/bars/BTC-USD/7MIN") as ws:
            assert ws.receive_json()["type"] == "ERROR"

        page = client.get("/bars/BTC-USD/1MIN")
        assert page.status_code == 200
        assert "/static/vendor/plotly.min.js" in page.text and "/ws/bars/" in page.text
        assert "cdn" not in page.text.lower()
        js = client.get("/static/vendor/plotly.min.js")
        assert js.status_code == 200 and len(js.content) > 100_000


def test_server_stops_cleanly_with_a_client_connected() -> None:
    hub = BarHub(("1MIN",))
    server = BarServer(hub).start()
    try:
        assert server.url.startswith("http://127.0.0.1:") and server.port != 0
        ws_url = server.url.replace("http://", "ws://") + "ws/bars/BTC-USD/1MIN"
        with connect(ws_url, open_timeout=5) as ws:
            deadline = time.monotonic() + 5
            while hub.subscriber_count() == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            hub.publish(make_bar(0, "100", confirmed=False))
            message = json.loads(ws.recv(timeout=5))
            assert message["type"] == BAR_FORMING
            started = time.monotonic()
            server.stop()
            assert time.monotonic() - started < 5
            assert not server.running
    finally:
        server.stop()


def test_a_bar_tap_leaves_the_run_unchanged() -> None:
    plain = replay([CASSETTE]).summary()
    hub = BarHub(("1MIN",))
    tapped = replay([CASSETTE], taps=[hub.observe]).summary()
    for key in ("intents_sha256", "fills_sha256", "equity", "bars_confirmed", "fills"):
        assert tapped[key] == plain[key], key
    confirmed = sum(len(hub.confirmed(m, "1MIN")) for m in hub.markets())
    assert confirmed == plain["bars_confirmed"]


# -- tradingbot replay --serve (out of process) ----------------------------------------------


def served_replay(*extra: str) -> BotProcess:
    """``tradingbot replay --headless --serve 0 ... CASSETTE`` in a subprocess."""
    return BotProcess("replay", "--headless", "--serve", "0", *extra, str(CASSETTE))


def test_replay_serves_bars_over_websocket_and_rest() -> None:
    if not CASSETTE.is_file():
        pytest.skip(f"{CASSETTE} missing")
    served = served_replay("--speed", "4", "--time-scale", "1", "--serve-linger", "20")
    try:
        url = served.serving_url()
        ws_url = url.replace("http://", "ws://") + "ws/bars/BTC-USD/1MIN"
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + 15
        with connect(ws_url, open_timeout=5) as ws:
            while time.monotonic() < deadline:
                message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
                messages.append(message)
                kinds = {m["type"] for m in messages}
                if BAR_CONFIRMED in kinds and BAR_FORMING in kinds:
                    break
        kinds = {m["type"] for m in messages}
        assert BAR_CONFIRMED in kinds and BAR_FORMING in kinds, messages
        for message in messages:
            assert message["bar"]["market"] == "BTC-USD"
            assert message["parity"] == sha256_of(message["bar"])
            assert (message["type"] == BAR_CONFIRMED) == message["bar"]["confirmed"]

        rest = httpx.get(url + "api/v1/bars/BTC-USD/1MIN", timeout=5)
        assert rest.status_code == 200
        bars = rest.json()
        assert bars and all(b["confirmed"] for b in bars)
        starts = [b["started_at"] for b in bars]
        assert starts == sorted(starts)
        by_start = {b["started_at"]: b for b in bars}
        for bar in bars:
            assert bar["parity"] == sha256_of({k: v for k, v in bar.items() if k != "parity"})
        for message in messages:
            if message["type"] == BAR_CONFIRMED:
                assert by_start[message["bar"]["started_at"]]["parity"] == message["parity"]

        missing = httpx.get(url + "api/v1/bars/NOPE-USD/1MIN", timeout=5)
        assert missing.status_code == 404
        assert missing.json()["error"].startswith("unknown market")
    finally:
        served.stop()


def test_replay_with_serve_exits_after_the_linger_with_the_usual_summary() -> None:
    if not CASSETTE.is_file():
        pytest.skip(f"{CASSETTE} missing")
    served = served_replay("--time-scale", "1", "--serve-linger", "0")
    try:
        served.serving_url()
        summary = served.summary(timeout=15)
        assert summary["bars_confirmed"] > 0
        assert summary["fills_sha256"] == replay([CASSETTE]).summary()["fills_sha256"]
    finally:
        served.stop()


def test_server_connections_send_small_messages_at_once() -> None:
    """The server binds its own socket for uvicorn; asyncio turns Nagle off only on connections
    of sockets created as IPPROTO_TCP. Without it, a second small message (a forming bar right
    after another) waits for the client's delayed ACK, ~40 ms."""
    import socket

    hub = BarHub(("1MIN",))
    server = BarServer(hub).start()
    try:
        ws_url = server.url.replace("http://", "ws://") + "ws/bars/BTC-USD/1MIN"
        with connect(ws_url, open_timeout=5):
            deadline = time.monotonic() + 5
            while hub.subscriber_count() == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert server._server is not None
            connections = list(server._server.server_state.connections)
            assert connections, "the WebSocket connection is served"
            options = [
                c.transport.get_extra_info("socket").getsockopt(
                    socket.IPPROTO_TCP, socket.TCP_NODELAY
                )
                for c in connections
            ]
            assert all(options), options
    finally:
        server.stop()
