"""How the pipeline's bars reach the hub.

``Pipeline``/``replay``/``run_live`` take ``taps`` (callables that see every item of the run in
stream order): the commands pass ``hub.observe``. :func:`bar_tap` does the same as an operator
for chains built by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reactivex import Observable
from reactivex import operators as ops

from .hub import BarHub

__all__ = ["bar_tap"]


def bar_tap(hub: BarHub) -> Callable[[Observable[Any]], Observable[Any]]:
    """Items unchanged; bars are published to ``hub`` as they pass."""
    return ops.do_action(hub.observe)
