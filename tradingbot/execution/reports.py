"""What execution reports back: per-intent outcomes and account states.

Fills themselves use the feed vocabulary's :class:`~tradingbot.feeds.events.Fill`, so paper
and live fills look the same to everything downstream (the dashboard, the summary, tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tradingbot.feeds.events import Side
from tradingbot.strategy.intents import IntentKind, TradeIntent

__all__ = [
    "AccountState",
    "ExecutionReport",
    "Liquidity",
    "OrderStatus",
    "PositionState",
    "rejected_report",
]


class Liquidity(StrEnum):
    TAKER = "TAKER"
    MAKER = "MAKER"


class OrderStatus(StrEnum):
    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"  # IOC: the rest was cancelled
    RESTING = "resting"  # GTC: the rest waits at the limit price
    CANCELED = "canceled"  # IOC with nothing fillable within the limit
    REJECTED = "rejected"  # risk (or the broker) refused it
    SENT = "sent"  # live: handed to the chain (fills arrive later)
    DRY_RUN = "dry_run"  # live adapter without credentials: built, not sent


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionReport:
    """The outcome of one intent. ``reasons`` explain a rejection (risk check names and
    numbers); ``note`` carries the intent's own reason."""

    intent_id: str
    market: str
    side: Side
    kind: IntentKind
    status: OrderStatus
    requested: Decimal
    filled: Decimal
    average_price: Decimal | None
    fee: Decimal
    at: datetime | None
    reasons: tuple[str, ...] = ()
    note: str = ""


def rejected_report(
    intent: TradeIntent, at: datetime | None, reasons: tuple[str, ...]
) -> ExecutionReport:
    """An intent that never reached the book (the risk gate or the chain refused it): nothing
    filled, no fee."""
    return ExecutionReport(
        intent_id=intent.id,
        market=intent.market,
        side=intent.side,
        kind=intent.kind,
        status=OrderStatus.REJECTED,
        requested=intent.size,
        filled=Decimal(0),
        average_price=None,
        fee=Decimal(0),
        at=at,
        reasons=reasons,
        note=intent.reason,
    )


@dataclass(frozen=True, slots=True)
class PositionState:
    market: str
    size: Decimal
    entry_price: Decimal
    oracle_price: Decimal
    unrealized_pnl: Decimal
    liquidation_price: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountState:
    """The account revalued (after an oracle price, a fill or a funding payment)."""

    at: datetime | None
    quote_balance: Decimal
    equity: Decimal
    free_collateral: Decimal
    margin_usage: Decimal
    maintenance_ratio: Decimal
    liquidatable: bool
    positions: tuple[PositionState, ...]
