"""Liquidation guard: shrink positions before the protocol liquidates them.

The gauge is the maintenance ratio sum(MMR) / equity; the protocol liquidates once it exceeds 1
(and charges up to 1.5% of the position as a penalty). The guard acts at configurable thresholds
below 1, so on any price path that moves the ratio in small steps it acts strictly first:

* ratio >= ``reduce_ratio``: reduce the positions with the largest MMR first until the ratio,
  recomputed at current oracle prices, is back at ``target_ratio``;
* ratio >= ``close_ratio`` (or equity <= 0): close every position.

Trading at the oracle price leaves equity unchanged (Q gains what S*P loses), so cutting a
position by d lowers MMR by d*P*MMF and nothing else: that is how the sizes are computed. Real
fills slip; the guard re-evaluates on every update, so a short-fall triggers another round.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from .margin import Account, AccountRisk, position_mmr

__all__ = ["GuardAction", "GuardConfig", "GuardReport", "LiquidationGuard"]

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class GuardConfig:
    """Thresholds on the maintenance ratio; need 0 < target < reduce <= close <= 1."""

    reduce_ratio: Decimal = Decimal("0.8")
    close_ratio: Decimal = Decimal("0.95")
    target_ratio: Decimal = Decimal("0.6")

    def __post_init__(self) -> None:
        if not ZERO < self.target_ratio < self.reduce_ratio <= self.close_ratio <= ONE:
            raise ValueError("need 0 < target_ratio < reduce_ratio <= close_ratio <= 1")
        if self.reduce_ratio >= ONE:
            raise ValueError("reduce_ratio must be below 1 to act before liquidation")


@dataclass(frozen=True, slots=True)
class GuardAction:
    """One order the guard asks for: ``size`` is signed (opposite to ``position_size``) and
    reduce-only by construction."""

    market: str
    kind: Literal["reduce", "close"]
    size: Decimal
    position_size: Decimal
    reason: str


@dataclass(frozen=True, slots=True)
class GuardReport:
    ratio: Decimal
    actions: tuple[GuardAction, ...]

    @property
    def triggered(self) -> bool:
        return bool(self.actions)


class LiquidationGuard:
    """Stateless evaluator: feed it every account revaluation (oracle price or fill)."""

    def __init__(self, config: GuardConfig | None = None) -> None:
        self.config = config or GuardConfig()

    def evaluate(self, account: Account, risk: AccountRisk | None = None) -> GuardReport:
        """``risk``: the account's :class:`AccountRisk` if the caller has it already."""
        cfg = self.config
        if risk is None or risk.account is not account:
            risk = AccountRisk.of(account)
        ratio = risk.maintenance_ratio
        if ratio < cfg.reduce_ratio:
            return GuardReport(ratio, ())
        open_positions = [p for p in account.positions if p.size != ZERO]
        if ratio >= cfg.close_ratio:
            why = (
                f"maintenance ratio {ratio} >= close threshold {cfg.close_ratio}"
                if ratio.is_finite()
                else "equity <= 0 with maintenance margin in use"
            )
            return GuardReport(
                ratio,
                tuple(
                    GuardAction(p.market, "close", -p.size, p.size, f"{why}: close {p.market}")
                    for p in open_positions
                ),
            )
        needed = risk.total_mmr - cfg.target_ratio * risk.equity  # MMR to shed
        actions: list[GuardAction] = []
        for pos in sorted(open_positions, key=position_mmr, reverse=True):
            if needed <= ZERO:
                break
            mmr = position_mmr(pos)
            if mmr == ZERO:
                continue
            base = (
                f"maintenance ratio {ratio} >= reduce threshold {cfg.reduce_ratio}; "
                f"target {cfg.target_ratio}"
            )
            if mmr <= needed:
                actions.append(
                    GuardAction(
                        pos.market,
                        "close",
                        -pos.size,
                        pos.size,
                        f"{base}: close {pos.market} (sheds MMR {mmr})",
                    )
                )
                needed -= mmr
            else:
                cut = abs(pos.size) * needed / mmr
                signed = -cut if pos.size > ZERO else cut
                actions.append(
                    GuardAction(
                        pos.market,
                        "reduce",
                        signed,
                        pos.size,
                        f"{base}: reduce {pos.market} by {cut} (sheds MMR {needed} of {mmr})",
                    )
                )
                needed = ZERO
        return GuardReport(ratio, tuple(actions))
