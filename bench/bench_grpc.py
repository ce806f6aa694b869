"""gRPC server-stream replay throughput (issue 14): the same grpcio client reading N small
messages from a live server directly, and from the cassette replayed at ``instant``.

The live server runs in a child process (so it does not share this interpreter's GIL with the
reader). The cassette is recorded once through the plugin's proxy (``use_cassette``,
``record_mode="all"``) from that server, then replayed with ``strict=True`` after the server is
gone, through the HTTP/2 replay origin. Runs alternate live and replay; medians are reported.
Rate = N / (call start to last message). All traffic stays on 127.0.0.1.

Prints one JSON object. Usage: python bench/bench_grpc.py [--messages N] [--runs R]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from pytest_streamreplay.proxy.env import ROUTING_VARS  # noqa: E402

for _var in ROUTING_VARS:  # the live runs go straight to the server
    os.environ.pop(_var, None)

SERVER = r"""
import sys, time
from concurrent import futures
import grpc

N = int(sys.argv[1])
PAYLOAD = b'{"market":"BTC-USD","price":"97000.5","size":"0.0123","side":"BUY","seq":%d}'

def stream(request, context):
    for i in range(N):
        yield PAYLOAD % i

handler = grpc.method_handlers_generic_handler(
    "bench.Feed", {"Stream": grpc.unary_stream_rpc_method_handler(stream)}
)
server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
server.add_generic_rpc_handlers((handler,))
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(port, flush=True)
sys.stdin.read()
server.stop(0)
"""


def read_stream(target: str, n: int) -> float:
    """Messages per second for one call (the channel is made per call, as a test would)."""
    import grpc

    with grpc.insecure_channel(target) as channel:
        call = channel.unary_stream("/bench.Feed/Stream")
        start = time.perf_counter()
        count = sum(1 for _ in call(b"", timeout=120))
        elapsed = time.perf_counter() - start
    if count != n:
        raise SystemExit(f"expected {n} messages, got {count}")
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from pytest_streamreplay.harness import runtime, use_cassette

    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(args.messages)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    target = f"localhost:{server.stdout.readline().strip()}"
    work = Path(tempfile.mkdtemp(prefix="bench-grpc-"))
    os.environ.setdefault("STREAMREPLAY_CACHE_DIR", str(work / "cache"))
    cassette = work / "stream.jsonl"
    live: list[float] = []
    replay: list[float] = []
    try:
        with use_cassette(cassette, record_mode="all"):
            read_stream(target, args.messages)
        chunks = sum(1 for _ in cassette.open()) - 1
        for _ in range(args.runs):
            live.append(read_stream(target, args.messages))
            with use_cassette(cassette, strict=True):
                replay.append(read_stream(target, args.messages))
    finally:
        server.communicate("", timeout=10)
        runtime().stop()
    live_median, replay_median = statistics.median(live), statistics.median(replay)
    print(
        json.dumps(
            {
                "benchmark": "grpc server stream, replay at instant vs live",
                "messages": args.messages,
                "runs": args.runs,
                "cassette_lines": chunks + 1,
                "cassette_bytes": cassette.stat().st_size,
                "live_msgs_per_s": [round(x) for x in live],
                "replay_msgs_per_s": [round(x) for x in replay],
                "live_median": round(live_median),
                "replay_median": round(replay_median),
                "replay_over_live": round(replay_median / live_median, 3),
                "target": ">= 0.5",
                "load": [round(x, 2) for x in os.getloadavg()],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
