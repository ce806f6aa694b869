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


def test_importing_the_plugin_does_not_import_mitmproxy() -> None:
    code = (
        "import sys, pytest_streamreplay.plugin, pytest_streamreplay.harness;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mitmproxy', 'vcr')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent,
    )
    assert out.stdout.strip() == "[]"
