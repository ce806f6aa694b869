"""``python -m tradingbot.cli ...`` in a subprocess, as users run it, with bounded reads.

stdout lines arrive on a queue (``None`` at the end) so every read has a timeout, and stderr is
drained on its own thread (a pipe nobody reads could fill and block the child).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["BotProcess"]

REPO = Path(__file__).resolve().parents[1]
SERVING = "serving bars at "


class BotProcess:
    """``BotProcess("run", "--market", ...)``; ``env`` replaces the inherited environment."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tradingbot.cli", *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ) if env is None else env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.errors: list[str] = []
        self._stdout = threading.Thread(target=self._read, daemon=True)
        self._stderr = threading.Thread(target=self._read_errors, daemon=True)
        self._stdout.start()
        self._stderr.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _read_errors(self) -> None:
        assert self.proc.stderr is not None
        self.errors.extend(self.proc.stderr)

    def serving_url(self, timeout: float = 20.0) -> str:
        """The ``http://127.0.0.1:PORT/`` of ``--serve``: the first line the command prints."""
        first = self.lines.get(timeout=timeout)
        assert first is not None, "".join(self.errors)
        assert first.startswith(SERVING + "http://127.0.0.1:"), first
        return first[len(SERVING) :].strip()

    def summary(self, timeout: float = 30.0) -> dict[str, Any]:
        """Wait for a clean exit and parse the summary JSON (the rest of stdout)."""
        deadline = time.monotonic() + timeout
        code = self.proc.wait(timeout)
        assert code == 0, f"tradingbot {' '.join(self.args)} exited {code}:\n{self.stderr()}"
        rest = []
        while (line := self.lines.get(timeout=max(0.1, deadline - time.monotonic()))) is not None:
            rest.append(line)
        summary: dict[str, Any] = json.loads("".join(rest))
        return summary

    def stderr(self) -> str:
        self._stderr.join(1)
        return "".join(self.errors)

    def stop(self) -> None:
        """Terminate (then kill) if still running; idempotent."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
