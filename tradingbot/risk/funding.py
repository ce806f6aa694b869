"""dYdX v4 funding: 8-hour rates paid hourly, positive rate means longs pay shorts.

Funding moves the USDC balance Q of every account with a position, so the margin maths must
include it to keep equity (and the liquidation distance) right between snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from .margin import Account

__all__ = [
    "FundingPayment",
    "accrue_funding",
    "funding_payment",
    "hourly_rate",
]

_EIGHT = Decimal(8)


def hourly_rate(rate_8h: Decimal) -> Decimal:
    """The 1-hour rate paid each hour from a quoted 8-hour rate (rate / 8).

    The REST historical-funding ``rate`` is already hourly: do not divide it again.
    """
    return rate_8h / _EIGHT


def funding_payment(size: Decimal, oracle_price: Decimal, rate_1h: Decimal) -> Decimal:
    """What the position pays this hour: size * oracle price * 1-hour rate.

    Positive means the account pays (a long at a positive rate); negative means it receives.
    """
    return size * oracle_price * rate_1h


@dataclass(frozen=True, slots=True)
class FundingPayment:
    market: str
    size: Decimal
    oracle_price: Decimal
    rate_1h: Decimal
    amount: Decimal
    """Paid by the account (positive) or received (negative)."""


def accrue_funding(
    account: Account, rates_1h: Mapping[str, Decimal]
) -> tuple[Account, tuple[FundingPayment, ...]]:
    """Settle one hourly funding tick at each position's oracle price.

    Markets without a rate in ``rates_1h`` are skipped. Returns the account with
    Q reduced by the total paid, and the per-position payments.
    """
    payments = tuple(
        FundingPayment(
            pos.market,
            pos.size,
            pos.oracle_price,
            rates_1h[pos.market],
            funding_payment(pos.size, pos.oracle_price, rates_1h[pos.market]),
        )
        for pos in account.positions
        if pos.market in rates_1h
    )
    paid = sum((p.amount for p in payments), Decimal(0))
    return replace(account, quote_balance=account.quote_balance - paid), payments
