"""Benchmark: the trading pipeline (book, bars, signals, strategy, risk, paper execution) on
generated cassettes replayed on virtual time. Prints JSON.

Two measurements:

* ``replay``: ``tradingbot.pipeline.replay`` end to end (cassette read, JSON, decode, every
  stage) on a virtual clock, ``--runs`` times (median reported): throughput in events/s by
  wall time and by process CPU time
  (the CPU figure is what the code costs when it has the core to itself; the wall figure
  also pays for whatever else the machine runs), plus the pipeline's own latency figures.
* ``stages``: the same events decoded up front, then pushed one by one through the chain
  above the decoder; each event is timed by wall clock and by thread CPU time
  (``time.thread_time_ns``: preemption by other processes does not count).

Pinned to one CPU (``sched_setaffinity``) where the OS allows it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from reactivex.subject import Subject

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_streamreplay.cassette import WsMessage, iter_records
from tradingbot.feeds.dydx import decode
from tradingbot.feeds.events import MarketEvent
from tradingbot.pipeline import Pipeline, PipelineConfig, peak_rss_mb, replay
from tradingbot.testing import write_dev_cassette


def _stats(samples: list[int]) -> dict[str, float]:
    ordered = sorted(samples)
    n = len(ordered)
    return {
        "p50_ms": round(ordered[n // 2] / 1e6, 4),
        "p99_ms": round(ordered[min(n - 1, int(n * 0.99))] / 1e6, 4),
        "max_ms": round(ordered[-1] / 1e6, 4),
    }


def bench_replay(path: Path, runs: int) -> dict[str, Any]:
    """``runs`` replays of the same cassette, each through a fresh pipeline; rates are the
    median run's (the first run also pays for warming caches, later ones for nothing else)."""
    timings: list[tuple[float, float]] = []
    for _ in range(runs):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        pipeline = replay([path])
        timings.append((time.process_time() - cpu0, time.perf_counter() - wall0))
    summary = pipeline.summary()
    events = summary["events"]
    cpu = statistics.median(c for c, _ in timings)
    wall = statistics.median(w for _, w in timings)
    return {
        "messages": summary["messages"],
        "events": events,
        "market_seconds": summary["market_seconds"],
        "runs": runs,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "events_per_s_wall": round(events / wall),
        "events_per_s_cpu": round(events / cpu),
        "events_per_s_cpu_each_run": [round(events / c) for c, _ in timings],
        "latency_ms_incl_decode": summary["latency_ms"],
        "orders": summary["orders"],
        "fills": summary["fills"],
        "bars_confirmed": summary["bars_confirmed"],
    }


def bench_stages(path: Path) -> dict[str, Any]:
    events: list[MarketEvent] = []
    for record in iter_records(path):
        if isinstance(record, WsMessage) and record.dir == "recv":
            events += decode(record.value)
    # stamp receive times like the replay does: the trade/oracle clock is enough here
    pipeline = Pipeline(PipelineConfig(exchange_clock=True))
    subject: Subject[MarketEvent] = Subject()
    pipeline.from_events(subject).subscribe()
    wall: list[int] = []
    cpu: list[int] = []
    perf, thread = time.perf_counter_ns, time.thread_time_ns
    cpu0 = time.process_time()
    for event in events:
        w, c = perf(), thread()
        subject.on_next(event)
        cpu.append(thread() - c)
        wall.append(perf() - w)
    total_cpu = time.process_time() - cpu0
    return {
        "events": len(events),
        "orders": pipeline.execution.orders,
        "wall": _stats(wall),
        "thread_cpu": _stats(cpu),
        "events_per_s_cpu": round(len(events) / total_cpu),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="market minutes per run")
    parser.add_argument("--markets", default="BTC-USD,ETH-USD")
    parser.add_argument("--runs", type=int, default=3, help="replays to take the median of")
    args = parser.parse_args(argv)
    pinned = None
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        pinned = cpu
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as tmp:
        path = write_dev_cassette(
            Path(tmp) / "bench.jsonl",
            seed=11,
            markets=tuple(args.markets.split(",")),
            minutes=args.minutes,
        )
        size_mb = round(path.stat().st_size / 1e6, 1)
        rss_generated = peak_rss_mb()
        replayed = bench_replay(path, max(1, args.runs))
        rss_replay = peak_rss_mb()
        stages = bench_stages(path)
    result = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "pinned_cpu": pinned,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cassette": {"minutes": args.minutes, "markets": args.markets, "mb": size_mb},
        "replay": replayed,
        "stages": stages,
        "peak_rss_mb": {
            "at_start_kib": rss_start,
            "after_generating": rss_generated,
            "after_replay": rss_replay,
            "after_stage_run": peak_rss_mb(),
        },
        "targets": {"p99_ms": 1.0, "events_per_s": 20_000, "peak_rss_mb": 150},
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
