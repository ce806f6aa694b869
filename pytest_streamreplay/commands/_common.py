"""Helpers shared by the ``streamreplay`` subcommands: errors, console, formatting, scanning."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cassette import (
    Event,
    Header,
    HttpInteraction,
    WsClose,
    WsConnection,
    WsMessage,
    iter_records,
    read_header,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

__all__ = [
    "CommandError",
    "ConnectionStats",
    "Scan",
    "age",
    "describe_close",
    "is_plain",
    "make_console",
    "ms",
    "plain",
    "plural",
    "preview",
    "scan",
    "size",
]


class CommandError(Exception):
    """A failure the user can fix; ``main`` prints it as one line and exits with ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# Wide enough that no table column is ever cut or folded when the output is piped.
_PLAIN_WIDTH = 100_000


class _LineWriter:
    """stdout for a pipe or file: whole lines, trailing padding removed (grep/cut friendly)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            self._stream.write(line.rstrip(" ") + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(self._pending.rstrip(" "))
            self._pending = ""
        self._stream.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return int(self._stream.fileno())


def make_console(width: int | None = None) -> Console:
    """A stdout console that never highlights on its own (output is data, not prose).

    On a terminal it fits the window; piped or redirected it prints plain full lines: no
    colour, no cut or wrapped cells, no trailing spaces."""
    import sys

    from rich.console import Console

    stream = sys.stdout
    if width is None and not stream.isatty():
        return Console(
            file=_LineWriter(stream),  # type: ignore[arg-type]  # rich needs write/flush only
            highlight=False,
            width=_PLAIN_WIDTH,
            soft_wrap=True,
            color_system=None,
            force_terminal=False,
        )
    return Console(highlight=False, width=width, soft_wrap=False)


def is_plain(console: Console) -> bool:
    """Whether ``console`` writes plain full lines (piped output): layout code asks this
    instead of trusting ``console.width``, which is unbounded there."""
    return isinstance(console.file, _LineWriter)


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 message``, ``2 messages``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def plain(*values: object) -> list[Text]:
    """Table cells shown as given: a test id like ``test_x[a-1]`` is not rich markup."""
    from rich.text import Text

    return [Text(str(v)) for v in values]


def size(n: int) -> str:
    """Bytes for humans: ``812 B``, ``4.2 KiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def age(when: str | None, fallback_mtime: float | None = None) -> str:
    """How long ago an ISO time (or, failing that, a file mtime) was: ``5m``, ``3h``, ``2d``."""
    then: float | None = None
    if when:
        try:
            parsed = datetime.fromisoformat(when)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            then = parsed.timestamp()
        except ValueError:
            then = None
    if then is None:
        then = fallback_mtime
    if then is None:
        return "?"
    seconds = max(0.0, datetime.now(UTC).timestamp() - then)
    for unit, length in (
        ("y", 365 * 86400),
        ("mo", 30 * 86400),
        ("d", 86400),
        ("h", 3600),
        ("m", 60),
    ):
        if seconds >= length:
            return f"{int(seconds // length)}{unit}"
    return f"{int(seconds)}s"


def ms(t: float) -> str:
    """An offset in milliseconds as seconds with millisecond precision: ``+1.250s``."""
    return f"+{t / 1000.0:.3f}s"


def preview(body: dict[str, Any] | None, content: bytes, binary: bool, width: int) -> str:
    """One line that shows what a body is: compact JSON, text, or the first bytes in hex."""
    if binary or (body is not None and "base64" in body):
        shown = " ".join(f"{b:02x}" for b in content[:16])
        text = f"<{len(content)} bytes> {shown}" + (" …" if len(content) > 16 else "")
    elif body is not None and "json" in body:
        text = json.dumps(body["json"], ensure_ascii=False, separators=(",", ":"))
    else:
        text = content.decode("utf-8", "replace")
    text = " ".join(text.split()) if any(c in text for c in "\r\n\t") else text
    if width > 1 and len(text) > width:
        return text[: width - 1] + "…"
    return text


@dataclass
class ConnectionStats:
    """What one WebSocket connection carried."""

    record: WsConnection
    sent: int = 0
    received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    last_t: float = 0.0
    close: WsClose | None = None


@dataclass
class Scan:
    """Counts and per-connection summaries of a cassette, gathered in one streaming pass."""

    path: Path
    header: Header
    kinds: Counter[str] = field(default_factory=Counter)
    http: list[HttpInteraction] = field(default_factory=list)
    connections: dict[int, ConnectionStats] = field(default_factory=dict)
    events: dict[str, list[float]] = field(default_factory=dict)
    event_counts: Counter[str] = field(default_factory=Counter)
    keep_http: int = 0

    @property
    def messages(self) -> int:
        return self.kinds["ws_msg"]


def scan(path: str | os.PathLike[str], keep_http: int = 0) -> Scan:
    """Read ``path`` once; keep at most ``keep_http`` interactions (the rest are only counted)."""
    result = Scan(Path(path), read_header(path), keep_http=keep_http)
    for record in iter_records(path):
        if isinstance(record, HttpInteraction):
            result.kinds["http"] += 1
            if len(result.http) < keep_http:
                result.http.append(record)
        elif isinstance(record, WsConnection):
            result.kinds["ws"] += 1
            result.connections[record.id] = ConnectionStats(record)
        elif isinstance(record, WsMessage):
            result.kinds["ws_msg"] += 1
            stats = result.connections.get(record.conn)
            if stats is not None:
                n = len(record.content)
                if record.dir == "send":
                    stats.sent += 1
                    stats.bytes_sent += n
                else:
                    stats.received += 1
                    stats.bytes_received += n
                stats.last_t = max(stats.last_t, record.t)
        elif isinstance(record, WsClose):
            result.kinds["ws_close"] += 1
            if record.conn in result.connections:
                result.connections[record.conn].close = record
        elif isinstance(record, Event):
            result.kinds["event"] += 1
            result.event_counts[record.name] += 1
            times = result.events.setdefault(record.name, [record.t, record.t])
            times[0] = min(times[0], record.t)
            times[1] = max(times[1], record.t)
    return result


def describe_close(close: WsClose | None) -> str:
    """``1000 "bye" by client at +2.400s``, or ``open`` when the cassette has no close."""
    if close is None:
        return "open (no close recorded)"
    code = "no code" if close.code is None else str(close.code)
    reason = f' "{close.reason}"' if close.reason else ""
    return f"{code}{reason} by {close.by} at {ms(close.t)}"
