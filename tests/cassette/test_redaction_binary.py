"""Secrets inside binary bodies: gRPC/protobuf messages, binary WebSocket frames, octet
streams. Their bytes are framed by lengths (protobuf fields, gRPC's 5-byte prefix, msgpack),
so a secret is replaced by a placeholder of the same byte length: the body still parses, and
a replayed client that sends the real secret again still matches."""

from __future__ import annotations

import base64
import json
import struct

import pytest
from secret_samples import AWS_ID, JWT, MNEMONIC, PEM, SHAPED, _gone

from pytest_streamreplay.cassette import (
    Chunk,
    HttpInteraction,
    HttpRequest,
    HttpResponse,
    WsMessage,
)
from pytest_streamreplay.cassette.body import encode_body
from pytest_streamreplay.cassette.grpc import messages_differ, split_messages
from pytest_streamreplay.cassette.matching import compare, resolve_matchers
from pytest_streamreplay.cassette.redaction import Redactor


def _field(number: int, payload: bytes) -> bytes:
    """A protobuf length-delimited field (wire type 2), lengths below 16384."""
    key = bytes([number << 3 | 2])
    n = len(payload)
    size = bytes([n]) if n < 128 else bytes([n & 0x7F | 0x80, n >> 7])
    return key + size + payload


def _frame(message: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", len(message)) + message


def _grpc(request: bytes, responses: list[bytes]) -> HttpInteraction:
    headers = [("content-type", "application/grpc"), ("te", "trailers")]
    req = HttpRequest("POST", "https://node.test/svc.Auth/Login", headers, encode_body(request))
    resp = HttpResponse(200, "OK", headers=[("content-type", "application/grpc")])
    resp.chunks = [Chunk(float(i), encode_body(r)) for i, r in enumerate(responses)]
    resp.trailers = [("grpc-status", "0")]
    return HttpInteraction(0, req, resp)


def _leaks(record, *secrets: str) -> None:
    """Nothing of the secrets in the record, in clear or in the base64 the body is stored as."""
    _gone(record, *secrets)
    raw = b"".join(
        base64.b64decode(v) for v in _strings(record.to_json()) if len(v) >= 8 and _is_b64(v)
    )
    for secret in secrets:
        assert secret.encode() not in raw, f"{secret[:30]!r}... leaked inside base64"


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _is_b64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("kind", sorted(SHAPED))
def test_shapes_inside_grpc_messages_keep_the_framing(kind: str) -> None:
    secret = SHAPED[kind]
    login = _frame(_field(1, b"user-7") + _field(2, secret.encode()))
    session = _frame(_field(1, b"ok") + _field(3, _field(1, f"token {secret}".encode())))
    rec = Redactor().record(_grpc(login, [session[:9], session[9:]]))
    _leaks(rec, secret)
    (req_message,), rest = split_messages(rec.request.content)
    assert rest == b"" and len(rec.request.content) == len(login)
    assert req_message.startswith(_field(1, b"user-7")[:8])
    assert b"REDACTED-" in req_message
    answer = rec.response.content
    assert len(answer) == len(session) and split_messages(answer)[1] == b""
    assert len(rec.response.chunks) == 2 and rec.response.chunks[0].content == session[:9]


def test_a_learned_credential_is_scrubbed_from_binary_bodies_too() -> None:
    token = "sk-live-0123456789abcdef"
    interaction = _grpc(_frame(_field(1, token.encode())), [_frame(_field(1, b"fine"))])
    interaction.request.headers.append(("authorization", f"Bearer {token}"))
    rec = Redactor().record(interaction)
    _leaks(rec, token)


def test_binary_websocket_frames_and_octet_streams() -> None:
    r = Redactor()
    frame = b"\x82\xa3key\xd9" + bytes([len(JWT)]) + JWT.encode() + b"\x01"
    msg = r.record(WsMessage.build(0, "send", 1.0, frame, True))
    _leaks(msg, JWT)
    assert msg.binary and len(msg.content) == len(frame)
    blob = b"\x00\x01" + MNEMONIC.encode() + b"\xff" + PEM.encode() + b"\x00" + AWS_ID.encode()
    rec = r.record(
        HttpInteraction(
            0,
            HttpRequest("PUT", "https://a.test/blob", [], encode_body(blob)),
            HttpResponse(200, "OK", headers=[("content-type", "application/octet-stream")]),
        )
    )
    _leaks(rec, MNEMONIC, PEM, AWS_ID)
    assert len(rec.request.content) == len(blob)


def test_same_secret_same_placeholder_and_innocent_binary_untouched() -> None:
    r = Redactor()
    one = r.record(_grpc(_frame(_field(1, JWT.encode())), []))
    two = r.record(_grpc(_frame(_field(2, JWT.encode())), []))
    assert (
        split_messages(one.request.content)[0][0][2:]
        == split_messages(two.request.content)[0][0][2:]
    )
    innocent = bytes(range(256)) * 8
    rec = r.record(_grpc(_frame(innocent), [_frame(innocent)]))
    assert split_messages(rec.request.content)[0] == [innocent]
    assert rec.response.content == _frame(innocent)


def test_a_live_call_with_the_real_secret_matches_the_recording() -> None:
    r = Redactor()
    login = _frame(_field(1, b"user-7") + _field(2, JWT.encode()))
    recorded = r.record(_grpc(login, [])).request
    live = r.request(_grpc(login, []).request)
    assert messages_differ(live, r.matchable(recorded)) is None
    assert compare(live, r.matchable(recorded), resolve_matchers(["method", "uri"])) == []
    other = _frame(_field(1, b"user-8") + _field(2, JWT.encode()))
    assert messages_differ(r.request(_grpc(other, []).request), r.matchable(recorded))


def test_a_live_binary_websocket_frame_compares_with_the_recording() -> None:
    r = Redactor()
    frame = b"\x01" + MNEMONIC.encode() + b"\x02"
    recorded = r.record(WsMessage.build(0, "send", 1.0, frame, True))
    assert r.live_bytes(frame) == r.matchable_bytes(recorded.content)
    assert r.live_bytes(b"\x01other\x02") != r.matchable_bytes(recorded.content)
    assert json.dumps(recorded.to_json()).count("REDACTED") == 0  # stored as base64
