"""The mitmproxy addon for WebSockets: record live connections, route replayed ones to the
replay origin (where ``conversation`` plays them)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..cassette.records import WsClose, WsConnection, WsMessage
from ..session import CassetteSession
from .binding import SessionBinding
from .failsafe import WHERE, fail_closed
from .flows import Routed, bound_session, is_websocket_upgrade, refusal, route_to
from .origins import ReplayOrigins, WsJob

__all__ = ["WebSocketRecordReplay", "is_websocket_upgrade"]

_META = "streamreplay-ws"


@dataclass
class _Opening:
    """A live upgrade on its way to the origin: what its ``ws`` record needs."""

    session: CassetteSession
    url: str
    headers: list[tuple[str, str]]


@dataclass
class _Recording:
    """A live connection being recorded."""

    session: CassetteSession
    conn_id: int
    opened: float  # epoch seconds, like mitmproxy's message timestamps


def _ws_url(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


class WebSocketRecordReplay:
    """Routes replayed upgrades to the replay origin and records live connections; every hook
    is ``fail_closed``."""

    def __init__(self, binding: SessionBinding, origins: ReplayOrigins) -> None:
        self.binding = binding
        self.origins = origins

    @fail_closed
    def request(self, flow: Any) -> None:
        if not is_websocket_upgrade(flow.request):
            return
        if flow.response is not None:
            return  # answered before us (proxy authentication refused it): not ours
        session = bound_session(flow, self.binding)
        if session is None:
            return
        url = _ws_url(flow.request.url)
        decision = session.decide_ws(url)
        if decision.action == "replay":
            assert decision.script is not None
            where = session.where(decision.line, decision.path)
            flow.metadata[WHERE] = where
            session.opened()
            path = self.origins.add_ws(
                WsJob(
                    decision.script,
                    session.speed,
                    session.message_ignore,
                    session.redact_live_json,
                    session.closed,
                    on_error=lambda text: session.add_error(f"{where}: {text}"),
                )
            )
            flow.metadata[_META] = Routed(session, path)
            route_to(flow, self.origins.ws_port, path)
        elif decision.action == "live":
            headers = list(flow.request.headers.items(multi=True))
            target = session.route(flow.request.url)
            if target is not None:
                flow.request.url = target
            flow.metadata[_META] = _Opening(session, url, headers)
            session.flow_started(flow.id, lambda: self._cut(flow))
        else:
            flow.response = refusal(decision.report)

    @fail_closed
    def response(self, flow: Any) -> None:
        meta = flow.metadata.get(_META)
        if isinstance(meta, _Opening) and flow.websocket is None:
            meta.session.flow_finished(flow.id)  # the origin refused the upgrade
        if isinstance(meta, Routed) and flow.websocket is not None:
            # The replay origin does all matching and timing: relay its bytes with mitmproxy's
            # raw TCP layer instead of parsing and re-framing every message (~10x less CPU).
            flow.websocket = None

    @fail_closed
    def tcp_message(self, flow: Any) -> None:
        if len(flow.messages) > 1:
            del flow.messages[:-1]  # relayed replay connections must not pile up

    @fail_closed
    def error(self, flow: Any) -> None:
        meta = flow.metadata.get(_META)
        if isinstance(meta, Routed) and self.origins.cancel_ws(meta.path):
            meta.session.closed(None)  # the handshake never reached the replay origin
        elif isinstance(meta, _Opening):
            meta.session.flow_finished(flow.id)  # the handshake failed: no connection to record

    @staticmethod
    def _cut(flow: Any) -> None:
        """Teardown found the connection still open: end its record with a ``teardown`` close
        (replay then keeps the connection open until the client closes it)."""
        meta = flow.metadata.get(_META)
        if isinstance(meta, _Recording):
            t = (time.time() - meta.opened) * 1000.0
            meta.session.record(WsClose(meta.conn_id, t, None, "", "teardown"))

    @fail_closed
    def websocket_start(self, flow: Any) -> None:
        meta = flow.metadata.get(_META)
        if not isinstance(meta, _Opening):
            return
        session, url, headers = meta.session, meta.url, meta.headers
        response = flow.response
        conn = WsConnection(
            id=session.next_id(),
            url=url,
            t=session.elapsed_ms(),
            headers=headers,
            subprotocol=response.headers.get("sec-websocket-protocol") if response else None,
            response_headers=list(response.headers.items(multi=True)) if response else [],
        )
        session.record(conn, flow=flow.id)
        flow.metadata[_META] = _Recording(session, conn.id, time.time())

    @fail_closed
    def websocket_message(self, flow: Any) -> None:
        meta = flow.metadata.get(_META)
        messages = flow.websocket.messages
        if isinstance(meta, _Recording):
            session, conn_id, opened = meta.session, meta.conn_id, meta.opened
            msg = messages[-1]
            session.record(
                WsMessage.build(
                    conn_id,
                    "send" if msg.from_client else "recv",
                    (msg.timestamp - opened) * 1000.0,
                    msg.content,
                    binary=not msg.is_text,
                ),
                flow=flow.id,
            )
        if len(messages) > 1:
            del messages[:-1]  # kept only to be recorded: long streams must not pile up

    def websocket_end(self, flow: Any) -> None:
        meta = flow.metadata.get(_META)
        if not isinstance(meta, _Recording):
            return
        # Not already cut off at teardown; teardown waits for the block (failure included).
        with meta.session.finishing(flow.id) as mine:
            if mine:
                self.record_close(flow)

    @fail_closed
    def record_close(self, flow: Any) -> None:
        meta = flow.metadata[_META]
        session, conn_id, opened = meta.session, meta.conn_id, meta.opened
        ws = flow.websocket
        close = WsClose(
            conn_id,
            (time.time() - opened) * 1000.0,
            ws.close_code,
            ws.close_reason or "",
            "client" if ws.closed_by_client else "server",
        )
        session.record(close)
