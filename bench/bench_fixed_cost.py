"""Fixed cost of the plugin (issue 13.7): what a run pays for having it installed.

Prints one JSON object and writes it to ``bench/results/fixed_cost.json``. All traffic stays on
127.0.0.1. Every pytest run is a fresh process; runs with the plugin alternate with the same
command under ``-p no:streamreplay`` in each round, and medians are reported.

1. ``import``: importing ``pytest_streamreplay.plugin`` when no test uses it (pytest already
   imported), in fresh interpreters; and which heavy modules that import loads.
2. ``one_marked``: N trivial tests plus one marked test replaying one ``httpx.get`` from its
   cassette (``--replay-strict``), against the same run with the plugin off, where that test
   fetches from the local origin. Also the time from the last line of output to the exit.
3. ``per_test``: K marked replayed tests against the same K tests live with the plugin off;
   (difference - one_marked difference) / (K - 1) is the plugin's cost per replayed test.

Targets: import < 50 ms; one_marked <= +0.4 s; per_test < 5 ms.

Usage: python bench/bench_fixed_cost.py [--tests N] [--marked K] [--rounds R]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "fixed_cost.json"
PY = sys.executable
TIMEOUT = 300
# Third-party plugins of the dev environment, off in every run so only ours is measured.
OTHER_PLUGINS = ("anyio", "asyncio", "hypothesispytest", "platformdirs", "syrupy", "timeout")
BASE = ["-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:xdist", "-q"]
OFF = [a for p in OTHER_PLUGINS for a in ("-p", f"no:{p}")]
HEAVY = ("mitmproxy", "reactivex", "syrupy", "rich", "orjson", "asyncio", "ssl", "vcr")


class _Origin(http.server.BaseHTTPRequestHandler):
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def child_env(**extra: str) -> dict[str, str]:
    drop = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONDONTWRITEBYTECODE", "NO_PROXY", "no_proxy")
    env = {k: v for k, v in os.environ.items() if k not in drop and "PROXY" not in k.upper()}
    env.update(extra)
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float, str]:
    """Wall time of the process, time from its last output line to its exit, its CPU time (user
    + system: what the wall time would be on an idle machine, give or take overlap), stdout."""
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines, last = [], t0
    for line in proc.stdout:
        lines.append(line)
        last = time.perf_counter()
    rc = proc.wait(TIMEOUT)
    end = time.perf_counter()
    out = "".join(lines)
    if rc != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({rc}):\n{out}")
    return end - t0, end - last, _children_cpu() - cpu0, out


def med(xs: list[float], nd: int = 3) -> float:
    return round(statistics.median(xs), nd)


def import_cost(rounds: int) -> dict[str, Any]:
    code = (
        "import sys, time, pytest\n"
        "before = set(sys.modules)\n"
        "t = time.perf_counter()\n"
        "import pytest_streamreplay.plugin\n"
        "dt = time.perf_counter() - t\n"
        f"heavy = sorted({{m.split('.')[0] for m in set(sys.modules) - before}} & set({HEAVY!r}))\n"
        "print(dt, ','.join(heavy))\n"
    )
    times, heavy = [], ""
    for _ in range(rounds * 2):
        out = subprocess.run(
            [PY, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env=child_env(),
            cwd=tempfile.gettempdir(),  # not the checkout: ``-c`` puts the cwd first on sys.path
        ).stdout.split()
        times.append(float(out[0]))
        heavy = out[1] if len(out) > 1 else ""
    return {
        "plugin_import_ms_median": round(med(times, 5) * 1000, 1),
        "plugin_import_ms_all": [round(t * 1000, 1) for t in times],
        "heavy_modules_loaded": heavy.split(",") if heavy else [],
        "target_ms": 50,
    }


def _project(d: Path, n_plain: int, n_marked: int) -> None:
    (d / "pytest.ini").write_text("[pytest]\nmarkers =\n    streamreplay: (plugin off)\n")
    (d / "test_plain.py").write_text(
        f"import pytest\n\n@pytest.mark.parametrize('i', range({n_plain}))\n"
        "def test_plain(i):\n    assert i >= 0\n"
    )
    (d / "test_marked.py").write_text(
        textwrap.dedent(
            f"""
            import os, httpx, pytest

            @pytest.mark.streamreplay
            @pytest.mark.parametrize("i", range({n_marked}))
            def test_marked(i):
                url = os.environ["BENCH_ORIGIN"] + f"/item/{{i}}"
                assert httpx.get(url).json() == {{"ok": True}}
            """
        )
    )


def suite(n_plain: int, n_marked: int, rounds: int, origin: str, cache: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-fixed-") as tmp:
        d = Path(tmp)
        _project(d, n_plain, n_marked)
        env = child_env(BENCH_ORIGIN=origin, STREAMREPLAY_CACHE_DIR=str(cache))
        cmd = [PY, "-m", "pytest", *BASE, *OFF]
        timed_run([*cmd, "--record-mode=once"], d, env)
        timed_run([*cmd, "-p", "no:streamreplay"], d, env)  # bytecode written before timing
        variants = {
            "plugin": [*cmd, "--replay-strict"],
            "off": [*cmd, "-p", "no:streamreplay"],
        }
        walls: dict[str, list[float]] = {k: [] for k in variants}
        cpus: dict[str, list[float]] = {k: [] for k in variants}
        exits: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(rounds):
            for name, argv in variants.items():
                wall, exit_lag, cpu, out = timed_run(argv, d, env)
                walls[name].append(wall)
                cpus[name].append(cpu)
                exits[name].append(exit_lag)
                if name == "plugin":
                    assert f"{n_marked} replayed" in out, out
        return {
            "tests": n_plain + n_marked,
            "marked": n_marked,
            "wall_s": {k: med(v) for k, v in walls.items()},
            "wall_s_all": {k: [round(x, 3) for x in v] for k, v in walls.items()},
            "exit_after_last_line_s": {k: med(v) for k, v in exits.items()},
            "cpu_s": {k: med(v) for k, v in cpus.items()},
            "cpu_plugin_minus_off_s": round(med(cpus["plugin"]) - med(cpus["off"]), 3),
            "plugin_minus_off_s": round(med(walls["plugin"]) - med(walls["off"]), 3),
            "paired_diffs_s": [
                round(a - b, 3) for a, b in zip(walls["plugin"], walls["off"], strict=True)
            ],
        }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", type=int, default=200)
    ap.add_argument("--marked", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory(prefix="bench-ca-") as cache:
        result["import"] = import_cost(args.rounds)
        one = suite(args.tests - 1, 1, args.rounds, origin, Path(cache))
        one["target_s"] = 0.4
        result["one_marked"] = one
        many = suite(args.tests - args.marked, args.marked, args.rounds, origin, Path(cache))
        extra = (many["plugin_minus_off_s"] - one["plugin_minus_off_s"]) / (args.marked - 1)
        many["per_replayed_test_ms"] = round(extra * 1000, 2)
        cpu_extra = many["cpu_plugin_minus_off_s"] - one["cpu_plugin_minus_off_s"]
        many["per_replayed_test_cpu_ms"] = round(cpu_extra / (args.marked - 1) * 1000, 2)
        many["target_ms"] = 5
        result["per_test"] = many
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    server.shutdown()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
