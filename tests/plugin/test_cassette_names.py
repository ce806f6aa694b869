"""Explicit cassette names stay inside the cassette directory and always name a cassette file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytester_helpers import cassette_files

from pytest_streamreplay.paths import CassetteNameError, cassette_path_for


def _explicit(tmp_path: Path, name: str, **kwargs: bool) -> Path:
    return cassette_path_for(
        tmp_path / "tests" / "test_a.py",
        tmp_path,
        tmp_path / "cassettes",
        "test_x",
        None,
        explicit=name,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("shared", "cassettes/tests/test_a/shared.jsonl"),
        ("shared.jsonl", "cassettes/tests/test_a/shared.jsonl"),
        ("TestPlayer.results", "cassettes/tests/test_a/TestPlayer.results.jsonl"),
        ("v1.2", "cassettes/tests/test_a/v1.2.jsonl"),
        ("login.yaml", "cassettes/tests/test_a/login.jsonl"),
        ("login.yml", "cassettes/tests/test_a/login.jsonl"),
        ("evil_module.py", "cassettes/tests/test_a/evil_module.py.jsonl"),
        ("sub/dir/name", "cassettes/tests/test_a/sub/dir/name.jsonl"),
        ("../../common/login", "cassettes/common/login.jsonl"),
    ],
)
def test_names_resolve_to_a_cassette_file_in_the_directory(tmp_path, name, expected) -> None:
    assert _explicit(tmp_path, name) == (tmp_path / expected).resolve()


@pytest.mark.parametrize(
    "name",
    [
        "../../../../escaped.jsonl",
        "../../../tests/evil_module.py",
        "/tmp/anywhere.jsonl",
        "../../../cassettes-sibling/x",
    ],
)
def test_names_outside_the_directory_are_refused(tmp_path, name) -> None:
    with pytest.raises(CassetteNameError) as info:
        _explicit(tmp_path, name)
    message = str(info.value)
    assert name in message and "streamreplay_allow_cassette_outside" in message


def test_the_opt_in_allows_outside_but_still_names_a_cassette(tmp_path) -> None:
    outside = _explicit(tmp_path, "../../../tests/evil_module.py", allow_outside=True)
    assert outside == (tmp_path / "tests" / "evil_module.py.jsonl").resolve()
    assert _explicit(tmp_path, "/srv/c/x.yaml", allow_outside=True) == Path("/srv/c/x.jsonl")


def test_a_symlink_out_of_the_directory_is_refused(tmp_path) -> None:
    (tmp_path / "cassettes" / "tests").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "cassettes" / "tests" / "test_a").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(CassetteNameError):
        _explicit(tmp_path, "shared")


@pytest.mark.parametrize("name", ["", "a\x00b", "."])
def test_empty_or_unusable_names_are_refused(tmp_path, name) -> None:
    with pytest.raises(CassetteNameError):
        _explicit(tmp_path, name)


MARKED = """
import pytest

@pytest.mark.streamreplay(cassette={name!r})
def test_x():
    pass
"""


@pytest.mark.parametrize(
    "name", ["../../../../escaped.jsonl", "../../../tests/evil_module.py", "ABS"]
)
def test_the_marker_refuses_an_escaping_name_with_a_clear_failure(inner, name) -> None:
    absolute = inner.path.parent / f"{inner.path.name}-abs.jsonl"
    name = str(absolute) if name == "ABS" else name
    inner.makepyfile(test_names=MARKED.format(name=name))
    result = inner.runpytest("--record-mode=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*outside the cassette directory*allow_cassette_outside*"])
    target = (inner.path / "cassettes" / "test_names" / name).resolve()
    assert not target.exists() and not target.with_name(target.name + ".jsonl").exists()
    assert not absolute.exists()


def test_the_ini_opt_in_writes_outside_as_a_cassette_file(inner) -> None:
    inner.makeini("[pytest]\nstreamreplay_allow_cassette_outside = true\n")
    inner.makepyfile(test_names=MARKED.format(name="../../elsewhere/evil_module.py"))
    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    assert (inner.path / "elsewhere" / "evil_module.py.jsonl").is_file()
    assert not (inner.path / "elsewhere" / "evil_module.py").exists()


def test_dotted_and_yaml_names_get_the_cassette_suffix(inner) -> None:
    inner.makepyfile(
        test_names="""
import pytest

@pytest.mark.streamreplay(cassette="TestPlayer.results")
def test_dotted():
    pass

@pytest.mark.streamreplay(cassette="login.yaml")
def test_yaml():
    pass
"""
    )
    inner.runpytest("--record-mode=once").assert_outcomes(passed=2)
    names = [p.relative_to(inner.path).as_posix() for p in cassette_files(inner)]
    assert names == [
        "cassettes/test_names/TestPlayer.results.jsonl",
        "cassettes/test_names/login.jsonl",
    ]


VCR_NAMED = """
import os, httpx, pytest

@pytest.mark.vcr
@pytest.mark.default_cassette({name!r})
def test_x():
    assert httpx.get(os.environ["ORIGIN"] + "/x").status_code == 200
"""


@pytest.mark.parametrize("name", ["../../../escaped", "../../evil_module.py", "ABS"])
def test_a_vcr_default_cassette_name_stays_in_the_vcr_cassette_dir(
    inner, origin, monkeypatch, name
) -> None:
    monkeypatch.setenv("ORIGIN", origin.url)
    absolute = inner.path.parent / f"{inner.path.name}-vcr-abs.jsonl"
    name = str(absolute) if name == "ABS" else name
    inner.makepyfile(test_vcr_names=VCR_NAMED.format(name=name))
    result = inner.runpytest("--record-mode=once")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*outside the cassette directory*allow_cassette_outside*"])
    written = [p for p in inner.path.parent.rglob("*.jsonl") if inner.path.name in str(p)]
    assert written == [], written
    assert origin.seen == [], "nothing went out"


def test_a_vcr_default_cassette_name_inside_is_used(inner, origin, monkeypatch) -> None:
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(test_vcr_names=VCR_NAMED.format(name="shared/login"))
    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    assert (inner.path / "cassettes" / "test_vcr_names" / "shared" / "login.jsonl").is_file()


USE_CASSETTE = """
import os, httpx
from pytest_streamreplay.harness import use_cassette

def test_x(tmp_path):
    with use_cassette(os.environ["TARGET"], record_mode="once"):
        assert httpx.get(os.environ["ORIGIN"] + "/x").status_code == 200
"""


def test_use_cassette_always_writes_a_cassette_file(inner, origin, monkeypatch) -> None:
    """use_cassette's path is the program's choice (any folder), but never a module: a
    ``.py`` name gets the cassette suffix as a marker's does."""
    monkeypatch.setenv("ORIGIN", origin.url)
    monkeypatch.setenv("TARGET", str(inner.path / "evil_module.py"))
    inner.makepyfile(test_use=USE_CASSETTE)
    inner.runpytest().assert_outcomes(passed=1)
    assert not (inner.path / "evil_module.py").exists()
    assert (inner.path / "evil_module.py.jsonl").is_file()
