"""The bot's bars over the network: a thread-safe hub the pipeline publishes into, a small
FastAPI app (REST history, a WebSocket of live bars, a plotly candlestick page) and a uvicorn
server on its own thread. See docs/tradingbot.md, "Bars over the network"."""

from __future__ import annotations

from .app import create_app
from .hub import BAR_CONFIRMED, BAR_FORMING, BarHub, BarSubscription, bar_message, bar_parity
from .server import BarServer
from .tap import bar_tap

__all__ = [
    "BAR_CONFIRMED",
    "BAR_FORMING",
    "BarHub",
    "BarServer",
    "BarSubscription",
    "bar_message",
    "bar_parity",
    "bar_tap",
    "create_app",
]
