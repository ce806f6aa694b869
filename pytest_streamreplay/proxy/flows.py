"""What the record/replay addons share about a flow: the request in cassette form, how a
refusal looks, which session a flow belongs to (or the refusal when no test is bound), and how
a flow is sent to one of the replay origins on 127.0.0.1.

One home for these, so the HTTP and WebSocket addons (and the fail-closed guard) depend on it
and not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..cassette.records import HttpRequest
from ..session import CassetteSession
from .binding import SessionBinding

__all__ = [
    "NOT_BOUND",
    "UNMATCHED_STATUS",
    "Routed",
    "bound_session",
    "is_websocket_upgrade",
    "refusal",
    "request_from_flow",
    "route_to",
]

# A status no origin sends, so a refused request is never mistaken for a recorded one.
UNMATCHED_STATUS = 599
NOT_BOUND = "pytest-streamreplay: a request reached the proxy while no test was bound to it"


def request_from_flow(flow: Any) -> HttpRequest:
    req = flow.request
    return HttpRequest.build(
        req.method,
        req.url,
        list(req.headers.items(multi=True)),
        req.get_content(strict=False) or b"",
    )


def is_websocket_upgrade(request: Any) -> bool:
    return str(request.headers.get("upgrade", "")).lower() == "websocket"


def refusal(text: str) -> Any:
    from mitmproxy import http

    return http.Response.make(
        UNMATCHED_STATUS,
        text.encode(),
        {"Content-Type": "text/plain; charset=utf-8", "X-Streamreplay": "unmatched"},
    )


def bound_session(flow: Any, binding: SessionBinding) -> CassetteSession | None:
    """The session of the test bound to the proxy; with none bound, ``flow`` is refused."""
    session = binding.session
    if session is None:
        flow.response = refusal(NOT_BOUND)
    return session


@dataclass
class Routed:
    """A flow routed to a replay origin at ``path`` (a streamed response, a WebSocket, a gRPC
    call)."""

    session: CassetteSession
    path: str


def route_to(flow: Any, port: int | None, path: str) -> None:
    """Send ``flow`` to one of the replay origins on 127.0.0.1."""
    assert port is not None, "the replay origins start with the proxy"
    flow.request.scheme = "http"
    flow.request.host = "127.0.0.1"
    flow.request.port = port
    flow.request.path = path
