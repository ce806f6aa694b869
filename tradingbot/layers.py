"""One definition of each layer's step, run two ways: as a reactivex operator per layer, and
as the fused chain the drivers run.

A layer (signals, strategy, execution) is a :class:`Layer`: ``derive(item, now)`` returns what
the layer makes of one item at market time ``now``, and ``accepts`` says which item types it
reacts to (others pass through without a call). :func:`layer_stage` turns a layer into a
pass-through operator (``signal_stage``, ``strategy_stage``, ``execution_stage``);
:func:`compose` nests the same layers into one push function, which ``Pipeline`` runs. Both
take ``now`` from :func:`event_time` the same way, so the operators piped one after another
and the fused chain emit the same items in the same order (tests/tradingbot/pipeline/
test_one_chain.py compares them on a cassette).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reactivex import Observable

from tradingbot.feeds.events import MarketEvent, OraclePrice, Trade
from tradingbot.market.book import BookState
from tradingbot.stages import Derive, KindOf, pass_through

__all__ = ["Layer", "Step", "TimedPush", "compose", "event_time", "layer_stage"]

Step = Callable[[Any, datetime | None], Iterable[Any]]
"""``derive(item, now)``: the items a layer derives from ``item`` at market time ``now``."""

TimedPush = Callable[[Any, datetime | None], None]
"""``push(item, now)``: hand ``item`` (seen at market time ``now``) down a fused chain."""


@dataclass(frozen=True, slots=True)
class Layer:
    """One layer's step and the item types it takes (None: every item)."""

    derive: Step
    accepts: KindOf | None = None


def event_time(item: Any) -> datetime | None:
    """The market time an item carries: receive stamp, else trade/oracle/book time."""
    kind = _TIMED[type(item)]
    if kind < 0:
        return None
    if kind == _BOOK:
        return item.time
    t: datetime | None = item.received_at
    if t is not None or kind == _EVENT:
        return t
    return item.created_at if kind == _TRADE else item.effective_at


_TIMED = KindOf(Trade, OraclePrice, MarketEvent, BookState)
_TRADE, _EVENT, _BOOK = 0, 2, 3


def layer_stage(fresh: Callable[[], Layer]) -> Callable[[Observable[Any]], Observable[Any]]:
    """``Observable[Any] -> Observable[Any]``: items unchanged, each followed by what the layer
    derives from it; ``now`` is the latest :func:`event_time` seen on the stream. ``fresh()``
    makes the layer per subscription (a cold stream replayed twice starts clean)."""

    def make() -> Derive:
        layer = fresh()
        derive, accepts = layer.derive, layer.accepts
        now: datetime | None = None

        def step(item: Any) -> Iterable[Any]:
            nonlocal now
            t = event_time(item)
            if t is not None:
                now = t
            if accepts is not None and accepts[type(item)] < 0:
                return ()
            return derive(item, now)

        return step

    return pass_through(make)


def compose(layers: Sequence[Layer], sink: TimedPush) -> TimedPush:
    """``push(item, t)``: the layers (first = most upstream) ending in ``sink``, the same
    items in the same order as piping :func:`layer_stage` of each. ``t`` is the item's
    :func:`event_time` (the caller has it already); None keeps the last one.

    Piped pass-through stages hand an item on before deriving from it, so an item reaches
    ``sink`` first, then the innermost layer derives from it, then the next one out; what a
    layer derives enters the layer after it. That order is unrolled here into one function per
    item instead of one call per layer."""
    steps = list(enumerate(layers))
    plans = [_Plan(steps[start:]) for start in range(len(steps) + 1)]
    now: datetime | None = None

    def push(item: Any, at: datetime | None, start: int) -> None:
        sink(item, at)
        for i, derive in plans[start][type(item)]:
            for out in derive(item, at):
                push(out, at, i + 1)

    def head(item: Any, t: datetime | None) -> None:
        nonlocal now
        if t is not None:
            now = t
        push(item, now, 0)

    return head


class _Plan(dict[type, tuple[tuple[int, Step], ...]]):
    """``plan[type(item)]``: the (index, derive) of the layers that take the item, innermost
    first (the order they derive in), decided once per type."""

    def __init__(self, steps: Sequence[tuple[int, Layer]]) -> None:
        super().__init__()
        self.steps = steps

    def __missing__(self, kind: type) -> tuple[tuple[int, Step], ...]:
        plan = tuple(
            (i, layer.derive)
            for i, layer in reversed(self.steps)
            if layer.accepts is None or layer.accepts[kind] >= 0
        )
        self[kind] = plan
        return plan
