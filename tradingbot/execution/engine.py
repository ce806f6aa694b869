"""Risk in front of the broker: pre-trade checks on every intent, the liquidation guard on
every revaluation, and the reactivex stage that runs both on the pipeline's stream.

Order of work for one stream item (all synchronous, so a replay repeats it exactly):

1. market data goes to the broker (books, oracle, parameters, maker fills);
2. an intent from the strategy passes :class:`~tradingbot.risk.PreTradeChecker` (rejections
   become ``REJECTED`` reports naming every failed check) and is submitted;
3. after fills or an oracle move the account is revalued (an :class:`AccountState`) and the
   :class:`~tradingbot.risk.LiquidationGuard` evaluated; its actions become reduce-only
   ``REDUCE``/``CLOSE`` intents carrying the guard's reason, executed at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from reactivex import Observable

from tradingbot.feeds.events import Fill, MarketUpdate, OraclePrice, Side
from tradingbot.layers import Layer, layer_stage
from tradingbot.risk import (
    Account,
    AccountRisk,
    GuardConfig,
    GuardReport,
    LiquidationGuard,
    OrderIntent,
    PreTradeChecker,
    RiskLimits,
)
from tradingbot.stages import KindOf, frozen_maker
from tradingbot.strategy.intents import IntentKind, TradeIntent

from .base import Broker
from .reports import AccountState, ExecutionReport, PositionState, rejected_report

__all__ = [
    "DEFAULT_LIMITS",
    "ExecutionEngine",
    "GateDecision",
    "RiskGate",
    "execution_layer",
    "execution_stage",
]

ZERO = Decimal(0)
ONE = Decimal(1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

DEFAULT_LIMITS = RiskLimits(
    min_free_collateral=ZERO,
    max_leverage=Decimal(5),
    max_order_notional=Decimal(25_000),
    max_position_notional=Decimal(50_000),
    max_orders_per_window=10,
)
"""Limits the pipeline uses unless told otherwise."""

_ITEMS = KindOf(TradeIntent, OraclePrice, MarketUpdate)
_INTENT, _ORACLE, _UPDATE = range(3)
_make_state = frozen_maker(AccountState)  # AccountState(...), faster: one per revaluation


@dataclass(frozen=True, slots=True)
class GateDecision:
    approved: bool
    reasons: tuple[str, ...]


class RiskGate:
    """Pre-trade checks plus the liquidation guard, against a broker's account."""

    def __init__(
        self,
        limits: RiskLimits | None = None,
        guard: GuardConfig | None = None,
        *,
        guard_slippage: Decimal = Decimal("0.01"),
        id_prefix: str = "g",
    ) -> None:
        self.checker = PreTradeChecker(limits or DEFAULT_LIMITS)
        self.guard = LiquidationGuard(guard)
        self.guard_slippage = guard_slippage
        self.id_prefix = id_prefix
        self._seq = 0

    def check(self, intent: TradeIntent, broker: Broker, now: datetime | None) -> GateDecision:
        params = broker.params(intent.market)
        if params is None:
            return GateDecision(False, (f"no_params: no market parameters for {intent.market}",))
        oracle = broker.oracle_price(intent.market)
        order = OrderIntent(params, intent.signed_size, intent.price, intent.reduce_only, oracle)
        guard = intent.kind in (IntentKind.REDUCE, IntentKind.CLOSE)
        decision = self.checker.check(broker.account(), order, now or _EPOCH, record=not guard)
        # The guard's orders only shrink risk: the order-rate limit must not hold them back.
        reasons = tuple(
            f"{r.check}: {r.message}"
            for r in decision.reasons
            if not (guard and r.check == "order_rate")
        )
        return GateDecision(not reasons, reasons)

    def evaluate(
        self,
        broker: Broker,
        now: datetime | None,
        account: Account | AccountRisk | None = None,
    ) -> tuple[GuardReport, list[TradeIntent]]:
        """The guard's verdict on the broker's account (``account`` if the caller already has
        it, or has it valued), as executable intents."""
        if account is None:
            account = broker.account()
        risk = account if isinstance(account, AccountRisk) else AccountRisk.of(account)
        report = self.guard.evaluate(risk.account, risk)
        out: list[TradeIntent] = []
        for action in report.actions:
            held = broker.position_size(action.market)
            if held == ZERO:
                continue
            size = min(abs(action.size), abs(held)).quantize(
                Decimal("1E-8"), rounding=ROUND_CEILING
            )
            size = min(size, abs(held))
            side = Side.BUY if action.size > ZERO else Side.SELL
            price = self._price(broker, action.market, side)
            if price is None or size <= ZERO:
                continue
            self._seq += 1
            out.append(
                TradeIntent(
                    id=f"{self.id_prefix}{self._seq:06d}",
                    market=action.market,
                    side=side,
                    size=size,
                    price=price,
                    kind=IntentKind.CLOSE if action.kind == "close" else IntentKind.REDUCE,
                    reason=f"liquidation guard: {action.reason}",
                    reduce_only=True,
                    created_at=now,
                )
            )
        return report, out

    def _price(self, broker: Broker, market: str, side: Side) -> Decimal | None:
        book = broker.book(market)
        touch: Decimal | None = None
        if book is not None:
            level = book.best_ask if side is Side.BUY else book.best_bid
            touch = level[0] if level is not None else None
        if touch is None:
            touch = broker.oracle_price(market)
        if touch is None:
            return None
        factor = ONE + self.guard_slippage if side is Side.BUY else ONE - self.guard_slippage
        return touch * factor


class ExecutionEngine:
    """``apply(item, now) -> outputs``: reports, fills, guard intents and account states.

    Keeps the run's counters (orders, rejections, fills, guard actions) and the worst margin
    usage and maintenance ratio seen, for the summary and the dashboard.
    """

    def __init__(self, broker: Broker, gate: RiskGate | None = None) -> None:
        self.broker = broker
        self.gate = gate or RiskGate()
        self.orders = 0
        self.rejected = 0
        self.fills = 0
        self.guard_actions = 0
        self.max_margin_usage = ZERO
        self.max_maintenance_ratio = ZERO
        self.ever_liquidatable = False
        self.last_state: AccountState | None = None
        self.recent_reports: list[ExecutionReport] = []
        self.recent_fills: list[Fill] = []
        self._keep = 20

    def apply(self, item: Any, now: datetime | None) -> list[Any]:
        kind = _ITEMS[type(item)]
        if kind == _INTENT:
            return self._execute(item, now, guard=True)
        fills = self.broker.on_event(item, now)
        moved = kind == _ORACLE or (kind == _UPDATE and item.oracle_price is not None)
        if not fills and not moved:
            return []
        out: list[Any] = list(fills)
        self._count_fills(out)
        out += self._revalue(now, guard=True)
        return out

    def _count_fills(self, fills: list[Any]) -> None:
        for f in fills:
            if isinstance(f, Fill):
                self.fills += 1
                self.recent_fills = [*self.recent_fills[-self._keep + 1 :], f]

    def _execute(self, intent: TradeIntent, now: datetime | None, *, guard: bool) -> list[Any]:
        self.orders += 1
        decision = self.gate.check(intent, self.broker, now)
        out: list[Any] = []
        if not decision.approved:
            self.rejected += 1
            report = rejected_report(intent, now, decision.reasons)
            self._remember(report)
            return [report]
        report, fills = self.broker.submit(intent, now)
        self._remember(report)
        out.append(report)
        out += fills
        self._count_fills(fills)
        if fills:
            out += self._revalue(now, guard=guard)
        return out

    def _remember(self, report: ExecutionReport) -> None:
        self.recent_reports = [*self.recent_reports[-self._keep + 1 :], report]

    def _revalue(self, now: datetime | None, *, guard: bool) -> list[Any]:
        account = AccountRisk.of(self.broker.account())  # summed once for state and guard
        out: list[Any] = [self._state(now, account)]
        if not guard:
            return out
        report, intents = self.gate.evaluate(self.broker, now, account)
        if report.triggered:
            for intent in intents:
                self.guard_actions += 1
                out.append(intent)
                out += self._execute(intent, now, guard=False)
        return out

    def state(self, now: datetime | None) -> AccountState:
        """Revalue the account now and update the worst-case gauges."""
        return self._state(now, AccountRisk.of(self.broker.account()))

    def _state(self, now: datetime | None, risk: AccountRisk) -> AccountState:
        usage = risk.margin_usage
        ratio = risk.maintenance_ratio
        liquidatable = risk.liquidatable
        if usage > self.max_margin_usage:
            self.max_margin_usage = usage
        if ratio > self.max_maintenance_ratio:
            self.max_maintenance_ratio = ratio
        self.ever_liquidatable = self.ever_liquidatable or liquidatable
        positions = tuple(
            PositionState(
                p.market,
                p.size,
                self.broker.entry_price(p.market) or p.oracle_price,
                p.oracle_price,
                (p.oracle_price - (self.broker.entry_price(p.market) or p.oracle_price)) * p.size,
                risk.liquidation_price(p.market),
            )
            for p in risk.account.positions
        )
        state = _make_state(
            at=now,
            quote_balance=risk.account.quote_balance,
            equity=risk.equity,
            free_collateral=risk.free_collateral,
            margin_usage=usage,
            maintenance_ratio=ratio,
            liquidatable=liquidatable,
            positions=positions,
        )
        self.last_state = state
        return state


def execution_layer(engine: ExecutionEngine) -> Layer:
    """The execution layer: ``derive(item, now)`` is what executing (intents) or revaluing
    (market data) on ``item`` produced. Every item goes to the broker (fills come from it)."""
    return Layer(engine.apply)


def execution_stage(
    engine: ExecutionEngine | Callable[[], ExecutionEngine],
) -> Callable[[Observable[Any]], Observable[Any]]:
    """``Observable[Any] -> Observable[Any]``: items unchanged (intents included), each
    followed by what executing or revaluing on it produced."""
    return layer_stage(
        lambda: execution_layer(engine if isinstance(engine, ExecutionEngine) else engine())
    )
