"""Routes: record production URLs from a local stand-in; replay needs neither."""

from __future__ import annotations

import json

import httpx
import pytest
import websocket
from servers import start_origin
from stream_servers import start_stream_origin

from pytest_streamreplay.cassette import iter_records
from pytest_streamreplay.harness import runtime, use_cassette


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMREPLAY_CACHE_DIR", str(tmp_path / "cache"))
    yield
    runtime().stop()


def test_http_and_websocket_recorded_under_the_original_urls(tmp_path) -> None:
    origin, streams = start_origin(), start_stream_origin()
    path = tmp_path / "c.jsonl"
    try:
        with use_cassette(path, record_mode="all") as sr:
            sr.route("https://indexer.example.test", origin.url)
            sr.route("wss://indexer.example.test/v4/ws", streams.ws_url + "/echo")
            live = httpx.get("https://indexer.example.test/v4/markets?x=1").json()
            ws = websocket.create_connection("wss://indexer.example.test/v4/ws", timeout=10)
            ws.send('{"type":"ping"}')
            echoed = ws.recv()
            ws.close()
    finally:
        origin.stop()
        streams.stop()
    assert live["path"] == "/v4/markets?x=1" and echoed == '{"type":"ping"}'
    records = list(iter_records(path))
    assert records[0].request.url == "https://indexer.example.test/v4/markets?x=1"
    assert dict(records[0].request.headers)["Host"] == "indexer.example.test"
    assert records[1].url == "wss://indexer.example.test/v4/ws"
    with use_cassette(path, record_mode="none", strict=True):
        assert httpx.get("https://indexer.example.test/v4/markets?x=1").json() == live
        ws = websocket.create_connection("wss://indexer.example.test/v4/ws", timeout=10)
        ws.send('{"type":"ping"}')
        assert json.loads(ws.recv()) == {"type": "ping"}
        ws.close()


def test_offsets_count_from_binding_not_from_the_proxy_start(tmp_path) -> None:
    """A cassette's first offset once included the proxy's start-up (1309 ms for an 80 ms
    request): the clock starts when the session is bound to a running proxy."""
    import time

    from pytest_streamreplay.harness import bound
    from pytest_streamreplay.session import CassetteSession

    runtime().stop()  # the first use in this process starts mitmproxy inside bound()
    session = CassetteSession(tmp_path / "c.jsonl", record_mode="all")
    before_binding = time.monotonic()
    with bound(session):
        assert runtime().started
        assert session.clock_origin >= before_binding
