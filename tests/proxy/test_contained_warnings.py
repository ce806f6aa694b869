"""Warnings of a contained thread are dropped; every other thread's pass unchanged."""

from __future__ import annotations

import threading
import warnings

import pytest

from pytest_streamreplay.proxy import contained_warnings
from pytest_streamreplay.proxy.contained_warnings import contained, install, uninstall


def _deprecated() -> None:
    warnings.warn("old api", DeprecationWarning, stacklevel=2)


def test_contained_block_drops_even_under_error_filters(caplog) -> None:
    caplog.set_level("DEBUG", logger="pytest_streamreplay.proxy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with contained():
            _deprecated()  # would raise outside the block
        with pytest.raises(DeprecationWarning):
            _deprecated()
    assert "contained warning: DeprecationWarning: old api" in caplog.text


def test_other_threads_keep_their_warnings_and_stack_level() -> None:
    install()
    try:
        ready, done = threading.Event(), threading.Event()

        def proxy_like() -> None:
            with contained():
                ready.set()
                done.wait(5)
                _deprecated()

        thread = threading.Thread(target=proxy_like)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            thread.start()
            ready.wait(5)
            _deprecated()  # this thread: not contained while the other one is
            done.set()
            thread.join(5)
        assert [str(w.message) for w in seen] == ["old api"]
        assert seen[0].filename == __file__, "attributed to the caller, as stacklevel=2 says"
    finally:
        uninstall()
    assert warnings.warn is not contained_warnings._warn, "uninstall restores the original"
