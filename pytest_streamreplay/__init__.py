"""pytest-streamreplay: record real HTTP and WebSocket traffic once, replay it forever.

The stream tools (reactivex, syrupy) load on first use of one of their names, so the CLI and
code that only needs cassettes start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .streams import *  # noqa: F403


def _streams() -> Any:
    return importlib.import_module(f"{__name__}.streams")


def __getattr__(name: str) -> Any:
    if name == "__all__":
        return ["__version__", *_streams().__all__]
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    streams = _streams()
    if name in streams.__all__:
        return getattr(streams, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_streams().__all__})
