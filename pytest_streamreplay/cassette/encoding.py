"""Content-Encoding: keep bodies readable in the cassette and the wire bytes exact on replay.

A cassette stores the decoded body. To give a client that does not decompress (urllib, curl
without ``--compressed``) the very bytes the origin sent, the recorder looks for the
compressor settings that reproduce them (gzip/deflate level and gzip header, brotli quality)
and stores that recipe; when none does, it keeps the raw bytes too. Redaction that changes a
body drops both, since the raw bytes would still hold the secret.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Collection
from typing import Any

from .body import check_base64

__all__ = ["apply_encoding", "check_encoding", "describe_encoding"]

_MAX_PROBE = 4 * 1024 * 1024


def _deflate(data: bytes, level: int, wbits: int, mem_level: int) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, wbits, mem_level)
    return c.compress(data) + c.flush()


def _gzip(data: bytes, level: int, mem_level: int, header: bytes) -> bytes:
    trailer = struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)
    return header + _deflate(data, level, -15, mem_level) + trailer


def _find_recipe(name: str, raw: bytes, decoded: bytes) -> dict[str, Any] | None:
    levels = (6, 9, 1, 5, 4, 3, 2, 7, 8, 0)
    if name in ("gzip", "x-gzip"):
        if len(raw) < 18 or raw[:3] != b"\x1f\x8b\x08" or raw[3] != 0:
            return None  # a gzip header with optional fields is not ours to rebuild
        header = raw[:10]
        for mem_level in (8, 9):
            for level in levels:
                if _gzip(decoded, level, mem_level, header) == raw:
                    return {"level": level, "mem_level": mem_level, "header": header.hex()}
        return None
    if name == "deflate":
        for wbits in (15, -15):
            for mem_level in (8, 9):
                for level in levels:
                    if _deflate(decoded, level, wbits, mem_level) == raw:
                        return {"level": level, "mem_level": mem_level, "wbits": wbits}
        return None
    if name == "br":
        try:
            import brotli
        except ImportError:
            return None
        for quality in (11, 4, 5, 6, 1, 0, 2, 3, 7, 8, 9, 10):
            for lgwin in (22, 24):
                if brotli.compress(decoded, quality=quality, lgwin=lgwin) == raw:
                    return {"quality": quality, "lgwin": lgwin}
        return None
    return None


def describe_encoding(
    content_encoding: str | None, raw: bytes | None, decoded: bytes
) -> dict[str, Any] | None:
    """How to rebuild ``raw`` from ``decoded``: ``{"recipe": ...}``, ``{"base64": raw}``, or
    None when the body is not encoded (or ``raw`` is the decoded body)."""
    if not content_encoding or raw is None or raw == decoded:
        return None
    name = content_encoding.strip().lower()
    recipe = _find_recipe(name, raw, decoded) if len(decoded) <= _MAX_PROBE else None
    if recipe is not None:
        return {name: recipe}
    return {"base64": base64.b64encode(raw).decode("ascii")}


# recipe name -> {field: allowed range}; every field an integer.
_WBITS = frozenset([*range(-15, -8), *range(9, 16), *range(25, 32)])  # what compressobj takes
_RECIPES: dict[str, dict[str, Collection[int]]] = {
    "gzip": {"level": range(0, 10), "mem_level": range(1, 10)},
    "deflate": {"level": range(0, 10), "mem_level": range(1, 10), "wbits": _WBITS},
    "br": {"quality": range(0, 12), "lgwin": range(10, 25)},
}
_RECIPES["x-gzip"] = _RECIPES["gzip"]


def check_encoding(encoded: Any, what: str = "encoded") -> None:
    """Raise ``ValueError`` unless ``apply_encoding`` can rebuild wire bytes from ``encoded``."""
    if encoded is None:
        return
    if not isinstance(encoded, dict) or len(encoded) != 1:
        raise ValueError(
            f'{what} must be an object with one key (a recipe name or "base64"), '
            f"not {_short(encoded)}"
        )
    ((name, recipe),) = encoded.items()
    if name == "base64":
        check_base64(recipe, what)
        return
    fields = _RECIPES.get(name)
    if fields is None:
        raise ValueError(
            f"{what}: unknown content-encoding recipe {name!r} (known: "
            f"{', '.join(sorted(_RECIPES))}, base64); re-record this interaction"
        )
    wanted = ", ".join(fields) + (", header" if name in ("gzip", "x-gzip") else "")
    if not isinstance(recipe, dict):
        raise ValueError(f"{what}: the {name} recipe must be an object with {wanted}")
    for key, allowed in fields.items():
        value = recipe.get(key)
        if type(value) is not int or value not in allowed:
            raise ValueError(f"{what}: {name} recipe needs {wanted}; {key} is {value!r}")
    if name in ("gzip", "x-gzip"):
        header = recipe.get("header")
        try:
            ok = isinstance(header, str) and len(bytes.fromhex(header)) == 10
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"{what}: {name} recipe needs {wanted}; header must be 10 bytes in hex"
            )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def apply_encoding(encoded: dict[str, Any], decoded: bytes) -> bytes:
    """The wire bytes described by ``describe_encoding``."""
    if "base64" in encoded:
        return base64.b64decode(encoded["base64"])
    ((name, recipe),) = encoded.items()
    if name in ("gzip", "x-gzip"):
        return _gzip(decoded, recipe["level"], recipe["mem_level"], bytes.fromhex(recipe["header"]))
    if name == "deflate":
        return _deflate(decoded, recipe["level"], recipe["wbits"], recipe["mem_level"])
    if name == "br":
        import brotli

        return bytes(brotli.compress(decoded, quality=recipe["quality"], lgwin=recipe["lgwin"]))
    raise ValueError(f"unknown content encoding recipe {name!r}")
