"""gRPC under ``--record-mode=new_episodes``: a call is matched on its first message while its
request streams; a recorded one is replayed answer by answer, a new one goes live through the
proxy, streamed both ways, and is appended. Real grpcio clients and servers on 127.0.0.1."""

from __future__ import annotations

import base64

import pytest

grpc = pytest.importorskip("grpc", reason="grpcio is not installed (the dev group brings it)")

from grpc_servers import start_grpc_origin  # noqa: E402
from pytester_helpers import cassette_files, cassette_lines  # noqa: E402

from pytest_streamreplay.cassette import decode_body  # noqa: E402

# Short deadlines: a call that waited for its whole request would fail here, not hang.
CHATS = """
import os, queue, grpc, pytest

def channel():
    target = os.environ["GRPC_TARGET"]
    if os.environ.get("GRPC_TLS"):
        return grpc.secure_channel(target, grpc.ssl_channel_credentials())
    return grpc.insecure_channel(target)

def chat(ch, words):
    answers = queue.Queue()

    def requests():
        for word in words:
            yield word
            answers.get(timeout=5)  # the next message only once this one is answered

    seen = []
    for answer in ch.stream_stream("/test.Echo/Chat")(requests(), timeout=5):
        seen.append(answer)
        answers.put(answer)
    assert seen == [b"re:" + w for w in words]

@pytest.mark.streamreplay
def test_chats():
    with channel() as ch:
        for conversation in os.environ["CHATS"].split(";"):
            chat(ch, [w.encode() for w in conversation.split(",")])
"""


def _frames(*words: bytes) -> bytes:
    return b"".join(b"\0" + len(w).to_bytes(4, "big") + w for w in words)


def _calls(inner) -> list[dict]:
    (cassette,) = cassette_files(inner)
    return [r for r in cassette_lines(cassette) if r["kind"] == "http"]


@pytest.fixture
def chat_origin(inner, monkeypatch, origin_cert, request):
    tls = getattr(request, "param", False)
    server = start_grpc_origin(origin_cert if tls else None)
    monkeypatch.setenv("GRPC_TARGET", server.target)
    if tls:
        monkeypatch.setenv("GRPC_TLS", "1")
    inner.makepyfile(test_rpc=CHATS)
    yield server
    server.stop()


def test_a_recorded_interactive_call_is_replayed_under_new_episodes(
    inner, monkeypatch, chat_origin
) -> None:
    """The call matches the recording: each answer comes as its message arrives, from the
    cassette (it used to wait for the whole request, so the client hit its deadline)."""
    monkeypatch.setenv("CHATS", "one,two,three")
    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    (cassette,) = cassette_files(inner)
    before = cassette.read_bytes()
    assert chat_origin.calls == ["Chat"]

    inner.runpytest("--record-mode=new_episodes").assert_outcomes(passed=1)
    assert cassette.read_bytes() == before, "nothing new: the cassette is left alone"
    assert chat_origin.calls == ["Chat"], "replayed: the origin saw no new call"


@pytest.mark.parametrize("chat_origin", [False, True], ids=["plaintext", "tls"], indirect=True)
def test_a_new_interactive_call_goes_live_and_is_appended(
    inner, monkeypatch, chat_origin, origin_cert
) -> None:
    """A first message the cassette does not have: the call goes live through the proxy,
    streamed both ways (the client waits for each answer), and is recorded like any new
    episode; replay then plays both calls."""
    ca = f"--upstream-ca={origin_cert[0]}"
    monkeypatch.setenv("CHATS", "one,two,three")
    inner.runpytest("--record-mode=once", ca).assert_outcomes(passed=1)

    monkeypatch.setenv("CHATS", "one,two,three;four,five")
    inner.runpytest("--record-mode=new_episodes", ca).assert_outcomes(passed=1)
    assert chat_origin.calls == ["Chat", "Chat"], "the first replayed, the second went live"
    calls = _calls(inner)
    assert [decode_body(c["request"]["body"]) for c in calls] == [
        _frames(b"one", b"two", b"three"),
        _frames(b"four", b"five"),
    ]
    new = calls[1]
    assert "x-streamreplay-episode" not in {k.lower() for k, _ in new["request"]["headers"]}
    assert [base64.b64decode(c["base64"]) for c in new["response"]["chunks"]] == [
        b"\0\0\0\0\x07re:four",
        b"\0\0\0\0\x07re:five",
    ]
    assert [c.get("after") for c in new["response"]["chunks"]] == [9, 18]
    assert dict(new["response"]["trailers"])["grpc-status"] == "0"

    chat_origin.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)


UNARY_AND_STREAM = """
import os, grpc, pytest

@pytest.mark.streamreplay
def test_calls():
    with grpc.insecure_channel(os.environ["GRPC_TARGET"]) as ch:
        word = os.environ["WORD"].encode()
        assert ch.unary_unary("/test.Echo/Unary")(word, timeout=5) == b"echo:" + word
        count = int(os.environ["COUNT"])
        stream = list(ch.unary_stream("/test.Echo/Stream")(str(count).encode(), timeout=5))
        assert stream == [b"message %d" % i for i in range(count)]
        with pytest.raises(grpc.RpcError) as failed:
            ch.unary_unary("/test.Echo/Fail")(os.environ["ORDER"].encode(), timeout=5)
        assert failed.value.code() == grpc.StatusCode.NOT_FOUND
        assert failed.value.details() == f"order {os.environ['ORDER']} not found"
        # client streaming: the same first message, a different last one
        parts = [b"a", b"bb", os.environ["LAST"].encode()]
        assert ch.stream_unary("/test.Echo/Collect")(iter(parts), timeout=5) == b"+".join(parts)
        # a call that matches the recording in the middle of new ones is replayed
        assert ch.unary_unary("/test.Echo/Unary")(b"same", timeout=5) == b"echo:same"
"""


def test_new_unary_streaming_and_failing_calls_are_still_recorded(inner, monkeypatch) -> None:
    """Non-interactive calls go through the same way: matched ones replayed, new ones (an
    error too: its status comes in the headers alone; a client stream whose first message
    matches and a later one does not) live and appended."""
    server = start_grpc_origin()
    monkeypatch.setenv("GRPC_TARGET", server.target)
    inner.makepyfile(test_rpc=UNARY_AND_STREAM)
    try:
        monkeypatch.setenv("WORD", "hello")
        monkeypatch.setenv("COUNT", "3")
        monkeypatch.setenv("ORDER", "42")
        monkeypatch.setenv("LAST", "ccc")
        inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
        monkeypatch.setenv("WORD", "howdy")
        monkeypatch.setenv("COUNT", "2")
        monkeypatch.setenv("ORDER", "43")
        monkeypatch.setenv("LAST", "dd")
        inner.runpytest("--record-mode=new_episodes").assert_outcomes(passed=1)
        # the changed calls went live; the unchanged one was replayed
        once = ["Unary", "Stream", "Fail", "Collect", "Unary"]
        assert server.calls == [*once, "Unary", "Stream", "Fail", "Collect"]
        # again: every call now has its recording (the two Collect calls share their first
        # message; the one whose later messages fit is played), nothing new is sent or added
        (cassette,) = cassette_files(inner)
        before = cassette.read_bytes()
        inner.runpytest("--record-mode=new_episodes").assert_outcomes(passed=1)
        assert len(server.calls) == 9 and cassette.read_bytes() == before
    finally:
        server.stop()
    calls = _calls(inner)
    assert [c["request"]["url"].rsplit("/", 1)[1] for c in calls] == [
        "Unary",
        "Stream",
        "Fail",
        "Collect",
        "Unary",
        "Unary",
        "Stream",
        "Fail",
        "Collect",
    ]
    assert len(calls[6]["response"]["chunks"]) == 2
    assert dict(calls[5]["response"]["trailers"])["x-served-by"] == "origin"
    assert decode_body(calls[8]["request"]["body"]) == _frames(b"a", b"bb", b"dd")
    failed = dict(calls[7]["response"]["headers"])  # trailers-only, as the origin sent it
    assert (failed["grpc-status"], failed["grpc-message"]) == ("5", "order 43 not found")
    # offline, both versions replay (each leaves the other's calls unused: not strict)
    inner.runpytest("--record-mode=none").assert_outcomes(passed=1)
    monkeypatch.setenv("WORD", "hello")
    monkeypatch.setenv("COUNT", "3")
    monkeypatch.setenv("ORDER", "42")
    monkeypatch.setenv("LAST", "ccc")
    inner.runpytest("--record-mode=none").assert_outcomes(passed=1)


FORGED = """
import os, httpx, pytest

@pytest.mark.streamreplay
def test_forged():
    r = httpx.post(os.environ["ORIGIN"] + "/x", content=b"hi",
                   headers={"x-streamreplay-episode": "0123456789abcdef"})
    assert r.status_code == 599 and b"did not hand out" in r.content
"""


def test_an_episode_token_the_proxy_did_not_hand_out_is_refused(inner, origin, monkeypatch) -> None:
    """The header that has a call recorded live is the replay origin's alone: anything else
    sending it is refused before the origin, and the test fails saying why."""
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(test_forged=FORGED)
    result = inner.runpytest("--record-mode=new_episodes")
    result.assert_outcomes(failed=1)  # the client got the refusal; the proxy error fails it
    assert "x-streamreplay-episode header this proxy did not hand out" in result.stdout.str()
    assert origin.seen == []
    assert cassette_files(inner) == []


def test_a_new_episode_whose_server_is_down_fails_the_test_saying_so(
    inner, monkeypatch, chat_origin
) -> None:
    """Fail closed: the live call cannot reach its server; the client gets an error at once
    (not at its deadline), the test fails naming the call, and nothing is appended."""
    monkeypatch.setenv("CHATS", "one,two,three")
    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    (cassette,) = cassette_files(inner)
    before = cassette.read_bytes()
    chat_origin.stop()

    monkeypatch.setenv("CHATS", "four")
    result = inner.runpytest("--record-mode=new_episodes")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "UNAVAILABLE" in text and "DEADLINE_EXCEEDED" not in text
    assert "/test.Echo/Chat: " in text  # the proxy's report: the call and why it failed
    assert cassette.read_bytes() == before
