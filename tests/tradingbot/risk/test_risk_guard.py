from decimal import Decimal as D

import pytest

from tradingbot.risk import (
    Account,
    GuardConfig,
    LiquidationGuard,
    MarketRiskParams,
    PerpPosition,
    maintenance_ratio,
)

BTC = MarketRiskParams("BTC-USD", D("0.05"), D("0.03"))
ETH = MarketRiskParams("ETH-USD", D("0.05"), D("0.03"))


def long_btc(price: str) -> Account:
    return Account(D("-40000"), (PerpPosition(BTC, D("1"), D(price)),))


def test_quiet_below_threshold() -> None:
    # P = 45 000: equity 5 000, MMR 1 350, ratio 0.27 < 0.8
    report = LiquidationGuard().evaluate(long_btc("45000"))
    assert report.ratio == D("0.27")
    assert not report.triggered


def test_reduce_to_target() -> None:
    # P = 41 500: equity = -40 000 + 41 500 = 1 500; MMR = 0.03 * 41 500 = 1 245
    # ratio = 1 245 / 1 500 = 0.83 >= 0.8 -> shed 1 245 - 0.6 * 1 500 = 345 of MMR
    # cut = 1 * 345 / 1 245 = 0.27710843...
    acc = long_btc("41500")
    report = LiquidationGuard().evaluate(acc)
    assert report.ratio == D("0.83")
    (action,) = report.actions
    assert action.kind == "reduce" and action.market == "BTC-USD"
    assert action.size == -(D("345") / D("1245"))
    assert action.position_size == D("1")
    assert "0.83" in action.reason and "reduce BTC-USD" in action.reason
    after = acc.with_trade(BTC, action.size, D("41500"), D("41500"))
    # MMR after = 1 245 - 345 = 900 over unchanged equity 1 500 = 0.6
    assert abs(maintenance_ratio(after) - D("0.6")) < D("1e-20")


def test_close_all_at_close_threshold() -> None:
    # P = 41 300: equity 1 300, MMR 1 239, ratio 0.953... >= 0.95
    acc = Account(
        D("-40000") + D("3000"),
        (PerpPosition(BTC, D("1"), D("41300")), PerpPosition(ETH, D("-1"), D("3000"))),
    )
    # add a short ETH worth 3 000 bought with 3 000 cash: equity still 1 300, MMR +90 -> 1 329
    report = LiquidationGuard().evaluate(acc)
    assert report.ratio == D("1329") / D("1300")
    assert [(a.market, a.kind, a.size) for a in report.actions] == [
        ("BTC-USD", "close", D("-1")),
        ("ETH-USD", "close", D("1")),
    ]


def test_largest_mmr_first_closes_small_remainder_spare() -> None:
    # BTC long 1 @ 50 000 (MMR 1 500), ETH long 10 @ 3 000 (MMR 900); Q makes equity 2 800
    # ratio = 2 400 / 2 800 = 0.857; shed 2 400 - 0.6 * 2 800 = 720 < 1 500: only BTC reduced
    acc = Account(
        D("2800") - D("80000"),
        (PerpPosition(BTC, D("1"), D("50000")), PerpPosition(ETH, D("10"), D("3000"))),
    )
    report = LiquidationGuard().evaluate(acc)
    assert [(a.market, a.kind) for a in report.actions] == [("BTC-USD", "reduce")]
    assert report.actions[0].size == -(D("720") / D("1500"))  # 0.48 BTC
    # with a tighter target the BTC position is closed and ETH reduced:
    # shed 2 400 - 0.1 * 2 800 = 2 120 = 1 500 (close BTC) + 620 of ETH's 900
    guard = LiquidationGuard(GuardConfig(target_ratio=D("0.1")))
    report = guard.evaluate(acc)
    assert [(a.market, a.kind, a.size) for a in report.actions] == [
        ("BTC-USD", "close", D("-1")),
        ("ETH-USD", "reduce", -(D("10") * D("620") / D("900"))),
    ]


def test_short_reduce_buys() -> None:
    # short 2 ETH, Q = 7 000: at P = 3 300 equity = 400, MMR = 198, ratio 0.495 -> quiet
    # at P = 3 320 equity = 360, MMR = 199.2, ratio 0.5533 -> quiet; use reduce 0.5 target 0.25
    acc = Account(D("7000"), (PerpPosition(ETH, D("-2"), D("3320")),))
    cfg = GuardConfig(reduce_ratio=D("0.5"), close_ratio=D("0.9"), target_ratio=D("0.25"))
    (action,) = LiquidationGuard(cfg).evaluate(acc).actions
    # shed 199.2 - 0.25 * 360 = 109.2 -> buy 2 * 109.2 / 199.2
    assert action.size == D("2") * D("109.2") / D("199.2")
    assert action.size > 0


def test_negative_equity_closes_everything() -> None:
    report = LiquidationGuard().evaluate(long_btc("39000"))
    assert report.ratio == D("Infinity")
    assert [a.kind for a in report.actions] == ["close"]
    assert "equity <= 0" in report.actions[0].reason


def test_config_validation() -> None:
    for kwargs in (
        {"reduce_ratio": D("1")},
        {"target_ratio": D("0.9")},
        {"close_ratio": D("0.7")},
        {"target_ratio": D("0")},
    ):
        with pytest.raises(ValueError):
            GuardConfig(**kwargs)
