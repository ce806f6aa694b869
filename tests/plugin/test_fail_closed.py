"""Fail closed: in replay modes a bad cassette or an error inside the proxy's addons fails the
test (naming the cassette file and line) and nothing ever reaches an origin.

Every test here keeps a real origin running on 127.0.0.1 that counts what reaches it, with the
cassette's URLs pointing at it: a request the proxy forwarded would be answered, and counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytester_helpers import LATE_RESPONSE_HOOK, SLOW_PROXY

from pytest_streamreplay.cassette import new_header, write_cassette

MODES = {
    "none": (),
    "once": ("--record-mode=once",),
    "strict": ("--replay-strict",),
}

CLIENTS = """
import os, httpx, pytest, websocket

def get(path):
    return httpx.get(os.environ["ORIGIN"] + path, timeout=20)

def open_ws(path):
    url = os.environ["ORIGIN"].replace("http", "ws", 1) + path
    ws = websocket.create_connection(url, timeout=20)
    try:
        return ws.recv()
    finally:
        ws.close()
"""


def _http(url: str, **response: Any) -> dict[str, Any]:
    return {
        "kind": "http",
        "id": 0,
        "t": 0.0,
        "duration_ms": 1.0,
        "request": {"method": "GET", "url": url, "headers": [], "body": None},
        "response": {
            "status": 200,
            "reason": "OK",
            "http_version": "HTTP/1.1",
            "headers": [["Content-Type", "application/json"]],
            "body": {"json": {"replayed": True}},
            **response,
        },
    }


def _ws(url: str, **message: Any) -> list[dict[str, Any]]:
    return [
        {"kind": "ws", "id": 0, "t": 0.0, "url": url, "headers": [], "response_headers": []},
        {"kind": "ws_msg", "conn": 0, "dir": "recv", "t": 1.0, **message},
        {"kind": "ws_close", "conn": 0, "t": 2.0, "code": 1000, "reason": "", "by": "server"},
    ]


def _cassette(pytester: pytest.Pytester, test: str, records: list[dict[str, Any]]) -> Path:
    path = pytester.path / "cassettes" / "test_a" / f"{test}.jsonl"
    write_cassette(path, new_header(), records)
    return path


# name -> (records for a cassette served by the origin at URL, the test body, the bad line)
def _bad_cassettes(url: str) -> dict[str, tuple[list[dict[str, Any]], str, int]]:
    ws = url.replace("http", "ws", 1)
    stream = [["Content-Type", "text/event-stream"]]
    return {
        "base64": ([_http(url + "/a", body={"base64": "abc"})], "get('/a')", 2),
        "encoded": (
            [
                _http(
                    url + "/a",
                    headers=[["Content-Encoding", "zstd"]],
                    body={"text": "hi"},
                    encoded={"zstd": {"level": 3}},
                )
            ],
            "get('/a')",
            2,
        ),
        "chunk": (
            [_http(url + "/a", headers=stream, body=None, chunks=[{"t": 0, "base64": "abc"}])],
            "get('/a')",
            2,
        ),
        "request_body": (
            [
                {
                    **_http(url + "/a"),
                    "request": {"method": "GET", "url": url + "/a", "body": {"base64": "%%%"}},
                }
            ],
            "get('/a')",
            2,
        ),
        "wrong_type": ([_http(url + "/a", body="hello")], "get('/a')", 2),
        "ws_message": (_ws(ws + "/ws", binary=True, base64="abc"), "open_ws('/ws')", 3),
    }


@pytest.mark.parametrize("mode", MODES)
def test_bad_bodies_fail_the_test_and_nothing_goes_live(inner, origin, monkeypatch, mode):
    monkeypatch.setenv("ORIGIN", origin.url)
    bad = _bad_cassettes(origin.url)
    tests = []
    for name, (records, call, _) in bad.items():
        _cassette(inner, f"test_{name}", records)
        tests.append(f"@pytest.mark.streamreplay\ndef test_{name}():\n    {call}\n")
    inner.makepyfile(test_a=CLIENTS + "\n\n".join(tests))
    result = inner.runpytest(*MODES[mode])
    result.assert_outcomes(failed=len(bad))
    assert origin.seen == [], "a request from a replay-mode test reached the origin"
    out = result.stdout.str()
    for name, (_, _, line) in bad.items():
        assert f"test_{name}.jsonl:{line}: " in out, f"{name}: no file:line in the failure"


@pytest.fixture(params=["http", "https"])
def any_origin(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    server = request.getfixturevalue("origin" if request.param == "http" else "tls_origin")
    monkeypatch.setenv("ORIGIN", server.url)
    return server


RAISING_MATCHER = """
def pytest_streamreplay_matchers():
    def explode(live, recorded):
        raise RuntimeError("matcher bug")
    return {"explode": explode}
"""


@pytest.mark.parametrize("mode", ["none", "strict"])
def test_an_error_inside_the_addon_fails_the_test_and_nothing_goes_live(inner, any_origin, mode):
    """A custom matcher that raises (HTTP), and a session that raises (WebSocket)."""
    url = any_origin.url
    _cassette(inner, "test_matcher", [_http(url + "/a")])
    _cassette(inner, "test_ws", _ws(url.replace("http", "ws", 1) + "/ws", text="hi"))
    inner.makeconftest(
        RAISING_MATCHER
        + """
import pytest
from pytest_streamreplay.session import CassetteSession

@pytest.fixture(autouse=True)
def broken_ws(request, monkeypatch):
    if request.node.name == "test_ws":
        def decide_ws(self, url):
            raise RuntimeError("session bug")
        monkeypatch.setattr(CassetteSession, "decide_ws", decide_ws)
"""
    )
    inner.makepyfile(
        test_a=CLIENTS
        + """
@pytest.mark.streamreplay(match_on=["method", "explode"])
def test_matcher():
    get('/a')

@pytest.mark.streamreplay
def test_ws():
    open_ws('/ws')
"""
    )
    result = inner.runpytest("--upstream-insecure", *MODES[mode])
    result.assert_outcomes(failed=2)
    assert any_origin.seen == [], "a request from a replay-mode test reached the origin"
    result.stdout.fnmatch_lines(["*test_matcher.jsonl:2: *matcher bug*"], consecutive=False)
    result.stdout.fnmatch_lines(["*test_ws.jsonl*session bug*"])


ESCAPING = """
import pytest
from pytest_streamreplay.proxy.http_addon import HttpRecordReplay
from pytest_streamreplay.proxy.ws_addon import WebSocketRecordReplay

def _broken(self, flow):
    raise RuntimeError("an unforeseen bug")

@pytest.fixture(autouse=True)
def broken_addons(monkeypatch):
    # Replaces the whole hook, its own error handling included: only the last guard is left.
    monkeypatch.setattr(HttpRecordReplay, "request", _broken)
    monkeypatch.setattr(WebSocketRecordReplay, "request", _broken)
"""


@pytest.mark.parametrize("mode", ["none", "strict"])
def test_the_last_guard_refuses_what_the_addons_let_through(inner, any_origin, mode):
    url = any_origin.url
    _cassette(inner, "test_http", [_http(url + "/a")])
    _cassette(inner, "test_ws", _ws(url.replace("http", "ws", 1) + "/ws", text="hi"))
    inner.makeconftest(ESCAPING)
    inner.makepyfile(
        test_a=CLIENTS
        + """
@pytest.mark.streamreplay
def test_http():
    get('/a')

@pytest.mark.streamreplay
def test_ws():
    open_ws('/ws')
"""
    )
    result = inner.runpytest("--upstream-insecure", *MODES[mode])
    result.assert_outcomes(failed=2)
    assert any_origin.seen == [], "a request from a replay-mode test reached the origin"
    result.stdout.fnmatch_lines(["*test_http.jsonl*was not answered*"])


BROKEN_ORIGINS = """
import pytest
from pytest_streamreplay.cassette.index import MessageSequence
from pytest_streamreplay.proxy.origins import ReplayOrigins

@pytest.fixture(autouse=True)
def broken_playing(monkeypatch):
    def read(self, i):
        raise RuntimeError("message read bug")

    async def play(self, job, writer):
        raise RuntimeError("stream play bug")

    monkeypatch.setattr(MessageSequence, "__getitem__", read)
    monkeypatch.setattr(ReplayOrigins, "_play_stream", play)
"""


def test_an_error_in_the_replay_origins_fails_the_test(inner, origin, monkeypatch):
    """Streamed responses and WebSocket conversations are played by our replay origins, not
    in a hook: a failure there fails the test too, naming the cassette and line."""
    monkeypatch.setenv("ORIGIN", origin.url)
    url = origin.url
    stream = [["Content-Type", "text/event-stream"]]
    _cassette(
        inner,
        "test_stream",
        [_http(url + "/a", headers=stream, body=None, chunks=[{"t": 0, "text": "data: 1\n\n"}])],
    )
    _cassette(inner, "test_ws", _ws(url.replace("http", "ws", 1) + "/ws", text="hi"))
    inner.makeconftest(BROKEN_ORIGINS)
    inner.makepyfile(
        test_a=CLIENTS
        + """
@pytest.mark.streamreplay
def test_stream():
    try:
        get('/a')
    except httpx.HTTPError:
        pass  # a cut-off stream: the client may or may not notice

@pytest.mark.streamreplay
def test_ws():
    try:
        open_ws('/ws')
    except Exception:
        pass
"""
    )
    result = inner.runpytest()
    result.assert_outcomes(failed=2)
    assert origin.seen == []
    result.stdout.fnmatch_lines(
        ["*test_stream.jsonl:2: replaying the streamed response failed: *stream play bug*"]
    )
    result.stdout.fnmatch_lines(
        ["*test_ws.jsonl:2: replaying the WebSocket connection failed: *message read bug*"]
    )


RAISING_REDACT = """
def pytest_streamreplay_redact(record, test_id):
    raise RuntimeError("redact hook bug")
"""


@pytest.mark.parametrize("keep", [(), ("--record-on-failure",)], ids=["default", "on_failure"])
def test_a_failing_redact_hook_fails_the_recording_and_saves_nothing(
    inner, origin, monkeypatch, keep
):
    """Recording may go live, but an interaction that could not be recorded (here: redacted)
    fails the test, and the incomplete cassette is never written, not even on request."""
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makeconftest(RAISING_REDACT)
    inner.makepyfile(
        test_a=CLIENTS + "@pytest.mark.streamreplay\ndef test_x():\n    assert get('/a').json()\n"
    )
    result = inner.runpytest("--record-mode=once", *keep)
    _fails_in_call_or_teardown(result)
    result.stdout.fnmatch_lines(["*the proxy failed on GET http://127.0.0.1:*/a*redact hook bug*"])
    assert list((inner.path / "cassettes").rglob("*.jsonl")) == []


def _fails_in_call_or_teardown(result: pytest.RunResult) -> None:
    """The client has its whole answer (a body with a Content-Length) as its last byte passes,
    maybe before the proxy's response hook fails: the test fails in its call when the hook
    failed by then, else at its teardown (never passes)."""
    outcomes = result.parseoutcomes()
    assert outcomes in ({"failed": 1}, {"passed": 1, "errors": 1}), outcomes


@pytest.mark.parametrize("slow", [SLOW_PROXY, LATE_RESPONSE_HOOK], ids=["writing", "hook"])
def test_a_redact_hook_failing_after_the_client_had_its_answer_fails_the_test(
    inner, origin, monkeypatch, slow
):
    """The client read its whole body (2 MB, with a Content-Length) and the test returned before
    the proxy, writing the exchange late, hit the failing hook: the test still fails, nothing
    is saved, and the summary does not call it replayed."""
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makeconftest(slow + RAISING_REDACT)
    inner.makepyfile(
        test_a=CLIENTS
        + "@pytest.mark.streamreplay\ndef test_x():\n    assert get('/bytes/2000000').content\n"
    )
    result = inner.runpytest("--record-mode=once")
    _fails_in_call_or_teardown(result)
    result.stdout.fnmatch_lines(["*the proxy failed on GET http://127.0.0.1:*/bytes/*redact hook*"])
    result.stdout.no_fnmatch_line("*1 replayed*")
    assert list((inner.path / "cassettes").rglob("*.jsonl")) == []


UNARY = """
import os, grpc, pytest

@pytest.mark.streamreplay(match_on=os.environ.get("MATCH", "method,path").split(","))
def test_rpc():
    with grpc.insecure_channel(os.environ["GRPC_TARGET"]) as ch:
        try:
            ch.unary_unary("/test.Echo/Unary")(b"hello", timeout=20)
        except grpc.RpcError:
            pass  # refused: the failure the plugin reports is what counts
"""


def test_a_raising_matcher_on_a_grpc_call_fails_the_test_and_nothing_goes_live(inner, monkeypatch):
    """gRPC calls are replayed by the HTTP/2 replay origin, not in a hook: the same rule."""
    pytest.importorskip("grpc", reason="grpcio is not installed (the dev group brings it)")
    from grpc_servers import start_grpc_origin

    server = start_grpc_origin()
    monkeypatch.setenv("GRPC_TARGET", server.target)
    inner.makeconftest(RAISING_MATCHER)
    inner.makepyfile(test_a=UNARY)
    try:
        inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
        assert server.calls == ["Unary"]
        monkeypatch.setenv("MATCH", "method,explode")
        for mode in ("none", "strict"):
            result = inner.runpytest(*MODES[mode])
            result.assert_outcomes(failed=1)
            result.stdout.fnmatch_lines(["*test_rpc.jsonl:2: *matcher bug*"])
        assert server.calls == ["Unary"], "a replayed call reached the origin"
    finally:
        server.stop()
