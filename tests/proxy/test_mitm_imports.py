"""The proxy imports only the mitmproxy it runs, and leaves the interpreter's exit quick.

Fresh interpreters: this test process already imported all of mitmproxy (tests/plugin/conftest).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile

import pytest

pytestmark = pytest.mark.slow  # each test starts a proxy in a fresh interpreter


def _fresh(code: str, *args: str, **env: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
        env={**__import__("os").environ, **env},
    )
    return out.stdout.split()


START = """
import sys, atexit, gc
before = gc.get_freeze_count()  # the interpreter's start-up may have frozen some already
atexit.register(lambda: print("frozen", gc.get_freeze_count() > before))  # after the plugin's
from pytest_streamreplay.harness import runtime
proxy = runtime().proxy()
print("flask", "flask" in sys.modules, "ldap3", "ldap3" in sys.modules)
from mitmproxy import addons
print("default_addons", len(addons.default_addons()) > 10)
runtime().stop()
"""


def test_unused_addons_are_not_imported_but_stay_available(tmp_path) -> None:
    out = _fresh(START, STREAMREPLAY_CACHE_DIR=str(tmp_path))
    assert out[:4] == ["flask", "False", "ldap3", "False"]
    assert out[4:6] == ["default_addons", "True"], "the full package loads on first use"


def test_exit_skips_the_final_collection_once_a_proxy_ran(tmp_path) -> None:
    assert _fresh(START, STREAMREPLAY_CACHE_DIR=str(tmp_path))[-2:] == ["frozen", "True"]
    kept = _fresh(START, STREAMREPLAY_CACHE_DIR=str(tmp_path), STREAMREPLAY_EXIT_GC="1")
    assert kept[-2:] == ["frozen", "False"]


LAZY_WS = """
import sys, threading, websocket
from websockets.sync.server import serve
from pytest_streamreplay.harness import runtime, use_cassette

loaded = lambda: "websockets.asyncio.server" in sys.modules
runtime().proxy()
print("at_start", loaded())

def echo(conn):
    for message in conn:
        conn.send("echo " + message)

server = serve(echo, "127.0.0.1", 0)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/"
cassette = sys.argv[1]
for mode in ("all", "none"):
    with use_cassette(cassette, record_mode=mode):
        ws = websocket.create_connection(url, timeout=10)
        ws.send("hi")
        print(mode, ws.recv().replace(" ", "-"), loaded())
        ws.close()
    server.shutdown() if mode == "all" else None
runtime().stop()
"""


def test_the_websocket_replay_server_loads_on_the_first_replayed_connection(tmp_path) -> None:
    """Its port is bound when the proxy starts (routing and the replay guard need it); the
    websockets server behind it (~15-20 ms of import) waits for a test that replays one."""
    cassette = str(tmp_path / "ws.jsonl")
    out = _fresh(LAZY_WS, cassette, STREAMREPLAY_CACHE_DIR=str(tmp_path))
    assert out == ["at_start", "False", "all", "echo-hi", "False", "none", "echo-hi", "True"]
