"""A project that turns warnings into errors runs marked tests unchanged, and nobody's summary
gets mitmproxy's third-party deprecation warnings.

Subprocess runs: the inline runs share this process's already-imported mitmproxy, so its import
warnings would never fire there.
"""

from __future__ import annotations

import pytest

TEST = """
import os, httpx, pytest

@pytest.mark.streamreplay
def test_tls():
    assert b"uuid" in httpx.get(os.environ["ORIGIN"] + "/a?x=1").content
"""

# pytest-asyncio (a dev dependency, loaded in the inner runs) warns when this is unset.
INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


@pytest.mark.parametrize("how", ["ini", "-W error", "PYTHONWARNINGS", "default"])
def test_warnings_as_errors_and_no_third_party_warnings(
    inner, tls_origin, origin_cert, monkeypatch, how
) -> None:
    monkeypatch.setenv("ORIGIN", tls_origin.url)
    inner.makepyfile(test_api=TEST)
    args: list[str] = []
    inner.makefile(".ini", pytest=INI + ("filterwarnings =\n    error\n" if how == "ini" else ""))
    if how == "-W error":
        args = ["-W", "error"]
    elif how == "PYTHONWARNINGS":  # the interpreter's own filters, from its start
        monkeypatch.setenv("PYTHONWARNINGS", "error")

    recorded = inner.runpytest_subprocess(
        *args, "--record-mode=once", f"--upstream-ca={origin_cert[0]}"
    )
    replayed = inner.runpytest_subprocess(*args, "--replay-strict")
    for result in (recorded, replayed):
        text = result.stdout.str()
        assert "DeprecationWarning" not in text, text
        assert "warnings summary" not in text, text
        result.assert_outcomes(passed=1)
    assert len(tls_origin.seen) == 1
