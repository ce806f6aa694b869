"""The interface every broker (paper, live) offers to the execution engine and the strategy."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from tradingbot.feeds.events import Fill
from tradingbot.market.book import BookState
from tradingbot.risk.margin import Account, MarketRiskParams
from tradingbot.strategy.intents import TradeIntent

from .reports import ExecutionReport

__all__ = ["Broker"]


class Broker(Protocol):
    """Market data in (``on_event``), intents in (``submit``), fills and state out.

    Implements the strategy's ``PositionView`` (``position_size``, ``entry_price``,
    ``equity``) so the strategy reads positions without importing execution.
    """

    def on_event(self, item: Any, now: datetime | None) -> list[Fill]: ...

    def submit(
        self, intent: TradeIntent, now: datetime | None
    ) -> tuple[ExecutionReport, list[Fill]]: ...

    def account(self) -> Account: ...

    def params(self, market: str) -> MarketRiskParams | None: ...

    def oracle_price(self, market: str) -> Decimal | None: ...

    def book(self, market: str) -> BookState | None: ...

    def position_size(self, market: str) -> Decimal: ...

    def entry_price(self, market: str) -> Decimal | None: ...

    def equity(self) -> Decimal: ...
