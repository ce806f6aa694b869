"""Plugin overhead (issue 2): what pytest-streamreplay costs per test and per session.

Prints one JSON object and writes it to ``bench/results/overhead.json``. All traffic stays on
127.0.0.1. Sections:

1. The same generated suite of N tests (default 200; each one ``httpx.get`` to a local origin)
   run as plain pytest (live floor, ``-p no:streamreplay``), as a pytest-streamreplay replay
   (``--replay-strict``, origin stopped) and as a pytest-recording (vcrpy) replay
   (``--record-mode=none``, origin stopped). pytest-recording registers ``--record-mode`` too, so
   it runs from its own virtualenv (``bench/.venv-peer``, created on first use). Wall times are
   medians over rounds that interleave the three suites.
2. The proxy's own cost per request: a reused ``httpx.Client`` through the replaying proxy vs
   the same client straight to the origin; and ``harness.bound`` (bind + env patching) per test.
3. Session start-up: ``import mitmproxy`` and the first ``runtime().proxy()`` in fresh
   interpreters, and stop.
4. Import cost when unused: ``-X importtime`` of the plugin, ``pytest --collect-only`` with and
   without the plugin, and a check that mitmproxy is never imported when no test uses the proxy.
5. httpx builds one SSL context per proxy variable it sees: ``httpx.Client()`` and ``httpx.get``
   with 0-3 proxy variables set (SSL_CERT_FILE set to the proxy's CA bundle).

Usage: python bench/bench_overhead.py [--tests N] [--rounds R] [--peer-venv DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "overhead.json"
OUR_PY = ROOT / ".venv" / "bin" / "python"
PEER_PACKAGES = ["pytest", "pytest-recording", "httpx==0.27.2", "vcrpy"]
TIMEOUT = 300  # seconds, for any one child process
NEUTRAL = Path(tempfile.gettempdir())  # cwd of ``python -c`` children
# Environment variables that would change how clients route or verify: cleared for every child.
_ROUTING_VARS = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "ws_proxy",
    "wss_proxy",
    "WS_PROXY",
    "WSS_PROXY",
    "grpc_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    # Children write and reuse bytecode, as in a normal checkout (this box sets it to 1, which
    # would make every child compile the plugin from source).
    "PYTHONDONTWRITEBYTECODE",
)


_SRC_OVERRIDE = ""  # set by --plugin-ref: a directory holding a pytest_streamreplay snapshot


def git(*args: str) -> str:
    """Read-only git queries (no index refresh, no lock)."""
    return subprocess.run(
        ["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def plugin_source(ref: str | None, tmp: Path) -> dict[str, Any]:
    """Which plugin code is measured: the working tree, or ``ref`` exported to ``tmp``."""
    global _SRC_OVERRIDE
    head = git("rev-parse", "HEAD").strip()
    if ref is None:
        dirty = git("status", "--porcelain", "--", "pytest_streamreplay").splitlines()
        return {"source": "working tree", "head": head, "uncommitted_files": len(dirty)}
    src = tmp / "src"
    src.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "pytest_streamreplay"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    _SRC_OVERRIDE = str(src)
    sys.path.insert(0, _SRC_OVERRIDE)
    commit = git("rev-parse", ref).strip()
    return {"source": f"git {ref} (exported)", "commit": commit, "head": head}


# -- helpers -------------------------------------------------------------------------------------
def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def med(xs: list[float], nd: int = 3) -> float:
    return round(statistics.median(xs), nd)


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _ROUTING_VARS}
    if _SRC_OVERRIDE:
        env["PYTHONPATH"] = os.pathsep.join([_SRC_OVERRIDE, env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
    env.update(extra)
    return env


def run(cmd: list[str], cwd: Path | None = None, **env: str) -> tuple[float, str, str, int]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=cwd, env=child_env(**env), capture_output=True, text=True, timeout=TIMEOUT
    )
    return time.perf_counter() - t0, proc.stdout, proc.stderr, proc.returncode


def run_py(python: Path, code: str, **env: str) -> Any:
    """Run ``code`` in a fresh interpreter; it prints one JSON value as its last line."""
    # Not from the repository root: ``-c`` puts the cwd first on sys.path, ahead of PYTHONPATH.
    _, out, err, rc = run([str(python), "-c", textwrap.dedent(code)], cwd=NEUTRAL, **env)
    if rc != 0:
        raise RuntimeError(f"child failed ({rc}):\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def pytest_plugins(python: Path) -> list[str]:
    """Names of the pytest11 entry points installed in ``python``'s environment."""
    return run_py(
        python,
        """
        import json, importlib.metadata as m
        print(json.dumps(sorted({ep.name for d in m.distributions() for ep in d.entry_points
                                 if ep.group == "pytest11"})))
        """,
    )


# -- the local origin ----------------------------------------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, "uuid": str(uuid.uuid4())}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def origin_process() -> Iterator[str]:
    """The origin in its own process, so it does not compete for this process's GIL."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-origin"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(10)


def serve_origin() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


@contextlib.contextmanager
def origin(port: int = 0) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


# -- 1. per-test overhead: three suites ----------------------------------------------------------
_TEST_BODY = """\
import os

import httpx
import pytest

ORIGIN = os.environ["BENCH_ORIGIN"]
{mark}

def _get(i):
    r = httpx.get(f"{{ORIGIN}}/item/{{i}}")
    assert r.status_code == 200
    assert r.json()["path"] == f"/item/{{i}}"

"""
_MARKS = {
    "live": "",
    "streamreplay": "pytestmark = pytest.mark.streamreplay",
    "vcr": "pytestmark = pytest.mark.vcr",
}


def write_suite(base: Path, kind: str, n: int) -> Path:
    d = base / kind
    d.mkdir(parents=True)
    (d / "pytest.ini").write_text("[pytest]\n")  # own rootdir: no project addopts
    tests = "".join(f"def test_get_{i:03d}():\n    _get({i})\n\n\n" for i in range(n))
    (d / "test_suite.py").write_text(_TEST_BODY.format(mark=_MARKS[kind]) + "\n" + tests)
    return d


def ensure_peer_venv(venv: Path) -> Path:
    py = venv / "bin" / "python"
    if py.exists():
        *_, rc = run([str(py), "-m", "pip", "show", "-q", "pytest-recording", "vcrpy"])
        if rc == 0:
            return py
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=TIMEOUT)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True, timeout=TIMEOUT
    )
    return py


def _passed(out: str) -> tuple[int, float | None]:
    m = re.search(r"(\d+) passed", out)
    t = re.search(r" in ([\d.]+)s", out)
    return (int(m.group(1)) if m else 0), (float(t.group(1)) if t else None)


def bench_suites(n: int, rounds: int, peer_py: Path, tmp: Path) -> dict[str, Any]:
    ours_plugins = pytest_plugins(OUR_PY)
    peer_plugins = pytest_plugins(peer_py)
    base = ["-p", "no:randomly", "-p", "no:cacheprovider", "-q"]
    # Disable every third-party plugin except the one under test, in both environments.
    ours_off = [a for p in ours_plugins if p != "streamreplay" for a in ("-p", f"no:{p}")]
    peer_off = [a for p in peer_plugins if p != "recording" for a in ("-p", f"no:{p}")]
    dirs = {k: write_suite(tmp, k, n) for k in _MARKS}
    cmds = {
        "live": [str(OUR_PY), "-m", "pytest", *base, *ours_off, "-p", "no:streamreplay"],
        "streamreplay": [str(OUR_PY), "-m", "pytest", *base, *ours_off],
        "vcr": [str(peer_py), "-m", "pytest", *base, *peer_off],
    }
    replay_args = {"live": [], "streamreplay": ["--replay-strict"], "vcr": ["--record-mode=none"]}

    def suite(kind: str, url: str, extra: list[str]) -> dict[str, Any]:
        wall, out, err, rc = run([*cmds[kind], *extra], cwd=dirs[kind], BENCH_ORIGIN=url)
        passed, reported = _passed(out)
        if rc != 0 or passed != n:
            raise RuntimeError(
                f"{kind} {extra}: rc={rc} passed={passed}\n{out[-3000:]}{err[-2000:]}"
            )
        return {"wall": wall, "pytest_reported": reported}

    # Record once with the origin up; then every round: live (origin up), replays (origin down),
    # on the same port so the recorded URLs match. The order rotates between rounds.
    with origin() as url:
        port = int(url.rsplit(":", 1)[1])
        rec_sr = suite("streamreplay", url, ["--record-mode=once"])
        rec_vcr = suite("vcr", url, ["--record-mode=once"])
    counts = {
        "streamreplay": len(list((dirs["streamreplay"] / "cassettes").rglob("*.jsonl"))),
        "vcr": len(list((dirs["vcr"] / "cassettes").rglob("*.yaml"))),
    }
    assert counts == {"streamreplay": n, "vcr": n}, counts
    times: dict[str, list[dict[str, Any]]] = {k: [] for k in _MARKS}
    loads = []
    for r in range(rounds):
        order = ["live", "streamreplay", "vcr"]
        order = order[r % 3 :] + order[: r % 3]
        for kind in order:
            loads.append(os.getloadavg()[0])
            if kind == "live":
                with origin(port) as live_url:
                    times[kind].append(suite(kind, live_url, []))
            else:
                times[kind].append(suite(kind, url, replay_args[kind]))

    wall = {k: med([t["wall"] for t in v]) for k, v in times.items()}
    rep = {k: med([t["pytest_reported"] or 0.0 for t in v]) for k, v in times.items()}
    return {
        "tests": n,
        "runs_per_suite": rounds,
        "wall_s_median": wall,
        "wall_s_all": {k: [round(t["wall"], 3) for t in v] for k, v in times.items()},
        "pytest_reported_s_median": rep,
        "record_wall_s": {
            "streamreplay": round(rec_sr["wall"], 3),
            "vcr": round(rec_vcr["wall"], 3),
        },
        "ratio_streamreplay_vs_vcr": round(wall["streamreplay"] / wall["vcr"], 3),
        "ratio_streamreplay_vs_live": round(wall["streamreplay"] / wall["live"], 3),
        "ratio_vcr_vs_live": round(wall["vcr"] / wall["live"], 3),
        "per_test_ms": {k: round(v / n * 1000, 2) for k, v in wall.items()},
        "extra_per_test_ms_vs_live": {
            k: round((wall[k] - wall["live"]) / n * 1000, 2) for k in ("streamreplay", "vcr")
        },
        "plugins_disabled": {"ours": ours_off[1::2], "peer": peer_off[1::2]},
        "peer_versions": run_py(
            peer_py,
            """
            import json, importlib.metadata as m, sys
            print(json.dumps({p: m.version(p) for p in
                ("pytest", "pytest-recording", "vcrpy", "httpx", "httpcore", "PyYAML")}))
            """,
        ),
        "load_avg_1m_during_runs": [round(min(loads), 2), round(max(loads), 2)],
    }


# -- 2 + 5. in-process: the proxy's own cost, bind/unbind, SSL contexts per proxy variable -------
def bench_in_process(tmp: Path, requests: int) -> dict[str, Any]:
    import httpx

    from pytest_streamreplay.cassette.matching import DEFAULT_MATCH_ON, resolve_matchers
    from pytest_streamreplay.harness import bound, patched_environ, runtime, use_cassette
    from pytest_streamreplay.proxy.env import PROXY_VARS, UNSET_VARS, client_env
    from pytest_streamreplay.session import CassetteSession, RecordMode

    cassette = tmp / "micro" / "one.jsonl"
    matchers = resolve_matchers(DEFAULT_MATCH_ON)

    def replay_session() -> CassetteSession:
        return CassetteSession(cassette, record_mode=RecordMode.NONE, matchers=matchers)

    out: dict[str, Any] = {}
    rt = runtime()
    with origin_process() as url:
        target = f"{url}/item/1"
        with use_cassette(cassette, record_mode="once"):
            assert httpx.get(target).status_code == 200
        proxy = rt.proxy()

        # 2a. Reused client: through the replaying proxy vs straight to the origin, interleaved.
        session = replay_session()
        direct_ms: list[float] = []
        proxied_ms: list[float] = []
        with (
            bound(session),
            httpx.Client(trust_env=False) as direct,
            httpx.Client(proxy=proxy.url, trust_env=False) as via,
        ):
            for _ in range(20):  # warm both connections
                direct.get(target)
                assert via.get(target).json()["path"] == "/item/1"
            for _ in range(requests):
                t0 = time.perf_counter()
                direct.get(target)
                t1 = time.perf_counter()
                via.get(target)
                t2 = time.perf_counter()
                direct_ms.append((t1 - t0) * 1000)
                proxied_ms.append((t2 - t1) * 1000)
        assert not session.unmatched and len(session.interactions) == requests + 20
        out["proxy_request"] = {
            "requests": requests,
            "direct_ms": {
                "p50": round(pct(direct_ms, 0.5), 3),
                "p99": round(pct(direct_ms, 0.99), 3),
            },
            "proxied_replay_ms": {
                "p50": round(pct(proxied_ms, 0.5), 3),
                "p99": round(pct(proxied_ms, 0.99), 3),
            },
            "difference_ms": {
                "p50": round(pct(proxied_ms, 0.5) - pct(direct_ms, 0.5), 3),
                "p99": round(pct(proxied_ms, 0.99) - pct(direct_ms, 0.99), 3),
            },
        }

        # 2b. Per-test harness work besides the request: open the session, bind + env, unbind.
        n = 500
        open_ms, bound_ms, env_ms = [], [], []
        env = client_env(proxy.url, proxy.ca_bundle)
        for _ in range(n):
            t0 = time.perf_counter()
            s = replay_session()
            t1 = time.perf_counter()
            with bound(s):
                pass
            t2 = time.perf_counter()
            with patched_environ(env):
                pass
            t3 = time.perf_counter()
            open_ms.append((t1 - t0) * 1000)
            bound_ms.append((t2 - t1) * 1000)
            env_ms.append((t3 - t2) * 1000)
        out["per_test_harness"] = {
            "iterations": n,
            "open_session_replay_ms_p50": round(pct(open_ms, 0.5), 4),
            "bound_enter_exit_ms_p50": round(pct(bound_ms, 0.5), 4),
            "bound_enter_exit_ms_p99": round(pct(bound_ms, 0.99), 4),
            "env_patching_only_ms_p50": round(pct(env_ms, 0.5), 4),
        }

        # 5. httpx: one SSL context per proxy variable. SSL_CERT_FILE = the proxy's bundle.
        import ssl

        bundle = str(proxy.ca_bundle)
        ctx_ms = []
        for _ in range(30):
            t0 = time.perf_counter()
            ssl.create_default_context(cafile=bundle)
            ctx_ms.append((time.perf_counter() - t0) * 1000)
        sets = [[], ["HTTP_PROXY"], ["HTTP_PROXY", "HTTPS_PROXY"]]
        sets.append(["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"])
        per_vars: dict[str, Any] = {}
        session = replay_session()
        rt.binding.bind(session)
        try:
            for names in sets:
                env5 = {"SSL_CERT_FILE": bundle, **dict.fromkeys(names, proxy.url)}
                with patched_environ(env5, unset=(*PROXY_VARS, *UNSET_VARS)):
                    with httpx.Client() as probe:  # transports = SSL contexts built
                        contexts = 1 + sum(t is not None for t in probe._mounts.values())
                    client_ms, get_ms = [], []
                    for _ in range(40):
                        t0 = time.perf_counter()
                        httpx.Client().close()
                        t1 = time.perf_counter()
                        r = httpx.get(target)
                        t2 = time.perf_counter()
                        assert r.status_code == 200
                        client_ms.append((t1 - t0) * 1000)
                        get_ms.append((t2 - t1) * 1000)
                per_vars[str(len(names))] = {
                    "vars": names,
                    "route": "proxy (replay)" if names else "direct to origin",
                    "ssl_contexts_per_client": contexts,
                    "httpx_Client_ms_p50": round(pct(client_ms, 0.5), 2),
                    "httpx_get_ms_p50": round(pct(get_ms, 0.5), 2),
                }
            # What the plugin sets: every proxy variable, both cases (urllib merges the cases).
            with patched_environ(client_env(proxy.url, proxy.ca_bundle)):
                with httpx.Client() as probe:
                    contexts = 1 + sum(t is not None for t in probe._mounts.values())
                client_ms, get_ms = [], []
                for _ in range(40):
                    t0 = time.perf_counter()
                    httpx.Client().close()
                    t1 = time.perf_counter()
                    httpx.get(target)
                    get_ms.append((time.perf_counter() - t1) * 1000)
                    client_ms.append((t1 - t0) * 1000)
                per_vars["plugin_env"] = {
                    "vars": "harness client_env (11 proxy + 5 CA variables)",
                    "route": "proxy (replay)",
                    "ssl_contexts_per_client": contexts,
                    "httpx_Client_ms_p50": round(pct(client_ms, 0.5), 2),
                    "httpx_get_ms_p50": round(pct(get_ms, 0.5), 2),
                }
        finally:
            rt.binding.unbind(session)
        out["httpx_proxy_vars"] = {
            "ssl_create_default_context_with_bundle_ms_p50": round(pct(ctx_ms, 0.5), 2),
            "by_number_of_proxy_vars": per_vars,
        }
    t0 = time.perf_counter()
    rt.stop()
    out["proxy_stop_in_process_ms"] = round((time.perf_counter() - t0) * 1000, 2)
    return out


# -- 3. session start-up -------------------------------------------------------------------------
_STARTUP_CODE = """
import json, time
t0 = time.perf_counter()
from pytest_streamreplay.harness import runtime
t1 = time.perf_counter()
if {preimport}:
    import mitmproxy.master, mitmproxy.options
    import mitmproxy.addons.core, mitmproxy.addons.next_layer
    import mitmproxy.addons.proxyserver, mitmproxy.addons.tlsconfig
    import pytest_streamreplay.proxy.http_addon
t2 = time.perf_counter()
rt = runtime()
rt.proxy()
t3 = time.perf_counter()
rt.stop()
t4 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1, t3 - t2, t4 - t3]))
"""


def bench_startup(runs: int) -> dict[str, Any]:
    imp = [
        run_py(
            OUR_PY,
            "import json, time\nt=time.perf_counter()\nimport mitmproxy\n"
            "print(json.dumps(time.perf_counter()-t))",
        )
        for _ in range(runs)
    ]
    imp_all = [
        run_py(
            OUR_PY,
            "import json, time\nt=time.perf_counter()\n"
            "import mitmproxy.master, mitmproxy.options, mitmproxy.addons.core\n"
            "import mitmproxy.addons.next_layer, mitmproxy.addons.proxyserver\n"
            "import mitmproxy.addons.tlsconfig\nprint(json.dumps(time.perf_counter()-t))",
        )
        for _ in range(runs)
    ]
    cold = [run_py(OUR_PY, _STARTUP_CODE.format(preimport=False)) for _ in range(runs)]
    warm = [run_py(OUR_PY, _STARTUP_CODE.format(preimport=True)) for _ in range(runs)]
    return {
        "runs": runs,
        "import_mitmproxy_package_ms (__init__ only)": round(med(imp, 6) * 1000, 2),
        "import_mitmproxy_modules_the_proxy_needs_s": med(imp_all),
        "import_harness_s": med([c[0] for c in cold]),
        "first_proxy_start_cold_s (imports + start)": med([c[2] for c in cold]),
        "first_proxy_start_after_imports_s": med([w[2] for w in warm]),
        "proxy_stop_s": med([c[3] for c in cold], 4),
        "session_startup_s (harness import + first proxy start)": med([c[0] + c[2] for c in cold]),
    }


def bench_startup_in_pytest(tmp: Path, runs: int) -> dict[str, Any]:
    """One-test suites: replaying through the proxy vs the same test with the plugin off."""
    d = tmp / "one"
    d.mkdir()
    (d / "pytest.ini").write_text("[pytest]\n")
    body = _TEST_BODY.format(mark="pytestmark = pytest.mark.streamreplay")
    (d / "test_one.py").write_text(body + "\ndef test_get_000():\n    _get(0)\n")
    plugins = pytest_plugins(OUR_PY)
    off = [a for p in plugins if p != "streamreplay" for a in ("-p", f"no:{p}")]
    cmd = [str(OUR_PY), "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", "-q", *off]
    with origin() as url:
        run([*cmd, "--record-mode=once"], cwd=d, BENCH_ORIGIN=url)
        port = int(url.rsplit(":", 1)[1])
    sr, live = [], []
    for _ in range(runs):
        w, out, _, rc = run([*cmd, "--replay-strict"], cwd=d, BENCH_ORIGIN=url)
        assert rc == 0, out
        sr.append(w)
        with origin(port) as u:
            w, out, _, rc = run([*cmd, "-p", "no:streamreplay"], cwd=d, BENCH_ORIGIN=u)
        assert rc == 0, out
        live.append(w)
    return {
        "runs": runs,
        "one_test_replay_wall_s": med(sr),
        "one_test_live_no_plugin_wall_s": med(live),
        "difference_s": round(med(sr) - med(live), 3),
    }


# -- 4. import cost when unused ------------------------------------------------------------------
def _importtime(code: str) -> dict[str, int]:
    _, _, err, rc = run([str(OUR_PY), "-X", "importtime", "-c", code], cwd=NEUTRAL)
    assert rc == 0, err
    cumulative: dict[str, int] = {}
    for line in err.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m:
            cumulative[m.group(4)] = int(m.group(2))
    return cumulative


def bench_unused(tmp: Path, runs: int) -> dict[str, Any]:
    alone, after_pytest, heavy = [], [], []
    mods: dict[str, int] = {}
    for _ in range(runs):
        a = _importtime("import pytest_streamreplay.plugin")
        alone.append(a["pytest_streamreplay.plugin"] / 1000)
        b = _importtime("import pytest; import pytest_streamreplay.plugin")
        after_pytest.append(b["pytest_streamreplay.plugin"] / 1000)
        heavy.append(b.get("pytest_streamreplay.streams", 0) / 1000)
        mods = b
    top = sorted(
        ((k, v) for k, v in mods.items() if k.startswith(("pytest_streamreplay", "reactivex"))),
        key=lambda kv: -kv[1],
    )[:8]
    leaked = [m for m in mods if m.split(".")[0] == "mitmproxy"]
    assert not leaked, f"importing the plugin imported {leaked[:5]}"

    d = tmp / "unused"
    d.mkdir()
    (d / "pytest.ini").write_text("[pytest]\n")
    (d / "test_empty.py").write_text("")
    (d / "test_plain.py").write_text(
        "import sys\n\n\ndef test_plain():\n"
        "    assert not [m for m in sys.modules if m.split('.')[0] == 'mitmproxy']\n"
    )
    base = [str(OUR_PY), "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", "-q"]
    with_p, without_p = [], []
    for _ in range(runs):
        w, _, _, rc = run([*base, "--collect-only", "test_empty.py"], cwd=d)
        assert rc == 5, rc  # no tests collected
        with_p.append(w)
        w, _, _, rc = run(
            [*base, "-p", "no:streamreplay", "--collect-only", "test_empty.py"], cwd=d
        )
        assert rc == 5, rc
        without_p.append(w)
    # A whole run where no test uses the proxy must never import mitmproxy.
    _, out, err, rc = run([str(OUR_PY), "-X", "importtime", *base[1:], "test_plain.py"], cwd=d)
    assert rc == 0, out + err[-2000:]
    mitm_in_run = sorted({m.group(1) for m in re.finditer(r"\|\s*(mitmproxy\S*)", err)})
    assert not mitm_in_run, mitm_in_run
    return {
        "runs": runs,
        "importtime_plugin_cumulative_ms (fresh: includes pytest)": med(alone, 1),
        "importtime_plugin_cumulative_ms (pytest already imported)": med(after_pytest, 1),
        "of_which_streams_package_ms": med(heavy, 1),
        "heaviest_imports_ms (last run)": {k: round(v / 1000, 1) for k, v in top},
        "collect_only_empty_file_s": {
            "with_plugin": med(with_p),
            "without_plugin (-p no:streamreplay)": med(without_p),
            "difference": round(med(with_p) - med(without_p), 3),
        },
        "mitmproxy_imported_by_plugin_import": False,
        "mitmproxy_imported_in_run_without_proxy_use": False,
    }


# -- main ----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="suite runs each (median)")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--peer-venv", type=Path, default=ROOT / "bench" / ".venv-peer")
    parser.add_argument(
        "--plugin-ref",
        default=None,
        help="measure this commit's pytest_streamreplay (exported to a temp dir) instead of "
        "the working tree",
    )
    parser.add_argument("--serve-origin", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_origin:
        serve_origin()
        return

    started = time.perf_counter()
    for var in _ROUTING_VARS:  # this process too: sections 2 and 5 run here
        os.environ.pop(var, None)
    result: dict[str, Any] = {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "load_avg_start": load(),
    }
    from importlib.metadata import version

    result["versions"] = {p: version(p) for p in ("pytest", "httpx", "httpcore", "mitmproxy")}
    peer_py = ensure_peer_venv(args.peer_venv)
    with tempfile.TemporaryDirectory(prefix="sr-overhead-") as name:
        tmp = Path(name)
        result["plugin_source"] = plugin_source(args.plugin_ref, tmp)
        pkg = Path(_SRC_OVERRIDE or ROOT) / "pytest_streamreplay"
        subprocess.run([str(OUR_PY), "-m", "compileall", "-q", str(pkg)], env=child_env())
        result["plugin_source"]["imported_from"] = run_py(
            OUR_PY, "import json, pytest_streamreplay as p; print(json.dumps(p.__file__))"
        )
        # Sections 3 and 4 first: they start fresh interpreters and must not share the CPU with
        # the in-process proxy of section 2.
        took: dict[str, float] = {}
        mark = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal mark
            took[name] = round(time.perf_counter() - mark, 1)
            mark = time.perf_counter()

        result["3_session_startup"] = bench_startup(5)
        result["3_session_startup_in_pytest"] = bench_startup_in_pytest(tmp, 5)
        lap("3")
        result["4_unused_plugin"] = bench_unused(tmp, 5)
        lap("4")
        result["load_avg_before_suites"] = load()
        result["1_suites"] = bench_suites(args.tests, args.rounds, peer_py, tmp)
        lap("1")
        result["load_avg_before_in_process"] = load()
        inproc = bench_in_process(tmp, args.requests)
        lap("2+5")
        result["section_seconds"] = took
        result["2_proxy_cost"] = {k: v for k, v in inproc.items() if k != "httpx_proxy_vars"}
        result["5_httpx_ssl_contexts"] = inproc["httpx_proxy_vars"]
    result["load_avg_end"] = load()
    result["total_s"] = round(time.perf_counter() - started, 1)
    text = json.dumps(result, indent=2)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
