"""Fields with a fixed shape are checked when a cassette is read: a hostile or broken line is
an error naming its file and line, never a value passed on to a report or a web page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_streamreplay.cassette import CassetteError, WsClose, WsMessage, iter_records

HEADER = {"kind": "header", "format": "streamreplay-cassette", "version": 1}
OPEN = {"kind": "ws", "id": 0, "t": 0, "url": "wss://x.test/ws"}


def _cassette(tmp_path: Path, record: dict) -> Path:
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (HEADER, OPEN, record)))
    return path


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"kind": "ws_close", "conn": 0, "t": 3, "code": "<img src=x>", "by": "server"}, "code"),
        ({"kind": "ws_close", "conn": 0, "t": 3, "code": "1000", "by": "server"}, "code"),
        ({"kind": "ws_close", "conn": 0, "t": 3, "code": True, "by": "server"}, "code"),
        ({"kind": "ws_close", "conn": 0, "t": 3, "code": 1000.5, "by": "server"}, "code"),
        ({"kind": "ws_close", "conn": 0, "t": 3, "code": 70000, "by": "server"}, "code"),
        ({"kind": "ws_close", "conn": 0, "t": 3, "code": 1000, "by": "<b>x</b>"}, "by"),
        ({"kind": "ws_close", "conn": 0, "t": 3, "code": 1000, "by": ["server"]}, "by"),
        ({"kind": "ws_msg", "conn": 0, "dir": "<img>", "t": 1, "text": "hi"}, "dir"),
        ({"kind": "ws_msg", "conn": 0, "dir": "client", "t": 1, "text": "hi"}, "dir"),
        ({"kind": "ws_msg", "conn": 0, "t": 1, "text": "hi"}, "dir"),
    ],
)
def test_bad_fields_name_the_file_line_and_field(tmp_path, record, problem) -> None:
    with pytest.raises(CassetteError) as info:
        list(iter_records(_cassette(tmp_path, record)))
    assert info.value.line == 3
    assert problem in str(info.value) and "c.jsonl" in str(info.value)


def test_good_fields_read_as_before(tmp_path) -> None:
    close = {"kind": "ws_close", "conn": 0, "t": 3, "code": None, "reason": "", "by": "client"}
    records = list(iter_records(_cassette(tmp_path, close)))
    assert records[-1] == WsClose(conn=0, t=3.0, code=None, reason="", by="client")
    without_by = {"kind": "ws_close", "conn": 0, "t": 3, "code": 4001}
    assert list(iter_records(_cassette(tmp_path, without_by)))[-1].by == "client"
    message = {"kind": "ws_msg", "conn": 0, "dir": "recv", "t": 1, "text": "hi"}
    assert isinstance(list(iter_records(_cassette(tmp_path, message)))[-1], WsMessage)
