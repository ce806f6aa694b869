"""pytest-streamreplay: record real HTTP and WebSocket traffic once, replay it forever."""

from __future__ import annotations

__version__ = "0.1.0"

from . import streams as _streams
from .streams import *  # noqa: F403

__all__ = ["__version__", *_streams.__all__]
