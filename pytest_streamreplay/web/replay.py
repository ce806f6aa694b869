"""Server-side replay of an events cassette onto an in-memory bus, steerable from the page.

``EventReplayer.replay`` runs on a ``HistoricalScheduler`` (virtual time) and a driver thread
advances that clock by wall time times ``speed``: pausing stops the clock, a new speed takes
effect on the next tick, and nothing is published anywhere but the in-memory bus. This is the
simulation mode: the recorded timing, scaled, with no network and no real clock dependence.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from reactivex.scheduler import HistoricalScheduler
from reactivex.subject import Subject

from ..cassette import Event
from ..streams.events import EventReplayer, Replay

__all__ = ["MAX_SPEED", "MIN_SPEED", "ReplayError", "ReplayManager", "ReplaySession"]

MIN_SPEED = 0.01
MAX_SPEED = 10000.0
_TICK = 0.02


class ReplayError(Exception):
    """A control that does not apply in the current state; sent as HTTP 409 (or 400)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def check_speed(speed: float) -> float:
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ReplayError(f"speed must be between {MIN_SPEED:g} and {MAX_SPEED:g}", 400)
    return float(speed)


class ReplaySession:
    """One cassette's replay: ``running`` -> ``paused`` <-> ``running`` -> ``finished``/
    ``stopped`` (or ``failed``)."""

    def __init__(self, name: str, path: Path, total: int, duration_ms: float, speed: float):
        self.name = name
        self.path = path
        self.total = total
        self.duration_ms = duration_ms
        self.speed = check_speed(speed)
        self.state = "running"
        self.count = 0
        self.last: dict[str, Any] | None = None
        self.names: Counter[str] = Counter()
        self.error: str | None = None
        self.bus: Subject[Any] = Subject()
        self.received = 0
        self.bus.subscribe(self._on_bus)
        self._lock = threading.Lock()
        self._origin = datetime(2000, 1, 1)
        self._scheduler = HistoricalScheduler(self._origin)
        self._handle: Replay = EventReplayer(path).replay(
            self.bus, scheduler=self._scheduler, speed="recorded", progress=self._progress
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drive, name=f"replay {name}", daemon=True)
        self._thread.start()

    def _on_bus(self, _obj: Any) -> None:
        self.received += 1

    def _progress(self, n: int, record: Event) -> None:
        self.count = n
        self.names[record.name] += 1
        self.last = {"name": record.name, "t": record.t, "session": record.session}

    def _drive(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(_TICK):
            now = time.monotonic()
            elapsed, last = now - last, now
            with self._lock:
                if self.state != "running":
                    continue
                try:
                    self._scheduler.advance_by(timedelta(seconds=elapsed * self.speed))
                except Exception as exc:  # a bad record: report it, never kill the server
                    self.state, self.error = "failed", str(exc)
                    return
                if self._handle.done.is_set():
                    if self._handle.error is not None:
                        self.state, self.error = "failed", str(self._handle.error)
                    else:
                        self.state = "finished"
                    return

    @property
    def position_ms(self) -> float:
        return (self._scheduler.now - self._origin) / timedelta(milliseconds=1)

    def pause(self) -> None:
        with self._lock:
            if self.state != "running":
                raise ReplayError(f"cannot pause: replay is {self.state}")
            self.state = "paused"

    def resume(self) -> None:
        with self._lock:
            if self.state != "paused":
                raise ReplayError(f"cannot resume: replay is {self.state}")
            self.state = "running"

    def set_speed(self, speed: float) -> None:
        with self._lock:
            self.speed = check_speed(speed)

    def stop(self) -> None:
        with self._lock:
            if self.state not in ("running", "paused"):
                raise ReplayError(f"cannot stop: replay is {self.state}")
            self.state = "stopped"
            self._handle.dispose()
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
        self._handle.dispose()

    @property
    def active(self) -> bool:
        return self.state in ("running", "paused")

    def status(self) -> dict[str, Any]:
        return {
            "cassette": self.name,
            "state": self.state,
            "speed": self.speed,
            "published": self.count,
            "received": self.received,
            "total": self.total,
            "progress": (self.count / self.total) if self.total else 1.0,
            "position_ms": round(min(self.position_ms, max(self.duration_ms, 0.0)), 3),
            "duration_ms": self.duration_ms,
            "last": self.last,
            "by_name": dict(self.names),
            "error": self.error,
        }


class ReplayManager:
    """At most one replay per cassette; finished ones stay readable until the next start."""

    def __init__(self) -> None:
        self._sessions: dict[str, ReplaySession] = {}
        self._lock = threading.Lock()

    def start(
        self, name: str, path: Path, total: int, duration_ms: float, speed: float
    ) -> ReplaySession:
        if total == 0:
            raise ReplayError(f"{name} has no events to replay", 400)
        with self._lock:
            current = self._sessions.get(name)
            if current is not None and current.active:
                raise ReplayError(f"a replay of {name} is already {current.state}")
            if current is not None:
                current.close()
            session = ReplaySession(name, path, total, duration_ms, speed)
            self._sessions[name] = session
            return session

    def get(self, name: str) -> ReplaySession:
        session = self._sessions.get(name)
        if session is None:
            raise ReplayError(f"no replay of {name} has been started", 404)
        return session

    def status(self, name: str) -> dict[str, Any]:
        session = self._sessions.get(name)
        if session is None:
            return {"cassette": name, "state": "idle", "published": 0}
        return session.status()

    def close(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()
