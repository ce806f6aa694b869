"""Cassette directories for the dashboard tests: a dYdX-like feed, events, a corrupt file."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed")

with warnings.catch_warnings():  # starlette's note about httpx2 is not ours to act on
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from pytest_streamreplay.cassette import (
    CassetteWriter,
    Event,
    HttpInteraction,
    HttpRequest,
    HttpResponse,
    WsClose,
    WsConnection,
    WsMessage,
    encode_body,
    new_header,
    write_cassette,
)
from pytest_streamreplay.web import create_app

FEED_TEST = "tests/test_feed.py::test_book[BTC-USD]"
EVENTS_TEST = "tests/test_bot.py::test_session"
BIG_MESSAGES = 100_000


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def feed_records() -> list:
    """An HTTP call and two connections to a dYdX-like feed; one body has a redacted field."""

    def trade(i: int) -> dict:
        return {
            "type": "channel_data",
            "channel": "v4_trades",
            "id": "BTC-USD",
            "contents": {"trades": [{"price": str(97000 + i), "size": "0.5", "side": "BUY"}]},
        }

    book = {"type": "channel_data", "channel": "v4_orderbook", "contents": {"bids": [["1", "2"]]}}
    records: list = [
        HttpInteraction(
            id=1,
            request=HttpRequest.build("GET", "https://indexer.test/v4/perpetualMarkets", [], b""),
            response=HttpResponse(200, "OK", body=encode_body(b'{"markets":{"BTC-USD":{}}}')),
            t=5.0,
            duration_ms=12.0,
        ),
        WsConnection(id=1, url="wss://indexer.test/v4/ws", t=20.0),
        WsMessage.build(
            1,
            "send",
            1.0,
            _json({"type": "subscribe", "channel": "v4_trades", "apiKey": "REDACTED"}),
            False,
        ),
        WsConnection(id=2, url="wss://other.test/stream", t=25.0),
    ]
    for i in range(10):
        records.append(WsMessage.build(1, "recv", 40.0 + 100 * i, _json(trade(i)), False))
    records.append(WsMessage.build(1, "recv", 500.0, _json(book), False))
    records.append(WsMessage.build(2, "recv", 41.0, b"\x00\x01binary", True))
    records.append(WsMessage.build(2, "recv", 60.0, b"plain text hello", False))
    records.append(WsClose(conn=1, t=1200.0, code=1000, reason="done", by="client"))
    return records


def event_records(n: int = 40, step: float = 25.0) -> list:
    names = ("Bar", "Fill")
    return [
        Event(session="s1", t=i * step, name=names[i % 2], data={"seq": i, "channel": "bars"})
        for i in range(n)
    ]


@pytest.fixture
def cassette_dir(tmp_path: Path) -> Path:
    root = tmp_path / "cassettes"
    write_cassette(root / "feed" / "test_book.jsonl", new_header(test=FEED_TEST), feed_records())
    write_cassette(root / "bot" / "session.jsonl", new_header(test=EVENTS_TEST), event_records())
    return root


@pytest.fixture
def corrupt(cassette_dir: Path) -> Path:
    path = cassette_dir / "broken.jsonl"
    path.write_text(
        '{"kind":"header","format":"streamreplay-cassette","version":1}\n'
        '{"kind":"ws","id":1,"url":"wss://x.test","t":0}\n'
        '{"kind":"ws_msg", oops\n'
    )
    return path


TOKEN = "test-write-token"


def dashboard_client(directory: Path) -> TestClient:
    """A client as the dashboard's own pages are: addressed as 127.0.0.1, sending the token."""
    return TestClient(
        create_app(directory, token=TOKEN),
        base_url="http://127.0.0.1:8765",
        headers={"X-StreamReplay-Token": TOKEN},
    )


@pytest.fixture
def client(cassette_dir: Path) -> Iterator[TestClient]:
    with dashboard_client(cassette_dir) as test_client:
        yield test_client


def write_big(path: Path, messages: int = BIG_MESSAGES) -> Path:
    """One connection with ``messages`` received messages, one per millisecond."""
    with CassetteWriter(path, new_header(test="tests/test_big.py::test_big")) as writer:
        writer.write(WsConnection(id=1, url="wss://indexer.test/v4/ws", t=0.0))
        for i in range(messages):
            channel = "v4_trades" if i % 4 else "v4_orderbook"
            writer.write(
                {
                    "kind": "ws_msg",
                    "conn": 1,
                    "dir": "recv",
                    "t": float(i),
                    "json": {"channel": channel, "seq": i},
                }
            )
    return path


@pytest.fixture(scope="session")
def big_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("big")
    write_big(root / "big.jsonl")
    return root


# The browser tests of the layout (test_layout.py, test_grpc_browser.py) share one 1400x900
# context per module and a watched page on the module's ``served`` URL; test_browser.py and
# test_hostile.py define their own.
LAYOUT_WIDTH, LAYOUT_HEIGHT = 1400, 900


@pytest.fixture(scope="module")
def context() -> Iterator[Any]:
    from chromium import desktop_context, launched

    with launched() as browser, desktop_context(browser, LAYOUT_WIDTH, LAYOUT_HEIGHT) as context:
        yield context


@pytest.fixture
def page(context: Any, served: str) -> Iterator[Any]:
    from chromium import watched_page

    with watched_page(context, served) as page:
        yield page
