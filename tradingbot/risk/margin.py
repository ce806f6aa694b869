"""dYdX v4 cross-margin maths on ``Decimal``: requirements, equity, collateral, liquidation.

The protocol decides liquidations with these exact formulas, so the bot computes them the same
way (no floats) to know its distance to liquidation before the protocol does. Prices are oracle
prices; sizes are signed base-asset amounts (long > 0, short < 0); money is USDC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

__all__ = [
    "Account",
    "AccountRisk",
    "MarketRiskParams",
    "PerpPosition",
    "effective_imf",
    "equity",
    "free_collateral",
    "gross_notional",
    "is_liquidatable",
    "leverage",
    "liquidation_price",
    "maintenance_ratio",
    "margin_usage",
    "position_imr",
    "position_mmr",
    "total_imr",
    "total_mmr",
]

ZERO = Decimal(0)
ONE = Decimal(1)
INFINITY = Decimal("Infinity")


@dataclass(frozen=True, slots=True)
class MarketRiskParams:
    """One market's margin parameters, as the indexer reports them.

    ``maintenance_margin_fraction`` is the absolute MMF (the indexer's
    ``maintenanceMarginFraction``), i.e. already IMF x the liquidity tier's maintenance fraction;
    :meth:`from_tier` builds it from the tier's fraction instead. The open-interest caps are USDC
    notionals; ``open_interest`` is in base units. ``open_interest_upper_cap == 0`` turns the
    open-interest scaling off.
    """

    ticker: str
    initial_margin_fraction: Decimal
    maintenance_margin_fraction: Decimal
    open_interest: Decimal = ZERO
    open_interest_lower_cap: Decimal = ZERO
    open_interest_upper_cap: Decimal = ZERO

    def __post_init__(self) -> None:
        if not ZERO <= self.maintenance_margin_fraction <= self.initial_margin_fraction <= ONE:
            raise ValueError(
                f"{self.ticker}: need 0 <= MMF <= IMF <= 1, got "
                f"MMF={self.maintenance_margin_fraction} IMF={self.initial_margin_fraction}"
            )
        if self.open_interest_upper_cap and (
            self.open_interest_upper_cap <= self.open_interest_lower_cap
        ):
            raise ValueError(f"{self.ticker}: open-interest upper cap must exceed the lower cap")

    @classmethod
    def from_tier(
        cls,
        ticker: str,
        initial_margin_fraction: Decimal,
        maintenance_fraction: Decimal,
        **open_interest: Decimal,
    ) -> MarketRiskParams:
        """Build from the liquidity tier: MMF = IMF x maintenance fraction."""
        return cls(
            ticker,
            initial_margin_fraction,
            initial_margin_fraction * maintenance_fraction,
            **open_interest,
        )


@dataclass(frozen=True, slots=True)
class PerpPosition:
    """A signed perpetual position valued at its market's oracle price."""

    params: MarketRiskParams
    size: Decimal
    oracle_price: Decimal

    @property
    def market(self) -> str:
        return self.params.ticker

    @property
    def notional(self) -> Decimal:
        """Signed value S*P (negative for shorts): what the position adds to equity."""
        return self.size * self.oracle_price


def effective_imf(params: MarketRiskParams, oracle_price: Decimal) -> Decimal:
    """Open-interest-scaled IMF: IMF + max(scale, 0) * (1 - IMF), capped at 1.

    scale = (OI*P - lowerCap) / (upperCap - lowerCap); off (base IMF) when upperCap = 0.
    """
    imf = params.initial_margin_fraction
    if params.open_interest_upper_cap == ZERO:
        return imf
    oi_notional = params.open_interest * oracle_price
    scale = (oi_notional - params.open_interest_lower_cap) / (
        params.open_interest_upper_cap - params.open_interest_lower_cap
    )
    return min(imf + max(scale, ZERO) * (ONE - imf), ONE)


def position_imr(position: PerpPosition) -> Decimal:
    """Initial margin requirement |S*P*IMF_eff| (open-interest scaling included)."""
    return abs(position.notional * effective_imf(position.params, position.oracle_price))


def position_mmr(position: PerpPosition) -> Decimal:
    """Maintenance margin requirement |S*P*MMF| (MMF from the base IMF: no OI scaling)."""
    return abs(position.notional * position.params.maintenance_margin_fraction)


@dataclass(frozen=True, slots=True)
class Account:
    """A cross-margin subaccount snapshot: USDC balance ``quote_balance`` (Q, may be negative)
    plus perpetual positions, at most one per market."""

    quote_balance: Decimal
    positions: tuple[PerpPosition, ...] = ()

    def __post_init__(self) -> None:
        markets = [p.market for p in self.positions]
        if len(set(markets)) != len(markets):
            raise ValueError(f"one position per market, got {markets}")

    def position(self, market: str) -> PerpPosition | None:
        for pos in self.positions:
            if pos.market == market:
                return pos
        return None

    def with_prices(self, prices: Mapping[str, Decimal]) -> Account:
        """The same account revalued at new oracle prices (markets not named keep theirs)."""
        return replace(
            self,
            positions=tuple(
                replace(p, oracle_price=prices.get(p.market, p.oracle_price))
                for p in self.positions
            ),
        )

    def with_trade(
        self, params: MarketRiskParams, size: Decimal, price: Decimal, oracle_price: Decimal
    ) -> Account:
        """The account after a fill of signed ``size`` at ``price``: Q -= size*price.

        ``oracle_price`` values a newly opened position; an existing one keeps its own.
        A position traded to zero is removed (it no longer carries margin).
        """
        quote = self.quote_balance - size * price
        out: list[PerpPosition] = []
        found = False
        for pos in self.positions:
            if pos.market == params.ticker:
                found = True
                new_size = pos.size + size
                if new_size != ZERO:
                    out.append(replace(pos, size=new_size))
            else:
                out.append(pos)
        if not found and size != ZERO:
            out.append(PerpPosition(params, size, oracle_price))
        return Account(quote, tuple(out))


def equity(account: Account) -> Decimal:
    """Total account value (net collateral) Q + sum(S_i * P_i)."""
    return account.quote_balance + sum((p.notional for p in account.positions), ZERO)


def total_imr(account: Account) -> Decimal:
    return sum((position_imr(p) for p in account.positions), ZERO)


def total_mmr(account: Account) -> Decimal:
    return sum((position_mmr(p) for p in account.positions), ZERO)


def free_collateral(account: Account) -> Decimal:
    """Equity - sum(IMR): what new positions may still use (negative blocks risk increases)."""
    return equity(account) - total_imr(account)


def gross_notional(positions: Iterable[PerpPosition]) -> Decimal:
    return sum((abs(p.notional) for p in positions), ZERO)


def _per_equity(requirement: Decimal, eq: Decimal) -> Decimal:
    """requirement / equity: 0 without a requirement, Infinity if equity <= 0 with one."""
    if requirement == ZERO:
        return ZERO
    return INFINITY if eq <= ZERO else requirement / eq


def margin_usage(account: Account) -> Decimal:
    """sum(IMR) / equity: 0 flat, 1 when free collateral is exhausted; Infinity if equity <= 0
    with margin in use (the account cannot back any of it)."""
    return _per_equity(total_imr(account), equity(account))


def leverage(account: Account) -> Decimal:
    """Gross leverage sum(|S*P|) / equity (Infinity with exposure and equity <= 0)."""
    return _per_equity(gross_notional(account.positions), equity(account))


def maintenance_ratio(account: Account) -> Decimal:
    """sum(MMR) / equity: the liquidation guard's gauge. The protocol liquidates once this
    exceeds 1 (equity < MMR); Infinity when equity <= 0 with MMR > 0."""
    return _per_equity(total_mmr(account), equity(account))


def is_liquidatable(account: Account) -> bool:
    """The protocol's condition: MMR > 0 and equity < total MMR (equality is still safe)."""
    return _liquidatable(equity(account), total_mmr(account))


def _liquidatable(eq: Decimal, mmr: Decimal) -> bool:
    return mmr > ZERO and eq < mmr


def liquidation_price(account: Account, market: str, *, isolated: bool = False) -> Decimal | None:
    """Oracle price of ``market`` at which equity == total MMR, all other prices fixed.

    p' = (e - s*p - MMR_other) / (|s|*MMF - s), e the equity at the current oracle price p,
    s the signed size, MMR_other the other positions' MMR (0 when ``isolated``: the position's
    own subaccount holds nothing else, so pass that subaccount). Derivation: equity at x is
    e + s*(x - p) and MMR at x is |s|*x*MMF + MMR_other; equate and solve for x.

    Returns None when no positive price liquidates the account (flat, or a long whose p' <= 0).
    A short whose p' <= 0 is liquidatable at every price: returns 0.
    """
    pos = account.position(market)
    if pos is None or pos.size == ZERO:
        return None
    return _liquidation_price(pos, equity(account), None if isolated else total_mmr(account))


def _liquidation_price(pos: PerpPosition, eq: Decimal, mmr: Decimal | None) -> Decimal | None:
    """:func:`liquidation_price` of an open position given the account's equity and total MMR
    (None: isolated)."""
    s, p = pos.size, pos.oracle_price
    mmf = pos.params.maintenance_margin_fraction
    mmr_other = ZERO if mmr is None else mmr - position_mmr(pos)
    denominator = abs(s) * mmf - s
    if denominator == ZERO:  # a long with MMF == 1: equity and MMR move together
        return None
    price = (eq - s * p - mmr_other) / denominator
    if price > ZERO:
        return price
    return None if s > ZERO else ZERO


@dataclass(frozen=True, slots=True)
class AccountRisk:
    """One account's equity and margin requirements, each summed once: a revaluation asks
    for several gauges of the same account, and each function above recomputes the sums
    (equity about six times per revaluation). Same formulas, same results."""

    account: Account
    equity: Decimal
    total_imr: Decimal
    total_mmr: Decimal

    @classmethod
    def of(cls, account: Account) -> AccountRisk:
        return cls(account, equity(account), total_imr(account), total_mmr(account))

    @property
    def free_collateral(self) -> Decimal:
        """:func:`free_collateral`."""
        return self.equity - self.total_imr

    @property
    def margin_usage(self) -> Decimal:
        """:func:`margin_usage`."""
        return _per_equity(self.total_imr, self.equity)

    @property
    def maintenance_ratio(self) -> Decimal:
        """:func:`maintenance_ratio`."""
        return _per_equity(self.total_mmr, self.equity)

    @property
    def liquidatable(self) -> bool:
        """:func:`is_liquidatable`."""
        return _liquidatable(self.equity, self.total_mmr)

    def liquidation_price(self, market: str) -> Decimal | None:
        """:func:`liquidation_price` (cross margin)."""
        pos = self.account.position(market)
        if pos is None or pos.size == ZERO:
            return None
        return _liquidation_price(pos, self.equity, self.total_mmr)
