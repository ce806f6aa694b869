"""dYdX v4 margin maths against hand-worked examples (arithmetic in the comments)."""

from decimal import Decimal as D

import pytest

from tradingbot.risk import (
    Account,
    MarketRiskParams,
    PerpPosition,
    effective_imf,
    equity,
    free_collateral,
    is_liquidatable,
    leverage,
    liquidation_price,
    maintenance_ratio,
    margin_usage,
    position_imr,
    position_mmr,
    total_imr,
    total_mmr,
)

BTC = MarketRiskParams("BTC-USD", D("0.05"), D("0.03"))
ETH = MarketRiskParams("ETH-USD", D("0.05"), D("0.03"))


def btc_long() -> Account:
    # Deposit 10 000 USDC, buy 1 BTC at 50 000: Q = 10 000 - 50 000 = -40 000.
    return Account(D("-40000"), (PerpPosition(BTC, D("1"), D("50000")),))


def eth_short() -> Account:
    # Deposit 1 000 USDC, sell 2 ETH at 3 000: Q = 1 000 + 6 000 = 7 000.
    return Account(D("7000"), (PerpPosition(ETH, D("-2"), D("3000")),))


def test_long_position_requirements() -> None:
    acc = btc_long()
    pos = acc.positions[0]
    # IMR = |1 * 50 000 * 0.05| = 2 500; MMR = |1 * 50 000 * 0.03| = 1 500
    assert position_imr(pos) == D("2500")
    assert position_mmr(pos) == D("1500")
    # equity = Q + S*P = -40 000 + 50 000 = 10 000; free collateral = 10 000 - 2 500 = 7 500
    assert equity(acc) == D("10000")
    assert free_collateral(acc) == D("7500")
    # margin usage = 2 500 / 10 000; leverage = 50 000 / 10 000; maintenance ratio 1 500/10 000
    assert margin_usage(acc) == D("0.25")
    assert leverage(acc) == D("5")
    assert maintenance_ratio(acc) == D("0.15")
    assert not is_liquidatable(acc)


def test_long_liquidation_price() -> None:
    acc = btc_long()
    # p' = (e - s*p - 0) / (|s|*MMF - s) = (10 000 - 50 000) / (0.03 - 1) = -40 000 / -0.97
    expected = D("-40000") / D("-0.97")
    assert liquidation_price(acc, "BTC-USD") == expected
    assert str(expected)[:12] == "41237.113402"
    at = acc.with_prices({"BTC-USD": expected})
    # equity at p' = -40 000 + 41 237.11... = 1 237.11...; MMR = 0.03 * 41 237.11... = same
    assert abs(equity(at) - total_mmr(at)) < D("1e-20")
    assert is_liquidatable(acc.with_prices({"BTC-USD": D("41237")}))
    assert not is_liquidatable(acc.with_prices({"BTC-USD": D("41238")}))


def test_short_position_and_liquidation_price() -> None:
    acc = eth_short()
    pos = acc.positions[0]
    # IMR = |-2 * 3 000 * 0.05| = 300; MMR = |-2 * 3 000 * 0.03| = 180
    assert position_imr(pos) == D("300")
    assert position_mmr(pos) == D("180")
    # equity = 7 000 + (-2)(3 000) = 1 000; free collateral = 700
    assert equity(acc) == D("1000")
    assert free_collateral(acc) == D("700")
    # p' = (1 000 - (-2)(3 000)) / (2*0.03 - (-2)) = 7 000 / 2.06 = 3 398.0582...
    lp = liquidation_price(acc, "ETH-USD")
    assert lp == D("7000") / D("2.06")
    assert str(lp)[:9] == "3398.0582"
    assert is_liquidatable(acc.with_prices({"ETH-USD": D("3398.06")}))
    assert not is_liquidatable(acc.with_prices({"ETH-USD": D("3398.05")}))


def test_cross_margin_liquidation_price_uses_other_mmr() -> None:
    # Both positions in one account: Q = -40 000 + 7 000 = -33 000
    acc = Account(
        D("-33000"),
        (PerpPosition(BTC, D("1"), D("50000")), PerpPosition(ETH, D("-2"), D("3000"))),
    )
    # equity = -33 000 + 50 000 - 6 000 = 11 000; MMR = 1 500 + 180 = 1 680
    assert equity(acc) == D("11000")
    assert total_mmr(acc) == D("1680")
    assert total_imr(acc) == D("2800")  # 2 500 + 300
    # cross: p' = (11 000 - 50 000 - 180) / (0.03 - 1) = -39 180 / -0.97 = 40 391.75...
    cross = liquidation_price(acc, "BTC-USD")
    assert cross == D("-39180") / D("-0.97")
    # isolated formula drops MMR_other: (11 000 - 50 000) / -0.97 = 40 206.18...
    assert liquidation_price(acc, "BTC-USD", isolated=True) == D("-39000") / D("-0.97")
    at = acc.with_prices({"BTC-USD": cross})
    assert abs(equity(at) - total_mmr(at)) < D("1e-20")


def test_no_liquidation_price_cases() -> None:
    # A long backed by more cash than its notional never liquidates at a positive price:
    # Q = 100, long 1 at 50: p' = (150 - 50) / (0.03 - 1) < 0.
    params = MarketRiskParams("X-USD", D("0.05"), D("0.03"))
    safe = Account(D("100"), (PerpPosition(params, D("1"), D("50")),))
    assert liquidation_price(safe, "X-USD") is None
    assert liquidation_price(safe, "NOPE-USD") is None
    # A short whose numerator is negative is liquidatable at every price: returns 0.
    # Q = -10, short 1 at 50 (so Q + 50 = 40 ... use other MMR): e - s*p - MMR_other < 0
    other = PerpPosition(MarketRiskParams("Y-USD", D("0.5"), D("0.5")), D("100"), D("1"))
    doomed = Account(D("-120"), (PerpPosition(params, D("-1"), D("50")), other))
    # e = -120 - 50 + 100 = -70; numerator = -70 - (-50) - 50 = -70 < 0
    assert liquidation_price(doomed, "X-USD") == D(0)
    assert is_liquidatable(doomed)


def test_negative_quote_without_positions_is_not_liquidatable() -> None:
    acc = Account(D("-5"))
    # MMR = 0, so the protocol's condition (MMR > 0 and equity < MMR) cannot hold.
    assert equity(acc) == D("-5")
    assert not is_liquidatable(acc)
    assert maintenance_ratio(acc) == 0
    assert margin_usage(acc) == 0
    assert leverage(acc) == 0


def test_negative_equity_ratios_are_infinite() -> None:
    # Q = -51 000, long 1 BTC at 50 000: equity = -1 000
    acc = Account(D("-51000"), (PerpPosition(BTC, D("1"), D("50000")),))
    assert is_liquidatable(acc)
    assert maintenance_ratio(acc) == D("Infinity")
    assert margin_usage(acc) == D("Infinity")
    assert leverage(acc) == D("Infinity")


OI = MarketRiskParams(
    "OI-USD",
    D("0.02"),
    D("0.012"),
    open_interest=D("10"),
    open_interest_lower_cap=D("500000"),
    open_interest_upper_cap=D("1000000"),
)


@pytest.mark.parametrize(
    ("price", "imf"),
    [
        # OI*P = 10 * 20 000 = 200 000 < lower cap: scale < 0, clipped: base 0.02
        (D("20000"), D("0.02")),
        # OI*P = 500 000 = lower cap: scale 0 -> 0.02
        (D("50000"), D("0.02")),
        # OI*P = 750 000: scale = 250 000 / 500 000 = 0.5 -> 0.02 + 0.5 * 0.98 = 0.51
        (D("75000"), D("0.51")),
        # OI*P = 1 000 000 = upper cap: scale 1 -> 0.02 + 0.98 = 1
        (D("100000"), D("1")),
        # OI*P = 1 500 000: scale 2 -> 0.02 + 1.96 = 1.98, capped at 1
        (D("150000"), D("1")),
    ],
)
def test_open_interest_imf(price: D, imf: D) -> None:
    assert effective_imf(OI, price) == imf
    pos = PerpPosition(OI, D("-2"), price)
    # IMR uses the scaled IMF; MMR keeps the base: |-2 * P * 0.012|
    assert position_imr(pos) == abs(D("-2") * price * imf)
    assert position_mmr(pos) == 2 * price * D("0.012")


def test_open_interest_scaling_off_when_upper_cap_zero() -> None:
    off = MarketRiskParams("Z-USD", D("0.02"), D("0.012"), open_interest=D("1e9"))
    assert effective_imf(off, D("100000")) == D("0.02")


def test_params_validation_and_tier_constructor() -> None:
    # MMF = IMF * tier maintenance fraction = 0.05 * 0.6 = 0.03
    tier = MarketRiskParams.from_tier("BTC-USD", D("0.05"), D("0.6"))
    assert tier.maintenance_margin_fraction == D("0.030")
    with pytest.raises(ValueError):
        MarketRiskParams("X", D("0.03"), D("0.05"))
    with pytest.raises(ValueError):
        MarketRiskParams(
            "X", D("0.05"), D("0.03"), open_interest_lower_cap=D(2), open_interest_upper_cap=D(1)
        )
    with pytest.raises(ValueError):
        Account(D(0), (PerpPosition(BTC, D(1), D(1)), PerpPosition(BTC, D(2), D(1))))


def test_with_trade_updates_quote_and_positions() -> None:
    acc = btc_long()
    # sell 0.4 at 51 000: Q = -40 000 + 20 400 = -19 600, size 0.6
    after = acc.with_trade(BTC, D("-0.4"), D("51000"), D("51000"))
    assert after.quote_balance == D("-19600")
    assert after.position("BTC-USD") == PerpPosition(BTC, D("0.6"), D("50000"))
    # closing the rest removes the position
    flat = after.with_trade(BTC, D("-0.6"), D("50000"), D("50000"))
    assert flat.positions == ()
    assert flat.quote_balance == D("10400")  # -19 600 + 30 000
    # a new market opens at the given oracle price
    both = acc.with_trade(ETH, D("1"), D("3001"), D("3000"))
    assert both.position("ETH-USD") == PerpPosition(ETH, D("1"), D("3000"))
    assert equity(both) == D("10000") - D("1")  # paid 1 over oracle
