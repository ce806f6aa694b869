"""The proxy imports only the mitmproxy it runs, and leaves the interpreter's exit quick.

Fresh interpreters: this test process already imported all of mitmproxy (tests/plugin/conftest).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile

import pytest

pytestmark = pytest.mark.slow  # each test starts a proxy in a fresh interpreter


def _fresh(code: str, **env: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code],
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
