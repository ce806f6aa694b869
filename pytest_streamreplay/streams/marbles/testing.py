"""Marble testing on virtual time: ``cold``, ``hot``, ``expect(...).to_be``, ``flush``.

Everything runs on one ``VirtualScheduler`` (``marbles.scheduler``); one frame is one virtual
millisecond. ``expect`` subscribes with ``scheduler=marbles.scheduler``, so reactivex time
operators that take their scheduler from the subscription (``delay``, ``debounce``, ``sample``,
``timeout``, ``throttle_first``, ``timer``, ``interval``...) run on virtual time without being
told; durations are reactivex seconds: ``ops.delay(0.003)`` is three frames.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import reactivex
from reactivex import abc
from reactivex.disposable import CompositeDisposable, Disposable

from ..scheduling import VirtualScheduler, elapsed_ms, next_due, step
from .diff import MarbleAssertionError, describe_mismatch, describe_subscription_mismatch
from .parser import MarbleEvent, Subscription, parse_marbles, parse_subscription

__all__ = [
    "ColdObservable",
    "Expectation",
    "HotObservable",
    "MarbleAssertionError",
    "Marbles",
    "SubscriptionExpectation",
]

DEFAULT_MAX_FRAMES = 3_600_000  # one virtual hour
_MAX_STEPS = 10_000_000


class _Recorder(abc.ObserverBase[Any]):
    def __init__(self, marbles: Marbles) -> None:
        self._marbles = marbles
        self.events: list[MarbleEvent] = []

    def on_next(self, value: Any) -> None:
        self.events.append(MarbleEvent(self._marbles.frame, "on_next", value=value))

    def on_error(self, error: Exception) -> None:
        self.events.append(MarbleEvent(self._marbles.frame, "on_error", error=error))

    def on_completed(self) -> None:
        self.events.append(MarbleEvent(self._marbles.frame, "on_completed"))


def _deliver(observer: abc.ObserverBase[Any], event: MarbleEvent) -> None:
    if event.kind == "on_next":
        observer.on_next(event.value)
    elif event.kind == "on_error":
        err = event.error
        observer.on_error(err() if isinstance(err, type) else err)
    else:
        observer.on_completed()


class ColdObservable(reactivex.Observable[Any]):
    """Starts its diagram at each subscription; ``subscriptions`` logs when and for how long."""

    def __init__(self, marbles: Marbles, diagram: str, events: list[MarbleEvent]) -> None:
        super().__init__()
        self.diagram = diagram
        self.events = events
        self.subscriptions: list[Subscription] = []
        self._marbles = marbles

    def _subscribe_core(
        self, observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        m = self._marbles
        index = len(self.subscriptions)
        self.subscriptions.append(Subscription(m.frame))
        start = m.frame
        pending = CompositeDisposable()
        for event in self.events:

            def action(_: abc.SchedulerBase, __: Any = None, event: MarbleEvent = event) -> None:
                _deliver(observer, event)

            pending.add(m.scheduler.schedule_absolute(m.at(start + event.frame), action))

        def dispose() -> None:
            sub = self.subscriptions[index]
            if math.isinf(sub.unsubscribed):
                self.subscriptions[index] = Subscription(sub.subscribed, m.frame)
            pending.dispose()

        return Disposable(dispose)


class HotObservable(reactivex.Observable[Any]):
    """Emits its diagram on the shared clock (``^`` is frame 0) whoever listens."""

    def __init__(self, marbles: Marbles, diagram: str, events: list[MarbleEvent]) -> None:
        super().__init__()
        self.diagram = diagram
        self.events = events
        self.subscriptions: list[Subscription] = []
        self._marbles = marbles
        self._observers: list[abc.ObserverBase[Any]] = []
        self._started = False

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        m = self._marbles
        for event in self.events:
            if event.frame < 0:
                continue  # happened before the test began: nobody could have seen it

            def action(_: abc.SchedulerBase, __: Any = None, event: MarbleEvent = event) -> None:
                for observer in list(self._observers):
                    _deliver(observer, event)

            m.scheduler.schedule_absolute(m.at(max(event.frame, m.frame)), action)

    def _subscribe_core(
        self, observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        m = self._marbles
        index = len(self.subscriptions)
        self.subscriptions.append(Subscription(m.frame))
        self._observers.append(observer)

        def dispose() -> None:
            if observer in self._observers:
                self._observers.remove(observer)
            sub = self.subscriptions[index]
            if math.isinf(sub.unsubscribed):
                self.subscriptions[index] = Subscription(sub.subscribed, m.frame)

        return Disposable(dispose)


class Expectation:
    """What ``marbles.expect(obs)`` returns; ``to_be`` records the expected diagram."""

    def __init__(self, marbles: Marbles, observable: reactivex.Observable[Any], sub: str | None):
        self._marbles = marbles
        self._recorder = _Recorder(marbles)
        self.subscription_diagram = sub
        span = parse_subscription(sub) if sub else Subscription(0.0)
        self.span = span
        self._subscription: abc.DisposableBase | None = None

        def subscribe(_: abc.SchedulerBase, __: Any = None) -> None:
            self._subscription = observable.subscribe(self._recorder, scheduler=marbles.scheduler)

        marbles.scheduler.schedule_absolute(marbles.at(span.subscribed), subscribe)
        if not math.isinf(span.unsubscribed):

            def unsubscribe(_: abc.SchedulerBase, __: Any = None) -> None:
                if self._subscription is not None:
                    self._subscription.dispose()

            marbles.scheduler.schedule_absolute(marbles.at(span.unsubscribed), unsubscribe)

    @property
    def actual(self) -> list[MarbleEvent]:
        return list(self._recorder.events)

    def to_be(
        self, diagram: str, values: Mapping[str, Any] | None = None, error: Any = None
    ) -> None:
        """Expect ``diagram``; checked at ``flush()`` (or automatically after the test)."""
        expected, _ = parse_marbles(diagram, values, error)
        self._marbles._pending.append(
            lambda: describe_mismatch(diagram, expected, self.actual, values)
        )


class SubscriptionExpectation:
    def __init__(self, marbles: Marbles, subscriptions: Sequence[Subscription]) -> None:
        self._marbles = marbles
        self._subscriptions = subscriptions

    def to_be(self, *diagrams: str | Sequence[str]) -> None:
        """Expect these subscriptions, in order (``"^--!"``; several as args or a list)."""
        flat: list[str] = []
        for d in diagrams:
            flat.extend([d] if isinstance(d, str) else list(d))
        expected = [parse_subscription(d) for d in flat]
        subs = self._subscriptions
        self._marbles._pending.append(
            lambda: describe_subscription_mismatch(flat, expected, list(subs))
        )


class Marbles:
    """One virtual clock plus the marble helpers; the ``marbles`` fixture is one of these."""

    def __init__(self, max_frames: float = DEFAULT_MAX_FRAMES) -> None:
        self.scheduler = VirtualScheduler()
        self._origin = self.scheduler.now
        self._pending: list[Any] = []
        self._hots: list[HotObservable] = []
        self.max_frames = max_frames

    @property
    def frame(self) -> float:
        """Current virtual time in frames (ms) since the start."""
        return elapsed_ms(self.scheduler, self._origin)

    def at(self, frame: float) -> Any:
        return self._origin + timedelta(milliseconds=frame)

    def cold(
        self, diagram: str, values: Mapping[str, Any] | None = None, error: Any = None
    ) -> ColdObservable:
        events, _ = parse_marbles(diagram, values, error, allow_subscription=False)
        return ColdObservable(self, diagram, events)

    def hot(
        self, diagram: str, values: Mapping[str, Any] | None = None, error: Any = None
    ) -> HotObservable:
        events, _ = parse_marbles(diagram, values, error)
        hot = HotObservable(self, diagram, events)
        self._hots.append(hot)
        return hot

    def expect(
        self, observable: reactivex.Observable[Any], subscription: str | None = None
    ) -> Expectation:
        """Subscribe at ``^`` of ``subscription`` (default frame 0), unsubscribe at ``!``."""
        return Expectation(self, observable, subscription)

    def expect_subscriptions(
        self, subscriptions: Sequence[Subscription]
    ) -> SubscriptionExpectation:
        return SubscriptionExpectation(self, subscriptions)

    def time(self, diagram: str) -> float:
        """Frames (ms) until the ``|`` of ``diagram``: ``time("---|") == 3``."""
        events, _ = parse_marbles(diagram)
        for event in events:
            if event.kind == "on_completed":
                return event.frame
        raise ValueError(f"marbles.time needs a '|' to measure to: {diagram!r}")

    def duration(self, diagram: str) -> timedelta:
        """``time(diagram)`` as a timedelta, ready for reactivex operators."""
        return timedelta(milliseconds=self.time(diagram))

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> None:
        """Run virtual time until idle (or ``max_frames``), then check every expectation."""
        for hot in self._hots:
            hot._start()
        limit = self.at(self.max_frames)
        steps = 0
        while steps < _MAX_STEPS:
            due = next_due(self.scheduler)
            if due is None or due > limit:
                break
            step(self.scheduler)
            steps += 1
        checks, self._pending = self._pending, []
        failures = [msg for msg in (check() for check in checks) if msg]
        if failures:
            raise MarbleAssertionError("\n\n".join(failures))

    def discard(self) -> None:
        """Forget pending expectations (used when the test already failed)."""
        self._pending.clear()
