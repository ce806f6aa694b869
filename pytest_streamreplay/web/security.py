"""What keeps a local dashboard local: Host check, write token, browser policy headers.

A server on 127.0.0.1 is still reachable from the user's browser, so any web page open in it
can send requests here. Three defences, each against one way in:

- **Host check** (DNS rebinding): a page on ``evil.example`` whose name is re-pointed at
  127.0.0.1 would be same-origin with us; its requests carry ``Host: evil.example`` and are
  refused. Allowed: loopback names and the host the server was started on.
- **Write token** (cross-site requests): every POST must carry ``X-StreamReplay-Token`` equal to
  a random per-server token that only same-origin pages can read (it is in the pages' HTML).
  A custom header also forces a CORS preflight, which this server never grants.
- **Content-Security-Policy** (script from cassette content): scripts only from this server's
  files, no inline script or handlers, no plugins, no framing. The pages escape every value
  they show as well; the policy is the second line.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "LOOPBACK_HOSTS",
    "TOKEN_HEADER",
    "DashboardGuard",
    "new_token",
]

TOKEN_HEADER = "X-StreamReplay-Token"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # plotly positions its SVG with style attributes
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hostname(host_header: str) -> str:
    """``127.0.0.1:8765`` -> ``127.0.0.1``, ``[::1]:8765`` -> ``::1``, lower-cased."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else ""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class DashboardGuard:
    """ASGI middleware around the dashboard app (see the module docstring)."""

    def __init__(self, app: App, *, token: str, hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.token = token
        self.hosts = LOOPBACK_HOSTS | {hostname(h) for h in hosts if h}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = hostname(headers.get("host", ""))
        if host not in self.hosts:
            allowed = ", ".join(sorted(self.hosts))
            await _refuse(send, 421, f"Host {host!r} is not this dashboard's ({allowed})")
            return
        if scope["method"] not in _SAFE_METHODS and not self._may_write(headers):
            await _refuse(
                send,
                403,
                f"write requests need the {TOKEN_HEADER} header of this server (the dashboard's "
                "pages send it; scripts find it in the pages' streamreplay-token meta tag)",
            )
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _may_write(self, headers: dict[str, str]) -> bool:
        origin = headers.get("origin")
        if origin is not None and hostname(origin.split("://", 1)[-1]) not in self.hosts:
            return False
        given = headers.get(TOKEN_HEADER.lower(), "")
        return hmac.compare_digest(given.encode(), self.token.encode())


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
