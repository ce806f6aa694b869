"""Export cassette records as a mitmproxy flow file, to browse a recording in mitmweb.

Each HTTP interaction becomes an ``HTTPFlow``; each WebSocket connection an ``HTTPFlow`` with a
101 handshake and ``WebSocketData``. Events have no flow form and are counted, not written.
Flows are written when the input ends (a connection's messages may come after later records),
to a temporary file renamed over the target, like cassettes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..records import Event, Header, HttpInteraction, Record, WsClose, WsConnection, WsMessage
from ..storage import write_atomically
from ._common import encode_content
from .mitm_import import METADATA_KEY

if TYPE_CHECKING:
    from mitmproxy import connection, http

__all__ = ["ExportSummary", "to_mitm"]


@dataclass
class ExportSummary:
    """What ``to_mitm`` wrote, and what it could not."""

    path: Path
    http_flows: int = 0
    websocket_flows: int = 0
    messages: int = 0
    events_skipped: int = 0
    orphans_skipped: int = 0

    @property
    def flows(self) -> int:
        return self.http_flows + self.websocket_flows


def _start_epoch(header: Header | None) -> float:
    if header is not None and header.recorded_at:
        try:
            return datetime.fromisoformat(header.recorded_at).timestamp()
        except ValueError:
            pass
    return float(int(time.time()))


def _fields(headers: Iterable[tuple[str, str]]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((k.encode("utf-8"), v.encode("utf-8")) for k, v in headers)


def _address(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    tls = parts.scheme in ("https", "wss")
    return parts.hostname or "", parts.port or (443 if tls else 80), tls


def _connections(url: str, start: float, end: float) -> tuple[connection.Client, connection.Server]:
    from mitmproxy import connection

    host, port, tls = _address(url)
    client = connection.Client(
        peername=("127.0.0.1", 50000),
        sockname=("127.0.0.1", 8080),
        timestamp_start=start,
        timestamp_end=end,
        tls=tls,
        sni=host if tls else None,
        state=connection.ConnectionState.CLOSED,
    )
    server = connection.Server(
        address=(host, port),
        peername=(host, port),
        timestamp_start=start,
        timestamp_tcp_setup=start,
        timestamp_tls_setup=start if tls else None,
        timestamp_end=end,
        tls=tls,
        sni=host if tls else None,
        state=connection.ConnectionState.CLOSED,
    )
    return client, server


def _request(
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    content: bytes,
    start: float,
    version: str = "HTTP/1.1",
) -> http.Request:
    from mitmproxy import http

    host, port, tls = _address(url)
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    fields = _fields(headers)
    return http.Request(
        host=host,
        port=port,
        method=method.encode("utf-8"),
        scheme=b"https" if tls else b"http",
        authority=b"",
        path=path.encode("utf-8"),
        http_version=version.encode("utf-8"),
        headers=http.Headers(fields),
        content=encode_content(content, headers),
        trailers=None,
        timestamp_start=start,
        timestamp_end=start,
    )


def _response(
    status: int,
    reason: str,
    version: str,
    headers: list[tuple[str, str]],
    content: bytes,
    start: float,
    end: float,
    recipe: dict[str, Any] | None = None,
    trailers: list[tuple[str, str]] | None = None,
) -> http.Response:
    from mitmproxy import http

    return http.Response(
        http_version=version.encode("utf-8"),
        status_code=status,
        reason=reason.encode("utf-8"),
        headers=http.Headers(_fields(headers)),
        content=encode_content(content, headers, recipe),
        trailers=None if trailers is None else http.Headers(_fields(trailers)),
        timestamp_start=start,
        timestamp_end=end,
    )


def _mark(flow: http.HTTPFlow, base: float, record_id: int) -> None:
    """What ``from_mitm`` needs to give back the same records: the time origin and the id."""
    flow.metadata[METADATA_KEY] = {"cassette_start": base, "id": record_id}


def _mark_parts(flow: http.HTTPFlow, record: HttpInteraction) -> None:
    """What a flow has no place for: a streamed response's chunks (their sizes, offsets and
    ``after``) and the JSON forms of a gRPC call's messages; the bytes are the flow's."""
    stored = flow.metadata[METADATA_KEY]
    if record.response.chunks is not None:
        stored["chunks"] = [
            {
                "t": round(c.t, 3),
                "size": len(c.content),
                **({"after": c.after} if c.after is not None else {}),
                **({"message": c.message} if c.message is not None else {}),
            }
            for c in record.response.chunks
        ]
    if record.request.messages is not None:
        stored["request_messages"] = record.request.messages


def _http_flow(record: HttpInteraction, base: float) -> http.HTTPFlow:
    from mitmproxy import flow as flow_module
    from mitmproxy import http

    start = base + record.t / 1000.0
    end = start + record.duration_ms / 1000.0
    req, resp = record.request, record.response
    client, server = _connections(req.url, start, end)
    flow = http.HTTPFlow(client, server)
    flow.timestamp_created = start
    flow.request = _request(req.method, req.url, req.headers, req.content, start, resp.http_version)
    if resp.end is not None:
        # mitmproxy's own way to say a flow did not finish; mitmweb shows it.
        flow.error = flow_module.Error(f"streamreplay: response ended {resp.end}", end)
    if resp.end == "no_response":
        _mark(flow, base, record.id)
        return flow  # nothing reached the client: a flow without a response, as mitmproxy has
    flow.response = _response(
        resp.status,
        resp.reason,
        resp.http_version,
        resp.headers,
        resp.content,
        end,
        end,
        resp.encoded,
        resp.trailers,
    )
    _mark(flow, base, record.id)
    _mark_parts(flow, record)
    return flow


def _http_url(ws_url: str) -> str:
    if ws_url.startswith("wss://"):
        return "https://" + ws_url[len("wss://") :]
    if ws_url.startswith("ws://"):
        return "http://" + ws_url[len("ws://") :]
    return ws_url


def _ws_flow(record: WsConnection, base: float) -> http.HTTPFlow:
    from mitmproxy import http
    from mitmproxy.websocket import WebSocketData

    opening = base + record.t / 1000.0
    url = _http_url(record.url)
    client, server = _connections(url, opening, opening)
    flow = http.HTTPFlow(client, server)
    flow.timestamp_created = opening
    flow.request = _request("GET", url, record.headers, b"", opening)
    flow.response = _response(
        101, "Switching Protocols", "HTTP/1.1", record.response_headers, b"", opening, opening
    )
    flow.websocket = WebSocketData()
    _mark(flow, base, record.id)
    return flow


def _write(path: Path, flows: Iterable[http.HTTPFlow]) -> None:
    from mitmproxy import io as mitmio

    def write(fh: IO[bytes]) -> None:
        writer = mitmio.FlowWriter(fh)
        for flow in flows:
            writer.add(flow)

    write_atomically(path, write, "flow file")


def to_mitm(
    records: Iterable[Record],
    path: str | os.PathLike[str],
    *,
    header: Header | None = None,
) -> ExportSummary:
    """Write ``records`` as mitmproxy flows to ``path``.

    Times are placed from the header's ``recorded_at`` (now when absent), and every flow
    carries that start in its metadata, so ``from_mitm`` gives back the same ``t`` values.
    """
    from mitmproxy.websocket import WebSocketMessage
    from wsproto.frame_protocol import Opcode

    summary = ExportSummary(Path(path))
    base = _start_epoch(header)
    flows: list[http.HTTPFlow] = []
    sockets: dict[int, http.HTTPFlow] = {}
    for record in records:
        if isinstance(record, HttpInteraction):
            flows.append(_http_flow(record, base))
            summary.http_flows += 1
        elif isinstance(record, WsConnection):
            flow = _ws_flow(record, base)
            sockets[record.id] = flow
            flows.append(flow)
            summary.websocket_flows += 1
        elif isinstance(record, WsMessage | WsClose):
            flow_or_none = sockets.get(record.conn)
            if flow_or_none is None or flow_or_none.websocket is None:
                summary.orphans_skipped += 1
                continue
            ws = flow_or_none.websocket
            opening = flow_or_none.request.timestamp_start
            when = opening + record.t / 1000.0
            if isinstance(record, WsMessage):
                opcode = Opcode.BINARY if record.binary else Opcode.TEXT
                ws.messages.append(
                    WebSocketMessage(opcode, record.dir == "send", record.content, when)
                )
                summary.messages += 1
            else:
                ws.close_code = record.code
                ws.close_reason = record.reason
                ws.closed_by_client = record.by == "client"
                ws.timestamp_end = when
            _extend(flow_or_none, when)
        elif isinstance(record, Event):
            summary.events_skipped += 1
    _write(summary.path, flows)
    return summary


def _extend(flow: Any, when: float) -> None:
    """Keep the connections open until the last message, as mitmweb's timing view expects."""
    for conn in (flow.client_conn, flow.server_conn):
        if conn.timestamp_end is None or conn.timestamp_end < when:
            conn.timestamp_end = when
