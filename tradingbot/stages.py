"""Pass-through stages: one ordered stream from the feed to execution.

Each stage forwards every item unchanged and follows it with what it derived from it, so every
layer above sees market data and the decisions made on it in the order they happened (no merge
races, and a replay is byte-for-byte repeatable).

A chain of stages runs as plain nested calls (:func:`chain`) inside one reactivex operator:
the same order as one operator per stage, without an observer layer per stage and item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import MISSING, fields, is_dataclass
from types import MemberDescriptorType
from typing import Any, ParamSpec, TypeVar

import reactivex
from reactivex import Observable, abc

__all__ = [
    "Derive",
    "KindOf",
    "Push",
    "chain",
    "frozen_maker",
    "frozen_makers",
    "pass_through",
    "pass_through_chain",
]

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


T = TypeVar("T")
P = ParamSpec("P")


def frozen_maker(cls: Callable[P, T]) -> Callable[P, T]:
    """A constructor taking ``cls``'s arguments that returns the object ``cls(...)`` would, for
    a frozen slotted dataclass whose ``__init__`` only assigns its fields (no
    ``__post_init__``, ``InitVar`` or ``init=False``); else ``cls``.

    Why: a frozen dataclass assigns each field through ``object.__setattr__`` by name; the
    hot paths build several per event (events, book states, bars, scores), and setting the
    slots through their descriptors takes about 40% less time. Same values, so equal objects;
    the generated code lists every field, so a field added later is covered."""
    klass: Any = cls  # typed as the callable it is; inspected as the class it must be
    qualname = f"{klass.__qualname__}.__init__"  # argument errors read the same
    params = getattr(klass, "__dataclass_params__", None)
    if not is_dataclass(klass) or params is None or not params.frozen:
        return cls
    if "__slots__" not in klass.__dict__ or hasattr(klass, "__post_init__"):
        return cls
    own = fields(klass)
    if len(klass.__dataclass_fields__) != len(own) or any(
        not f.init or f.name.startswith("_") or f.name == "o" for f in own
    ):
        return cls  # an InitVar, work beyond assignment, or a name that could clash below
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_factory": _FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body = ""
    for f in own:
        slot = getattr(klass, f.name, None)
        if not isinstance(slot, MemberDescriptorType):
            return cls
        scope[f"_set_{f.name}"] = slot.__set__
        arg = f.name
        if f.default is not MISSING:
            scope[f"_default_{f.name}"] = f.default
            arg += f"=_default_{f.name}"
        elif f.default_factory is not MISSING:  # as dataclasses do: a sentinel default
            scope[f"_make_{f.name}"] = f.default_factory
            arg += "=_factory"
            body += f"    if {f.name} is _factory:\n        {f.name} = _make_{f.name}()\n"
        (keyword if f.kw_only else positional).append(arg)
        body += f"    _set_{f.name}(o, {f.name})\n"
    signature = ", ".join(positional + (["*", *keyword] if keyword else []))
    code = f"def make({signature}):\n    o = _new(_cls)\n{body}    return o\n"
    exec(code, scope)  # like dataclasses' own generated __init__
    make: Callable[P, T] = scope["make"]
    make.__qualname__ = qualname
    return make


_FACTORY = object()
"""Default of a field with a ``default_factory`` in :func:`frozen_maker`'s constructors."""


class FrozenMakers(dict[type, Callable[..., Any]]):
    """``makers[cls]``: :func:`frozen_maker` of ``cls``, made once per class."""

    def __missing__(self, cls: type) -> Callable[..., Any]:
        make = self[cls] = frozen_maker(cls)
        return make


frozen_makers = FrozenMakers()
"""The shared cache of :func:`frozen_maker` constructors."""


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
