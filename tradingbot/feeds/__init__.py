"""Layer 2: market data in, decoded events out.

``events`` is the vocabulary, ``dydx`` the pure decoders, ``rest``/``stream`` the only code that
touches the network (through dydx-v4-client). Importing this package imports only the events.
"""

from __future__ import annotations

from .events import *  # noqa: F403
from .events import __all__ as _events_all

__all__ = list(_events_all)
