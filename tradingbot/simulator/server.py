"""The local indexer: REST and the /v4/ws websocket protocol on one 127.0.0.1 port (aiohttp).

Protocol as the real indexer speaks it: ``connected`` first; ``subscribe``/``unsubscribe`` with
``subscribed`` (carrying the snapshot) and ``unsubscribed``; ``channel_data`` straight away for
unbatched subscriptions and ``channel_batch_data`` flushed every ``flush_ms`` for batched ones;
one ``message_id`` counter per connection across all channels; ``error`` for bad requests;
``pong`` for ``{"type": "ping"}``.

Determinism: the market clock starts ``settle_ms`` after the first subscription and then steps
every ``tick_ms``; flushes happen every ``flush_ms / tick_ms`` steps. Connection ids derive from
the seed and the connection's ordinal. So for a fresh server, the bytes a client receives are a
function of the seed and of what the client sent (and in which step it sent it).

Faults, for resilience tests: :meth:`LocalIndexer.drop_connections`, :meth:`stall`,
:meth:`resume`, :meth:`send_garbage`, :meth:`reject_connections`; the same through
``POST /_sim/fault`` (JSON ``{"action": ..., "seconds": ...}``) or per connection through query
parameters on the websocket URL: ``drop_after=N``, ``stall_after=N``, ``garbage_every=N``
(counted in messages sent on that connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

from .model import MarketModel
from .sources import (
    CHANNEL_VERSIONS,
    NO_ID_CHANNELS,
    ModelSource,
    ReplaySource,
    Source,
    SubscribeError,
)

__all__ = ["GARBAGE_TEXT", "LocalIndexer", "SimulatorConfig", "SimulatorThread"]

T = TypeVar("T")

GARBAGE_TEXT = '}{"type": "channel_data", not json'
"""What :meth:`LocalIndexer.send_garbage` sends as a non-JSON frame."""

_DROP = object()  # queue sentinel: abort the transport after what is queued before it
_CLOSE = object()  # queue sentinel: stop the writer


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything that shapes the simulator's output."""

    seed: int = 0
    markets: tuple[str, ...] = ("BTC-USD", "ETH-USD")
    tick_ms: float = 50.0  # wall time per model step
    step_ms: int = 1000  # market time per model step: step_ms / tick_ms is the speed-up
    flush_ms: float = 250.0  # batched subscriptions are flushed at this wall cadence
    settle_ms: float = 100.0  # the clock starts this long after the first subscription
    warmup_steps: int = 300  # steps run before serving, so REST history exists
    heartbeat_s: float | None = 30.0  # websocket ping frames, as the indexer does
    replay_dir: Path | None = None  # serve captured messages instead of the model
    # Shapes the default run leaves out (off by default: the default output stays as it was):
    listing: tuple[str, ...] = ()  # markets listed but INITIALIZING, without an oracle price
    funding_rate_1h: bool = False  # protocol v8: markets carry defaultFundingRate1H
    account_activity: bool = False  # subaccounts trade (simulator/account.py)
    buffer_event_ids: bool = False  # fills' eventId as a Node Buffer (the 2023 indexer)

    @property
    def flush_every(self) -> int:
        """Steps between batched flushes."""
        return max(1, round(self.flush_ms / self.tick_ms))

    def make_source(self) -> Source:
        """The data source this configuration asks for."""
        if self.replay_dir is not None:
            return ReplaySource(self.replay_dir)
        return ModelSource(
            MarketModel(
                self.seed,
                markets=self.markets,
                step_ms=self.step_ms,
                warmup_steps=self.warmup_steps,
                listing=self.listing,
                funding_rate_1h=self.funding_rate_1h,
                account_activity=self.account_activity,
                buffer_event_ids=self.buffer_event_ids,
            )
        )


@dataclass(slots=True)
class _Sub:
    channel: str
    id: str | None
    batched: bool
    buffer: list[dict[str, Any]] = field(default_factory=list)


@dataclass(eq=False)
class _Conn:
    """One client connection: its counter, subscriptions, outgoing queue and faults."""

    ws: web.WebSocketResponse
    request: web.Request
    connection_id: str
    drop_after: int = 0
    stall_after: int = 0
    garbage_every: int = 0
    next_id: int = 0
    sent: int = 0
    stalled: bool = False
    subs: dict[tuple[str, str | None], _Sub] = field(default_factory=dict)
    queue: asyncio.Queue[object] = field(default_factory=asyncio.Queue)

    def emit(self, kind: str, **fields: Any) -> None:
        """Queue one protocol message with this connection's next ``message_id``."""
        message = {"type": kind, "connection_id": self.connection_id, "message_id": self.next_id}
        message.update(fields)
        self.next_id += 1
        self._enqueue(json.dumps(message))

    def emit_raw(self, text: str) -> None:
        """Queue a frame outside the protocol (garbage)."""
        self._enqueue(text)

    def _enqueue(self, text: str) -> None:
        if self.stalled:
            return  # a stalled connection loses messages: the id gap shows it
        self.queue.put_nowait(text)
        self.sent += 1
        if self.garbage_every and self.sent % self.garbage_every == 0:
            self.queue.put_nowait(GARBAGE_TEXT)
        if self.stall_after and self.sent >= self.stall_after:
            self.stalled = True
        if self.drop_after and self.sent >= self.drop_after:
            self.queue.put_nowait(_DROP)

    def abort(self) -> None:
        """Drop the TCP connection without a close frame, as a network failure would."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def writer(self) -> None:
        while True:
            item = await self.queue.get()
            if item is _CLOSE:
                return
            if item is _DROP:
                self.abort()
                return
            try:
                await self.ws.send_str(str(item))
            except (ConnectionError, RuntimeError):
                return


class LocalIndexer:
    """The local indexer on an asyncio loop. Start with :meth:`start`, end with :meth:`close`."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.source = self.config.make_source()
        self.steps = 0
        self.connections_total = 0
        self._conns: set[_Conn] = set()
        self._reject = False
        self._clock: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._site_port = 0
        self._conn_tasks: set[asyncio.Task[Any]] = set()
        self._stall_timers: list[asyncio.TimerHandle] = []
        app = web.Application()
        app.router.add_get("/v4/ws", self._ws_handler)
        rest = self._rest_route
        app.router.add_get("/v4/perpetualMarkets", rest("markets"))
        app.router.add_get("/v4/orderbooks/perpetualMarket/{market}", rest("orderbook"))
        app.router.add_get("/v4/trades/perpetualMarket/{market}", rest("trades"))
        app.router.add_get("/v4/candles/perpetualMarkets/{market}", rest("candles"))
        app.router.add_get("/v4/historicalFunding/{market}", rest("funding"))
        app.router.add_get("/v4/addresses/{address}/subaccountNumber/{number}", rest("subaccount"))
        app.router.add_get("/v4/addresses/{address}", rest("addresses"))
        app.router.add_get("/v4/assetPositions", rest("asset_positions"))
        app.router.add_get("/v4/perpetualPositions", rest("perpetual_positions"))
        app.router.add_get("/v4/fills", rest("fills"))
        app.router.add_get("/v4/orders", rest("orders"))
        app.router.add_get("/v4/orders/{order_id}", rest("order"))
        app.router.add_get("/v4/height", rest("height"))
        app.router.add_post("/_sim/fault", self._fault_handler)
        app.router.add_get("/_sim/status", self._status_handler)
        self.app = app

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (port 0: an ephemeral port, see :attr:`port`)."""
        self._runner = web.AppRunner(
            self.app, handle_signals=False, access_log=None, shutdown_timeout=2.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self._site_port = sockets[0].getsockname()[1]
        self._host = host

    async def close(self) -> None:
        """Stop the clock, close every connection, stop listening."""
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
        for timer in self._stall_timers:
            timer.cancel()
        for conn in list(self._conns):
            conn.queue.put_nowait(_CLOSE)
            with contextlib.suppress(Exception):
                await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def port(self) -> int:
        """The bound port."""
        return self._site_port

    @property
    def rest_url(self) -> str:
        """Base URL for ``IndexerClient``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """URL for ``IndexerSocket``."""
        return f"ws://127.0.0.1:{self.port}/v4/ws"

    @property
    def active_connections(self) -> int:
        """Open websocket connections."""
        return len(self._conns)

    # -- faults ----------------------------------------------------------------------------

    def drop_connections(self, abort: bool = True) -> int:
        """Cut every open connection (abort: no close frame). Returns how many."""
        conns = list(self._conns)
        for conn in conns:
            if abort:
                conn.abort()
            else:
                conn.queue.put_nowait(_CLOSE)
                task = asyncio.ensure_future(conn.ws.close(code=1001, message=b"going away"))
                self._conn_tasks.add(task)
                task.add_done_callback(self._conn_tasks.discard)
        return len(conns)

    def stall(self, seconds: float | None = None) -> int:
        """Stop sending on every open connection (for ``seconds``, or until :meth:`resume`).

        New connections are not stalled, so a client that recycles a silent connection recovers.
        """
        conns = list(self._conns)
        for conn in conns:
            conn.stalled = True
        if seconds is not None:
            loop = asyncio.get_running_loop()
            self._stall_timers.append(loop.call_later(seconds, self._unstall, conns))
        return len(conns)

    @staticmethod
    def _unstall(conns: list[_Conn]) -> None:
        for conn in conns:
            conn.stalled = False

    def resume(self) -> None:
        """End every stall."""
        self._unstall(list(self._conns))

    def send_garbage(self, count: int = 1) -> int:
        """Send each connection ``count`` non-JSON frames and ``count`` malformed data messages."""
        conns = list(self._conns)
        for conn in conns:
            for _ in range(count):
                conn.emit_raw(GARBAGE_TEXT)
                sub = next(iter(conn.subs.values()), None)
                conn.emit(
                    "channel_data",
                    id=sub.id if sub else "BTC-USD",
                    channel="v4_orderbook",
                    version="1.0.0",
                    contents={"bids": [["not-a-price", "1"]]},
                )
        return len(conns)

    def reject_connections(self, reject: bool = True) -> None:
        """Refuse (HTTP 503) websocket upgrades until called with ``False``."""
        self._reject = reject

    # -- websocket -------------------------------------------------------------------------

    def _connection_id(self) -> str:
        rng = random.Random(f"{self.config.seed}:connection:{self.connections_total}")
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        if self._reject:
            return web.Response(status=503, text="simulator: rejecting connections")
        ws = web.WebSocketResponse(
            heartbeat=self.config.heartbeat_s, autoping=True, timeout=1.0, compress=False
        )
        await ws.prepare(request)

        def int_query(key: str) -> int:
            try:
                return max(0, int(request.query.get(key, "0")))
            except ValueError:
                return 0

        conn = _Conn(
            ws=ws,
            request=request,
            connection_id=self._connection_id(),
            drop_after=int_query("drop_after"),
            stall_after=int_query("stall_after"),
            garbage_every=int_query("garbage_every"),
        )
        self.connections_total += 1
        self._conns.add(conn)
        writer = asyncio.create_task(conn.writer())
        conn.emit("connected")
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_client_message(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    conn.emit("error", message="Invalid message: binary frames are not supported")
                else:
                    break
        finally:
            self._conns.discard(conn)
            conn.queue.put_nowait(_CLOSE)
            try:
                await asyncio.wait_for(writer, timeout=2)
            except (TimeoutError, asyncio.CancelledError):
                writer.cancel()
        return ws

    def _on_client_message(self, conn: _Conn, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            conn.emit("error", message=f"Invalid message: could not parse: {text[:100]}")
            return
        if not isinstance(message, dict):
            conn.emit("error", message="Invalid message: expected a JSON object")
            return
        kind = message.get("type")
        if kind == "ping":
            extra = {"id": message["id"]} if "id" in message else {}
            conn.emit("pong", **extra)
        elif kind == "subscribe":
            self._subscribe(conn, message)
        elif kind == "unsubscribe":
            self._unsubscribe(conn, message)
        else:
            conn.emit("error", message=f"Invalid message: unknown type {kind!r}")

    @staticmethod
    def _key(channel: str, sub_id: Any) -> tuple[str, str | None]:
        if channel in NO_ID_CHANNELS or not isinstance(sub_id, str):
            return channel, None
        return channel, sub_id

    @staticmethod
    def _id_field(channel: str, sub_id: str | None) -> dict[str, Any]:
        if channel == "v4_block_height":
            return {"id": "v4_block_height"}
        return {} if sub_id is None else {"id": sub_id}

    def _subscribe(self, conn: _Conn, message: dict[str, Any]) -> None:
        channel, sub_id = message.get("channel"), message.get("id")
        try:
            if not isinstance(channel, str):
                raise SubscribeError("Invalid subscribe message: channel is missing")
            key = self._key(channel, sub_id)
            if key in conn.subs:
                target = f"{channel} {key[1]}" if key[1] else channel
                raise SubscribeError(f"Invalid subscribe message: already subscribed to {target}")
            contents = self.source.snapshot(
                channel, key[1] if channel not in NO_ID_CHANNELS else None
            )
        except SubscribeError as exc:
            conn.emit("error", message=str(exc))
            return
        batched = bool(message.get("batched", False))
        conn.subs[key] = _Sub(channel=channel, id=key[1], batched=batched)
        conn.emit(
            "subscribed", channel=channel, **self._id_field(channel, key[1]), contents=contents
        )
        self._start_clock()

    def _unsubscribe(self, conn: _Conn, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        key = self._key(channel if isinstance(channel, str) else "", message.get("id"))
        sub = conn.subs.pop(key, None)
        if sub is None:
            conn.emit("error", message=f"Invalid unsubscribe message: not subscribed to {channel}")
            return
        conn.emit("unsubscribed", channel=sub.channel, **self._id_field(sub.channel, sub.id))

    # -- the clock -------------------------------------------------------------------------

    def _start_clock(self) -> None:
        if self._clock is None:
            self._clock = asyncio.get_running_loop().create_task(self._run_clock())

    async def _run_clock(self) -> None:
        loop = asyncio.get_running_loop()
        tick_s = self.config.tick_ms / 1000
        await asyncio.sleep(self.config.settle_ms / 1000)
        deadline = loop.time()
        while True:
            deadline += tick_s
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            if loop.time() - deadline > 1.0:  # fell far behind (suspended?): do not burst
                deadline = loop.time()
            self._tick()

    def _tick(self) -> None:
        emissions = self.source.step()
        self.steps += 1
        conns = sorted(self._conns, key=lambda c: c.connection_id)
        for emission in emissions:
            key = (emission.channel, emission.id)
            for conn in conns:
                sub = conn.subs.get(key)
                if sub is None:
                    continue
                if sub.batched:
                    sub.buffer.append(emission.contents)
                else:
                    conn.emit(
                        "channel_data",
                        **self._id_field(sub.channel, sub.id),
                        channel=sub.channel,
                        version=CHANNEL_VERSIONS[sub.channel],
                        contents=emission.contents,
                    )
        if self.steps % self.config.flush_every == 0:
            for conn in conns:
                for sub in conn.subs.values():
                    if sub.buffer:
                        batch, sub.buffer = sub.buffer, []
                        conn.emit(
                            "channel_batch_data",
                            **self._id_field(sub.channel, sub.id),
                            channel=sub.channel,
                            version=CHANNEL_VERSIONS[sub.channel],
                            contents=batch,
                        )

    # -- REST ------------------------------------------------------------------------------

    def _rest_route(self, route: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            status, body = self.source.rest(route, dict(request.match_info), dict(request.query))
            return web.json_response(body, status=status)

        return handler

    async def _fault_handler(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "expected JSON"}, status=400)
        action = body.get("action") if isinstance(body, dict) else None
        seconds = body.get("seconds") if isinstance(body, dict) else None
        if action == "drop":
            affected = self.drop_connections(abort=bool(body.get("abort", True)))
        elif action == "stall":
            affected = self.stall(float(seconds) if seconds is not None else None)
        elif action == "resume":
            self.resume()
            affected = len(self._conns)
        elif action == "garbage":
            affected = self.send_garbage(int(body.get("count", 1)))
        elif action in ("reject", "accept"):
            self.reject_connections(action == "reject")
            affected = 0
        else:
            return web.json_response({"error": f"unknown action {action!r}"}, status=400)
        return web.json_response({"action": action, "connections": affected})

    async def _status_handler(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "steps": self.steps,
                "connections": len(self._conns),
                "connections_total": self.connections_total,
                "seed": self.config.seed,
            }
        )


class SimulatorThread:
    """The local indexer on its own thread and loop: for synchronous code and tests.

    ``with SimulatorThread(config) as sim: ...`` starts it on an ephemeral port and joins the
    thread on exit. Fault methods are forwarded to the loop thread.
    """

    def __init__(
        self, config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or SimulatorConfig()
        self._host, self._port = host, port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="local-indexer", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.indexer: LocalIndexer | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self.indexer = LocalIndexer(self.config)
            self._loop.run_until_complete(self.indexer.start(self._host, self._port))
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()

    def start(self, timeout: float = 10.0) -> SimulatorThread:
        """Start and wait until it listens."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("local indexer did not start")
        if self._error is not None:
            raise RuntimeError("local indexer failed to start") from self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close everything and join the thread."""
        if not self._thread.is_alive():
            return
        if self.indexer is not None:
            future = asyncio.run_coroutine_threadsafe(self.indexer.close(), self._loop)
            with contextlib.suppress(Exception):
                future.result(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, fn: Callable[[LocalIndexer], T], timeout: float = 5.0) -> T:
        """Run ``fn(indexer)`` on the loop thread and return its result."""
        assert self.indexer is not None
        indexer = self.indexer

        async def run() -> T:
            return fn(indexer)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    @property
    def port(self) -> int:
        """The bound port."""
        assert self.indexer is not None
        return self.indexer.port

    @property
    def rest_url(self) -> str:
        """Base URL for ``IndexerClient``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """URL for ``IndexerSocket``."""
        return f"ws://127.0.0.1:{self.port}/v4/ws"

    def drop_connections(self, abort: bool = True) -> int:
        """See :meth:`LocalIndexer.drop_connections`."""
        return self.call(lambda i: i.drop_connections(abort))

    def stall(self, seconds: float | None = None) -> int:
        """See :meth:`LocalIndexer.stall`."""
        return self.call(lambda i: i.stall(seconds))

    def resume(self) -> None:
        """See :meth:`LocalIndexer.resume`."""
        self.call(lambda i: i.resume())

    def send_garbage(self, count: int = 1) -> int:
        """See :meth:`LocalIndexer.send_garbage`."""
        return self.call(lambda i: i.send_garbage(count))

    def reject_connections(self, reject: bool = True) -> None:
        """See :meth:`LocalIndexer.reject_connections`."""
        self.call(lambda i: i.reject_connections(reject))

    @property
    def active_connections(self) -> int:
        """Open websocket connections."""
        return self.call(lambda i: i.active_connections)

    @property
    def connections_total(self) -> int:
        """Websocket connections accepted so far."""
        return self.call(lambda i: i.connections_total)
