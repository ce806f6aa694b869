"""L7 risk: dYdX v4 margin maths, funding, pre-trade checks and the liquidation guard.

Pure ``Decimal`` logic with no dependency on signals or strategy, so any layer may import the
maths; only ``adapters`` reads feed events (to build params and accounts).
"""

from .adapters import account_from_snapshot, params_from_market_update
from .funding import FundingPayment, accrue_funding, funding_payment, hourly_rate
from .guard import GuardAction, GuardConfig, GuardReport, LiquidationGuard
from .margin import (
    Account,
    AccountRisk,
    MarketRiskParams,
    PerpPosition,
    effective_imf,
    equity,
    free_collateral,
    gross_notional,
    is_liquidatable,
    leverage,
    liquidation_price,
    maintenance_ratio,
    margin_usage,
    position_imr,
    position_mmr,
    total_imr,
    total_mmr,
)
from .pretrade import OrderIntent, PreTradeChecker, RiskDecision, RiskLimits, RiskReason

__all__ = [
    "Account",
    "AccountRisk",
    "FundingPayment",
    "GuardAction",
    "GuardConfig",
    "GuardReport",
    "LiquidationGuard",
    "MarketRiskParams",
    "OrderIntent",
    "PerpPosition",
    "PreTradeChecker",
    "RiskDecision",
    "RiskLimits",
    "RiskReason",
    "account_from_snapshot",
    "accrue_funding",
    "effective_imf",
    "equity",
    "free_collateral",
    "funding_payment",
    "gross_notional",
    "hourly_rate",
    "is_liquidatable",
    "leverage",
    "liquidation_price",
    "maintenance_ratio",
    "margin_usage",
    "params_from_market_update",
    "position_imr",
    "position_mmr",
    "total_imr",
    "total_mmr",
]
