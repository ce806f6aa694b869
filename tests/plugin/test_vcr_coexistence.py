"""pytest-recording installed beside this plugin: pytest starts in either load order, on pytest 8
and 9, each plugin handles its own marker, and the header says which handles which.

pytest-recording is installed into a folder of its own and given to subprocess runs through
PYTHONPATH, so the rest of the suite never sees it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT = """
import os, requests, pytest

@pytest.mark.vcr
def test_with_vcr(vcr):
    assert type(vcr).__module__ == "vcr.cassette", "pytest-recording yields vcrpy's cassette"
    assert requests.get(os.environ["ORIGIN"] + "/v").status_code == 200

@pytest.mark.streamreplay
def test_with_streamreplay(streamreplay):
    assert streamreplay.cassette_path.suffix == ".jsonl"
    assert requests.get(os.environ["ORIGIN"] + "/s").status_code == 200
"""

ORDERS = {
    "entry points": (),
    "-p streamreplay -p recording": ("-p", "streamreplay", "-p", "recording"),
    "-p recording -p streamreplay": ("-p", "recording", "-p", "streamreplay"),
}


@pytest.mark.parametrize("pytest_major", [9, 8])
@pytest.mark.parametrize("order", list(ORDERS))
def test_both_installed_start_and_split_the_markers(
    inner: pytest.Pytester,
    origin,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    recording_site: Path,
    order: str,
    pytest_major: int,
) -> None:
    path = [str(recording_site)]
    if pytest_major == 8:
        path.insert(0, str(request.getfixturevalue("old_pytest_site")))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(path))
    monkeypatch.setenv("ORIGIN", origin.url)
    if ORDERS[order]:
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    inner.makepyfile(test_both=PROJECT)

    result = inner.runpytest_subprocess(*ORDERS[order], "--record-mode=once", timeout=240)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            f"platform * pytest-{pytest_major}.*",
            "streamreplay: pytest-recording 0.* is installed and handles @pytest.mark.vcr, "
            "vcr_config and --block-network (through vcrpy); pytest-streamreplay handles "
            "@pytest.mark.streamreplay*",
        ],
        consecutive=False,
    )
    folder = inner.path / "cassettes" / "test_both"
    assert sorted(p.name for p in folder.iterdir()) == [
        "test_with_streamreplay.jsonl",
        "test_with_vcr.yaml",
    ]
    assert len(origin.seen) == 2

    origin.stop()  # both replay offline, each from its own cassette
    result = inner.runpytest_subprocess(*ORDERS[order], timeout=240)
    result.assert_outcomes(passed=2)


def test_installed_but_disabled_pytest_recording_leaves_the_interface_here(
    inner: pytest.Pytester, origin, monkeypatch: pytest.MonkeyPatch, recording_site: Path
) -> None:
    """``-p no:recording``: pytest-recording is importable but not loaded; this plugin serves
    @pytest.mark.vcr and the options (decided after the plugins load, not by importability)."""
    monkeypatch.setenv("PYTHONPATH", str(recording_site))
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(
        test_vcr="""
import os, requests, pytest

@pytest.mark.vcr
def test_with_vcr(vcr):
    assert vcr.cassette_path.name == "test_with_vcr.jsonl"
    assert requests.get(os.environ["ORIGIN"] + "/v").status_code == 200
"""
    )
    result = inner.runpytest_subprocess(
        "-p", "no:recording", "--record-mode=once", "--block-network", timeout=240
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["streamreplay: @pytest.mark.streamreplay and pytest-recording's*"])
    assert (inner.path / "cassettes" / "test_vcr" / "test_with_vcr.jsonl").exists()


VCR_ONLY = """
import os, requests, pytest

@pytest.mark.vcr
def test_with_vcr(vcr):
    assert vcr.cassette_path.name == "test_with_vcr.jsonl"
    assert requests.get(os.environ["ORIGIN"] + "/v").status_code == 200
"""


def test_loaded_from_a_conftest_with_pytest_recording_importable(
    inner: pytest.Pytester, origin, monkeypatch: pytest.MonkeyPatch, recording_site: Path
) -> None:
    """``pytest_plugins = ["pytest_streamreplay.plugin"]`` in a root conftest, autoload off:
    the plugin comes in while the initial conftests load, after the moment it otherwise waits
    for to see whether pytest-recording loads; the shared options and the vcr interface must be
    there all the same."""
    monkeypatch.setenv("PYTHONPATH", str(recording_site))
    monkeypatch.setenv("ORIGIN", origin.url)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    inner.makeconftest('pytest_plugins = ["pytest_streamreplay.plugin"]\n')
    inner.makepyfile(test_vcr=VCR_ONLY)
    result = inner.runpytest_subprocess("--record-mode=once", "--block-network", timeout=240)
    result.assert_outcomes(passed=1)
    assert (inner.path / "cassettes" / "test_vcr" / "test_with_vcr.jsonl").exists()
    origin.stop()
    replayed = inner.runpytest_subprocess("--replay-strict", "--block-network", timeout=240)
    replayed.assert_outcomes(passed=1)
