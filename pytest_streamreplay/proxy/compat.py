"""Fixes for clients that mitmproxy would otherwise turn away."""

from __future__ import annotations

from typing import Any

__all__ = ["accept_ws_scheme_requests"]


def accept_ws_scheme_requests() -> None:
    """Let ``GET ws://host/path`` through to the hooks as ``http://``.

    aiohttp sends that absolute form to a plain-HTTP proxy for ws:// URLs; mitmproxy 11/12
    answer 400 "Invalid request scheme: ws" before any addon hook runs (upstream issues #3867,
    #7717), so the scheme is normalised inside its validator. wss:// uses CONNECT and is
    unaffected.
    """
    from mitmproxy.proxy.layers import http as http_layer

    original = http_layer.validate_request
    if getattr(original, "_streamreplay", False):
        return

    def validate_request(mode: Any, request: Any, validate_inbound_headers: bool) -> str | None:
        if request.scheme in ("ws", "wss"):
            request.scheme = "https" if request.scheme == "wss" else "http"
        result: str | None = original(mode, request, validate_inbound_headers)
        return result

    validate_request._streamreplay = True  # type: ignore[attr-defined]
    http_layer.validate_request = validate_request
