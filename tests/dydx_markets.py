"""BTC-USD as dYdX's indexer describes it (oracle price, margins, chain parameters): one
market update for the execution tests, with or without a node."""

from __future__ import annotations

from decimal import Decimal

from tradingbot.feeds.events import MarketUpdate


def btc_usd_update() -> MarketUpdate:
    return MarketUpdate(
        market="BTC-USD",
        is_snapshot=True,
        oracle_price=Decimal(65000),
        initial_margin_fraction=Decimal("0.05"),
        maintenance_margin_fraction=Decimal("0.03"),
        atomic_resolution=-10,
        quantum_conversion_exponent=-9,
        step_base_quantums=1_000_000,
        subticks_per_tick=100_000,
        clob_pair_id="0",
    )
