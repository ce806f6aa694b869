"""WebSocket record/replay through the proxy with real clients and real servers: the same
sequence back, in order, conversation-gated, on time, and strict about what the client sends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp  # noqa: F401  one copy of each client for all inline runs
import pytest
import websocket  # noqa: F401
import websockets  # noqa: F401
from pytester_helpers import cassette_files, cassette_lines
from stream_servers import StreamOrigin, start_stream_origin
from timing import assert_did_not_wait, assert_on_recorded_offsets

from pytest_streamreplay.cassette import decode_body

CLIENTS = """
import asyncio, json, time


def _value(data):
    if isinstance(data, bytes):
        return {"binary": data.hex()}
    try:
        return json.loads(data)
    except ValueError:
        return data


def converse_websocket_client(url, steps):
    import websocket
    ws = websocket.create_connection(url, timeout=20)
    t0, events = time.monotonic(), []
    try:
        for step in steps:
            if "send" in step:
                ws.send(json.dumps(step["send"]))
            elif "recv" in step:
                for _ in range(step["recv"]):
                    opcode, data = ws.recv_data()
                    events.append([_value(data if opcode == 2 else data.decode()),
                                   (time.monotonic() - t0) * 1000])
            elif "drain" in step:
                try:
                    while True:
                        opcode, data = ws.recv_data()
                        if opcode == 8:
                            break
                        events.append([_value(data if opcode == 2 else data.decode()),
                                       (time.monotonic() - t0) * 1000])
                except websocket.WebSocketConnectionClosedException:
                    pass
                events.append(["closed", None])
    finally:
        ws.close()
    return events


async def _converse_websockets(url, steps):
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed
    events = []
    async with connect(url, max_size=None, open_timeout=20) as ws:
        t0 = time.monotonic()
        for step in steps:
            if "send" in step:
                await ws.send(json.dumps(step["send"]))
            elif "recv" in step:
                for _ in range(step["recv"]):
                    events.append([_value(await ws.recv()), (time.monotonic() - t0) * 1000])
            elif "drain" in step:
                try:
                    while True:
                        events.append([_value(await ws.recv()), (time.monotonic() - t0) * 1000])
                except ConnectionClosed:
                    events.append(["closed", None])
    return events


def converse_websockets(url, steps):
    return asyncio.run(_converse_websockets(url, steps))


async def _converse_aiohttp(url, steps, **session_args):
    import aiohttp
    events = []
    async with aiohttp.ClientSession(**session_args) as session:
        async with session.ws_connect(url, max_msg_size=0) as ws:
            t0 = time.monotonic()
            for step in steps:
                if "send" in step:
                    await ws.send_str(json.dumps(step["send"]))
                elif "recv" in step:
                    for _ in range(step["recv"]):
                        msg = await ws.receive(timeout=20)
                        events.append([_value(msg.data), (time.monotonic() - t0) * 1000])
                elif "drain" in step:
                    async for msg in ws:
                        events.append([_value(msg.data), (time.monotonic() - t0) * 1000])
                    events.append(["closed", None])
    return events


def converse_aiohttp(url, steps):
    return asyncio.run(_converse_aiohttp(url, steps, trust_env=True))


def converse_aiohttp_default(url, steps):
    # aiohttp's own default is trust_env=False; a bound test's sessions trust the environment
    return asyncio.run(_converse_aiohttp(url, steps))
"""

TEST = """
import json, os, pathlib, pytest, wsclients

@pytest.mark.streamreplay
def test_ws():
    steps = json.loads(os.environ["STEPS"])
    events = getattr(wsclients, "converse_" + os.environ["CLIENT"])(os.environ["URL"], steps)
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.json").write_text(json.dumps(events))
"""

SUBSCRIBE = {"type": "subscribe", "channel": "v4_orderbook", "id": "BTC-USD"}
INDEXER_STEPS = [{"recv": 1}, {"send": SUBSCRIBE}, {"recv": 5}]


@pytest.fixture
def ws_origin(request: pytest.FixtureRequest, origin_cert) -> Iterator[StreamOrigin]:
    server = start_stream_origin(origin_cert if getattr(request, "param", "ws") == "wss" else None)
    yield server
    server.stop()


@pytest.fixture
def ws_inner(inner, monkeypatch, origin_cert):
    inner.makepyfile(wsclients=CLIENTS, test_ws=TEST)
    inner.ca_args = (f"--upstream-ca={origin_cert[0]}",)
    return inner


def _runs(pytester) -> list[list]:
    files = sorted((pytester.path / "out").glob("run*.json"), key=lambda p: int(p.stem[3:]))
    return [json.loads(p.read_text()) for p in files]


def _values(events: list) -> list:
    return [e[0] for e in events]


def _converse(pytester, monkeypatch, url: str, client: str, steps: list, *args: str):
    monkeypatch.setenv("URL", url)
    monkeypatch.setenv("CLIENT", client)
    monkeypatch.setenv("STEPS", json.dumps(steps))
    return pytester.runpytest(*args)


@pytest.mark.parametrize("ws_origin", ["ws", "wss"], indirect=True)
@pytest.mark.parametrize("client", ["websocket_client", "websockets", "aiohttp", "aiohttp_default"])
def test_record_then_replay_instant_and_recorded(ws_inner, ws_origin, monkeypatch, client):
    url = ws_origin.ws_url + "/v4/ws"
    _converse(
        ws_inner, monkeypatch, url, client, INDEXER_STEPS, "--record-mode=once", *ws_inner.ca_args
    ).assert_outcomes(passed=1)
    ws_origin.stop()
    for speed in ("instant", "recorded"):
        result = _converse(
            ws_inner,
            monkeypatch,
            url,
            client,
            INDEXER_STEPS,
            "--replay-strict",
            f"--replay-speed={speed}",
        )
        result.assert_outcomes(passed=1)
    recorded, instant, timed = _runs(ws_inner)
    assert _values(instant) == _values(recorded) == _values(timed)
    assert recorded[1][0]["type"] == "subscribed" and len(recorded) == 6
    lines = cassette_lines(cassette_files(ws_inner)[0])
    # Recorded timing holds: each message after the subscription arrives at its recorded offset
    # (relative to the reply that follows the subscription), never early and with no drift; the
    # benchmark (docs/benchmarks.md) measures the distribution precisely.
    recorded_t = [r["t"] for r in lines if r.get("dir") == "recv"][1:]
    want = [t - recorded_t[0] for t in recorded_t]
    got = [e[1] - timed[1][1] for e in timed[1:]]
    assert want[-1] >= 150, "the server spaced its batches 50 ms apart"
    assert_on_recorded_offsets(got, want)
    assert_did_not_wait(instant[-1][1] - instant[1][1], want[-1])

    kinds = [r["kind"] for r in lines[1:]]
    assert kinds[0] == "ws" and kinds[-1] == "ws_close"
    assert lines[1]["url"].startswith("wss://" if url.startswith("wss") else "ws://")
    sent = [r for r in lines if r.get("dir") == "send"]
    assert sent == [{**sent[0], "json": SUBSCRIBE}], "client messages are recorded as JSON"


def test_strict_fails_on_changed_subscribe_with_a_json_diff(ws_inner, ws_origin, monkeypatch):
    url = ws_origin.ws_url + "/v4/ws"
    _converse(
        ws_inner, monkeypatch, url, "websocket_client", INDEXER_STEPS, "--record-mode=once"
    ).assert_outcomes(passed=1)
    ws_origin.stop()
    changed = [{"recv": 1}, {"send": {**SUBSCRIBE, "id": "ETH-USD"}}, {"recv": 5}]
    result = _converse(ws_inner, monkeypatch, url, "websocket_client", changed, "--replay-strict")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*connection #0 ws://127.0.0.1:*/v4/ws: client message #1 does not match the recording",
            '*expected: {"channel": "v4_orderbook", "id": "BTC-USD", "type": "subscribe"}',
            '*actual:   {"channel": "v4_orderbook", "id": "ETH-USD", "type": "subscribe"}',
            '*-  "id": "BTC-USD",',
            '*+  "id": "ETH-USD",',
        ]
    )
    # Non-strict replay logs the difference and carries on with the recorded stream.
    _converse(ws_inner, monkeypatch, url, "websocket_client", changed).assert_outcomes(passed=1)
    assert _values(_runs(ws_inner)[-1]) == _values(_runs(ws_inner)[0])


def test_ignored_paths_and_unread_tail(ws_inner, ws_origin, monkeypatch):
    url = ws_origin.ws_url + "/v4/ws"
    two = [
        {"recv": 1},
        {"send": {**SUBSCRIBE, "nonce": 1}},
        {"recv": 5},
        {"send": {**SUBSCRIBE, "channel": "v4_trades", "nonce": 2}},
        {"recv": 5},
    ]
    _converse(
        ws_inner, monkeypatch, url, "websocket_client", two, "--record-mode=once"
    ).assert_outcomes(passed=1)
    ws_origin.stop()
    renonced = [
        {"recv": 1},
        {"send": {**SUBSCRIBE, "nonce": 7}},
        {"recv": 5},
        {"send": {**SUBSCRIBE, "channel": "v4_trades", "nonce": 8}},
        {"recv": 5},
    ]
    ws_inner.makeini("[pytest]\nstreamreplay_message_ignore = nonce\n")
    _converse(
        ws_inner, monkeypatch, url, "websocket_client", renonced, "--replay-strict"
    ).assert_outcomes(passed=1)
    # The client never sends the second subscription: what it gates is never delivered.
    result = _converse(
        ws_inner, monkeypatch, url, "websocket_client", renonced[:3], "--replay-strict"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*connection #0 ws://*/v4/ws: the connection closed with 6 recorded message(s) never "
            "delivered, from message #7 (next expected: client message*v4_trades*"
        ]
    )


def test_multiple_connections_match_by_url_and_order(ws_inner, ws_origin, monkeypatch):
    ws_inner.makepyfile(
        test_ws="""
import json, os, pathlib, pytest, websocket

def talk(path, text):
    ws = websocket.create_connection(os.environ["BASE"] + path, timeout=10)
    ws.send(text)
    reply = ws.recv()
    ws.close()
    return reply

@pytest.mark.streamreplay
def test_ws():
    replies = [talk("/echo", "first"), talk("/echo?room=2", "other"), talk("/echo", "second")]
    assert replies == ["first", "other", "second"]
    if os.environ.get("EXTRA"):
        talk("/echo", "third")
"""
    )
    monkeypatch.setenv("BASE", ws_origin.ws_url)
    ws_inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    ws_origin.stop()
    ws_inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    monkeypatch.setenv("EXTRA", "1")
    result = ws_inner.runpytest("--replay-strict")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*Unexpected WebSocket connection to ws://127.0.0.1:*/echo*",
            "*the recording has 2 connection(s) to this URL, all already used by this test*",
        ]
    )


@pytest.mark.parametrize(
    ("path", "steps", "check"),
    [
        ("/abnormal", [{"drain": True}], "abnormal"),
        ("/binary", [{"drain": True}], "binary"),
        ("/large", [{"drain": True}], "large"),
        ("/many", [{"drain": True}], "many"),
    ],
)
def test_edge_streams(ws_inner, ws_origin, monkeypatch, path, steps, check):
    url = ws_origin.ws_url + path
    _converse(
        ws_inner, monkeypatch, url, "websocket_client", steps, "--record-mode=once"
    ).assert_outcomes(passed=1)
    ws_origin.stop()
    _converse(
        ws_inner, monkeypatch, url, "websocket_client", steps, "--replay-strict"
    ).assert_outcomes(passed=1)
    recorded, replayed = _runs(ws_inner)
    assert _values(replayed) == _values(recorded)
    lines = cassette_lines(cassette_files(ws_inner)[0])
    close = lines[-1]
    assert close["kind"] == "ws_close"
    if check == "abnormal":
        assert close["by"] == "server" and close["code"] in (1006, None)
    elif check == "binary":
        assert [r.get("binary") for r in lines if r["kind"] == "ws_msg"] == [True] * 3
        assert (close["code"], close["reason"], close["by"]) == (4001, "done with binary", "server")
        assert all("binary" in v for v in _values(recorded)[:3])
    elif check == "large":
        assert len(_values(recorded)[0]["blob"]) >= 999_000
    else:
        assert len(recorded) == 10_001 and _values(recorded)[-2]["i"] == 9_999


def test_dydx_indexer_socket(ws_inner, ws_origin, monkeypatch):
    pytest.importorskip(
        "dydx_v4_client", reason="dydx-v4-client is not installed (Python < 3.13 only)"
    )
    ws_inner.makepyfile(
        test_ws="""
import json, os, pathlib, threading, pytest
from dydx_v4_client.indexer.socket.websocket import IndexerSocket

@pytest.mark.streamreplay
def test_orderbook():
    got, done = [], threading.Event()

    def on_open(ws):
        ws.order_book.subscribe("BTC-USD")

    def on_message(ws, message):
        got.append(message)
        if len(got) == 6:
            done.set()
            ws.close()

    socket = IndexerSocket(os.environ["URL"], on_open=on_open, on_message=on_message)
    thread = threading.Thread(target=socket.run_forever, daemon=True)
    thread.start()
    assert done.wait(20)
    thread.join(10)
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.json").write_text(json.dumps([[m, 0] for m in got]))
"""
    )
    monkeypatch.setenv("URL", ws_origin.ws_url + "/v4/ws")
    ws_inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    ws_origin.stop()
    ws_inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    recorded, replayed = _runs(ws_inner)
    assert _values(recorded) == _values(replayed)
    assert [m["type"] for m in _values(recorded)][:2] == ["connected", "subscribed"]
    sent = [r for r in cassette_lines(cassette_files(ws_inner)[0]) if r.get("dir") == "send"]
    assert sent[0]["json"]["channel"] == "v4_orderbook" and sent[0]["json"]["batched"] is True


def test_handshake_secrets_and_message_fields_are_redacted(ws_inner, ws_origin, monkeypatch):
    ws_inner.makepyfile(
        test_ws="""
import json, os, pytest, websocket

@pytest.mark.streamreplay
def test_auth():
    ws = websocket.create_connection(os.environ["URL"] + "?api_key=url-secret-1234",
                                     header=["Authorization: Bearer hs-secret-5678"], timeout=10)
    ws.send(json.dumps({"op": "auth", "signature": "sig-secret-9012", "key": "abc"}))
    assert json.loads(ws.recv())["op"] == "auth"
    ws.close()
"""
    )
    monkeypatch.setenv("URL", ws_origin.ws_url + "/echo")
    ws_inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    text = cassette_files(ws_inner)[0].read_text()
    for secret in ("url-secret-1234", "hs-secret-5678", "sig-secret-9012"):
        assert secret not in text
    ws_origin.stop()
    ws_inner.runpytest("--replay-strict").assert_outcomes(passed=1)


def test_secrets_in_binary_messages_are_redacted_and_still_match(ws_inner, ws_origin, monkeypatch):
    """A binary frame (protobuf, msgpack...) holding a mnemonic: redacted in place, same length
    (the frame's own lengths stay true), and the client sending it again matches."""
    from secret_samples import MNEMONIC

    ws_inner.makepyfile(
        test_ws="""
import os, pytest, websocket

@pytest.mark.streamreplay
def test_wallet():
    frame = bytes([0x0A, len(os.environ["SEED"])]) + os.environ["SEED"].encode() + b"\\x10\\x01"
    ws = websocket.create_connection(os.environ["URL"], timeout=10)
    ws.send_binary(frame)
    echoed = ws.recv()
    ws.close()
    assert len(echoed) == len(frame) and echoed[:2] == frame[:2] and echoed[-2:] == b"\\x10\\x01"
"""
    )
    monkeypatch.setenv("URL", ws_origin.ws_url + "/echo")
    monkeypatch.setenv("SEED", MNEMONIC)
    ws_inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    stored = b"".join(
        decode_body(r) for r in cassette_lines(_cassette_path(ws_inner)) if r["kind"] == "ws_msg"
    )
    assert MNEMONIC.encode() not in stored and stored.count(b"REDACTED-mnemonic-1") == 2
    ws_origin.stop()
    ws_inner.runpytest("--replay-strict").assert_outcomes(passed=1)


def _cassette_path(pytester) -> Path:
    return cassette_files(pytester)[0]


UNSUBSCRIBE = {"type": "unsubscribe", "channel": "v4_orderbook", "id": "BTC-USD"}


@pytest.mark.parametrize("client", ["websocket_client", "websockets", "aiohttp"])
def test_a_changed_last_message_before_close_fails(ws_inner, ws_origin, monkeypatch, client):
    """The client's last message, sent just before it closes, is held to the recording like
    any other (the replay origin must judge it before it handles the close)."""
    url = ws_origin.ws_url + "/v4/ws"
    steps = [*INDEXER_STEPS, {"send": UNSUBSCRIBE}]
    _converse(ws_inner, monkeypatch, url, client, steps, "--record-mode=once").assert_outcomes(
        passed=1
    )
    ws_origin.stop()
    changed = [*INDEXER_STEPS, {"send": {**UNSUBSCRIBE, "id": "ETH-USD"}}]
    for _ in range(3):
        result = _converse(ws_inner, monkeypatch, url, client, changed, "--replay-strict")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(
            ["*connection #0 ws:*: client message #7 does not match the recording"]
        )
