"""``stages.frozen_maker``: the hot paths' faster constructors build exactly what the dataclass
would, from real decoded events and every item a replay derives from them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from reactivex.subject import Subject

from pytest_streamreplay.cassette import WsMessage, iter_records
from tradingbot.feeds.dydx import decode
from tradingbot.feeds.events import MarketEvent
from tradingbot.market.bars import Bar
from tradingbot.market.book import BookState
from tradingbot.pipeline import Pipeline
from tradingbot.risk import MarketRiskParams
from tradingbot.signals.scorer import Score, ScoreComponent
from tradingbot.stages import frozen_maker, frozen_makers

CASSETTE = Path(__file__).parents[3] / "cassettes" / "dydx" / "book_trades_candles.jsonl"


def _replayed_items() -> list[Any]:
    """Every decoded event and every item the stages derive from them (the taps see all)."""
    items: list[Any] = []
    events: Subject[MarketEvent] = Subject()
    Pipeline(taps=[items.append]).from_events(events).subscribe()
    for record in iter_records(CASSETTE):
        if isinstance(record, WsMessage) and record.dir == "recv":
            for event in decode(record.value):
                events.on_next(event)
    return items


def _same(made: Any, original: Any) -> None:
    assert type(made) is type(original)
    assert made == original
    for f in fields(original):
        assert getattr(made, f.name) is getattr(original, f.name), f.name


def test_rebuilds_every_replayed_item_exactly() -> None:
    items = _replayed_items()
    kinds = {type(item) for item in items}
    assert {BookState, Bar, Score} <= kinds  # the stages ran
    checked = 0
    for item in items:
        if not is_dataclass(item):
            continue
        make = frozen_makers[type(item)]
        values = {f.name: getattr(item, f.name) for f in fields(item)}
        if make is type(item):
            continue  # not eligible (e.g. a __post_init__): the class itself
        _same(make(**values), item)
        checked += 1
    assert checked > len(items) // 2


def test_positional_arguments_and_defaults_like_the_class() -> None:
    state = BookState("BTC-USD", (), ())
    _same(frozen_maker(BookState)("BTC-USD", (), ()), state)
    component = frozen_maker(ScoreComponent)("trend", 0.5, 1.0, 0.25)
    assert component == ScoreComponent("trend", 0.5, 1.0, 0.25)
    other = frozen_maker(ScoreComponent)("trend", 0.5, 1.0, 0.25)
    assert component.inputs == {} and component.inputs is not other.inputs  # default_factory


def test_argument_errors_read_like_the_class() -> None:
    make = frozen_maker(BookState)
    with pytest.raises(TypeError) as ours:
        make("BTC-USD", bids=())
    with pytest.raises(TypeError) as theirs:
        BookState("BTC-USD", bids=())  # type: ignore[call-arg]
    assert str(ours.value) == str(theirs.value)


def test_classes_with_more_to_do_keep_their_own_constructor() -> None:
    @dataclass(slots=True)
    class Mutable:
        x: int

    @dataclass(frozen=True)
    class NoSlots:
        x: int

    @dataclass(frozen=True, slots=True)
    class Private:
        _x: int

    @dataclass(frozen=True, slots=True)
    class Late:
        x: int
        y: list[int] = field(init=False, default_factory=list)

    assert frozen_maker(MarketRiskParams) is MarketRiskParams  # validates in __post_init__
    for cls in (Mutable, NoSlots, Private, Late):
        assert frozen_maker(cls) is cls
    with pytest.raises(ValueError, match="MMF <= IMF"):
        frozen_maker(MarketRiskParams)("X", Decimal("0.01"), Decimal("0.5"))
