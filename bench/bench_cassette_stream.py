"""Benchmark the stream toolkit; prints one JSON object.

1. ``cassette_stream`` over a generated N-message cassette (default 1,000,000) on virtual time:
   events/s (wall clock; the CPU-time rate too, steadier on a shared box) and peak RSS growth
   (targets: > 300,000 events/s, < 50 MB). The file is generated in a child process so the
   parent's RSS measures the replay alone. ``iter_records`` alone is timed too: it is the floor
   under any replay.
2. Loading 1,000 HTTP interactions: ``read_cassette`` (JSON Lines) vs vcrpy's ``Cassette.load``
   of the same interactions written with vcrpy's own ``Cassette``/YAML serializer. Medians.

Usage: python bench/bench_cassette_stream.py [--messages N] [--runs R]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate_ws(path: Path, n: int) -> None:
    from pytest_streamreplay.cassette import CassetteWriter, WsConnection, new_header

    with CassetteWriter(path, new_header(note="bench")) as w:
        w.write(WsConnection(1, "wss://indexer.example/v4/ws", t=0.0))
        for i in range(n):
            w.write(
                {
                    "kind": "ws_msg",
                    "conn": 1,
                    "dir": "recv",
                    "t": round(i * 0.25, 3),
                    "json": {
                        "type": "channel_data",
                        "id": "BTC-USD",
                        "contents": {
                            "price": f"{60000 + i % 500}.5",
                            "size": "0.01",
                            "side": "BUY",
                        },
                    },
                }
            )


def rss_mb() -> float:
    """Current resident set size (Linux /proc; falls back to the peak from getrusage)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_stream(path: Path, n: int) -> dict[str, float]:
    # Warm imports and code paths on a throwaway subscription (first 1,000 items).
    import reactivex.operators as ops

    from pytest_streamreplay.cassette import iter_records
    from pytest_streamreplay.streams import VirtualScheduler, cassette_stream

    warm = VirtualScheduler()
    cassette_stream(path, scheduler=warm).pipe(ops.take(1000)).subscribe(lambda _: None)
    warm.start()

    before = rss_mb()
    peak = before
    scheduler = VirtualScheduler()
    count = 0

    def on_next(_: object) -> None:
        nonlocal count, peak
        count += 1
        if count % 20_000 == 0:  # sample RSS while the replay runs
            peak = max(peak, rss_mb())

    t0, c0 = time.perf_counter(), time.process_time()
    cassette_stream(path, scheduler=scheduler).subscribe(on_next)
    scheduler.start()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    growth = max(0.0, max(peak, rss_mb()) - before)
    assert count == n, (count, n)

    t0 = time.perf_counter()
    records = sum(1 for _ in iter_records(path))
    iter_elapsed = time.perf_counter() - t0
    return {
        "events": count,
        "seconds": round(elapsed, 3),
        "events_per_s": round(count / elapsed),
        "cpu_seconds": round(cpu, 3),
        "events_per_cpu_s": round(count / cpu),
        "virtual_ms_at_end": scheduler.now_ms,
        "peak_rss_growth_mb": round(growth, 2),
        "iter_records_only_per_s": round(records / iter_elapsed),
    }


def bench_http(tmp: Path, runs: int, n: int = 1000) -> dict[str, object]:
    from vcr.cassette import Cassette
    from vcr.request import Request

    from pytest_streamreplay.cassette import (
        HttpInteraction,
        HttpRequest,
        HttpResponse,
        encode_body,
        new_header,
        read_cassette,
        write_cassette,
    )

    ours = tmp / "http.jsonl"
    theirs = tmp / "http.yaml"
    records = []
    vcr_cassette = Cassette(str(theirs))
    for i in range(n):
        url = (
            f"https://indexer.example/v4/candles/perpetualMarkets/BTC-USD?resolution=1MIN&page={i}"
        )
        body = json.dumps(
            {
                "candles": [
                    {
                        "startedAt": f"2024-01-01T00:{i % 60:02d}:00Z",
                        "open": "60000.5",
                        "close": "60010.0",
                        "baseTokenVolume": "1.25",
                    }
                ]
                * 3
            },
            separators=(",", ":"),
        ).encode()
        headers = [("Content-Type", "application/json"), ("Date", "Mon, 01 Jan 2024 00:00:00 GMT")]
        records.append(
            HttpInteraction(
                id=i,
                request=HttpRequest.build("GET", url, [("Accept", "application/json")], None),
                response=HttpResponse(200, "OK", "HTTP/1.1", headers, encode_body(body)),
                t=float(i),
                duration_ms=12.5,
            )
        )
        request = Request("GET", url, None, {"Accept": "application/json"})
        response = {
            "status": {"code": 200, "message": "OK"},
            "headers": {k: [v] for k, v in headers},
            "body": {"string": body.decode()},
        }
        vcr_cassette.append(request, response)
    write_cassette(ours, new_header(note="bench"), records)
    vcr_cassette._save(force=True)

    def timed(fn: object) -> list[float]:
        out = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()  # type: ignore[operator]
            out.append((time.perf_counter() - t0) * 1000.0)
        return out

    ours_ms = timed(lambda: read_cassette(ours))
    vcr_ms = timed(lambda: Cassette.load(path=str(theirs)))
    loaded = Cassette.load(path=str(theirs))
    assert len(loaded.data) == n and len(read_cassette(ours)[1]) == n
    ours_median = statistics.median(ours_ms)
    vcr_median = statistics.median(vcr_ms)
    return {
        "interactions": n,
        "runs": runs,
        "streamreplay_read_cassette_ms_median": round(ours_median, 2),
        "vcrpy_cassette_load_ms_median": round(vcr_median, 2),
        "vcrpy_over_streamreplay": round(vcr_median / ours_median, 2),
        "file_bytes": {"jsonl": ours.stat().st_size, "vcrpy_yaml": theirs.stat().st_size},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as d:
        tmp = Path(d)
        ws = tmp / "ws.jsonl"
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--generate", str(ws), str(args.messages)], check=True
        )
        generated_s = time.perf_counter() - t0
        stream = bench_stream(ws, args.messages)
        stream["file_mb"] = round(ws.stat().st_size / 1e6, 1)
        stream["generate_seconds"] = round(generated_s, 1)
        stream["target_events_per_s"] = 300_000
        stream["target_met"] = (
            stream["events_per_s"] > 300_000 and stream["peak_rss_growth_mb"] < 50
        )
        http = bench_http(tmp, args.runs)
    print(
        json.dumps(
            {
                "python": sys.version.split()[0],
                "cpus": os.cpu_count(),
                "cassette_stream_virtual_time": stream,
                "http_load_1000": http,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--generate":
        generate_ws(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
