"""Real WebSocket and streaming-HTTP servers on 127.0.0.1 for the tests, each on its own loop
thread. Every stream carries fresh uuids, so a replayed stream is provably not live."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


async def _indexer(ws: Any) -> None:
    """Shaped like the dYdX indexer: connected, subscribe -> subscribed, then batched
    channel data every 50 ms; one message_id counter per connection."""
    counter = 0
    conn_id = str(uuid.uuid4())

    async def send(obj: dict[str, Any]) -> None:
        nonlocal counter
        obj.update(connection_id=conn_id, message_id=counter)
        counter += 1
        await ws.send(json.dumps(obj))

    await send({"type": "connected"})
    async for raw in ws:
        msg = json.loads(raw)
        if msg.get("type") == "unsubscribe":
            await send({"type": "unsubscribed", "channel": msg["channel"], "id": msg["id"]})
            continue
        if msg.get("channel") not in ("v4_orderbook", "v4_trades"):
            await send({"type": "error", "message": f"Invalid subscribe message: {raw}"})
            continue
        await send(
            {
                "type": "subscribed",
                "channel": msg["channel"],
                "id": msg["id"],
                "contents": {"bids": [{"price": "100", "size": str(uuid.uuid4())}]},
            }
        )
        for i in range(int(os.environ.get("BATCHES", "4"))):
            await asyncio.sleep(0.05)
            await send(
                {
                    "type": "channel_batch_data",
                    "channel": msg["channel"],
                    "id": msg["id"],
                    "version": "1.0.0",
                    "contents": [{"bids": [["100", str(i)]], "uuid": str(uuid.uuid4())}],
                }
            )


async def _echo(ws: Any) -> None:
    async for raw in ws:
        await ws.send(raw)


async def _abnormal(ws: Any) -> None:
    await ws.send(json.dumps({"bye": str(uuid.uuid4())}))
    await asyncio.sleep(0.05)
    ws.transport.abort()  # no close frame: the client sees 1006


async def _binary(ws: Any) -> None:
    for _ in range(3):
        await ws.send(uuid.uuid4().bytes + bytes(range(256)))
    await ws.close(4001, "done with binary")


async def _large(ws: Any) -> None:
    await ws.send(json.dumps({"blob": uuid.uuid4().hex * (1_000_000 // 32)}))
    await ws.close()


async def _many(ws: Any) -> None:
    tag = str(uuid.uuid4())
    for i in range(10_000):
        await ws.send(f'{{"i":{i},"tag":"{tag}"}}')
    await ws.close()


WS_ROUTES: dict[str, Callable[[Any], Awaitable[None]]] = {
    "/v4/ws": _indexer,
    "/echo": _echo,
    "/abnormal": _abnormal,
    "/binary": _binary,
    "/large": _large,
    "/many": _many,
}


async def _route(ws: Any) -> None:
    from websockets.exceptions import ConnectionClosed

    handler = WS_ROUTES.get(ws.request.path.split("?")[0])
    try:
        if handler is None:
            await ws.close(4004, "no such route")
        else:
            await handler(ws)
    except ConnectionClosed:
        pass


async def _sse(request: Any) -> Any:
    from aiohttp import web

    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await resp.prepare(request)
    for i in range(5):
        await resp.write(
            f"id: {i}\ndata: {json.dumps({'n': i, 'u': str(uuid.uuid4())})}\n\n".encode()
        )
        await asyncio.sleep(0.1)
    await resp.write_eof()
    return resp


async def _chat_completions(request: Any) -> Any:
    """Shaped like OpenAI's ``/v1/chat/completions`` with ``stream: true``: one ``data:`` event
    per token delta, then ``data: [DONE]``. Like a real server, the chunked terminator follows
    the last event a moment later, so a client that stops at ``[DONE]`` may close first."""
    from aiohttp import web

    body = await request.json()
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    cid = f"chatcmpl-{uuid.uuid4()}"
    for i, word in enumerate(["Hello", " from", " ", str(uuid.uuid4())]):
        delta = {"content": word} if i else {"role": "assistant", "content": word}
        event = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": body["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
        }
        await resp.write(f"data: {json.dumps(event)}\n\n".encode())
        await asyncio.sleep(0.005)
    await resp.write(b"data: [DONE]\n\n")
    await asyncio.sleep(0.02)
    await resp.write_eof()
    return resp


async def _endless(request: Any) -> Any:
    """A feed that never ends on its own (bounded at 3000 events, a minute, for safety)."""
    from aiohttp import web

    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    try:
        for i in range(3000):
            await resp.write(_event(i))
            await asyncio.sleep(0.02)
        await resp.write_eof()
    except ConnectionError:
        pass  # the client stopped reading: the usual way such a feed ends
    return resp


def _event(i: int) -> bytes:
    return f"id: {i}\ndata: {json.dumps({'n': i, 'u': str(uuid.uuid4())})}\n\n".encode()


async def _raw(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Bodies that end badly, written by hand: ``/cut-length`` promises 1000 bytes and closes
    after two NDJSON lines; ``/truncated-chunked`` closes before the last chunk; ``/slow``
    sends one event and then stays silent for 5 s (longer than the clients' timeouts);
    ``/slow-headers`` answers nothing for 5 s; ``/slow-json`` sends the headers of a JSON body
    that then takes 5 s (a proxy that buffers it shows the client nothing). ``/cut-plain`` and
    ``/truncated-json`` break off bodies no proxy streams by their type (plain text with a
    length, chunked JSON)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ", 2)[1].decode()
        if path in ("/cut-length", "/cut-plain"):
            ctype = b"application/x-ndjson" if path == "/cut-length" else b"text/plain"
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: 1000\r\n\r\n" % ctype
            )
            for i in range(2):
                writer.write(json.dumps({"n": i, "u": str(uuid.uuid4())}).encode() + b"\n")
                await writer.drain()
                await asyncio.sleep(0.05)
        elif path in ("/truncated-chunked", "/slow"):
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            for i in range(2 if path == "/truncated-chunked" else 1):
                data = _event(i)
                writer.write(b"%x\r\n%s\r\n" % (len(data), data))
                await writer.drain()
                await asyncio.sleep(0.05)
            if path == "/slow":
                await asyncio.sleep(5)
        elif path == "/truncated-json":
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            for i in range(2):
                data = json.dumps({"n": i, "u": str(uuid.uuid4())}).encode() + b"\n"
                writer.write(b"%x\r\n%s\r\n" % (len(data), data))
                await writer.drain()
                await asyncio.sleep(0.05)
        elif path == "/slow-headers":
            await asyncio.sleep(5)
        elif path == "/slow-json":
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n"
            )
            await writer.drain()
            await asyncio.sleep(5)
        else:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


@dataclass
class LoopThread:
    """Servers on their own event loop in a daemon thread, until ``stop``."""

    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    _stop: asyncio.Future[None]

    def stop(self) -> None:
        if self.thread.is_alive() and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(lambda: self._stop.done() or self._stop.set_result(None))
        self.thread.join(10)


def start_loop_thread(
    serve: Callable[[asyncio.Future[None], dict[str, Any]], Awaitable[None]],
) -> tuple[asyncio.AbstractEventLoop, threading.Thread, asyncio.Future[None], dict[str, Any]]:
    """Run ``serve(stop, ready)`` on a new event loop in a daemon thread: it starts its servers,
    puts what the caller needs (ports) into ``ready``, sets ``ready["up"]``, and returns once
    ``stop`` resolves. Waits (bounded) until the servers are up."""
    ready: dict[str, Any] = {}
    handles: dict[str, Any] = {}

    async def main() -> None:
        handles["loop"] = asyncio.get_running_loop()
        handles["stop"] = handles["loop"].create_future()
        await serve(handles["stop"], ready)

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    for _ in range(1000):
        if ready.get("up"):
            break
        threading.Event().wait(0.01)
    return handles["loop"], thread, handles["stop"], ready


@dataclass
class StreamOrigin(LoopThread):
    """A websockets server (``ws_url``), an aiohttp server (``http_url``) and a hand-written
    HTTP server for broken bodies (``raw_url``), one loop thread."""

    ws_url: str = ""
    http_url: str = ""
    raw_url: str = ""


def start_stream_origin(tls: tuple[Path, Path] | None = None) -> StreamOrigin:
    ctx: ssl.SSLContext | None = None
    if tls is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls)

    async def serve(stop: asyncio.Future[None], ready: dict[str, Any]) -> None:
        from aiohttp import web
        from websockets.asyncio.server import serve

        app = web.Application()
        app.router.add_get("/sse", _sse)
        app.router.add_get("/endless", _endless)
        app.router.add_post("/v1/chat/completions", _chat_completions)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        ready["http_port"] = runner.addresses[0][1]
        raw = await asyncio.start_server(_raw, "127.0.0.1", 0, ssl=ctx)
        ready["raw_port"] = raw.sockets[0].getsockname()[1]
        async with serve(_route, "127.0.0.1", 0, ssl=ctx, max_size=None) as server:
            ready["ws_port"] = server.sockets[0].getsockname()[1]
            ready["up"] = True
            await stop
        raw.close()
        await runner.cleanup()

    loop, thread, stop, ready = start_loop_thread(serve)
    ws_scheme, http_scheme = ("wss", "https") if tls else ("ws", "http")
    return StreamOrigin(
        loop,
        thread,
        stop,
        ws_url=f"{ws_scheme}://127.0.0.1:{ready['ws_port']}",
        http_url=f"{http_scheme}://127.0.0.1:{ready['http_port']}",
        raw_url=f"{http_scheme}://127.0.0.1:{ready['raw_port']}",
    )
