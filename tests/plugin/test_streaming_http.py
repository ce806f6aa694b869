"""Streamed HTTP (server-sent events): chunks and their timing survive record and replay."""

from __future__ import annotations

import itertools
import json

import aiohttp  # noqa: F401  one copy of each client for all inline runs
import httpx  # noqa: F401
import pytest
import requests  # noqa: F401
from pytester_helpers import cassette_files, cassette_lines
from stream_servers import start_stream_origin
from timing import assert_did_not_wait, assert_on_recorded_offsets

CLIENTS = {
    "httpx": (
        "import httpx\n"
        "def chunks(url):\n"
        "    with httpx.stream('GET', url, timeout=20) as r:\n"
        "        yield from r.iter_raw()\n"
    ),
    "requests": (
        "import requests\n"
        "def chunks(url):\n"
        "    with requests.get(url, stream=True, timeout=20) as r:\n"
        "        yield from r.iter_content(chunk_size=None)\n"
    ),
    "aiohttp": (
        "import asyncio, aiohttp, queue, threading\n"
        "def chunks(url):\n"
        "    q = queue.Queue()\n"
        "    async def go():\n"
        "        try:\n"
        "            async with aiohttp.ClientSession(trust_env=True) as s:\n"
        "                async with s.get(url) as r:\n"
        "                    async for data in r.content.iter_any():\n"
        "                        q.put(data)\n"
        "        except Exception as exc:\n"
        "            q.put(exc)\n"
        "        q.put(None)\n"
        "    threading.Thread(target=lambda: asyncio.run(go())).start()\n"
        "    while (item := q.get(timeout=30)) is not None:\n"
        "        if isinstance(item, Exception):\n"
        "            raise item\n"
        "        yield item\n"
    ),
}

TEST = """
import json, os, pathlib, time, pytest

def events(stream):
    buf = b""
    for chunk in stream:
        buf += chunk
        while b"\\n\\n" in buf:
            block, buf = buf.split(b"\\n\\n", 1)
            data = [l[6:] for l in block.decode().splitlines() if l.startswith("data: ")]
            yield json.loads("".join(data))

@pytest.mark.streamreplay
def test_sse():
    t0, got = time.monotonic(), []
    for event in events(chunks(os.environ["URL"])):   # an SSE consumer over the raw chunks
        got.append([event, (time.monotonic() - t0) * 1000])
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.json").write_text(json.dumps(got))
"""


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_sse_record_and_replay_keep_chunks_and_timing(inner, monkeypatch, client):
    server = start_stream_origin()
    try:
        monkeypatch.setenv("URL", server.http_url + "/sse")
        inner.makepyfile(test_sse=CLIENTS[client] + TEST)
        inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    finally:
        server.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    inner.runpytest("--replay-strict", "--replay-speed=recorded").assert_outcomes(passed=1)
    runs = [json.loads((inner.path / "out" / f"run{i}.json").read_text()) for i in range(3)]
    recorded, instant, timed = ([e[0] for e in run] for run in runs)
    assert recorded == instant == timed and [e["n"] for e in recorded] == [0, 1, 2, 3, 4]
    (record,) = cassette_lines(cassette_files(inner)[0])[1:]
    chunks = record["response"]["chunks"]
    # At recorded speed each event arrives at its recorded offset (from the first).
    want = [c["t"] - chunks[0]["t"] for c in chunks]
    got = [e[1] - runs[2][0][1] for e in runs[2]]
    assert_on_recorded_offsets(got, want)
    assert_did_not_wait(runs[1][-1][1] - runs[1][0][1], want[-1])
    assert len(chunks) == 5, "one chunk per event: the stream structure survives"
    assert all(c["text"].startswith(f"id: {i}\n") for i, c in enumerate(chunks))
    offsets = [c["t"] for c in chunks]
    assert all(b - a >= 60 for a, b in itertools.pairwise(offsets)), offsets  # not buffered
