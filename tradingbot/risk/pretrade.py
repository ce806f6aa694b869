"""Pre-trade risk checks: every order passes here before it reaches the venue.

The checks answer "would this fill leave the account where we allow it to be?" using the same
margin maths as the protocol, evaluated on the account *after* a hypothetical fill at the order's
limit price. Orders that only reduce an existing position skip the collateral and leverage checks:
blocking them would trap the account in the risk the checks exist to limit.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from .margin import Account, MarketRiskParams, free_collateral, leverage

__all__ = [
    "OrderIntent",
    "PreTradeChecker",
    "RiskDecision",
    "RiskLimits",
    "RiskReason",
]

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order about to be sent: signed ``size`` (buy > 0) at limit ``price``.

    ``oracle_price`` values the position if the order opens a new one (defaults to ``price``).
    """

    params: MarketRiskParams
    size: Decimal
    price: Decimal
    reduce_only: bool = False
    oracle_price: Decimal | None = None

    @property
    def market(self) -> str:
        return self.params.ticker

    @property
    def notional(self) -> Decimal:
        return abs(self.size * self.price)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Configured limits; ``None`` disables a check."""

    min_free_collateral: Decimal = ZERO
    max_leverage: Decimal | None = None
    max_order_notional: Decimal | None = None
    max_position_notional: Decimal | None = None
    max_orders_per_window: int | None = None
    order_window: timedelta = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class RiskReason:
    """Why a check rejected: ``check`` is a stable name, ``message`` carries the numbers."""

    check: str
    message: str


@dataclass(frozen=True, slots=True)
class RiskDecision:
    approved: bool
    reasons: tuple[RiskReason, ...]
    account_after: Account
    """The account as if the order filled completely at its limit price."""

    @property
    def failed_checks(self) -> tuple[str, ...]:
        return tuple(r.check for r in self.reasons)


class PreTradeChecker:
    """Runs all checks, collecting every failure (not only the first) so a rejection explains
    itself. Keeps the times of approved orders to enforce the order-rate window."""

    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self._sent: deque[datetime] = deque()

    def orders_in_window(self, now: datetime) -> int:
        """Approved orders in (now - window, now]."""
        start = now - self.limits.order_window
        while self._sent and self._sent[0] <= start:
            self._sent.popleft()
        return len(self._sent)

    def check(
        self, account: Account, order: OrderIntent, now: datetime, *, record: bool = True
    ) -> RiskDecision:
        """Decide on ``order``; an approved order counts towards the rate limit if ``record``."""
        lim = self.limits
        reasons: list[RiskReason] = []
        current = account.position(order.market)
        held = current.size if current is not None else ZERO
        oracle = (
            current.oracle_price
            if current is not None
            else (order.oracle_price if order.oracle_price is not None else order.price)
        )
        after = account.with_trade(order.params, order.size, order.price, oracle)
        reduces = held != ZERO and held * order.size < ZERO and abs(order.size) <= abs(held)

        if order.size == ZERO:
            reasons.append(RiskReason("size", "order size is zero"))
        if order.reduce_only and not reduces:
            reasons.append(
                RiskReason(
                    "reduce_only",
                    f"reduce-only {order.size} would not reduce position {held} in {order.market}",
                )
            )
        if lim.max_order_notional is not None and order.notional > lim.max_order_notional:
            reasons.append(
                RiskReason(
                    "max_order_notional",
                    f"order notional {order.notional} > limit {lim.max_order_notional}",
                )
            )
        if not reduces:
            new_pos = after.position(order.market)
            pos_notional = abs(new_pos.notional) if new_pos is not None else ZERO
            if lim.max_position_notional is not None and pos_notional > lim.max_position_notional:
                reasons.append(
                    RiskReason(
                        "max_position_notional",
                        f"position notional after {pos_notional} > limit "
                        f"{lim.max_position_notional}",
                    )
                )
            fc = free_collateral(after)
            if fc < lim.min_free_collateral:
                reasons.append(
                    RiskReason(
                        "free_collateral",
                        f"free collateral after {fc} < required {lim.min_free_collateral}",
                    )
                )
            if lim.max_leverage is not None:
                lev = leverage(after)
                if lev > lim.max_leverage:
                    reasons.append(
                        RiskReason("max_leverage", f"leverage after {lev} > {lim.max_leverage}")
                    )
        if lim.max_orders_per_window is not None:
            n = self.orders_in_window(now)
            if n >= lim.max_orders_per_window:
                reasons.append(
                    RiskReason(
                        "order_rate",
                        f"{n} orders in the last {lim.order_window} (limit "
                        f"{lim.max_orders_per_window})",
                    )
                )
        approved = not reasons
        if approved and record:
            self._sent.append(now)
        return RiskDecision(approved, tuple(reasons), after)
