"""The settings table (``pytest_streamreplay.options``) is the one source: the docs table, the
marker's keywords and help line, ``Settings`` and ``use_cassette``'s keywords agree with it.
Fast: no pytest run inside (tests/plugin/test_settings_registered.py checks what pytest
registers)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from pytest_streamreplay import options
from pytest_streamreplay.cassette.matching import DEFAULT_MATCH_ON
from pytest_streamreplay.harness import use_cassette
from pytest_streamreplay.playback import Speed
from pytest_streamreplay.session import RecordMode
from pytest_streamreplay.settings import (
    DERIVED_FIELDS,
    MARKER_KWARGS,
    PARSERS,
    settings_fields,
)

DOCS = Path(__file__).parents[1] / "docs" / "configuration.md"
REGENERATE = "python -m pytest_streamreplay.options --update docs/configuration.md"


def test_the_docs_table_is_the_code_table() -> None:
    documented = options.docs_section(DOCS.read_text(encoding="utf-8"))
    assert documented == options.markdown_table(), f"docs/configuration.md is stale: {REGENERATE}"


def test_a_stale_docs_table_is_found_and_rewritten(tmp_path: Path) -> None:
    page = tmp_path / "configuration.md"
    page.write_text(
        f"# x\n\n{options.DOCS_START}\n| old | table |\n{options.DOCS_END}\n\nafter\n",
        encoding="utf-8",
    )
    assert options.docs_section(page.read_text()) != options.markdown_table()
    assert options.update_docs(page) is True
    text = page.read_text()
    assert options.docs_section(text) == options.markdown_table()
    assert text.startswith("# x\n\n") and text.endswith("\n\nafter\n")
    assert options.update_docs(page) is False
    page.write_text("# no markers\n")
    with pytest.raises(ValueError, match="settings-table:start"):
        options.update_docs(page)


def test_every_setting_is_in_the_docs_table_once() -> None:
    rows = [line for line in options.markdown_table().splitlines()[2:]]
    assert [row.split(" | ")[0].strip("| ") for row in rows] == [s.name for s in options.SETTINGS]
    for s in options.SETTINGS:
        row = rows[[x.name for x in options.SETTINGS].index(s.name)]
        for place in (s.option, s.ini, s.marker, s.use_cassette):
            if place is not None:
                assert f"`{place}" in row, (s.name, place)


def test_each_setting_is_consistent() -> None:
    names = [s.name for s in options.SETTINGS]
    assert len(names) == len(set(names))
    for s in options.SETTINGS:
        assert s.option or s.ini or s.marker or s.use_cassette, f"{s.name} cannot be set"
        # test scope <=> a marker may change it per test
        assert (s.scope == "test") == (s.marker is not None), s.name
        if s.choices is not None:
            assert s.default in s.choices, s.name
        if s.kind == "bool":
            assert isinstance(s.default, bool), s.name
    flags = [s.option for s in options.SETTINGS if s.option]
    inis = [s.ini for s in options.SETTINGS if s.ini]
    assert len(flags) == len(set(flags)) and len(inis) == len(set(inis))
    assert all(key.startswith("streamreplay_") for key in inis)


def test_the_marker_takes_the_table_keywords() -> None:
    assert options.marker_keywords() == MARKER_KWARGS
    assert MARKER_KWARGS[0] == "cassette"
    signature = options.marker_help().split(":")[0]
    assert (
        signature
        == "streamreplay("
        + ", ".join(["cassette=None", "*", *(f"{kw}=None" for kw in MARKER_KWARGS[1:])])
        + ")"
    )


def test_settings_fields_are_the_table_test_and_run_entries() -> None:
    entries = {s.name for s in options.SETTINGS if s.scope in ("test", "run")}
    assert settings_fields() == entries | set(DERIVED_FIELDS)
    assert set(DERIVED_FIELDS.values()) <= entries
    adds_up = {s.name for s in options.SETTINGS if s.adds_up}
    assert set(PARSERS) == entries - adds_up


def _parsed(setting: options.Setting) -> object:
    """The table's default in the form use_cassette's parameter holds it."""
    if setting.name == "record_mode":
        return RecordMode(setting.default)
    if setting.name == "speed":
        return Speed.parse(setting.default)
    return setting.default


def test_use_cassette_takes_the_table_keywords_with_its_defaults() -> None:
    parameters = {
        name: p
        for name, p in inspect.signature(use_cassette).parameters.items()
        if p.kind is not inspect.Parameter.VAR_KEYWORD
    }
    assert list(parameters) == list(options.use_cassette_keywords())
    for s in options.SETTINGS:
        if s.use_cassette is None or s.use_cassette == "path":
            continue
        default = parameters[s.use_cassette].default
        assert _parsed(s) == (Speed.parse(default) if s.name == "speed" else default), s.name


def test_the_spelled_out_constants_match_the_library() -> None:
    assert tuple(m.value for m in RecordMode) == options.RECORD_MODES
    assert options.DEFAULT_MATCH_ON == DEFAULT_MATCH_ON
    from pytest_streamreplay.paths import ALLOW_OUTSIDE_INI

    assert options.by_name("allow_cassette_outside").ini == ALLOW_OUTSIDE_INI


def test_the_command_prints_and_updates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert options.main(["--markdown"]) == 0
    assert capsys.readouterr().out == options.markdown_table()
    page = tmp_path / "c.md"
    page.write_text(f"{options.DOCS_START}\n{options.DOCS_END}\n")
    assert options.main(["--update", str(page)]) == 0
    assert "updated" in capsys.readouterr().out
    assert options.main([]) == 2


PAGES = [*sorted((DOCS.parent).glob("*.md")), DOCS.parents[1] / "README.md"]


def test_the_docs_name_only_settings_that_exist() -> None:
    """Prose elsewhere in the docs (ini keys, marker and use_cassette keywords in examples)
    names only what the table has: a renamed or removed setting leaves no stale mention."""
    ini = {s.ini for s in options.SETTINGS if s.ini}
    marker = set(options.marker_keywords())
    keywords = set(options.use_cassette_keywords())
    stale: list[str] = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for key in re.findall(r"(?<![\w.])streamreplay_\w+", text):
            if key not in ini:
                stale.append(f"{page.name}: ini {key}")
        for args in re.findall(r"mark\.streamreplay\(([^)]*)\)", text):
            stale += [f"{page.name}: marker {k}=" for k in _keywords(args) if k not in marker]
        for args in re.findall(r"use_cassette\(([^)]*)\)", text):
            stale += [
                f"{page.name}: use_cassette {k}=" for k in _keywords(args) if k not in keywords
            ]
    assert stale == []


def _keywords(args: str) -> list[str]:
    return re.findall(r"(?:^|[,(\s])(\w+)\s*=(?!=)", args)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("", ()),
        ("a,b  c", ("a", "b", "c")),
        (
            "method, json_body[id, params.ts] headers[accept,x-v]",
            (
                "method",
                "json_body[id, params.ts]",
                "headers[accept,x-v]",
            ),
        ),
        ("x-custom", ("x-custom",)),
    ],
)
def test_one_string_splits_on_spaces_and_commas_outside_brackets(text, names) -> None:
    assert options.split_names(text) == names
    assert options.as_names(text) == names


def test_one_path_is_one_path() -> None:
    assert options.as_paths("login.jsonl") == ("login.jsonl",)
    assert options.as_paths(Path("a b.jsonl")) == (Path("a b.jsonl"),)
    assert options.as_paths(["a.jsonl", "b.jsonl"]) == ("a.jsonl", "b.jsonl")
    assert options.as_paths(None) == ()


def test_the_docs_marker_signature_lists_every_marker_keyword() -> None:
    text = DOCS.read_text(encoding="utf-8")
    [signature] = re.findall(r"@pytest\.mark\.streamreplay\((cassette=None, \*,[^)]*)\)", text)
    assert tuple(_keywords(signature)) == options.marker_keywords()
