"""Every command that reads a cassette refuses one with a body replay could not rebuild (bad
base64, an unknown ``encoded`` recipe) in one line naming file and line, writes nothing, and
exits non-zero."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Run, one_error_line

HEADER = {"kind": "header", "format": "streamreplay-cassette", "version": 1}
WS = {"kind": "ws", "id": 1, "url": "wss://x.test/ws", "t": 0}


def _http(**response: object) -> dict[str, object]:
    return {
        "kind": "http",
        "id": 0,
        "request": {"method": "GET", "url": "https://x.test/a", "headers": [], "body": None},
        "response": {"status": 200, "headers": [], "body": {"text": "ok"}, **response},
    }


BAD = {
    "base64": (_http(body={"base64": "abc"}), "response body: invalid base64"),
    "encoded": (
        _http(encoded={"zstd": {"level": 3}}),
        "response encoded: unknown content-encoding recipe 'zstd'",
    ),
    "ws_message": (
        {"kind": "ws_msg", "conn": 1, "dir": "recv", "t": 1, "binary": True, "base64": "abc"},
        "message body: invalid base64",
    ),
}

COMMANDS = {
    "info": ("info", "{path}"),
    "timeline": ("timeline", "{path}"),
    "filter": ("filter", "{path}", "-o", "{out}.jsonl"),
    "verify": ("verify", "{path}"),
    "export": ("export", "{path}", "-o", "{out}.mitm"),
    "redact": ("redact", "{path}"),
}


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_body_is_one_line_naming_file_and_line(
    run: Run, tmp_path: Path, command: str, bad: str
) -> None:
    record, message = BAD[bad]
    path = tmp_path / "bad.jsonl"
    lines = [HEADER, WS, {"kind": "ws_msg", "conn": 1, "dir": "recv", "t": 0, "json": 1}, record]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    before = path.read_bytes()
    out = tmp_path / "out"
    args = [a.format(path=path, out=out) for a in COMMANDS[command]]
    line = one_error_line(run(*args))
    assert line.startswith(f"streamreplay: error: {path}:4: bad record: {message}"), line
    assert path.read_bytes() == before, "the cassette itself is left alone"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"], "nothing written"


def test_ls_marks_the_bad_cassette_unreadable(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "cassettes" / "bad.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in [HEADER, BAD["base64"][0]]))
    result = run("ls", "cassettes")
    assert result.returncode != 0
    assert "unreadable" in result.stdout
    assert f"bad.jsonl:2: bad record: {BAD['base64'][1]}" in result.stderr
