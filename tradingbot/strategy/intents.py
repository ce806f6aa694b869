"""What the strategy asks for: order intents with a reason, before risk and execution see them.

An intent is not an order: risk may reject it and execution may fill part of it. It carries a
deterministic ``id`` (a per-strategy sequence) and plain ``Decimal`` numbers so two replays of
the same input hash to the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tradingbot.feeds.events import Side

__all__ = ["IntentKind", "TimeInForce", "TradeIntent"]


class IntentKind(StrEnum):
    """Why the intent exists: opening, closing on a rule, or a liquidation-guard action."""

    ENTRY = "entry"
    EXIT = "exit"
    REDUCE = "reduce"  # liquidation guard: shrink a position
    CLOSE = "close"  # liquidation guard: flatten a position


class TimeInForce(StrEnum):
    IOC = "IOC"  # take what the book offers up to the limit, cancel the rest
    GTC = "GTC"  # the rest rests at the limit price and fills as maker


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeIntent:
    """A request to trade ``size`` (> 0) of ``market`` on ``side`` at limit ``price``."""

    id: str
    market: str
    side: Side
    size: Decimal
    price: Decimal
    kind: IntentKind
    reason: str
    reduce_only: bool = False
    time_in_force: TimeInForce = TimeInForce.IOC
    created_at: datetime | None = None
    score: float | None = None

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise ValueError(f"intent {self.id}: size must be positive, got {self.size}")
        if self.price <= 0:
            raise ValueError(f"intent {self.id}: price must be positive, got {self.price}")

    @property
    def signed_size(self) -> Decimal:
        """Buy > 0, sell < 0: the convention of the risk maths."""
        return self.size if self.side is Side.BUY else -self.size

    @property
    def notional(self) -> Decimal:
        return self.size * self.price
