"""One HTTP/2 connection's h2 state machine and its socket, shared by the replay origin (the
server side) and the live forwarding of a new episode (the client side)."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["H2Wire"]


class H2Wire:
    """The h2 state machine and its socket, flushed after each step."""

    def __init__(self, conn: Any, writer: asyncio.StreamWriter) -> None:
        self.conn = conn
        self.writer = writer
        self.window = asyncio.Event()  # set by the reading loop on each WINDOW_UPDATE

    async def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def send_data(self, stream_id: int, data: bytes) -> None:
        """Send within the peer's flow-control window, waiting for updates when it is full."""
        while data:
            room = min(
                self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size
            )
            if room <= 0:
                self.window.clear()
                await self.window.wait()
                continue
            self.conn.send_data(stream_id, data[:room])
            data = data[room:]
            await self.flush()
