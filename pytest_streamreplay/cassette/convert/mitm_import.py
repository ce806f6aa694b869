"""Import mitmproxy flow dumps (``mitmdump -w``, mitmweb "Save") as cassette records.

mitmproxy writes a flow when it completes, so a long WebSocket opened first is often written
last: flows are sorted by start before conversion, and times are measured from the earliest one
(or from the cassette start that ``to_mitm`` stored in the flows, so a round trip keeps ``t``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..body import decode_body, encode_body, is_utf8
from ..grpc import framed_messages
from ..records import (
    Chunk,
    HttpInteraction,
    HttpRequest,
    HttpResponse,
    Record,
    WsClose,
    WsConnection,
    WsMessage,
    is_grpc,
)
from ._common import (
    ConvertError,
    SkipHandler,
    content_encoding,
    decode_content,
    header_text,
    ignore_skip,
)

if TYPE_CHECKING:
    from mitmproxy import http

__all__ = ["METADATA_KEY", "from_mitm"]

METADATA_KEY = "streamreplay"
"""Flow metadata key under which ``to_mitm`` stores ``{"cassette_start": epoch seconds}``."""


def _headers(headers: Any) -> list[tuple[str, str]]:
    return [(header_text(k), header_text(v)) for k, v in headers.fields]


def _http_url(request: http.Request) -> str:
    return request.pretty_url


def _ws_url(request: http.Request) -> str:
    url = request.pretty_url
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def _body(raw: bytes | None, headers: list[tuple[str, str]]) -> tuple[Any, list[tuple[str, str]]]:
    content, headers = decode_content(raw or b"", headers)
    return encode_body(content), headers


def _wire_recipe(raw: bytes | None, headers: list[tuple[str, str]], body: Any) -> Any:
    """How to rebuild the compressed bytes exactly (``HttpResponse.encoded``), if encoded."""
    from ..body import decode_body
    from ..encoding import describe_encoding

    ce = content_encoding(headers)
    if not raw or ce is None or ce == "identity":
        return None
    return describe_encoding(ce, raw, decode_body(body))


def _ws_opening(flow: http.HTTPFlow) -> float:
    response = flow.response
    if response is not None:
        return response.timestamp_end or response.timestamp_start
    return flow.request.timestamp_start


def _flow_start(flow: http.HTTPFlow) -> float:
    return flow.request.timestamp_start


def _origin(flows: list[http.HTTPFlow]) -> float:
    for flow in flows:
        stored = flow.metadata.get(METADATA_KEY)
        if isinstance(stored, dict) and isinstance(stored.get("cassette_start"), int | float):
            return float(stored["cassette_start"])
    return min(_flow_start(f) for f in flows)


def _http_record(flow: http.HTTPFlow, rid: int, origin: float) -> HttpInteraction:
    req, resp = flow.request, flow.response
    assert resp is not None
    req_body, req_headers = _body(req.raw_content, _headers(req.headers))
    resp_body, resp_headers = _body(resp.raw_content, _headers(resp.headers))
    if is_grpc(req_headers):  # messages are binary, whatever their bytes look like
        req_body = encode_body(decode_body(req_body), binary=True)
    end = resp.timestamp_end or resp.timestamp_start
    stored = flow.metadata.get(METADATA_KEY)
    stored = stored if isinstance(stored, dict) else {}
    response = HttpResponse(
        status=resp.status_code,
        reason=resp.reason,
        http_version=resp.http_version,
        headers=resp_headers,
        body=resp_body,
        encoded=_wire_recipe(resp.raw_content, resp_headers, resp_body),
        trailers=None if resp.trailers is None else _headers(resp.trailers),
    )
    chunks = _chunks(stored.get("chunks"), decode_body(resp_body), is_grpc(resp_headers))
    if chunks is not None:
        response.body, response.encoded, response.chunks = None, None, chunks
    messages = stored.get("request_messages")
    return HttpInteraction(
        id=rid,
        request=HttpRequest(
            req.method,
            _http_url(req),
            req_headers,
            req_body,
            messages if isinstance(messages, list) else None,
        ),
        response=response,
        t=_ms(req.timestamp_start - origin),
        duration_ms=max(0.0, _ms(end - req.timestamp_start)),
    )


def _chunks(stored: Any, content: bytes, grpc: bool) -> list[Chunk] | None:
    """A streamed response's chunks again: as ``to_mitm`` described them (sizes, offsets,
    ``after``, JSON forms), or for a gRPC answer from elsewhere one per message (no offsets)."""
    if isinstance(stored, list) and sum(int(c.get("size", -1)) for c in stored) == len(content):
        out: list[Chunk] = []
        pos = 0
        for c in stored:
            piece = content[pos : pos + int(c["size"])]
            pos += len(piece)
            after = c.get("after")
            body = encode_body(piece, binary=grpc or not is_utf8(piece))
            out.append(Chunk(float(c["t"]), body, None if after is None else int(after)))
            out[-1].message = c.get("message")
        return out
    if grpc and content:
        messages, rest = framed_messages(content)
        pieces = [b"\0" + len(p).to_bytes(4, "big") + p for _, p in messages]
        pieces = [
            p if flag == 0 else bytes([flag]) + p[1:]
            for (flag, _), p in zip(messages, pieces, strict=True)
        ]
        if rest:
            pieces.append(rest)
        return [Chunk(0.0, encode_body(p, binary=True)) for p in pieces]
    return None


def _ws_records(flow: http.HTTPFlow, cid: int, origin: float) -> Iterator[Record]:
    from wsproto.frame_protocol import Opcode

    ws = flow.websocket
    assert ws is not None
    opening = _ws_opening(flow)
    response_headers = _headers(flow.response.headers) if flow.response else []
    subprotocol = next(
        (v for k, v in response_headers if k.lower() == "sec-websocket-protocol"), None
    )
    yield WsConnection(
        id=cid,
        url=_ws_url(flow.request),
        t=_ms(opening - origin),
        headers=_headers(flow.request.headers),
        subprotocol=subprotocol,
        response_headers=response_headers,
    )
    last = opening
    for message in ws.messages:
        binary = message.type != Opcode.TEXT
        yield WsMessage.build(
            cid,
            "send" if message.from_client else "recv",
            _ms(message.timestamp - opening),
            message.content,
            binary=binary,
        )
        last = max(last, message.timestamp)
    if ws.close_code is not None or ws.closed_by_client is not None:
        yield WsClose(
            conn=cid,
            t=_ms((ws.timestamp_end or last) - opening),
            code=ws.close_code,
            reason=ws.close_reason or "",
            by="client" if ws.closed_by_client else "server",
        )


def from_mitm(
    path: str | os.PathLike[str], *, on_skip: SkipHandler = ignore_skip
) -> Iterator[Record]:
    """Yield the records of a mitmproxy flow file (or a HAR file, which mitmproxy also reads).

    HTTP flows become ``HttpInteraction`` (bodies decoded, ``Content-Encoding`` kept), WebSocket
    flows a ``WsConnection``, its ``WsMessage``s and a ``WsClose``. Flows without a cassette form
    (TCP, UDP, DNS, requests that got no response) are reported to ``on_skip`` and left out.
    """
    from mitmproxy import http
    from mitmproxy import io as mitmio
    from mitmproxy.exceptions import FlowReadException

    p = Path(path)
    try:
        fh = open(p, "rb")  # noqa: SIM115
    except FileNotFoundError:
        raise ConvertError(p, "no such file") from None
    except OSError as exc:
        raise ConvertError(p, f"cannot read: {exc.strerror}") from None
    flows: list[http.HTTPFlow] = []
    with fh:
        try:
            for index, flow in enumerate(mitmio.FlowReader(fh).stream(), start=1):
                if isinstance(flow, http.HTTPFlow):
                    flows.append(flow)
                else:
                    on_skip(f"flow {index}: a {flow.type.upper()} flow has no cassette form")
        except FlowReadException as exc:
            raise ConvertError(
                p, f"not a readable mitmproxy flow file ({exc}); after {len(flows)} flow(s)"
            ) from None
    if not flows:
        return
    flows.sort(key=_flow_start)
    origin = _origin(flows)
    ids = _Ids(flows)
    records: list[Record] = []
    for flow in flows:
        if flow.websocket is not None:
            records.extend(_ws_records(flow, ids.next(flow), origin))
        elif flow.response is None:
            error = f" ({flow.error.msg})" if flow.error else ""
            on_skip(f"{flow.request.method} {_http_url(flow.request)}: no response{error}")
        else:
            records.append(_http_record(flow, ids.next(flow), origin))
    yield from _in_recording_order(records)


def _in_recording_order(records: list[Record]) -> list[Record]:
    """Records in the order recording writes them (an interaction when its response ends, a
    message when it passes), so an exported cassette imports to the same file, line for line."""
    opened = {r.id: r.t for r in records if isinstance(r, WsConnection)}

    def written_at(record: Record) -> float:
        if isinstance(record, HttpInteraction):
            return record.t + record.duration_ms
        if isinstance(record, WsMessage | WsClose):
            return opened.get(record.conn, 0.0) + record.t
        return float(getattr(record, "t", 0.0))

    return sorted(records, key=written_at)  # stable: ties keep the flow file's order


class _Ids:
    """Record ids as recording gives them: one sequence for interactions and connections,
    from 0. A flow exported by ``to_mitm`` keeps its cassette id (when the ids of its kind are
    unique), so an export/import round trip gives back the same records and ``verify`` digest."""

    def __init__(self, flows: list[http.HTTPFlow]) -> None:
        self._kept: dict[bool, set[int]] = {}
        for is_ws in (False, True):
            stored = [_stored_id(f) for f in flows if (f.websocket is not None) is is_ws]
            known = [i for i in stored if i is not None]
            self._kept[is_ws] = set(known) if len(set(known)) == len(known) else set()
        self._used = self._kept[False] | self._kept[True]
        self._next = 0

    def next(self, flow: http.HTTPFlow) -> int:
        stored = _stored_id(flow)
        if stored is not None and stored in self._kept[flow.websocket is not None]:
            return stored
        while self._next in self._used:
            self._next += 1
        self._used.add(self._next)
        return self._next


def _stored_id(flow: http.HTTPFlow) -> int | None:
    stored = flow.metadata.get(METADATA_KEY)
    if isinstance(stored, dict) and isinstance(stored.get("id"), int):
        return int(stored["id"])
    return None
