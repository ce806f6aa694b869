"""Benchmark: ``tradingbot replay --speed 0`` with the dashboard on against headless. Prints JSON.

The bundled dYdX session (or ``--cassette``) is replayed as fast as possible, alternately
headless and with the Rich dashboard drawing to a terminal-sized console (written to
/dev/null), ``--runs`` times each; the figure is the ratio of the medians of process CPU time.
The dashboard redraws on a timer (``REFRESH_HZ``), never per event, so the target is a ratio
of at most 1.5.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console

from tradingbot.dashboard import REFRESH_HZ, Dashboard
from tradingbot.pipeline import replay
from tradingbot.record import recorded_market_speed
from tradingbot.testing import write_dev_cassette

BUNDLED = Path(__file__).resolve().parents[1] / "cassettes" / "dydx" / "book_trades_candles.jsonl"


def _one(path: Path, scale: float, dashboard: bool) -> tuple[float, int, int]:
    """(CPU seconds, events, redraws) of one replay."""
    cpu0 = time.process_time()
    if not dashboard:
        pipeline = replay([path], time_scale=scale)
        return time.process_time() - cpu0, pipeline.events, 0
    with open(os.devnull, "w") as sink:
        console = Console(file=sink, width=120, height=50, force_terminal=True)
        board = Dashboard(console, title=f"tradingbot replay: {path.name}")
        with board.running():
            pipeline = replay([path], time_scale=scale, on_progress=board.update)
    return time.process_time() - cpu0, pipeline.events, board.draws


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cassette", type=Path, default=BUNDLED)
    parser.add_argument(
        "--dev-minutes",
        type=float,
        default=0.0,
        help="replay a generated development cassette of this many market minutes instead "
        "(a longer run: the first and last redraws weigh less)",
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if args.dev_minutes > 0:
        tmp = tempfile.mkdtemp()
        args.cassette = write_dev_cassette(Path(tmp) / "dev.jsonl", minutes=args.dev_minutes)
    scale = recorded_market_speed([args.cassette])
    runs: dict[str, list[float]] = {"headless": [], "dashboard": []}
    events = draws = 0
    for _ in range(max(1, args.runs)):
        for mode in runs:
            cpu, events, drawn = _one(args.cassette, scale, mode == "dashboard")
            runs[mode].append(cpu)
            draws = max(draws, drawn)
    medians = {mode: statistics.median(cpus) for mode, cpus in runs.items()}
    result: dict[str, Any] = {
        "cassette": args.cassette.name,
        "events": events,
        "refresh_hz": REFRESH_HZ,
        "dashboard_redraws": draws,
        "cpu_s": {mode: [round(c, 3) for c in cpus] for mode, cpus in runs.items()},
        "events_per_s_cpu": {mode: round(events / m) for mode, m in medians.items()},
        "ratio": round(medians["dashboard"] / medians["headless"], 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "target_ratio": 1.5,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
