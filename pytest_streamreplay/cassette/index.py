"""An index of a cassette for replay: where each record is, not what it holds.

Replaying one request from a 200 MB cassette must not cost 200 MB. One streaming pass checks
every line (a bad body is refused with its line here, before anything is replayed) and keeps,
per HTTP interaction, its id, line, byte offset, method and URL (what the default matchers
compare); per WebSocket connection its opening and close and the offsets of its messages.
Full requests and messages are kept while they fit a small budget (so a small cassette plays
as fast as before) and read back from the file beyond it; responses are always read back, by
offset, when they are played.

The file stays open while the index is in use, so a cassette rewritten on disk meanwhile
(renamed over, as ``CassetteWriter`` does) cannot shift the offsets under a replay. After
``close()`` a read reopens the file and refuses it if it changed since it was indexed.
"""

from __future__ import annotations

import io
import os
import threading
import weakref
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from .body import check_body
from .records import (
    DIRECTIONS,
    Header,
    HttpInteraction,
    HttpRequest,
    Record,
    WsClose,
    WsConnection,
    WsMessage,
    _one_of,
    record_from_json,
)
from .storage import (
    CassetteError,
    _bad_record,
    _iter_objects,
    _open,
    _parse_line,
    _read_exactly,
    _read_header_line,
)

__all__ = ["CassetteIndex", "IndexedHttp", "IndexedWs", "MessageSequence"]

#: Requests whose line is at most this long are kept whole in memory, and messages, up to
#: ``_KEEP_BUDGET`` bytes of such lines in all: a small cassette matches and plays without
#: reading the file again.
_KEEP_LINE = 64 * 1024
_KEEP_BUDGET = 8 * 1024 * 1024
_ATTEMPTS = 5  # reads of a cassette renamed over meanwhile before giving up


@dataclass(slots=True)
class IndexedHttp:
    """One HTTP interaction: enough to match on method and URL, and to find the rest."""

    id: int
    line: int
    offset: int
    method: str
    url: str
    request: HttpRequest | None  # None: not kept, read back from the file when needed
    size: int = 0  # bytes of the line, line end included

    def summary(self) -> HttpRequest:
        """The request without headers or body (what URL and method matchers look at)."""
        return HttpRequest(self.method, self.url)


@dataclass(slots=True)
class IndexedWs:
    """One WebSocket connection: its opening and close, and where its messages are."""

    conn: WsConnection
    line: int
    offsets: array[int] = field(default_factory=lambda: array("q"))
    lines: array[int] = field(default_factory=lambda: array("q"))
    close: WsClose | None = None
    #: The first messages, while they fit the index's budget (a small cassette: all of them).
    kept: list[WsMessage] = field(default_factory=list)


class CassetteIndex:
    """Index ``path`` in one checked pass; read records back by offset on demand."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.http: list[IndexedHttp] = []
        self.ws: list[IndexedWs] = []
        self.max_id = -1
        self._lock = threading.Lock()
        # Another process may save the cassette (a shared one) while it is indexed here. Saves
        # rename a whole file over it, so reading again gives a whole cassette: the newer one.
        for _ in range(_ATTEMPTS):
            self._fh: io.BufferedReader | None = _open(self.path)
            self._finalizer = weakref.finalize(self, self._fh.close)
            try:
                st = os.fstat(self._fh.fileno())
                self._identity = _identity(st)
                self._end = st.st_size
                self.header: Header = _read_header_line(self.path, self._fh)
                self.http, self.ws, self.max_id = [], [], -1
                self._build()
            except BaseException:
                self.close()
                raise
            # The pass above read the path afresh: it must have been this very file.
            if _identity(os.stat(self.path)) == self._identity:
                return
            self.close()
        raise CassetteError(
            self.path,
            None,
            f"changed on disk while being read, {_ATTEMPTS} times in a row: "
            "is another process rewriting it in a loop?",
        )

    # -- building ----------------------------------------------------------------------------
    def _build(self) -> None:
        p = self.path
        by_conn: dict[int, IndexedWs] = {}
        kept = 0
        previous = -1  # offset of the line before: its length is the distance to this one
        last: IndexedHttp | None = None
        message_kept = False  # the line before was a message kept in memory
        for lineno, offset, obj in _iter_objects(p):
            if message_kept:
                kept += offset - previous
                message_kept = False
            if last is not None:  # the previous line was an HTTP interaction: keep it?
                last.size = size = offset - previous
                if size <= _KEEP_LINE and kept + size <= _KEEP_BUDGET:
                    kept += size
                else:
                    last.request = None
                last = None
            previous = offset
            try:
                if obj.get("kind") == "ws_msg":  # most lines of a big feed: no record built
                    conn = _check_message(obj)
                    entry = by_conn.get(conn)
                    if entry is not None:
                        if kept < _KEEP_BUDGET and len(entry.kept) == len(entry.offsets):
                            entry.kept.append(WsMessage.from_json(obj))  # a prefix, in order
                            message_kept = True
                        entry.offsets.append(offset)
                        entry.lines.append(lineno)
                    continue
                record = record_from_json(obj)
            except (KeyError, TypeError, ValueError) as exc:
                raise _bad_record(p, lineno, exc) from None
            if isinstance(record, HttpInteraction):
                req = record.request
                last = IndexedHttp(record.id, lineno, offset, req.method, req.url, req)
                self.http.append(last)
                self.max_id = max(self.max_id, record.id)
            elif isinstance(record, WsConnection):
                entry = IndexedWs(record, lineno)
                by_conn[record.id] = entry
                self.ws.append(entry)
                self.max_id = max(self.max_id, record.id)
            elif isinstance(record, WsClose) and record.conn in by_conn:
                by_conn[record.conn].close = record
            del obj, record  # a big body must not stay alive while the next line is read
        if last is not None:
            last.size = self._end - previous
            if kept + last.size > _KEEP_BUDGET or last.size > _KEEP_LINE:
                last.request = None

    # -- reading back --------------------------------------------------------------------------
    def read(self, offset: int, line: int, size: int = 0) -> Record:
        """The record of ``line``, which starts at byte ``offset`` (``size`` bytes long, when
        known: a big line is then read into one buffer of its size)."""
        with self._lock:
            if self._fh is not None:
                raw = _line_at(self._fh, offset, size)
            else:
                with _open(self.path) as fh:
                    if _identity(os.fstat(fh.fileno())) != self._identity:
                        raise CassetteError(
                            self.path, line, "changed on disk while it was being replayed"
                        )
                    raw = _line_at(fh, offset, size)
        try:
            obj = _parse_line(self.path, line, raw)
            del raw
            return record_from_json(obj)
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad_record(self.path, line, exc) from None

    def interaction(self, entry: IndexedHttp) -> HttpInteraction:
        record = self.read(entry.offset, entry.line, entry.size)
        if not isinstance(record, HttpInteraction) or record.id != entry.id:
            raise CassetteError(self.path, entry.line, "changed on disk while being replayed")
        return record

    def request(self, entry: IndexedHttp) -> HttpRequest:
        """The full request (headers, body): kept, or read back."""
        if entry.request is not None:
            return entry.request
        return self.interaction(entry).request

    def messages(self, entry: IndexedWs) -> MessageSequence:
        return MessageSequence(self, entry)

    def records(self) -> Iterator[Record]:
        """Every record, in file order (read afresh)."""
        from .storage import iter_records

        return iter_records(self.path)

    def close(self) -> None:
        """Let the file go; later reads reopen it (and refuse it if it changed)."""
        with self._lock:
            self._fh = None
        self._finalizer()


class MessageSequence(Sequence[WsMessage]):
    """A connection's messages as a sequence, each read from the file when asked for."""

    def __init__(self, index: CassetteIndex, entry: IndexedWs) -> None:
        self._index = index
        self._entry = entry

    def __len__(self) -> int:
        return len(self._entry.offsets)

    @overload
    def __getitem__(self, i: int) -> WsMessage: ...

    @overload
    def __getitem__(self, i: slice) -> list[WsMessage]: ...

    def __getitem__(self, i: int | slice) -> WsMessage | list[WsMessage]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        kept = self._entry.kept
        if -len(self) <= i < 0:
            i += len(self)
        if 0 <= i < len(kept):
            return kept[i]
        offset, line = self._entry.offsets[i], self._entry.lines[i]  # IndexError as a list's
        record = self._index.read(offset, line)
        if not isinstance(record, WsMessage) or record.conn != self._entry.conn.id:
            raise CassetteError(self._index.path, line, "changed on disk while being replayed")
        return record


_BODY_KEYS = ("json", "text", "base64", "layout")


def _check_message(obj: dict[str, Any]) -> int:
    """What ``WsMessage.from_json`` checks, without building the message; its connection."""
    conn = obj["conn"]
    if type(conn) is not int:
        conn = int(conn)
    if obj["dir"] not in DIRECTIONS:
        _one_of(obj, "dir", DIRECTIONS, None)  # raises, naming the allowed values
    if type(obj["t"]) is not float:
        float(obj["t"])
    if "json" not in obj or "text" in obj or "base64" in obj or "layout" in obj:
        check_body({k: obj[k] for k in _BODY_KEYS if k in obj} or None, "message body")
    return conn


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _line_at(fh: io.BufferedReader, offset: int, size: int) -> bytes | bytearray:
    fh.seek(offset)
    if size <= 64 * 1024:
        return fh.readline()
    return _read_exactly(fh, size)
