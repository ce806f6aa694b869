"""docs/matching-and-redaction.md lists every built-in name and shape the code redacts, and
names no shape the code lacks: the page is what a reviewer checks the rules against."""

from __future__ import annotations

import re
from pathlib import Path

from pytest_streamreplay.cassette import secrets

DOC = Path(__file__).resolve().parents[2] / "docs" / "matching-and-redaction.md"


def _section(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end, text.index(start))]


def _documented_names() -> set[str]:
    table = _section(DOC.read_text(), "**By name.**", "**By shape**")
    return {secrets.norm_name(name) for name in re.findall(r"`([A-Za-z][\w\-]*)`", table)}


def test_every_built_in_name_is_documented() -> None:
    documented = _documented_names()
    names = secrets._HEADERS | secrets._PARAMS | secrets._FIELDS | secrets._AUTH_FIELDS
    missing = sorted(n for n in names if n not in documented)
    assert not missing, f"names redacted but not in {DOC.name}: {missing}"


def test_the_shape_table_lists_exactly_the_kinds_the_code_finds() -> None:
    table = _section(DOC.read_text(), "**By shape**", "Seed phrases:")
    documented = set(re.findall(r"^\| `([a-z]+)` \|", table, re.M))
    kinds = set(secrets._SHAPES.groupindex) | {"mnemonic", "password"}
    assert documented == kinds
