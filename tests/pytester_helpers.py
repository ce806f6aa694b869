"""Helpers for plugin tests that run pytest inside pytest (pytester)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


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
