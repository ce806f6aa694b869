"""What shapes a run: :class:`PipelineConfig` and the development defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from tradingbot.execution import FeeSchedule
from tradingbot.execution.engine import DEFAULT_LIMITS
from tradingbot.risk import GuardConfig, RiskLimits
from tradingbot.signals import SignalConfig
from tradingbot.strategy import StrategyConfig

__all__ = ["DEV_SIGNALS", "EXCHANGE_CLOCK_CONFIRM_DELAY", "PipelineConfig"]

DEV_SIGNALS = SignalConfig(ema_fast=3, ema_slow=8, rsi=5, atr=5, volatility_window=10)
"""Short indicator periods: minutes of replay are enough to warm every component up."""


EXCHANGE_CLOCK_CONFIRM_DELAY = timedelta(seconds=2)
"""More than one batch interval of the indexer (the local one flushes every market second)."""


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Everything that shapes a run; the defaults suit the development cassettes."""

    book_depth: int = 10
    resolutions: tuple[str, ...] = ("1MIN",)
    signals: SignalConfig = DEV_SIGNALS
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    limits: RiskLimits = DEFAULT_LIMITS
    guard: GuardConfig = field(default_factory=GuardConfig)
    starting_quote: Decimal = Decimal(10_000)
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    positions: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    """Positions to start with: ``{market: (signed size, entry price)}``."""
    trade: bool = True
    """False: run market data, signals and risk but let the strategy send nothing."""
    stale_after: timedelta = timedelta(seconds=60)
    exchange_clock: bool = False
    """Confirm bars on the latest exchange timestamp seen (trades, oracle prices) instead of
    ``received_at``: for live feeds whose market time is not the wall time (the simulator)."""
    bar_confirm_delay: timedelta | None = None
    """How long after a bar's end the clock waits before confirming it (a trade of a later
    bucket confirms it at once). None: 2 s on the exchange clock, whose oracle prices run ahead
    of the trades the indexer sends in batches (without the wait a bar's last trades arrive
    after it was confirmed and are dropped as late); none on the receive clock, where a bar's
    trades arrive before the clock passes its end."""

    def confirm_delay(self) -> timedelta:
        if self.bar_confirm_delay is not None:
            return self.bar_confirm_delay
        return EXCHANGE_CLOCK_CONFIRM_DELAY if self.exchange_clock else timedelta(0)
