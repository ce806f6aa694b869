"""The replay origin for HTTP/2 calls (gRPC), on the proxy's loop.

A replayed gRPC call is routed here with its request still streaming, so the answer can
follow the client the way the recording did: the call is matched on its method and first
request message; each recorded response chunk is sent once the client has sent as many
request bytes as the origin had received when it sent that chunk (a bidirectional client that
waits for each answer gets it), at the recorded offsets when ``--replay-speed`` asks for them;
then the recorded trailers (the gRPC status). mitmproxy's own replay cannot do this (it
answers a request once its body is complete), and the HTTP/1.1 replay origin cannot send
trailers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cassette.body import encode_body
from ..cassette.grpc import MessageCutter, split_messages
from ..cassette.records import Chunk, HttpInteraction, HttpRequest
from ..cassette.storage import CassetteError
from ..session import CassetteSession, Decision
from .conversation import Speed
from .h2_live import ProxyRoute, forward_live
from .h2_wire import H2Wire as _Wire

log = logging.getLogger("pytest_streamreplay")

__all__ = ["H2Job", "H2OriginLifecycle", "H2ReplayOrigin"]

ROUTE_PREFIX = "/__streamreplay_h2/"
# Not sent by us: HTTP/2 frames the body itself and forbids connection-specific fields.
_NOT_SENT = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te"}
)
_REQUEST_END_WAIT = 2.0  # seconds a finished answer waits for the client's end of request


@dataclass
class H2Job:
    """A call waiting for its stream: the session and the request as the client began it."""

    session: CassetteSession
    live: HttpRequest  # method, URL and headers as the client sent them; no body yet
    speed: Speed
    on_done: Callable[[], None]


@dataclass
class _Call:
    stream_id: int
    job: H2Job | None
    received: bytearray = field(default_factory=bytearray)
    ended: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    doing: str = "replaying"  # what the origin does with it, for a failure's report

    async def until(self, ready: Callable[[], bool]) -> None:
        while not ready():
            self.changed.clear()
            await self.changed.wait()


class H2ReplayOrigin:
    """A cleartext HTTP/2 server on 127.0.0.1 that plays the calls routed to it."""

    def __init__(self) -> None:
        self.port: int | None = None
        self._server: asyncio.Server | None = None
        self._jobs: dict[str, H2Job] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._episodes: dict[str, CassetteSession] = {}
        # Set once the proxy listens: where a new episode goes live (None: new_episodes
        # decides gRPC calls on their whole request, in the proxy)
        self.via: ProxyRoute | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
        for job in self._jobs.values():
            job.on_done()
        self._jobs.clear()

    def add(self, job: H2Job) -> str:
        """The path to route the call to (called on the proxy's loop)."""
        token = secrets.token_hex(8)
        self._jobs[token] = job
        return ROUTE_PREFIX + token

    def claim_episode(self, token: str) -> CassetteSession | None:
        """The session a new episode sent live by this origin belongs to (once per token)."""
        return self._episodes.pop(token, None)

    def cancel(self, path: str) -> bool:
        """Forget a call that never reached the origin (its flow failed on the way)."""
        job = self._jobs.pop(path.removeprefix(ROUTE_PREFIX), None)
        if job is not None:
            job.on_done()
        return job is not None

    # -- one connection ----------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import h2.config
        import h2.connection
        import h2.events

        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        wire = _Wire(conn, writer)
        calls: dict[int, _Call] = {}
        this = asyncio.current_task()
        if this is not None:
            self._tasks.add(this)
        try:
            conn.initiate_connection()
            await wire.flush()
            while data := await reader.read(65536):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        path = next((str(v) for k, v in event.headers if k == ":path"), "")
                        job = self._jobs.pop(path.removeprefix(ROUTE_PREFIX), None)
                        call = calls[event.stream_id] = _Call(event.stream_id, job)
                        call.task = asyncio.ensure_future(self._play(wire, call))
                        self._tasks.add(call.task)
                    elif isinstance(event, h2.events.DataReceived):
                        conn.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                        found = calls.get(event.stream_id)
                        if found is not None:
                            found.received += event.data
                            found.changed.set()
                    elif isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
                        found = calls.get(event.stream_id)
                        if found is not None:
                            found.ended = True
                            found.changed.set()
                            if isinstance(event, h2.events.StreamReset) and found.task:
                                found.task.cancel()
                    elif isinstance(event, h2.events.WindowUpdated):
                        wire.window.set()
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        return
                await wire.flush()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception as exc:  # a protocol error: the client sees the connection end
            if type(exc).__module__.startswith("h2"):
                return
            raise
        finally:
            for call in calls.values():
                if call.task is not None:
                    call.task.cancel()
            if this is not None:
                self._tasks.discard(this)
            writer.close()

    # -- one call ----------------------------------------------------------------------------
    async def _play(self, wire: _Wire, call: _Call) -> None:
        job = call.job
        try:
            if job is None:
                wire.conn.send_headers(call.stream_id, [(":status", "599")], end_stream=True)
                await wire.flush()
                return
            # match on what identifies a call: its method and its first request message
            await call.until(lambda: call.ended or bool(split_messages(bytes(call.received))[0]))
            decision = await self._choose(call, job)
            if decision.action == "live" and self.via is not None:
                await self._go_live(wire, call, job, self.via)
                return
            if decision.action != "replay" or decision.interaction is None:
                await _refuse(wire, call.stream_id, decision.report)
                return
            interaction = decision.interaction

            async def check_request() -> None:
                # the whole request must be the recorded one; judged before the call ends,
                # since a client that has its answer closes the connection (and this task)
                recorded = len(interaction.request.content)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        call.until(lambda: call.ended or len(call.received) >= recorded),
                        _REQUEST_END_WAIT,
                    )
                _check_request(job, _with_body(job.live, bytes(call.received)), interaction)

            await _answer(wire, call, interaction, job.speed, before_end=check_request)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # fail closed: the test fails, the client gets a refusal
            if job is None:
                raise
            if isinstance(exc, CassetteError):  # a matcher that raised: names the line
                detail = str(exc)
            else:
                detail = f"{job.session.where()}: {type(exc).__name__}: {exc}"
            report = (
                f"pytest-streamreplay: {call.doing} {job.live.method} {job.live.url} failed: "
                f"{detail}"
            )
            log.error("%s", report, exc_info=exc)
            job.session.add_error(report)
            with contextlib.suppress(Exception):
                await _refuse(wire, call.stream_id, report)
        finally:
            if call.task is not None:
                self._tasks.discard(call.task)
            if job is not None:
                job.on_done()

    async def _choose(self, call: _Call, job: H2Job) -> Decision:
        """The recording to play: matched on the first message, then on every message sent
        by the time the recording's first answer was due (two recorded calls may share their
        first message). Under ``new_episodes`` a call none of them fits goes live; while only
        replaying, the first candidate is played and its first differing message reported."""
        session = job.session
        tried: list[tuple[int | None, Path | None]] = []
        first: Decision | None = None
        while True:
            live = _with_body(job.live, bytes(call.received))
            decision = session.decide(live, partial=not call.ended, exclude=tried)
            if decision.action != "replay" or decision.interaction is None:
                break
            if not await _differs_so_far(call, job, decision.interaction):
                return decision
            session.give_back(decision)
            tried.append((decision.line, decision.path))
            first = first or decision
        if decision.action == "live" and self.via is not None:
            return decision
        if first is not None:  # nothing fits better: the first candidate reports the message
            live = _with_body(job.live, bytes(call.received))
            return session.decide(live, partial=not call.ended)
        return decision

    async def _go_live(self, wire: _Wire, call: _Call, job: H2Job, via: ProxyRoute) -> None:
        """A new episode: through the proxy, which records it (see ``h2_live``)."""
        call.doing = "sending (new episode, live)"
        token = secrets.token_hex(16)
        self._episodes[token] = job.session
        try:
            await forward_live(via, token, job.live, wire, call)
        finally:
            self._episodes.pop(token, None)


async def _differs_so_far(call: _Call, job: H2Job, recorded: HttpInteraction) -> bool:
    """Whether a call matched on its first message is another call after all: its answer is
    held until the client has sent what the recording's first answer waited for (replay waits
    as long anyway), and the messages sent by then are compared with the recorded ones. A
    client that sends its whole request first (client streaming) is judged on all of it; one
    that waits for each answer, on what it could send."""
    chunks = recorded.response.chunks
    first = next((c.after for c in chunks or () if c.after is not None), None)
    need = len(recorded.request.content) if first is None else first
    await call.until(_sent_at_least(call, need))
    mine = MessageCutter().feed(bytes(call.received))
    theirs = MessageCutter().feed(recorded.request.content)
    if len(mine) > len(theirs):
        return True
    live = _with_body(job.live, b"".join(mine))
    forms = recorded.request.messages
    prefix = HttpRequest(
        recorded.request.method,
        recorded.request.url,
        recorded.request.headers,
        encode_body(b"".join(theirs[: len(mine)]), binary=True),
        None if forms is None else forms[: len(mine)],
    )
    return job.session.grpc_messages_differ(live, prefix) is not None


def _with_body(request: HttpRequest, body: bytes) -> HttpRequest:
    return HttpRequest.build(request.method, request.url, request.headers, body)


async def _refuse(wire: _Wire, stream_id: int, report: str) -> None:
    headers = [(":status", "599"), ("content-type", "text/plain; charset=utf-8")]
    wire.conn.send_headers(stream_id, [*headers, ("x-streamreplay", "unmatched")])
    await wire.send_data(stream_id, report.encode())
    wire.conn.end_stream(stream_id)
    await wire.flush()


async def _answer(
    wire: _Wire,
    call: _Call,
    interaction: HttpInteraction,
    speed: Speed,
    *,
    before_end: Callable[[], Awaitable[None]],
) -> None:
    response = interaction.response
    headers = [(":status", str(response.status))]
    headers += [(k.lower(), v) for k, v in response.headers if k.lower() not in _NOT_SENT]
    chunks = response.chunks
    if chunks is None:
        content = response.content
        chunks = [Chunk(0.0, response.body)] if content else []
    trailers = response.trailers
    if response.end == "no_response":
        await _until_the_client_leaves()  # it gave up before any answer: it will again
        return
    if not chunks and trailers is None and response.end is None:  # trailers-only (an error)
        await before_end()
        wire.conn.send_headers(call.stream_id, headers, end_stream=True)
        await wire.flush()
        return
    wire.conn.send_headers(call.stream_id, headers)
    await wire.flush()
    start = time.monotonic()
    batch = bytearray()  # at instant speed, chunks whose turn has come leave together
    for chunk in chunks:
        ready = _sent_at_least(call, chunk.after or 0)
        if speed.factor is None and ready():
            batch += chunk.content
            continue
        if batch:
            await wire.send_data(call.stream_id, bytes(batch))
            batch.clear()
        await call.until(ready)
        if speed.factor is not None:
            due = start + chunk.t / 1000.0 / speed.factor
            now = time.monotonic()
            if now > due:
                start += now - due  # waited for the client: the rest keeps its spacing
            else:
                await asyncio.sleep(due - now)
        data = chunk.content
        if data:
            await wire.send_data(call.stream_id, data)
            await asyncio.sleep(0)  # let each message leave on its own
    if batch:
        await wire.send_data(call.stream_id, bytes(batch))
    await before_end()
    if response.end in ("client_closed", "cut_at_teardown"):
        await wire.flush()
        await _until_the_client_leaves()  # it cancelled (or its deadline passed) mid-stream
        return
    if response.end is not None:  # the origin broke off: no trailers, the stream is reset
        wire.conn.reset_stream(call.stream_id)
    elif trailers is not None:
        wire.conn.send_headers(
            call.stream_id, [(k.lower(), v) for k, v in trailers], end_stream=True
        )
    else:
        wire.conn.end_stream(call.stream_id)
    await wire.flush()


async def _until_the_client_leaves() -> None:
    """Hold the stream open, silent: the task is cancelled when the client resets the stream
    or closes the connection (see ``_connection``)."""
    await asyncio.Event().wait()


def _sent_at_least(call: _Call, size: int) -> Callable[[], bool]:
    return lambda: call.ended or len(call.received) >= size


def _check_request(job: H2Job, live: HttpRequest, interaction: HttpInteraction) -> None:
    """A call matched on its first message whose later messages differ from the recording is
    reported like an unmatched request (the test fails, naming the message)."""
    session = job.session
    diff = session.grpc_messages_differ(live, interaction.request)
    if diff is None:
        return
    report = "\n".join(
        [
            f"gRPC call {live.method} {live.url} differs from recorded call #{interaction.id}",
            f"  cassette: {session.path}",
            f"  {diff}",
            "  to record it again: run pytest with --record-mode=rewrite",
        ]
    )
    session.report_unmatched(live, report)


class H2OriginLifecycle:
    """Starts and stops the HTTP/2 replay origin with the proxy, on its loop."""

    def __init__(self, origin: H2ReplayOrigin) -> None:
        self.origin = origin

    async def running(self) -> None:
        await self.origin.start()

    async def done(self) -> None:
        await self.origin.stop()
