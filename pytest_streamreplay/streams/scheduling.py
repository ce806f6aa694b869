"""Virtual-time glue: a stricter TestScheduler and helpers to step any virtual scheduler.

reactivex's ``VirtualTimeScheduler`` has two habits that break exact timing: after 100 actions
at one instant it moves the clock on by a whole second, and ``advance_to(now)`` skips the work
due now. ``VirtualScheduler`` fixes both; the helpers here step any reactivex virtual-time
scheduler one action at a time so collectors and verifiers can stop exactly where they need.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from reactivex import abc
from reactivex.scheduler import VirtualTimeScheduler

__all__ = [
    "JumpWindow",
    "VirtualScheduler",
    "elapsed_ms",
    "is_virtual",
    "ms_to_us",
    "next_due",
    "run_until",
    "step",
    "to_ms",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_US = timedelta(microseconds=1)


class VirtualScheduler(VirtualTimeScheduler):
    """A virtual-time scheduler whose clock moves only to the due time of the next action.

    Times are seconds (floats) or ``timedelta`` as everywhere in reactivex; one marble frame is
    one millisecond (0.001 s).
    """

    __test__ = False

    #: While ``start``/``advance_to`` runs: how far the clock may go. Sources that own the
    #: next instant (see ``JumpWindow``) may move the clock themselves up to it.
    horizon: datetime | None = None

    def start(self) -> Any:
        """Run every scheduled action in due order, never jumping the clock on its own."""
        if self._is_enabled:
            return None
        self._is_enabled = True
        self.horizon = datetime.max.replace(tzinfo=UTC)
        try:
            while self._is_enabled and step(self):
                pass
        finally:
            self._is_enabled = False
            self.horizon = None
        return None

    def advance_to(self, time: Any) -> None:
        """Run everything due up to and including ``time`` then set the clock to ``time``."""
        target = self.to_datetime(time)
        if target < self.now:
            raise ValueError(f"cannot move virtual time back from {self.now} to {target}")
        self.horizon = target
        try:
            run_until(self, target)
        finally:
            self.horizon = None

    def advance_by(self, time: Any) -> None:
        """Run everything due within ``time`` (seconds or timedelta) from now."""
        self.advance_to(self.now + self.to_timedelta(time))

    @property
    def now_ms(self) -> float:
        """Virtual milliseconds since the epoch of this scheduler (0 unless started later)."""
        return to_ms(self.now - _EPOCH)


class JumpWindow:
    """How far a source with many timed items may move a running scheduler's clock itself.

    Lets ``cassette_stream`` skip the queue round trip per item while it is the only thing
    happening. The "nothing else is due first" answer is computed once (``refresh``: the
    horizon, and just before the next pending action) and holds while the queue's head is the
    same object: an action scheduled later than the head leaves it in place, anything earlier
    replaces it, and a cancelled head only makes ``limit`` too early (the caller then
    refreshes). Times are integer microseconds from ``origin``, the resolution of reactivex's
    clock, so comparisons and clock values are exactly those of ``datetime`` arithmetic.
    """

    def __init__(self, scheduler: VirtualScheduler, origin: datetime) -> None:
        self.scheduler = scheduler
        self.queue = scheduler._queue
        self.origin = origin
        self.float_clock = not isinstance(scheduler._clock, datetime)
        self.origin_us = (origin - _EPOCH) // _US if self.float_clock else 0
        #: The queue head ``limit`` was computed for (``queue.items[0]`` or None when empty).
        self.head: object = None
        #: The latest due time the clock may jump to (-1: none; the scheduler is not running).
        self.limit = -1

    def refresh(self) -> int:
        """Recompute ``limit`` from the horizon and the next pending action; return it."""
        scheduler = self.scheduler
        horizon = scheduler.horizon
        pending = next_due(scheduler) if horizon is not None else None
        items = self.queue.items
        self.head = items[0] if items else None
        if horizon is None:
            self.limit = -1
        else:
            limit = (horizon - self.origin) // _US
            if pending is not None:
                limit = min(limit, (pending - self.origin) // _US - 1)
            self.limit = limit
        return self.limit

    def move(self, due_us: int) -> None:
        """Set the clock to ``origin + due_us`` (the caller checked ``limit``)."""
        if self.float_clock:
            # int / int is correctly rounded: the same float as ``to_seconds(datetime)``.
            self.scheduler._clock = (self.origin_us + due_us) / 1_000_000
        else:
            self.scheduler._clock = self.origin + timedelta(microseconds=due_us)


def ms_to_us(ms: float) -> int:
    """``ms * timedelta(milliseconds=1)`` in microseconds, exactly, without building it.

    The float product is within half an ulp of the exact one, so unless it lies near a
    half-microsecond (or is huge, or not finite) rounding it gives timedelta's answer.
    """
    x = ms * 1000.0
    if -1e12 < x < 1e12:
        r = round(x)
        if -0.4999 < x - r < 0.4999:
            return r
    return (ms * _MS) // _US


def is_virtual(scheduler: abc.SchedulerBase | None) -> bool:
    """True for reactivex virtual-time schedulers (TestScheduler, HistoricalScheduler, ours)."""
    return isinstance(scheduler, VirtualTimeScheduler)


def to_ms(delta: timedelta) -> float:
    """A timedelta as float milliseconds, exact to the microsecond."""
    return delta / _MS


def elapsed_ms(scheduler: abc.SchedulerBase, since: datetime) -> float:
    """Milliseconds between ``since`` and the scheduler's ``now``."""
    return to_ms(scheduler.now - since)


def next_due(scheduler: VirtualTimeScheduler) -> datetime | None:
    """Due time of the next pending (not cancelled) action, or None when idle."""
    queue = scheduler._queue
    with scheduler._lock:
        while queue:
            item = queue.peek()
            if not item.is_cancelled():
                return item.duetime
            queue.dequeue()
    return None


def step(scheduler: VirtualTimeScheduler) -> bool:
    """Run the next pending action, moving the clock to its due time; False when idle."""
    with scheduler._lock:
        item = None
        while scheduler._queue:
            candidate = scheduler._queue.dequeue()
            if not candidate.is_cancelled():
                item = candidate
                break
        if item is None:
            return False
        if item.duetime > scheduler.now:
            scheduler._clock = _clock_value(scheduler, item.duetime)
    item.invoke()
    return True


def run_until(scheduler: VirtualTimeScheduler, target: datetime) -> None:
    """Run all actions due at or before ``target``; leave the clock at ``target``."""
    while True:
        due = next_due(scheduler)
        if due is None or due > target:
            break
        step(scheduler)
    with scheduler._lock:
        if target > scheduler.now:
            scheduler._clock = _clock_value(scheduler, target)


def _clock_value(scheduler: VirtualTimeScheduler, when: datetime) -> Any:
    if isinstance(scheduler._clock, datetime):
        return when
    return scheduler.to_seconds(when)
