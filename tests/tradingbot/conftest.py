"""Shared fixtures for the tradingbot tests: the real-message folder and local indexers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REAL_DIR = Path(
    os.environ.get("DYDX_REAL_DIR", Path(__file__).resolve().parents[3] / "shared" / "dydx-real")
)


@pytest.fixture(scope="session")
def dydx_real() -> Path:
    """The captured real indexer messages (reference data outside the repo)."""
    if not (REAL_DIR / "websocket").is_dir():
        pytest.skip(f"real dYdX captures not found at {REAL_DIR} (set DYDX_REAL_DIR)")
    return REAL_DIR
