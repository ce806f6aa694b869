"""A hostile origin on 127.0.0.1 for the redaction tests: it hands out secrets of every shape
over HTTP (headers, cookies, JSON and text bodies), server-sent events and a WebSocket, and
echoes back whatever secrets the client sends. All values are made up; none is a credential."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from stream_servers import LoopThread, start_loop_thread

JWT_SERVER = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJob3N0aWxlLXNlcnZlciIsImlhdCI6MX0"
    ".aG9zdGlsZS1zZXJ2ZXItc2lnbmF0dXJlLW5vdC1yZWFs"
)
PEM_SERVER = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEXAMPLEONLYNOTAKEY\n"
    "c2VydmVyLXBlbS1ib2R5LW5vdC1hLXJlYWwta2V5LWF0LWFsbA==\n-----END RSA PRIVATE KEY-----"
)
# BIP39 test vectors (valid checksums), shared by nobody's wallet.
MNEMONIC_SERVER = "letter advice cage absurd amount doctor acoustic avoid letter advice cage above"
AWS_SERVER = "AKIAHOSTILESERVER123"
COOKIE_SERVER = "srv-cookie-5f9c1a7e2b"
LISTEN_KEY_SERVER = "lk7Hq2ServerListenKey0123456789abcdefABCDEF"
TOKEN_SERVER = "srv-access-token-8d7e6f"
SSE_TOKEN = "sse-token-3c4d5e6f7a"

SERVER_SECRETS = {
    "jwt": JWT_SERVER,
    "pem": PEM_SERVER,
    "mnemonic": MNEMONIC_SERVER,
    "aws": AWS_SERVER,
    "cookie": COOKIE_SERVER,
    "listen_key": LISTEN_KEY_SERVER,
    "token": TOKEN_SERVER,
    "sse_token": SSE_TOKEN,
}


async def _login(request: Any) -> Any:
    from aiohttp import web

    sent = await request.text()
    resp = web.json_response(
        {
            "access_token": TOKEN_SERVER,
            "id": JWT_SERVER,  # by shape only: "id" is no secret name
            "listenKey": LISTEN_KEY_SERVER,
            "wallet": {"seedPhrase": MNEMONIC_SERVER, "recoveryPhrase": MNEMONIC_SERVER},
            "note": f"key {AWS_SERVER} and pem {PEM_SERVER}",
            "echo": sent,
        }
    )
    resp.headers["Set-Cookie"] = f"sid={COOKIE_SERVER}; Path=/; HttpOnly"
    resp.headers["X-Echo-Authorization"] = request.headers.get("Authorization", "")
    return resp


async def _echo(request: Any) -> Any:
    from aiohttp import web

    sent = await request.text()
    body = (
        f"query={request.query_string}\ncookie={request.headers.get('Cookie', '')}\n"
        f"auth={request.headers.get('Authorization', '')}\nbody={sent}\n"
        f"server: {JWT_SERVER}\n{MNEMONIC_SERVER}\n{PEM_SERVER}\n"
    )
    return web.Response(text=body, content_type="text/plain")


async def _sse(request: Any) -> Any:
    from aiohttp import web

    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    events = (
        f"data: {json.dumps({'token': SSE_TOKEN, 'n': 1})}\n\n"
        f"event: note\ndata: seed {MNEMONIC_SERVER}\n\n"
        f"data: {JWT_SERVER}\n\n"
        f"data: {json.dumps({'echo': request.query_string, 'pem': PEM_SERVER})}\n\n"
    ).encode()
    # Cut mid-secret on purpose: a token split across two chunks must still be found.
    cut = events.index(JWT_SERVER.encode()) + 20
    for part in (events[:cut], events[cut:]):
        await resp.write(part)
        await asyncio.sleep(0.05)
    await resp.write_eof()
    return resp


async def _ws(request: Any) -> Any:
    from aiohttp import WSMsgType, web

    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.send_str(json.dumps({"type": "hello", "session": JWT_SERVER}))
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            break
        try:
            value = json.loads(msg.data)
        except ValueError:
            await ws.send_str(f"echo: {msg.data} / {MNEMONIC_SERVER}")
            continue
        if isinstance(value, dict) and value.get("action") == "auth":
            await ws.send_str(
                json.dumps({"status": "authorized", "key": value.get("key"), "token": TOKEN_SERVER})
            )
        elif isinstance(value, dict) and value.get("action") == "bye":
            await ws.close()
        else:
            await ws.send_str(json.dumps({"echo": value}))
    return ws


async def _sse_gzip(request: Any) -> Any:
    """Server-sent events behind Content-Encoding: gzip, flushed event by event: the chunks on
    the wire are compressed, the secrets are inside them."""
    import zlib

    from aiohttp import web

    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Content-Encoding": "gzip"}
    )
    await resp.prepare(request)
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    for event in (
        f"data: {json.dumps({'token': SSE_TOKEN, 'n': 1})}\n\n",
        f"data: {JWT_SERVER}\n\n",
        f"data: seed {MNEMONIC_SERVER}\n\n",
    ):
        await resp.write(z.compress(event.encode()) + z.flush(zlib.Z_SYNC_FLUSH))
        await asyncio.sleep(0.05)
    await resp.write(z.flush())
    await resp.write_eof()
    return resp


async def _ws_first_protocol(request: Any) -> Any:
    """Selects the first subprotocol offered, whatever it is: a token sent as a subprotocol
    (a browser cannot set an Authorization header on a WebSocket) comes back in the answer."""
    from aiohttp import web

    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    ws = web.WebSocketResponse(protocols=offered[:1])
    await ws.prepare(request)
    await ws.send_str(json.dumps({"protocol": ws.ws_protocol}))
    await ws.close()
    return ws


@dataclass
class SecretOrigin(LoopThread):
    url: str = ""


def start_secret_origin() -> SecretOrigin:
    async def serve(stop: asyncio.Future[None], ready: dict[str, Any]) -> None:
        from aiohttp import web

        app = web.Application()
        app.router.add_post("/login", _login)
        app.router.add_route("*", "/echo", _echo)
        app.router.add_get("/sse", _sse)
        app.router.add_get("/ws", _ws)
        app.router.add_get("/ws-protocol", _ws_first_protocol)
        app.router.add_get("/sse-gzip", _sse_gzip)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ready["port"] = runner.addresses[0][1]
        ready["up"] = True
        await stop
        await runner.cleanup()

    loop, thread, stop, ready = start_loop_thread(serve)
    return SecretOrigin(loop, thread, stop, url=f"http://127.0.0.1:{ready['port']}")
