"""The NodeClient adapter: chain units, dry-run, and the mnemonic never showing anywhere."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
from dydx_markets import btc_usd_update

from tradingbot.execution import OrderStatus
from tradingbot.execution.live import ChainMarket, LiveBroker, Secret, order_numbers
from tradingbot.feeds.events import BookSnapshot, MarketUpdate, Side
from tradingbot.market.book import BookState
from tradingbot.simulator import SimulatorThread
from tradingbot.strategy import IntentKind, TradeIntent

# The BIP-39 specification's public test vector: a valid mnemonic that guards nothing.
FAKE_MNEMONIC = " ".join(["abandon"] * 11 + ["about"])
T0 = datetime(2024, 1, 1, tzinfo=UTC)
BTC = ChainMarket("BTC-USD", 0, -10, -9, 1_000_000, 100_000)


def test_order_numbers_match_the_chain_formulas() -> None:
    # quantums = 0.0768 x 10^10 = 768,000,000 (a multiple of 1,000,000)
    # subticks = 65096 x 10^(-10 + 9 + 6) = 6,509,600,000 (a multiple of 100,000)
    assert order_numbers(BTC, D("0.0768"), D("65096")) == (768_000_000, 6_509_600_000)
    # rounded down to whole steps and ticks, never below one of each
    assert order_numbers(BTC, D("0.00012345"), D("65096.789")) == (1_000_000, 6_509_600_000)
    assert order_numbers(BTC, D("0.00000001"), D("0.5")) == (1_000_000, 100_000)


def test_secret_redacts_itself() -> None:
    secret = Secret(FAKE_MNEMONIC)
    assert FAKE_MNEMONIC not in f"{secret!r} {secret} {secret:>40}"
    assert secret.reveal() == FAKE_MNEMONIC


def _market_update() -> MarketUpdate:
    return btc_usd_update()


def test_dry_run_builds_orders_fills_in_the_shadow_and_never_logs_the_mnemonic(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pytest.importorskip(
        "dydx_v4_client", reason="dydx-v4-client is not installed (Python < 3.13 only)"
    )
    caplog.set_level(logging.DEBUG)
    broker = LiveBroker(env={"DYDX_MNEMONIC": FAKE_MNEMONIC}, dry_run=True)
    assert broker.dry_run
    assert broker.address is not None and broker.address.startswith("dydx1")
    broker.on_event(_market_update(), T0)
    broker.on_event(BookState("BTC-USD", ((D(64999), D(1)),), ((D(65000), D(1)),), time=T0), T0)
    intent = TradeIntent(
        id="s000001",
        market="BTC-USD",
        side=Side.BUY,
        size=D("0.5"),
        price=D(65010),
        kind=IntentKind.ENTRY,
        reason="test",
    )
    report, fills = broker.submit(intent, T0)
    assert report.status is OrderStatus.DRY_RUN
    assert [(f.price, f.size, f.channel) for f in fills] == [(D(65000), D("0.5"), "dry-run")]
    assert broker.position_size("BTC-USD") == D("0.5")
    [order] = broker.orders
    assert (order["quantums"], order["subticks"]) == (5_000_000_000, 6_501_000_000)
    everything = caplog.text + repr(vars(broker)) + json.dumps(broker.orders) + repr(report)
    assert "dry-run: would place" in caplog.text
    assert FAKE_MNEMONIC not in everything
    assert "abandon" not in everything


def test_without_a_mnemonic_or_a_node_it_stays_dry() -> None:
    pytest.importorskip(
        "dydx_v4_client", reason="dydx-v4-client is not installed (Python < 3.13 only)"
    )
    assert LiveBroker(env={}).dry_run
    assert LiveBroker(env={"DYDX_MNEMONIC": FAKE_MNEMONIC}).dry_run  # no network: no node
    with pytest.raises(ValueError, match="DYDX_MNEMONIC"):
        LiveBroker(env={}, dry_run=False)


def test_unknown_chain_market_is_rejected_not_guessed() -> None:
    broker = LiveBroker(env={})
    broker.on_event(BookSnapshot(market="ETH-USD", bids=(), asks=()), T0)
    intent = TradeIntent(
        id="x",
        market="ETH-USD",
        side=Side.SELL,
        size=D(1),
        price=D(3000),
        kind=IntentKind.ENTRY,
        reason="test",
    )
    report, fills = broker.submit(intent, T0)
    assert report.status is OrderStatus.REJECTED and fills == []
    assert "no chain parameters" in report.reasons[0]


def test_run_command_dry_run_on_the_local_simulator_hides_the_mnemonic(
    make_simulator: Callable[..., SimulatorThread], tmp_path: Path
) -> None:
    pytest.importorskip(
        "dydx_v4_client", reason="dydx-v4-client is not installed (Python < 3.13 only)"
    )
    sim = make_simulator(seed=3, tick_ms=20, flush_ms=100, settle_ms=50)
    summary_path = tmp_path / "run.json"
    env = dict(os.environ, DYDX_MNEMONIC=FAKE_MNEMONIC)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tradingbot.cli",
            "run",
            "--rest-url",
            sim.rest_url,
            "--ws-url",
            sim.ws_url,
            "--market",
            "BTC-USD,ETH-USD",
            "--duration",
            "3",
            "--headless",
            "--dry-run",
            "--summary-json",
            str(summary_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(summary_path.read_text())
    assert summary["mode"] == "dry-run"
    assert summary["wallet_address"].startswith("dydx1")  # the key was loaded and used
    assert summary["messages"] > 0 and summary["markets"] == ["BTC-USD", "ETH-USD"]
    for text in (done.stdout, done.stderr, summary_path.read_text()):
        assert FAKE_MNEMONIC not in text
        assert "abandon" not in text


def test_without_dydx_a_mnemonic_is_not_called_invalid(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Where dydx-v4-client is absent (Python 3.13: the live extra leaves it out) the broker
    cannot derive the wallet: it says which module is missing instead of blaming the mnemonic."""
    monkeypatch.setitem(sys.modules, "dydx_v4_client", None)  # `import` raises, as if absent
    monkeypatch.delitem(sys.modules, "dydx_v4_client.key_pair", raising=False)
    monkeypatch.delitem(sys.modules, "dydx_v4_client.wallet", raising=False)
    with pytest.raises(ModuleNotFoundError) as caught:
        LiveBroker(env={"DYDX_MNEMONIC": FAKE_MNEMONIC}, dry_run=True)
    assert (caught.value.name or "").startswith("dydx_v4_client")
    assert "valid mnemonic" not in caplog.text
