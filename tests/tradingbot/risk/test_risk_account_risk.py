"""``AccountRisk``: the sums of one account taken once give exactly the margin functions'
results (same Decimal, digit for digit), and the guard decides the same with or without it."""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from tradingbot.risk import (
    Account,
    AccountRisk,
    LiquidationGuard,
    MarketRiskParams,
    PerpPosition,
    equity,
    free_collateral,
    is_liquidatable,
    liquidation_price,
    maintenance_ratio,
    margin_usage,
    total_imr,
    total_mmr,
)


def dec(lo: str, hi: str, places: int) -> st.SearchStrategy[D]:
    return st.decimals(D(lo), D(hi), places=places, allow_nan=False, allow_infinity=False)


@st.composite
def accounts(draw: st.DrawFn) -> Account:
    """Flat to three positions (open-interest scaling on some), any sign of balance."""
    positions = []
    for i in range(draw(st.integers(0, 3))):
        imf = draw(dec("0.01", "0.5", 3))
        caps = draw(st.sampled_from([(D(0), D(0)), (D(1_000_000), D(5_000_000))]))
        params = MarketRiskParams(
            f"M{i}-USD",
            imf,
            imf * draw(dec("0.1", "1", 2)),
            draw(dec("0", "1000", 1)),
            *caps,
        )
        size = draw(dec("0.001", "100", 3)) * draw(st.sampled_from([1, -1]))
        positions.append(PerpPosition(params, size, draw(dec("0.5", "100000", 2))))
    return Account(draw(dec("-1000000", "1000000", 2)), tuple(positions))


def same(a: object, b: object) -> bool:
    """Equal and printed alike (Decimal("1.0") == Decimal("1") but they differ as text)."""
    return a == b and str(a) == str(b)


@given(accounts())
@settings(max_examples=200, deadline=None)
def test_gauges_equal_the_functions(account: Account) -> None:
    risk = AccountRisk.of(account)
    assert same(risk.equity, equity(account))
    assert same(risk.total_imr, total_imr(account))
    assert same(risk.total_mmr, total_mmr(account))
    assert same(risk.free_collateral, free_collateral(account))
    assert same(risk.margin_usage, margin_usage(account))
    assert same(risk.maintenance_ratio, maintenance_ratio(account))
    assert risk.liquidatable is is_liquidatable(account)
    for market in [p.market for p in account.positions] + ["NONE-USD"]:
        assert same(risk.liquidation_price(market), liquidation_price(account, market))


@given(accounts())
@settings(max_examples=200, deadline=None)
def test_guard_decides_the_same_with_the_sums_given(account: Account) -> None:
    guard = LiquidationGuard()
    given_sums = guard.evaluate(account, AccountRisk.of(account))
    assert given_sums == guard.evaluate(account)
    assert str(given_sums) == str(guard.evaluate(account))
