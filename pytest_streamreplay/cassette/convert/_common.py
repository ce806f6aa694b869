"""Shared pieces of the importers and exporters: errors, skip notes, header text, encodings."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from ..storage import CassetteError

__all__ = [
    "ConvertError",
    "SkipHandler",
    "content_encoding",
    "decode_content",
    "encode_content",
    "header_text",
    "ignore_skip",
]

SkipHandler = Callable[[str], None]
"""Called with one sentence for each input item that has no cassette form (and is left out)."""


class ConvertError(CassetteError):
    """An input file that cannot be converted; a ``CassetteError`` so callers catch one type."""

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        super().__init__(path, None, message)


def ignore_skip(message: str) -> None:
    """The default skip handler: importers are quiet unless asked."""


def header_text(raw: bytes) -> str:
    """Header bytes as text: UTF-8 when valid, else Latin-1 (what HTTP/1.1 allowed)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def content_encoding(headers: Iterable[tuple[str, str]]) -> str | None:
    """The ``Content-Encoding`` value, lower case, or None."""
    for name, value in headers:
        if name.lower() == "content-encoding":
            return value.strip().lower() or None
    return None


def decode_content(
    raw: bytes, headers: list[tuple[str, str]], *, maybe_decoded: bool = False
) -> tuple[bytes, list[tuple[str, str]]]:
    """Undo ``Content-Encoding`` so the cassette stores the body readable.

    The header is kept (replay encodes again). When the bytes do not decode with it, the body
    stays as it was; the header is dropped so headers and bytes agree, unless ``maybe_decoded``
    says the source may already have stored the decoded body under the header (vcrpy with
    urllib3 2 does), in which case the body is the decoded one and the header stays.
    """
    ce = content_encoding(headers)
    if not raw or ce is None or ce == "identity":
        return raw, headers
    from mitmproxy.net import encoding

    try:
        decoded = encoding.decode(raw, ce)
    except ValueError:
        decoded = None
    if isinstance(decoded, bytes):
        return decoded, headers
    if maybe_decoded:
        return raw, headers
    return raw, [(k, v) for k, v in headers if k.lower() != "content-encoding"]


def encode_content(
    content: bytes, headers: Iterable[tuple[str, str]], recipe: dict[str, Any] | None = None
) -> bytes:
    """Apply ``Content-Encoding`` again for formats that store bytes as sent on the wire.

    With the response's ``encoded`` recipe the original wire bytes come back exactly.
    """
    if recipe is not None and content:
        from ..encoding import apply_encoding

        try:
            return apply_encoding(recipe, content)
        except (ValueError, KeyError, ImportError):
            pass
    ce = content_encoding(headers)
    if not content or ce is None or ce == "identity":
        return content
    from mitmproxy.net import encoding

    try:
        encoded = encoding.encode(content, ce)
    except ValueError:
        return content
    return encoded if isinstance(encoded, bytes) else content
