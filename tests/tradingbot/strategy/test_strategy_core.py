"""Strategy rules on hand-built streams: entry, sizing, cooldown, exits, stops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import reactivex

from pytest_streamreplay.streams import collect
from tradingbot.feeds.events import MarketUpdate, Side
from tradingbot.market.book import BookState
from tradingbot.signals.scorer import Score, ScoreComponent
from tradingbot.strategy import (
    IntentKind,
    ScoreStrategy,
    StrategyConfig,
    TradeIntent,
    intents,
    strategy_stage,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def score(value: float, market: str = "ETH-USD", components: int = 2) -> Score:
    parts = tuple(
        ScoreComponent(f"c{i}", value, 1.0, value / components) for i in range(components)
    )
    return Score(market, value, parts)


def book(bid: str, ask: str, market: str = "ETH-USD", at: datetime = T0) -> BookState:
    return BookState(market, ((D(bid), D("10")),), ((D(ask), D("10")),), time=at)


UPDATE = MarketUpdate(market="ETH-USD", tick_size=D("0.1"), step_size=D("0.01"), received_at=T0)


class View:
    """A position view the test moves by hand."""

    def __init__(self) -> None:
        self.size = D(0)
        self.entry: D | None = None

    def position_size(self, market: str) -> D:
        return self.size

    def entry_price(self, market: str) -> D | None:
        return self.entry

    def equity(self) -> D:
        return D(10_000)


def test_entry_is_sized_priced_and_explained() -> None:
    strat = ScoreStrategy(StrategyConfig(), View())
    strat.apply(UPDATE, T0)
    strat.apply(book("99.9", "100"), T0)
    [intent] = strat.apply(score(0.5), T0)
    # notional min(5000, 10000 x 2 x 0.5) = 5000; limit = 100 x 1.001 = 100.1 (tick 0.1);
    # size = floor(5000 / 100.1 / 0.01) x 0.01 = 49.95
    assert intent.side is Side.BUY
    assert intent.price == D("100.1")
    assert intent.size == D("49.95")
    assert intent.kind is IntentKind.ENTRY and not intent.reduce_only
    assert intent.id == "s000001"
    assert "entry threshold 0.35" in intent.reason


def test_negative_score_shorts_at_the_bid_minus_slippage() -> None:
    strat = ScoreStrategy(StrategyConfig(), View())
    strat.apply(UPDATE, T0)
    strat.apply(book("99.9", "100"), T0)
    [intent] = strat.apply(score(-0.4), T0)
    assert intent.side is Side.SELL
    assert intent.price == D("99.8")  # 99.9 x 0.999 = 99.8001 rounded down to the tick


def test_no_entry_below_threshold_wide_spread_or_without_components() -> None:
    strat = ScoreStrategy(StrategyConfig(min_components=2), View())
    strat.apply(UPDATE, T0)
    strat.apply(book("99.9", "100"), T0)
    assert strat.apply(score(0.3), T0) == []
    assert strat.apply(score(0.9, components=1), T0) == []
    strat.apply(book("99", "100"), T0)  # 1% spread > 0.2%
    assert strat.apply(score(0.9), T0) == []


def test_cooldown_then_exit_when_the_score_fades() -> None:
    view = View()
    strat = ScoreStrategy(StrategyConfig(cooldown=timedelta(seconds=30)), view)
    strat.apply(UPDATE, T0)
    strat.apply(book("99.9", "100"), T0)
    [entry] = strat.apply(score(0.5), T0)
    view.size, view.entry = entry.size, D("100")
    assert strat.apply(score(0.0), T0 + timedelta(seconds=10)) == []  # minimum holding time
    [exit_] = strat.apply(score(0.0), T0 + timedelta(seconds=31))
    assert exit_.kind is IntentKind.EXIT and exit_.reduce_only
    assert exit_.side is Side.SELL and exit_.size == entry.size
    assert "faded" in exit_.reason


def test_stop_loss_acts_at_once_and_retries_only_after_the_retry_interval() -> None:
    view = View()
    view.size, view.entry = D(2), D(100)
    strat = ScoreStrategy(StrategyConfig(stop_loss=D("0.01")), view)
    strat.apply(UPDATE, T0)
    assert strat.apply(book("99.5", "99.6"), T0) == []  # 0.45% down: inside the stop
    [stop] = strat.apply(book("98.9", "99"), T0)  # mid 98.95: 1.05% down
    assert stop.kind is IntentKind.EXIT and stop.size == D(2)
    assert stop.reason.startswith("stop-loss")
    assert strat.apply(book("98.9", "99"), T0 + timedelta(seconds=1)) == []
    assert len(strat.apply(book("98.9", "99"), T0 + timedelta(seconds=6))) == 1


def test_markets_filter() -> None:
    strat = ScoreStrategy(StrategyConfig(markets=("BTC-USD",)), View())
    strat.apply(book("99.9", "100"), T0)
    assert strat.apply(score(0.9), T0) == []


def test_stage_passes_items_through_and_appends_intents() -> None:
    items = [UPDATE, book("99.9", "100"), score(0.5), score(0.6)]
    out = collect(reactivex.from_iterable(items).pipe(strategy_stage(lambda: ScoreStrategy())))
    assert out[:3] == items[:3]
    assert isinstance(out[3], TradeIntent) and out[3].id == "s000001"
    assert out[4] is items[3]  # cooled down: no second intent
    assert len(out) == 5
    # a factory gives each subscription a fresh strategy: ids restart
    only = collect(reactivex.from_iterable(items).pipe(intents(lambda: ScoreStrategy())))
    assert [i.id for i in only] == ["s000001"]


def test_intents_marbles(marbles: Any) -> None:
    src = marbles.cold(
        "u-b-s-t|", {"u": UPDATE, "b": book("99.9", "100"), "s": score(0.5), "t": score(0.6)}
    )
    expected = TradeIntent(
        id="s000001",
        market="ETH-USD",
        side=Side.BUY,
        size=D("49.95"),
        price=D("100.1"),
        kind=IntentKind.ENTRY,
        reason="score +0.5000 beyond entry threshold 0.35 (2 components); notional 5000.00",
        created_at=T0,
        score=0.5,
    )
    marbles.expect(src.pipe(intents(lambda: ScoreStrategy()))).to_be("----i--|", {"i": expected})
