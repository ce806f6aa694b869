"""MarketClock: one notion of "now" for bars, timers and replayed data.

In virtual mode the clock *is* a reactivex virtual-time scheduler: ``advance``/``seek`` run every
timer that falls due on the way, so a replayed trading session is deterministic and instant. In
live mode it follows wall time (optionally shifted by ``advance``/``seek``).
"""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from reactivex import abc
from reactivex.scheduler import TimeoutScheduler

from .scheduling import VirtualScheduler

__all__ = ["DEFAULT_START", "MarketClock"]

DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)
"""Where a virtual clock starts when given no ``start``: fixed, so runs are reproducible."""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class MarketClock:
    """``now`` (tz-aware), ``advance``, ``seek``, ``freeze``/``unfreeze`` and a ``scheduler``.

    Naive datetimes are taken as UTC. ``freeze()`` pauses the clock: ``now`` stops, and
    ``advance``/``seek`` raise until ``unfreeze()``, after which time continues from the paused
    instant (live mode does not jump to wall time).
    """

    def __init__(self, start: datetime | None = None, *, virtual: bool = True) -> None:
        self.virtual = virtual
        begin = _aware(start) if start is not None else (DEFAULT_START if virtual else None)
        self._tz: tzinfo = begin.tzinfo if begin is not None and begin.tzinfo else UTC
        self._frozen_at: datetime | None = None
        self._offset = timedelta(0)
        self._virtual: VirtualScheduler | None = None
        if virtual:
            assert begin is not None
            self._virtual = VirtualScheduler(begin.astimezone(UTC))
        elif begin is not None:
            self._offset = begin - datetime.now(UTC)

    @property
    def scheduler(self) -> abc.SchedulerBase:
        """The virtual scheduler this clock drives (live mode: reactivex's TimeoutScheduler)."""
        if self._virtual is not None:
            return self._virtual
        return TimeoutScheduler.singleton()

    @property
    def now(self) -> datetime:
        if self._frozen_at is not None:
            return self._frozen_at
        if self._virtual is not None:
            return self._virtual.now.astimezone(self._tz)
        return (datetime.now(UTC) + self._offset).astimezone(self._tz)

    @property
    def timestamp_ms(self) -> int:
        """``now`` as integer epoch milliseconds (what exchanges put in messages)."""
        return int((self.now - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1))

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def _check_thawed(self, what: str) -> None:
        if self._frozen_at is not None:
            raise RuntimeError(f"MarketClock is frozen: unfreeze() before {what}()")

    def advance(self, duration: float | timedelta) -> datetime:
        """Move on by seconds or a timedelta, running virtual timers due on the way."""
        delta = duration if isinstance(duration, timedelta) else timedelta(seconds=duration)
        if delta < timedelta(0):
            raise ValueError("a MarketClock does not go backwards; use seek() in live mode")
        self._check_thawed("advance")
        if self._virtual is not None:
            self._virtual.advance_by(delta)
        else:
            self._offset += delta
        return self.now

    def seek(self, moment: datetime) -> datetime:
        """Jump to ``moment`` (virtual: forward only, running timers; live: shift the offset)."""
        self._check_thawed("seek")
        target = _aware(moment)
        if self._virtual is not None:
            if target < self._virtual.now:
                raise ValueError(f"cannot seek a virtual clock back from {self.now} to {target}")
            self._virtual.advance_to(target.astimezone(UTC))
        else:
            self._offset = target - datetime.now(UTC)
        return self.now

    def freeze(self) -> MarketClock:
        if self._frozen_at is None:
            self._frozen_at = self.now
        return self

    def unfreeze(self) -> MarketClock:
        if self._frozen_at is not None and self._virtual is None:
            self._offset = self._frozen_at - datetime.now(UTC)
        self._frozen_at = None
        return self

    def sleep(self, seconds: float) -> None:
        """Virtual: advance; live: really sleep (bounded by ``seconds``)."""
        if self._virtual is not None:
            self.advance(seconds)
        else:
            _time.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        mode = "virtual" if self.virtual else "live"
        state = ", frozen" if self.frozen else ""
        return f"MarketClock({self.now.isoformat()}, {mode}{state})"

    def __enter__(self) -> MarketClock:
        return self.freeze()

    def __exit__(self, *exc: Any) -> None:
        self.unfreeze()
