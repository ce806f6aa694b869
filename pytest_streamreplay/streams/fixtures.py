"""pytest fixtures of the stream tools; plugin.py re-exports everything in ``__all__``.

``marbles`` checks its pending expectations right after the test function returns (so a wrong
diagram is a test *failure*, not a teardown error); ``stream_snapshot`` is syrupy's ``snapshot``
with the timeline extension. Nothing here imports reactivex or syrupy until a test asks for
one of the fixtures: the plugin registers them at start-up.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .marbles import Marbles

__all__ = ["marbles", "pytest_pyfunc_call", "stream_snapshot"]


@pytest.fixture
def marbles() -> Iterator[Marbles]:
    """A fresh virtual clock with ``cold``/``hot``/``expect``/``flush`` for this test."""
    from .marbles import Marbles

    tester = Marbles()
    yield tester
    # Normally flushed (or, after an exception, discarded) by pytest_pyfunc_call below; if
    # that hook did not run, check here so no expectation is silently skipped.
    if tester.pending:
        tester.flush()


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
    """After a test using ``marbles`` returns, flush it so mismatches fail the test itself."""
    tester = pyfuncitem.funcargs.get("marbles")
    if tester is None:  # every test passes here: the common case costs one lookup
        return (yield)
    from .marbles import MarbleAssertionError, Marbles

    try:
        result = yield
    except BaseException:
        # The test body's own error is the one worth reading.
        if isinstance(tester, Marbles):
            tester.discard()
        raise
    if isinstance(tester, Marbles) and tester.pending:
        failure = None
        try:
            tester.flush()
        except MarbleAssertionError as exc:
            failure = str(exc)
        if failure is not None:
            # The diagrams are the whole story: no traceback into the toolkit.
            pytest.fail(failure, pytrace=False)
    return result


@pytest.fixture
def stream_snapshot(snapshot: Any) -> Any:
    """syrupy's ``snapshot`` rendering notification lists as a timeline (one line each)."""
    from .snapshot import StreamSnapshotExtension

    return snapshot.use_extension(StreamSnapshotExtension)
