"""Execution: the paper broker, the live (NodeClient) adapter, and the risk gate in front."""

from .base import Broker
from .engine import (
    DEFAULT_LIMITS,
    ExecutionEngine,
    GateDecision,
    RiskGate,
    execution_layer,
    execution_stage,
)
from .paper import FeeSchedule, PaperBroker, PaperPosition
from .reports import AccountState, ExecutionReport, Liquidity, OrderStatus, PositionState

__all__ = [
    "DEFAULT_LIMITS",
    "AccountState",
    "Broker",
    "ExecutionEngine",
    "ExecutionReport",
    "FeeSchedule",
    "GateDecision",
    "Liquidity",
    "OrderStatus",
    "PaperBroker",
    "PaperPosition",
    "PositionState",
    "RiskGate",
    "execution_layer",
    "execution_stage",
]
