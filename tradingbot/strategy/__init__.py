"""L6 strategy: signal scores and book state in, order intents (with reasons) out."""

from .core import FixedEquityView, PositionView, ScoreStrategy, StrategyConfig
from .intents import IntentKind, TimeInForce, TradeIntent
from .operators import event_time, intents, strategy_layer, strategy_stage

__all__ = [
    "FixedEquityView",
    "IntentKind",
    "PositionView",
    "ScoreStrategy",
    "StrategyConfig",
    "TimeInForce",
    "TradeIntent",
    "event_time",
    "intents",
    "strategy_layer",
    "strategy_stage",
]
