"""gRPC over HTTP/2, as far as a cassette needs it: message framing and request matching.

A gRPC call is an HTTP/2 POST with ``content-type: application/grpc``; its bodies are messages,
each framed as a compressed flag (1 byte) and a length (4 bytes, big-endian) before the
protobuf bytes; its status travels in the trailers (``grpc-status``, ``grpc-message``).
"""

from __future__ import annotations

import struct

from .records import Headers, HttpRequest, header_value

__all__ = ["grpc_status", "is_grpc", "messages_differ", "split_messages"]


def is_grpc(headers: Headers) -> bool:
    ctype = (header_value(headers, "content-type") or "").lower()
    return ctype.startswith("application/grpc")


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
