"""A new episode of a gRPC call, sent live through the proxy itself.

Under ``new_episodes`` a gRPC call goes to the HTTP/2 replay origin with its request still
streaming, so a bidirectional client that waits for each answer is not held until its whole
request has arrived. When its first message matches no recorded call, the origin sends the
call back into the proxy: a CONNECT to the original host and port (with the run's proxy
credentials), h2 inside (with prior knowledge, or over TLS trusting the proxy's CA), and a
one-time token header that makes the proxy record this call as it records in ``once`` or
``rewrite`` (live, streamed both ways). The origin then pipes the client's stream to it and its
answer back, message by message. Recording stays in one place (the proxy's addon); the token
is stripped there and never reaches the origin or the cassette.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..cassette.records import HttpRequest
from .h2_wire import H2Wire

__all__ = ["EPISODE_HEADER", "LiveEpisodeError", "ProxyRoute", "forward_live"]

EPISODE_HEADER = "x-streamreplay-episode"
# Connection-specific or framing fields HTTP/2 forbids or frames itself (``te`` is allowed
# only as ``trailers``, which gRPC requires).
_DROPPED = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
        EPISODE_HEADER,
    }
)
_CONNECT_TIMEOUT = 10.0  # seconds for the proxy to accept the tunnel


class LiveEpisodeError(Exception):
    """Sending a new episode live through the proxy failed."""


@dataclass(frozen=True)
class ProxyRoute:
    """How the origin reaches the proxy it serves: its address, credentials and CA."""

    host: str
    port: int
    userinfo: str
    ca_cert: Path


class IncomingCall(Protocol):
    """The client's side of the call, as the replay origin receives it."""

    stream_id: int
    received: bytearray
    ended: bool

    async def until(self, ready: Callable[[], bool]) -> None: ...


async def forward_live(
    route: ProxyRoute, token: str, live: HttpRequest, client: H2Wire, call: IncomingCall
) -> None:
    """Send ``call`` live through the proxy and relay its answer to the client's stream.

    Raises ``LiveEpisodeError`` (after resetting the client's stream when its answer had
    begun) when the tunnel or the call fails."""
    import h2.config
    import h2.connection

    url = urlsplit(live.url)
    scheme = url.scheme
    host = url.hostname or ""
    port = url.port or (443 if scheme == "https" else 80)
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    relay = _Relay(client, call.stream_id)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(route.host, route.port), _CONNECT_TIMEOUT
        )
    except (OSError, TimeoutError) as exc:
        raise LiveEpisodeError(f"cannot reach the proxy: {exc}") from exc
    sending: asyncio.Future[None] | None = None
    try:
        await asyncio.wait_for(_tunnel(reader, writer, route, authority), _CONNECT_TIMEOUT)
        if scheme == "https":
            context = ssl.create_default_context(cafile=str(route.ca_cert))
            context.set_alpn_protocols(["h2"])
            await writer.start_tls(context, server_hostname=host)
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        upstream = H2Wire(conn, writer)
        conn.initiate_connection()
        stream_id = conn.get_next_available_stream_id()
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        pseudo = [
            (":method", live.method),
            (":scheme", scheme),
            (":authority", authority),
            (":path", path),
        ]
        conn.send_headers(stream_id, [*pseudo, *_request_headers(live), (EPISODE_HEADER, token)])
        await upstream.flush()
        sending = asyncio.ensure_future(_send_request(upstream, stream_id, call))
        await relay.answer(reader, upstream, stream_id, sending)
    except Exception as exc:
        await relay.reset()
        if isinstance(exc, LiveEpisodeError):
            raise
        raise LiveEpisodeError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        if sending is not None:
            sending.cancel()
        writer.close()


async def _tunnel(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, route: ProxyRoute, authority: str
) -> None:
    credentials = base64.b64encode(route.userinfo.encode()).decode()
    writer.write(
        f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
        f"Proxy-Authorization: Basic {credentials}\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    if status.split(" ")[1:2] != ["200"]:
        raise LiveEpisodeError(f"the proxy refused the tunnel to {authority}: {status}")


def _request_headers(live: HttpRequest) -> list[tuple[str, str]]:
    headers = []
    for name, value in live.headers:
        key = name.lower()
        if key.startswith(":") or key in _DROPPED or (key == "te" and value != "trailers"):
            continue
        headers.append((key, value))
    return headers


async def _send_request(upstream: H2Wire, stream_id: int, call: IncomingCall) -> None:
    """Pass the client's request on as it arrives, within the proxy's flow-control window."""
    sent = 0
    while True:
        await call.until(_more_than(call, sent))
        data = bytes(call.received[sent:])
        if data:
            sent += len(data)
            await upstream.send_data(stream_id, data)
        elif call.ended:
            upstream.conn.end_stream(stream_id)
            await upstream.flush()
            return


def _more_than(call: IncomingCall, size: int) -> Callable[[], bool]:
    return lambda: call.ended or len(call.received) > size


class _Relay:
    """The answer coming back from the proxy, passed to the client's stream event by event."""

    def __init__(self, client: H2Wire, stream_id: int) -> None:
        self.client = client
        self.stream_id = stream_id
        self.began = False  # the client's stream has its response headers
        self.done = False

    async def answer(
        self,
        reader: asyncio.StreamReader,
        upstream: H2Wire,
        stream_id: int,
        sending: asyncio.Future[None],
    ) -> None:
        import h2.events

        client, cid = self.client, self.stream_id
        while data := await reader.read(65536):
            for event in upstream.conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    ended = event.stream_ended is not None
                    client.conn.send_headers(cid, _response_headers(event), end_stream=ended)
                    self.began = True
                    await client.flush()
                    if ended:
                        self.done = True
                        return
                elif isinstance(event, h2.events.DataReceived):
                    await client.send_data(cid, event.data)
                    # acknowledged once passed on: a slow client slows the origin down
                    upstream.conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
                elif isinstance(event, h2.events.TrailersReceived):
                    client.conn.send_headers(cid, _response_headers(event), end_stream=True)
                    await client.flush()
                    self.done = True
                    return
                elif isinstance(event, h2.events.StreamEnded):
                    client.conn.end_stream(cid)
                    await client.flush()
                    self.done = True
                    return
                elif isinstance(event, h2.events.StreamReset):
                    raise LiveEpisodeError(f"the proxy reset the call (code {event.error_code})")
                elif isinstance(event, h2.events.WindowUpdated):
                    upstream.window.set()
                elif isinstance(event, h2.events.ConnectionTerminated):
                    raise LiveEpisodeError("the proxy ended the connection")
            if sending.done() and sending.exception() is not None:
                raise LiveEpisodeError(f"sending the request failed: {sending.exception()}")
            await upstream.flush()
        raise LiveEpisodeError("the proxy closed the connection before the answer ended")

    async def reset(self) -> None:
        """Fail closed: a client whose answer had begun gets its stream reset (one whose had
        not gets the origin's refusal)."""
        if self.began and not self.done:
            with contextlib.suppress(Exception):  # the client may be gone already
                self.client.conn.reset_stream(self.stream_id)
                await self.client.flush()


def _response_headers(event: Any) -> list[tuple[str, str]]:
    return [
        (str(k), str(v))
        for k, v in event.headers
        if str(k) not in _DROPPED and not (str(k).startswith(":") and str(k) != ":status")
    ]
