"""The chunked line reader behind iter_records/cassette_stream: every chunking reads the same.

``_iter_objects`` reads ``_CHUNK`` bytes at a time and splits whole lines; small chunk sizes put
lines across chunk boundaries, lines longer than a chunk, and the fallbacks to ``json`` (19+
digit integers, NaN, lone surrogates) in every position.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pytest_streamreplay.cassette import CassetteError, iter_records, new_header, storage
from pytest_streamreplay.cassette.storage import _iter_objects

HEADER = json.dumps(new_header().to_json(), separators=(",", ":"))

LINES = [
    '{"kind":"ws_msg","conn":1,"dir":"recv","t":1.5,"json":{"a":1}}',
    '{"kind":"ws_msg","conn":1,"dir":"recv","t":2.0,"json":{"big":123456789012345678901234567890}}',
    '{"kind":"ws_msg","conn":1,"dir":"recv","t":2.5,"json":{"x":NaN,"y":-Infinity}}',
    '{"kind":"ws_msg","conn":1,"dir":"recv","t":3.0,"json":"\\ud800 lone"}',
    '{"kind":"ws_msg","conn":1,"dir":"recv","t":3.5,"text":"' + "long " * 60 + '"}',
    '{"kind":"ws_msg","conn":1,"dir":"recv","t":4.0,"json":[1,2,3]}\r',
    '{"kind":"ws_msg","conn":1,"dir":"recv","t":4.5,"json":null}',
]

CHUNKS = [1, 7, 64, 200, 1 << 18]


def _same(a: object, b: object) -> bool:
    """Equality that also counts NaN == NaN (json.loads gives NaN for the NaN line)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("chunk", CHUNKS)
def test_every_chunking_parses_like_json_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(storage, "_CHUNK", chunk)
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join([HEADER, *LINES]) + "\n", encoding="utf-8", newline="")
    got = list(_iter_objects(path))
    assert [n for n, _, _ in got] == list(range(2, len(LINES) + 2))
    data = path.read_bytes()
    for (_, offset, obj), line in zip(got, LINES, strict=True):
        assert _same(obj, json.loads(line)), line
        assert data[offset:].split(b"\n", 1)[0] == line.encode(), "the offset is the line's"
    # The 30-digit integer stays exact (orjson alone would give a float).
    assert got[1][2]["json"]["big"] == 123456789012345678901234567890


@pytest.mark.parametrize("chunk", CHUNKS)
def test_long_lines_are_checked_for_long_integers_in_slices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Above ``_HUGE`` bytes the 19-digit check goes a slice at a time: same results, also
    for a run that straddles two slices."""
    monkeypatch.setattr(storage, "_CHUNK", chunk)
    monkeypatch.setattr(storage, "_HUGE", 8)
    monkeypatch.setattr(storage, "_SLICE", 5)
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join([HEADER, *LINES]) + "\n", encoding="utf-8", newline="")
    got = list(_iter_objects(path))
    for (_, _, obj), line in zip(got, LINES, strict=True):
        assert _same(obj, json.loads(line)), line
    assert got[1][2]["json"]["big"] == 123456789012345678901234567890


@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize(
    ("tail", "line", "message"),
    [
        ('{"kind":\n', 5, "not valid JSON"),
        ('{"kind":"ws_msg","conn":1}', 5, "truncated"),
        ("[1, 2]\n", 5, "must be a JSON object"),
        ("\n", 5, "not valid JSON"),
    ],
)
def test_a_bad_line_in_any_chunk_names_its_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chunk: int,
    tail: str,
    line: int,
    message: str,
) -> None:
    monkeypatch.setattr(storage, "_CHUNK", chunk)
    path = tmp_path / "bad.jsonl"
    good = "\n".join([HEADER, LINES[0], LINES[4], LINES[1]]) + "\n"
    path.write_text(good + tail, encoding="utf-8", newline="")
    seen = []
    with pytest.raises(CassetteError) as info:
        for lineno, _, _ in _iter_objects(path):
            seen.append(lineno)
    assert seen == [2, 3, 4]  # the good lines before it still come out
    assert info.value.line == line and message in str(info.value)
    assert str(info.value).startswith(f"{path}:{line}:")


@pytest.mark.parametrize("chunk", [3, 1 << 18])
def test_invalid_utf8_and_missing_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(storage, "_CHUNK", chunk)
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(HEADER.encode() + b'\n{"kind":"ws_msg","text":"caf\xe9"}\n')
    with pytest.raises(CassetteError, match="not UTF-8"):
        list(iter_records(path))
    path.write_bytes(b"")
    with pytest.raises(CassetteError, match="empty file"):
        list(iter_records(path))
    with pytest.raises(CassetteError, match="no such cassette"):
        list(iter_records(tmp_path / "missing.jsonl"))
