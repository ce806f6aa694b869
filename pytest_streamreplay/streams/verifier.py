"""Step verification in the manner of Reactor's StepVerifier, on virtual time.

A script of expected signals runs against the stream in order; the first mismatch stops it with
a message naming the step: ``expectation "expect_next(bar)" failed (expected value: bar; actual
value: baz)``. ``then_await``/``expect_no_event`` move the virtual clock, so a script about
minutes of market data runs instantly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import reactivex
from reactivex import abc

from .collect import Notification
from .scheduling import VirtualScheduler, elapsed_ms, is_virtual, run_until, step

__all__ = ["StepVerifier", "VerificationError", "verify"]

_MAX_STEPS = 10_000_000


class VerificationError(AssertionError):
    """A step of the script failed; ``step`` is its description."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f'expectation "{step}" failed ({detail})')
        self.step = step
        self.detail = detail


def _fmt(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _signal(note: Notification | None) -> str:
    if note is None:
        return "no signal (the stream went quiet)"
    if note.kind == "on_next":
        return f"on_next({_fmt(note.value)})"
    if note.kind == "on_error":
        return f"on_error({note.error!r})"
    return "on_complete()"


def _seconds(duration: float | timedelta) -> timedelta:
    return duration if isinstance(duration, timedelta) else timedelta(seconds=duration)


def _dur(delta: timedelta) -> str:
    return f"{delta.total_seconds():g}s"


@dataclass
class _Step:
    name: str
    run: Callable[[_Run], object]


class _Run:
    """The live state of one verification: received signals and the clock."""

    def __init__(self, observable: reactivex.Observable[Any], scheduler: VirtualScheduler) -> None:
        self.scheduler = scheduler
        self.start = scheduler.now
        self.buffer: deque[Notification] = deque()
        self.done = False
        self.subscription = observable.subscribe(
            self._on_next, self._on_error, self._on_completed, scheduler=scheduler
        )

    def _stamp(self) -> float:
        return elapsed_ms(self.scheduler, self.start)

    def _on_next(self, value: Any) -> None:
        self.buffer.append(Notification(self._stamp(), "on_next", value))

    def _on_error(self, error: Exception) -> None:
        self.buffer.append(Notification(self._stamp(), "on_error", error=error))

    def _on_completed(self) -> None:
        self.buffer.append(Notification(self._stamp(), "on_completed"))

    def next(self) -> Notification | None:
        """The next signal, running virtual time until one arrives (None if it never will)."""
        steps = 0
        while not self.buffer and steps < _MAX_STEPS:
            if not step(self.scheduler):
                return None
            steps += 1
        return self.buffer.popleft() if self.buffer else None

    def advance(self, duration: timedelta) -> None:
        run_until(self.scheduler, self.scheduler.now + duration)


class StepVerifier:
    """A fluent script of expectations; nothing runs until ``verify()``."""

    def __init__(
        self, observable: reactivex.Observable[Any], scheduler: abc.SchedulerBase | None = None
    ) -> None:
        if scheduler is None:
            scheduler = VirtualScheduler()
        if not is_virtual(scheduler):
            raise TypeError(
                "verify() runs on virtual time: pass a reactivex virtual-time scheduler"
            )
        self._observable = observable
        self._scheduler: Any = scheduler
        self._steps: list[_Step] = []

    @property
    def scheduler(self) -> Any:
        """The virtual scheduler; build time operators on it (or rely on the subscription's)."""
        return self._scheduler

    def _add(self, name: str, run: Callable[[_Run], object]) -> StepVerifier:
        self._steps.append(_Step(name, run))
        return self

    def expect_next(self, *values: Any) -> StepVerifier:
        name = f"expect_next({', '.join(_fmt(v) for v in values)})"

        def run(r: _Run) -> None:
            for expected in values:
                got = r.next()
                if got is None or got.kind != "on_next":
                    raise VerificationError(
                        name, f"expected: on_next({_fmt(expected)}); actual: {_signal(got)}"
                    )
                if got.value != expected:
                    raise VerificationError(
                        name, f"expected value: {_fmt(expected)}; actual value: {_fmt(got.value)}"
                    )

        return self._add(name, run)

    def expect_next_count(self, count: int) -> StepVerifier:
        name = f"expect_next_count({count})"

        def run(r: _Run) -> None:
            for seen in range(count):
                got = r.next()
                if got is None or got.kind != "on_next":
                    raise VerificationError(
                        name,
                        f"expected: count = {count}; actual: counted = {seen}; "
                        f"signal: {_signal(got)}",
                    )

        return self._add(name, run)

    def expect_next_matches(self, predicate: Callable[[Any], bool]) -> StepVerifier:
        name = "expect_next_matches"

        def run(r: _Run) -> None:
            got = r.next()
            if got is None or got.kind != "on_next":
                raise VerificationError(name, f"expected: on_next(); actual: {_signal(got)}")
            if not predicate(got.value):
                raise VerificationError(name, f"predicate failed on value: {_fmt(got.value)}")

        return self._add(name, run)

    def assert_next(self, assertion: Callable[[Any], object]) -> StepVerifier:
        name = "assert_next"

        def run(r: _Run) -> None:
            got = r.next()
            if got is None or got.kind != "on_next":
                raise VerificationError(name, f"expected: on_next(); actual: {_signal(got)}")
            try:
                assertion(got.value)
            except AssertionError as exc:
                raise VerificationError(
                    name, f"assertion failed on value: {_fmt(got.value)}: {exc}"
                ) from exc

        return self._add(name, run)

    def then_await(self, duration: float | timedelta = 0) -> StepVerifier:
        """Let ``duration`` (seconds or timedelta) of virtual time pass."""
        delta = _seconds(duration)
        return self._add(f"then_await({_dur(delta)})", lambda r: r.advance(delta))

    def expect_no_event(self, duration: float | timedelta) -> StepVerifier:
        delta = _seconds(duration)
        name = f"expect_no_event({_dur(delta)})"

        def run(r: _Run) -> None:
            r.advance(delta)
            if r.buffer:
                got = r.buffer[0]
                raise VerificationError(
                    name, f"expected: no event; actual: {_signal(got)} at {got.time:g} ms"
                )

        return self._add(name, run)

    def then(self, action: Callable[[], object]) -> StepVerifier:
        """Run ``action`` (e.g. push onto a Subject) at this point of the script."""
        return self._add("then", lambda r: action())

    def then_cancel(self) -> StepVerifier:
        def run(r: _Run) -> None:
            r.subscription.dispose()
            r.done = True

        return self._add("then_cancel", run)

    def expect_complete(self) -> StepVerifier:
        name = "expect_complete"

        def run(r: _Run) -> None:
            got = r.next()
            if got is None or got.kind != "on_completed":
                raise VerificationError(name, f"expected: on_complete(); actual: {_signal(got)}")

        return self._add(name, run)

    def expect_error(
        self, error_type: type[BaseException] = Exception, message: str | None = None
    ) -> StepVerifier:
        name = f"expect_error({error_type.__name__})"

        def run(r: _Run) -> None:
            got = r.next()
            if got is None or got.kind != "on_error":
                raise VerificationError(
                    name, f"expected: on_error({error_type.__name__}); actual: {_signal(got)}"
                )
            if not isinstance(got.error, error_type):
                raise VerificationError(
                    name, f"expected error of type: {error_type.__name__}; actual: {got.error!r}"
                )
            if message is not None and str(got.error) != message:
                raise VerificationError(
                    name, f"expected error message: {message}; actual: {got.error}"
                )

        return self._add(name, run)

    def verify(self) -> timedelta:
        """Run the script; return the virtual time it took. Raises ``VerificationError``."""
        r = _Run(self._observable, self._scheduler)
        try:
            for s in self._steps:
                s.run(r)
        finally:
            r.subscription.dispose()
        return self._scheduler.now - r.start


def verify(
    observable: reactivex.Observable[Any], *, scheduler: abc.SchedulerBase | None = None
) -> StepVerifier:
    """Start a step script: ``verify(obs).expect_next(1).expect_complete().verify()``."""
    return StepVerifier(observable, scheduler)
