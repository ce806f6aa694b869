"""Replaying one recorded WebSocket connection as a conversation, not a tape.

Server messages recorded before the client's first message go out at once (or on time); a
server message recorded after a client message goes out only once the client has sent a
matching message. Timing is anchored on the event that released a message (the opening, or the
last matched client message), so a slow client never makes the stream drift. This module knows
asyncio and the cassette records, nothing of mitmproxy or the WebSocket library in use.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..cassette.matching import without_paths
from ..cassette.records import WsMessage
from ..cassette.redaction import matchable_bytes, matchable_value
from ..playback import ConversationReport, Speed, WsScript

__all__ = [
    "ConnectionGone",
    "Conversation",
    "ConversationReport",
    "Speed",
    "WsEndpoint",
    "WsScript",
    "describe_mismatch",
]

log = logging.getLogger("pytest_streamreplay")
_YIELD_EVERY = 64
_MAX_CLOSE_GAP_S = 10.0


class ConnectionGone(Exception):
    """The client went away; what was not delivered is the unread tail."""


class WsEndpoint(Protocol):
    """The replay side of one connection (an adapter over the WebSocket library)."""

    async def send(self, data: str | bytes) -> None: ...

    async def recv(self) -> str | bytes: ...

    async def close(self, code: int, reason: str) -> None: ...

    def abort(self) -> None: ...

    async def wait_closed(self, timeout: float | None) -> bool: ...


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes> {value[:60]!r}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return repr(value)


def describe_mismatch(expected: Any, actual: Any) -> str:
    """Expected and actual, with a line diff when both are JSON structures."""
    lines = [f"    expected: {_render(expected)}", f"    actual:   {_render(actual)}"]
    if isinstance(expected, dict | list) and isinstance(actual, dict | list):
        a = json.dumps(expected, indent=2, sort_keys=True).splitlines()
        b = json.dumps(actual, indent=2, sort_keys=True).splitlines()
        diff = list(difflib.unified_diff(a, b, "expected", "actual", lineterm="", n=1))
        lines += ["    diff:"] + [f"      {d}" for d in diff[2:40]]
    return "\n".join(lines)


class Conversation:
    """Plays one ``WsScript`` against one client."""

    def __init__(
        self,
        script: WsScript,
        endpoint: WsEndpoint,
        *,
        speed: Speed,
        ignore_paths: Sequence[str] = (),
        redact_live: Callable[[Any], Any] | None = None,
        label: str = "",
    ) -> None:
        self.script = script
        self.ws = endpoint
        self.speed = speed
        self.ignore_paths = tuple(ignore_paths)
        self.redact_live = redact_live or (lambda v: v)
        self.report = ConversationReport(label or f"connection #{script.conn.id} {script.conn.url}")
        self.position = 0
        # Anchor: (wall clock, recorded offset) of the event that released what follows.
        self._anchor = (time.monotonic(), 0.0)

    # -- matching --------------------------------------------------------------------------
    def _live_value(self, data: str | bytes) -> Any:
        """A live client message as it compares with the recording: redacted by the
        recording's rules, placeholders normalised (see ``cassette.redaction``)."""
        if isinstance(data, bytes):
            return self.redact_live(data)
        try:
            value = json.loads(data)
        except ValueError:
            return self.redact_live(data)
        return self.redact_live(value if isinstance(value, dict | list) else data)

    def _recorded_value(self, value: Any) -> Any:
        """A recorded client message as today's rules redact it (a cassette recorded under
        older rules may hold in clear what a live message now has redacted), normalised."""
        if isinstance(value, bytes):
            return matchable_bytes(self.redact_live(value))
        return matchable_value(self.redact_live(value))

    def _matches(self, expected: WsMessage, data: str | bytes) -> tuple[bool, Any, Any]:
        if expected.binary or isinstance(data, bytes):
            if not (expected.binary and isinstance(data, bytes)):
                return False, expected.content, data if isinstance(data, bytes) else data.encode()
            live, want = self._live_value(data), self._recorded_value(expected.content)
            return live == want, want, live
        if expected.body and "json" in expected.body:
            live = self._live_value(data)
            want = self._recorded_value(expected.body["json"])
            if isinstance(live, dict | list):
                ok = without_paths(live, self.ignore_paths) == without_paths(
                    want, self.ignore_paths
                )
                return ok, want, live
            return False, want, live
        live, want = self.redact_live(data), self._recorded_value(expected.text)
        return live == want, want, live

    # -- timing ----------------------------------------------------------------------------
    async def _wait_until(self, recorded_t: float) -> None:
        if self.speed.factor is None:
            return
        wall, t0 = self._anchor
        delay = wall + (recorded_t - t0) / 1000.0 / self.speed.factor - time.monotonic()
        if delay > 0 and await self.ws.wait_closed(delay):
            raise ConnectionGone

    # -- the conversation ------------------------------------------------------------------
    async def run(self) -> ConversationReport:
        messages = self.script.messages
        try:
            while self.position < len(messages):
                msg = messages[self.position]
                if msg.dir == "recv":
                    await self._wait_until(msg.t)
                    await self.ws.send(msg.content if msg.binary else msg.text)
                    if self.speed.factor is None and self.position % _YIELD_EVERY == 0:
                        # websockets' send() only awaits when the transport is paused: without
                        # this the proxy, on the same loop, would relay nothing (not even the
                        # handshake) until the socket buffer filled.
                        await asyncio.sleep(0)
                else:
                    await self._expect(msg)
                    self._anchor = (time.monotonic(), msg.t)
                self.position += 1
            await self._finish()
            self.report.finished = True
        except ConnectionGone:
            self._report_tail()
        return self.report

    async def _expect(self, expected: WsMessage) -> None:
        data = await self.ws.recv()
        ok, want, live = self._matches(expected, data)
        if not ok:
            text = (
                f"{self.report.label}: client message #{self.position} does not match the "
                f"recording\n{describe_mismatch(want, live)}"
            )
            self.report.mismatches.append(text)
            log.warning("pytest-streamreplay: %s", text)

    async def _finish(self) -> None:
        close = self.script.close
        if close is not None and close.by == "server":
            if self.speed.factor is None:
                # Even at instant speed a server close keeps its recorded distance from the
                # server's last message: sent early, it would cut off a client that (while
                # recording) closed first or still had time to read. A client closing in the
                # meantime ends the conversation cleanly.
                messages = self.script.messages
                last = messages[-1].t if messages else 0.0
                gap = min(max(close.t - last, 0.0) / 1000.0, _MAX_CLOSE_GAP_S)
                if gap > 0 and await self.ws.wait_closed(gap):
                    raise ConnectionGone
            else:
                await self._wait_until(close.t)
            if close.code in (None, 1006):
                self.ws.abort()
            else:
                await self.ws.close(close.code, close.reason)
            return
        # The client closed while recording (or never did): wait for it, noting anything extra.
        while True:
            data = await self.ws.recv()
            text = f"{self.report.label}: unexpected client message after the recording ended: "
            self.report.extra.append(text + _render(self._live_value(data))[:300])

    def _report_tail(self) -> None:
        messages = self.script.messages
        remaining = len(messages) - self.position  # counted, not read: the tail may be long
        if remaining <= 0:  # everything was delivered; the client simply closed first
            self.report.finished = True
            return
        first = messages[self.position]
        who = "client message" if first.dir == "send" else "server message"
        self.report.tail = (
            f"{self.report.label}: the connection closed with {remaining} recorded "
            f"message(s) never delivered, from message #{self.position} "
            f"(next expected: {who} {_render(first.value)[:200]})"
        )
