"""Resilience building blocks: jittered backoff, a circuit breaker, a token-bucket rate limiter.

Kept free of I/O and of the wall clock (each takes a ``clock``) so their behaviour is tested
exactly, and shared by the REST and websocket feeds.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Backoff", "BreakerState", "CircuitBreaker", "CircuitOpenError", "RateLimiter"]

Clock = Callable[[], float]


@dataclass
class Backoff:
    """Exponential backoff with jitter: ``initial * multiplier**attempt``, capped at ``maximum``.

    ``jitter`` is the fraction of the delay that is randomised (0: none, 1: "full jitter"), so
    many clients that lost the same server do not come back in lockstep.
    """

    initial: float = 0.5
    maximum: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum < self.initial or self.multiplier < 1:
            raise ValueError("need 0 < initial <= maximum and multiplier >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be within [0, 1]")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        base = min(self.maximum, self.initial * self.multiplier ** max(0, attempt))
        return base * (1 - self.jitter) + base * self.jitter * self.rng.random()


class BreakerState(StrEnum):
    """Closed: calls go through. Open: calls fail fast. Half-open: one trial call."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(RuntimeError):
    """Raised instead of calling a dependency whose circuit is open."""


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures; retries after ``reset_timeout``.

    Why: a venue that is down should not be hammered by reconnects; the breaker turns a storm
    of attempts into one trial per ``reset_timeout``. Thread-safe.
    """

    def __init__(
        self, failure_threshold: int = 5, reset_timeout: float = 30.0, clock: Clock = time.monotonic
    ) -> None:
        if failure_threshold < 1 or reset_timeout < 0:
            raise ValueError("need failure_threshold >= 1 and reset_timeout >= 0")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def failures(self) -> int:
        """Consecutive failures so far."""
        return self._failures

    @property
    def state(self) -> BreakerState:
        """The current state (open turns half-open once ``reset_timeout`` has passed)."""
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.reset_timeout:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def remaining(self) -> float:
        """Seconds until an open breaker lets a trial through (0 when not open)."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self.reset_timeout - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """Whether a call may go ahead now."""
        with self._lock:
            return self._state() is not BreakerState.OPEN

    def record_success(self) -> None:
        """A call worked: close the breaker."""
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def record_failure(self) -> bool:
        """A call failed. Returns True when this failure opened (or re-opened) the breaker."""
        with self._lock:
            self._failures += 1
            half_open = self._state() is BreakerState.HALF_OPEN
            if half_open or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
                return True
            return False


class RateLimiter:
    """Token bucket: ``rate`` calls per second on average, bursts of up to ``burst``.

    Why: the indexer rate-limits per IP; waiting locally is cheaper than a 429 and a retry.
    """

    def __init__(self, rate: float = 10.0, burst: int = 10, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("need rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take a token; return how long the caller must wait before using it (0: now)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1
            if self._tokens >= 0:
                return 0.0
            return -self._tokens / self.rate

    async def acquire(self) -> float:
        """Wait (asyncio) for a token; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)
        return wait
