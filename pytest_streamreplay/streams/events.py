"""Record what an in-process event bus publishes, and replay it later onto a bus.

Events go into an ordinary cassette as ``kind: event`` records (``session``, ``t`` ms from the
session start, ``name``, ``type``, ``data``), so one file format serves HTTP, WebSocket and bus
traffic. Dataclasses and pydantic models are stored with ``type: "module:QualName"`` and come
back as instances when that module imports (fields typed Decimal, datetime, Enum or dataclass
are rebuilt); otherwise they come back as dicts.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import os
import threading
import time
import types
import typing
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import reactivex
import reactivex.operators as ops
from reactivex import abc
from reactivex.disposable import Disposable

from ..cassette import CassetteWriter, Event, iter_records, new_header
from .cassette_stream import Speed, cassette_stream
from .parity import normalize

__all__ = [
    "EventRecorder",
    "EventReplayer",
    "Replay",
    "TimelineEntry",
    "decode_event",
    "encode_event",
]

Bus = Any  # a reactivex Subject/Observer (has on_next) or a publish callable


def _type_name(obj: Any) -> str | None:
    cls = type(obj)
    is_model = dataclasses.is_dataclass(obj) or callable(getattr(obj, "model_dump", None))
    if not is_model or "<locals>" in cls.__qualname__:
        return None
    return f"{cls.__module__}:{cls.__qualname__}"


def _default_name(obj: Any) -> str:
    if isinstance(obj, dict):
        for key in ("event", "type", "name"):
            if isinstance(obj.get(key), str):
                return str(obj[key])
        return "dict"
    return type(obj).__name__


def encode_event(obj: Any) -> tuple[str | None, Any]:
    """(``type`` or None, JSON data) for one published object."""
    return _type_name(obj), normalize(obj, exact_decimals=True)


def _resolve(type_name: str) -> type | None:
    module_name, _, qualname = type_name.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError):
        return None
    return target if isinstance(target, type) else None


def _coerce(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value)
            except (TypeError, ValueError, ArithmeticError):
                continue
        return value
    if origin in (list, tuple) and isinstance(value, list):
        args = typing.get_args(hint)
        item = args[0] if args else Any
        coerced = [_coerce(item, v) for v in value]
        return tuple(coerced) if origin is tuple else coerced
    if not isinstance(hint, type):
        return value
    if hint is Decimal:
        return Decimal(str(value))
    if hint is datetime and isinstance(value, str):
        return datetime.fromisoformat(value)
    if hint is date and isinstance(value, str):
        return date.fromisoformat(value)
    if issubclass(hint, enum.Enum):
        return hint(value)
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return _build_dataclass(hint, value)
    return value


def _build_dataclass(cls: type, data: dict[str, Any]) -> Any:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        hints = {}
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _coerce(hints.get(f.name, Any), data[f.name])
    return cls(**kwargs)


def decode_event(record: Event) -> Any:
    """The published object again: an instance of ``record.type`` if importable, else data."""
    if record.type is None or not isinstance(record.data, dict):
        return record.data
    cls = _resolve(record.type)
    if cls is None:
        return record.data
    if dataclasses.is_dataclass(cls):
        return _build_dataclass(cls, record.data)
    validate = getattr(cls, "model_validate", None)
    if callable(validate):
        return validate(record.data)
    return record.data


class EventRecorder:
    """Write every published object to a cassette with its millisecond offset.

    Use as a context manager. ``bus`` may be a Subject/Observable (subscribed on enter) or omitted;
    ``wrap(publish)`` returns a publish function that records, then forwards. Offsets come from
    ``scheduler.now`` when given (virtual time), else a monotonic clock.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        bus: reactivex.Observable[Any] | None = None,
        *,
        session: str = "main",
        scheduler: abc.SchedulerBase | None = None,
        name_of: Callable[[Any], str] = _default_name,
        note: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.bus = bus
        self.session = session
        self.scheduler = scheduler
        self.name_of = name_of
        self.note = note
        self.count = 0
        self._writer: CassetteWriter | None = None
        self._subscription: abc.DisposableBase = Disposable()
        self._lock = threading.Lock()
        self._origin: Any = None

    def _now(self) -> Any:
        return self.scheduler.now if self.scheduler is not None else time.monotonic()

    def _offset_ms(self) -> float:
        now = self._now()
        delta = now - self._origin
        if self.scheduler is not None:
            return float(delta.total_seconds() * 1000.0)
        return float(delta * 1000.0)

    def start_session(self, name: str) -> None:
        """Begin a new session in the same file: later offsets count from now."""
        self.session = name
        self._origin = self._now()

    def record(self, obj: Any) -> None:
        """Record one published object (called for you by the bus or the wrapper)."""
        with self._lock:
            if self._writer is None:
                raise RuntimeError("EventRecorder is not open: use it as a context manager")
            type_name, data = encode_event(obj)
            event = Event(
                self.session, round(self._offset_ms(), 3), self.name_of(obj), data, type_name
            )
            self._writer.write(event)
            self.count += 1

    def wrap(self, publish: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """A publish function that records each object, then calls ``publish`` with it."""

        def recording_publish(obj: Any) -> Any:
            self.record(obj)
            return publish(obj)

        return recording_publish

    def __enter__(self) -> EventRecorder:
        header = new_header(note=self.note, source="EventRecorder")
        self._writer = CassetteWriter(self.path, header)
        self._origin = self._now()
        if self.bus is not None:
            self._subscription = self.bus.subscribe(self.record)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._subscription.dispose()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.__exit__(exc_type, exc, tb)


@dataclass(frozen=True)
class TimelineEntry:
    t: float
    session: str
    name: str


class Replay:
    """A running replay: ``wait()`` for a real-time one, ``dispose()`` to stop it early."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.count = 0
        self.error: BaseException | None = None
        self.subscription: abc.DisposableBase = Disposable()

    def wait(self, timeout: float = 30.0) -> int:
        if not self.done.wait(timeout):
            raise TimeoutError(f"replay still running after {timeout:g} s ({self.count} published)")
        if self.error is not None:
            raise self.error
        return self.count

    def dispose(self) -> None:
        self.subscription.dispose()
        self.done.set()


def _publisher(bus: Bus) -> Callable[[Any], Any]:
    on_next = getattr(bus, "on_next", None)
    if callable(on_next):
        return on_next
    if callable(bus):
        return bus
    raise TypeError("bus must be a Subject/Observer (on_next) or a publish callable")


class EventReplayer:
    """Read an events cassette and publish its events again, typed where possible."""

    def __init__(self, path: str | os.PathLike[str], *, session: str | None = None) -> None:
        self.path = Path(path)
        self.session = session

    def records(self) -> Iterator[Event]:
        for record in iter_records(self.path):
            if isinstance(record, Event) and (self.session in (None, record.session)):
                yield record

    def events(self) -> Iterator[Any]:
        """The decoded objects in order (no timing)."""
        for record in self.records():
            yield decode_event(record)

    def summary(self) -> dict[str, int]:
        """How many events of each name."""
        return dict(Counter(r.name for r in self.records()))

    def timeline(self) -> list[TimelineEntry]:
        return [TimelineEntry(r.t, r.session, r.name) for r in self.records()]

    def replay(
        self,
        bus: Bus,
        *,
        speed: Speed = "recorded",
        scheduler: abc.SchedulerBase | None = None,
        filter: Callable[[Event], bool] | Iterable[str] | None = None,
        progress: Callable[[int, Event], object] | None = None,
    ) -> Replay:
        """Publish onto ``bus`` at recorded offsets divided by ``speed``.

        ``scheduler``: virtual (you advance it) or real (default ``TimeoutScheduler``; ``wait()``
        on the result). ``filter``: a predicate on the ``Event`` record or a set of names.
        ``progress(n, record)`` is called after each publish. ``speed="instant"`` with no
        scheduler publishes synchronously before returning.
        """
        publish = _publisher(bus)
        if filter is None:
            keep: Callable[[Event], bool] = lambda r: True  # noqa: E731
        elif callable(filter):
            keep = filter
        else:
            names = set(filter)
            keep = lambda r: r.name in names  # noqa: E731
        handle = Replay()

        def on_record(record: Event) -> None:
            if not keep(record):
                return
            publish(decode_event(record))
            handle.count += 1
            if progress is not None:
                progress(handle.count, record)

        def on_error(exc: Exception) -> None:
            handle.error = exc
            handle.done.set()

        if scheduler is None and speed == "instant":
            try:
                for record in self.records():
                    on_record(record)
            except Exception as exc:
                on_error(exc)
            handle.done.set()
            if handle.error is not None:
                raise handle.error
            return handle
        stream = cassette_stream(
            self.path, connection=self.session, direction="both", scheduler=scheduler, speed=speed
        ).pipe(ops.filter(lambda item: isinstance(item, Event)))
        handle.subscription = stream.subscribe(on_record, on_error, handle.done.set)
        return handle
