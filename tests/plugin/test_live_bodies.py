"""Edges of the recording path where every live body passes to the client as it arrives
(21c1090): recorded through the real proxy with real clients, then replayed ``--replay-strict``
with the origin gone."""

from __future__ import annotations

import shutil
from typing import Any

import aiohttp  # noqa: F401  one copy of each client for all inline runs
import httpx  # noqa: F401
import pytest
import requests  # noqa: F401
from pytester_helpers import cassette_files, cassette_lines, outputs
from stream_servers import start_stream_origin


def _replay_offline(inner: pytest.Pytester, origin: Any) -> tuple[bytes, bytes]:
    """Stop the origin, replay strictly: the recorded run's output and the replayed one's."""
    origin.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    recorded, replayed = outputs(inner)
    return recorded, replayed


#: ``post(url, data) -> body``, one per client.
POSTERS = {
    "httpx": (
        "import httpx\ndef post(url, data):\n    return httpx.post(url, content=data).content\n"
    ),
    "httpx_chunked": (  # a body of unknown length goes out chunked
        "import httpx\n"
        "def post(url, data):\n"
        "    return httpx.post(url, content=iter([data[:1000], data[1000:]])).content\n"
    ),
    "requests": (
        "import requests\ndef post(url, data):\n    return requests.post(url, data=data).content\n"
    ),
    "aiohttp": (
        "import asyncio, aiohttp\n"
        "def post(url, data):\n"
        "    async def go():\n"
        "        async with aiohttp.ClientSession(trust_env=True) as s:\n"
        "            async with s.post(url, data=data) as r:\n"
        "                return await r.read()\n"
        "    return asyncio.run(go())\n"
    ),
    "urllib": (
        "import urllib.request\n"
        "def post(url, data):\n"
        "    with urllib.request.urlopen(urllib.request.Request(url, data=data)) as r:\n"
        "        return r.read()\n"
    ),
    "curl": (
        "import subprocess\n"
        "def post(url, data):\n"
        "    return subprocess.run(['curl', '-sS', '-m', '30', '--data-binary', '@-', url],\n"
        "                          input=data, capture_output=True, check=True).stdout\n"
    ),
}

UPLOAD = """
import hashlib, os, pathlib, pytest

@pytest.mark.streamreplay
def test_upload():
    body = post(os.environ["ORIGIN"] + "/bytes/3000000", b"u" * 5_000_000)
    assert len(body) == 3_000_000
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.bin").write_bytes(hashlib.sha256(body).digest())
"""


@pytest.mark.parametrize("client", sorted(POSTERS))
def test_a_large_upload_with_a_large_answer_replays_whole(
    inner, origin, monkeypatch, client: str
) -> None:
    """The answer (over 1 MiB) is replayed by the replay origin; the upload (5 MB) reaches it
    too. It used to close without reading the upload: the kernel reset the connection with
    the upload unread, and the client got 65 432 of 3 000 000 bytes."""
    if client == "curl" and shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(test_api=POSTERS[client] + UPLOAD)

    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    assert [(m, len(body)) for m, _, _, body in origin.seen] == [("POST", 5_000_000)]
    recorded, replayed = _replay_offline(inner, origin)
    assert replayed == recorded


#: ``head(url) -> (status, content-length or None, body)``, one per client.
HEADERS_ONLY = {
    "httpx": (
        "import httpx\n"
        "def fetch(method, url):\n"
        "    r = httpx.request(method, url)\n"
        "    return r.status_code, r.headers.get('content-length'), r.content\n"
    ),
    "requests": (
        "import requests\n"
        "def fetch(method, url):\n"
        "    r = requests.request(method, url)\n"
        "    return r.status_code, r.headers.get('content-length'), r.content\n"
    ),
    "aiohttp": (
        "import asyncio, aiohttp\n"
        "def fetch(method, url):\n"
        "    async def go():\n"
        "        async with aiohttp.ClientSession(trust_env=True) as s:\n"
        "            async with s.request(method, url) as r:\n"
        "                return r.status, r.headers.get('content-length'), await r.read()\n"
        "    return asyncio.run(go())\n"
    ),
    "urllib": (
        "import urllib.request\n"
        "def fetch(method, url):\n"
        "    with urllib.request.urlopen(urllib.request.Request(url, method=method)) as r:\n"
        "        return r.status, r.headers.get('content-length'), r.read()\n"
    ),
}

NO_BODY = """
import os, pathlib, pytest

@pytest.mark.streamreplay
def test_no_body():
    base = os.environ["ORIGIN"]
    seen = [fetch(m, base + p) for m, p in (("HEAD", "/bytes/1234"), ("GET", "/status/204"))]
    assert seen[0][0] == 200 and seen[0][2] == b""
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.bin").write_bytes(repr(seen).encode())
"""


@pytest.mark.parametrize("client", sorted(HEADERS_ONLY))
def test_head_and_204_replay_their_headers(inner, origin, monkeypatch, client: str) -> None:
    """A HEAD answer's Content-Length is the size of the body a GET would get (clients read
    a file's size from it); a 204 has none. Replay keeps both as recorded."""
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(test_api=HEADERS_ONLY[client] + NO_BODY)

    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    recorded, replayed = _replay_offline(inner, origin)
    assert recorded.startswith(b"[(200, '1234', b'')")
    assert replayed == recorded


CURL_H2 = """
import os, pathlib, subprocess, pytest

@pytest.mark.streamreplay
def test_close_over_h2():
    url = os.environ["ORIGIN"] + "/close"
    done = subprocess.run(
        ["curl", "-sS", "-m", "30", "--http2", "-w", "\\\\n%{http_version}", url],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    body, version = done.stdout.rsplit("\\n", 1)
    assert version == "2" and '"uuid"' in body
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.bin").write_bytes(body.encode())
"""


def test_connection_close_replays_to_an_http2_client(
    inner, tls_origin, origin_cert, monkeypatch
) -> None:
    """An HTTP/1 origin's ``Connection: close`` is recorded as sent; replayed to a client that
    speaks HTTP/2 with the proxy (curl over TLS), a connection header is a protocol error
    (RFC 9113 8.2.2): curl failed with 'stream 1 was not closed cleanly: PROTOCOL_ERROR'."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    monkeypatch.setenv("ORIGIN", tls_origin.url)
    inner.makepyfile(test_api=CURL_H2)

    inner.runpytest("--record-mode=once", f"--upstream-ca={origin_cert[0]}").assert_outcomes(
        passed=1
    )
    recorded, replayed = _replay_offline(inner, tls_origin)
    assert replayed == recorded


HOOKS_CONFTEST = """
import gzip, hashlib, os, pathlib, pytest
from pytest_streamreplay.cassette import HttpInteraction

def _note(line):
    with open(pathlib.Path(os.environ["OUT"]).parent / "hooks.txt", "a") as f:
        f.write(line + "\\n")

def pytest_streamreplay_redact(record, test_id):
    if isinstance(record, HttpInteraction):
        r = record.response
        kind = "body" if r.chunks is None else "chunks"
        _note(f"redact {record.request.url} {kind} {hashlib.sha256(r.content).hexdigest()}")

def _seen(response):
    body = response["body"]["string"]
    if body[:2] == b"\\x1f\\x8b":
        body = gzip.decompress(body)
    _note(f"vcr {hashlib.sha256(body).hexdigest()}")
    return response

@pytest.fixture(scope="module")
def vcr_config():
    return {"before_record_response": _seen}
"""

HOOKS_TESTS = """
import hashlib, os, pathlib, httpx, pytest

def _fetch(urls):
    bodies = [httpx.get(url).content for url in urls]
    with open(pathlib.Path(os.environ["OUT"]).parent / "client.txt", "a") as f:
        f.writelines(hashlib.sha256(b).hexdigest() + "\\n" for b in bodies)

@pytest.mark.vcr
def test_vcr():
    _fetch([os.environ["ORIGIN"] + p for p in ("/gzip", "/a", "/bytes/70000")])

@pytest.mark.streamreplay
def test_routed(streamreplay):
    streamreplay.route("https://api.example.test", os.environ["ORIGIN"])
    _fetch(["https://api.example.test/gzip", "https://api.example.test/close"])
"""


def test_hooks_see_whole_bodies_and_routes_keep_production_urls(inner, origin, monkeypatch) -> None:
    """Bodies now pass to the client as they arrive; one that finishes is still one ``body``
    for the redact hook and vcrpy's ``before_record_response`` (decoded: the bytes the client
    read), and a route still records the production URL."""
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makeconftest(HOOKS_CONFTEST)
    inner.makepyfile(test_api=HOOKS_TESTS)

    inner.runpytest("--record-mode=once").assert_outcomes(passed=2)
    client = (inner.path / "client.txt").read_text().split()
    hooks = (inner.path / "hooks.txt").read_text().splitlines()
    redacted = [line.split() for line in hooks if line.startswith("redact ")]
    assert [(url, kind) for _, url, kind, _ in redacted] == [
        (origin.url + "/gzip", "body"),
        (origin.url + "/a", "body"),
        (origin.url + "/bytes/70000", "body"),
        ("https://api.example.test/gzip", "body"),
        ("https://api.example.test/close", "body"),
    ]
    assert [digest for *_, digest in redacted] == client
    assert [line.split()[1] for line in hooks if line.startswith("vcr ")] == client[:3]
    routed = (inner.path / "cassettes" / "test_api" / "test_routed.jsonl").read_text()
    assert origin.url not in routed and "https://api.example.test/close" in routed

    origin.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=2)
    assert (inner.path / "client.txt").read_text().split() == client * 2


SCRUB_CONFTEST = """
import pytest

def _scrub(response):
    body = response["body"]["string"]
    response["body"]["string"] = body.replace(b'"n": 0', b'"n": "scrubbed"')
    return response

@pytest.fixture(scope="module")
def vcr_config():
    return {"before_record_response": _scrub}
"""

SCRUB_TEST = """
import os, httpx, pytest

@pytest.mark.vcr
def test_cut():
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(os.environ["URL"], timeout=10)
"""


@pytest.mark.parametrize("path", ["/cut-plain", "/cut-length"])
def test_before_record_response_changes_a_body_recorded_in_chunks(
    inner, monkeypatch, path: str
) -> None:
    """A body the origin broke off (plain text, now recorded as what was delivered; an NDJSON
    stream) is written as chunks: what vcrpy's ``before_record_response`` returns for it is
    what is written, as for a whole body. It was dropped silently: what the callable scrubbed
    reached the cassette."""
    streams = start_stream_origin()
    try:
        monkeypatch.setenv("URL", streams.raw_url + path)
        inner.makeconftest(SCRUB_CONFTEST)
        inner.makepyfile(test_api=SCRUB_TEST)
        inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    finally:
        streams.stop()
    (cassette,) = cassette_files(inner)
    text = cassette.read_text()
    assert '\\"n\\": \\"scrubbed\\"' in text or '"n":"scrubbed"' in text
    assert '\\"n\\": 0' not in text and '"n":0' not in text
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)


TRAILERS = """
import os, pathlib, pytest

@pytest.mark.streamreplay
def test_trailers():
    seen = fetch("GET", os.environ["ORIGIN"] + "/trailers")
    assert seen[0] == 200 and b'"uuid"' in seen[2]
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.bin").write_bytes(seen[2])
"""


@pytest.mark.parametrize("client", sorted(HEADERS_ONLY))
def test_an_http1_answer_with_trailers_reaches_the_client(
    inner, origin, monkeypatch, client: str
) -> None:
    """mitmproxy 12 does not read HTTP/1 trailers: its reader raised NotImplementedError and
    the client waited for the rest of the answer until its timeout. The proxy now ends the
    body at its last chunk and drops the trailer fields, recorded and replayed so."""
    monkeypatch.setenv("ORIGIN", origin.url)
    monkeypatch.setenv("PYTEST_TIMEOUT", "20")
    inner.makepyfile(test_api=HEADERS_ONLY[client] + TRAILERS)

    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    recorded, replayed = _replay_offline(inner, origin)
    assert replayed == recorded


COMPRESSED = """
import os, pathlib, pytest

@pytest.mark.streamreplay
def test_compressed():
    base = os.environ["ORIGIN"]
    paths = [f"/enc/{n}{q}" for n in ("gzip", "deflate", "br") for q in ("", "?chunked")]
    seen = [fetch("GET", base + p)[2] for p in paths]
    assert all(seen)  # urllib asks for no encoding and decodes none: it gets the bytes
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.bin").write_bytes(b"\\\\n".join(seen))
"""


@pytest.mark.parametrize("client", sorted(HEADERS_ONLY))
def test_compressed_bodies_keep_their_exact_bytes_rule(
    inner, origin, monkeypatch, client: str
) -> None:
    """gzip, deflate and br JSON bodies, sized and chunked, pass to the client as they arrive
    and are still written whole: readable ``body`` plus the ``encoded`` recipe that rebuilds
    the origin's bytes (as before 21c1090), and the replayed client decodes the same."""
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(test_api=HEADERS_ONLY[client] + COMPRESSED)

    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    (cassette,) = cassette_files(inner)
    responses = [record["response"] for record in cassette_lines(cassette)[1:]]
    assert len(responses) == 6
    for response in responses:
        assert "chunks" not in response and response["encoded"], response
        assert "uuid" in response["body"]["json"]
    recorded, replayed = _replay_offline(inner, origin)
    assert replayed == recorded


EARLY = """
import os, pathlib, pytest

@pytest.mark.streamreplay
def test_early():
    seen = fetch("GET", os.environ["ORIGIN"] + "/early")
    assert seen[0] == 200 and b'"uuid"' in seen[2], seen
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.bin").write_bytes(seen[2])
"""


@pytest.mark.parametrize("client", sorted(HEADERS_ONLY))
def test_an_informational_answer_before_the_answer_is_not_taken_for_it(
    inner, origin, monkeypatch, client: str
) -> None:
    """An origin's ``103 Early Hints`` before its ``200``: mitmproxy 12 took the 103 as the
    answer (requests got a 103, httpx waited for the rest until its timeout) and the cassette
    kept it. The proxy now skips informational answers from an HTTP/1 origin."""
    monkeypatch.setenv("ORIGIN", origin.url)
    monkeypatch.setenv("PYTEST_TIMEOUT", "20")
    inner.makepyfile(test_api=HEADERS_ONLY[client] + EARLY)

    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    (cassette,) = cassette_files(inner)
    assert [r["response"]["status"] for r in cassette_lines(cassette)[1:]] == [200]
    recorded, replayed = _replay_offline(inner, origin)
    assert replayed == recorded
