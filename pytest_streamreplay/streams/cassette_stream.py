"""A cassette's WebSocket messages, gRPC calls' messages (or bus events) as a cold Observable
on recorded time.

The file is read lazily, in chunks of whole lines, by the parser ``iter_records`` uses (messages
are not built into records unless asked for): one item is parsed ahead and one action is
scheduled at a time, so a million-message cassette costs what a small one does. Items due at
the same instant go out in one action (reactivex's virtual clock would otherwise jump a second
after 100 same-time actions). Under ``VirtualScheduler.start()`` the stream moves the clock to
its next item itself while nothing else is due first (``scheduling.JumpWindow``), so a run of
items costs no queue round trips; due times are integer microseconds, the clock's resolution.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Generator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import reactivex
from reactivex import abc
from reactivex.disposable import Disposable
from reactivex.scheduler import TimeoutScheduler

from ..cassette import Event, HttpInteraction, WsConnection, WsMessage, record_from_json
from ..cassette.body import check_body
from ..cassette.grpc import CallMessage, call_messages, is_grpc
from ..cassette.storage import _bad_record, _iter_objects
from .scheduling import JumpWindow, VirtualScheduler, ms_to_us

__all__ = ["CassetteObservable", "cassette_stream", "iter_timed_items"]

_US = timedelta(microseconds=1)

Direction = Literal["recv", "send", "both"]
Speed = float | Literal["recorded", "instant"] | None

_BODY_KEYS = ("json", "text", "base64", "layout")  # as in WsMessage.from_json


def _matches(conn: WsConnection, connection: int | str | None) -> bool:
    if connection is None:
        return True
    if isinstance(connection, int):
        return conn.id == connection
    return connection in conn.url


def _matches_call(record: HttpInteraction, connection: int | str | None) -> bool:
    if not is_grpc(record.request.headers):
        return False
    if connection is None:
        return True
    if isinstance(connection, int):
        return record.id == connection
    return connection in record.request.url


def _as_message(call: int, m: CallMessage) -> WsMessage:
    """A gRPC message as a WebSocket message record of its call: the JSON form when the
    cassette has one, else the protobuf bytes (binary)."""
    if m.decoded:
        return WsMessage(call, m.dir, m.t, {"json": m.json})
    return WsMessage(call, m.dir, m.t, {"base64": base64.b64encode(m.payload).decode()}, True)


def iter_timed_items(
    path: str | os.PathLike[str],
    *,
    connection: int | str | None = None,
    direction: Direction = "recv",
    records: bool = False,
) -> Generator[tuple[float, Any], None, None]:
    """Yield (offset ms, item) in file order: message values (or records) and ``Event`` records.

    Message offsets are from the opening of the first selected connection (for one connection:
    the recorded ``t``); event offsets are their ``t`` from the session start. A gRPC call is
    a connection too (``connection``: its id or a part of its URL such as its method): its
    messages come when its record does, at the call's start plus their offsets (see
    ``cassette.grpc.call_messages``).
    """
    if direction not in ("recv", "send", "both"):
        raise ValueError(f"direction must be 'recv', 'send' or 'both', not {direction!r}")
    p = Path(path)
    # Connection id -> its opening minus the first selected opening (the timeline's origin).
    shifts: dict[int, float] = {}
    base: float | None = None
    wanted = None if direction == "both" else direction
    values = not records
    for lineno, _, obj in _iter_objects(p):
        if obj.get("kind") == "ws_msg":
            # Fast path: the checks and conversions of WsMessage.from_json, in its order, on the
            # parsed line (a conversion only when the type is not already right); a record is
            # built only when it is asked for or needed for the value.
            try:
                conn = obj["conn"]
                if type(conn) is not int:
                    conn = int(conn)
                msg_dir = obj["dir"]
                if type(msg_dir) is not str:
                    msg_dir = str(msg_dir)
                recorded_t = obj["t"]
                if type(recorded_t) is not float:
                    recorded_t = float(recorded_t)
                binary = "binary" in obj and bool(obj["binary"])
            except (KeyError, TypeError, ValueError) as exc:
                raise _bad_record(p, lineno, exc) from None
            if wanted is not None and msg_dir != wanted:
                continue
            if conn in shifts:
                t = shifts[conn] + recorded_t
            elif connection is None:
                t = recorded_t
            else:
                continue
            if values and not binary and "json" in obj:
                yield t, obj["json"]  # == WsMessage.value for a JSON body
                continue
            body = {k: v for k, v in obj.items() if k in _BODY_KEYS}
            try:
                check_body(body or None, "message body")
            except ValueError as exc:
                raise _bad_record(p, lineno, exc) from None
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
                shifts[record.id] = record.t - base
        elif isinstance(record, HttpInteraction) and _matches_call(record, connection):
            # a gRPC call is a connection whose messages are its request and response
            if base is None:
                base = record.t
            shift = record.t - base
            for m in call_messages(record):
                if wanted is None or m.dir == wanted:
                    yield shift + m.t, (_as_message(record.id, m) if records else m.value)
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
        next_item = items.__next__
        instant = self.speed == "instant"
        speed = self.speed
        factor = 1.0 / float(speed) if isinstance(speed, int | float) else 1.0
        start: datetime = sched.now
        # Due times are integer microseconds from ``start`` (reactivex's clock resolution); a
        # datetime is built only for an action that really goes on the scheduler.
        window = JumpWindow(sched, start) if isinstance(sched, VirtualScheduler) else None
        stopped = False
        # The item read ahead: (due, value); due None once the file is done.
        ahead_due: int | None = None
        ahead_item: Any = None
        last_due = 0

        try:
            offset, ahead_item = next_item()
            if not instant:
                ahead_due = last_due = max(0, ms_to_us(offset * factor))
            else:
                ahead_due = 0
        except StopIteration:
            pass
        except Exception as exc:
            observer.on_error(exc)
            return Disposable()

        # One action is pending at a time. A real-time scheduler may run it on another thread
        # before schedule_absolute() returns, so scheduling and emitting share one lock.
        lock = threading.RLock()
        pending: list[abc.DisposableBase] = []

        def schedule(due: int) -> None:
            with lock:
                if not stopped:
                    when = start + timedelta(microseconds=due)
                    pending[:] = [sched.schedule_absolute(when, emit, due)]

        def emit(_: abc.SchedulerBase, state: Any = None) -> None:
            nonlocal ahead_due, ahead_item, last_due
            with lock:
                try:
                    # Items due up to ``now`` (or the instant this action was due) go out at once.
                    now = max((sched.now - start) // _US, state)
                    on_next = observer.on_next
                    due, item, last = ahead_due, ahead_item, last_due
                    if window is not None:
                        limit, head = window.refresh(), window.head
                        queue, move = window.queue, window.move
                    while due is not None and not stopped:
                        if due > now:
                            # Move the clock ourselves when nothing else is due first (see
                            # JumpWindow), else leave it to the scheduler.
                            if window is None:
                                ahead_due, ahead_item, last_due = due, item, last
                                schedule(due)
                                return
                            queued = queue.items
                            if due > limit or (queued[0] if queued else None) is not head:
                                limit, head = window.refresh(), window.head
                                if due > limit:
                                    ahead_due, ahead_item, last_due = due, item, last
                                    schedule(due)
                                    return
                            move(due)
                            now = due
                        on_next(item)
                        try:
                            offset, item = next_item()
                        except StopIteration:
                            due = None
                            break
                        if instant:
                            continue  # due stays 0
                        due = ms_to_us(offset * factor)
                        if due < last:
                            due = last  # out-of-order lines go out right after their predecessor
                        last = due
                    ahead_due, ahead_item, last_due = None, None, last
                    if not stopped:
                        observer.on_completed()
                except Exception as exc:
                    if not stopped:
                        observer.on_error(exc)

        schedule(ahead_due if ahead_due is not None else 0)

        def dispose() -> None:
            nonlocal stopped
            with lock:
                stopped = True
                for disposable in pending:
                    disposable.dispose()
                items.close()

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
    ``WsMessage`` records (with ``dir``). A gRPC call's messages come the same way (its JSON
    form, else the protobuf bytes; records have the call's id as ``conn``): ``connection``
    picks one by id or by a part of its URL (``"/shop.Orders/Watch"``). ``kind: event``
    records are emitted as ``Event`` records (``connection`` then selects a session name).
    ``speed``: None/"recorded" as recorded, 2.0 twice as fast, "instant" everything at
    subscription time in file order.
    """
    return CassetteObservable(
        path,
        connection=connection,
        direction=direction,
        scheduler=scheduler,
        speed=speed,
        records=records,
    )
