"""Redaction: secrets never reach a cassette.

Applied at write time on both sides of every interaction (request and response headers,
query parameters, JSON and form bodies, WebSocket handshakes and JSON messages). The same rules
are applied to a live request before it is matched, so a redacted recorded value still matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .body import encode_body, json_value
from .records import HttpInteraction, HttpRequest, Record, WsConnection, WsMessage

__all__ = ["REDACTED", "Redactor"]

REDACTED = "REDACTED"

_SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "x-auth-token",
        "x-access-token",
        "x-csrf-token",
        "x-amz-security-token",
    }
)
_SECRET_HEADER_RE = re.compile(r"(signature|secret|token|api[-_]?key|passphrase|session)", re.I)
_SECRET_PARAMS = frozenset(
    {"key", "sig", "code", "auth", "apikey", "api_key", "password", "pass", "session"}
)
_SECRET_PARAM_RE = re.compile(r"(token|secret|signature|password|api[-_]?key|credential)", re.I)
_SECRET_FIELDS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "mnemonic",
        "seed",
        "seed_phrase",
        "private_key",
        "privatekey",
        "api_key",
        "apikey",
        "api_secret",
        "signature",
        "passphrase",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "authorization",
    }
)
_SECRET_FIELD_RE = re.compile(
    r"(password|secret|mnemonic|private_?key|api_?key|signature|passphrase|_token$|^token)", re.I
)


def _norm(name: str) -> str:
    return name.lower().replace("-", "_")


@dataclass
class Redactor:
    """The redaction rules in force; ``extra`` names more headers, parameters and fields.

    ``defaults=False`` turns the built-in rules off (only ``extra`` applies): a deliberate,
    documented choice for cassettes that must keep a credential-looking value.
    """

    extra: Iterable[str] = ()
    defaults: bool = True
    _extra: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._extra = frozenset(_norm(n) for n in self.extra)

    # -- what counts as secret -------------------------------------------------------------
    def secret_header(self, name: str) -> bool:
        low = name.lower()
        if _norm(low) in self._extra:
            return True
        return self.defaults and (low in _SECRET_HEADERS or bool(_SECRET_HEADER_RE.search(low)))

    def secret_param(self, name: str) -> bool:
        if _norm(name) in self._extra:
            return True
        return self.defaults and (
            name.lower() in _SECRET_PARAMS or bool(_SECRET_PARAM_RE.search(name))
        )

    def secret_field(self, name: str) -> bool:
        if _norm(name) in self._extra:
            return True
        return self.defaults and (
            _norm(name) in _SECRET_FIELDS or bool(_SECRET_FIELD_RE.search(name))
        )

    # -- parts -----------------------------------------------------------------------------
    def headers(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(k, REDACTED if self.secret_header(k) else v) for k, v in headers]

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        if not parts.query:
            return url
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if not any(self.secret_param(k) for k, _ in pairs):
            return url
        query = urlencode([(k, REDACTED if self.secret_param(k) else v) for k, v in pairs])
        return urlunsplit(parts._replace(query=query))

    def json(self, value: Any) -> tuple[Any, bool]:
        """A redacted copy of a JSON value, and whether anything changed."""
        if isinstance(value, dict):
            changed = False
            out: dict[str, Any] = {}
            for k, v in value.items():
                if self.secret_field(str(k)) and v not in (None, "", REDACTED):
                    out[k] = REDACTED
                    changed = True
                else:
                    out[k], sub = self.json(v)
                    changed = changed or sub
            return out, changed
        if isinstance(value, list):
            items = [self.json(v) for v in value]
            return [v for v, _ in items], any(c for _, c in items)
        return value, False

    def body(self, body: dict[str, Any] | None, content_type: str | None) -> dict[str, Any] | None:
        if not body or "base64" in body:
            return body
        value = json_value(body)
        if value is not None and isinstance(value, dict | list):
            redacted, changed = self.json(value)
            if not changed:
                return body
            layout = body.get("layout") if "json" in body else None
            return {"json": redacted, **({"layout": layout} if layout else {})}
        if content_type and "x-www-form-urlencoded" in content_type and "text" in body:
            pairs = parse_qsl(body["text"], keep_blank_values=True)
            if any(self.secret_param(k) for k, _ in pairs):
                text = urlencode([(k, REDACTED if self.secret_param(k) else v) for k, v in pairs])
                return encode_body(text.encode())
        return body

    # -- records ---------------------------------------------------------------------------
    def request(self, req: HttpRequest) -> HttpRequest:
        return HttpRequest(
            method=req.method,
            url=self.url(req.url),
            headers=self.headers(req.headers),
            body=self.body(req.body, req.header("content-type")),
        )

    def record(self, record: Record) -> Record:
        """Redact one record in place and return it."""
        if isinstance(record, HttpInteraction):
            record.request = self.request(record.request)
            resp = record.response
            resp.headers = self.headers(resp.headers)
            if resp.chunks is None:
                body = self.body(resp.body, resp.header("content-type"))
                if body is not resp.body:
                    resp.body, resp.encoded = body, None  # the raw bytes hold the secret
        elif isinstance(record, WsConnection):
            record.url = self.url(record.url)
            record.headers = self.headers(record.headers)
            record.response_headers = self.headers(record.response_headers)
        elif isinstance(record, WsMessage) and not record.binary:
            record.body = self.body(record.body, "application/json")
        return record
