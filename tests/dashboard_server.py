"""The cassette dashboard (``streamreplay web``'s app) under uvicorn on a thread, on a socket
bound to 127.0.0.1:0: for the browser tests of tests/web and of the bot's live session."""

from __future__ import annotations

import time
from pathlib import Path

from pytest_streamreplay.web import create_app

__all__ = ["ThreadServer", "serve_in_thread"]


class ThreadServer:
    """uvicorn serving the dashboard from a thread, on a socket bound to 127.0.0.1:0."""

    def __init__(self, root: Path) -> None:
        import socket
        import threading

        import uvicorn

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(create_app(root), log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


def serve_in_thread(root: Path) -> ThreadServer:
    return ThreadServer(root)
