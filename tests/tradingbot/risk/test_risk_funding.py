from decimal import Decimal as D

from tradingbot.risk import (
    Account,
    MarketRiskParams,
    PerpPosition,
    accrue_funding,
    funding_payment,
    hourly_rate,
)

BTC = MarketRiskParams("BTC-USD", D("0.05"), D("0.03"))
ETH = MarketRiskParams("ETH-USD", D("0.05"), D("0.03"))


def test_hourly_rate_is_eighth_of_8h_rate() -> None:
    assert hourly_rate(D("0.0008")) == D("0.0001")


def test_long_pays_short_receives_at_positive_rate() -> None:
    # long 2 BTC at oracle 50 000, 1h rate 0.0001: 2 * 50 000 * 0.0001 = 10 paid
    assert funding_payment(D("2"), D("50000"), D("0.0001")) == D("10.0000")
    # short 2: -10, i.e. received
    assert funding_payment(D("-2"), D("50000"), D("0.0001")) == D("-10.0000")
    # negative rate: shorts pay
    assert funding_payment(D("-2"), D("50000"), D("-0.0001")) == D("10.0000")


def test_accrue_funding_moves_quote_balance() -> None:
    acc = Account(
        D("1000"),
        (PerpPosition(BTC, D("2"), D("50000")), PerpPosition(ETH, D("-1"), D("3000"))),
    )
    after, payments = accrue_funding(acc, {"BTC-USD": D("0.0001"), "ETH-USD": D("0.0001")})
    # BTC long pays 10; ETH short: -1 * 3 000 * 0.0001 = -0.3 (receives)
    assert [p.amount for p in payments] == [D("10"), D("-0.3")]
    # Q = 1 000 - 10 + 0.3 = 990.3
    assert after.quote_balance == D("990.3")
    assert after.positions == acc.positions
    # a market without a rate is skipped
    after2, payments2 = accrue_funding(acc, {"ETH-USD": D("0.0001")})
    assert [p.market for p in payments2] == ["ETH-USD"]
    assert after2.quote_balance == D("1000.3")
