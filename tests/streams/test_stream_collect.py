"""Collectors on virtual time, real time and async iterators."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import reactivex
import reactivex.operators as ops
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from pytest_streamreplay.streams import (
    CollectTimeout,
    Notification,
    VirtualScheduler,
    collect,
    collect_notifications,
)


def test_collect_values_on_virtual_time_advances_the_clock() -> None:
    s = VirtualScheduler()
    stream = reactivex.interval(60.0).pipe(ops.take(3))
    assert collect(stream, scheduler=s) == [0, 1, 2]
    assert s.now_ms == 180_000


def test_collect_notifications_records_exact_times_on_a_test_scheduler() -> None:
    s = TestScheduler()
    stream = reactivex.timer(0.0125).pipe(ops.flat_map(lambda _: reactivex.of("x")))
    notes = collect_notifications(stream, scheduler=s)
    assert notes == [
        Notification(12.5, "on_next", "x"),
        Notification(12.5, "on_completed"),
    ]


def test_errors_are_recorded_by_type_and_args_and_reraised_by_collect() -> None:
    s = VirtualScheduler()

    def inverse(x: int) -> int:
        return 1 // x

    stream = reactivex.from_iterable([1, 0]).pipe(ops.map(inverse))
    notes = collect_notifications(stream, scheduler=s)
    assert notes[-1] == Notification(
        0.0, "on_error", error=ZeroDivisionError("integer division or modulo by zero")
    )
    with pytest.raises(ZeroDivisionError):
        collect(stream, scheduler=s)


def test_count_stops_an_endless_stream() -> None:
    s = VirtualScheduler()
    assert collect(reactivex.interval(1.0), count=4, scheduler=s) == [0, 1, 2, 3]


def test_virtual_timeout_says_how_many_arrived() -> None:
    s = VirtualScheduler()
    with pytest.raises(
        CollectTimeout,
        match=r"timed out after 2.5 s of virtual time.*received 2 item\(s\): \[0, 1\]",
    ):
        collect(reactivex.interval(1.0), timeout=2.5, scheduler=s)


def test_quiet_stream_on_virtual_time_fails_instead_of_hanging() -> None:
    s = VirtualScheduler()
    subject: Subject[int] = Subject()
    with pytest.raises(CollectTimeout, match="went quiet"):
        collect(subject, scheduler=s)


def test_real_time_collect_and_timeout() -> None:
    assert collect(reactivex.timer(0.01).pipe(ops.map(lambda _: "t"))) == ["t"]
    never: Subject[int] = Subject()
    with pytest.raises(CollectTimeout, match=r"timed out after 0.05 s.*received 0"):
        collect(never, timeout=0.05)
    assert isinstance(CollectTimeout("x", []), AssertionError)


async def _numbers(n: int) -> AsyncIterator[int]:
    for i in range(n):
        await asyncio.sleep(0)
        yield i


def test_async_iterators_are_run_to_completion() -> None:
    from pytest_streamreplay.streams import acollect

    assert asyncio.run(acollect(_numbers(4), count=2)) == [0, 1]
    assert collect(_numbers(5)) == [0, 1, 2, 3, 4]
    notes = collect_notifications(_numbers(2))
    assert [n.kind for n in notes] == ["on_next", "on_next", "on_completed"]
    assert collect(_numbers(100), count=3) == [0, 1, 2]


@pytest.mark.asyncio
async def test_collect_works_inside_a_running_loop() -> None:
    assert collect(_numbers(3)) == [0, 1, 2]


async def _slow() -> AsyncIterator[int]:
    yield 1
    await asyncio.sleep(5)
    yield 2


def test_async_timeout() -> None:
    with pytest.raises(CollectTimeout, match=r"received 1 item"):
        collect(_slow(), timeout=0.05)
