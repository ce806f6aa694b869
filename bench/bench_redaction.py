"""Redaction cost per recorded WebSocket message (issue 12).

Redacts 10,000 WebSocket messages the way a recording session does (``Redactor.record`` on each
freshly built ``WsMessage``): the dYdX indexer messages of the bundled cassette
``cassettes/dydx/book_trades_candles.jsonl`` cycled to 10,000 (market data: nothing to redact,
the common case), and the same with one auth message carrying a key and a secret first and a
JWT in every 100th message (secrets learned early, then scrubbed by value), and ``signed``: the
same with every other message an order carrying its own signature (5,000 distinct secrets that
must not each become one more value to search for). Only the redaction
is timed (CPU time of this process; messages are built beforehand). Prints one JSON object with
the minimum and the median of ``--runs`` runs.

Usage: python bench/bench_redaction.py [--messages N] [--runs R]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_streamreplay.cassette import WsMessage, iter_records  # noqa: E402
from pytest_streamreplay.cassette.redaction import Redactor  # noqa: E402

CASSETTE = ROOT / "cassettes" / "dydx" / "book_trades_candles.jsonl"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiZW5jaC11c2VyIn0.c2lnbmF0dXJlLWZvci1iZW5jaA"


def payloads(n: int, secrets: bool, signed: bool = False) -> list[bytes]:
    source = [r.content for r in iter_records(CASSETTE) if isinstance(r, WsMessage)]
    out = [source[i % len(source)] for i in range(n)]
    if signed:  # every other message an order with its own signature and API key
        for i in range(0, n, 2):
            order = {"op": "order", "apiKey": f"key-{i % 3:06d}", "signature": f"{i:064x}"}
            out[i] = json.dumps(order).encode()
    if secrets:
        out[0] = json.dumps({"action": "auth", "key": "PKBENCHKEY0123456789", "secret": "s" * 40})
        out[0] = out[0].encode()
        for i in range(100, n, 100):
            out[i] = json.dumps({"type": "token", "value": f"refresh {JWT}"}).encode()
    return out


def run(n: int, secrets: bool, signed: bool = False) -> float:
    """CPU seconds spent in ``Redactor.record`` alone (messages are built beforehand)."""
    messages = [
        WsMessage.build(0, "recv", float(i), content, False)
        for i, content in enumerate(payloads(n, secrets, signed))
    ]
    redactor = Redactor()
    t0 = time.process_time()
    for msg in messages:
        redactor.record(msg)
    return time.process_time() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    n = args.messages
    run(1000, True)  # warm caches and imports
    result: dict[str, Any] = {"messages": n, "runs": args.runs, "python": platform.python_version()}
    cases = (("market_data", False, False), ("with_secrets", True, False), ("signed", True, True))
    for label, secrets, signed in cases:
        times = [run(n, secrets, signed) for _ in range(args.runs)]
        # The minimum is the cost without the interference of other processes on a shared box.
        result[label] = {
            "cpu_s_min": round(min(times), 4),
            "cpu_s_median": round(statistics.median(times), 4),
            "us_per_message_min": round(min(times) / n * 1e6, 2),
            "us_per_message_median": round(statistics.median(times) / n * 1e6, 2),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
