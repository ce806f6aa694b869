"""Bodies are checked when a cassette is read: a line replay could not turn back into bytes is
refused there, with its file and line, instead of failing halfway through a replay."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_streamreplay.cassette import CassetteError, iter_records, new_header, write_cassette
from pytest_streamreplay.cassette.encoding import apply_encoding, describe_encoding

HTTP: dict[str, Any] = {
    "kind": "http",
    "id": 0,
    "request": {"method": "GET", "url": "https://x.test/a", "headers": [], "body": None},
    "response": {"status": 200, "headers": [], "body": {"text": "ok"}},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    record = json.loads(json.dumps(HTTP))
    *parents, last = path.split(".")
    target = record
    for key in parents:
        target = target[key]
    target[last] = value
    return record


WS_MSG = {"kind": "ws_msg", "conn": 0, "dir": "recv", "t": 1.0}

BAD = [
    (_with("response.body", {"base64": "abc"}), "response body: invalid base64"),
    (_with("response.body", {"base64": 5}), "response body: base64 must be a string"),
    (_with("response.body", "hello"), "response body must be an object"),
    (_with("response.body", {"txt": "x"}), "response body has none of json, text, base64"),
    (_with("response.body", {"text": "a", "base64": "YQ=="}), "more than one of"),
    (_with("response.body", {"text": 5}), "response body: text must be a string"),
    (_with("response.body", {"json": 1, "layout": "indent3"}), "unknown layout 'indent3'"),
    (_with("response.body", {"text": "x", "layout": "compact"}), "layout without json"),
    (_with("request.body", {"base64": "%%%"}), "request body: invalid base64"),
    (_with("response.encoded", {"zstd": {"level": 3}}), "unknown content-encoding recipe 'zstd'"),
    (_with("response.encoded", {"gzip": {"level": 6}}), "gzip recipe needs"),
    (_with("response.encoded", {"base64": "abc"}), "encoded: invalid base64"),
    (_with("response.encoded", "gzip"), "encoded must be an object"),
    (_with("response.chunks", [{"t": 0, "base64": "abc"}]), "chunk 0: invalid base64"),
    (_with("response.chunks", {"t": 0}), "chunks must be a list"),
    (_with("response.headers", [["a", "b", "c"]]), "headers must be a list of [name, value]"),
    (_with("response.status", "ok"), "status"),
    (_with("request.url", 5), "url must be a string"),
    (_with("request.messages", {"type": "a.B"}), "request messages must be a list"),
    (_with("request.messages", [{"json": {}}]), "request message 0 must be an object like"),
    (_with("request.messages", [{"type": "a.B", "js": 1}]), "has unknown keys ['js']"),
    (
        _with("response.chunks", [{"t": 0, "base64": "AA==", "message": {"type": 5}}]),
        "response chunk 0 message must be an object like",
    ),
    ({**WS_MSG, "base64": "abc", "binary": True}, "message body: invalid base64"),
    ({**WS_MSG, "json": {"a": 1}, "layout": 3}, "layout must be a string"),
]


@pytest.mark.parametrize(("record", "message"), BAD, ids=[m for _, m in BAD])
def test_a_bad_body_is_refused_with_its_line(tmp_path, record: dict[str, Any], message: str):
    path = tmp_path / "bad.jsonl"
    good = {**WS_MSG, "json": {"ok": True}}
    write_cassette(path, new_header(), [good, record, good])
    with pytest.raises(CassetteError) as info:
        list(iter_records(path))
    assert info.value.line == 3
    assert str(info.value).startswith(f"{path}:3: bad record: ")
    assert message in str(info.value)


def test_every_recipe_the_recorder_writes_is_accepted(tmp_path):
    import gzip
    import zlib

    import brotli

    data = b'{"n": 1}' * 100
    raws = {
        "gzip": gzip.compress(data, mtime=0),
        "deflate": zlib.compress(data),
        "br": brotli.compress(data),
        "identity": b"not the body",
    }
    records = []
    for i, (name, raw) in enumerate(raws.items()):
        encoded = describe_encoding(name, raw, data)
        assert encoded is not None and apply_encoding(encoded, data) == raw
        records.append(_with("response.encoded", encoded) | {"id": i})
    path = tmp_path / "good.jsonl"
    write_cassette(path, new_header(), records)
    assert [r.response.encoded for r in iter_records(path)] == [
        r["response"]["encoded"] for r in records
    ]


def test_cassette_stream_refuses_a_bad_message_body_with_its_line(tmp_path):
    from pytest_streamreplay.streams.cassette_stream import iter_timed_items

    path = tmp_path / "bad.jsonl"
    conn = {"kind": "ws", "id": 0, "t": 0.0, "url": "wss://x.test/ws"}
    bad = {**WS_MSG, "binary": True, "base64": "abc"}
    write_cassette(path, new_header(), [conn, {**WS_MSG, "json": 1}, bad])
    with pytest.raises(CassetteError) as info:
        list(iter_timed_items(path))
    assert str(info.value).startswith(f"{path}:4: bad record: message body: invalid base64")


@given(st.text(alphabet="ABab01+/=-", max_size=40))
def test_big_bodies_are_checked_in_slices_exactly_as_the_whole_decoder_would(text: str):
    """Slices of 8 characters here (1 MiB in use): the same verdict as one strict decode."""
    import binascii

    from pytest_streamreplay.cassette import body

    try:
        binascii.a2b_base64(text, strict_mode=True)
        whole = True
    except (binascii.Error, ValueError):
        whole = False
    saved, body._SLICE = body._SLICE, 8
    try:
        body.check_base64(text, "x")
        sliced = True
    except ValueError:
        sliced = False
    finally:
        body._SLICE = saved
    assert sliced == whole
