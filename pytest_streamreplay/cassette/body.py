"""Body encoding: readable in a diff, exact bytes on the way back.

A body is stored as structured JSON when the bytes can be rebuilt exactly from the parsed
value (the layout that reproduces them is kept), as text when it is UTF-8, and as base64
otherwise. Every form decodes to the recorded bytes, byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

__all__ = [
    "check_base64",
    "check_body",
    "decode_body",
    "encode_body",
    "is_utf8",
    "json_value",
    "layout_dumps",
]

# name -> (indent, separators); each also tried with ensure_ascii and a trailing newline.
_LAYOUTS: dict[str, tuple[int | None, tuple[str, str]]] = {
    "compact": (None, (",", ":")),
    "spaced": (None, (", ", ": ")),
    "indent2": (2, (",", ": ")),
    "indent4": (4, (",", ": ")),
}
_MAX_JSON_PROBE = 32 * 1024 * 1024


def layout_dumps(value: Any, layout: str = "compact") -> str:
    """Serialise ``value`` in a named layout such as ``"indent2+ascii+nl"``."""
    name, *flags = layout.split("+")
    indent, separators = _LAYOUTS[name]
    text = json.dumps(value, indent=indent, separators=separators, ensure_ascii="ascii" in flags)
    return text + "\n" if "nl" in flags else text


def _check_layout(layout: Any) -> None:
    if not isinstance(layout, str):
        raise ValueError(f"layout must be a string, not {type(layout).__name__}")
    name, *flags = layout.split("+")
    if name not in _LAYOUTS or not set(flags) <= {"ascii", "nl"}:
        raise ValueError(
            f"unknown layout {layout!r} (known: {', '.join(_LAYOUTS)}, with +ascii and +nl)"
        )


#: Base64 longer than this is checked a slice at a time: never a decoded copy of a big body.
_SLICE = 1 << 20  # a multiple of 4: slices end on whole groups


def check_base64(value: Any, what: str) -> None:
    """Raise ``ValueError`` naming ``what`` unless ``value`` is strict, padded base64 text
    (what ``binascii.a2b_base64(strict_mode=True)`` accepts)."""
    if not isinstance(value, str):
        raise ValueError(f"{what}: base64 must be a string, not {type(value).__name__}")
    try:
        start = 0
        while len(value) - start > 2 * _SLICE:  # the last slice keeps the whole tail
            part = value[start : start + _SLICE]
            if "=" in part:  # padding before the end: the whole decoder says what is wrong
                binascii.a2b_base64(value, strict_mode=True)
            binascii.a2b_base64(part, strict_mode=True)
            start += _SLICE
        binascii.a2b_base64(value[start:] if start else value, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what}: invalid base64 ({exc})") from None


_FORMS = ("json", "text", "base64")


def check_body(obj: Any, what: str = "body") -> None:
    """Raise ``ValueError`` (naming ``what``) unless ``decode_body(obj)`` gives bytes.

    A cassette's reader calls this on every body, so a hand-edited or corrupt body is refused
    with its line when the file is read, not while a client waits for the answer.
    """
    if obj is None:
        return
    if not isinstance(obj, dict):
        raise ValueError(
            f'{what} must be an object like {{"json": ...}}, {{"text": ...}} or '
            f'{{"base64": ...}}, not {type(obj).__name__}'
        )
    forms = [k for k in _FORMS if k in obj]
    if not forms:
        if not obj:
            return
        raise ValueError(f"{what} has none of json, text, base64: {sorted(obj)}")
    if len(forms) > 1:
        raise ValueError(f"{what} has more than one of json, text, base64: {forms}")
    form = forms[0]
    if "layout" in obj:
        if form != "json":
            raise ValueError(f"{what}: layout without json")
        _check_layout(obj["layout"])
    if form == "text" and not isinstance(obj["text"], str):
        raise ValueError(f"{what}: text must be a string, not {type(obj['text']).__name__}")
    if form == "base64":
        check_base64(obj["base64"], what)


def _find_layout(text: str, value: Any) -> str | None:
    for name in _LAYOUTS:
        for flags in ("", "+ascii", "+nl", "+ascii+nl"):
            layout = name + flags
            if layout_dumps(value, layout) == text:
                return layout
    return None


def _looks_like_json(data: bytes) -> bool:
    head = data.lstrip()[:1]
    return head in (b"{", b"[") and len(data) <= _MAX_JSON_PROBE


def is_utf8(data: bytes) -> bool:
    """Whether ``data`` reads as text (a streamed chunk is then stored as text, not base64)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def encode_body(data: bytes | None, *, binary: bool = False) -> dict[str, Any] | None:
    """Return the cassette form of ``data``: ``{"json"|"text"|"base64": ...}`` or None."""
    if not data:
        return None
    if binary:
        return {"base64": base64.b64encode(data).decode("ascii")}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}
    if _looks_like_json(data):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        else:
            layout = _find_layout(text, value)
            if layout == "compact":
                return {"json": value}
            if layout is not None:
                return {"json": value, "layout": layout}
    return {"text": text}


def decode_body(obj: dict[str, Any] | None) -> bytes:
    """Rebuild the exact bytes from the cassette form."""
    if not obj:
        return b""
    if "json" in obj:
        return layout_dumps(obj["json"], obj.get("layout", "compact")).encode("utf-8")
    if "text" in obj:
        return str(obj["text"]).encode("utf-8")
    if "base64" in obj:
        return base64.b64decode(obj["base64"])
    raise ValueError(f"body has none of json, text, base64: {sorted(obj)}")


def json_value(obj: dict[str, Any] | None) -> Any:
    """The parsed value of a body when it is JSON (stored or parseable text), else None."""
    if not obj:
        return None
    if "json" in obj:
        return obj["json"]
    if "text" in obj:
        try:
            return json.loads(obj["text"])
        except ValueError:
            return None
    return None
