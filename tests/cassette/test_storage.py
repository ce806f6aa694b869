import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_streamreplay.cassette import (
    CassetteError,
    CassetteWriter,
    Chunk,
    HttpInteraction,
    HttpRequest,
    HttpResponse,
    WsMessage,
    decode_body,
    encode_body,
    iter_records,
    new_header,
    read_cassette,
    write_cassette,
)


def _interaction(i: int, body: bytes) -> HttpInteraction:
    return HttpInteraction(
        id=i,
        request=HttpRequest.build(
            "GET", f"https://example.test/p/{i}?a=1", [("Accept", "*/*")], b""
        ),
        response=HttpResponse(
            200, "OK", headers=[("Content-Type", "application/json")], body=encode_body(body)
        ),
    )


@given(st.binary(max_size=300))
def test_any_bytes_round_trip(data: bytes) -> None:
    assert decode_body(encode_body(data)) == data


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(), c, max_size=4),
    )
)
def test_json_in_every_layout_round_trips(value: object) -> None:
    for raw in (
        json.dumps(value),
        json.dumps(value, indent=2) + "\n",
        json.dumps(value, separators=(",", ":"), ensure_ascii=False),
    ):
        assert decode_body(encode_body(raw.encode())) == raw.encode()


def test_json_is_stored_structured_and_binary_as_base64() -> None:
    assert encode_body(b'{"a":[1,2]}') == {"json": {"a": [1, 2]}}
    assert encode_body(b"plain") == {"text": "plain"}
    assert encode_body(b"\xff\x00") == {"base64": "/wA="}
    assert WsMessage.build(0, "recv", 1.0, b"abc", binary=True).body == {"base64": "YWJj"}


def test_write_then_stream_back(tmp_path) -> None:
    path = tmp_path / "c.jsonl"
    write_cassette(
        path, new_header(test="t"), [_interaction(i, b'{"n": %d}' % i) for i in range(3)]
    )
    records = list(iter_records(path))
    assert [r.response.content for r in records] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
    assert read_cassette(path)[0].test == "t"


def test_interrupted_write_keeps_the_old_cassette(tmp_path) -> None:
    path = tmp_path / "c.jsonl"
    write_cassette(path, new_header(), [_interaction(0, b"old")])
    with pytest.raises(RuntimeError), CassetteWriter(path, new_header()) as w:
        w.write(_interaction(0, b"new"))
        raise RuntimeError("killed")
    assert [r.response.content for r in iter_records(path)] == [b"old"]
    assert [p.name for p in tmp_path.iterdir()] == ["c.jsonl"]


def test_a_file_named_near_the_limit_is_written_atomically_by_both_writers(tmp_path) -> None:
    """A temporary name is the target's plus ~14 bytes: near the 255-byte limit (a proof beside
    a pytest-recording long-named cassette) both writers take a short one."""
    from pytest_streamreplay.cassette.storage import write_atomically

    long = "t" * 240
    write_cassette(tmp_path / f"{long}.jsonl", new_header(), [_interaction(0, b"x")])
    write_atomically(tmp_path / f"{long}.proof", lambda fh: fh.write(b"{}"), "proof")
    assert (tmp_path / f"{long}.proof").read_bytes() == b"{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{long}.jsonl", f"{long}.proof"]


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("", None, "empty file"),
        ('{"kind":"http"}\n', 1, "not a streamreplay-cassette"),
        ('{"kind":"header","format":"streamreplay-cassette","version":99}\n', 1, "newer"),
        (
            '{"kind":"header","format":"streamreplay-cassette","version":1}\n{"kind":\n',
            2,
            "not valid JSON",
        ),
        (
            '{"kind":"header","format":"streamreplay-cassette","version":1}\n{"kind":"ws_msg"}',
            2,
            "truncated",
        ),
        (
            '{"kind":"header","format":"streamreplay-cassette","version":1}\n{"kind":"tape"}\n',
            2,
            "unknown record kind",
        ),
        (
            '{"kind":"header","format":"streamreplay-cassette","version":1}\n{"kind":"ws_msg"}\n',
            2,
            "missing field",
        ),
    ],
)
def test_bad_cassettes_name_file_and_line(tmp_path, content: str, line, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(CassetteError) as info:
        list(iter_records(path))
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}:" if line else f"{path}:")
    assert message in str(info.value)


def test_stream_end_round_trips_and_old_cassettes_read_without_it(tmp_path) -> None:
    path = tmp_path / "c.jsonl"
    chunks = [Chunk(0.5, encode_body(b"data: 1\n\n"))]
    records = [_interaction(0, b"{}"), _interaction(1, b"{}")]
    records[0].response = HttpResponse(200, chunks=chunks)  # finished: no end key written
    records[1].response = HttpResponse(200, chunks=chunks, end="client_closed")
    write_cassette(path, new_header(), records)
    lines = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert "end" not in lines[0]["response"] and lines[1]["response"]["end"] == "client_closed"
    assert [r.response.end for r in iter_records(path)] == [None, "client_closed"]
    lines[1]["response"]["end"] = "exploded"
    path.write_text(
        json.dumps(new_header().to_json()) + "\n" + "".join(json.dumps(x) + "\n" for x in lines)
    )
    with pytest.raises(
        CassetteError, match=r":3: bad record: end must be one of client_closed, .*not 'exploded'"
    ):
        list(iter_records(path))
