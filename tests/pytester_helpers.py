"""Helpers for plugin tests that run pytest inside pytest (pytester)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

#: An inner run's conftest that has the proxy write each live exchange 0.5 s late, as on a
#: loaded box: the client may have its whole answer (a body with a Content-Length) and its test
#: be ending before the proxy wrote it, or failed writing it.
SLOW_PROXY = """
import time
from pytest_streamreplay.proxy import http_addon

_real = http_addon._record_live

def _late(flow, meta, end):
    time.sleep(0.5)  # a loaded box: the proxy's thread writes the exchange late
    _real(flow, meta, end)

def pytest_configure(config):
    http_addon._record_live = _late

def pytest_unconfigure(config):
    http_addon._record_live = _real
"""

#: The same with the proxy's response hook itself starting 0.5 s late (the test has returned and
#: been judged by then).
LATE_RESPONSE_HOOK = """
import asyncio
from pytest_streamreplay.proxy import http_addon

_real = http_addon.HttpRecordReplay.response

async def _late(self, flow):
    await asyncio.sleep(0.5)  # the proxy's loop meanwhile passes the body's last bytes on
    _real(self, flow)

def pytest_configure(config):
    http_addon.HttpRecordReplay.response = _late

def pytest_unconfigure(config):
    http_addon.HttpRecordReplay.response = _real
"""


def outputs(pytester: pytest.Pytester) -> list[bytes]:
    """What each inner run wrote to OUT (``run<N>.bin``), in run order."""
    files = sorted((pytester.path / "out").iterdir(), key=lambda p: int(p.stem[3:]))
    return [p.read_bytes() for p in files]


def cassette_files(pytester: pytest.Pytester) -> list[Path]:
    return sorted((pytester.path / "cassettes").rglob("*.jsonl"))


def cassette_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def prepare_inner(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ca_cache: Path
) -> pytest.Pytester:
    """Ready ``pytester`` for inner runs: ``OUT`` (a folder for what they saw), one proxy CA
    for all of them, and none of the developer's proxy or CA variables."""
    from pytest_streamreplay.proxy.env import CA_VARS, NODE_VARS, ROUTING_VARS

    out = pytester.path / "out"
    out.mkdir()
    monkeypatch.setenv("OUT", str(out))
    monkeypatch.setenv("STREAMREPLAY_CACHE_DIR", str(ca_cache))
    # Inline runs re-import hypothesis at session end (~3 s each): the inner tests need none of it.
    # pytest-asyncio warns in every inner run whose ini leaves its loop scope unset.
    monkeypatch.setenv(
        "PYTEST_ADDOPTS",
        "-p no:hypothesispytest -p no:cacheprovider -o asyncio_default_fixture_loop_scope=function",
    )
    for var in (*ROUTING_VARS, *CA_VARS, *NODE_VARS):
        monkeypatch.delenv(var, raising=False)
    return pytester
