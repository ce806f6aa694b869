"""Paper broker: level walking, partial fills, fees, maker fills, PnL, funding, risk gate."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import reactivex

from pytest_streamreplay.streams import collect
from tradingbot.execution import (
    AccountState,
    ExecutionEngine,
    ExecutionReport,
    FeeSchedule,
    OrderStatus,
    PaperBroker,
    RiskGate,
    execution_stage,
)
from tradingbot.feeds.events import Fill, MarketUpdate, OraclePrice, Side, Trade, TradeType
from tradingbot.market.book import BookState
from tradingbot.risk import RiskLimits
from tradingbot.strategy import IntentKind, TimeInForce, TradeIntent

T0 = datetime(2024, 1, 1, tzinfo=UTC)
M = "ETH-USD"
BOOK = BookState(
    M,
    bids=((D(99), D(1)), (D(98), D(3))),
    asks=((D(100), D(1)), (D(101), D(2)), (D(102), D(5))),
    time=T0,
)
PARAMS = MarketUpdate(
    market=M,
    is_snapshot=True,
    oracle_price=D(100),
    initial_margin_fraction=D("0.05"),
    maintenance_margin_fraction=D("0.03"),
    received_at=T0,
)


def intent(
    side: Side,
    size: str,
    price: str,
    *,
    id: str = "i1",
    tif: TimeInForce = TimeInForce.IOC,
    reduce_only: bool = False,
) -> TradeIntent:
    return TradeIntent(
        id=id,
        market=M,
        side=side,
        size=D(size),
        price=D(price),
        kind=IntentKind.EXIT if reduce_only else IntentKind.ENTRY,
        reason="test",
        reduce_only=reduce_only,
        time_in_force=tif,
    )


def broker() -> PaperBroker:
    b = PaperBroker(D(10_000), fees=FeeSchedule(taker=D("0.0005"), maker=D("0.0001")))
    b.on_event(PARAMS, T0)
    b.on_event(BOOK, T0)
    return b


def test_buy_walks_levels_up_to_the_limit_and_cancels_the_rest() -> None:
    b = broker()
    report, fills = b.submit(intent(Side.BUY, "4", "101.5"), T0)
    assert [(f.price, f.size, f.liquidity) for f in fills] == [
        (D(100), D(1), "TAKER"),
        (D(101), D(2), "TAKER"),
    ]
    # fees: 5 bps of 100 and of 202
    assert [f.fee for f in fills] == [D("0.0500"), D("0.1010")]
    assert report.status is OrderStatus.PARTIALLY_FILLED
    assert report.filled == D(3) and report.requested == D(4)
    assert report.fee == D("0.1510")
    assert report.average_price == D(302) / D(3)
    assert b.quote == D(10_000) - D(302) - D("0.151")
    assert b.position_size(M) == D(3)
    assert b.entry_price(M) == D(302) / D(3)
    # equity at oracle 100: Q + 3 x 100 = 9997.849
    assert b.equity() == D("9997.849")


def test_taken_liquidity_is_gone_until_the_next_book_update() -> None:
    b = broker()
    b.submit(intent(Side.BUY, "3", "101", id="a"), T0)
    report, fills = b.submit(intent(Side.BUY, "1", "101", id="b"), T0)
    assert report.status is OrderStatus.CANCELED and fills == []
    b.on_event(BOOK, T0)  # a fresh book: the levels are there again
    report, fills = b.submit(intent(Side.BUY, "1", "101", id="c"), T0)
    assert report.status is OrderStatus.FILLED and fills[0].price == D(100)


def test_sell_walks_bids_downwards() -> None:
    b = broker()
    report, fills = b.submit(intent(Side.SELL, "2", "98"), T0)
    assert [(f.price, f.size) for f in fills] == [(D(99), D(1)), (D(98), D(1))]
    assert report.status is OrderStatus.FILLED
    assert b.position_size(M) == D(-2)


def test_gtc_rests_and_fills_as_maker_on_a_trade_through_its_price() -> None:
    b = broker()
    report, fills = b.submit(intent(Side.BUY, "2", "99.5", tif=TimeInForce.GTC), T0)
    assert report.status is OrderStatus.RESTING and fills == []
    trade = Trade(
        id="t1",
        market=M,
        side=Side.SELL,
        price=D("99.4"),
        size=D("1.5"),
        type=TradeType.LIMIT,
        created_at=T0,
    )
    [fill] = b.on_event(trade, T0)
    assert (fill.price, fill.size, fill.liquidity) == (D("99.5"), D("1.5"), "MAKER")
    assert fill.fee == D("99.5") * D("1.5") * D("0.0001")
    assert len(b.resting()) == 1  # 0.5 still resting
    buy_trade = Trade(
        id="t2",
        market=M,
        side=Side.BUY,
        price=D(99),
        size=D(5),
        type=TradeType.LIMIT,
        created_at=T0,
    )
    assert b.on_event(buy_trade, T0) == []  # a buyer cannot fill our buy


def test_reduce_only_is_clamped_or_rejected_and_pnl_is_realised() -> None:
    b = broker()
    b.submit(intent(Side.BUY, "1", "100", id="open"), T0)
    report, _ = b.submit(intent(Side.BUY, "1", "101", id="wrong", reduce_only=True), T0)
    assert report.status is OrderStatus.REJECTED and report.reasons == ("reduce_only",)
    report, fills = b.submit(intent(Side.SELL, "5", "98", id="close", reduce_only=True), T0)
    assert report.filled == D(1) and fills[0].price == D(99)
    assert b.position_size(M) == 0
    assert b.realized_pnl == D(-1)  # bought 100, sold 99


def test_funding_is_settled_hourly_at_the_predicted_rate() -> None:
    b = PaperBroker(D(10_000), positions={M: (D(10), D(100))})
    b.on_event(PARAMS, T0)
    b.on_event(
        MarketUpdate(market=M, next_funding_rate=D("0.0001"), received_at=T0),
        T0 + timedelta(minutes=30),
    )
    b.on_event(OraclePrice(market=M, price=D(110)), T0 + timedelta(minutes=59))
    assert b.funding_paid == 0
    b.on_event(OraclePrice(market=M, price=D(110)), T0 + timedelta(hours=1, seconds=1))
    # long 10 x oracle 110 x 0.0001 = 0.11 paid
    assert b.funding_paid == D("0.11")
    assert b.quote == D(10_000) - D(1000) - D("0.11")


def test_risk_gate_rejects_with_every_failed_check() -> None:
    b = broker()
    gate = RiskGate(RiskLimits(max_order_notional=D(50), max_leverage=D("0.001")))
    decision = gate.check(intent(Side.BUY, "1", "101"), b, T0)
    assert not decision.approved
    assert [r.split(":")[0] for r in decision.reasons] == ["max_order_notional", "max_leverage"]
    other = replace(intent(Side.BUY, "1", "101"), market="BTC-USD")
    assert gate.check(other, b, T0).reasons[0].startswith("no_params")


def test_execution_stage_reports_fills_and_account_states_in_order() -> None:
    engine = ExecutionEngine(broker(), RiskGate())
    order = intent(Side.BUY, "2", "101")
    out = collect(reactivex.from_iterable([order]).pipe(execution_stage(engine)))
    kinds = [type(x).__name__ for x in out]
    assert kinds == ["TradeIntent", "ExecutionReport", "Fill", "Fill", "AccountState"]
    assert isinstance(out[1], ExecutionReport) and out[1].status is OrderStatus.FILLED
    assert all(isinstance(f, Fill) for f in out[2:4])
    state = out[4]
    assert isinstance(state, AccountState)
    # 2 ETH at oracle 100 with IMF 5%: IMR 10; equity 10000 - 201 - fees + 200
    assert state.equity == D(10_000) - D(201) - D("0.1005") + D(200)
    assert engine.orders == 1 and engine.fills == 2
