"""Fail closed: a failure inside the proxy fails the test and never sends a request to an origin.

mitmproxy logs an exception raised by an addon hook and carries on, so a request whose replay
failed halfway would go to the real origin and the test would pass on the live answer. Two
layers stop that: every hook of ours is wrapped by ``fail_closed`` (an exception refuses the
flow, when it is still a request, and becomes an error on the test's session), and
``ReplayGuard``, added after our addons, refuses whatever is still unanswered, and any server
connection other than to our replay origins, whenever the bound session may not record.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from ..cassette.storage import CassetteError
from ..session import CassetteSession
from .binding import SessionBinding
from .origins import ReplayOrigins

__all__ = ["WHERE", "ReplayGuard", "fail_closed", "session_of"]

log = logging.getLogger("pytest_streamreplay")

#: flow.metadata key: ``path:line`` of the cassette record a flow replays.
WHERE = "streamreplay-where"
#: Hooks that run before the request has left: a failure there refuses the flow.
_REQUEST_PHASE = frozenset({"request", "requestheaders", "http_connect"})

A = TypeVar("A")


def session_of(flow: Any, binding: SessionBinding) -> CassetteSession | None:
    """The session a flow was decided by (kept in its metadata), else the bound one."""
    for meta in flow.metadata.values():
        session = getattr(meta, "session", None)
        if isinstance(session, CassetteSession):
            return session
    return binding.session


def _describe(flow: Any) -> str:
    request = getattr(flow, "request", None)
    if request is None:
        return "a connection"
    return f"{request.method} {request.pretty_url}"


def fail_closed(hook: Callable[[A, Any], None]) -> Callable[[A, Any], None]:
    """Wrap an addon hook (``self.binding`` must be the ``SessionBinding``): an exception
    refuses the flow while it is still a request and fails the test that owns it."""
    name = hook.__name__

    @functools.wraps(hook)
    def guarded(addon: A, flow: Any) -> None:
        try:
            hook(addon, flow)
        except Exception as exc:
            _failed(addon, flow, name, exc)

    return guarded


def _failed(addon: Any, flow: Any, hook: str, exc: Exception) -> None:
    from .flows import Routed, refusal

    binding: SessionBinding = addon.binding
    session = session_of(flow, binding)
    if isinstance(exc, CassetteError):
        detail = str(exc)  # already starts with path:line
    else:
        where = flow.metadata.get(WHERE) or (session.where() if session else "no cassette")
        detail = f"{where}: {type(exc).__name__}: {exc}"
    report = f"pytest-streamreplay: the proxy failed on {_describe(flow)} (in {hook}): {detail}"
    log.error("%s", report, exc_info=exc)
    refuse = hook in _REQUEST_PHASE and getattr(flow, "request", None) is not None
    if refuse:
        if any(isinstance(m, Routed) for m in flow.metadata.values()):
            error = getattr(addon, "error", None)
            if error is not None:
                error(flow)  # forget the replay origin's job; guarded itself
        report += "\n  the request was refused: nothing was sent to the origin"
        flow.response = refusal(report)
    if session is not None:
        session.add_error(report)


class ReplayGuard:
    """The last addon: in a mode that may not record (or with no test bound), refuse every
    request nothing answered and every server connection but to our own replay origins."""

    def __init__(
        self,
        binding: SessionBinding,
        origins: ReplayOrigins,
        more_ports: Callable[[], tuple[int | None, ...]] = tuple,
    ) -> None:
        self.binding = binding
        self.origins = origins
        self.more_ports = more_ports  # other replay origins of ours (the HTTP/2 one)

    def _ours(self, host: Any, port: Any) -> bool:
        ours = (self.origins.http_port, self.origins.ws_port, *self.more_ports())
        return host == "127.0.0.1" and port is not None and port in ours

    def _may_go_live(self) -> bool:
        session = self.binding.session
        return session is not None and session.can_record

    def request(self, flow: Any) -> None:
        try:
            if flow.response is not None or self._may_go_live():
                return
            if self._ours(flow.request.host, flow.request.port):
                return
        except Exception:  # judging failed: refuse, as for anything unexplained
            log.exception("pytest-streamreplay: the replay guard failed")
        self._refuse(flow)

    def _refuse(self, flow: Any) -> None:
        from .flows import refusal

        session = self.binding.session
        where = str(session.path) if session is not None else "no cassette bound"
        report = (
            f"pytest-streamreplay: {where}: {_describe(flow)} was not answered after an error "
            "inside the proxy (see the log); refused: in a replay mode nothing is sent to an "
            "origin"
        )
        flow.response = refusal(report)
        if session is not None:
            session.add_error(report)

    def server_connect(self, data: Any) -> None:
        server = data.server
        try:
            host, port = server.address or (None, None)
            if self._may_go_live() or self._ours(host, port):
                return
        except Exception:
            log.exception("pytest-streamreplay: the replay guard failed")
            host, port = None, None
        server.error = "pytest-streamreplay: replay mode: no connection to origins"
        session = self.binding.session
        if session is not None:
            session.add_error(
                f"pytest-streamreplay: a connection to {host}:{port} was refused (cassette "
                f"{session.path}, record mode {session.effective_mode.value}): in a replay mode "
                "nothing is sent to an origin"
            )
