"""Collectors: turn an Observable (or async iterator) into a list you can assert on.

On a virtual-time scheduler the collector drives the clock itself, so a test over hours of
recorded market data runs in milliseconds; on real time it waits, with a timeout that says how
far the stream got.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar, cast

import reactivex
from reactivex import abc
from reactivex.disposable import Disposable

from .scheduling import elapsed_ms, is_virtual, next_due, step

__all__ = [
    "CollectTimeout",
    "Notification",
    "acollect",
    "collect",
    "collect_notifications",
]

T = TypeVar("T")
Kind = Literal["on_next", "on_error", "on_completed"]

DEFAULT_REAL_TIMEOUT = 10.0
MAX_VIRTUAL_STEPS = 50_000_000


class CollectTimeout(AssertionError):
    """The stream did not finish (or reach ``count``) in time; says how many items arrived."""

    def __init__(self, message: str, received: list[Any]) -> None:
        super().__init__(message)
        self.received = received


def _same_error(a: BaseException | None, b: BaseException | None) -> bool:
    if a is None or b is None:
        return a is b
    return type(a) is type(b) and a.args == b.args


@dataclass(frozen=True, eq=False)
class Notification:
    """One time-stamped signal; ``time`` is milliseconds since subscription.

    Errors compare by type and args (two runs raise different exception objects).
    """

    time: float
    kind: Kind
    value: Any = None
    error: BaseException | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Notification):
            return NotImplemented
        return (
            self.time == other.time
            and self.kind == other.kind
            and self.value == other.value
            and _same_error(self.error, other.error)
        )

    def __hash__(self) -> int:
        err = None if self.error is None else (type(self.error), self.error.args)
        try:
            return hash((self.time, self.kind, self.value, err))
        except TypeError:
            return hash((self.time, self.kind))

    def __repr__(self) -> str:
        if self.kind == "on_next":
            return f"on_next({self.value!r})@{self.time:g}"
        if self.kind == "on_error":
            return f"on_error({self.error!r})@{self.time:g}"
        return f"on_completed()@{self.time:g}"


def _is_async(source: Any) -> bool:
    return hasattr(source, "__aiter__") and not isinstance(source, reactivex.Observable)


def _timeout_seconds(timeout: float | timedelta | None) -> float | None:
    if isinstance(timeout, timedelta):
        return timeout.total_seconds()
    return timeout


def _run(
    source: reactivex.Observable[Any] | AsyncIterable[Any],
    scheduler: abc.SchedulerBase | None,
    timeout: float | timedelta | None,
    count: int | None,
) -> list[Notification]:
    if _is_async(source):
        return _run_async(cast(AsyncIterable[Any], source), timeout, count)
    observable = cast(reactivex.Observable[Any], source)
    if scheduler is None:
        scheduler = getattr(observable, "scheduler", None)
    virtual = is_virtual(scheduler)
    out: list[Notification] = []
    done = threading.Event()
    clock_start: datetime | None = scheduler.now if scheduler is not None else None
    wall_start = time.monotonic()
    received = 0

    def now_ms() -> float:
        if scheduler is not None and clock_start is not None:
            return elapsed_ms(scheduler, clock_start)
        return round((time.monotonic() - wall_start) * 1000.0, 3)

    def on_next(value: Any) -> None:
        nonlocal received
        if done.is_set():
            return
        out.append(Notification(now_ms(), "on_next", value))
        received += 1
        if count is not None and received >= count:
            done.set()

    def on_error(error: Exception) -> None:
        out.append(Notification(now_ms(), "on_error", error=error))
        done.set()

    def on_completed() -> None:
        out.append(Notification(now_ms(), "on_completed"))
        done.set()

    limit = _timeout_seconds(timeout)
    subscription: abc.DisposableBase = Disposable()
    subscription = observable.subscribe(on_next, on_error, on_completed, scheduler=scheduler)
    try:
        if virtual:
            assert clock_start is not None and scheduler is not None
            deadline = None if limit is None else clock_start + timedelta(seconds=limit)
            steps = 0
            while not done.is_set():
                due = next_due(scheduler)  # type: ignore[arg-type]
                if due is None:
                    _fail(out, count, "the stream went quiet (nothing left to run) before it ended")
                if deadline is not None and due is not None and due > deadline:
                    _fail(out, count, f"timed out after {limit:g} s of virtual time")
                step(scheduler)  # type: ignore[arg-type]
                steps += 1
                if steps > MAX_VIRTUAL_STEPS:
                    _fail(out, count, "gave up after 50,000,000 virtual steps; pass timeout=")
        else:
            wait = DEFAULT_REAL_TIMEOUT if limit is None else limit
            if not done.wait(wait):
                _fail(
                    out,
                    count,
                    f"timed out after {wait:g} s (if the stream runs on a virtual-time "
                    "scheduler, pass scheduler= so collect can drive it)",
                )
    finally:
        subscription.dispose()
    return out


def _fail(out: list[Notification], count: int | None, why: str) -> None:
    got = sum(1 for n in out if n.kind == "on_next")
    want = f"{count} items" if count is not None else "completion"
    raise CollectTimeout(
        f"collect: {why}; waiting for {want}, received {got} item(s): "
        f"{_preview([n.value for n in out if n.kind == 'on_next'])}",
        out,
    )


def _preview(values: list[Any], limit: int = 5) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    more = f", ... (+{len(values) - limit})" if len(values) > limit else ""
    return f"[{shown}{more}]"


def _run_async(
    source: AsyncIterable[Any], timeout: float | timedelta | None, count: int | None
) -> list[Notification]:
    """Drain an async iterator on its own event loop (a worker thread if one is running)."""
    limit = _timeout_seconds(timeout)
    result: list[list[Notification]] = []
    failure: list[BaseException] = []

    def runner() -> None:
        try:
            result.append(asyncio.run(_drain(source, limit, count)))
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    try:
        asyncio.get_running_loop()
        in_loop = True
    except RuntimeError:
        in_loop = False
    if in_loop:
        worker = threading.Thread(target=runner, name="streamreplay-collect", daemon=True)
        worker.start()
        worker.join()
    else:
        runner()
    if failure:
        raise failure[0]
    return result[0]


async def _drain(
    source: AsyncIterable[Any], limit: float | None, count: int | None
) -> list[Notification]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    out: list[Notification] = []

    def stamp() -> float:
        return round((loop.time() - start) * 1000.0, 3)

    async def consume() -> None:
        try:
            async for value in source:
                out.append(Notification(stamp(), "on_next", value))
                if count is not None and len(out) >= count:
                    return
        except Exception as exc:
            out.append(Notification(stamp(), "on_error", error=exc))
            return
        out.append(Notification(stamp(), "on_completed"))

    wait = DEFAULT_REAL_TIMEOUT if limit is None else limit
    try:
        await asyncio.wait_for(consume(), wait)
    except TimeoutError:
        _fail(out, count, f"timed out after {wait:g} s")
    return out


async def acollect(
    source: AsyncIterable[T], *, timeout: float | None = None, count: int | None = None
) -> list[T]:
    """``collect`` for async code: await the items of an async iterator."""
    out: list[T] = []

    async def consume() -> None:
        async for value in source:
            out.append(value)
            if count is not None and len(out) >= count:
                return

    wait = DEFAULT_REAL_TIMEOUT if timeout is None else timeout
    try:
        await asyncio.wait_for(consume(), wait)
    except TimeoutError:
        raise CollectTimeout(
            f"acollect: timed out after {wait:g} s; received {len(out)} item(s): "
            f"{_preview(list(out))}",
            list(out),
        ) from None
    return out


def _values(notes: list[Notification]) -> list[Any]:
    values: list[Any] = []
    for note in notes:
        if note.kind == "on_error":
            assert note.error is not None
            raise note.error
        if note.kind == "on_next":
            values.append(note.value)
    return values


def collect(
    observable: reactivex.Observable[T] | AsyncIterable[T],
    *,
    timeout: float | timedelta | None = None,
    count: int | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> list[T]:
    """The values of a stream until it completes (or ``count`` arrive); errors are re-raised.

    ``scheduler`` (or the ``.scheduler`` of a ``cassette_stream``) that is virtual is driven here:
    ``timeout`` is then virtual seconds. On real time ``timeout`` defaults to 10 s.
    """
    return cast(list[T], _values(_run(observable, scheduler, timeout, count)))


def collect_notifications(
    observable: reactivex.Observable[Any] | AsyncIterable[Any],
    *,
    scheduler: abc.SchedulerBase | None = None,
    timeout: float | timedelta | None = None,
    count: int | None = None,
) -> list[Notification]:
    """Every signal with its time in ms since subscription (errors are recorded, not raised)."""
    return _run(observable, scheduler, timeout, count)
