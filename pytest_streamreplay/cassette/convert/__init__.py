"""Importers and exporters between cassettes and other recording formats.

mitmproxy flow files (and HAR, which mitmproxy reads too) and vcrpy cassettes come in; mitmproxy
flow files go out, so a recording can be browsed in mitmweb. mitmproxy and vcrpy are imported
only when a converter runs: importing this package stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from ..records import Record
from ._common import ConvertError, SkipHandler, ignore_skip
from .mitm_export import ExportSummary, to_mitm
from .mitm_import import from_mitm
from .vcr_import import from_vcr

__all__ = [
    "IMPORTERS",
    "ConvertError",
    "ExportSummary",
    "SkipHandler",
    "detect_format",
    "from_mitm",
    "from_vcr",
    "import_records",
    "to_mitm",
]

IMPORTERS: dict[str, Callable[..., Iterator[Record]]] = {
    "mitm": from_mitm,
    "har": from_mitm,
    "vcr": from_vcr,
}
"""Format name -> importer ``(path, *, on_skip) -> records``."""

_SUFFIXES = {
    ".mitm": "mitm",
    ".flow": "mitm",
    ".flows": "mitm",
    ".dump": "mitm",
    ".har": "har",
    ".yaml": "vcr",
    ".yml": "vcr",
    ".jsonl": "cassette",
}


def _sniff(head: bytes) -> str | None:
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text[:1].isdigit() and b":" in text[:12]:
        return "mitm"  # a tnetstring starts with its length and a colon
    if text.startswith(b"{"):
        if b'"streamreplay-cassette"' in head:
            return "cassette"
        if b'"interactions"' in head:
            return "vcr"
        if b'"log"' in head:
            return "har"
        return None
    if b"interactions:" in head:
        return "vcr"
    return None


def detect_format(path: str | os.PathLike[str]) -> str:
    """Name the format of ``path``: ``mitm``, ``har``, ``vcr`` or ``cassette``.

    The extension decides when it is known; otherwise the first bytes do. Raises
    ``ConvertError`` when neither tells.
    """
    p = Path(path)
    by_suffix = _SUFFIXES.get(p.suffix.lower())
    if by_suffix is not None:
        return by_suffix
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        raise ConvertError(p, "no such file") from None
    except OSError as exc:
        raise ConvertError(p, f"cannot read: {exc.strerror}") from None
    found = _sniff(head)
    if found is None:
        raise ConvertError(
            p,
            "unknown format: expected a mitmproxy flow file (.mitm), a HAR file (.har) "
            "or a vcrpy cassette (.yaml)",
        )
    return found


def import_records(
    path: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    on_skip: SkipHandler = ignore_skip,
) -> Iterator[Record]:
    """Records of ``path`` in format ``fmt`` (detected when None)."""
    fmt = fmt or detect_format(path)
    importer = IMPORTERS.get(fmt)
    if importer is None:
        raise ConvertError(path, f"cannot import {fmt!r} files (known: {', '.join(IMPORTERS)})")
    return importer(path, on_skip=on_skip)
