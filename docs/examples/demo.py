"""The README's quick start, runnable offline: record a test's traffic once from a local stand-in,
take the service away, replay it strictly offline, and show the cassette."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).parent


class _Indexer(BaseHTTPRequestHandler):
    """A tiny stand-in for the dYdX indexer's REST API, different on every call."""

    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        rnd = random.Random()
        if self.path.startswith("/v4/perpetualMarkets"):
            body = {"markets": {m: {"ticker": m, "oraclePrice": f"{rnd.uniform(1e3, 1e5):.2f}"}
                                for m in ("BTC-USD", "ETH-USD")}}
        else:
            mid = rnd.uniform(60000, 70000)
            body = {"bids": [{"price": f"{mid - i:.1f}", "size": "0.5"} for i in range(1, 4)],
                    "asks": [{"price": f"{mid + i:.1f}", "size": "0.5"} for i in range(1, 4)]}
        body["requestId"] = str(uuid.uuid4())
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def _pytest(workdir: Path, cassettes: Path, *args: str) -> int:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-v",
           f"--cassette-dir={cassettes}", str(HERE / "quickstart"), *args]
    print("\n$ pytest " + " ".join(args), flush=True)
    return subprocess.call(cmd, cwd=workdir)


def main() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Indexer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["DEMO_API"] = f"http://127.0.0.1:{server.server_port}"
    with tempfile.TemporaryDirectory() as tmp:
        cassettes = Path(tmp) / "cassettes"
        if _pytest(Path(tmp), cassettes, "--record-mode=once") != 0:
            return 1
        server.shutdown()
        server.server_close()
        print("\n(the service is gone now: replay must not need it)")
        if _pytest(Path(tmp), cassettes, "--replay-strict") != 0:
            return 1
        for path in sorted(cassettes.rglob("*.jsonl")):
            print(f"\n{path.relative_to(cassettes)}:")
            for line in path.read_text().splitlines()[:2]:
                print("  " + (line if len(line) < 160 else line[:157] + "..."))
    return 0


if __name__ == "__main__":
    sys.exit(main())
