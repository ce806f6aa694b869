"""gRPC over HTTP/2, as far as a cassette needs it: message framing and request matching.

A gRPC call is an HTTP/2 POST with ``content-type: application/grpc``; its bodies are messages,
each framed as a compressed flag (1 byte) and a length (4 bytes, big-endian) before the
protobuf bytes; its status travels in the trailers (``grpc-status``, ``grpc-message``).
"""

from __future__ import annotations

import struct
from typing import Any

from .records import Headers, HttpInteraction, HttpRequest, header_value, is_grpc

__all__ = [
    "STATUS_NAMES",
    "MessageCutter",
    "call_summary",
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


def split_messages(data: bytes) -> tuple[list[bytes], bytes]:
    """The complete length-prefixed messages in ``data`` (payloads, flag dropped), and the
    incomplete rest."""
    out: list[bytes] = []
    pos = 0
    while len(data) - pos >= 5:
        (length,) = struct.unpack_from(">I", data, pos + 1)
        if len(data) - pos - 5 < length:
            break
        out.append(data[pos + 5 : pos + 5 + length])
        pos += 5 + length
    return out, data[pos:]


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
    live: HttpRequest, recorded: HttpRequest, *, first_only: bool = False
) -> str | None:
    """How two gRPC requests' messages differ (None when they are the same); ``first_only``
    compares the first message (a request still arriving)."""
    mine, _ = split_messages(live.content)
    theirs, _ = split_messages(recorded.content)
    if first_only:
        mine, theirs = mine[:1], theirs[:1]
    if mine == theirs:
        return None
    if len(mine) != len(theirs):
        return f"{len(mine)} request message(s) != {len(theirs)} recorded"
    k = next(i for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b)
    return f"request message #{k}: {_show(mine[k])} != {_show(theirs[k])} (recorded)"


def _show(payload: bytes, limit: int = 48) -> str:
    text = payload[:limit].hex(" ")
    return f"<{len(payload)} bytes: {text}{' …' if len(payload) > limit else ''}>"


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
