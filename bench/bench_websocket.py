"""WebSocket replay (issue 3): throughput, timing fidelity and recording latency.

Prints one JSON object and writes it to ``bench/results/websocket.json``. All traffic stays on
127.0.0.1; the reader is always websocket-client (``websocket.create_connection`` + ``recv``),
routed through the proxy by the environment ``use_cassette`` sets (``http_proxy``), exactly as a
test would be.

1. Replay throughput: a cassette of N small JSON messages (~100 bytes each), written directly
   with ``CassetteWriter`` (one ``WsConnection``, N ``recv`` ``WsMessage``, a server
   ``WsClose``), replayed at ``instant`` speed, ``strict=False``; against the same N messages
   sent by a ``websockets`` server straight to the same reader. The direct server runs in a
   child process (the reader's practical limit: nothing else competes for its interpreter) and,
   for comparison, on a thread of this process (sharing the GIL with the reader, as the
   in-process proxy does). Rate = N / (first ``recv`` call to last message), handshake excluded.
   Diagnostics: CPU per message of the proxy's loop thread and of the reader (from /proc), and
   the plugin's replay origin alone (``ReplayOrigins`` on a loop thread, read directly, no
   mitmproxy), which separates the plugin's share of the cost from mitmproxy's relay.
2. Timing fidelity: a cassette with known offsets (a 10 ms cadence with bursts, then a 250 ms
   batched cadence like the dYdX indexer), replayed at ``recorded`` and at 2.0; each message's
   arrival at the reader is compared with its recorded offset / speed, measured from the first
   message and, separately, from the moment ``create_connection`` returned (the replay anchors
   on the replay origin's handler start, which is just before the client sees the ``101``).
   Baseline: the same schedule sent live by a ``websockets`` server (child process) with
   asyncio sleeps, straight to the same reader: the timing floor of this machine.
3. Added latency while recording: 1,000 ping-pong round trips (client sends, server echoes)
   through the proxy with ``record_mode="all"``, and straight to the same echo server (child
   process) by the same client.

Every measurement is repeated (``--runs``, interleaving proxy and direct) and summarised by
medians across runs.

Usage: python bench/bench_websocket.py [--messages N] [--runs R] [--fidelity-runs F]
                                       [--round-trips K] [--only throughput|fidelity|latency]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "websocket.json"
from pytest_streamreplay.proxy.env import ROUTING_VARS  # noqa: E402

# Nothing may route the direct runs through a proxy, or send local traffic around the proxy.
for _var in ROUTING_VARS:
    os.environ.pop(_var, None)


# -- helpers -------------------------------------------------------------------------------------
def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def med(xs: list[float], nd: int = 3) -> float:
    return round(statistics.median(xs), nd)


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def message(i: int) -> str:
    """A ~100-byte compact JSON message, as an exchange feed sends them."""
    body = {
        "type": "channel_data",
        "channel": "v4_trades",
        "id": "BTC-USD",
        "message_id": i,
        "price": f"{65000 + i % 997}.5",
        "size": "0.0125",
    }
    return json.dumps(body, separators=(",", ":"))


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def thread_cpu(native_id: int | None) -> float:
    """CPU seconds (user + system) of one thread of this process, from /proc (Linux)."""
    try:
        stat = Path(f"/proc/self/task/{native_id}/stat").read_text()
    except OSError:
        return float("nan")
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


# -- the live origin (a websockets server) -------------------------------------------------------
async def _handler(ws: Any) -> None:
    parts = urlsplit(ws.request.path)
    if parts.path == "/echo":
        async for raw in ws:
            await ws.send(raw)
        return
    if parts.path == "/many":
        n = int(parse_qs(parts.query)["n"][0])
        for msg in _messages(n):
            await ws.send(msg)
        await ws.close()
        return
    if parts.path == "/timed":
        # The fidelity schedule sent live, anchored like the replay: on the handler's start.
        factor = float(parse_qs(parts.query)["speed"][0])
        start = time.monotonic()
        for i, t in enumerate(fidelity_schedule()):
            delay = start + t / 1000.0 / factor - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await ws.send(message(i))
        await ws.close()
        return
    await ws.close(1011, "unknown path")


_CACHE: dict[int, list[str]] = {}


def _messages(n: int) -> list[str]:
    if n not in _CACHE:
        _CACHE[n] = [message(i) for i in range(n)]
    return _CACHE[n]


async def _serve(on_port: Callable[[int], None], stop: asyncio.Event | None = None) -> None:
    from websockets.asyncio.server import serve

    async with serve(
        _handler, "127.0.0.1", 0, compression=None, max_size=None, ping_interval=None
    ) as server:
        on_port(server.sockets[0].getsockname()[1])
        if stop is None:
            await asyncio.Future()
        else:
            await stop.wait()


class ChildOrigin:
    """The origin in a child process: ``python bench_websocket.py --serve``."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class ThreadOrigin:
    """The origin on a thread of this process (sharing the GIL with the reader)."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _main(self) -> None:
        def ready(port: int) -> None:
            self.port = port
            self._ready.set()

        self._loop.run_until_complete(_serve(ready, self._stop))

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


# -- cassettes -------------------------------------------------------------------------------
def write_cassette(path: Path, url: str, offsets: list[float], texts: list[str], note: str) -> None:
    from pytest_streamreplay.cassette import CassetteWriter, WsClose, WsConnection, WsMessage
    from pytest_streamreplay.cassette.storage import new_header

    with CassetteWriter(path, new_header(note=note)) as writer:
        writer.write(WsConnection(id=0, url=url, t=0.0))
        for t, text in zip(offsets, texts, strict=True):
            writer.write(WsMessage.build(0, "recv", t, text.encode(), binary=False))
        writer.write(WsClose(0, offsets[-1] + 50.0, 1000, "", "server"))


def fidelity_schedule() -> list[float]:
    """200 offsets (ms): a 10 ms cadence with a 5-message burst every 120 ms, then dYdX-like
    batches of 8 messages every 250 ms (0.05 ms apart inside a batch)."""
    offsets: list[float] = []
    t = 20.0
    while len(offsets) < 120:
        if len(offsets) % 12 == 11:
            offsets += [t] * 5  # a burst: five messages recorded at the same instant
        else:
            offsets.append(t)
        t += 10.0
    offsets = offsets[:120]
    t = offsets[-1] + 250.0
    while len(offsets) < 200:
        offsets += [round(t + 0.05 * k, 3) for k in range(8)]
        t += 250.0
    return offsets[:200]


# -- measurements ----------------------------------------------------------------------------
def read_n(url: str, n: int) -> dict[str, Any]:
    import websocket

    t0 = time.perf_counter()
    ws = websocket.create_connection(url, timeout=60)
    t1 = time.perf_counter()
    first = last = ""
    for i in range(n):
        data = ws.recv()
        if i == 0:
            first = data
        last = data
    t2 = time.perf_counter()
    ws.close()
    ok = first == message(0) and last == message(n - 1)
    return {"rate": n / (t2 - t1), "handshake_ms": (t1 - t0) * 1000, "ok": ok}


def read_timed(url: str, n: int) -> tuple[float, list[float]]:
    import websocket

    ws = websocket.create_connection(url, timeout=60)
    opened = time.monotonic()
    arrivals = []
    for _ in range(n):
        ws.recv()
        arrivals.append(time.monotonic())
    ws.close()
    return opened, arrivals


def ping_pong(url: str, k: int) -> list[float]:
    import websocket

    ws = websocket.create_connection(url, timeout=60)
    rtts = []
    for i in range(k + 20):
        text = message(i)
        t0 = time.perf_counter()
        ws.send(text)
        reply = ws.recv()
        dt = time.perf_counter() - t0
        assert reply == text
        if i >= 20:  # the first 20 warm up both sides
            rtts.append(dt * 1000)
    ws.close()
    return rtts


def origin_only(cassette: Path, url: str, n: int) -> dict[str, Any]:
    """Diagnostic: the plugin's replay origin alone (its Conversation over ``websockets``) on a
    loop thread of this process, read directly by the same reader, without mitmproxy."""
    from pytest_streamreplay.proxy.conversation import Speed
    from pytest_streamreplay.proxy.origins import ReplayOrigins, WsJob
    from pytest_streamreplay.session import CassetteSession

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    origins = ReplayOrigins()
    asyncio.run_coroutine_threadsafe(origins.start(), loop).result(10)
    session = CassetteSession(cassette, record_mode="none")
    script = session.decide_ws(url).script
    assert script is not None
    job = WsJob(script, Speed(None), (), lambda v: v, lambda report: None)

    async def add() -> str:
        return origins.add_ws(job)

    path = asyncio.run_coroutine_threadsafe(add(), loop).result(10)
    c0, r0 = thread_cpu(thread.native_id), thread_cpu(threading.get_native_id())
    result = read_n(f"ws://127.0.0.1:{origins.ws_port}{path}", n)
    c1, r1 = thread_cpu(thread.native_id), thread_cpu(threading.get_native_id())
    asyncio.run_coroutine_threadsafe(origins.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    result["origin_cpu_us"] = (c1 - c0) / n * 1e6
    result["reader_cpu_us"] = (r1 - r0) / n * 1e6
    return result


def bench_throughput(tmp: Path, n: int, runs: int) -> dict[str, Any]:
    from pytest_streamreplay.harness import runtime, use_cassette

    child, thread = ChildOrigin(), ThreadOrigin()
    url = f"ws://127.0.0.1:9/many?n={n}"  # replay never connects there
    cassette = tmp / "throughput.jsonl"
    write_cassette(
        cassette,
        url,
        [i * 0.05 for i in range(n)],
        _messages(n),
        f"{n} messages for bench_websocket",
    )
    small = tmp / "warmup.jsonl"
    write_cassette(small, url, [i * 0.05 for i in range(100)], _messages(100), "warm-up")

    def replay(path: Path, count: int) -> dict[str, Any]:
        with use_cassette(path, record_mode="none", strict=False, speed="instant"):
            proxy_tid = runtime().proxy()._thread.native_id
            p0, r0 = thread_cpu(proxy_tid), thread_cpu(threading.get_native_id())
            result = read_n(url, count)
            p1, r1 = thread_cpu(proxy_tid), thread_cpu(threading.get_native_id())
        result["proxy_cpu_us"] = (p1 - p0) / count * 1e6
        result["reader_cpu_us"] = (r1 - r0) / count * 1e6
        return result

    def direct(port: int) -> dict[str, Any]:
        r0 = thread_cpu(threading.get_native_id())
        result = read_n(f"ws://127.0.0.1:{port}/many?n={n}", n)
        result["reader_cpu_us"] = (thread_cpu(threading.get_native_id()) - r0) / n * 1e6
        return result

    replay(small, 100)  # warm-up: proxy start, imports, first connections
    read_n(f"ws://127.0.0.1:{child.port}/many?n=100", 100)
    read_n(f"ws://127.0.0.1:{thread.port}/many?n=100", 100)
    out: dict[str, list[dict[str, Any]]] = {
        "direct": [],
        "replay": [],
        "direct_inprocess": [],
        "origin_only": [],
    }
    loads = []
    for _ in range(runs):
        loads.append(load()[0])
        out["direct"].append(direct(child.port))
        out["replay"].append(replay(cassette, n))
        out["direct_inprocess"].append(direct(thread.port))
        out["origin_only"].append(origin_only(cassette, url, n))
    child.stop()
    thread.stop()
    rates = {k: [r["rate"] for r in v] for k, v in out.items()}
    m = {k: med(v, 0) for k, v in rates.items()}
    return {
        "messages": n,
        "message_bytes": len(message(n // 2)),
        "cassette": "written with CassetteWriter (ws + N recv ws_msg + server ws_close)",
        "cassette_mb": round(cassette.stat().st_size / 1e6, 2),
        "runs": runs,
        "all_messages_correct": all(r["ok"] for v in out.values() for r in v),
        "replay_msgs_per_s": m["replay"],
        "direct_msgs_per_s": m["direct"],
        "ratio_replay_to_direct": round(m["replay"] / m["direct"], 3),
        "target_ratio": 0.5,
        "direct_inprocess_msgs_per_s": m["direct_inprocess"],
        "ratio_replay_to_direct_inprocess": round(m["replay"] / m["direct_inprocess"], 3),
        "origin_only_msgs_per_s": m["origin_only"],
        "per_run_msgs_per_s": {k: [round(x) for x in v] for k, v in rates.items()},
        "cpu_us_per_msg": {
            "replay_proxy_thread": med([r["proxy_cpu_us"] for r in out["replay"]], 1),
            "replay_reader": med([r["reader_cpu_us"] for r in out["replay"]], 1),
            "direct_reader": med([r["reader_cpu_us"] for r in out["direct"]], 1),
            "origin_only_origin_thread": med([r["origin_cpu_us"] for r in out["origin_only"]], 1),
        },
        "handshake_ms": {
            "replay": med([r["handshake_ms"] for r in out["replay"]], 2),
            "direct": med([r["handshake_ms"] for r in out["direct"]], 2),
            "origin_only": med([r["handshake_ms"] for r in out["origin_only"]], 2),
        },
        "load_1min_per_run": loads,
    }


def timing_errors(
    opened: float, arrivals: list[float], offsets: list[float], factor: float
) -> dict[str, list[float]]:
    """|replayed offset - recorded offset / factor| per message, in ms, two ways."""
    from_first = [
        abs((a - arrivals[0]) * 1000 - (t - offsets[0]) / factor)
        for a, t in zip(arrivals, offsets, strict=True)
    ]
    signed_open = [(a - opened) * 1000 - t / factor for a, t in zip(arrivals, offsets, strict=True)]
    return {
        "from_first": from_first,
        "from_open": [abs(x) for x in signed_open],
        "signed_open": signed_open,
    }


def bench_fidelity(tmp: Path, runs: int) -> dict[str, Any]:
    from pytest_streamreplay.harness import use_cassette

    offsets = fidelity_schedule()
    url = "ws://127.0.0.1:9/v4/ws"
    cassette = tmp / "fidelity.jsonl"
    write_cassette(
        cassette,
        url,
        offsets,
        [message(i) for i in range(len(offsets))],
        "timing schedule for bench_websocket",
    )
    child = ChildOrigin()
    result: dict[str, Any] = {
        "messages": len(offsets),
        "recorded_span_ms": round(offsets[-1] - offsets[0], 3),
        "schedule": "120 messages at a 10 ms cadence with a 5-message burst (same offset) every "
        "120 ms, then 10 batches of 8 messages (0.05 ms apart) every 250 ms",
        "cassette": "written with CassetteWriter",
        "baseline": "direct: a websockets server (child process) sending the same schedule with "
        "asyncio sleeps anchored on its handler start, no proxy, same reader",
        "runs": runs,
        "target_p99_ms": 5.0,
    }
    stats: dict[str, dict[str, dict[str, list[float]]]] = {}

    def add(speed: str, source: str, errors: dict[str, list[float]], span: float) -> None:
        s = stats.setdefault(speed, {}).setdefault(source, {})
        for name in ("from_first", "from_open"):
            xs = errors[name]
            s.setdefault(f"{name}_p50", []).append(pct(xs, 0.5))
            s.setdefault(f"{name}_p99", []).append(pct(xs, 0.99))
            s.setdefault(f"{name}_max", []).append(max(xs))
        s.setdefault("from_open_signed_median", []).append(statistics.median(errors["signed_open"]))
        s.setdefault("replayed_span_ms", []).append(span)

    for _ in range(runs):
        for speed, factor in (("recorded", 1.0), ("2.0", 2.0)):
            with use_cassette(cassette, record_mode="none", strict=False, speed=speed):
                opened, arrivals = read_timed(url, len(offsets))
            span = (arrivals[-1] - arrivals[0]) * 1000
            add(speed, "replay", timing_errors(opened, arrivals, offsets, factor), span)
            opened, arrivals = read_timed(
                f"ws://127.0.0.1:{child.port}/timed?speed={factor}", len(offsets)
            )
            span = (arrivals[-1] - arrivals[0]) * 1000
            add(speed, "direct", timing_errors(opened, arrivals, offsets, factor), span)
    child.stop()
    for speed, by_source in stats.items():
        result[speed] = {
            source: {
                "error_ms_median_of_runs": {k: med(v) for k, v in s.items()},
                "error_ms_per_run": {k: [round(x, 2) for x in v] for k, v in s.items()},
            }
            for source, s in by_source.items()
        }
    return result


def bench_latency(tmp: Path, k: int, runs: int) -> dict[str, Any]:
    from pytest_streamreplay.harness import use_cassette

    child = ChildOrigin()
    url = f"ws://127.0.0.1:{child.port}/echo"
    recorded_messages = []

    def recording(i: int) -> list[float]:
        cassette = tmp / f"latency{i}.jsonl"
        with use_cassette(cassette, record_mode="all"):
            rtts = ping_pong(url, k)
        recorded_messages.append(sum(1 for line in cassette.open() if '"kind":"ws_msg"' in line))
        return rtts

    recording(-1)  # warm-up
    ping_pong(url, 100)
    stats: dict[str, dict[str, list[float]]] = {"recording": {}, "direct": {}}
    loads = []
    for i in range(runs):
        loads.append(load()[0])
        for name in ("direct", "recording"):
            rtts = ping_pong(url, k) if name == "direct" else recording(i)
            stats[name].setdefault("p50", []).append(pct(rtts, 0.5))
            stats[name].setdefault("p99", []).append(pct(rtts, 0.99))
            stats[name].setdefault("mean", []).append(statistics.fmean(rtts))
    child.stop()
    out: dict[str, Any] = {"round_trips": k, "runs": runs, "message_bytes": len(message(500))}
    for name, s in stats.items():
        out[f"{name}_rtt_ms"] = {q: med(v) for q, v in s.items()}
        out[f"{name}_rtt_ms_per_run"] = {q: [round(x, 3) for x in v] for q, v in s.items()}
    out["added_ms"] = {
        q: round(out["recording_rtt_ms"][q] - out["direct_rtt_ms"][q], 3)
        for q in ("p50", "p99", "mean")
    }
    out["messages_recorded_per_run"] = recorded_messages[1:]
    out["load_1min_per_run"] = loads
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--fidelity-runs", type=int, default=5)
    ap.add_argument("--round-trips", type=int, default=1000)
    ap.add_argument("--only", choices=["throughput", "fidelity", "latency"])
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        asyncio.run(_serve(lambda port: print(port, flush=True)))
        return

    import mitmproxy.version
    import websocket
    import websockets

    from pytest_streamreplay.harness import runtime

    started = time.monotonic()
    result: dict[str, Any] = {
        "benchmark": "websocket replay (issue 3)",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "versions": {
            "websockets": websockets.__version__,
            "websocket-client": websocket.__version__,
            "mitmproxy": mitmproxy.version.VERSION,
        },
        "load_before": load(),
    }
    with tempfile.TemporaryDirectory(prefix="bench-ws-") as d:
        tmp = Path(d)
        try:
            if args.only in (None, "throughput"):
                result["throughput"] = bench_throughput(tmp, args.messages, args.runs)
            if args.only in (None, "fidelity"):
                result["fidelity"] = bench_fidelity(tmp, args.fidelity_runs)
            if args.only in (None, "latency"):
                result["latency"] = bench_latency(tmp, args.round_trips, args.runs)
        finally:
            runtime().stop()
    result["load_after"] = load()
    result["wall_s"] = round(time.monotonic() - started, 1)
    text = json.dumps(result, indent=2)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text + "\n")


if __name__ == "__main__":
    main()
