"""Where the strings sit inside protobuf bytes (and gRPC frames), read without descriptors.

Redaction scans a binary body as one latin-1 text, but a secret inside a protobuf field sits
right after its length byte, which may be a letter or digit: shapes that must not start
mid-word (a mnemonic's first word, a JWT) would be missed. Scanning each field's bytes on
their own finds them. The wire format is enough: a length-delimited field is taken as a nested
message when it parses as one and is not plain text, else as a string.
"""

from __future__ import annotations

__all__ = ["field_spans"]

_MAX_DEPTH = 16


def field_spans(data: bytes, *, grpc: bool = False) -> list[tuple[int, int]]:
    """``(start, end)`` of every length-delimited leaf field in ``data`` (a protobuf message,
    or gRPC length-prefixed messages when ``grpc``); empty when it is neither."""
    out: list[tuple[int, int]] = []
    if not grpc:
        _message(data, 0, len(data), 0, out)
        return out
    pos = 0
    while len(data) - pos >= 5:
        length = int.from_bytes(data[pos + 1 : pos + 5], "big")
        start, end = pos + 5, min(len(data), pos + 5 + length)
        if data[pos] != 0 or not _message(data, start, end, 0, out):
            out.append((start, end))  # compressed, cut short, or not protobuf: scan it whole
        pos += 5 + length
    return out


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int] | None:
    value = shift = 0
    while pos < end and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None


def _message(data: bytes, start: int, end: int, depth: int, out: list[tuple[int, int]]) -> bool:
    """Parse ``data[start:end]`` as one message, adding its leaves to ``out`` only when the
    whole range parses."""
    found: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        key = _varint(data, pos, end)
        if key is None or key[0] >> 3 == 0:
            return False
        wire, pos = key[0] & 7, key[1]
        if wire == 0:
            value = _varint(data, pos, end)
            if value is None:
                return False
            pos = value[1]
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            size = _varint(data, pos, end)
            if size is None or size[1] + size[0] > end:
                return False
            pos, stop = size[1], size[1] + size[0]
            if not (
                depth < _MAX_DEPTH
                and stop > pos
                and not _text(data[pos:stop])
                and _message(data, pos, stop, depth + 1, found)
            ):
                found.append((pos, stop))
            pos = stop
        else:
            return False  # groups (deprecated) or not protobuf
    if pos != end:
        return False
    out.extend(found)
    return True


def _text(raw: bytes) -> bool:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\t\r\n" for c in text)
