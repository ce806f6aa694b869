"""The records of a cassette: one JSON object per line, told apart by ``kind``.

Times (``t``) are milliseconds: for HTTP interactions and WebSocket connections from the
cassette's start, for WebSocket messages and closes from their connection's opening, for
events from their recording session's start, for response chunks from the response headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .body import check_body, decode_body, encode_body, json_value
from .encoding import check_encoding

__all__ = [
    "CLOSED_BY",
    "DIRECTIONS",
    "FORMAT",
    "FORMAT_VERSION",
    "HEADER_KEYS",
    "STREAM_ENDS",
    "Chunk",
    "Event",
    "Header",
    "HttpInteraction",
    "HttpRequest",
    "HttpResponse",
    "Record",
    "WsClose",
    "WsConnection",
    "WsMessage",
    "record_from_json",
]

FORMAT = "streamreplay-cassette"
FORMAT_VERSION = 1

Headers = list[tuple[str, str]]

#: How a response ended when it did not finish (``HttpResponse.end``): the client went away
#: (stopped reading, or timed out), the origin closed before the announced length, the origin
#: closed inside a chunked body, the test returned with the stream still open, or the client
#: left before any of the response reached it (``status`` 0, no headers, no chunks).
STREAM_ENDS = ("client_closed", "origin_closed", "truncated", "cut_at_teardown", "no_response")


def _headers_from(obj: Any, what: str = "headers") -> Headers:
    if not obj:
        return []
    if not isinstance(obj, list) or not all(isinstance(p, list) and len(p) == 2 for p in obj):
        raise ValueError(f"{what} must be a list of [name, value] pairs")
    return [(str(k), str(v)) for k, v in obj]


def _str(obj: dict[str, Any], key: str, what: str) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, not {type(value).__name__}")
    return value


def _headers_to(headers: Headers) -> list[list[str]]:
    return [[k, v] for k, v in headers]


#: Who closed a WebSocket connection (``WsClose.by``) and which way a message went (``dir``).
CLOSED_BY = ("client", "server", "teardown")  # teardown: still open when the test ended
DIRECTIONS = ("send", "recv")


def _one_of(obj: dict[str, Any], key: str, allowed: tuple[str, ...], default: str | None) -> str:
    """A field limited to a few words: anything else is a broken (or hostile) cassette."""
    value = obj[key] if default is None else obj.get(key, default)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{key} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _close_code(value: Any) -> int | None:
    if value is not None and (type(value) is not int or not 0 <= value <= 65535):
        raise ValueError(f"code must be a WebSocket close code (an integer) or null, not {value!r}")
    return value


def header_value(headers: Headers, name: str) -> str | None:
    lname = name.lower()
    for k, v in headers:
        if k.lower() == lname:
            return v
    return None


def check_message_form(form: Any, what: str) -> None:
    """A gRPC message's JSON form: ``{"type": "package.Message", "json": value}`` (``json``
    absent when the bytes did not parse as the type)."""
    if not isinstance(form, dict) or not isinstance(form.get("type"), str):
        raise ValueError(f'{what} must be an object like {{"type": "pkg.Message", "json": ...}}')
    unknown = sorted(set(form) - {"type", "json"})
    if unknown:
        raise ValueError(f"{what} has unknown keys {unknown} (known: type, json)")


def is_grpc(headers: Headers) -> bool:
    """A gRPC call or answer (its bodies are length-prefixed protobuf messages)."""
    return (header_value(headers, "content-type") or "").lower().startswith("application/grpc")


#: The header's own keys; any others are the recorder's metadata (``Header.extra``).
HEADER_KEYS = frozenset(
    {"kind", "format", "version", "recorded_by", "recorded_at", "test", "note", "pytest_session"}
)


@dataclass
class Header:
    """First line of every cassette: format, version and provenance."""

    recorded_by: str
    recorded_at: str
    version: int = FORMAT_VERSION
    test: str | None = None
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: The pytest run (all its xdist workers) that last wrote the cassette: tests of one run
    #: add to a shared cassette, the first test of a new run under ``all`` starts it afresh.
    pytest_session: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "header",
            "format": FORMAT,
            "version": self.version,
            "recorded_by": self.recorded_by,
            "recorded_at": self.recorded_at,
        }
        if self.test is not None:
            out["test"] = self.test
        if self.note is not None:
            out["note"] = self.note
        if self.pytest_session is not None:
            out["pytest_session"] = self.pytest_session
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Header:
        known = HEADER_KEYS
        return cls(
            recorded_by=str(obj.get("recorded_by", "")),
            recorded_at=str(obj.get("recorded_at", "")),
            version=int(obj["version"]),
            test=obj.get("test"),
            note=obj.get("note"),
            extra={k: v for k, v in obj.items() if k not in known},
            pytest_session=obj.get("pytest_session"),
        )


@dataclass
class HttpRequest:
    method: str
    url: str
    headers: Headers = field(default_factory=list)
    body: dict[str, Any] | None = None
    #: A gRPC call's messages in JSON form, when descriptors knew its method: one
    #: ``{"type": full name, "json": value}`` per message of ``body``.
    messages: list[dict[str, Any]] | None = None

    @property
    def content(self) -> bytes:
        return decode_body(self.body)

    @property
    def json(self) -> Any:
        return json_value(self.body)

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme in ("https", "wss") else 80)

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(urlsplit(self.url).query, keep_blank_values=True)

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": self.method,
            "url": self.url,
            "headers": _headers_to(self.headers),
            "body": self.body,
        }
        if self.messages is not None:
            out["messages"] = self.messages
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> HttpRequest:
        body = obj.get("body")
        check_body(body, "request body")
        messages = obj.get("messages")
        if messages is not None:
            if not isinstance(messages, list):
                raise ValueError("request messages must be a list of {type, json} objects")
            for i, form in enumerate(messages):
                check_message_form(form, f"request message {i}")
        return cls(
            _str(obj, "method", "request method"),
            _str(obj, "url", "request url"),
            _headers_from(obj.get("headers"), "request headers"),
            body,
            messages,
        )

    @classmethod
    def build(cls, method: str, url: str, headers: Headers, content: bytes | None) -> HttpRequest:
        # gRPC messages are binary even when their bytes happen to be UTF-8: always base64
        return cls(method, url, headers, encode_body(content, binary=is_grpc(headers)))


@dataclass
class Chunk:
    t: float
    body: dict[str, Any] | None
    # For a call whose request streamed (gRPC): request bytes the origin had received when it
    # sent this chunk; replay sends the chunk once the client has sent as many.
    after: int | None = None
    #: A gRPC chunk's message in JSON form (``{"type", "json"}``), when its type is known.
    message: dict[str, Any] | None = None

    @property
    def content(self) -> bytes:
        return decode_body(self.body)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": round(self.t, 3)}
        if self.after is not None:
            out["after"] = self.after
        out.update(self.body or {"text": ""})
        if self.message is not None:
            out["message"] = self.message
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any], what: str = "chunk") -> Chunk:
        if not isinstance(obj, dict):
            raise ValueError(f"{what} must be an object with t and a body")
        body = {k: v for k, v in obj.items() if k in ("json", "text", "base64", "layout")}
        check_body(body or None, what)
        after = obj.get("after")
        message = obj.get("message")
        if message is not None:
            check_message_form(message, f"{what} message")
        return cls(float(obj["t"]), body or None, None if after is None else int(after), message)


@dataclass
class HttpResponse:
    status: int
    reason: str = ""
    http_version: str = "HTTP/1.1"
    headers: Headers = field(default_factory=list)
    body: dict[str, Any] | None = None
    chunks: list[Chunk] | None = None
    # How to rebuild the compressed wire bytes from ``body`` (see cassette/encoding.py).
    encoded: dict[str, Any] | None = None
    # Fields sent after the body (HTTP/2 and chunked HTTP/1.1); gRPC's status lives here.
    trailers: Headers | None = None
    #: None for a response that finished; else one of ``STREAM_ENDS``.
    end: str | None = None

    @property
    def content(self) -> bytes:
        if self.chunks is not None:
            return b"".join(c.content for c in self.chunks)
        return decode_body(self.body)

    @property
    def json(self) -> Any:
        return json_value(self.body)

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "reason": self.reason,
            "http_version": self.http_version,
            "headers": _headers_to(self.headers),
        }
        if self.chunks is not None:
            out["chunks"] = [c.to_json() for c in self.chunks]
        else:
            out["body"] = self.body
        if self.encoded is not None:
            out["encoded"] = self.encoded
        if self.trailers is not None:
            out["trailers"] = _headers_to(self.trailers)
        if self.end is not None:
            out["end"] = self.end
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> HttpResponse:
        chunks = obj.get("chunks")
        end = None if obj.get("end") is None else _one_of(obj, "end", STREAM_ENDS, None)
        if chunks is not None and not isinstance(chunks, list):
            raise ValueError("response chunks must be a list")
        body, encoded = obj.get("body"), obj.get("encoded")
        check_body(body, "response body")
        check_encoding(encoded, "response encoded")
        status = obj["status"]
        if type(status) is not int:
            raise ValueError(f"response status must be an integer, not {status!r}")
        return cls(
            status=status,
            reason=str(obj.get("reason", "")),
            http_version=str(obj.get("http_version", "HTTP/1.1")),
            headers=_headers_from(obj.get("headers"), "response headers"),
            body=body,
            chunks=None
            if chunks is None
            else [Chunk.from_json(c, f"response chunk {i}") for i, c in enumerate(chunks)],
            encoded=encoded,
            trailers=None
            if obj.get("trailers") is None
            else _headers_from(obj["trailers"], "response trailers"),
            end=end,
        )


@dataclass
class HttpInteraction:
    """One request and its response."""

    id: int
    request: HttpRequest
    response: HttpResponse
    t: float = 0.0
    duration_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "http",
            "id": self.id,
            "t": round(self.t, 3),
            "duration_ms": round(self.duration_ms, 3),
            "request": self.request.to_json(),
            "response": self.response.to_json(),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> HttpInteraction:
        return cls(
            id=int(obj["id"]),
            request=HttpRequest.from_json(obj["request"]),
            response=HttpResponse.from_json(obj["response"]),
            t=float(obj.get("t", 0.0)),
            duration_ms=float(obj.get("duration_ms", 0.0)),
        )


@dataclass
class WsConnection:
    """The opening of a WebSocket connection: its handshake, redacted like HTTP."""

    id: int
    url: str
    t: float = 0.0
    headers: Headers = field(default_factory=list)
    subprotocol: str | None = None
    response_headers: Headers = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "ws",
            "id": self.id,
            "t": round(self.t, 3),
            "url": self.url,
            "subprotocol": self.subprotocol,
            "headers": _headers_to(self.headers),
            "response_headers": _headers_to(self.response_headers),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> WsConnection:
        return cls(
            id=int(obj["id"]),
            url=_str(obj, "url", "WebSocket url"),
            t=float(obj.get("t", 0.0)),
            headers=_headers_from(obj.get("headers")),
            subprotocol=obj.get("subprotocol"),
            response_headers=_headers_from(obj.get("response_headers"), "response headers"),
        )


@dataclass
class WsMessage:
    """One WebSocket message; ``dir`` is ``"send"`` (client to server) or ``"recv"``."""

    conn: int
    dir: str
    t: float
    body: dict[str, Any] | None
    binary: bool = False

    @property
    def content(self) -> bytes:
        return decode_body(self.body)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8")

    @property
    def value(self) -> Any:
        """Parsed JSON for JSON text messages, text for other text, bytes for binary."""
        if self.binary:
            return self.content
        if self.body and "json" in self.body:
            return self.body["json"]
        return self.text

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "ws_msg", "conn": self.conn, "dir": self.dir}
        out["t"] = round(self.t, 3)
        if self.binary:
            out["binary"] = True
        out.update(self.body or {"text": ""})
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> WsMessage:
        body = {k: v for k, v in obj.items() if k in ("json", "text", "base64", "layout")}
        check_body(body or None, "message body")
        return cls(
            conn=int(obj["conn"]),
            dir=_one_of(obj, "dir", DIRECTIONS, None),
            t=float(obj["t"]),
            body=body or None,
            binary=bool(obj.get("binary", False)),
        )

    @classmethod
    def build(cls, conn: int, dir: str, t: float, content: bytes, binary: bool) -> WsMessage:
        return cls(conn, dir, t, encode_body(content, binary=binary), binary)


@dataclass
class WsClose:
    """How a connection ended; ``by`` is ``client``, ``server``, or ``teardown`` (still open
    when the test returned, cut off there: replay then waits for the client to close)."""

    conn: int
    t: float
    code: int | None = 1000
    reason: str = ""
    by: str = "client"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "ws_close",
            "conn": self.conn,
            "t": round(self.t, 3),
            "code": self.code,
            "reason": self.reason,
            "by": self.by,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> WsClose:
        return cls(
            conn=int(obj["conn"]),
            t=float(obj["t"]),
            code=_close_code(obj.get("code")),
            reason=str(obj.get("reason", "")),
            by=_one_of(obj, "by", CLOSED_BY, "client"),
        )


@dataclass
class Event:
    """An in-process event published on a bus (see ``streams.events``)."""

    session: str
    t: float
    name: str
    data: Any
    type: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "event", "session": self.session, "t": round(self.t, 3)}
        out["name"] = self.name
        if self.type is not None:
            out["type"] = self.type
        out["data"] = self.data
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Event:
        return cls(
            session=str(obj.get("session", "")),
            t=float(obj["t"]),
            name=str(obj["name"]),
            data=obj.get("data"),
            type=obj.get("type"),
        )


Record = HttpInteraction | WsConnection | WsMessage | WsClose | Event

_KINDS: dict[str, Any] = {
    "http": HttpInteraction,
    "ws": WsConnection,
    "ws_msg": WsMessage,
    "ws_close": WsClose,
    "event": Event,
}


def record_from_json(obj: dict[str, Any]) -> Record:
    kind = obj.get("kind")
    cls = _KINDS.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown record kind {kind!r} (known: {', '.join(_KINDS)})")
    result: Record = cls.from_json(obj)
    return result
