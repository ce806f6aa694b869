"""What the dashboard shows, computed from cassette files in streaming passes.

Nothing here holds a whole cassette: listings and summaries come from ``scan``, pages of
messages stop reading once the page is full (the total is counted on without keeping
records), and the timeline is aggregated into a bounded number of bins on the server, so a
100 000-message cassette costs the browser one page and a few hundred numbers.

Message filters are a ``cassette.query.Query``, the language ``streamreplay filter`` speaks, so
what the page lists is exactly what "create filtered cassette" (or the command) writes.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from array import array
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cassette import (
    CassetteError,
    Event,
    HttpInteraction,
    Record,
    WsConnection,
    WsMessage,
    encode_body,
    iter_records,
    read_header,
    record_from_json,
)
from ..cassette.grpc import CallMessage, call_messages, call_summary, is_grpc
from ..cassette.query import MISSING, Query, QueryError, payload_of, write_filtered
from ..cassette.redaction import REDACTED
from ..commands._common import age
from .paths import CassetteRoot

__all__ = [
    "MAX_BINS",
    "MAX_LIMIT",
    "NotFound",
    "Query",
    "QueryError",
    "Summary",
    "cassette_details",
    "create_filtered",
    "fields_of",
    "grpc_call",
    "http_page",
    "http_summary",
    "list_cassettes",
    "page_messages",
    "record_detail",
    "summary_of",
    "timeline_bins",
]

MAX_LIMIT = 1000
MAX_BINS = 2000
_MAX_BODY_CHARS = 65536
_MAX_FIELDS = 500
_FIELD_DEPTH = 8
_FIELD_ITEMS = 20
_FIELDS_SAMPLE = 20000


# -- JSON fields -------------------------------------------------------------------------


def _walk_fields(value: Any, prefix: str, out: Counter[str], depth: int) -> None:
    if depth > _FIELD_DEPTH:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out[path] += 1
            _walk_fields(item, path, out, depth + 1)
    elif isinstance(value, list):
        path = f"{prefix}[]"
        for item in value[:_FIELD_ITEMS]:
            _walk_fields(item, path, out, depth + 1)


def _redacted_paths(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, str):
        return [prefix or "$"] if value == REDACTED or REDACTED in value else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _redacted_paths(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _redacted_paths(item, f"{prefix}[{index}]")
    return found


# -- HTTP calls ---------------------------------------------------------------------------

_MAX_CHUNKS = 1000
_MAX_CHUNK_CHARS = 4096


def http_summary(record: HttpInteraction, line: int) -> dict[str, Any]:
    """One call as a row shows it: what was asked, how it ended, how long, how much."""
    response = record.response
    return {
        "line": line,
        "id": record.id,
        "t": record.t,
        "method": record.request.method,
        "url": record.request.url,
        "status": response.status,
        "reason": response.reason,
        "http_version": response.http_version,
        "duration_ms": record.duration_ms,
        "content_type": response.header("content-type"),
        "size": len(response.content),
        "request_size": len(record.request.content),
        "chunks": None if response.chunks is None else len(response.chunks),
        "end": response.end,
        "grpc": call_summary(record),
    }


def _body_view(body: dict[str, Any] | None, limit: int = _MAX_BODY_CHARS) -> dict[str, Any]:
    """A stored body as the page shows it: JSON as is, text and base64 cut at ``limit``."""
    if body is None:
        return {"body": {"text": ""}, "redacted": [], "truncated": False}
    if "json" in body:
        return {"body": {"json": body["json"]}, "redacted": _redacted_paths(body["json"])}
    key = "text" if "text" in body else "base64"
    value = str(body.get(key, ""))
    if key == "text":
        redacted = ["$"] if REDACTED in value else []
    else:
        redacted = _redacted_bytes(value[:limit])
    return {"body": {key: value[:limit]}, "redacted": redacted, "truncated": len(value) > limit}


def _http_detail(record: HttpInteraction) -> dict[str, Any]:
    """Headers as stored (redacted values stay placeholders), bodies, and a streamed answer's
    chunks with their time from the response headers and their byte offset."""
    request, response = record.request, record.response
    answer: dict[str, Any] = {
        "status": response.status,
        "reason": response.reason,
        "http_version": response.http_version,
        "headers": [list(h) for h in response.headers],
        "trailers": None if response.trailers is None else [list(h) for h in response.trailers],
        "end": response.end,
    }
    if response.chunks is None:
        answer.update(_body_view(response.body), size=len(response.content))
    else:
        chunks, offset = [], 0
        for chunk in response.chunks[:_MAX_CHUNKS]:
            size = len(chunk.content)
            chunks.append(
                {"t": chunk.t, "offset": offset, "size": size}
                | _body_view(chunk.body, _MAX_CHUNK_CHARS)
            )
            offset += size
        answer.update(chunks=chunks, chunks_total=len(response.chunks))
    return {
        "request": {
            "method": request.method,
            "url": request.url,
            "headers": [list(h) for h in request.headers],
            **_body_view(request.body),
            "size": len(request.content),
        },
        "response": answer,
    }


# -- the index: one streaming pass, then pages and bins without parsing ---------------------

HTTP, WS, MSG, CLOSE, EVENT, ORPHAN = range(6)
_DIRS = {"send": 1, "recv": 2}


@dataclass
class Summary:
    """What the list and the cassette page show, from the index pass."""

    name: str
    path: Path
    size: int
    mtime: float
    header: dict[str, Any]
    kinds: dict[str, int]
    connections: list[dict[str, Any]]
    http: list[dict[str, Any]]
    events: list[dict[str, Any]]
    duration_ms: float
    channels: dict[str, int] = field(default_factory=dict)
    grpc: int = 0  # how many of the HTTP interactions are gRPC calls

    @property
    def kind(self) -> list[str]:
        labels = []
        if self.kinds.get("http", 0) > self.grpc:
            labels.append("HTTP")
        if self.grpc:
            labels.append("gRPC")
        if self.kinds.get("ws"):
            labels.append("WebSocket")
        if self.kinds.get("event"):
            labels.append("events")
        return labels

    def row(self) -> dict[str, Any]:
        recorded_at = self.header.get("recorded_at")
        return {
            "name": self.name,
            "test": self.header.get("test"),
            "kind": self.kind,
            "counts": {
                "http": self.kinds.get("http", 0),
                "ws": self.kinds.get("ws", 0),
                "messages": self.kinds.get("ws_msg", 0),
                "events": self.kinds.get("event", 0),
                "grpc": self.grpc,
            },
            "size": self.size,
            "recorded_at": recorded_at,
            "age": age(recorded_at, self.mtime),
            "version": self.header.get("version"),
            "duration_ms": self.duration_ms,
        }


@dataclass
class Index:
    """Per record: kind, connection, direction, time on the cassette's axis, channel, event
    name and the line's byte offset, in compact arrays (about 30 bytes a record).

    Structural filters (connection, direction, event, channel, time) and the timeline run on
    these arrays; only the records of the page asked for are read again, by seeking.
    """

    summary: Summary
    kinds: array[int] = field(default_factory=lambda: array("b"))
    conns: array[int] = field(default_factory=lambda: array("q"))
    dirs: array[int] = field(default_factory=lambda: array("b"))
    times: array[float] = field(default_factory=lambda: array("d"))
    channels: array[int] = field(default_factory=lambda: array("l"))
    names: array[int] = field(default_factory=lambda: array("l"))
    offsets: array[int] = field(default_factory=lambda: array("q"))
    channel_names: list[str] = field(default_factory=list)
    event_names: list[str] = field(default_factory=list)


def _intern(table: dict[str, int], names: list[str], value: str) -> int:
    found = table.get(value)
    if found is None:
        found = table[value] = len(names)
        names.append(value)
    return found


def _build_index(root: CassetteRoot, path: Path) -> Index:
    stat = path.stat()
    header = read_header(path)
    summary = Summary(
        name=root.name_of(path),
        path=path,
        size=stat.st_size,
        mtime=stat.st_mtime,
        header=header.to_json(),
        kinds={},
        connections=[],
        http=[],
        events=[],
        duration_ms=0.0,
    )
    index = Index(summary)
    kinds: Counter[str] = Counter()
    channel_ids: dict[str, int] = {}
    name_ids: dict[str, int] = {}
    channels: Counter[str] = Counter()
    conns: dict[int, dict[str, Any]] = {}
    events: dict[str, list[float]] = {}
    event_counts: Counter[str] = Counter()
    end = 0.0
    for record in iter_records(path):
        conn, direction, channel, name = -1, 0, -1, -1
        if isinstance(record, WsMessage):
            kinds["ws_msg"] += 1
            stats = conns.get(record.conn)
            t = (stats["t"] if stats else 0.0) + record.t
            kind = MSG if stats is not None else ORPHAN
            conn, direction = record.conn, _DIRS.get(record.dir, 0)
            if stats is not None:
                stats["sent" if record.dir == "send" else "received"] += 1
                stats["last_t"] = max(stats["last_t"], record.t)
            payload = payload_of(record)
            if isinstance(payload, dict) and isinstance(payload.get("channel"), str):
                channel = _intern(channel_ids, index.channel_names, payload["channel"])
                channels[payload["channel"]] += 1
        elif isinstance(record, Event):
            kinds["event"] += 1
            kind, t = EVENT, record.t
            name = _intern(name_ids, index.event_names, record.name)
            event_counts[record.name] += 1
            times = events.setdefault(record.name, [t, t])
            times[0], times[1] = min(times[0], t), max(times[1], t)
            data = record.data
            if isinstance(data, dict) and isinstance(data.get("channel"), str):
                channel = _intern(channel_ids, index.channel_names, data["channel"])
                channels[data["channel"]] += 1
        elif isinstance(record, HttpInteraction):
            kinds["http"] += 1
            kind, t, conn = HTTP, record.t, record.id
            end = max(end, record.t + record.duration_ms)
            summary.grpc += is_grpc(record.request.headers)
            if len(summary.http) < _HTTP_SHOWN:
                summary.http.append(http_summary(record, len(index.kinds) + 2))
        elif isinstance(record, WsConnection):
            kinds["ws"] += 1
            kind, t, conn = WS, record.t, record.id
            conns[record.id] = {
                "id": record.id,
                "url": record.url,
                "t": record.t,
                "sent": 0,
                "received": 0,
                "last_t": 0.0,
                "close": None,
            }
        else:
            kinds["ws_close"] += 1
            stats = conns.get(record.conn)
            kind, t, conn = CLOSE, (stats["t"] if stats else 0.0) + record.t, record.conn
            if stats is not None:
                stats["close"] = {
                    "code": record.code,
                    "reason": record.reason,
                    "by": record.by,
                    "t": record.t,
                }
        end = max(end, t)
        index.kinds.append(kind)
        index.conns.append(conn)
        index.dirs.append(direction)
        index.times.append(t)
        index.channels.append(channel)
        index.names.append(name)
    with open(path, "rb") as fh:
        position = len(fh.readline())
        for line in fh:
            index.offsets.append(position)
            position += len(line)
    if len(index.offsets) != len(index.kinds):
        raise CassetteError(path, None, "changed while being read; try again")
    summary.kinds = dict(kinds)
    summary.connections = list(conns.values())
    summary.events = [
        {"name": n, "count": event_counts[n], "first": ts[0], "last": ts[1]}
        for n, ts in sorted(events.items())
    ]
    summary.duration_ms = end
    summary.channels = dict(channels.most_common())
    return index


_cache: OrderedDict[tuple[str, int, int], Index] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 32
_HTTP_SHOWN = 500


def index_of(root: CassetteRoot, path: Path) -> Index:
    """``path``'s index, cached until the file's size or mtime changes."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    index = _build_index(root, path)
    with _cache_lock:
        _cache[key] = index
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return index


def summary_of(root: CassetteRoot, path: Path) -> Summary:
    return index_of(root, path).summary


def list_cassettes(root: CassetteRoot, search: str | None = None) -> dict[str, Any]:
    """Every cassette's row; unreadable ones are listed with their error, not dropped."""
    rows: list[dict[str, Any]] = []
    needle = (search or "").strip().lower()
    for path in root.cassettes():
        name = path.relative_to(root.root).as_posix()
        try:
            row = summary_of(root, path.resolve()).row()
            row["name"] = name
        except CassetteError as exc:
            row = {"name": name, "error": error_text(root, exc), "size": path.stat().st_size}
        if needle:
            haystack = f"{row['name']} {row.get('test') or ''} {' '.join(row.get('kind', []))}"
            if needle not in haystack.lower():
                continue
        rows.append(row)
    return {"root": str(root.root), "count": len(rows), "cassettes": rows}


def error_text(root: CassetteRoot, exc: CassetteError) -> str:
    """The error with the path relative to the root (the absolute path is nobody's business)."""
    text = str(exc)
    try:
        rel = Path(exc.path).resolve().relative_to(root.root).as_posix()
    except ValueError:
        return text
    return rel + text[len(exc.path) :] if text.startswith(exc.path) else text


def cassette_details(root: CassetteRoot, path: Path) -> dict[str, Any]:
    summary = summary_of(root, path)
    return {
        **summary.row(),
        "header": summary.header,
        "records": summary.kinds,
        "connections": summary.connections,
        "http": summary.http,
        "http_shown": len(summary.http),
        "events": summary.events,
        "channels": summary.channels,
    }


# -- queries ------------------------------------------------------------------------------


_SHOWN_KINDS = (WsMessage, Event, HttpInteraction)
_SHOWN_CODES = (MSG, EVENT, HTTP)


def _item(record: Record, t: float, line: int) -> dict[str, Any]:
    """One record as the page shows it: where, when, what, and the redacted fields."""
    item: dict[str, Any] = {"line": line, "t": round(t, 3)}
    body: dict[str, Any] | None
    if isinstance(record, WsMessage):
        item.update(kind="ws_msg", conn=record.conn, dir=record.dir, binary=record.binary)
        body = record.body
        item["size"] = len(record.content)
    elif isinstance(record, Event):
        item.update(kind="event", name=record.name, session=record.session, type=record.type)
        body = {"json": record.data}
        item["size"] = len(json.dumps(record.data, ensure_ascii=False).encode())
    else:
        assert isinstance(record, HttpInteraction)
        item.update(
            kind="http",
            id=record.id,
            method=record.request.method,
            url=record.request.url,
            status=record.response.status,
        )
        response = record.response
        # a streamed answer's body is its chunks, joined (each with its time: record_detail)
        body = response.body if response.chunks is None else encode_body(response.content)
        item["size"] = len(response.content)
        item["duration_ms"] = record.duration_ms
        call = call_summary(record)
        if call is not None:  # a gRPC call: its summary and its first messages
            messages = call_messages(record)
            item["grpc"] = call
            item["messages"] = [_message(m) for m in messages[:_ITEM_MESSAGES]]
            item["messages_total"] = len(messages)
    payload = payload_of(record)
    if isinstance(payload, dict) and isinstance(payload.get("channel"), str):
        item["channel"] = payload["channel"]
    if body is None:
        item["body"] = {"text": ""}
    elif "json" in body:
        item["body"] = {"json": body["json"]}
        item["redacted"] = _redacted_paths(body["json"])
    elif "text" in body:
        text = str(body["text"])
        item["body"] = {"text": text[:_MAX_BODY_CHARS]}
        item["truncated"] = len(text) > _MAX_BODY_CHARS
        item["redacted"] = ["$"] if REDACTED in text else []
    else:
        b64 = str(body.get("base64", ""))
        item["body"] = {"base64": b64[:_MAX_BODY_CHARS]}
        item["truncated"] = len(b64) > _MAX_BODY_CHARS
        item["redacted"] = _redacted_bytes(b64[:_MAX_BODY_CHARS])
    item.setdefault("redacted", [])
    return item


def _redacted_bytes(b64: str) -> list[str]:
    """``["$"]`` when binary bytes hold a placeholder (redaction writes one of the secret's
    length into gRPC, protobuf and other binary bodies), else none."""
    try:
        data = base64.b64decode(b64[: len(b64) - len(b64) % 4])
    except ValueError:
        return []
    return ["$"] if REDACTED.encode() in data else []


_ITEM_MESSAGES = 50
_READ_BATCH = 200


def _message(m: CallMessage) -> dict[str, Any]:
    """One gRPC message as the page shows it, like a WebSocket message: its direction, offset
    from the call's start, size, type and JSON form when known, and its protobuf bytes."""
    b64 = base64.b64encode(m.payload[: _MAX_BODY_CHARS * 3 // 4]).decode("ascii")
    out: dict[str, Any] = {
        "dir": m.dir,
        "index": m.index,
        "t": round(m.t, 3),
        "size": len(m.payload),
        "type": m.type,
        "base64": b64,
        "truncated": len(m.payload) > _MAX_BODY_CHARS * 3 // 4,
    }
    if m.decoded:
        out["json"] = m.json
        out["redacted"] = _redacted_paths(m.json)
    return out


class NotFound(LookupError):
    """Something the request names that the cassette does not have (the API answers 404)."""


def grpc_call(
    root: CassetteRoot, path: Path, call_id: int, *, offset: int = 0, limit: int = 100
) -> dict[str, Any]:
    """A gRPC call as a stream of messages (both directions, in the order they passed), a
    page at a time, with its summary, status, trailers and ending."""
    if offset < 0 or not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"offset must be >= 0 and limit between 1 and {MAX_LIMIT}")
    index = index_of(root, path)
    numbers = [
        n for n in range(len(index.kinds)) if index.kinds[n] == HTTP and index.conns[n] == call_id
    ]
    records = _read_records(path, index, numbers[:1])
    record = records[0] if records else None
    call = call_summary(record) if isinstance(record, HttpInteraction) else None
    if call is None or not isinstance(record, HttpInteraction):
        raise NotFound(f"{root.name_of(path)}: no gRPC call {call_id}")
    messages = call_messages(record)
    page = messages[offset : offset + limit]
    more = offset + limit < len(messages)
    return {
        "id": record.id,
        "line": numbers[0] + 2,
        "t": record.t,
        "url": record.request.url,
        "grpc": call,
        "status": {"code": call["status"], "name": call["status_name"], "message": call["message"]},
        "trailers": record.response.trailers,
        "end": record.response.end,
        "total": len(messages),
        "offset": offset,
        "messages": [_message(m) for m in page],
        "next_offset": offset + len(page) if more else None,
    }


def _fast_matches(index: Index, query: Query) -> Iterator[int]:
    """Record numbers the query selects, from the index alone (structural queries only).

    Mirrors ``Selection``: options naming a family drop the others, messages of a connection
    whose ``ws`` record is missing are dropped, and ``channel`` compares the body's (or the
    event data's) ``channel`` field.
    """
    scoped = bool(query.conn or query.dir or query.event)
    keep = {
        HTTP: not scoped,
        MSG: not scoped or bool(query.conn or query.dir),
        EVENT: not scoped or bool(query.event),
    }
    conns = set(query.conn) if query.conn else None
    direction = _DIRS.get(query.dir or "", 0)
    names = (
        {i for i, n in enumerate(index.event_names) if n in query.event} if query.event else None
    )
    channel = -2
    if query.channel is not None:
        channel = (
            index.channel_names.index(query.channel) if query.channel in index.channel_names else -3
        )
    lo, hi = query.t_from, query.t_to
    kinds, times = index.kinds, index.times
    for i in range(len(kinds)):
        kind = kinds[i]
        if kind not in _SHOWN_CODES or not keep[kind]:
            continue
        if kind == MSG:
            if conns is not None and index.conns[i] not in conns:
                continue
            if direction and index.dirs[i] != direction:
                continue
        elif kind == EVENT and names is not None and index.names[i] not in names:
            continue
        if channel != -2 and index.channels[i] != channel:
            continue
        t = times[i]
        if (lo is not None and t < lo) or (hi is not None and t > hi):
            continue
        yield i


def _read_records(path: Path, index: Index, numbers: list[int]) -> list[Record]:
    """The records with these numbers, read by seeking to their lines."""
    out: list[Record] = []
    with open(path, "rb") as fh:
        for n in numbers:
            fh.seek(index.offsets[n])
            line = fh.readline()
            try:
                out.append(record_from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                raise CassetteError(path, n + 2, f"changed while being read ({exc})") from None
    return out


def page_messages(
    root: CassetteRoot,
    path: Path,
    query: Query,
    *,
    offset: int = 0,
    limit: int = 100,
    count_total: bool = True,
) -> dict[str, Any]:
    """One page of the selected messages/events/interactions, in file order.

    Structural queries are answered from the index; content queries (text, JSON path,
    ``where``, URL) stream through the cassette with ``Selection`` and, unless
    ``count_total``, stop once the page is full.
    """
    if offset < 0 or not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"offset must be >= 0 and limit between 1 and {MAX_LIMIT}")
    index = index_of(root, path)
    items: list[dict[str, Any]] = []
    complete = True
    if query.structural:
        matched_numbers = list(_fast_matches(index, query))
        matched = len(matched_numbers)
        numbers = matched_numbers[offset : offset + limit]
        for n, record in zip(numbers, _read_records(path, index, numbers), strict=True):
            items.append(_item(record, index.times[n], n + 2))
    else:
        selection = query.selection()
        matched = 0
        for line, record in enumerate(iter_records(path), start=2):
            if not selection(record) or not isinstance(record, _SHOWN_KINDS):
                continue
            if offset <= matched < offset + limit:
                items.append(_item(record, selection.time_of(record), line))
            matched += 1
            if matched > offset + limit and not count_total:
                complete = False
                break
    more = matched > offset + limit
    return {
        "offset": offset,
        "limit": limit,
        "items": items,
        "total": matched if complete else None,
        "has_more": more,
        "next_offset": offset + len(items) if more else None,
    }


def http_page(
    root: CassetteRoot,
    path: Path,
    *,
    offset: int = 0,
    limit: int = 50,
    t_from: float | None = None,
    t_to: float | None = None,
    grpc_method: str | None = None,
    grpc_status: str | None = None,
) -> dict[str, Any]:
    """One page of the cassette's HTTP calls (summaries), in file order, from the index.

    ``grpc_method`` (substring) and ``grpc_status`` (name or number) keep the gRPC calls
    ``streamreplay filter`` would keep with them; those read the calls in the time range."""
    if offset < 0 or not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"offset must be >= 0 and limit between 1 and {MAX_LIMIT}")
    index = index_of(root, path)
    matched = [
        i
        for i, kind in enumerate(index.kinds)
        if kind == HTTP
        and (t_from is None or index.times[i] >= t_from)
        and (t_to is None or index.times[i] <= t_to)
    ]
    if grpc_method or grpc_status:
        selection = Query.from_options(
            {"grpc_method": grpc_method, "grpc_status": grpc_status}
        ).selection()
        kept: list[int] = []
        for start in range(0, len(matched), _READ_BATCH):  # a batch of records in memory
            batch = matched[start : start + _READ_BATCH]
            records = _read_records(path, index, batch)
            kept += [n for n, r in zip(batch, records, strict=True) if selection(r)]
        matched = kept
    numbers = matched[offset : offset + limit]
    items = []
    for n, record in zip(numbers, _read_records(path, index, numbers), strict=True):
        assert isinstance(record, HttpInteraction)
        items.append(http_summary(record, n + 2))
    more = len(matched) > offset + limit
    return {
        "offset": offset,
        "limit": limit,
        "items": items,
        "total": len(matched),
        "has_more": more,
        "next_offset": offset + len(items) if more else None,
    }


def record_detail(root: CassetteRoot, path: Path, line: int) -> dict[str, Any]:
    """The message, event or HTTP call on ``line`` in full (an HTTP call with its headers,
    bodies and chunks), for the row the reader opened."""
    index = index_of(root, path)
    n = line - 2
    if not 0 <= n < len(index.kinds) or index.kinds[n] not in _SHOWN_CODES:
        raise QueryError(f"line {line} is not a message, event or HTTP call of this cassette")
    (record,) = _read_records(path, index, [n])
    item = _item(record, index.times[n], line)
    if isinstance(record, HttpInteraction):
        item.update(http_summary(record, line), **_http_detail(record))
    return item


def timeline_bins(
    root: CassetteRoot,
    path: Path,
    query: Query,
    *,
    start: float | None = None,
    end: float | None = None,
    bins: int = 200,
) -> dict[str, Any]:
    """Counts per series (connection and direction, event name, HTTP) per time bin.

    The response size is bounded by ``bins`` times the number of series, whatever the
    cassette's size; zooming asks again with a narrower ``start``/``end``.
    """
    if not 1 <= bins <= MAX_BINS:
        raise QueryError(f"bins must be between 1 and {MAX_BINS}")
    index = index_of(root, path)
    summary = index.summary
    lo = 0.0 if start is None else float(start)
    hi = summary.duration_ms if end is None else float(end)
    if hi <= lo:
        hi = lo + 1.0
    width = (hi - lo) / bins
    urls = {c["id"]: c["url"] for c in summary.connections}
    series: dict[tuple[int, int, int], list[int]] = {}

    def add(kind: int, key: int, direction: int, t: float) -> None:
        if t < lo or t > hi:
            return
        counts = series.get((kind, key, direction))
        if counts is None:
            counts = series[(kind, key, direction)] = [0] * bins
        counts[min(bins - 1, int((t - lo) / width))] += 1

    ranged = Query(**{**query.options(), "t_from": lo, "t_to": hi})
    if ranged.structural:
        for i in _fast_matches(index, ranged):
            kind = index.kinds[i]
            key = index.conns[i] if kind == MSG else index.names[i] if kind == EVENT else 0
            add(kind, key, index.dirs[i], index.times[i])
    else:
        selection = ranged.selection()
        names = {n: i for i, n in enumerate(index.event_names)}
        for record in iter_records(path):
            if not selection(record) or not isinstance(record, _SHOWN_KINDS):
                continue
            t = selection.time_of(record)
            if isinstance(record, WsMessage):
                add(MSG, record.conn, _DIRS.get(record.dir, 0), t)
            elif isinstance(record, Event):
                add(EVENT, names.get(record.name, -1), 0, t)
            else:
                add(HTTP, 0, 0, t)
    out = []
    for (kind, key, direction), counts in sorted(series.items()):
        if kind == MSG:
            dir_name = "send" if direction == 1 else "recv"
            label = f"#{key} {dir_name} {urls.get(key, '')}".strip()
            out_key = f"conn {key} {dir_name}"
        elif kind == EVENT:
            out_key = label = f"event {index.event_names[key]}"
        else:
            out_key = label = "http"
        out.append({"key": out_key, "label": label, "counts": counts, "total": sum(counts)})
    return {"start": lo, "end": hi, "bins": bins, "bin_ms": width, "series": out}


_fields_cache: OrderedDict[tuple[str, int, int], list[dict[str, Any]]] = OrderedDict()


def fields_of(path: Path) -> list[dict[str, Any]]:
    """JSON paths seen in message bodies, event data and response bodies, with counts."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        if key in _fields_cache:
            return _fields_cache[key]
    seen: Counter[str] = Counter()
    sampled = 0
    for record in iter_records(path):
        payload = payload_of(record)
        if payload is not MISSING:
            _walk_fields(payload, "", seen, 0)
            sampled += 1
            if sampled >= _FIELDS_SAMPLE:
                break
    fields = [{"path": p, "count": n} for p, n in sorted(seen.items())[:_MAX_FIELDS]]
    with _cache_lock:
        _fields_cache[key] = fields
        while len(_fields_cache) > _CACHE_SIZE:
            _fields_cache.popitem(last=False)
    return fields


def create_filtered(
    root: CassetteRoot, source: Path, output: str, query: Query, overwrite: bool = False
) -> dict[str, Any]:
    """Write the query's selection as a new cassette inside the root (atomically)."""
    target = root.new(output)
    if target.resolve() == source.resolve():
        raise QueryError("the output must differ from the cassette being viewed")
    if target.exists() and not overwrite:
        raise FileExistsError(output)
    kept, total = write_filtered(source, target, query)
    return {
        "name": root.name_of(target),
        "kept": sum(kept.values()),
        "total": total,
        "by_kind": {k: kept[k] for k in ("http", "ws", "ws_msg", "ws_close", "event")},
        "size": os.path.getsize(target),
    }
