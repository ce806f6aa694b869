"""The bars app: REST history, a WebSocket of live bars and a candlestick page.

* ``GET /api/v1/bars/{market}/{resolution}``: confirmed bars so far, each the bar's fields
  plus ``parity``; 404 JSON for a market or resolution the run does not know.
* ``WS /ws/bars/{market}/{resolution}``: the confirmed history, the forming bar (if any), then
  every ``BAR_FORMING`` / ``BAR_CONFIRMED`` message as the pipeline emits it.
* ``GET /bars/{market}/{resolution}``: live candles drawn with plotly, whose script is served
  from the installed ``plotly`` package (no CDN).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from .hub import BarHub, BarSubscription
from .page import BARS_PAGE

__all__ = ["create_app", "plotly_js_path"]

UNKNOWN_CLOSE_CODE = 4404
TOO_SLOW_CLOSE_CODE = 1008


def plotly_js_path() -> Path | None:
    """``plotly.min.js`` inside the installed plotly package (None without plotly)."""
    try:
        from pytest_streamreplay.web.app import plotly_js_path as find
    except ImportError:
        return None
    return find()


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def create_app(hub: BarHub) -> FastAPI:
    """The app over ``hub`` (which the pipeline publishes into from its own thread)."""
    app = FastAPI(
        docs_url=None,  # Swagger UI and ReDoc load their scripts from a CDN
        redoc_url=None,
        title="tradingbot bars",
        description="The bot's bars: REST history, a live WebSocket and a candlestick page.",
    )
    app.state.hub = hub

    def unknown(market: str, resolution: str) -> JSONResponse:
        return _error(
            404,
            f"unknown market/resolution {market}/{resolution}",
            markets=hub.markets(),
            resolutions=list(hub.resolutions),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, str(exc.detail))

    @app.get("/api/v1/bars", summary="Markets and resolutions served")
    def index() -> Any:
        return {"markets": hub.markets(), "resolutions": list(hub.resolutions)}

    @app.get("/api/v1/bars/{market}/{resolution}", summary="Confirmed bars so far")
    def bars(market: str, resolution: str) -> Any:
        market, resolution = market.upper(), resolution.upper()
        if not hub.knows(market, resolution):
            return unknown(market, resolution)
        return [{**m["bar"], "parity": m["parity"]} for m in hub.confirmed(market, resolution)]

    @app.websocket("/ws/bars/{market}/{resolution}")
    async def bars_ws(ws: WebSocket, market: str, resolution: str) -> None:
        market, resolution = market.upper(), resolution.upper()
        await ws.accept()
        if resolution not in hub.resolutions:
            # any market is accepted (it may appear later in the stream); resolutions are fixed
            await ws.send_text(
                _dumps({"type": "ERROR", "error": f"resolution {resolution} is not built"})
            )
            await ws.close(UNKNOWN_CLOSE_CODE)
            return
        sub = hub.subscribe(market, resolution)
        try:
            await _serve_subscription(ws, sub)
        finally:
            hub.unsubscribe(sub)

    @app.get("/bars/{market}/{resolution}", include_in_schema=False)
    def page(market: str, resolution: str) -> Any:
        if resolution.upper() not in hub.resolutions:
            return unknown(market.upper(), resolution.upper())
        return HTMLResponse(BARS_PAGE)

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Any:
        path = plotly_js_path()
        if path is None:
            return _error(404, "plotly is not installed")
        return FileResponse(
            path, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
        )

    return app


async def _serve_subscription(ws: WebSocket, sub: BarSubscription) -> None:
    """Send the snapshot and the live messages until the hub ends or the client leaves."""

    async def pump() -> None:
        for first in sub.initial:
            await ws.send_text(_dumps(first))
        while (live := await sub.get()) is not None:
            await ws.send_text(_dumps(live))

    async def drain() -> None:  # clients only listen: read until they disconnect
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                received = await ws.receive()
                if received.get("type") == "websocket.disconnect":
                    return

    sending = asyncio.ensure_future(pump())
    listening = asyncio.ensure_future(drain())
    try:
        await asyncio.wait({sending, listening}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sending, listening):
            task.cancel()
        for task in (sending, listening):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if sending.done() and not sending.cancelled() and sending.exception() is None:
        # the hub ended the stream (shutdown or a subscriber too slow): say goodbye
        code = TOO_SLOW_CLOSE_CODE if sub.overflowed else 1001
        with contextlib.suppress(Exception):
            await ws.close(code)
