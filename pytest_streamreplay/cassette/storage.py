"""Reading and writing cassette files: streaming reads, atomic writes.

A cassette is JSON Lines: a header line, then one record per line. Reading never holds more
than one line; writing goes to a temporary file beside the target and is renamed over it only
when complete, so an interrupted run never leaves a half-written cassette.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from .records import FORMAT, FORMAT_VERSION, HEADER_KEYS, Header, Record, record_from_json

__all__ = [
    "CASSETTE_SUFFIX",
    "CassetteError",
    "CassetteWriteError",
    "CassetteWriter",
    "iter_numbered_records",
    "iter_records",
    "new_header",
    "read_cassette",
    "read_header",
    "write_atomically",
    "write_cassette",
]

CASSETTE_SUFFIX = ".jsonl"


class CassetteError(Exception):
    """A cassette that cannot be read (or written): names the file, the line and what to do."""

    def __init__(self, path: str | os.PathLike[str], line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


def new_header(test: str | None = None, note: str | None = None, **extra: Any) -> Header:
    """A header for a cassette written now; ``extra`` keys are kept as given (JSON values)."""
    from .. import __version__

    clash = sorted(HEADER_KEYS.intersection(extra))
    if clash:
        raise ValueError(f"cassette header keys {clash} are reserved; choose other names")
    try:
        json.dumps(extra)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cassette header values must be JSON: {exc}") from None

    return Header(
        recorded_by=f"pytest-streamreplay {__version__}",
        recorded_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
        test=test,
        note=note,
        extra=extra,
    )


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# orjson turns integers beyond 64 bits into floats where ``json`` keeps them exact, so a line
# with a run of 19+ digits (all such integers have one) goes to ``json`` instead. Digits map to
# b"0", everything else to b" ".
_DIGITS = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))
_LONG_DIGITS = b"0" * 19
# Lines longer than this (a big body) are translated a slice at a time: a copy of the whole
# would double a 20 MB line's memory for a moment.
_HUGE = 4 * 1024 * 1024
_SLICE = 1 << 20


def _has_long_digits(raw: bytes | bytearray) -> bool:
    if len(raw) <= _HUGE:
        return _LONG_DIGITS in raw.translate(_DIGITS)
    overlap = len(_LONG_DIGITS) - 1  # a run across two slices is in the overlap
    return any(
        _LONG_DIGITS in raw[i : i + _SLICE + overlap].translate(_DIGITS)
        for i in range(0, len(raw), _SLICE)
    )


def _parse_line(path: Path, lineno: int, raw: bytes | bytearray) -> dict[str, Any]:
    """Parse one line (with its line end): orjson when it agrees with ``json``, else ``json``.

    Lines orjson rejects (NaN, Infinity, lone surrogate escapes, corrupt JSON) go through
    ``json.loads`` as before, so acceptance and error messages are unchanged.
    """
    if not raw.endswith(b"\n"):
        _decode(path, raw)
        raise CassetteError(
            path, lineno, "truncated: the last line has no line end; re-record this cassette"
        )
    obj: Any = None
    if not _has_long_digits(raw):
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            obj = None
    if obj is None:
        try:
            obj = json.loads(_decode(path, raw))
        except json.JSONDecodeError as exc:
            raise CassetteError(
                path, lineno, f"not valid JSON ({exc.msg} at column {exc.colno}); fix or re-record"
            ) from None
    if not isinstance(obj, dict):
        raise CassetteError(path, lineno, "a record must be a JSON object")
    return obj


def _decode(path: Path, raw: bytes | bytearray) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CassetteError(path, None, f"not UTF-8 text ({exc.reason})") from None


def _check_header(path: Path, obj: dict[str, Any]) -> Header:
    if obj.get("kind") != "header" or obj.get("format") != FORMAT:
        raise CassetteError(path, 1, f"not a {FORMAT} file (the first line is not its header)")
    version = obj.get("version")
    if not isinstance(version, int):
        raise CassetteError(path, 1, f"header has no integer version: {version!r}")
    if version > FORMAT_VERSION:
        raise CassetteError(
            path,
            1,
            f"format version {version} is newer than this pytest-streamreplay reads "
            f"({FORMAT_VERSION}); upgrade pytest-streamreplay",
        )
    return Header.from_json(obj)


def _open(path: Path) -> io.BufferedReader:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise CassetteError(path, None, "no such cassette") from None


def _read_header_line(path: Path, fh: IO[bytes]) -> Header:
    """Read and check line 1 of an open cassette."""
    first = fh.readline()
    if not first:
        raise CassetteError(path, None, "empty file: no header line")
    return _check_header(path, _parse_line(path, 1, first))


def read_header(path: str | os.PathLike[str]) -> Header:
    p = Path(path)
    with _open(p) as fh:
        return _read_header_line(p, fh)


#: Bytes read at a time by ``_iter_objects``: big enough to amortise the per-read and
#: 19-digit checks, small enough that the buffer stays a fraction of a megabyte.
_CHUNK = 1 << 18


def _iter_objects(p: Path) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """Yield (line number, byte offset of the line, parsed object) for the lines after the
    (checked) header.

    The shared read path of ``iter_records``, ``cassette_stream`` and the replay index: every
    line passes the checks of ``_parse_line``; building records from the objects is the
    caller's job. The file is read in chunks of whole lines (``_CHUNK`` bytes): one 19-digit
    check per chunk, and a chunk with such a run (or any line orjson rejects) takes the full
    per-line path. A line longer than a chunk (a big body) is found first and then read once
    into a buffer of its exact size, so it costs its own size in memory, not a multiple.
    """
    with _open(p) as fh:
        _read_header_line(p, fh)
        offset = fh.tell()
        loads = orjson.loads
        decode_error = orjson.JSONDecodeError
        digits = _DIGITS
        long_digits = _LONG_DIGITS
        lineno = 1
        partial = b""  # the start of a line the next chunk continues (shorter than a chunk)
        while block := fh.read(_CHUNK):
            end = block.rfind(b"\n") + 1
            if not end:
                lineno += 1
                whole = _long_line(fh, offset, len(partial) + len(block))
                partial = block = b""
                parsed = _parse_line(p, lineno, whole)
                at, offset = offset, offset + len(whole)
                del whole  # not held while the caller works on the object
                yield lineno, at, parsed
                del parsed
                continue
            data = partial + block[:end] if partial else block[:end]
            partial = block[end:]
            careful = long_digits in data.translate(digits)
            lines = data.split(b"\n")
            lines.pop()  # the empty string after the last line end
            del data
            for raw in lines:
                lineno += 1
                at = offset
                offset += len(raw) + 1
                if not careful:
                    try:
                        obj = loads(raw)
                    except decode_error:
                        obj = None
                    if type(obj) is dict:
                        yield lineno, at, obj
                        continue
                yield lineno, at, _parse_line(p, lineno, raw + b"\n")
        if partial:  # a last line without a line end: _parse_line reports it truncated
            _parse_line(p, lineno + 1, partial)


def _long_line(fh: io.BufferedReader, start: int, scanned: int) -> bytearray:
    """The line at ``start`` (with its line end, or up to the end of a truncated file), of
    which ``scanned`` bytes are known to hold no line end; leaves ``fh`` just after it."""
    while block := fh.read(_CHUNK):
        found = block.find(b"\n")
        if found >= 0:
            scanned += found + 1
            break
        scanned += len(block)
    fh.seek(start)
    return _read_exactly(fh, scanned)


def _read_exactly(fh: io.BufferedIOBase, size: int) -> bytearray:
    """``size`` bytes from ``fh`` into one buffer of that size (fewer at the end of the file):
    a long line costs its own size once, not a list of blocks and their join."""
    raw = bytearray(size)
    view = memoryview(raw)
    got = 0
    while got < size and (n := fh.readinto(view[got:])):
        got += n
    view.release()
    return raw if got == size else raw[:got]


def _bad_record(path: Path, lineno: int, exc: Exception) -> CassetteError:
    """The error for a line that parsed but is not a valid record (see ``record_from_json``)."""
    detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
    return CassetteError(path, lineno, f"bad record: {detail}")


def iter_records(path: str | os.PathLike[str]) -> Iterator[Record]:
    """Yield the records after the header, one line at a time."""
    for _, record in iter_numbered_records(path):
        yield record


def iter_numbered_records(path: str | os.PathLike[str]) -> Iterator[tuple[int, Record]]:
    """``(line number, record)`` for the records after the header (reports name the line)."""
    p = Path(path)
    for lineno, _, obj in _iter_objects(p):
        try:
            yield lineno, record_from_json(obj)
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad_record(p, lineno, exc) from None


def read_cassette(path: str | os.PathLike[str]) -> tuple[Header, list[Record]]:
    return read_header(path), list(iter_records(path))


class CassetteWriteError(CassetteError):
    """A cassette that could not be written (disk full, file too large, no permission): the
    temporary file is gone and the old cassette, if any, is untouched."""

    def __init__(self, path: str | os.PathLike[str], exc: OSError, what: str = "cassette") -> None:
        self.reason = exc.strerror or str(exc)
        self.kept = f"the old {what} is kept" if os.path.exists(path) else f"no {what} was created"
        super().__init__(path, None, f"not written: {self.reason}; {self.kept}")


def _temp_beside(path: Path) -> tuple[int, str]:
    """A temporary file in ``path``'s folder (created if missing), to be renamed over it. Its
    name is the target's plus ~14 bytes: a target near the 255-byte limit of a file name
    (pytest-recording's long names) gets a short one instead."""
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name
    prefix = f".{name}." if len(name.encode()) <= 200 else ".cassette."
    return tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)


def write_atomically(
    path: str | os.PathLike[str], write: Callable[[IO[bytes]], object], what: str
) -> None:
    """Have ``write`` fill a temporary file beside ``path``, then rename it over ``path``: a
    reader never sees half a file, and a failure (disk full) removes the temporary file, keeps
    the old file and raises ``CassetteWriteError`` naming ``path`` (``what`` it is, in words).
    For files next to cassettes: proofs, flow exports."""
    target = Path(path)
    try:
        fd, tmp = _temp_beside(target)
    except OSError as exc:
        raise CassetteWriteError(target, exc, what) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):  # disk full, file too large: say which file, once
            raise CassetteWriteError(target, exc, what) from exc
        raise


class CassetteWriter:
    """Write records to a temporary file; ``close()`` renames it over ``path``.

    Leaving the ``with`` block through an exception discards the temporary file, so the old
    cassette (or none) stays in place. Any ``OSError`` on the way (a full disk shows up at
    ``write``, ``flush`` or ``close``) discards it too and raises ``CassetteWriteError``.
    """

    def __init__(self, path: str | os.PathLike[str], header: Header) -> None:
        self.path = Path(path)
        self._fh: IO[str] | None = None
        self._tmp: Path | None = None
        try:
            fd, tmp = _temp_beside(self.path)
            self._tmp = Path(tmp)
            self._fh = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
            self._fh.write(_dumps(header.to_json()) + "\n")
        except OSError as exc:
            raise self._failed(exc) from exc

    def write(self, record: Record | dict[str, Any]) -> None:
        if self._fh is None:
            raise CassetteError(self.path, None, "writer is closed")
        obj = record if isinstance(record, dict) else record.to_json()
        try:
            self._fh.write(_dumps(obj) + "\n")
        except OSError as exc:
            raise self._failed(exc) from exc

    def close(self) -> None:
        if self._fh is None:
            return
        fh, self._fh = self._fh, None
        assert self._tmp is not None
        try:
            try:
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fh.close()  # closes the descriptor even when its last flush fails
            os.chmod(self._tmp, 0o644)
            os.replace(self._tmp, self.path)
        except OSError as exc:
            raise self._failed(exc) from exc

    def abort(self) -> None:
        """Drop the temporary file; never raises for a write that already failed."""
        fh, self._fh = self._fh, None
        try:
            if fh is not None:
                fh.close()
        except OSError:
            pass  # the buffered tail could not be written: it is being thrown away anyway
        finally:
            if self._tmp is not None:
                self._tmp.unlink(missing_ok=True)

    def _failed(self, exc: OSError) -> CassetteWriteError:
        self.abort()
        return CassetteWriteError(self.path, exc)

    def __enter__(self) -> CassetteWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_cassette(
    path: str | os.PathLike[str], header: Header, records: Iterable[Record | dict[str, Any]]
) -> Path:
    with CassetteWriter(path, header) as writer:
        for record in records:
            writer.write(record)
    return Path(path)
