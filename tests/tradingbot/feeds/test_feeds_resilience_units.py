"""Backoff, circuit breaker and rate limiter, on fake clocks."""

from __future__ import annotations

import asyncio
import random

import pytest

from tradingbot.feeds.resilience import Backoff, BreakerState, CircuitBreaker, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_backoff_grows_caps_and_jitters() -> None:
    plain = Backoff(initial=0.5, maximum=4.0, multiplier=2.0, jitter=0.0)
    assert [plain.delay(a) for a in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    jittered = Backoff(initial=1.0, maximum=8.0, jitter=0.5, rng=random.Random(1))
    delays = [jittered.delay(3) for _ in range(200)]
    assert all(4.0 <= d <= 8.0 for d in delays)
    assert len(set(delays)) > 150, "jitter spreads clients apart"
    with pytest.raises(ValueError):
        Backoff(initial=0)
    with pytest.raises(ValueError):
        Backoff(jitter=2)


def test_breaker_opens_after_threshold_and_half_opens_after_timeout() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=10.0, clock=clock)
    assert breaker.allow() and breaker.state is BreakerState.CLOSED
    assert not breaker.record_failure() and not breaker.record_failure()
    assert breaker.record_failure()  # third in a row opens it
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    assert breaker.remaining() == pytest.approx(10.0)
    clock.t += 10.0
    assert breaker.state is BreakerState.HALF_OPEN and breaker.allow()
    assert breaker.record_failure(), "a failed trial re-opens at once"
    assert not breaker.allow()
    clock.t += 10.0
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.failures == 0
    assert not breaker.record_failure(), "success reset the count"


def test_rate_limiter_bucket() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=10.0, burst=2, clock=clock)
    assert limiter.reserve() == 0.0 and limiter.reserve() == 0.0
    assert limiter.reserve() == pytest.approx(0.1)
    assert limiter.reserve() == pytest.approx(0.2)
    clock.t += 1.0  # refills, but never above the burst
    assert limiter.reserve() == 0.0 and limiter.reserve() == 0.0
    assert limiter.reserve() > 0


def test_rate_limiter_acquire_waits() -> None:
    limiter = RateLimiter(rate=50.0, burst=1)

    async def three() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for _ in range(3):
            await limiter.acquire()
        return loop.time() - start

    assert asyncio.run(three()) >= 0.035
