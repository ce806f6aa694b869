"""The market layer's clock: bars confirmed on the exchange clock wait for the indexer's batched
trades, and a candle that lags behind a confirmed bar is a mismatch only until it catches up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from tradingbot.feeds.events import Candle, OraclePrice, Side, Trade, TradeType
from tradingbot.market.bars import Bar, LateTrade
from tradingbot.pipeline import EXCHANGE_CLOCK_CONFIRM_DELAY, MarketState, PipelineConfig

T0 = datetime(2024, 1, 1, 0, 5, tzinfo=UTC)
MARKET = "BTC-USD"


def trade(seconds: float, price: int = 100, n: int = 0) -> Trade:
    return Trade(
        id=f"t{seconds}-{n}",
        market=MARKET,
        side=Side.BUY,
        price=D(price),
        size=D(1),
        type=TradeType.LIMIT,
        created_at=T0 + timedelta(seconds=seconds),
    )


def oracle(seconds: float) -> OraclePrice:
    return OraclePrice(market=MARKET, price=D(100), effective_at=T0 + timedelta(seconds=seconds))


def candle(minute: int, trades: int, close: int) -> Candle:
    return Candle(
        market=MARKET,
        resolution="1MIN",
        started_at=T0 + timedelta(minutes=minute),
        open=D(100),
        high=D(max(100, close)),
        low=D(100),
        close=D(close),
        base_volume=D(trades),
        usd_volume=D(100 * (trades - 1) + close),
        trades=trades,
        starting_open_interest=D(0),
    )


def feed(state: MarketState, *events: Any) -> list[Any]:
    out: list[Any] = []
    for event in events:
        out += state.apply(event)[1]
    return out


def confirmed(items: list[Any]) -> list[datetime]:
    return [i.started_at for i in items if isinstance(i, Bar) and i.confirmed]


def test_exchange_clock_waits_for_the_batched_trades_of_a_bar() -> None:
    state = MarketState(PipelineConfig(exchange_clock=True))
    assert state.bars.confirm_delay == EXCHANGE_CLOCK_CONFIRM_DELAY == timedelta(seconds=2)
    out = feed(state, trade(10), oracle(61))  # the oracle price runs ahead of the trades
    out += feed(state, trade(59.5))  # the bar's last trade, in the next batch
    assert confirmed(out) == [] and state.late_trades == 0
    out = feed(state, oracle(62))  # end + 2 s: confirmed, with both trades
    (bar,) = [i for i in out if isinstance(i, Bar) and i.confirmed]
    assert bar.started_at == T0 and bar.trades == 2
    late = feed(state, trade(59.9))  # now it is late (and out of order: a quality issue too)
    assert next(i for i in late if isinstance(i, LateTrade)).trade.created_at < bar.ended_at
    assert state.late_trades == 1


def test_without_the_wait_the_same_feed_drops_the_trade_as_late() -> None:
    state = MarketState(PipelineConfig(exchange_clock=True, bar_confirm_delay=timedelta(0)))
    out = feed(state, trade(10), oracle(61), trade(59.5))
    assert confirmed(out) == [T0] and state.late_trades == 1


@pytest.mark.parametrize("exchange_clock", [False, True])
def test_receive_clock_confirms_at_the_bar_end(exchange_clock: bool) -> None:
    config = PipelineConfig(exchange_clock=exchange_clock)
    expected = EXCHANGE_CLOCK_CONFIRM_DELAY if exchange_clock else timedelta(0)
    assert MarketState(config).bars.confirm_delay == expected


def test_a_lagging_candle_is_a_mismatch_until_the_venue_catches_up() -> None:
    state = MarketState(PipelineConfig())
    # minute 0 is the first (partial) bar and is not checked; minute 1 is confirmed by a
    # trade of minute 2 with 3 trades, closing at 103
    feed(state, trade(30), trade(60, n=1), trade(70, n=2), trade(80, 103, n=3), trade(125))
    assert state.bars_confirmed == 2
    lagging = feed(state, candle(1, trades=2, close=100))
    assert [c.ok for c in lagging] == [False] and state.candle_mismatches == 1
    caught_up = feed(state, candle(1, trades=3, close=103))
    assert [c.ok for c in caught_up] == [True] and state.candle_mismatches == 0
    feed(state, candle(1, trades=4, close=104))  # a candle that disagrees for good
    assert state.candle_mismatches == 1
