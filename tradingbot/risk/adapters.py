"""Build the risk inputs from decoded feed events (the only place risk touches ``feeds``).

The maths stays independent of the wire format; these helpers translate the indexer's market
and subaccount records into :class:`MarketRiskParams` and :class:`Account`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from tradingbot.feeds.events import MarketUpdate, SubaccountSnapshot

from .margin import Account, MarketRiskParams, PerpPosition

__all__ = ["account_from_snapshot", "params_from_market_update"]

ZERO = Decimal(0)


def params_from_market_update(
    update: MarketUpdate, previous: MarketRiskParams | None = None
) -> MarketRiskParams:
    """Merge a (possibly partial) market update onto ``previous``.

    ``open_interest`` is the indexer's base-unit open interest; missing fields keep their
    previous value. Raises ValueError if the margin fractions are still unknown.
    """

    def pick(new: Decimal | None, old: Decimal | None) -> Decimal | None:
        return new if new is not None else old

    prev = previous
    imf = pick(update.initial_margin_fraction, prev.initial_margin_fraction if prev else None)
    mmf = pick(
        update.maintenance_margin_fraction, prev.maintenance_margin_fraction if prev else None
    )
    if imf is None or mmf is None:
        raise ValueError(f"{update.market}: margin fractions unknown (need a market snapshot)")
    return MarketRiskParams(
        update.market,
        imf,
        mmf,
        open_interest=pick(update.open_interest, prev.open_interest if prev else None) or ZERO,
        open_interest_lower_cap=pick(
            update.open_interest_lower_cap, prev.open_interest_lower_cap if prev else None
        )
        or ZERO,
        open_interest_upper_cap=pick(
            update.open_interest_upper_cap, prev.open_interest_upper_cap if prev else None
        )
        or ZERO,
    )


def account_from_snapshot(
    snapshot: SubaccountSnapshot,
    params: Mapping[str, MarketRiskParams],
    oracle_prices: Mapping[str, Decimal],
    quote_symbol: str = "USDC",
) -> Account:
    """Q from the signed USDC asset position; one position per open perpetual.

    Raises KeyError when a position's market has no params or no oracle price: margin must
    never be computed with a guessed price.
    """
    quote = sum(
        (a.size for a in snapshot.asset_positions if a.symbol == quote_symbol),
        ZERO,
    )
    positions = tuple(
        PerpPosition(params[p.market], p.size, oracle_prices[p.market])
        for p in snapshot.positions
        if p.size != ZERO and (p.status is None or p.status == "OPEN")
    )
    return Account(quote, positions)
