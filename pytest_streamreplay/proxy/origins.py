"""Replay origins: small servers on the proxy's own loop that play recorded streams.

mitmproxy cannot replay WebSockets (a fake 101 crashes it on close) and delivers a response set
in a hook whole. So the proxy routes such requests here, to 127.0.0.1, and these servers play
the recording with its timing: WebSocket conversations through the ``websockets`` library, and
streamed HTTP bodies (chunked, server-sent events, long downloads) chunk by chunk.

They need no proxy credentials of their own: they serve only a job the proxy registered for one
authenticated flow, under a random token in the routed path, and forget it on first use. A
local process that connects to them directly cannot guess a token, so it gets nothing.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..cassette.records import HttpInteraction
from ..cassette.redaction import matchable_value
from .conversation import ConnectionGone, Conversation, ConversationReport, Speed, WsScript

__all__ = ["ROUTE_PREFIX", "OriginsLifecycle", "ReplayOrigins", "StreamJob", "WsJob"]

log = logging.getLogger("pytest_streamreplay")

ROUTE_PREFIX = "/__streamreplay__/"
_HANDSHAKE_HEADERS = frozenset(
    {
        "upgrade",
        "connection",
        "sec-websocket-accept",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "date",
        "server",
        "content-length",
    }
)
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


@dataclass
class WsJob:
    script: WsScript
    speed: Speed
    ignore_paths: tuple[str, ...]
    redact_live: Callable[[Any], Any]
    on_done: Callable[[ConversationReport], None]
    #: Told when playing fails (a bug, a cassette changed on disk): the test must fail.
    on_error: Callable[[str], None] | None = None


@dataclass
class StreamJob:
    interaction: HttpInteraction
    speed: Speed
    on_done: Callable[[], None]
    on_error: Callable[[str], None] | None = None


class _Endpoint:
    """``WsEndpoint`` over a websockets server connection."""

    def __init__(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        self.conn = connection
        self._closed_exc = ConnectionClosed

    async def send(self, data: str | bytes) -> None:
        try:
            await self.conn.send(data)
        except self._closed_exc:
            raise ConnectionGone from None

    async def recv(self) -> str | bytes:
        try:
            data: str | bytes = await self.conn.recv()
        except self._closed_exc:
            raise ConnectionGone from None
        return data

    async def close(self, code: int, reason: str) -> None:
        await self.conn.close(code, reason)

    def abort(self) -> None:
        self.conn.transport.abort()

    async def wait_closed(self, timeout: float | None) -> bool:
        try:
            await asyncio.wait_for(asyncio.shield(self.conn.wait_closed()), timeout)
        except TimeoutError:
            return False
        return True


class ReplayOrigins:
    """Both servers; jobs are registered under a token the proxy puts in the routed path."""

    def __init__(self) -> None:
        self.ws_port: int | None = None
        self.http_port: int | None = None
        self._ws_jobs: dict[str, WsJob] = {}
        self._stream_jobs: dict[str, StreamJob] = {}
        self._ws_server: Any = None
        self._ws_socket: socket.socket | None = None
        self._ws_starting: asyncio.Future[None] | None = None
        self._http_server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle (on the proxy loop) -----------------------------------------------------
    async def start(self) -> None:
        # The WebSocket port is bound now, so routing and the replay guard know it; the
        # websockets server behind it (~15-20 ms of import) starts with the first replayed
        # connection: the kernel queues that connection until then.
        self._ws_socket = _listening_socket()
        self.ws_port = self._ws_socket.getsockname()[1]
        self._http_server = await asyncio.start_server(self._http_handler, "127.0.0.1", 0)
        self.http_port = self._http_server.sockets[0].getsockname()[1]

    async def _serve_ws(self, sock: socket.socket) -> None:
        from websockets.asyncio.server import serve

        try:
            self._ws_server = await serve(
                self._ws_handler,
                sock=sock,
                compression=None,
                max_size=None,
                ping_interval=None,
                select_subprotocol=self._select_subprotocol,
                process_response=self._process_response,
            )
        except Exception as exc:  # the queued connection then fails, and its test with it
            log.error("pytest-streamreplay: the WebSocket replay origin did not start: %s", exc)
            sock.close()

    def _ensure_ws_server(self) -> None:
        sock, self._ws_socket = self._ws_socket, None
        if sock is not None:
            self._ws_starting = asyncio.ensure_future(self._serve_ws(sock))

    async def stop(self) -> None:
        if self._ws_starting is not None:
            await asyncio.gather(self._ws_starting, return_exceptions=True)
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()
        if self._ws_socket is not None:
            self._ws_socket.close()
        if self._http_server is not None:
            self._http_server.close()
        for task in list(self._tasks):
            task.cancel()

    # -- jobs (from mitmproxy hooks, same loop) ---------------------------------------------
    def add_ws(self, job: WsJob) -> str:
        token = f"ws{secrets.token_urlsafe(16)}"
        self._ws_jobs[token] = job
        self._ensure_ws_server()
        return ROUTE_PREFIX + token

    def add_stream(self, job: StreamJob) -> str:
        token = f"http{secrets.token_urlsafe(16)}"
        self._stream_jobs[token] = job
        return ROUTE_PREFIX + token

    def cancel_ws(self, path: str) -> bool:
        """Forget a job whose handshake never arrived; True if it was still waiting."""
        return self._ws_jobs.pop(path[len(ROUTE_PREFIX) :], None) is not None

    def cancel_stream(self, path: str) -> bool:
        return self._stream_jobs.pop(path[len(ROUTE_PREFIX) :], None) is not None

    # -- WebSocket ---------------------------------------------------------------------------
    def _job_for(self, connection: Any) -> WsJob | None:
        path = connection.request.path
        return (
            self._ws_jobs.get(path[len(ROUTE_PREFIX) :]) if path.startswith(ROUTE_PREFIX) else None
        )

    def _select_subprotocol(self, connection: Any, offered: Any) -> Any:
        job = self._job_for(connection)
        wanted = job.script.conn.subprotocol if job else None
        if job is None or wanted is None or wanted in offered:
            return wanted
        # Recorded redacted (a token offered as a subprotocol): the offer that redacts to it,
        # the client's real token, as the origin selected it.
        want = matchable_value(wanted)
        return next((o for o in offered if matchable_value(job.redact_live(o)) == want), None)

    def _process_response(self, connection: Any, request: Any, response: Any) -> Any:
        job = self._job_for(connection)
        if job is not None and response.status_code == 101:
            for name, value in job.script.conn.response_headers:
                if name.lower() not in _HANDSHAKE_HEADERS:
                    response.headers[name] = value
        return response

    async def _ws_handler(self, connection: Any) -> None:
        path = connection.request.path
        job = self._ws_jobs.pop(path[len(ROUTE_PREFIX) :], None)
        if job is None:
            await connection.close(1011, "pytest-streamreplay: no recording for this connection")
            return
        conversation = Conversation(
            job.script,
            _Endpoint(connection),
            speed=job.speed,
            ignore_paths=job.ignore_paths,
            redact_live=job.redact_live,
        )
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            report = await conversation.run()
        except asyncio.CancelledError:
            conversation._report_tail()
            report = conversation.report
        except Exception as exc:
            _failed(job.on_error, "replaying the WebSocket connection", exc)
            await _close_quietly(connection)
            report = conversation.report
        finally:
            if task is not None:
                self._tasks.discard(task)
        job.on_done(report)

    # -- streamed HTTP -------------------------------------------------------------------------
    async def _http_handler(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        job: StreamJob | None = None
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)  # a stream held open for its client is cancelled at stop
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            job = self._stream_jobs.pop(path[len(ROUTE_PREFIX) :], None)
            await _skip_request_body(reader, head)
            if job is None:
                writer.write(b"HTTP/1.1 599 No Recording\r\nContent-Length: 0\r\n\r\n")
                return
            if job.interaction.response.end != "no_response":
                await self._play_stream(job, writer)
            if job.interaction.response.end in ("client_closed", "cut_at_teardown", "no_response"):
                # Live, the client left while the stream was still open: keep it open, silent,
                # until the client leaves again (it stops reading, or times out, as it did).
                while await reader.read(65536):
                    pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        except Exception as exc:
            if job is not None:
                _failed(job.on_error, "replaying the streamed response", exc)
        finally:
            if task is not None:
                self._tasks.discard(task)
            if job is not None:
                job.on_done()
            writer.close()

    async def _play_stream(self, job: StreamJob, writer: asyncio.StreamWriter) -> None:
        resp = job.interaction.response
        chunks = resp.chunks or []
        length = resp.header("content-length")
        sized = length is not None
        head = [f"HTTP/1.1 {resp.status} {resp.reason or 'OK'}"]
        head += [f"{k}: {v}" for k, v in resp.headers if k.lower() not in _FRAMING]
        if sized and resp.end is not None:
            head.append(f"Content-Length: {length}")  # the length the body never reached
        elif sized:
            head.append(f"Content-Length: {sum(len(c.content) for c in chunks)}")
        else:
            head.append("Transfer-Encoding: chunked")
        head.append("Connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        start = time.monotonic()
        for chunk in chunks:
            if job.speed.factor is not None:
                delay = start + chunk.t / 1000.0 / job.speed.factor - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            data = chunk.content
            if not data:
                continue
            writer.write(data if sized else b"%x\r\n%s\r\n" % (len(data), data))
            await writer.drain()
            await asyncio.sleep(0)  # let each chunk leave on its own
        if not sized and resp.end is None:
            writer.write(b"0\r\n\r\n")  # an unfinished body never gets its last chunk
            await writer.drain()


async def _skip_request_body(reader: asyncio.StreamReader, head: bytes) -> None:
    """Read the request's body (it was matched and recorded already) before answering: a
    socket closed with an upload still unread is reset by the kernel, and the client loses
    the answer's last bytes (a 5 MB upload cut a 3 MB answer to 64 KB)."""
    fields = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])
    }
    if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the blank line
            pass
        return
    length = int(fields.get(b"content-length", b"0") or 0)
    while length > 0:
        data = await reader.read(min(length, 65536))
        if not data:
            return  # the client left
        length -= len(data)


def _listening_socket() -> socket.socket:
    """A TCP socket on 127.0.0.1, bound and listening. ``IPPROTO_TCP`` spelled out: asyncio sets
    TCP_NODELAY only on connections of such sockets, and without it each small replayed message
    after the first waits ~40 ms for the client's delayed ACK (Nagle)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _failed(on_error: Callable[[str], None] | None, what: str, exc: Exception) -> None:
    """Report a failure while playing to the job's test (and the log): it must not pass."""
    text = f"{what} failed: {type(exc).__name__}: {exc}"
    log.error("pytest-streamreplay: %s", text, exc_info=exc)
    if on_error is not None:
        on_error(text)


async def _close_quietly(connection: Any) -> None:
    try:
        await connection.close(1011, "pytest-streamreplay: replay failed (see the test)")
    except Exception:  # the client may be gone already
        pass


class OriginsLifecycle:
    """Starts and stops the replay origins with the proxy, on its loop."""

    def __init__(self, origins: ReplayOrigins) -> None:
        self.origins = origins

    async def running(self) -> None:
        await self.origins.start()

    async def done(self) -> None:
        await self.origins.stop()
