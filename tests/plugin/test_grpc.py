"""gRPC and HTTP/2 through the proxy: real grpcio clients and servers, plaintext (h2c inside
the CONNECT tunnel) and TLS; record, stop the origin, replay strictly."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

grpc = pytest.importorskip("grpc", reason="grpcio is not installed (the dev group brings it)")

from grpc_servers import start_grpc_origin  # noqa: E402
from pytester_helpers import cassette_files, cassette_lines, outputs  # noqa: E402

from pytest_streamreplay.cassette import decode_body  # noqa: E402

CALLS = """
import json, os, pathlib, grpc, pytest

def channel():
    target = os.environ["GRPC_TARGET"]
    if os.environ.get("GRPC_TLS"):
        return grpc.secure_channel(target, grpc.ssl_channel_credentials())
    return grpc.insecure_channel(target)

@pytest.mark.streamreplay
def test_calls():
    with channel() as ch:
        reply, call = ch.unary_unary("/test.Echo/Unary").with_call(b"hello", timeout=20)
        trailers = {k: v for k, v in call.trailing_metadata()}
        stream = list(ch.unary_stream("/test.Echo/Stream")(b"4", timeout=20))
        with pytest.raises(grpc.RpcError) as failed:
            ch.unary_unary("/test.Echo/Fail")(b"42", timeout=20)
    seen = {
        "reply": reply.decode(),
        "trailers": trailers,
        "stream": [m.decode() for m in stream],
        "error": [failed.value.code().name, failed.value.details(),
                  {k: v for k, v in failed.value.trailing_metadata()}],
    }
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.bin").write_bytes(json.dumps(seen).encode())
"""


def _record(inner, monkeypatch, source: str) -> list[str]:
    """Record ``source`` (an inner test module) against a plaintext gRPC origin, then stop
    the origin, so that what follows can only be replay; the methods the origin served."""
    server = start_grpc_origin()
    monkeypatch.setenv("GRPC_TARGET", server.target)
    inner.makepyfile(test_rpc=source)
    try:
        inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    finally:
        server.stop()
    return sorted(server.calls)


@pytest.mark.parametrize("tls", [False, True], ids=["plaintext", "tls"])
def test_grpc_unary_stream_and_error_record_then_replay(
    inner, origin_cert, monkeypatch, tls: bool
) -> None:
    server = start_grpc_origin(origin_cert if tls else None)
    monkeypatch.setenv("GRPC_TARGET", server.target)
    if tls:
        monkeypatch.setenv("GRPC_TLS", "1")
    inner.makepyfile(test_rpc=CALLS)
    try:
        recorded = inner.runpytest("--record-mode=once", f"--upstream-ca={origin_cert[0]}")
        recorded.assert_outcomes(passed=1)
        assert sorted(server.calls) == ["Fail", "Stream", "Unary"]
    finally:
        server.stop()

    replayed = inner.runpytest("--replay-strict")
    replayed.assert_outcomes(passed=1)
    first, second = outputs(inner)
    assert first == second, "replay must give the client the same messages, trailers, status"
    seen = json.loads(first)
    assert seen["reply"] == "echo:hello" and seen["trailers"]["x-served-by"] == "origin"
    assert seen["stream"] == [f"message {i}" for i in range(4)]
    assert seen["error"] == ["NOT_FOUND", "order 42 not found", {"x-reason": "no-such-order"}]

    (cassette,) = cassette_files(inner)
    calls = [r for r in cassette_lines(cassette) if r["kind"] == "http"]
    assert [c["request"]["url"].rsplit("/", 1)[1] for c in calls] == ["Unary", "Stream", "Fail"]
    for call in calls:
        assert call["response"]["http_version"] == "HTTP/2.0"
    unary, stream, _ = (dict(c["response"].get("trailers") or []) for c in calls)
    assert unary["grpc-status"] == "0" and unary["x-served-by"] == "origin"
    assert stream["grpc-status"] == "0"
    failed = dict(calls[2]["response"]["headers"])  # an error is trailers-only: in the headers
    assert (failed["grpc-status"], failed["grpc-message"]) == ("5", "order 42 not found")

    # the command tells a gRPC call by its method, status and messages
    info = subprocess.run(
        [sys.executable, "-m", "pytest_streamreplay.cli", "info", "--json", str(cassette)],
        capture_output=True,
        text=True,
        check=True,
    )
    summaries = [h["grpc"] for h in json.loads(info.stdout)["http"]]
    assert [(g["method"], g["status_name"], g["response_messages"]) for g in summaries] == [
        ("/test.Echo/Unary", "OK", 1),
        ("/test.Echo/Stream", "OK", 4),
        ("/test.Echo/Fail", "NOT_FOUND", 0),
    ]
    assert summaries[2]["message"] == "order 42 not found"
    assert len(calls[1]["response"]["chunks"]) == 4  # one chunk per message, as they passed


def test_a_changed_request_message_is_unmatched_with_its_difference(
    inner, origin_cert, monkeypatch
) -> None:
    _record(inner, monkeypatch, CALLS)
    inner.makepyfile(test_rpc=CALLS.replace('with_call(b"hello"', 'with_call(b"HELLO"'))
    replayed = inner.runpytest("--replay-strict")
    replayed.assert_outcomes(failed=1)
    text = replayed.stdout.str()
    assert "Unmatched request POST http://localhost:" in text
    assert "grpc messages: request message #0: <5 bytes: 48 45 4c 4c 4f>" in text


def test_the_unmatched_report_shows_the_same_method_first(inner, monkeypatch) -> None:
    """The call whose message changed is nearest to its own recording, not to the calls of
    other methods that happened to come first in the cassette."""
    _record(inner, monkeypatch, CALLS)
    inner.makepyfile(test_rpc=CALLS.replace('/test.Echo/Fail")(b"42"', '/test.Echo/Fail")(b"43"'))
    replayed = inner.runpytest("--replay-strict")
    replayed.assert_outcomes(failed=1)
    text = replayed.stdout.str()
    nearest = text.split("nearest recorded requests:\n", 1)[1].splitlines()[0]
    assert "/test.Echo/Fail  -- grpc messages: request message #0: <2 bytes: 34 33>" in nearest


STREAMS = """
import json, os, pathlib, queue, grpc, pytest

@pytest.mark.streamreplay
def test_streams():
    with grpc.insecure_channel(os.environ["GRPC_TARGET"]) as ch:
        joined = ch.stream_unary("/test.Echo/Collect")(iter([b"a", b"bb", b"ccc"]), timeout=20)
        echoed = list(ch.stream_stream("/test.Echo/Chat")(iter([b"x", b"y"]), timeout=20))
    out = pathlib.Path(os.environ["OUT"])
    seen = {"joined": joined.decode(), "echoed": [m.decode() for m in echoed]}
    (out / f"run{len(list(out.iterdir()))}.bin").write_bytes(json.dumps(seen).encode())
"""

INTERACTIVE = """
import os, queue, grpc, pytest

@pytest.mark.streamreplay
def test_chat_waits_for_each_answer():
    answers = queue.Queue()

    def requests():
        for word in (b"one", b"two", b"three"):
            yield word
            answers.get(timeout=10)  # the next message only once this one is answered

    with grpc.insecure_channel(os.environ["GRPC_TARGET"]) as ch:
        seen = []
        for answer in ch.stream_stream("/test.Echo/Chat")(requests(), timeout=20):
            seen.append(answer)
            answers.put(answer)
    assert seen == [b"re:one", b"re:two", b"re:three"]
"""


def test_client_streaming_and_bidirectional_record_then_replay(inner, monkeypatch) -> None:
    assert _record(inner, monkeypatch, STREAMS) == ["Chat", "Collect"]
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    first, second = outputs(inner)
    assert first == second
    assert json.loads(first) == {"joined": "a+bb+ccc", "echoed": ["re:x", "re:y"]}


def test_recording_streams_a_bidirectional_call_both_ways(inner, monkeypatch) -> None:
    """A client that waits for each answer before sending more: the proxy must pass each
    request message on as it comes (it used to wait for the end of the request body)."""
    _record(inner, monkeypatch, INTERACTIVE)
    # replayed the same way: each answer only once its request arrived (routed to the
    # HTTP/2 replay origin with the request still streaming)
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    (cassette,) = cassette_files(inner)
    (call,) = [r for r in cassette_lines(cassette) if r["kind"] == "http"]
    assert call["request"]["url"].endswith("/test.Echo/Chat")
    # each answer knows how much of the request had arrived when the origin sent it
    assert [c.get("after") for c in call["response"]["chunks"]] == [8, 16, 26]
    sent = decode_body(call["request"]["body"])
    assert sent == b"".join(
        b"\0" + len(w).to_bytes(4, "big") + w for w in (b"one", b"two", b"three")
    )


TIMED = """
import json, os, pathlib, time, grpc, pytest

@pytest.mark.streamreplay
def test_stream():
    with grpc.insecure_channel(os.environ["GRPC_TARGET"]) as ch:
        arrivals = []
        start = time.monotonic()
        for _ in ch.unary_stream("/test.Echo/Stream")(b"4", timeout=20):
            arrivals.append((time.monotonic() - start) * 1000)
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.bin").write_bytes(json.dumps(arrivals).encode())
"""


def test_server_stream_keeps_its_spacing_at_recorded_speed(inner, monkeypatch) -> None:
    _record(inner, monkeypatch, TIMED)
    inner.runpytest("--replay-strict", "--replay-speed=recorded").assert_outcomes(passed=1)
    (cassette,) = cassette_files(inner)
    (call,) = [r for r in cassette_lines(cassette) if r["kind"] == "http"]
    offsets = [c["t"] for c in call["response"]["chunks"]]  # from the response's headers
    arrivals = json.loads(outputs(inner)[1])  # from the call's start, so never earlier
    assert len(arrivals) == 4 and offsets[-1] >= 100  # sent 50 ms apart when recorded
    # no message arrives before its recorded offset (an instant replay sends all at once)
    assert all(arrival >= offset for arrival, offset in zip(arrivals, offsets, strict=False))


H2_TEST = """
import os, httpx, pathlib, pytest

@pytest.mark.streamreplay
def test_h2():
    with httpx.Client(http2=True) as client:
        r = client.post(os.environ["ORIGIN"] + "/test.Echo/Unary", content=b"\\0\\0\\0\\0\\2hi",
                        headers={"content-type": "application/grpc", "te": "trailers"})
    assert r.content == b"\\0\\0\\0\\0\\7echo:hi"
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.bin").write_bytes(r.http_version.encode())
"""


def test_httpx_http2_negotiates_h2_through_the_proxy(
    inner, tls_h2_origin, origin_cert, monkeypatch
) -> None:
    """httpx offers http/1.1 before h2; the proxy prefers h2, as servers do."""
    monkeypatch.setenv("ORIGIN", tls_h2_origin)
    inner.makepyfile(test_h2=H2_TEST)
    inner.runpytest("--record-mode=once", f"--upstream-ca={origin_cert[0]}").assert_outcomes(
        passed=1
    )
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    assert outputs(inner) == [b"HTTP/2", b"HTTP/2"]
    (cassette,) = cassette_files(inner)
    (call,) = [r for r in cassette_lines(cassette) if r["kind"] == "http"]
    assert call["response"]["http_version"] == "HTTP/2.0"


@pytest.fixture
def tls_h2_origin(origin_cert):
    """An origin that speaks HTTP/2 over TLS (grpcio's server, called by httpx as a client
    that knows the gRPC framing)."""
    server = start_grpc_origin(origin_cert)
    yield f"https://localhost:{server.port}"
    server.stop()


def test_h2_client_sees_h2_directly_too(origin_cert) -> None:
    """The origin used above does speak h2 (so the test above checks the proxy, not it)."""
    server = start_grpc_origin(origin_cert)
    try:
        with httpx.Client(http2=True, verify=str(origin_cert[0])) as client:
            r = client.post(
                f"https://localhost:{server.port}/test.Echo/Unary",
                content=b"\0\0\0\0\2hi",
                headers={"content-type": "application/grpc", "te": "trailers"},
            )
        assert r.http_version == "HTTP/2" and r.content == b"\0\0\0\0\7echo:hi"
    finally:
        server.stop()


def test_a_later_message_of_a_streamed_call_that_differs_fails_the_test(inner, monkeypatch) -> None:
    """Replay matches a streaming call on its first message; the rest must follow the
    recording, or the test fails naming the message."""
    _record(inner, monkeypatch, STREAMS)
    inner.makepyfile(test_rpc=STREAMS.replace('iter([b"x", b"y"])', 'iter([b"x", b"z"])'))
    replayed = inner.runpytest("--replay-strict")
    replayed.assert_outcomes(failed=1)
    text = replayed.stdout.str()
    # matched on its first message and then found to differ, or (when the client had sent
    # everything before the call was matched) unmatched as a whole: either way it names it
    assert "/test.Echo/Chat" in text
    assert "request message #1: <1 bytes: 7a> != <1 bytes: 79> (recorded)" in text


SECRETS = """
import json, os, pathlib, grpc, pytest

def field(number, payload):
    # a protobuf length-delimited field; the length byte of this JWT is a letter
    return bytes([number << 3 | 2, len(payload)]) + payload

@pytest.mark.streamreplay
def test_login():
    token = os.environ["TOKEN"].encode()
    with grpc.insecure_channel(os.environ["GRPC_TARGET"]) as ch:
        login = field(1, b"user-7") + field(2, token)
        reply = ch.unary_unary("/test.Echo/Unary")(login, timeout=20)
        chat = [field(1, b"hello"), field(2, token) + field(3, os.environ["WHO"].encode())]
        echoed = list(ch.stream_stream("/test.Echo/Chat")(iter(chat), timeout=20))
    out = pathlib.Path(os.environ["OUT"])
    seen = {"reply": reply.hex(), "echoed": [m.hex() for m in echoed]}
    (out / f"run{len(list(out.iterdir()))}.bin").write_bytes(json.dumps(seen).encode())
"""


def test_secrets_inside_grpc_messages_are_redacted_and_the_call_still_replays(
    inner, monkeypatch
) -> None:
    """A token inside a protobuf field (request, echoed response, a later message of a
    bidirectional call) never reaches the cassette; it is replaced by a placeholder of its own
    length, so the frames still parse, and the client sending the real token again matches."""
    from secret_samples import JWT

    token = JWT[: ord("d") - 2] + "xy"  # 100 bytes: its protobuf length byte is "d"
    monkeypatch.setenv("TOKEN", token)
    monkeypatch.setenv("WHO", "alice")
    _record(inner, monkeypatch, SECRETS)
    (cassette,) = cassette_files(inner)
    stored = b""
    for record in cassette_lines(cassette):
        for part in (record.get("request"), record.get("response")):
            if part:
                stored += decode_body(part.get("body"))
                stored += b"".join(decode_body(c) for c in part.get("chunks") or [])
    assert stored.count(b"REDACTED-jwt-1") == 4  # request and echo of both calls
    assert token.encode() not in stored and token[:40].encode() not in cassette.read_bytes()

    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    recorded, replayed = (json.loads(o) for o in outputs(inner))
    assert bytes.fromhex(replayed["reply"]).startswith(b"echo:\n\x06user-7\x12d")
    assert b"REDACTED-jwt-1___" in bytes.fromhex(replayed["reply"])
    assert len(replayed["reply"]) == len(recorded["reply"])
    assert [len(m) for m in replayed["echoed"]] == [len(m) for m in recorded["echoed"]]

    # a rotated token is a secret all the same: it matches, as it does in a header
    monkeypatch.setenv("TOKEN", JWT[: ord("d") - 2] + "zz")
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    # what is not secret in that later message is still held to the recording
    monkeypatch.setenv("WHO", "bobby")
    changed = inner.runpytest("--replay-strict")
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(
        [
            "*request message #1: first difference at byte 104: "
            "<*62 6f 62 62 79> != <*61 6c 69 63 65> (recorded)"
        ]
    )


EARLY = """
import os, grpc, pytest

# made at import (as dydx_v4_client.network makes TESTNET's channel), before the test's
# proxy variables exist: grpcio takes grpc_proxy when a channel is created
EARLY = grpc.insecure_channel(os.environ["GRPC_TARGET"])
EARLY_CALL = grpc.insecure_channel(os.environ["GRPC_TARGET"]).unary_unary("/test.Echo/Unary")

@pytest.mark.streamreplay
def test_early_channel():
    EARLY.unary_unary("/test.Echo/Unary")(b"hello", timeout=5)

@pytest.mark.streamreplay
def test_early_stub():
    EARLY_CALL(b"hello", timeout=5)
"""


@pytest.mark.parametrize("mode", ["--record-mode=once", "--replay-strict"])
def test_a_channel_made_before_the_test_is_refused_not_sent_past_the_proxy(
    inner, monkeypatch, mode: str
) -> None:
    """Such a channel connects straight to the origin: while recording the call would be
    missing from the cassette, and while replaying it would reach the network."""
    server = start_grpc_origin()
    monkeypatch.setenv("GRPC_TARGET", server.target)
    try:
        if mode == "--replay-strict":  # a cassette for both tests, from channels made in them
            late = EARLY.replace(
                "EARLY.unary_unary", 'grpc.insecure_channel(os.environ["GRPC_TARGET"]).unary_unary'
            )
            late = late.replace(
                "EARLY_CALL(",
                'grpc.insecure_channel(os.environ["GRPC_TARGET"]).unary_unary("/test.Echo/Unary")(',
            )
            inner.makepyfile(test_rpc=late)
            inner.runpytest("--record-mode=once").assert_outcomes(passed=2)
            server.calls.clear()
        inner.makepyfile(test_rpc=EARLY)
        result = inner.runpytest(mode)
    finally:
        server.stop()
    result.assert_outcomes(failed=2)
    assert server.calls == [], "a call went past the proxy"
    result.stdout.fnmatch_lines(
        ["E *GrpcChannelBypassError: gRPC channel to localhost:* was created before the test*"]
    )
    assert "create the channel (or the client that makes it" in result.stdout.str()


EARLY_AIO = """
import asyncio, os, grpc, pytest

EARLY = []

def setup_module():
    async def make():  # an aio channel belongs to a loop: one made before the recording
        EARLY.append(grpc.aio.insecure_channel(os.environ["GRPC_TARGET"]))
    asyncio.run(make())

async def call(channel):
    return await channel.unary_unary("/test.Echo/Unary")(b"hello", timeout=5)

@pytest.mark.streamreplay
def test_early_aio_channel():
    asyncio.run(call(EARLY[0]))

@pytest.mark.streamreplay
def test_aio_channel_made_in_the_test():
    async def made_here():
        async with grpc.aio.insecure_channel(os.environ["GRPC_TARGET"]) as channel:
            return await call(channel)
    assert asyncio.run(made_here()) == b"echo:hello"
"""


def test_an_aio_channel_made_before_the_test_is_refused_too(inner, monkeypatch) -> None:
    server = start_grpc_origin()
    monkeypatch.setenv("GRPC_TARGET", server.target)
    inner.makepyfile(test_rpc=EARLY_AIO)
    try:
        result = inner.runpytest("--record-mode=once")
    finally:
        server.stop()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_rpc.py::test_early_aio_channel - *grpc_c*"])
    assert "GrpcChannelBypassError: gRPC channel to localhost:" in result.stdout.str()
    assert server.calls == ["Unary"]  # the one made in its test, through the proxy
    recorded = [c for f in cassette_files(inner) for c in cassette_lines(f) if c["kind"] == "http"]
    assert [c["request"]["url"].rsplit("/", 1)[1] for c in recorded] == ["Unary"]


SECRET_IN_MESSAGE = """
import json, os, pathlib, grpc, pytest

MNEMONIC = " ".join(["abandon"] * 11 + ["about"])

@pytest.mark.streamreplay
def test_secret_in_a_message():
    with grpc.insecure_channel(os.environ["GRPC_TARGET"]) as ch:
        reply = ch.unary_unary("/test.Echo/Unary")(("seed " + MNEMONIC).encode(), timeout=10)
        # beside bytes that are not text (a key, a signature): the body is stored as base64
        binary = ch.unary_unary("/test.Echo/Unary")(
            b"\\xff\\x00\\x81 seed " + MNEMONIC.encode(), timeout=10
        )
        stream = list(ch.unary_stream("/test.Echo/Stream")(b"2", timeout=10))
    out = pathlib.Path(os.environ["OUT"])
    seen = {"reply": reply.decode(), "binary": binary.decode("latin-1"),
            "stream": [m.decode() for m in stream]}
    (out / f"run{len(list(out.iterdir()))}.bin").write_bytes(json.dumps(seen).encode())
"""


def test_a_secret_inside_a_grpc_message_is_redacted_keeping_the_frames_whole(
    inner, monkeypatch
) -> None:
    """Redaction finds a mnemonic in a message's text; a placeholder of another length inside
    a gRPC frame would break its length prefix, so the replayed client could not read it."""
    _record(inner, monkeypatch, SECRET_IN_MESSAGE)
    (cassette,) = cassette_files(inner)
    calls = [r for r in cassette_lines(cassette) if r["kind"] == "http"]
    stored = b"".join(
        decode_body(c["request"]["body"])
        + b"".join(decode_body(k) for k in c["response"].get("chunks") or [])
        for c in calls
    )
    assert b"abandon" not in stored and "abandon" not in cassette.read_text()
    assert "base64" in calls[1]["request"]["body"]  # the binary one
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    recorded, replayed = (json.loads(o) for o in outputs(inner))
    mnemonic = " ".join(["abandon"] * 11 + ["about"])
    assert recorded["reply"] == "echo:seed " + mnemonic
    assert recorded["binary"] == "echo:\xff\x00\x81 seed " + mnemonic
    assert replayed["stream"] == recorded["stream"] == ["message 0", "message 1"]
    for key in ("reply", "binary"):  # the same length, the secret gone
        assert len(replayed[key]) == len(recorded[key]) and "abandon" not in replayed[key]
    assert replayed["binary"].startswith("echo:\xff\x00\x81 seed REDACTED-mnemonic-1___")


BURST = """
import hashlib, json, os, pathlib, grpc, pytest

@pytest.mark.streamreplay
def test_burst():
    with grpc.insecure_channel(os.environ["GRPC_TARGET"]) as ch:
        got = list(ch.unary_stream("/test.Echo/Burst")(b"20", timeout=20))
    seen = [hashlib.sha256(m).hexdigest() for m in got]
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.bin").write_bytes(json.dumps(seen).encode())
"""


def test_a_server_stream_is_recorded_one_chunk_per_message(inner, monkeypatch) -> None:
    """Socket reads cut a 2 MiB message in pieces and pack small ones together; the
    cassette keeps one chunk per gRPC message, and replay still gives the same messages."""
    _record(inner, monkeypatch, BURST)
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    first, second = outputs(inner)
    assert first == second and len(json.loads(first)) == 21
    (cassette,) = cassette_files(inner)
    (call,) = [r for r in cassette_lines(cassette) if r["kind"] == "http"]
    chunks = call["response"]["chunks"]
    framed = [decode_body(c) for c in chunks]
    lengths = [int.from_bytes(f[1:5], "big") for f in framed]
    assert [len(f) - 5 for f in framed] == lengths, "each chunk is exactly one framed message"
    assert lengths == [2097152] + [len(b"small %d" % i) for i in range(20)]
    assert all(c["after"] == 7 for c in chunks)  # the request (one 2-byte message) had come
    assert [c["t"] for c in chunks] == sorted(c["t"] for c in chunks)
