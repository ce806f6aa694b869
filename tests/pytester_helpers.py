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
