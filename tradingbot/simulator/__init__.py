"""The local dYdX indexer: the real REST + websocket protocol over a seeded market model.

Run it with ``tradingbot simulate --port N --seed S``, in-process with :class:`LocalIndexer`
(asyncio) or :class:`SimulatorThread` (its own thread: for synchronous code and tests).
"""

from __future__ import annotations

from .model import EPOCH, Emission, MarketModel, MarketSpec
from .server import GARBAGE_TEXT, LocalIndexer, SimulatorConfig, SimulatorThread
from .sources import CHANNEL_VERSIONS, ModelSource, ReplaySource, SubscribeError

__all__ = [
    "CHANNEL_VERSIONS",
    "EPOCH",
    "GARBAGE_TEXT",
    "Emission",
    "LocalIndexer",
    "MarketModel",
    "MarketSpec",
    "ModelSource",
    "ReplaySource",
    "SimulatorConfig",
    "SimulatorThread",
    "SubscribeError",
]
