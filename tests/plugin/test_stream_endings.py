"""Streams that end early or badly, and connections still open when the test returns: each is
written to the cassette with what was delivered and how it ended, and replayed the same way."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx  # noqa: F401  one copy of each client for all inline runs
import openai  # noqa: F401
import pytest
import requests  # noqa: F401
import websocket  # noqa: F401
from pytester_helpers import SLOW_PROXY, cassette_files, cassette_lines
from stream_servers import StreamOrigin, start_stream_origin

from pytest_streamreplay.cassette import new_header, write_cassette
from pytest_streamreplay.cassette.records import Chunk


@pytest.fixture
def streams() -> Iterator[StreamOrigin]:
    server = start_stream_origin()
    yield server
    server.stop()


def _runs(inner: pytest.Pytester) -> list[dict]:
    out = inner.path / "out"
    return [json.loads((out / f"run{i}.json").read_text()) for i in range(len(list(out.iterdir())))]


def _body(response: dict) -> str:
    return b"".join(Chunk.from_json(c).content for c in response["chunks"]).decode()


def _http_records(inner: pytest.Pytester) -> list[dict]:
    (path,) = cassette_files(inner)
    return [r for r in cassette_lines(path) if r["kind"] == "http"]


# -- part 1: the openai SDK, returning right after [DONE] -----------------------------------

OPENAI_TEST = """
import json, os, pathlib, openai, pytest

@pytest.mark.streamreplay
def test_chat():
    client = openai.OpenAI(
        base_url=os.environ["URL"] + "/v1", api_key="sk-test-not-a-secret", max_retries=0
    )
    stream = client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.json").write_text(json.dumps({"text": text}))
"""


@pytest.mark.parametrize("attempt", range(5))
def test_openai_stream_ending_at_done_is_written(inner, monkeypatch, streams, attempt):
    monkeypatch.setenv("URL", streams.http_url)
    inner.makepyfile(test_chat=OPENAI_TEST)
    recorded = inner.runpytest("--record-mode=once", "-v")
    recorded.assert_outcomes(passed=1)
    recorded.stdout.fnmatch_lines(["*cassettes: 1 recorded*", "*recorded*test_chat*(1 http*"])
    (record,) = _http_records(inner)
    assert record["request"]["url"].endswith("/v1/chat/completions")
    assert "data: [DONE]" in _body(record["response"])
    streams.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    live, replayed = _runs(inner)
    assert live["text"].startswith("Hello from ") and replayed == live


WHOLE_BODIES_TEST = """
import os, httpx, pytest

@pytest.mark.streamreplay
def test_bodies():
    assert httpx.get(os.environ["ORIGIN"] + "/item").json()["path"] == "/item"
    assert len(httpx.get(os.environ["ORIGIN"] + "/bytes/2000000").content) == 2000000
"""


def test_bodies_read_whole_before_the_proxy_wrote_them_are_saved(inner, monkeypatch, origin):
    """A client has a body with a Content-Length as soon as its last byte passed, before the
    proxy's response hook ran: the test may return and its cassette be saved meanwhile. The
    save waits for every exchange being written (here written 0.5 s late, as on a busy box)."""
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makeconftest(SLOW_PROXY)
    inner.makepyfile(test_bodies=WHOLE_BODIES_TEST)
    result = inner.runpytest("--record-mode=once")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*cassettes: 1 recorded, 0 replayed, 2 interactions written*"])
    records = _http_records(inner)
    assert [r["request"]["url"].rsplit("/", 1)[1] for r in records] == ["item", "2000000"]
    assert all("end" not in r["response"] for r in records), "finished, not cut off"
    origin.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)


# -- part 2: streams that end early or badly ---------------------------------------------------

CLIENTS = {
    "httpx": """
import httpx
def read(url, n, timeout):
    items, end = [], "ok"
    try:
        with httpx.stream("GET", url, timeout=timeout) as r:
            for line in r.iter_lines():
                if line.startswith(("data: ", "{")):
                    items.append(line)
                    if len(items) == n:
                        end = "stopped"
                        break
    except Exception as exc:
        end = type(exc).__name__
    return items, end
""",
    "httpx-h2": """
import httpx
def read(url, n, timeout):
    items, end, version = [], "ok", None
    try:
        with httpx.Client(http2=True, timeout=timeout) as client:
            with client.stream("GET", url) as r:
                version = r.http_version
                for line in r.iter_lines():
                    if line.startswith(("data: ", "{")):
                        items.append(line)
                        if len(items) == n:
                            end = "stopped"
                            break
    except Exception as exc:
        end = type(exc).__name__
    assert version == "HTTP/2", version  # the proxy spoke HTTP/2 to the client
    return items, end
""",
    "aiohttp": """
import asyncio, aiohttp
def read(url, n, timeout):
    async def main():
        items, end = [], "ok"
        try:
            # the default session (trust_env=False): the plugin still routes it to the proxy
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(sock_read=timeout)) as s:
                async with s.get(url) as r:
                    async for raw in r.content:
                        line = raw.decode().strip()
                        if line.startswith(("data: ", "{")):
                            items.append(line)
                            if len(items) == n:
                                end = "stopped"
                                break
        except Exception as exc:
            end = type(exc).__name__
        return items, end
    return asyncio.run(main())
""",
    "requests": """
import requests
def read(url, n, timeout):
    items, end = [], "ok"
    try:
        with requests.get(url, stream=True, timeout=timeout) as r:
            for raw in r.iter_lines(chunk_size=1):
                line = raw.decode()
                if line.startswith(("data: ", "{")):
                    items.append(line)
                    if len(items) == n:
                        end = "stopped"
                        break
    except Exception as exc:
        end = type(exc).__name__
    return items, end
""",
}

FEED_TEST = """
import json, os, pathlib, pytest

KEEP = []

@pytest.mark.streamreplay
def test_feed():
    items, end = read(os.environ["URL"], int(os.environ["N"]), float(os.environ["TIMEOUT"]))
    out = pathlib.Path(os.environ["OUT"])
    run = out / f"run{len(list(out.iterdir()))}.json"
    run.write_text(json.dumps({"items": items, "end": end}))
"""

# name: (server attribute, path, events to read (0: all), client timeout, recorded ending)
ENDINGS = {
    "client-reads-3-of-endless": ("http_url", "/endless", 3, 10.0, "client_closed"),
    "origin-closes-mid-body": ("raw_url", "/cut-length", 0, 10.0, "origin_closed"),
    "truncated-chunked-body": ("raw_url", "/truncated-chunked", 0, 10.0, "truncated"),
    "origin-slower-than-timeout": ("raw_url", "/slow", 0, 1.0, "client_closed"),
    # bodies no type marks as streams: the client still sees what the origin sent, not a 502
    "origin-closes-mid-plain-body": ("raw_url", "/cut-plain", 0, 10.0, "origin_closed"),
    "truncated-chunked-json": ("raw_url", "/truncated-json", 0, 10.0, "truncated"),
}


@pytest.fixture
def tls_streams(origin_cert) -> Iterator[StreamOrigin]:
    server = start_stream_origin(origin_cert)
    yield server
    server.stop()


@pytest.mark.parametrize("client", ["httpx", "requests", "aiohttp", "httpx-h2"])
@pytest.mark.parametrize("case", sorted(ENDINGS))
def test_unfinished_stream_is_recorded_and_replayed_with_its_ending(
    inner, monkeypatch, request, client, case
):
    """httpx and requests over HTTP/1.1, and httpx over HTTP/2 (TLS: the proxy speaks h2 to a
    client that offers it), where a client leaving is told apart from an origin closing by the
    client's connection, not by mitmproxy's message."""
    streams = request.getfixturevalue("tls_streams" if client == "httpx-h2" else "streams")
    attr, path, n, timeout, ending = ENDINGS[case]
    monkeypatch.setenv("URL", getattr(streams, attr) + path)
    monkeypatch.setenv("N", str(n))
    monkeypatch.setenv("TIMEOUT", str(timeout))
    inner.makepyfile(test_feed=CLIENTS[client] + FEED_TEST)
    inner.runpytest("--record-mode=once", "--upstream-insecure").assert_outcomes(passed=1)
    (record,) = _http_records(inner)
    response = record["response"]
    assert response["end"] == ending
    streams.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    live, replayed = _runs(inner)
    # The client saw something, then the stream's ending (never a clean finish) ...
    assert live["items"] and live["end"] != "ok", live
    # ... the cassette holds what it saw ...
    body = _body(response)
    assert all(item in body for item in live["items"])
    # ... and replay gives it the same items and the same ending.
    assert replayed == live


@pytest.mark.parametrize("mode", ["new_episodes", "all"])
def test_a_broken_body_is_recorded_with_its_ending_in_every_recording_mode(
    inner, monkeypatch, streams, mode
):
    """The same as ``once`` when the cassette exists already: added (``new_episodes``) or
    recorded again (``all``), with what was delivered and how it ended."""
    monkeypatch.setenv("URL", streams.raw_url + "/cut-plain")
    monkeypatch.setenv("N", "0")
    monkeypatch.setenv("TIMEOUT", "10")
    inner.makepyfile(test_feed=CLIENTS["httpx"] + FEED_TEST)
    (inner.path / "cassettes" / "test_feed").mkdir(parents=True)
    write_cassette(inner.path / "cassettes" / "test_feed" / "test_feed.jsonl", new_header(), [])
    inner.runpytest(f"--record-mode={mode}").assert_outcomes(passed=1)
    (record,) = _http_records(inner)
    assert record["response"]["end"] == "origin_closed"
    assert record["response"]["status"] == 200 and _body(record["response"])
    streams.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    live, replayed = _runs(inner)
    assert live["items"] and live["end"] == "RemoteProtocolError" and replayed == live


@pytest.mark.parametrize("client", ["httpx", "requests", "aiohttp"])
@pytest.mark.parametrize(
    ("path", "status", "ending"),
    [("/slow-headers", 0, "no_response"), ("/slow-json", 200, "client_closed")],
)
def test_client_timing_out_before_any_body_is_recorded_and_replayed(
    inner, monkeypatch, streams, client, path, status, ending
):
    """No headers in time: nothing reached the client. Headers, then no body in time: the
    client had the headers (the proxy passes them on at once, as the origin sent them), and
    times out reading the body, live and replayed."""
    monkeypatch.setenv("URL", streams.raw_url + path)
    monkeypatch.setenv("N", "0")
    monkeypatch.setenv("TIMEOUT", "1.0")
    inner.makepyfile(test_feed=CLIENTS[client] + FEED_TEST)
    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    (record,) = _http_records(inner)
    assert record["request"]["url"].endswith(path)
    assert record["response"]["end"] == ending
    assert record["response"]["status"] == status and record["response"]["chunks"] == []
    streams.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    live, replayed = _runs(inner)
    assert live["items"] == [], live
    assert "Timeout" in live["end"] or live["end"] == "ConnectionError", live
    assert replayed == live


LEFT_OPEN_TEST = """
import json, os, pathlib, httpx, pytest

KEEP = []

@pytest.mark.streamreplay
def test_left_open():
    client = httpx.Client(timeout=10)
    response = client.send(httpx.Request("GET", os.environ["URL"]), stream=True)
    lines = response.iter_lines()  # an abandoned iterator would close the stream when freed
    KEEP.append((client, response, lines))  # never closed: still live when the test returns
    items = []
    for line in lines:
        if line.startswith("data: "):
            items.append(line)
            if len(items) == 3:
                break
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.json").write_text(json.dumps(items))
"""


def test_stream_still_open_at_teardown_is_cut_and_written(inner, monkeypatch, streams):
    monkeypatch.setenv("URL", streams.http_url + "/endless")
    inner.makepyfile(test_left_open=LEFT_OPEN_TEST)
    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    (record,) = _http_records(inner)
    assert record["response"]["end"] == "cut_at_teardown"
    body = _body(record["response"])
    streams.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    live, replayed = _runs(inner)
    assert len(live) == 3 and all(item in body for item in live) and replayed == live


# -- the same for WebSockets -----------------------------------------------------------------

WS_TEST = """
import json, os, pathlib, pytest, websocket

KEEP = []

@pytest.mark.streamreplay
def test_ws():
    ws = websocket.create_connection(os.environ["URL"], timeout=10)
    got = [json.loads(ws.recv())]
    ws.send(json.dumps({"type": "subscribe", "channel": "v4_trades", "id": "BTC-USD"}))
    got += [json.loads(ws.recv()) for _ in range(2)]
    if os.environ["HOW"] == "closed":
        ws.close()
    else:
        KEEP.append(ws)  # still open when the test returns
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.json").write_text(json.dumps(got))
"""


@pytest.mark.parametrize("how", ["left-open", "closed"])
def test_websocket_open_or_just_closed_at_teardown_is_written_with_its_end(
    inner, monkeypatch, streams, how
):
    monkeypatch.setenv("URL", streams.ws_url + "/v4/ws")
    monkeypatch.setenv("HOW", how)
    monkeypatch.setenv("BATCHES", "200")  # the origin keeps sending after the test has read
    inner.makepyfile(test_ws=WS_TEST)
    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    (path,) = cassette_files(inner)
    lines = cassette_lines(path)
    kinds = [r["kind"] for r in lines]
    assert kinds[:2] == ["header", "ws"] and kinds[-1] == "ws_close", kinds
    assert kinds.count("ws_msg") >= 4  # connected, subscribe, subscribed, first batch
    assert lines[-1]["by"] == ("teardown" if how == "left-open" else "client")
    streams.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    live, replayed = _runs(inner)
    assert live[1]["type"] == "subscribed"
    assert replayed == live


# -- the same for gRPC server streams (HTTP/2, replayed by the HTTP/2 replay origin) ---------

GRPC_DEADLINE_TEST = """
import json, os, pathlib, grpc, pytest

@pytest.mark.streamreplay
def test_deadline():
    got, code = [], None
    with grpc.insecure_channel(os.environ["GRPC_TARGET"]) as ch:
        try:
            for message in ch.unary_stream("/test.Echo/Stream")(b"40", timeout=0.5):
                got.append(message.decode())
        except grpc.RpcError as exc:
            code = exc.code().name
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.json").write_text(json.dumps([got, code]))
"""


def test_grpc_stream_cut_by_the_client_deadline_replays_the_same_ending(inner, monkeypatch):
    pytest.importorskip("grpc", reason="grpcio is not installed (the dev group brings it)")
    from grpc_servers import start_grpc_origin

    server = start_grpc_origin()  # 40 messages 50 ms apart: longer than the 0.5 s deadline
    monkeypatch.setenv("GRPC_TARGET", server.target)
    inner.makepyfile(test_rpc=GRPC_DEADLINE_TEST)
    try:
        inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    finally:
        server.stop()
    (record,) = _http_records(inner)
    # Both ends hold the deadline (the client sends it as grpc-timeout): the client's own timer
    # cuts the stream (recorded client_closed), or, on a loaded box, the server's fires first and
    # it ends the call itself with DEADLINE_EXCEEDED in its trailers. Each is what the client saw.
    response = record["response"]
    trailers = {name.lower(): value for name, value in response.get("trailers") or []}
    assert response.get("end") == "client_closed" or (
        "end" not in response and trailers.get("grpc-status") == "4"
    ), json.dumps(response)[:2000]
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    (live, live_code), (replayed, replayed_code) = _runs(inner)
    assert live and live_code == replayed_code == "DEADLINE_EXCEEDED"
    # replay delivers what passed the proxy: what the client read, and at most what was in flight
    assert replayed[: len(live)] == live and len(replayed) <= len(live) + 1
