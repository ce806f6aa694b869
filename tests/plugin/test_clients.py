"""Every common client, plain and TLS: record, take the origin away, replay the same bytes."""

from __future__ import annotations

import shutil

import aiohttp  # noqa: F401  imported here so inline runs share one copy of each client
import httpx  # noqa: F401
import pytest
import requests  # noqa: F401
from pytester_helpers import cassette_files, cassette_lines, outputs

CLIENTS = {
    "httpx": "import httpx\ndef fetch(url):\n    return httpx.get(url).content\n",
    "httpx_async": (
        "import asyncio, httpx\n"
        "def fetch(url):\n"
        "    async def go():\n"
        "        async with httpx.AsyncClient() as c:\n"
        "            return (await c.get(url)).content\n"
        "    return asyncio.run(go())\n"
    ),
    "requests": "import requests\ndef fetch(url):\n    return requests.get(url).content\n",
    "aiohttp": (
        "import asyncio, aiohttp\n"
        "def fetch(url):\n"
        "    async def go():\n"
        "        async with aiohttp.ClientSession(trust_env=True) as s:\n"
        "            async with s.get(url) as r:\n"
        "                return await r.read()\n"
        "    return asyncio.run(go())\n"
    ),
    "urllib": (
        "import urllib.request\n"
        "def fetch(url):\n"
        "    with urllib.request.urlopen(url) as r:\n"
        "        return r.read()\n"
    ),
    "curl": (
        "import subprocess\n"
        "def fetch(url):\n"
        "    return subprocess.run(['curl', '-sS', '-m', '30', '--compressed', url],\n"
        "                          capture_output=True, check=True).stdout\n"
    ),
}

TEST_BODY = """
import os, pathlib, pytest

@pytest.mark.streamreplay
def test_fetch():
    base = os.environ["ORIGIN"]
    bodies = [fetch(base + p) for p in ("/a?x=1", "/gzip", "/binary")]
    assert b"uuid" in bodies[0]
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.bin").write_bytes(b"\\n--\\n".join(bodies))
"""


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_record_then_replay_offline(
    inner, origin, tls_origin, origin_cert, monkeypatch, client: str, scheme: str
) -> None:
    if client == "curl" and shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    server = tls_origin if scheme == "https" else origin
    monkeypatch.setenv("ORIGIN", server.url)
    inner.makepyfile(test_api=CLIENTS[client] + TEST_BODY)

    recorded = inner.runpytest("--record-mode=once", f"--upstream-ca={origin_cert[0]}")
    recorded.assert_outcomes(passed=1)
    assert len(server.seen) == 3
    server.stop()

    replayed = inner.runpytest("--replay-strict")
    replayed.assert_outcomes(passed=1)
    first, second = outputs(inner)
    assert first == second, "replay must deliver the recorded bytes"

    (cassette,) = cassette_files(inner)
    assert cassette.relative_to(inner.path).as_posix() == "cassettes/test_api/test_fetch.jsonl"
    lines = cassette_lines(cassette)
    assert lines[0]["format"] == "streamreplay-cassette"
    assert [r["request"]["url"].split("/", 3)[3] for r in lines[1:]] == ["a?x=1", "gzip", "binary"]
    assert all(r["request"]["url"].startswith(scheme + "://") for r in lines[1:])
    assert "json" in lines[1]["response"]["body"], "JSON bodies are stored structured"
    assert "base64" in lines[3]["response"]["body"]
