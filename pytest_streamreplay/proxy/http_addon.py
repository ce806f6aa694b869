"""The mitmproxy addon that answers HTTP from a cassette or records what the origin sends.

Streamed responses (server-sent events, NDJSON, chunked non-JSON bodies, downloads over 1 MiB)
are recorded chunk by chunk with their offsets as they pass, never buffered, and replayed
through the replay origin so their structure and timing survive. Every other live body passes
to the client as it arrives too (``_BodyTap``): one that finishes is written whole, one the
origin breaks off or the client leaves is written as what was delivered and how it ended, as
a stream is. Buffering it would turn a broken body into the proxy's 502, which no origin sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..cassette.body import encode_body, is_utf8
from ..cassette.encoding import apply_encoding, describe_encoding
from ..cassette.grpc import MessageCutter, is_grpc
from ..cassette.records import Chunk, HttpInteraction, HttpRequest, HttpResponse
from ..session import CassetteSession
from .binding import SessionBinding
from .failsafe import WHERE, fail_closed
from .flows import (
    UNMATCHED_STATUS,
    Routed,
    bound_session,
    is_websocket_upgrade,
    refusal,
    request_from_flow,
    route_to,
)
from .h2_live import EPISODE_HEADER
from .h2_origin import H2Job, H2ReplayOrigin
from .origins import ReplayOrigins, StreamJob

__all__ = [
    "UNMATCHED_STATUS",
    "HttpRecordReplay",
    "Routed",
    "refusal",
    "request_from_flow",
]


_META = "streamreplay"
# Framing is the transport's business: replay sets Content-Length from the body it sends.
_FRAMING_HEADERS = frozenset({"transfer-encoding", "content-length"})
# Fields about an HTTP/1 connection: an HTTP/2 client takes them as a protocol error (RFC 9113
# 8.2.2). Live, mitmproxy drops them when it passes an HTTP/1 answer to an HTTP/2 client.
_CONNECTION_HEADERS = frozenset({"connection", "keep-alive", "proxy-connection", "upgrade"})
_STREAM_TYPES = (
    "application/grpc",  # server-streamed calls reach the client message by message
    "text/event-stream",
    "application/x-ndjson",
    "application/jsonl",
    "application/stream+json",
    "application/jsonlines",
)
_LARGE_BODY = 1024 * 1024


def is_streaming(response: Any) -> bool:
    """Whether a live response should be recorded chunk by chunk."""
    ctype = str(response.headers.get("content-type", "")).lower()
    if ctype.startswith(_STREAM_TYPES):
        return True
    if "chunked" in str(response.headers.get("transfer-encoding", "")).lower():
        return "json" not in ctype  # a chunked JSON API answer stays one readable body
    try:
        return int(response.headers.get("content-length", "0")) > _LARGE_BODY
    except ValueError:
        return False


def _trailers(message: Any) -> list[tuple[str, str]] | None:
    trailers = message.trailers
    return None if trailers is None else list(trailers.items(multi=True))


def _response_from_flow(
    flow: Any, chunks: list[Chunk] | None, end: str | None = None
) -> HttpResponse:
    resp = flow.response
    headers = list(resp.headers.items(multi=True))
    if chunks is not None:
        return HttpResponse(
            resp.status_code,
            resp.reason or "",
            resp.http_version,
            headers,
            chunks=chunks,
            trailers=_trailers(resp),
            end=end,
        )
    decoded = resp.get_content(strict=False) or b""
    return HttpResponse(
        status=resp.status_code,
        reason=resp.reason or "",
        http_version=resp.http_version,
        headers=headers,
        body=encode_body(decoded),
        encoded=describe_encoding(resp.headers.get("content-encoding"), resp.raw_content, decoded),
        trailers=_trailers(resp),
    )


def _has_no_body(status: int, method: str) -> bool:
    """Whether an answer has no body by definition (RFC 9110 6.4.1): its framing headers are
    not about what follows them (a HEAD answer's Content-Length is the size a GET gets)."""
    return method.upper() == "HEAD" or status in (204, 304) or 100 <= status < 200


def _response_to_flow(recorded: HttpResponse, http_version: str, method: str = "GET") -> Any:
    from mitmproxy import http

    dropped = _FRAMING_HEADERS
    if not http_version.startswith("HTTP/1"):
        named = recorded.header("connection") or ""  # and the fields it names
        dropped |= _CONNECTION_HEADERS | {f.strip().lower() for f in named.split(",")}
    headers = [(k.encode(), v.encode()) for k, v in recorded.headers if k.lower() not in dropped]
    response = http.Response.make(recorded.status, b"", headers)
    response.http_version = http_version
    if recorded.reason and not http_version.startswith("HTTP/2"):
        response.reason = recorded.reason
    if recorded.encoded is not None:
        response.raw_content = apply_encoding(recorded.encoded, recorded.content)
        response.headers["content-length"] = str(len(response.raw_content))
    else:
        response.set_content(recorded.content)  # encodes per the recorded Content-Encoding
    if recorded.trailers is not None:
        response.trailers = http.Headers([(k.encode(), v.encode()) for k, v in recorded.trailers])
    if http_version.startswith("HTTP/2") and recorded.header("content-length") is None:
        # HTTP/2 frames its own data; an added length would reach gRPC clients as metadata
        response.headers.pop("content-length", None)
    if _has_no_body(recorded.status, method) and not recorded.content:
        response.headers.pop("content-length", None)  # the 0 of the empty body set above
        if (length := recorded.header("content-length")) is not None:
            response.headers["content-length"] = length
    return response


def _answered_whole(interaction: HttpInteraction) -> bool:
    """gRPC answers and streamed responses with trailers are answered by the proxy itself:
    the replay origin speaks HTTP/1.1, which mitmproxy relays without trailers (a gRPC error
    is trailers-only: its status is in the headers of an empty HTTP/2 response)."""
    response = interaction.response
    return response.trailers is not None or is_grpc(response.headers)


class _ChunkRecorder:
    """mitmproxy calls this with each chunk as it arrives and forwards what it returns.

    A gRPC answer is recorded one chunk per message (stamped when its last byte passed), not
    per socket read, so the cassette reads as the messages the client got; the bytes forwarded
    are untouched."""

    def __init__(self, sent: bytearray | None = None, *, grpc: bool = False) -> None:
        self.start = time.monotonic()
        self._chunks: list[Chunk] = []
        self.sent = sent  # the request body so far, when it streams
        self._cutter = MessageCutter() if grpc else None
        self._partial: Chunk | None = None  # a message begun but not finished

    def __call__(self, data: bytes) -> bytes:
        if data:
            t = (time.monotonic() - self.start) * 1000.0
            after = None if self.sent is None else len(self.sent)
            if self._cutter is None:
                self._chunks.append(Chunk(t, encode_body(data, binary=not is_utf8(data)), after))
            else:
                for message in self._cutter.feed(data):
                    self._chunks.append(Chunk(t, encode_body(message, binary=True), after))
                rest = bytes(self._cutter.pending)
                self._partial = Chunk(t, encode_body(rest, binary=True), after) if rest else None
        return data

    @property
    def chunks(self) -> list[Chunk]:
        """What passed so far; a message the stream broke off in is its last chunk."""
        partial = self._partial
        return [*self._chunks, partial] if partial is not None else list(self._chunks)


class _BodyTap(_ChunkRecorder):
    """A live body no type marks as a stream: passed on as it arrives, kept whole until it
    ends. Finished, it is written as one body (``whole``); broken off, as the chunks the
    client was delivered (``chunks``), like a stream."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[tuple[float, bytes]] = []

    def __call__(self, data: bytes) -> bytes:
        if data:
            self._parts.append(((time.monotonic() - self.start) * 1000.0, data))
        return data

    def whole(self) -> bytes:
        return b"".join(data for _, data in self._parts)

    @property
    def chunks(self) -> list[Chunk]:
        return [Chunk(t, encode_body(d, binary=not is_utf8(d))) for t, d in self._parts]


def stream_end(error_msg: str, client_gone: bool = False) -> str:
    """How a response that raised mitmproxy's ``error`` hook ended, from its message and
    whether the client's connection is already closed.

    HTTP/1 says "Client disconnected." and HTTP/2 "stream reset by client" when the client went
    away; an HTTP/2 client closing its whole connection gives "peer closed connection", as an
    origin closing would, so the client's connection state decides. h11 says "incomplete
    chunked read" when the origin closed inside a chunked body; anything else after the headers
    is the origin closing early."""
    msg = error_msg.lower()
    if "client" in msg or client_gone:
        return "client_closed"
    if "incomplete chunked read" in msg:
        return "truncated"
    return "origin_closed"


@dataclass
class _Live:
    """A request that went to the origin: what recording its interaction needs."""

    session: CassetteSession
    t: float
    started: float
    original: HttpRequest | None = None  # as the client sent it, when a route redirected it
    recorder: _ChunkRecorder | None = None  # set once the response turns out to be a stream
    sent: bytearray | None = None  # a streamed request's body, as it passed

    def request(self, flow: Any) -> HttpRequest:
        """The request as the cassette keeps it: as the client sent it."""
        request = self.original or request_from_flow(flow)
        if self.sent is None:
            return request
        return HttpRequest.build(request.method, request.url, request.headers, bytes(self.sent))


class _RequestTap:
    """Keeps a streamed request's body while mitmproxy forwards it piece by piece."""

    def __init__(self, into: bytearray) -> None:
        self.into = into

    def __call__(self, data: bytes) -> bytes:
        self.into += data
        return data


def _go_live(flow: Any, session: CassetteSession, *, streamed: bool = False) -> _Live:
    """Send ``flow`` to its origin (or to the stand-in a route names) and remember what
    recording its interaction needs."""
    original = request_from_flow(flow) if not streamed else None
    target = session.route(flow.request.url)
    if target is not None:
        if streamed:  # the body is not read yet: keep the URL the client used
            original = HttpRequest.build(
                flow.request.method,
                flow.request.url,
                list(flow.request.headers.items(multi=True)),
                b"",
            )
        flow.request.url = target
    live = _Live(
        session,
        t=session.elapsed_ms(),
        started=time.monotonic(),
        original=original if target is not None else None,
        sent=bytearray() if streamed else None,
    )
    flow.metadata[_META] = live
    session.flow_started(flow.id, lambda: _record_live(flow, live, "cut_at_teardown"))
    return live


def _record_live(flow: Any, meta: _Live, end: str | None) -> None:
    """Record the exchange; ``end`` says how a response ended when it did not finish.
    Runs on the proxy loop, or on the test's thread when teardown cuts a flow off."""
    session = meta.session
    if end is not None and (flow.response is None or meta.recorder is None):
        # Nothing reached the client: no headers yet.
        response = HttpResponse(0, chunks=[], end="no_response")
    elif end is None and isinstance(meta.recorder, _BodyTap):
        flow.response.raw_content = meta.recorder.whole()  # passed on, not kept by mitmproxy
        response = _response_from_flow(flow, None)
    else:
        chunks = list(meta.recorder.chunks) if meta.recorder else None
        response = _response_from_flow(flow, chunks, end)
    session.record(
        HttpInteraction(
            id=session.next_id(),
            request=meta.request(flow),
            response=response,
            t=meta.t,
            duration_ms=(time.monotonic() - meta.started) * 1000.0,
        )
    )


class HttpRecordReplay:
    """Asks the bound session about each request: replay it, let it through, or refuse it.

    Every hook is ``fail_closed``: an error refuses the request and fails the test.
    """

    def __init__(
        self, binding: SessionBinding, origins: ReplayOrigins, h2: H2ReplayOrigin | None = None
    ) -> None:
        self.binding = binding
        self.origins = origins
        self.h2 = h2

    def client_connected(self, client: Any) -> None:
        # Counted before TLS or any request: a client that reached the proxy and then failed
        # did not bypass it (see report.NO_TRAFFIC).
        session = self.binding.session
        if session is not None:
            session.note_traffic()

    @fail_closed
    def request(self, flow: Any) -> None:
        if is_websocket_upgrade(flow.request) or isinstance(
            flow.metadata.get(_META), _Live | Routed
        ):
            return  # decided on its headers (see ``requestheaders``)
        if flow.response is not None:
            return  # answered before us (proxy authentication refused it): not ours
        session = bound_session(flow, self.binding)
        if session is None:
            return
        decision = session.decide(request_from_flow(flow))
        if decision.action == "replay":
            interaction = decision.interaction
            assert interaction is not None
            where = session.where(decision.line, decision.path)
            flow.metadata[WHERE] = where
            if interaction.response.chunks is not None and not _answered_whole(interaction):
                session.opened()
                path = self.origins.add_stream(
                    StreamJob(
                        interaction,
                        session.speed,
                        lambda: session.closed(None),
                        on_error=lambda text: session.add_error(f"{where}: {text}"),
                    )
                )
                flow.metadata[_META] = Routed(session, path)
                route_to(flow, self.origins.http_port, path)
                return
            flow.response = _response_to_flow(
                interaction.response, flow.request.http_version, flow.request.method
            )
            flow.metadata[_META] = "replayed"
        elif decision.action == "live":
            _go_live(flow, session)
        else:
            flow.response = refusal(decision.report)
            flow.metadata[_META] = "refused"

    @fail_closed
    def requestheaders(self, flow: Any) -> None:
        """A gRPC call is decided on its headers when the mode leaves one choice, and its
        request then streams as the client sends it: a bidirectional client waits for answers
        before sending more, so its request must not wait in the proxy for its end. While
        only recording it goes live; while replaying (``new_episodes`` too) it goes to the
        HTTP/2 replay origin, which matches it on its first message and, in ``new_episodes``,
        sends a call that matches nothing back here live, with a one-time token
        (``EPISODE_HEADER``, stripped here) that has it recorded as while only recording."""
        if flow.response is not None:
            return  # answered before us (proxy authentication refused it): not ours
        if EPISODE_HEADER in flow.request.headers:
            self._new_episode(flow, flow.request.headers.pop(EPISODE_HEADER))
            return
        session = self.binding.session
        if session is None or not is_grpc(list(flow.request.headers.items(multi=True))):
            return
        if session.can_record and not session.can_replay:
            live = _go_live(flow, session, streamed=True)
            flow.request.stream = _RequestTap(live.sent if live.sent is not None else bytearray())
        elif (
            session.can_replay
            and self.h2 is not None
            and (not session.can_record or self.h2.via is not None)
        ):
            session.opened()
            path = self.h2.add(
                H2Job(
                    session,
                    request_from_flow(flow),
                    session.speed,
                    lambda: session.closed(None),
                )
            )
            flow.metadata[_META] = Routed(session, path)
            route_to(flow, self.h2.port, path)
            flow.request.stream = True

    def _new_episode(self, flow: Any, token: str) -> None:
        """A call the HTTP/2 replay origin matched to nothing and sends live through here:
        recorded as while only recording. A token this run did not hand out is refused."""
        session = self.h2.claim_episode(token) if self.h2 is not None else None
        if session is None or session is not self.binding.session:
            report = (
                f"pytest-streamreplay: {flow.request.method} {flow.request.url} came with an "
                f"{EPISODE_HEADER} header this proxy did not hand out (or after its test "
                "ended): refused, not sent"
            )
            flow.response = refusal(report)
            flow.metadata[_META] = "refused"
            if self.binding.session is not None:
                self.binding.session.add_error(report)
            return
        live = _go_live(flow, session, streamed=True)
        flow.request.stream = _RequestTap(live.sent if live.sent is not None else bytearray())

    @fail_closed
    def responseheaders(self, flow: Any) -> None:
        meta = flow.metadata.get(_META)
        if isinstance(meta, Routed):
            flow.response.stream = True
        elif isinstance(meta, _Live) and flow.websocket is None:
            if is_streaming(flow.response):
                grpc = is_grpc(list(flow.response.headers.items(multi=True)))
                meta.recorder = _ChunkRecorder(meta.sent, grpc=grpc)
            elif flow.response.status_code != 101:
                meta.recorder = _BodyTap()
            else:
                return
            flow.response.stream = meta.recorder

    def response(self, flow: Any) -> None:
        meta = flow.metadata.get(_META)
        if not isinstance(meta, _Live) or flow.websocket is not None:
            return
        # Teardown waits for the block, the failure report included: the client may have had
        # the whole body (its Content-Length) and its test be ending already.
        with meta.session.finishing(flow.id) as mine:
            if mine:
                self.record_response(flow)

    @fail_closed
    def record_response(self, flow: Any) -> None:
        _record_live(flow, flow.metadata[_META], None)

    @fail_closed
    def error(self, flow: Any) -> None:
        meta = flow.metadata.get(_META)
        if isinstance(meta, Routed):
            if self.origins.cancel_stream(meta.path):
                meta.session.closed(None)
            elif self.h2 is not None:
                self.h2.cancel(meta.path)  # calls its on_done, which closes
        elif isinstance(meta, _Live):
            with meta.session.finishing(flow.id) as mine:
                if mine:
                    self.record_ended(flow)

    @fail_closed
    def record_ended(self, flow: Any) -> None:
        """Write an exchange that ended without finishing (see ``stream_end``)."""
        meta = flow.metadata[_META]
        end = stream_end(flow.error.msg if flow.error else "", not flow.client_conn.connected)
        # A body the client stopped reading, or the origin broke off: what passed is what
        # the client saw, so it is recorded with how it ended. A client that gave up before
        # anything reached it (it timed out) is recorded as such.
        if end == "client_closed" or meta.recorder is not None:
            _record_live(flow, meta, end)
        elif flow.response is None and flow.error is not None:
            meta.session.origin_failed(
                f"{flow.request.method} {meta.request(flow).url}: {flow.error.msg}"
            )
