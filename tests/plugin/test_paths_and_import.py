"""Cassette naming, and the promise that an unused plugin costs no mitmproxy import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pytest_streamreplay.paths import cassette_path_for, safe_name


def test_default_path_mirrors_the_test_file_and_keeps_parametrize_ids(tmp_path) -> None:
    path = cassette_path_for(
        tmp_path / "tests" / "api" / "test_book.py",
        tmp_path,
        tmp_path / "cassettes",
        "test_depth[BTC-USD-10]",
        "TestBook",
    )
    assert path == tmp_path / "cassettes/tests/api/test_book/TestBook.test_depth[BTC-USD-10].jsonl"
    explicit = cassette_path_for(
        tmp_path / "tests" / "test_a.py",
        tmp_path,
        tmp_path / "cassettes",
        "test_x",
        None,
        explicit="shared",
    )
    assert explicit == tmp_path / "cassettes/tests/test_a/shared.jsonl"


def test_unsafe_characters_and_long_names() -> None:
    assert safe_name('test_x[a/b:c*"d"]') == "test_x[a_b_c__d_]"
    long_a, long_b = "test_" + "a" * 300, "test_" + "a" * 299 + "b"
    assert len(safe_name(long_a)) == 120
    assert safe_name(long_a) != safe_name(long_b), "a hash of the full name keeps them apart"
    assert safe_name(long_a) == safe_name(long_a)


def _fresh(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent,
    )
    return out.stdout.strip()


def test_importing_the_plugin_does_not_import_mitmproxy() -> None:
    code = (
        "import sys, pytest_streamreplay.plugin, pytest_streamreplay.harness;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mitmproxy', 'vcr')))"
    )
    assert _fresh(code) == "[]"


def test_the_unused_plugin_imports_no_stream_tools_or_library() -> None:
    """What pytest loads at start-up for every run, marked tests or not (docs/benchmarks.md)."""
    code = (
        "import sys, pytest\n"
        "before = set(sys.modules)\n"
        "import pytest_streamreplay.plugin\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "ours = {m for m in set(sys.modules) - before if m.startswith('pytest_streamreplay.')}\n"
        "print(sorted(new & {'mitmproxy', 'reactivex', 'syrupy', 'rich', 'orjson', 'asyncio'}))\n"
        "print(sorted(ours))\n"
    )
    heavy, ours = _fresh(code).splitlines()
    assert heavy == "[]"
    assert "pytest_streamreplay.harness" not in ours
    assert "pytest_streamreplay.session" not in ours


def test_the_stream_names_still_import_on_use() -> None:
    code = (
        "import pytest_streamreplay as sr, pytest_streamreplay.streams as st\n"
        "assert set(st.__all__) <= set(dir(st))\n"
        "print(sr.Marbles.__module__, st.cassette_stream.__module__)\n"
    )
    assert _fresh(code).split() == [
        "pytest_streamreplay.streams.marbles.testing",
        "pytest_streamreplay.streams.cassette_stream",
    ]


def test_functions_named_like_their_module_stay_functions() -> None:
    """``collect`` and ``cassette_stream`` live in modules of the same name; importing those
    modules first (as other stream modules do) must not replace the functions."""
    code = (
        "import pytest_streamreplay.streams.events, pytest_streamreplay.streams.collect\n"
        "import pytest_streamreplay.streams.cassette_stream\n"
        "from pytest_streamreplay.streams import collect, cassette_stream\n"
        "import pytest_streamreplay as sr\n"
        "print(callable(collect), callable(cassette_stream), callable(sr.collect))\n"
    )
    assert _fresh(code) == "True True True"


def test_record_mode_choices_match_the_library() -> None:
    from pytest_streamreplay.session import RecordMode
    from pytest_streamreplay.vcr_compat import RECORD_MODES

    assert list(RECORD_MODES) == [m.value for m in RecordMode]


UNUSED_RUN = """
import sys

def test_plain():
    loaded = sorted(m for m in sys.modules if m.startswith("pytest_streamreplay."))
    print("LOADED", " ".join(loaded))
"""


def test_a_run_without_marked_tests_loads_no_library(inner) -> None:
    """The whole run, not just the import: pytest-recording's interface (served when it is not
    installed) must not load the cassette library at start-up either (~45 ms)."""
    inner.makepyfile(test_plain=UNUSED_RUN)
    result = inner.runpytest_subprocess("-s", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    line = next(line for line in result.outlines if "LOADED" in line)
    loaded = line.split("LOADED", 1)[1].split()
    assert "pytest_streamreplay.vcr_plugin" in loaded  # the interface is served...
    assert not {"pytest_streamreplay.harness", "pytest_streamreplay.session"} & set(loaded)


def test_an_unmarked_test_sets_up_only_the_autouse_fixtures(inner) -> None:
    """Each fixture set up costs every test of a run: the vcr interface's autouse fixtures ask
    for their dependencies only when a test is marked (or --block-network is on)."""
    inner.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = inner.runpytest("--setup-plan", "-p", "no:randomly")
    plan = "\n".join(result.outlines)
    for name in ("vcr_markers", "record_mode", "disable_recording", "vcr_cassette_dir"):
        assert f"SETUP    F {name}" not in plan and f" {name}" not in plan, name
    assert "SETUP    F vcr" in plan and "SETUP    F block_network" in plan, plan
