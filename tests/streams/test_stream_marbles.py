"""Marble assertions on operators; failing expectations are run through pytester."""

from __future__ import annotations

import pytest
import reactivex
import reactivex.operators as ops

from pytest_streamreplay.streams import MarbleAssertionError, Marbles


def _tenfold(x: int) -> int:
    return x * 10


def test_map_filter(marbles: Marbles) -> None:
    src = marbles.cold("-a-b-c-|", {"a": 1, "b": 2, "c": 3})
    result = src.pipe(ops.map(_tenfold), ops.filter(lambda x: x != 20))
    marbles.expect(result).to_be("-a---c-|", {"a": 10, "c": 30})
    marbles.expect_subscriptions(src.subscriptions).to_be("^------!")


def test_merge_of_hot_and_cold(marbles: Marbles) -> None:
    hot = marbles.hot("a-^-b---c-|")
    cold = marbles.cold("---x|")
    marbles.expect(reactivex.merge(hot, cold)).to_be("--b(x)c-|")
    marbles.expect_subscriptions(hot.subscriptions).to_be("^-------!")


def test_first_hot_marble_at_frame_zero_is_delivered(marbles: Marbles) -> None:
    marbles.expect(marbles.hot("a-b|")).to_be("a-b|")


def test_delay_and_debounce_run_on_virtual_time(marbles: Marbles) -> None:
    src = marbles.cold("a 10ms b|")
    marbles.expect(src.pipe(ops.delay(0.003))).to_be("---a 10ms b|")
    typing = marbles.cold("ab-c 20ms d|")
    marbles.expect(typing.pipe(ops.debounce(0.005))).to_be("--------c 16ms (d|)")


def test_sample_on_virtual_time(marbles: Marbles) -> None:
    src = marbles.hot("-a-b-c-d-e|")
    # reactivex's sample emits the last value at the next tick after completion.
    marbles.expect(src.pipe(ops.sample(0.004))).to_be("----b---d---(e|)")


def test_group_completion_frame_and_time(marbles: Marbles) -> None:
    marbles.expect(marbles.cold("--(abc)-|")).to_be("--(abc)-|")
    assert marbles.time("---|") == 3
    assert marbles.time("--(abc)-|") == 8
    assert marbles.duration("1.5s |").total_seconds() == 1.5


def test_unsubscription_marker_cuts_the_stream(marbles: Marbles) -> None:
    src = marbles.cold("-a-b-c-d|")
    marbles.expect(src, "^----!").to_be("-a-b-")
    marbles.expect_subscriptions(src.subscriptions).to_be("^----!")


def test_errors_compare_by_type_and_args(marbles: Marbles) -> None:
    src = marbles.cold("-a|").pipe(ops.map(lambda _: 1 // 0))
    marbles.expect(src).to_be("-#", error=ZeroDivisionError)
    marbles.expect(marbles.cold("-#", error=KeyError("k"))).to_be("-#", error=KeyError("k"))
    marbles.flush()
    marbles.expect(marbles.cold("-#", error=KeyError("k"))).to_be("-#", error=KeyError("other"))
    with pytest.raises(MarbleAssertionError, match=r"KeyError\('k'\)"):
        marbles.flush()


def test_fractional_times_are_not_truncated(marbles: Marbles) -> None:
    src = marbles.cold("a|").pipe(ops.delay(0.0005))
    marbles.expect(src).to_be(" 0.5ms a|")


def test_flush_reports_a_wrong_expectation_in_process() -> None:
    m = Marbles()
    m.expect(m.cold("--a|")).to_be("--b|")
    with pytest.raises(MarbleAssertionError) as info:
        m.flush()
    text = str(info.value)
    assert "expected  --b|" in text and "actual    --a|" in text
    assert "first difference at frame 2" in text


FAILING = """
import reactivex
import reactivex.operators as ops

def test_map_wrong(marbles):
    src = marbles.cold("-a-b-c-|", {"a": 1, "b": 2, "c": 3})
    marbles.expect(src.pipe(ops.map(lambda x: x * 10))).to_be(
        "-a-b-c-|", {"a": 10, "b": 21, "c": 30})

def test_delay_wrong(marbles):
    src = marbles.cold("a-b|")
    marbles.expect(src.pipe(ops.delay(0.002))).to_be("-a-b|")

def test_dict_diff(marbles):
    src = marbles.cold("--q|", {"q": {"price": "1.5", "size": 2}})
    marbles.expect(src).to_be("--q|", {"q": {"price": "1.6", "size": 2, "side": "buy"}})

def test_subscriptions_wrong(marbles):
    src = marbles.cold("--a--|")
    marbles.expect(src).to_be("--a--|")
    marbles.expect_subscriptions(src.subscriptions).to_be("^---!")

def test_merge_debounce_wrong(marbles):
    a = marbles.hot("-a---b|")
    b = marbles.cold("--x|")
    marbles.expect(reactivex.merge(a, b).pipe(ops.debounce(0.002))).to_be("----x--b|")
"""


def test_failing_expectations_print_aligned_diagrams(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(FAILING)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    result.assert_outcomes(failed=5)
    result.stdout.fnmatch_lines(
        [
            "*marble expectation failed: to_be('-a-b-c-|')",
            "*expected  -a-b-c-|",
            "*actual    -a-A-c-|",
            "*   ^ first difference at frame 3",
            "*expected: on_next(21) at frame 3",
            "*actual:   on_next(20) at frame 3",
            "*actual-only values: A=20",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*expected  -a-b|",
            "*actual    --a-b|",
            "*expected: on_next('a') at frame 1",
            "*actual:   on_next('a') at frame 2",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*dict diff (expected -> actual):",
            "*~ 'price': expected '1.6', actual '1.5'",
            "*- 'side': 'buy'   (missing in actual)",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*subscription expectation failed: to_be('^---!')",
            "*expected?0?  ^---!",
            "*actual?0?    ^----!",
            "*expected subscribed at 0, unsubscribed at 4; "
            "actual subscribed at 0, unsubscribed at 5",
        ]
    )
    result.stdout.fnmatch_lines(["*expected  ----x--b|", "*actual    ----x-(b|)"])
    # The failure is the test's own (call phase), not a teardown error.
    assert "error" not in result.stdout.lines[-1]


def test_docs_example_hot_debounce_and_unsubscribe(marbles: Marbles) -> None:
    ticks = marbles.hot("a-^-b---c-|")
    marbles.expect(ticks.pipe(ops.debounce(0.002))).to_be("----b---(c|)")
    marbles.expect(ticks, "^---!").to_be("--b-")
    marbles.flush()
    assert marbles.pending == 0 and marbles.frame == 8


def test_a_test_body_error_is_reported_instead_of_pending_marbles(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        """
        def test_body_error_wins(marbles):
            marbles.expect(marbles.cold("a|")).to_be("b|")
            raise RuntimeError("own failure")

        def test_correct_one_passes(marbles):
            marbles.expect(marbles.cold("a|")).to_be("a|")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    result.assert_outcomes(failed=1, passed=1, errors=0)
    result.stdout.fnmatch_lines(["*RuntimeError: own failure*"])
    assert "marble expectation failed" not in result.stdout.str()
