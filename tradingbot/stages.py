"""Pass-through stages: one ordered stream from the feed to execution.

Each stage forwards every item unchanged and follows it with what it derived from it, so every
layer above sees market data and the decisions made on it in the order they happened (no merge
races, and a replay is byte-for-byte repeatable).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import reactivex
from reactivex import Observable, abc

__all__ = ["Derive", "pass_through"]

Derive = Callable[[Any], Iterable[Any]]


def pass_through(fresh: Callable[[], Derive]) -> Callable[[Observable[Any]], Observable[Any]]:
    """``Observable[Any] -> Observable[Any]``: items unchanged, each followed by what
    ``derive(item)`` yields. ``fresh()`` makes the derive function per subscription, so a cold
    stream replayed twice starts from a clean state both times."""

    def _op(source: Observable[Any]) -> Observable[Any]:
        def subscribe(
            observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            derive = fresh()

            def on_next(item: Any) -> None:
                observer.on_next(item)
                for out in derive(item):
                    observer.on_next(out)

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return reactivex.create(subscribe)

    return _op
