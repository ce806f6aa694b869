"""Edges of the recording path where every live body passes to the client as it arrives
(21c1090): recorded through the real proxy with real clients, then replayed ``--replay-strict``
with the origin gone."""

from __future__ import annotations

import shutil

import aiohttp  # noqa: F401  one copy of each client for all inline runs
import httpx  # noqa: F401
import pytest
import requests  # noqa: F401
from pytester_helpers import outputs

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
    origin.stop()

    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    recorded, replayed = outputs(inner)
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
    origin.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    recorded, replayed = outputs(inner)
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
    tls_origin.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    recorded, replayed = outputs(inner)
    assert replayed == recorded
