"""The proxy is not an open proxy: while a test records or replays, another local process that
does not hold the test's proxy credentials gets 407 and nothing of its traffic is recorded,
replayed to it, or sent to an origin. The test's own clients carry the credentials in the proxy
URL of their environment (the whole client matrix in test_clients.py and test_websockets.py
runs through the same check)."""

from __future__ import annotations

import json
import shutil

import httpx  # noqa: F401  one copy of each client for all inline runs
import pytest
import websocket  # noqa: F401
from pytester_helpers import cassette_files, cassette_lines

INTRUDERS = r"""
import json, os, pathlib, subprocess, urllib.parse
import httpx, pytest, websocket

def bare(proxy_url, password=None):
    parts = urllib.parse.urlsplit(proxy_url)
    auth = f"streamreplay:{password}@" if password else ""
    return f"http://{auth}{parts.hostname}:{parts.port}"

def status_via(proxy, url, grpc=False):
    try:
        with httpx.Client(proxy=proxy, trust_env=False, verify=False) as client:
            if grpc:  # looks like a gRPC call: the recorder streams those from its headers
                headers = {"content-type": "application/grpc", "te": "trailers"}
                return client.post(url, content=b"\0\0\0\0\0", headers=headers).status_code
            return client.get(url).status_code
    except Exception as exc:  # a refused CONNECT: httpx.ProxyError (httpcore's in some runs)
        return f"{type(exc).__name__}: {exc}"

def curl_status(proxy, url, *options):
    out = subprocess.run(
        ["curl", "-s", "-k", "-o", "/dev/null", "-w", "%{http_code} %{http_connect}",
         *options, "-x", proxy, url],
        capture_output=True, text=True, timeout=30, env={"PATH": os.environ["PATH"]},
    )
    return out.stdout

def ws_status(proxy, url):
    parts = urllib.parse.urlsplit(proxy)
    try:
        websocket.create_connection(
            url, timeout=10, http_proxy_host=parts.hostname, http_proxy_port=parts.port,
            proxy_type="http",
        ).close()
        return "open"
    except Exception as exc:
        return str(exc)

def raw_statuses(proxy_url, origin, requests):
    # The status answered to each request, sent one after another on one connection to the
    # proxy; None where the connection was closed instead.
    import base64, socket
    parts = urllib.parse.urlsplit(proxy_url)
    good = base64.b64encode(f"{parts.username}:{parts.password}".encode()).decode()
    out = []
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        for request in requests:
            try:
                sock.sendall(request.format(origin=origin, good=good).encode())
                line = reader.readline().decode().strip()
                length = 0
                while (header := reader.readline().strip()):
                    name, _, value = header.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                reader.read(length)
            except OSError:
                line = ""
            out.append(line.split(" ")[1] if line else None)
    return out

BARE = "GET http://{origin}/{path} HTTP/1.1\r\nHost: {origin}\r\n\r\n"
GOOD = BARE.replace("\r\n\r\n", "\r\nProxy-Authorization: Basic {good}\r\n\r\n")
UPGRADE = (
    "GET http://{origin}/intruder-upgrade HTTP/1.1\r\nHost: {origin}\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n"
)
ORIGIN_FORM = "GET /intruder-origin-form HTTP/1.1\r\nHost: {origin}\r\n\r\n"
OTHER_SCHEME = BARE.replace("{path}", "intruder-bearer").replace(
    "\r\n\r\n", "\r\nProxy-Authorization: Bearer {good}\r\n\r\n"
)

@pytest.mark.streamreplay
def test_own_and_foreign(streamreplay):
    plain, tls, ws = os.environ["ORIGIN"], os.environ["TLS_ORIGIN"], os.environ["WS_ORIGIN"]
    own = httpx.get(plain + "/own").json()
    seen = {
        "own": own["path"],
        "httpx_plain": status_via(bare(streamreplay.proxy_url), plain + "/intruder-httpx"),
        "httpx_wrong": status_via(bare(streamreplay.proxy_url, "guess"), plain + "/intruder-wrong"),
        "httpx_connect": status_via(bare(streamreplay.proxy_url), tls + "/intruder-connect"),
        "grpc_plain": status_via(bare(streamreplay.proxy_url), plain + "/intruder.Svc/Call", True),
        "curl_plain": curl_status(bare(streamreplay.proxy_url), plain + "/intruder-curl"),
        "curl_connect": curl_status(bare(streamreplay.proxy_url), tls + "/intruder-curl-tls"),
        "ws": ws_status(bare(streamreplay.proxy_url), ws + "/echo"),
        "curl_h2c": curl_status(
            bare(streamreplay.proxy_url), plain + "/intruder-h2c", "--http2-prior-knowledge"
        ),
        # one authenticated request does not make its connection trusted for the next
        "keep_alive": raw_statuses(
            streamreplay.proxy_url,
            plain.split("://")[1],
            [GOOD.replace("{path}", "own-raw"), BARE.replace("{path}", "intruder-keep-alive")],
        ),
        "raw": [
            raw_statuses(streamreplay.proxy_url, plain.split("://")[1], [r])[0]
            for r in (UPGRADE, ORIGIN_FORM, OTHER_SCHEME)
        ],
    }
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.json").write_text(json.dumps(seen))
"""


def _runs(pytester: pytest.Pytester) -> list[dict[str, str]]:
    files = sorted((pytester.path / "out").glob("run*.json"), key=lambda p: int(p.stem[3:]))
    return [json.loads(p.read_text()) for p in files]


def _refused(seen: dict[str, str]) -> None:
    assert seen["own"] == "/own"
    assert seen["httpx_plain"] == seen["httpx_wrong"] == seen["grpc_plain"] == 407
    assert "ProxyError: 407" in seen["httpx_connect"]
    assert seen["curl_plain"] == "407 000" and seen["curl_connect"] == "000 407"
    assert "407" in seen["ws"]
    assert seen["curl_h2c"] == "407 000"
    assert seen["keep_alive"] == ["200", "407"], seen["keep_alive"]
    assert seen["raw"] == ["407", "407", "407"], seen["raw"]


def test_a_client_without_the_credentials_gets_407_and_is_not_recorded(
    inner, origin, tls_origin, origin_cert, monkeypatch
) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    from stream_servers import start_stream_origin

    ws_origin = start_stream_origin(None)
    try:
        monkeypatch.setenv("ORIGIN", origin.url)
        monkeypatch.setenv("TLS_ORIGIN", tls_origin.url)
        monkeypatch.setenv("WS_ORIGIN", ws_origin.ws_url)
        inner.makepyfile(test_foreign=INTRUDERS)
        recorded = inner.runpytest("--record-mode=once", f"--upstream-ca={origin_cert[0]}")
        recorded.assert_outcomes(passed=1)
        (seen,) = _runs(inner)
        _refused(seen)
        # nothing of the intruders reached an origin or the cassette
        assert [s[1] for s in origin.seen] == ["/own", "/own-raw"]
        assert tls_origin.seen == []
        (cassette,) = cassette_files(inner)
        lines = cassette_lines(cassette)
        assert [r["kind"] for r in lines[1:]] == ["http", "http"]
        assert lines[1]["request"]["url"].endswith("/own")
        assert lines[2]["request"]["url"].endswith("/own-raw")
        assert "intruder" not in cassette.read_text()
        assert "proxy-authorization" not in cassette.read_text().lower()

        # replaying: the intruders get 407, not the recording, and use up nothing (strict)
        origin.stop()
        inner.runpytest("--replay-strict").assert_outcomes(passed=1)
        _refused(_runs(inner)[1])
    finally:
        ws_origin.stop()
