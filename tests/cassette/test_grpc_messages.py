"""gRPC message framing as the cassette keeps it: one chunk per message however the
transport cut the stream."""

from __future__ import annotations

import random

import pytest

from pytest_streamreplay.cassette import decode_body
from pytest_streamreplay.cassette.grpc import MessageCutter
from pytest_streamreplay.proxy.http_addon import _ChunkRecorder


def _framed(payload: bytes) -> bytes:
    return b"\0" + len(payload).to_bytes(4, "big") + payload


MESSAGES = [_framed(p) for p in (b"", b"a", b"hello" * 3000, b"\xff\x00" * 7, b"z" * 70000)]
STREAM = b"".join(MESSAGES)


def test_the_cutter_gives_whole_messages_for_any_cut() -> None:
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(STREAM)), rng.randint(0, 40)))
        pieces = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)], strict=True)]
        cutter = MessageCutter()
        out = [m for piece in pieces for m in cutter.feed(piece)]
        assert out == MESSAGES and not cutter.pending


def test_the_recorder_forwards_reads_untouched_and_records_messages() -> None:
    sent = bytearray(b"12345")
    recorder = _ChunkRecorder(sent, grpc=True)
    reads = [STREAM[:3], STREAM[3:20000], STREAM[20000:20001], STREAM[20001:]]
    forwarded = b""
    for i, read in enumerate(reads):
        if i == 3:
            sent += b"678"  # more of the request arrived before the last read
        forwarded += recorder(read)
    assert forwarded == STREAM
    chunks = recorder.chunks
    assert [decode_body(c.body) for c in chunks] == MESSAGES
    assert all("base64" in (c.body or {"base64": ""}) for c in chunks)
    # each message is stamped with the request bytes in when its last byte passed
    assert [c.after for c in chunks] == [5, 5, 5, 5, 8]


def test_a_stream_broken_inside_a_message_keeps_the_part_that_passed() -> None:
    recorder = _ChunkRecorder(None, grpc=True)
    recorder(MESSAGES[1] + MESSAGES[2][:100])
    assert [decode_body(c.body) for c in recorder.chunks] == [MESSAGES[1], MESSAGES[2][:100]]
    recorder(MESSAGES[2][100:])
    assert [decode_body(c.body) for c in recorder.chunks] == MESSAGES[1:3]


def test_other_streams_keep_one_chunk_per_read() -> None:
    recorder = _ChunkRecorder(None)
    for read in (b"data: 1\n\nda", b"ta: 2\n\n"):
        recorder(read)
    assert [decode_body(c.body) for c in recorder.chunks] == [b"data: 1\n\nda", b"ta: 2\n\n"]


def test_descriptors_that_cannot_be_used_are_named(tmp_path) -> None:
    pytest.importorskip("google.protobuf")
    from pytest_streamreplay.cassette.grpc_types import GrpcTypes, GrpcTypesError

    bad = tmp_path / "api.binpb"
    bad.write_bytes(b"\xff\xff not a descriptor set")
    with pytest.raises(GrpcTypesError, match=r"api\.binpb is not a FileDescriptorSet .*protoc"):
        GrpcTypes.load([str(bad)])
    with pytest.raises(GrpcTypesError, match="'nowhere_pb2' is neither a file nor an importable"):
        GrpcTypes.load(["nowhere_pb2"])
    with pytest.raises(GrpcTypesError, match="has no protobuf file DESCRIPTOR"):
        GrpcTypes.load(["json"])  # a module, but not a generated one


def test_a_byte_difference_past_the_first_48_bytes_is_shown_where_it_is() -> None:
    """Without JSON forms the report shows bytes; in a long message (a signed transaction) it
    shows them around the first difference, not the first 48 (where nothing differs)."""
    from pytest_streamreplay.cassette.body import encode_body
    from pytest_streamreplay.cassette.grpc import messages_differ
    from pytest_streamreplay.cassette.records import HttpRequest

    def call(message: bytes) -> HttpRequest:
        frame = b"\0" + len(message).to_bytes(4, "big") + message
        headers = [("content-type", "application/grpc")]
        return HttpRequest(
            "POST",
            "http://node/cosmos.tx.v1beta1.Service/BroadcastTx",
            headers,
            encode_body(frame, binary=True),
        )

    recorded = bytes(range(200)) + b"\x10\x05" + bytes(93)
    live = bytes(range(200)) + b"\x10\x07" + bytes(93)
    diff = messages_differ(call(live), call(recorded))
    assert diff is not None
    assert "first difference at byte 201" in diff
    assert "07" in diff.split("!=")[0] and "05" in diff.split("!=")[1]
    assert diff.endswith("(recorded)")
