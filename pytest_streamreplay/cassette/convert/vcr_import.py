"""Import vcrpy cassettes (YAML, or JSON from vcrpy's json serializer) as ``HttpInteraction``s.

vcrpy keeps no timing, so every interaction gets ``t = 0`` and ``duration_ms = 0``; it keeps
bodies as sent on the wire, so a compressed body is decoded here (``Content-Encoding`` kept),
as in every cassette.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..body import encode_body
from ..records import HttpInteraction, HttpRequest, HttpResponse
from ._common import (
    ConvertError,
    SkipHandler,
    content_encoding,
    decode_content,
    header_text,
    ignore_skip,
)

__all__ = ["from_vcr"]


def _load(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConvertError(path, "no such file") from None
    except UnicodeDecodeError:
        raise ConvertError(path, "not a vcrpy cassette (not UTF-8 text)") from None
    except OSError as exc:
        raise ConvertError(path, f"cannot read: {exc.strerror}") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ConvertError(path, f"not valid JSON ({exc})") from None
    import yaml
    from vcr.serializers import yamlserializer

    try:
        return yamlserializer.deserialize(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConvertError(path, f"not valid vcrpy YAML{where}: {problem}") from None


def _bytes(value: Any) -> bytes:
    """A vcrpy body in any of the shapes vcrpy versions wrote, as bytes."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, io.BytesIO):
        return value.getvalue()
    if isinstance(value, dict) and "string" in value:
        return _bytes(value["string"])
    if isinstance(value, list | tuple) or hasattr(value, "__next__"):
        return b"".join(_bytes(part) for part in value)
    return str(value).encode("utf-8")


def _request_bytes(value: Any) -> bytes:
    """A request body: vcrpy's aiohttp patch stores ``json=`` as the object itself (a YAML
    mapping or list), which is JSON on the wire; other clients' bodies are text or bytes."""
    if isinstance(value, list) or (isinstance(value, dict) and "string" not in value):
        return json.dumps(value).encode("utf-8")
    return _bytes(value)


def _headers(value: Any) -> list[tuple[str, str]]:
    """vcrpy headers: ``{name: [values]}`` (a single string in old cassettes)."""
    out: list[tuple[str, str]] = []
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = value
    else:
        return out
    for name, values in items:
        for v in values if isinstance(values, list | tuple) else [values]:
            if isinstance(v, bytes):
                v = header_text(v)
            out.append((str(name), str(v)))
    return out


def _interaction(index: int, item: dict[str, Any]) -> HttpInteraction:
    request, response = item["request"], item["response"]
    req_headers = _headers(request.get("headers"))
    req_content, req_headers = decode_content(
        _request_bytes(request.get("body")), req_headers, maybe_decoded=True
    )
    if "status" in response:
        status = response["status"]
        code, reason = int(status["code"]), str(status.get("message") or "")
    else:  # the shape of old httpx cassettes
        code, reason = int(response["status_code"]), ""
    raw = _bytes(response["body"] if "body" in response else response.get("content"))
    resp_headers = _headers(response.get("headers"))
    resp_content, resp_headers = decode_content(raw, resp_headers, maybe_decoded=True)
    encoded = None
    ce = content_encoding(resp_headers)
    if ce is not None and raw != resp_content:
        from ..encoding import describe_encoding

        encoded = describe_encoding(ce, raw, resp_content)
    return HttpInteraction(
        id=index,
        request=HttpRequest(
            str(request["method"]).upper(),
            str(request["uri"]),
            req_headers,
            encode_body(req_content),
        ),
        response=HttpResponse(
            status=code,
            reason=reason,
            headers=resp_headers,
            body=encode_body(resp_content),
            encoded=encoded,
        ),
    )


def from_vcr(
    path: str | os.PathLike[str], *, on_skip: SkipHandler = ignore_skip
) -> Iterator[HttpInteraction]:
    """Yield the interactions of a vcrpy cassette, loaded with vcrpy's own safe YAML loader."""
    p = Path(path)
    data = _load(p)
    interactions = data.get("interactions") if isinstance(data, dict) else None
    if not isinstance(interactions, list):
        raise ConvertError(p, "not a vcrpy cassette (no 'interactions' list)")
    for index, item in enumerate(interactions):  # ids from 0, as recording numbers them
        try:
            yield _interaction(index, item)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            on_skip(f"interaction {index + 1}: unreadable ({type(exc).__name__}: {exc})")
