"""A cassette's WebSocket messages (or bus events) as a cold Observable on recorded time.

The file is read lazily, one line at a time, by the parser ``iter_records`` uses (messages are
not built into records unless asked for): one item is parsed ahead and one action is scheduled
at a time, so a million-message cassette costs what a small one does. Items due at the
same instant go out in one action (reactivex's virtual clock would otherwise jump a second after
100 same-time actions).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import reactivex
from reactivex import abc
from reactivex.disposable import Disposable
from reactivex.scheduler import TimeoutScheduler

from ..cassette import Event, WsConnection, WsMessage, record_from_json
from ..cassette.storage import _bad_record, _iter_objects
from .scheduling import try_jump

__all__ = ["CassetteObservable", "cassette_stream", "iter_timed_items"]

Direction = Literal["recv", "send", "both"]
Speed = float | Literal["recorded", "instant"] | None

_BODY_KEYS = ("json", "text", "base64", "layout")  # as in WsMessage.from_json


def _matches(conn: WsConnection, connection: int | str | None) -> bool:
    if connection is None:
        return True
    if isinstance(connection, int):
        return conn.id == connection
    return connection in conn.url


def iter_timed_items(
    path: str | os.PathLike[str],
    *,
    connection: int | str | None = None,
    direction: Direction = "recv",
    records: bool = False,
) -> Iterator[tuple[float, Any]]:
    """Yield (offset ms, item) in file order: message values (or records) and ``Event`` records.

    Message offsets are from the opening of the first selected connection (for one connection:
    the recorded ``t``); event offsets are their ``t`` from the session start.
    """
    if direction not in ("recv", "send", "both"):
        raise ValueError(f"direction must be 'recv', 'send' or 'both', not {direction!r}")
    p = Path(path)
    opened: dict[int, float] = {}
    base: float | None = None
    for lineno, obj in _iter_objects(p):
        if obj.get("kind") == "ws_msg":
            # Fast path: the checks and conversions of WsMessage.from_json, in its order, on the
            # parsed line; a record is built only when it is asked for or needed for the value.
            try:
                conn = int(obj["conn"])
                msg_dir = str(obj["dir"])
                recorded_t = float(obj["t"])
                binary = bool(obj.get("binary", False))
            except (KeyError, TypeError, ValueError) as exc:
                raise _bad_record(p, lineno, exc) from None
            if direction != "both" and msg_dir != direction:
                continue
            if conn in opened:
                t = opened[conn] - (base or 0.0) + recorded_t
            elif connection is None:
                t = recorded_t
            else:
                continue
            if not records and not binary and "json" in obj:
                yield t, obj["json"]  # == WsMessage.value for a JSON body
                continue
            body = {k: v for k, v in obj.items() if k in _BODY_KEYS}
            message = WsMessage(conn, msg_dir, recorded_t, body or None, binary)
            yield t, (message if records else message.value)
            continue
        try:
            record = record_from_json(obj)
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad_record(p, lineno, exc) from None
        if isinstance(record, WsConnection):
            if _matches(record, connection):
                if base is None:
                    base = record.t
                opened[record.id] = record.t
        elif isinstance(record, Event) and connection in (None, record.session):
            yield record.t, record


class CassetteObservable(reactivex.Observable[Any]):
    """Cold: every subscription reads the file afresh from the start.

    ``scheduler`` is the one given to ``cassette_stream`` (None: the subscriber's, else
    ``TimeoutScheduler``); collectors use it to drive virtual time.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        connection: int | str | None,
        direction: Direction,
        scheduler: abc.SchedulerBase | None,
        speed: Speed,
        records: bool,
    ) -> None:
        super().__init__()
        if speed not in (None, "recorded", "instant") and not (
            isinstance(speed, int | float) and speed > 0
        ):
            raise ValueError(f"speed must be a positive number, 'recorded' or 'instant': {speed!r}")
        if direction not in ("recv", "send", "both"):
            raise ValueError(f"direction must be 'recv', 'send' or 'both', not {direction!r}")
        self.path = os.fspath(path)
        self.connection = connection
        self.direction: Direction = direction
        self.scheduler = scheduler
        self.speed = speed
        self.records = records

    def _subscribe_core(
        self, observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        sched = self.scheduler or scheduler or TimeoutScheduler.singleton()
        items = iter_timed_items(
            self.path, connection=self.connection, direction=self.direction, records=self.records
        )
        instant = self.speed == "instant"
        speed = self.speed
        factor = 1.0 / float(speed) if isinstance(speed, int | float) else 1.0
        start: datetime = sched.now
        stopped = False
        ms = timedelta(milliseconds=1)
        last_due = start

        def due_of(offset: float) -> datetime:
            nonlocal last_due
            if instant:
                return start
            due = start + (offset * factor) * ms if factor != 1.0 else start + offset * ms
            if due < last_due:
                due = last_due  # out-of-order lines go out right after their predecessor
            last_due = due
            return due

        def fetch() -> tuple[datetime, Any] | None:
            try:
                offset, item = next(items)
            except StopIteration:
                return None
            return due_of(offset), item

        try:
            ahead = fetch()
        except Exception as exc:
            observer.on_error(exc)
            return Disposable()

        # One action is pending at a time. A real-time scheduler may run it on another thread
        # before schedule_absolute() returns, so scheduling and emitting share one lock.
        lock = threading.RLock()
        pending: list[abc.DisposableBase] = []

        def schedule(due: datetime) -> None:
            with lock:
                if not stopped:
                    pending[:] = [sched.schedule_absolute(due, emit, due)]

        def emit(_: abc.SchedulerBase, state: Any = None) -> None:
            nonlocal ahead
            with lock:
                try:
                    now = sched.now
                    while ahead is not None and not stopped:
                        due, item = ahead
                        if due > now and due > state:
                            if try_jump(sched, due):
                                now = state = due
                            else:
                                schedule(due)
                                return
                        observer.on_next(item)
                        ahead = fetch()
                    if not stopped:
                        observer.on_completed()
                except Exception as exc:
                    if not stopped:
                        observer.on_error(exc)

        schedule(ahead[0] if ahead is not None else start)

        def dispose() -> None:
            nonlocal stopped
            with lock:
                stopped = True
                for disposable in pending:
                    disposable.dispose()
                close = getattr(items, "close", None)
                if close is not None:
                    close()

        return Disposable(dispose)


def cassette_stream(
    path: str | os.PathLike[str],
    *,
    connection: int | str | None = None,
    direction: Direction = "recv",
    scheduler: abc.SchedulerBase | None = None,
    speed: Speed = None,
    records: bool = False,
) -> CassetteObservable:
    """A cold Observable of a cassette's WebSocket messages at their recorded offsets.

    Values are ``WsMessage.value`` (parsed JSON, text, or bytes); ``records=True`` gives the
    ``WsMessage`` records (with ``dir``). ``kind: event`` records are emitted as ``Event``
    records (``connection`` then selects a session name). ``speed``: None/"recorded" as
    recorded, 2.0 twice as fast, "instant" everything at subscription time in file order.
    """
    return CassetteObservable(
        path,
        connection=connection,
        direction=direction,
        scheduler=scheduler,
        speed=speed,
        records=records,
    )
