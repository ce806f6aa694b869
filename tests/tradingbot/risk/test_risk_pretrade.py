from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from tradingbot.risk import (
    Account,
    MarketRiskParams,
    OrderIntent,
    PerpPosition,
    PreTradeChecker,
    RiskLimits,
    equity,
)

BTC = MarketRiskParams("BTC-USD", D("0.05"), D("0.03"))
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def flat(cash: str = "10000") -> Account:
    return Account(D(cash))


def long_btc() -> Account:
    # equity 10 000, long 1 BTC at 50 000
    return Account(D("-40000"), (PerpPosition(BTC, D("1"), D("50000")),))


def test_approves_within_limits_and_reports_account_after() -> None:
    checker = PreTradeChecker(RiskLimits(max_leverage=D("5")))
    # buy 1 at 50 000 with 10 000: leverage 5, free collateral 10 000 - 2 500 = 7 500
    d = checker.check(flat(), OrderIntent(BTC, D("1"), D("50000")), T0)
    assert d.approved and d.reasons == ()
    assert d.account_after == long_btc()


def test_free_collateral_after_the_order() -> None:
    checker = PreTradeChecker(RiskLimits())
    # buy 4 at 50 000 with 10 000: IMR = 4 * 50 000 * 0.05 = 10 000 -> FC = 0: allowed
    assert checker.check(flat(), OrderIntent(BTC, D("4"), D("50000")), T0).approved
    # buy 4.1: IMR = 10 250 -> FC = -250: rejected
    d = checker.check(flat(), OrderIntent(BTC, D("4.1"), D("50000")), T0)
    assert not d.approved
    assert d.failed_checks == ("free_collateral",)
    assert "-250" in d.reasons[0].message
    # paying above oracle costs equity: buy 4 at 50 100 valued at oracle 50 000
    # equity = 10 000 - 4 * 100 = 9 600 < IMR 10 000
    d = checker.check(flat(), OrderIntent(BTC, D("4"), D("50100"), oracle_price=D("50000")), T0)
    assert d.failed_checks == ("free_collateral",)
    assert equity(d.account_after) == D("9600")


def test_min_free_collateral_buffer() -> None:
    checker = PreTradeChecker(RiskLimits(min_free_collateral=D("1000")))
    # FC after buying 3 = 10 000 - 7 500 = 2 500 >= 1 000; buying 3.9 leaves 250
    assert checker.check(flat(), OrderIntent(BTC, D("3"), D("50000")), T0).approved
    assert not checker.check(flat(), OrderIntent(BTC, D("3.9"), D("50000")), T0).approved


def test_max_leverage_and_notionals() -> None:
    checker = PreTradeChecker(
        RiskLimits(
            max_leverage=D("3"), max_order_notional=D("120000"), max_position_notional=D("140000")
        )
    )
    # buy 1 more on top of 1 long: gross 100 000 / equity 10 000 = 10x > 3x; FC < 0 too
    d = checker.check(long_btc(), OrderIntent(BTC, D("1"), D("50000")), T0)
    assert set(d.failed_checks) == {"max_leverage"}
    # order notional 3 * 50 000 = 150 000 > 120 000; position 4 * 50 000 = 200 000 > 140 000
    d = checker.check(
        Account(D("1000000")), OrderIntent(BTC, D("-3"), D("50000")), T0, record=False
    )
    assert set(d.failed_checks) == {"max_order_notional", "max_position_notional"}


def test_reducing_orders_skip_collateral_and_leverage_checks() -> None:
    # Deep underwater: equity 10 000 - 9 000 = 1 000... at price 41 000: e = 1 000, lev 41
    acc = long_btc().with_prices({"BTC-USD": D("41000")})
    checker = PreTradeChecker(RiskLimits(max_leverage=D("2"), min_free_collateral=D("5000")))
    d = checker.check(acc, OrderIntent(BTC, D("-0.5"), D("41000"), reduce_only=True), T0)
    assert d.approved
    # but adding is blocked on both counts
    d = checker.check(acc, OrderIntent(BTC, D("0.1"), D("41000")), T0)
    assert set(d.failed_checks) == {"max_leverage", "free_collateral"}


def test_reduce_only_rejects_increase_and_flip() -> None:
    checker = PreTradeChecker(RiskLimits())
    acc = long_btc()
    assert checker.check(acc, OrderIntent(BTC, D("-1"), D("50000"), reduce_only=True), T0).approved
    for size in ("0.1", "-1.5"):
        d = checker.check(acc, OrderIntent(BTC, D(size), D("50000"), reduce_only=True), T0)
        assert "reduce_only" in d.failed_checks
    d = checker.check(flat(), OrderIntent(BTC, D("-0.1"), D("50000"), reduce_only=True), T0)
    assert d.failed_checks == ("reduce_only",)


def test_zero_size_rejected() -> None:
    d = PreTradeChecker(RiskLimits()).check(flat(), OrderIntent(BTC, D(0), D("1")), T0)
    assert d.failed_checks == ("size",)


def test_order_rate_window() -> None:
    checker = PreTradeChecker(
        RiskLimits(max_orders_per_window=2, order_window=timedelta(seconds=10))
    )
    order = OrderIntent(BTC, D("0.01"), D("50000"))
    assert checker.check(flat(), order, T0).approved
    assert checker.check(flat(), order, T0 + timedelta(seconds=1)).approved
    d = checker.check(flat(), order, T0 + timedelta(seconds=9))
    assert d.failed_checks == ("order_rate",)
    # rejected orders do not count; at t0+10 the first one has left the (t-10, t] window
    assert checker.orders_in_window(T0 + timedelta(seconds=10)) == 1
    assert checker.check(flat(), order, T0 + timedelta(seconds=10)).approved
    # record=False evaluates without consuming the budget
    assert not checker.check(flat(), order, T0 + timedelta(seconds=10.5), record=False).approved
