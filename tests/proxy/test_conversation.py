"""The conversation engine against an in-memory endpoint: gating, closes, tails."""

from __future__ import annotations

import asyncio
import time

from pytest_streamreplay.cassette import WsClose, WsConnection, WsMessage
from pytest_streamreplay.proxy.conversation import (
    ConnectionGone,
    Conversation,
    Speed,
    WsScript,
)


class FakeClient:
    """The replay side's view of a client that sends ``to_send`` once it has read ``after``."""

    def __init__(self, to_send: list[str], close_after_s: float | None = None) -> None:
        self.received: list[str | bytes] = []
        self.to_send = list(to_send)
        self.closed_by_server: tuple[int, str] | None = None
        self._gone = asyncio.Event()
        self._close_after = close_after_s
        self._start = time.monotonic()

    async def send(self, data: str | bytes) -> None:
        if self._gone.is_set():
            raise ConnectionGone
        self.received.append(data)

    async def recv(self) -> str | bytes:
        if self.to_send:
            return self.to_send.pop(0)
        await self._gone.wait() if self._close_after is None else await self._close_later()
        raise ConnectionGone

    async def _close_later(self) -> None:
        await asyncio.sleep(max(0.0, self._start + self._close_after - time.monotonic()))
        self._gone.set()

    async def close(self, code: int, reason: str) -> None:
        self.closed_by_server = (code, reason)

    def abort(self) -> None:
        self.closed_by_server = (1006, "")

    async def wait_closed(self, timeout: float | None) -> bool:
        if self._close_after is not None and not self._gone.is_set():
            delay = self._start + self._close_after - time.monotonic()
            if timeout is None or delay <= timeout:
                await asyncio.sleep(max(delay, 0.0))
                self._gone.set()
                return True
        try:
            await asyncio.wait_for(self._gone.wait(), timeout)
        except TimeoutError:
            return False
        return True


def _script(close_by: str, close_t: float) -> WsScript:
    msgs = [
        WsMessage.build(0, "recv", 1.0, b'{"type":"connected"}', False),
        WsMessage.build(0, "send", 2.0, b'{"type":"subscribe","id":"BTC-USD","nonce":1}', False),
        WsMessage.build(0, "recv", 3.0, b'{"type":"subscribed"}', False),
    ]
    close = WsClose(0, close_t, 1000, "", close_by)
    return WsScript(WsConnection(0, "wss://x.test/ws"), msgs, close)


def _run(conv: Conversation) -> object:
    return asyncio.run(conv.run())


def test_gated_on_the_client_message_with_ignored_paths() -> None:
    client = FakeClient(['{"type":"subscribe","id":"BTC-USD","nonce":9}'], close_after_s=0.05)
    report = _run(
        Conversation(_script("client", 10.0), client, speed=Speed(), ignore_paths=("nonce",))
    )
    assert client.received == ['{"type":"connected"}', '{"type":"subscribed"}']
    assert report.mismatches == [] and report.tail is None and report.finished


def test_instant_server_close_keeps_its_distance_so_a_client_closing_first_wins() -> None:
    # Recorded: the server's close 300 ms after its last message. The client closes at 50 ms.
    client = FakeClient(['{"type":"subscribe","id":"BTC-USD","nonce":1}'], close_after_s=0.05)
    report = _run(Conversation(_script("server", 303.0), client, speed=Speed()))
    assert client.closed_by_server is None and report.finished and report.tail is None


def test_instant_server_close_is_sent_after_the_recorded_gap() -> None:
    client = FakeClient(['{"type":"subscribe","id":"BTC-USD","nonce":1}'])
    started = time.monotonic()
    _run(Conversation(_script("server", 103.0), client, speed=Speed()))
    assert client.closed_by_server == (1000, "")
    assert 0.08 <= time.monotonic() - started < 1.0


def test_missing_client_message_is_an_undelivered_tail() -> None:
    client = FakeClient([], close_after_s=0.02)
    report = _run(Conversation(_script("client", 10.0), client, speed=Speed()))
    assert report.tail is not None and "2 recorded message(s) never delivered" in report.tail
    assert "from message #1" in report.tail and "client message" in report.tail
