"""Serve a :class:`BarHub` with uvicorn on its own thread.

The socket is bound and listening before :meth:`BarServer.start` returns, so the URL can be
printed and a client that connects at once waits in the backlog instead of being refused.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from .app import create_app
from .hub import BarHub

__all__ = ["BarServer"]


class BarServer:
    """``BarServer(hub, port=0).start()`` ... ``stop()``; 127.0.0.1 unless told otherwise."""

    def __init__(self, hub: BarHub, *, host: str = "127.0.0.1", port: int = 0) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port {port}: not a port number")
        self.hub = hub
        self.host = host
        self.port = port
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self, timeout: float = 10.0) -> BarServer:
        """Bind, listen, start uvicorn on a daemon thread and wait until it serves."""
        if self._thread is not None:
            raise RuntimeError("already started")
        # IPPROTO_TCP spelled out: asyncio turns Nagle off only on connections of such sockets
        # (a second small message would otherwise wait ~40 ms for the client's delayed ACK).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(self.hub),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        self._server = server
        # not in the main thread: uvicorn installs no signal handlers
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="bars-server", daemon=True
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the bars server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """End the subscriptions, stop uvicorn and join its thread (idempotent)."""
        self.hub.close()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> BarServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
