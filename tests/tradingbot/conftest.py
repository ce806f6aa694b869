"""Shared fixtures for the tradingbot tests: the real-message folder and local indexers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from tradingbot.simulator import SimulatorConfig, SimulatorThread
except ModuleNotFoundError:
    # The bot is its own distribution (tradingbot/pyproject.toml): where it is not installed
    # with its extras (an environment with the plugin alone), there is nothing to collect.
    collect_ignore_glob = ["*"]

REAL_DIR = Path(
    os.environ.get("DYDX_REAL_DIR", Path(__file__).resolve().parents[3] / "shared" / "dydx-real")
)


LOCAL_DIR = Path(__file__).resolve().parent / "data" / "dydx-local"
"""Messages recorded from the local indexer (in the repository; see its README.md)."""


@pytest.fixture(scope="session", params=["local", "real"])
def dydx_data(request: pytest.FixtureRequest) -> Path:
    """Indexer messages to check the decoders on: the local indexer's recording (always: every
    check runs on it), and the real captures as a cross-check (skipped where
    ../shared/dydx-real is absent; tests/tradingbot/data/README.md says what each set holds)."""
    if request.param == "local":
        return LOCAL_DIR
    real: Path = request.getfixturevalue("dydx_real")
    return real


@pytest.fixture(scope="session")
def dydx_real() -> Path:
    """The captured real indexer messages (reference data outside the repo)."""
    if not (REAL_DIR / "websocket").is_dir():
        pytest.skip(f"real dYdX captures not found at {REAL_DIR} (set DYDX_REAL_DIR)")
    return REAL_DIR


@pytest.fixture
def make_simulator() -> Iterator[Callable[..., SimulatorThread]]:
    """Start local indexers (ephemeral ports, own threads); all are stopped and joined after."""
    started: list[SimulatorThread] = []

    def make(**config: Any) -> SimulatorThread:
        sim = SimulatorThread(SimulatorConfig(**config)).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()
        assert not sim._thread.is_alive(), "local indexer thread leaked"


@pytest.fixture
def simulator(make_simulator: Callable[..., SimulatorThread]) -> SimulatorThread:
    """A fast local indexer: seed 1, 20 ms steps, 100 ms flushes."""
    return make_simulator(seed=1, tick_ms=20, flush_ms=100, settle_ms=50)


@pytest.fixture
def btc_only_cassette(tmp_path: Path) -> Path:
    """Two minutes of the dev session with ETH-USD's book, trades and candles cut out: ETH-USD
    remains only in v4_markets (its oracle price), as when a run asks for BTC-USD alone."""
    import json

    from tradingbot.testing import write_dev_cassette

    dev = write_dev_cassette(tmp_path / "dev.jsonl", seed=7, minutes=2)
    kept = []
    for line in dev.read_text().splitlines():
        message = json.loads(line).get("json")
        if isinstance(message, dict) and str(message.get("id", "")).startswith("ETH-USD"):
            continue
        kept.append(line)
    btc_only = tmp_path / "btc.jsonl"
    btc_only.write_text("\n".join(kept) + "\n")
    return btc_only
