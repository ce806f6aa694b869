from decimal import Decimal as D

import pytest

from tradingbot.feeds.events import (
    AssetPositionUpdate,
    MarketUpdate,
    PositionUpdate,
    SubaccountSnapshot,
)
from tradingbot.risk import (
    MarketRiskParams,
    account_from_snapshot,
    equity,
    params_from_market_update,
)


def test_params_merge_partial_updates() -> None:
    snap = MarketUpdate(
        market="BTC-USD",
        is_snapshot=True,
        initial_margin_fraction=D("0.05"),
        maintenance_margin_fraction=D("0.03"),
        open_interest=D("10"),
        open_interest_lower_cap=D("500000"),
        open_interest_upper_cap=D("1000000"),
    )
    params = params_from_market_update(snap)
    assert params == MarketRiskParams(
        "BTC-USD", D("0.05"), D("0.03"), D("10"), D("500000"), D("1000000")
    )
    updated = params_from_market_update(
        MarketUpdate(market="BTC-USD", open_interest=D("12")), params
    )
    assert updated.open_interest == D("12")
    assert updated.initial_margin_fraction == D("0.05")
    with pytest.raises(ValueError, match="margin fractions unknown"):
        params_from_market_update(MarketUpdate(market="ETH-USD", open_interest=D("1")))


def test_account_from_subaccount_snapshot() -> None:
    btc = MarketRiskParams("BTC-USD", D("0.05"), D("0.03"))
    snap = SubaccountSnapshot(
        address="dydx1abc",
        subaccount_number=0,
        equity=D("10000"),
        free_collateral=D("7500"),
        positions=(
            PositionUpdate(market="BTC-USD", size=D("1"), status="OPEN"),
            PositionUpdate(market="ETH-USD", size=D("0"), status="CLOSED"),
        ),
        asset_positions=(AssetPositionUpdate(symbol="USDC", size=D("-40000"), side="SHORT"),),
    )
    acc = account_from_snapshot(snap, {"BTC-USD": btc}, {"BTC-USD": D("50000")})
    # Q = -40 000; equity = -40 000 + 50 000 = 10 000, as the indexer reported
    assert acc.quote_balance == D("-40000")
    assert equity(acc) == snap.equity
    with pytest.raises(KeyError):
        account_from_snapshot(snap, {"BTC-USD": btc}, {})
