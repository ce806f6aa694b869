"""Pass-through stages: one ordered stream from the feed to execution.

Each stage forwards every item unchanged and follows it with what it derived from it, so every
layer above sees market data and the decisions made on it in the order they happened (no merge
races, and a replay is byte-for-byte repeatable).

A chain of stages runs as plain nested calls (:func:`chain`) inside one reactivex operator:
the same order as one operator per stage, without an observer layer per stage and item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import reactivex
from reactivex import Observable, abc

__all__ = ["Derive", "KindOf", "Push", "chain", "pass_through", "pass_through_chain"]

Derive = Callable[[Any], Iterable[Any]]
Push = Callable[[Any], None]


class KindOf(dict[type, int]):
    """``kinds[type(item)]``: the index of the first of ``classes`` that ``item`` is an
    instance of, -1 for none. Decided with ``issubclass`` once per type, then one dict lookup:
    the hot paths dispatch on every item of the stream, where a chain of ``isinstance``
    checks costs more than the work it selects."""

    def __init__(self, *classes: type) -> None:
        super().__init__()
        self.classes = classes

    def __missing__(self, cls: type) -> int:
        kind = next((i for i, c in enumerate(self.classes) if issubclass(cls, c)), -1)
        self[cls] = kind
        return kind


def chain(derives: Sequence[Derive], sink: Push) -> Push:
    """``push(item)`` equivalent to the pass-through stages ``derives`` (first = most
    upstream) followed by ``sink``: each stage hands the item on, then what it derived."""
    push = sink
    for derive in reversed(derives):
        push = _link(derive, push)
    return push


def _link(derive: Derive, downstream: Push) -> Push:
    def push(item: Any) -> None:
        downstream(item)
        for out in derive(item):
            downstream(out)

    return push


def pass_through_chain(
    *fresh: Callable[[], Derive],
) -> Callable[[Observable[Any]], Observable[Any]]:
    """``Observable[Any] -> Observable[Any]``: the stages made by ``fresh`` in order, as one
    operator (same items in the same order as piping :func:`pass_through` of each)."""

    def _op(source: Observable[Any]) -> Observable[Any]:
        def subscribe(
            observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            push = chain([make() for make in fresh], observer.on_next)
            return source.subscribe(
                push, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return reactivex.create(subscribe)

    return _op


def pass_through(fresh: Callable[[], Derive]) -> Callable[[Observable[Any]], Observable[Any]]:
    """``Observable[Any] -> Observable[Any]``: items unchanged, each followed by what
    ``derive(item)`` yields. ``fresh()`` makes the derive function per subscription, so a cold
    stream replayed twice starts from a clean state both times."""
    return pass_through_chain(fresh)
