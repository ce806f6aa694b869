"""StepVerifier scripts: passing scripts return virtual time, failures name the step."""

from __future__ import annotations

from datetime import timedelta

import pytest
import reactivex
import reactivex.operators as ops
from reactivex.subject import Subject

from pytest_streamreplay.streams import VerificationError, verify


def test_a_passing_script_returns_elapsed_virtual_time() -> None:
    stream = reactivex.interval(30.0).pipe(ops.map(lambda i: f"bar{i}"), ops.take(4))
    elapsed = (
        verify(stream)
        .expect_no_event(29.0)
        .expect_next("bar0")
        .expect_next_count(2)
        .expect_next_matches(lambda v: v.endswith("3"))
        .expect_complete()
        .verify()
    )
    assert elapsed == timedelta(seconds=120)


def test_mismatch_message_names_the_step() -> None:
    with pytest.raises(VerificationError) as info:
        verify(reactivex.of("foo", "baz")).expect_next("foo").expect_next("bar").verify()
    assert str(info.value) == (
        'expectation "expect_next(bar)" failed (expected value: bar; actual value: baz)'
    )
    assert info.value.step == "expect_next(bar)"


def test_complete_instead_of_value() -> None:
    with pytest.raises(
        VerificationError,
        match=r'"expect_next_count\(3\)" failed \(expected: count = 3; actual: counted = 1; '
        r"signal: on_complete\(\)\)",
    ):
        verify(reactivex.of(1)).expect_next_count(3).verify()


def test_expect_complete_sees_an_extra_value() -> None:
    with pytest.raises(
        VerificationError,
        match=r'"expect_complete" failed \(expected: on_complete\(\); actual: on_next\(2\)\)',
    ):
        verify(reactivex.of(1, 2)).expect_next(1).expect_complete().verify()


def test_expect_error_type_and_message() -> None:
    failing = reactivex.throw(ValueError("bad tick"))
    verify(failing).expect_error(ValueError, "bad tick").verify()
    with pytest.raises(VerificationError, match="expected error of type: KeyError"):
        verify(failing).expect_error(KeyError).verify()


def test_expect_no_event_fails_when_something_arrives() -> None:
    stream = reactivex.timer(1.0)
    with pytest.raises(
        VerificationError, match=r'"expect_no_event\(2s\)" failed .*on_next\(0\) at 1000 ms'
    ):
        verify(stream).expect_no_event(2.0).verify()


def test_then_await_then_cancel_and_assert_next() -> None:
    ticks = reactivex.interval(1.0)
    elapsed = (
        verify(ticks)
        .then_await(timedelta(seconds=2.5))
        .expect_next(0, 1)
        .assert_next(lambda v: None if v == 2 else pytest.fail("not 2"))
        .then_cancel()
        .verify()
    )
    assert elapsed == timedelta(seconds=3)
    with pytest.raises(
        VerificationError, match=r'"assert_next" failed \(assertion failed on value: 0'
    ):

        def check(v: int) -> None:
            assert v == 5, "want 5"

        verify(ticks).assert_next(check).verify()


def test_quiet_stream_is_reported_not_hung() -> None:
    subject: Subject[int] = Subject()
    with pytest.raises(VerificationError, match="no signal"):
        verify(subject).expect_next(1).verify()


def test_then_pushes_onto_a_subject_mid_script() -> None:
    subject: Subject[int] = Subject()
    verify(subject).then(lambda: subject.on_next(7)).expect_next(7).then_cancel().verify()


def test_real_time_scheduler_is_refused() -> None:
    from reactivex.scheduler import TimeoutScheduler

    with pytest.raises(TypeError, match="virtual"):
        verify(reactivex.of(1), scheduler=TimeoutScheduler.singleton())
