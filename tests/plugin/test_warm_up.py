"""The proxy starts during collection when a collected test will need it, and only then."""

from __future__ import annotations

WARM = """
import threading, pytest
from pytest_streamreplay.harness import runtime

def test_a_first_unmarked_test():
    # Collection is over: the warm-up thread is running or has already started the proxy.
    names = [t.name for t in threading.enumerate()]
    assert "streamreplay-warm-up" in names or runtime().started, names

@pytest.mark.streamreplay(record_mode="all")
def test_b_marked():
    assert runtime().started
"""

COLD = """
import threading
from pytest_streamreplay.harness import runtime

def test_unmarked():
    names = [t.name for t in threading.enumerate()]
    assert "streamreplay-warm-up" not in names and not runtime().started, names
"""


def test_warm_up_starts_during_collection_when_a_test_is_marked(inner) -> None:
    inner.makepyfile(test_api=WARM)
    inner.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_no_warm_up_without_marked_tests_or_with_collect_only(inner) -> None:
    inner.makepyfile(test_api=COLD)
    inner.runpytest("-p", "no:randomly").assert_outcomes(passed=1)
    inner.makepyfile(test_marked=WARM)
    result = inner.runpytest("-p", "no:randomly", "--collect-only", "-q")
    assert result.ret == 0
    inner.makepyfile(test_api=COLD)
    inner.runpytest("-p", "no:randomly", "test_api.py").assert_outcomes(passed=1)
