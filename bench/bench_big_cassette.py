"""Replaying one request from a big (~200 MB) cassette: peak RSS growth and time to the first
replayed answer; prints one JSON object.

Three shapes of the same size, generated in a temporary directory:

- ``huge``: a few huge responses (10 interactions, ~20 MB of base64 body each);
- ``many``: many small interactions (~2 KB lines; the replayed one is the last, so matching
  scans them all);
- ``ws``: one WebSocket connection with ~1 M received messages (a dYdX-like feed).

Each run is a fresh child process that imports everything and starts the proxy first, then
measures from entering ``use_cassette`` (the session reads or indexes the cassette) to the first
answer the client holds (the whole response; the first WebSocket message), wall clock and the
process's CPU time over the same span (all threads: steadier on a shared box), and the peak RSS
growth over that span (``/proc/self/clear_refs`` resets the peak before it starts). With
``--baseline-src DIR`` (a checkout of the code before the index, e.g. the main branch at the
parent commit) the same child also runs against that code, alternating with the current code,
so both are measured on the same box at the same time. Medians of ``--runs`` runs.

Usage: python bench/bench_big_cassette.py [--mb 200] [--runs 3] [--shapes huge,many,ws]
                                          [--baseline-src DIR] [--src DIR]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
SRC = HERE.parent

HEADER = {
    "kind": "header",
    "format": "streamreplay-cassette",
    "version": 1,
    "recorded_by": "bench",
    "recorded_at": "2026-12-03T00:00:00+00:00",
}
REQUEST_HEADERS = [
    ["Host", "api.bench.test"],
    ["Accept", "application/json"],
    ["Accept-Encoding", "gzip, deflate"],
    ["User-Agent", "python-httpx/0.28.1"],
    ["Connection", "keep-alive"],
]


def _http(i: int, url: str, body: dict[str, Any], ctype: str) -> dict[str, Any]:
    return {
        "kind": "http",
        "id": i,
        "t": float(i),
        "duration_ms": 1.0,
        "request": {"method": "GET", "url": url, "headers": REQUEST_HEADERS, "body": None},
        "response": {
            "status": 200,
            "reason": "OK",
            "http_version": "HTTP/1.1",
            "headers": [["Content-Type", ctype], ["Date", "Thu, 03 Dec 2026 00:00:00 GMT"]],
            "body": body,
        },
    }


def generate(path: Path, shape: str, total: int) -> dict[str, Any]:
    """Write a ~``total``-byte cassette; return what the child should ask for."""
    with open(path, "wb") as fh:
        fh.write(orjson.dumps(HEADER) + b"\n")
        if shape == "huge":
            count = 10
            raw = os.urandom(total // count * 3 // 4)
            body = {"base64": base64.b64encode(raw).decode()}
            for i in range(count):
                fh.write(
                    orjson.dumps(
                        _http(
                            i, f"http://api.bench.test/blob/{i}", body, "application/octet-stream"
                        )
                    )
                    + b"\n"
                )
            return {"url": f"http://api.bench.test/blob/{count - 1}", "size": len(raw)}
        if shape == "many":
            written, i = 0, 0
            item = {"id": 0, "name": "x" * 40, "tags": ["a", "b", "c"], "price": "12.5"}
            while written < total:
                body = {"json": {"items": [{**item, "id": i * 10 + k} for k in range(10)]}}
                line = (
                    orjson.dumps(
                        _http(
                            i, f"http://api.bench.test/items/{i}?page=1", body, "application/json"
                        )
                    )
                    + b"\n"
                )
                fh.write(line)
                written += len(line)
                i += 1
            url = f"http://api.bench.test/items/{i - 1}?page=1"
            return {"url": url, "interactions": i}
        assert shape == "ws"
        fh.write(
            orjson.dumps(
                {
                    "kind": "ws",
                    "id": 0,
                    "t": 0.0,
                    "url": "ws://feed.bench.test/v4/ws",
                    "headers": [],
                    "response_headers": [],
                }
            )
            + b"\n"
        )
        written, i = 0, 0
        while written < total:
            msg = {
                "kind": "ws_msg",
                "conn": 0,
                "dir": "recv",
                "t": i * 0.25,
                "json": {
                    "type": "channel_data",
                    "id": "BTC-USD",
                    "message_id": i,
                    "contents": {"price": f"{60000 + i % 500}.5", "size": "0.01", "side": "BUY"},
                },
            }
            line = orjson.dumps(msg) + b"\n"
            fh.write(line)
            written += len(line)
            i += 1
        fh.write(
            orjson.dumps(
                {
                    "kind": "ws_close",
                    "conn": 0,
                    "t": i * 0.25,
                    "code": 1000,
                    "reason": "",
                    "by": "server",
                }
            )
            + b"\n"
        )
        return {"url": "ws://feed.bench.test/v4/ws", "messages": i}


CHILD = r"""
import json, os, sys, time

def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6

def peak_mb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1000.0
    raise RuntimeError("no VmHWM")

import httpx, websocket, pytest_streamreplay
from pytest_streamreplay.harness import runtime, use_cassette

path, shape, url = sys.argv[1], sys.argv[2], sys.argv[3]
runtime().proxy()  # started (and mitmproxy imported) before measuring
base = rss_mb()
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # the peak (VmHWM) starts again from here
t0, c0 = time.perf_counter(), time.process_time()
with use_cassette(path, record_mode="none") as handle:
    if shape == "ws":
        ws = websocket.create_connection(url, timeout=120)
        first = ws.recv()
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        ws.close()
        size = len(first)
    else:
        response = httpx.get(url, timeout=120)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert response.status_code == 200, response.text[:500]
        size = len(response.content)
    peak = peak_mb()
print(json.dumps({
    "first_answer_s": elapsed,
    "first_answer_cpu_s": cpu,
    "peak_rss_growth_mb": peak - base,
    "answer_bytes": size,
    "code": os.path.dirname(pytest_streamreplay.__file__),
}))
"""


def run_child(cassette: Path, shape: str, url: str, src: Path, cwd: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(var, None)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(cassette), shape, url],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=900,
    )
    if out.returncode != 0:
        raise RuntimeError(f"child failed ({src}):\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - start
    if Path(result["code"]).resolve() != (src / "pytest_streamreplay").resolve():
        raise RuntimeError(f"the child imported {result['code']}, not the code under {src}")
    return result


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def median(key: str) -> float:
        return round(statistics.median(r[key] for r in runs), 3)

    return {
        "first_answer_s_median": median("first_answer_s"),
        "first_answer_cpu_s_median": median("first_answer_cpu_s"),
        "peak_rss_growth_mb_median": median("peak_rss_growth_mb"),
        "process_s_median": median("process_s"),
        "first_answer_s": [round(r["first_answer_s"], 3) for r in runs],
        "peak_rss_growth_mb": [round(r["peak_rss_growth_mb"], 1) for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="cassette size in MB (default 200)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shapes", default="huge,many,ws")
    parser.add_argument("--baseline-src", type=Path, help="checkout of the code to compare with")
    parser.add_argument(
        "--src", type=Path, default=SRC, help="the code to measure (default: this checkout)"
    )
    args = parser.parse_args()
    result: dict[str, Any] = {
        "mb": args.mb,
        "runs": args.runs,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
    }
    with tempfile.TemporaryDirectory(prefix="bench-big-") as tmp:
        cwd = Path(tmp)
        for shape in args.shapes.split(","):
            cassette = cwd / f"{shape}.jsonl"
            facts = generate(cassette, shape, args.mb * 1_000_000)
            codes = {"index": args.src.resolve()}
            if args.baseline_src is not None:
                codes["baseline"] = args.baseline_src.resolve()
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in codes}
            for _ in range(args.runs):
                for name, src in codes.items():  # alternated: the same load for both
                    runs[name].append(run_child(cassette, shape, facts["url"], src, cwd))
            result[shape] = {
                "cassette_mb": round(cassette.stat().st_size / 1e6, 1),
                **{k: v for k, v in facts.items() if k != "url"},
                **{name: summarise(r) for name, r in runs.items()},
            }
            cassette.unlink()
    result["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
