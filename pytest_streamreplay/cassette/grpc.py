"""gRPC over HTTP/2, as far as a cassette needs it: message framing and request matching.

A gRPC call is an HTTP/2 POST with ``content-type: application/grpc``; its bodies are messages,
each framed as a compressed flag (1 byte) and a length (4 bytes, big-endian) before the
protobuf bytes; its status travels in the trailers (``grpc-status``, ``grpc-message``).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from .jsonpaths import without_paths
from .records import Chunk, Headers, HttpInteraction, HttpRequest, header_value, is_grpc

__all__ = [
    "STATUS_NAMES",
    "CallMessage",
    "MessageCutter",
    "call_messages",
    "call_summary",
    "field_changes",
    "framed_messages",
    "grpc_status",
    "is_grpc",
    "messages_differ",
    "split_messages",
]

#: gRPC status codes by number (the protocol's own names).
STATUS_NAMES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)


def framed_messages(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """(compressed flag, payload) of each whole length-prefixed message in ``data``, and the
    incomplete rest."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while len(data) - pos >= 5:
        (length,) = struct.unpack_from(">I", data, pos + 1)
        if len(data) - pos - 5 < length:
            break
        out.append((data[pos], data[pos + 5 : pos + 5 + length]))
        pos += 5 + length
    return out, data[pos:]


def split_messages(data: bytes) -> tuple[list[bytes], bytes]:
    """The complete length-prefixed messages in ``data`` (payloads, flag dropped), and the
    incomplete rest."""
    messages, rest = framed_messages(data)
    return [payload for _, payload in messages], rest


class MessageCutter:
    """Cuts a byte stream into whole length-prefixed messages (each with its 5-byte prefix),
    however the transport split it: a read may hold part of a message or several."""

    def __init__(self) -> None:
        self.pending = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The messages ``data`` completes, framed as they were sent."""
        self.pending += data
        out: list[bytes] = []
        pos = 0
        while len(self.pending) - pos >= 5:
            (length,) = struct.unpack_from(">I", self.pending, pos + 1)
            end = pos + 5 + length
            if len(self.pending) < end:
                break
            out.append(bytes(self.pending[pos:end]))
            pos = end
        if pos:
            del self.pending[:pos]
        return out


def grpc_status(trailers: Headers | None, headers: Headers) -> tuple[int | None, str]:
    """The call's status code and message: from the trailers, or from the headers of a
    trailers-only answer (an error before any message)."""
    for source in (trailers or [], headers):
        code = header_value(source, "grpc-status")
        if code is not None and code.strip().isdigit():
            return int(code), header_value(source, "grpc-message") or ""
    return None, ""


def messages_differ(
    live: HttpRequest,
    recorded: HttpRequest,
    *,
    first_only: bool = False,
    ignore: tuple[str, ...] | None = None,
) -> str | None:
    """How two gRPC requests' messages differ (None when they are the same); ``first_only``
    compares the first message (a request still arriving).

    Messages are compared by their JSON forms when both sides have them (the difference shown
    field by field; ``ignore``: dotted paths left out, as ``json_body[...]`` takes them), else
    as bytes."""
    mine, _ = split_messages(live.content)
    theirs, _ = split_messages(recorded.content)
    mine_json, theirs_json = _json_forms(live), _json_forms(recorded)
    # with JSON forms on both sides they decide (redaction leaves placeholders in the
    # recorded bytes, which the live bytes cannot equal), else the bytes
    by_fields = mine_json is not None and theirs_json is not None
    ignore = ignore or ()
    if first_only:
        mine, theirs = mine[:1], theirs[:1]
        mine_json = None if mine_json is None else mine_json[:1]
        theirs_json = None if theirs_json is None else theirs_json[:1]
    if by_fields:
        assert mine_json is not None and theirs_json is not None
        mine_cmp: list[Any] = [without_paths(v, ignore) for v in mine_json]
        theirs_cmp: list[Any] = [without_paths(v, ignore) for v in theirs_json]
    else:
        mine_cmp, theirs_cmp = list(mine), list(theirs)
    if mine_cmp == theirs_cmp:
        return None
    if len(mine_cmp) != len(theirs_cmp):
        return f"{len(mine_cmp)} request message(s) != {len(theirs_cmp)} recorded"
    k = next(i for i, (a, b) in enumerate(zip(mine_cmp, theirs_cmp, strict=True)) if a != b)
    if by_fields:
        kind = (recorded.messages or [{}])[k].get("type", "message")
        changes = "; ".join(field_changes(mine_cmp[k], theirs_cmp[k]))
        changes = changes or "same fields, different bytes"
        return f"request message #{k} ({kind}): {changes}"
    return f"request message #{k}: {_byte_diff(mine[k], theirs[k])}"


def _json_forms(request: HttpRequest) -> list[Any] | None:
    forms = request.messages
    if not forms or any("json" not in f for f in forms):
        return None
    return [f["json"] for f in forms]


def field_changes(live: Any, recorded: Any, path: str = "", limit: int = 8) -> list[str]:
    """``path: live != recorded (recorded)`` for each field that differs (at most ``limit``)."""
    out: list[str] = []

    def walk(a: Any, b: Any, where: str) -> None:
        if len(out) >= limit or a == b:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(a.get(key, _ABSENT), b.get(key, _ABSENT), f"{where}.{key}" if where else key)
            return
        if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{where}.{i}" if where else str(i))
            return
        out.append(f"{where or '(message)'}: {_value(a)} != {_value(b)} (recorded)")

    walk(live, recorded, path)
    return out


_ABSENT = object()


def _value(value: Any) -> str:
    if value is _ABSENT:
        return "absent"
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


def _byte_diff(live: bytes, recorded: bytes, limit: int = 48) -> str:
    """Both messages in hex: whole when short, else from just before their first difference
    (a signed transaction differs deep inside)."""
    if len(live) <= limit and len(recorded) <= limit:
        return f"{_show(live, 0, limit)} != {_show(recorded, 0, limit)} (recorded)"
    pairs = zip(live, recorded, strict=False)
    at = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(live), len(recorded)))
    start = max(0, at - 8)
    shown = f"{_show(live, start, limit)} != {_show(recorded, start, limit)} (recorded)"
    return f"first difference at byte {at}: {shown}"


def _show(payload: bytes, start: int, limit: int) -> str:
    text = payload[start : start + limit].hex(" ")
    where = f", from byte {start}: … " if start else ": "
    more = " …" if start + limit < len(payload) else ""
    return f"<{len(payload)} bytes{where}{text}{more}>"


def call_summary(interaction: HttpInteraction) -> dict[str, Any] | None:
    """What a reader wants of a gRPC call (None for other interactions): method, status and
    message counts."""
    request, response = interaction.request, interaction.response
    if not is_grpc(request.headers):
        return None
    code, message = grpc_status(response.trailers, response.headers)
    name = STATUS_NAMES[code] if code is not None and code < len(STATUS_NAMES) else None
    return {
        "method": request.path,
        "status": code,
        "status_name": name,
        "message": message,
        "request_messages": len(split_messages(request.content)[0]),
        "response_messages": len(split_messages(response.content)[0]),
    }


@dataclass(frozen=True)
class CallMessage:
    """One message of a gRPC call, as a reader wants it: like a WebSocket message.

    ``t`` is from the call's start: a response message's is its chunk's; a request message's
    is the latest response message sent before it had fully arrived (0 when none was), as the
    chunks' ``after`` tell (the request's own messages have no offsets of their own)."""

    dir: str  # "send": client to server; "recv": server to client
    index: int  # within its direction
    t: float
    payload: bytes  # the protobuf bytes (the 5-byte prefix dropped)
    type: str | None = None
    json: Any = None  # the JSON form when the descriptors knew the type
    decoded: bool = False

    @property
    def value(self) -> Any:
        """The JSON form when there is one, else the bytes."""
        return self.json if self.decoded else self.payload


def _form(forms: list[dict[str, Any]] | None, index: int) -> tuple[str | None, Any, bool]:
    if forms is None or index >= len(forms):
        return None, None, False
    form = forms[index]
    return form.get("type"), form.get("json"), "json" in form


def call_messages(interaction: HttpInteraction) -> list[CallMessage]:
    """A gRPC call's request and response messages in the order they passed (empty for
    other interactions)."""
    request, response = interaction.request, interaction.response
    if not is_grpc(request.headers):
        return []
    sent: list[tuple[int, bytes]] = []  # (end offset in the request body, payload)
    end = 0
    for _, payload in framed_messages(request.content)[0]:
        end += 5 + len(payload)
        sent.append((end, payload))
    out: list[CallMessage] = []
    k = 0
    last_t = 0.0

    def send_upto(limit: int | None, t: float) -> None:
        nonlocal k
        while k < len(sent) and (limit is None or sent[k][0] <= limit):
            kind, value, decoded = _form(request.messages, k)
            out.append(CallMessage("send", k, t, sent[k][1], kind, value, decoded))
            k += 1

    received = 0
    chunks = response.chunks
    if chunks is None:
        chunks = [Chunk(0.0, response.body)] if response.body else []
    for chunk in chunks:
        send_upto(chunk.after, last_t)  # without ``after``: every request message first
        forms = [chunk.message] if chunk.message is not None else None
        for i, (_, payload) in enumerate(framed_messages(chunk.content)[0]):
            kind, value, decoded = _form(forms, i)
            out.append(CallMessage("recv", received, chunk.t, payload, kind, value, decoded))
            received += 1
        last_t = chunk.t
    send_upto(None, last_t)
    return out
