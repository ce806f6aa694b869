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
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from .body import encode_body, json_value
from .records import HttpInteraction, HttpRequest, Record, WsConnection, WsMessage

__all__ = ["REDACTED", "Redactor"]

REDACTED = "REDACTED"
_MIN_SECRET_LEN = 6  # shorter values ("1", "true") would scrub innocent text

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
    _values: set[str] = field(init=False, repr=False, default_factory=set)

    def __post_init__(self) -> None:
        self._extra = frozenset(_norm(n) for n in self.extra)
        # Streams repeat the same few keys millions of times: decide each name once.
        self._field_cache: dict[str, bool] = {}

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
        cached = self._field_cache.get(name)
        if cached is None:
            norm = _norm(name)
            cached = norm in self._extra or (
                self.defaults and (norm in _SECRET_FIELDS or bool(_SECRET_FIELD_RE.search(name)))
            )
            if len(self._field_cache) < 10_000:
                self._field_cache[name] = cached
        return cached

    # -- parts -----------------------------------------------------------------------------
    def headers(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        out = []
        for k, v in headers:
            if self.secret_header(k) and v != REDACTED:
                self._remember_header_value(k, v)
                v = REDACTED
            out.append((k, v))
        return out

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        if not parts.query:
            return url
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if not any(self.secret_param(k) for k, _ in pairs):
            return url
        for k, v in pairs:
            if self.secret_param(k):
                self._remember(v)
        query = urlencode([(k, REDACTED if self.secret_param(k) else v) for k, v in pairs])
        return urlunsplit(parts._replace(query=query))

    def json(self, value: Any) -> tuple[Any, bool]:
        """A redacted copy of a JSON value, and whether anything changed."""
        if isinstance(value, dict):
            changed = False
            out: dict[str, Any] = {}
            for k, v in value.items():
                if self.secret_field(str(k)) and v not in (None, "", REDACTED):
                    if isinstance(v, str | int):
                        self._remember(str(v))
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
                for k, v in pairs:
                    if self.secret_param(k):
                        self._remember(v)
                text = urlencode([(k, REDACTED if self.secret_param(k) else v) for k, v in pairs])
                return encode_body(text.encode())
        return body

    # -- secrets by value ------------------------------------------------------------------
    # A secret removed by name may still stand elsewhere verbatim: a token echoed in a response
    # body, a cookie value repeated in a URL. Every value redacted by name in this session is
    # therefore also scrubbed wherever it appears later in the same session's records.
    def _remember(self, value: str) -> None:
        value = value.strip()
        if len(value) >= _MIN_SECRET_LEN and value != REDACTED:
            self._values.add(value)
            quoted = quote(value, safe="")
            if quoted != value:
                self._values.add(quoted)

    def _remember_header_value(self, name: str, value: str) -> None:
        self._remember(value)
        low = name.lower()
        if low in ("authorization", "proxy-authorization") and " " in value:
            self._remember(value.split(" ", 1)[1])  # the credential after "Bearer"/"Basic"
        elif low in ("cookie", "set-cookie"):
            pairs = value.split(";") if low == "cookie" else value.split(";")[:1]
            for pair in pairs:
                self._remember(pair.partition("=")[2])

    def scrub(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def _scrub_json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self._scrub_json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._scrub_json(v) for v in value]
        return value

    def _scrub_body(self, body: dict[str, Any] | None) -> dict[str, Any] | None:
        if not body or not self._values or "base64" in body:
            return body
        if "json" in body:
            scrubbed = self._scrub_json(body["json"])
            return body if scrubbed == body["json"] else {**body, "json": scrubbed}
        text = self.scrub(body["text"])
        return body if text == body["text"] else {"text": text}

    def _scrub_headers(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(k, self.scrub(v)) for k, v in headers] if self._values else headers

    # -- records ---------------------------------------------------------------------------
    def request(self, req: HttpRequest) -> HttpRequest:
        """Redact by name only: used on live requests before matching, which must not learn
        values from (or leak values into) the recording session."""
        saved = set(self._values)
        try:
            return HttpRequest(
                method=req.method,
                url=self.url(req.url),
                headers=self.headers(req.headers),
                body=self.body(req.body, req.header("content-type")),
            )
        finally:
            self._values = saved

    def live_json(self, value: Any) -> Any:
        """Redact a live JSON value by name only (see ``request``)."""
        saved = set(self._values)
        try:
            return self.json(value)[0]
        finally:
            self._values = saved

    def record(self, record: Record) -> Record:
        """Redact one record in place (by name, then by value) and return it."""
        if isinstance(record, HttpInteraction):
            req, resp = record.request, record.response
            req.url = self.url(req.url)
            req.headers = self.headers(req.headers)
            req.body = self.body(req.body, req.header("content-type"))
            resp.headers = self.headers(resp.headers)
            body = resp.body
            if resp.chunks is None:
                body = self.body(resp.body, resp.header("content-type"))
            req.url = self.scrub(req.url)
            req.headers = self._scrub_headers(req.headers)
            req.body = self._scrub_body(req.body)
            resp.headers = self._scrub_headers(resp.headers)
            if resp.chunks is None:
                body = self._scrub_body(body)
                if body is not resp.body:
                    resp.body, resp.encoded = body, None  # the raw bytes hold the secret
            else:
                for chunk in resp.chunks:
                    chunk.body = self._scrub_body(chunk.body)
        elif isinstance(record, WsConnection):
            record.url = self.scrub(self.url(record.url))
            record.headers = self._scrub_headers(self.headers(record.headers))
            record.response_headers = self._scrub_headers(self.headers(record.response_headers))
        elif isinstance(record, WsMessage) and not record.binary:
            record.body = self._scrub_body(self.body(record.body, "application/json"))
        return record
