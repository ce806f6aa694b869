"""Reading and writing cassette files: streaming reads, atomic writes.

A cassette is JSON Lines: a header line, then one record per line. Reading never holds more
than one line; writing goes to a temporary file beside the target and is renamed over it only
when complete, so an interrupted run never leaves a half-written cassette.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from .records import FORMAT, FORMAT_VERSION, Header, Record, record_from_json

__all__ = [
    "CASSETTE_SUFFIX",
    "CassetteError",
    "CassetteWriter",
    "iter_records",
    "new_header",
    "read_cassette",
    "read_header",
    "write_cassette",
]

CASSETTE_SUFFIX = ".jsonl"


class CassetteError(Exception):
    """A cassette that cannot be read: names the file, the line and what to do."""

    def __init__(self, path: str | os.PathLike[str], line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


def new_header(test: str | None = None, note: str | None = None, **extra: Any) -> Header:
    from .. import __version__

    return Header(
        recorded_by=f"pytest-streamreplay {__version__}",
        recorded_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
        test=test,
        note=note,
        extra=extra,
    )


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _parse_line(path: Path, lineno: int, raw: str) -> dict[str, Any]:
    if not raw.endswith("\n"):
        raise CassetteError(
            path, lineno, "truncated: the last line has no line end; re-record this cassette"
        )
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CassetteError(
            path, lineno, f"not valid JSON ({exc.msg} at column {exc.colno}); fix or re-record"
        ) from None
    if not isinstance(obj, dict):
        raise CassetteError(path, lineno, "a record must be a JSON object")
    return obj


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


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        fh: IO[str] = open(path, encoding="utf-8", newline="\n")  # noqa: SIM115
    except FileNotFoundError:
        raise CassetteError(path, None, "no such cassette") from None
    with fh:
        try:
            yield from enumerate(fh, start=1)
        except UnicodeDecodeError as exc:
            raise CassetteError(path, None, f"not UTF-8 text ({exc.reason})") from None


def read_header(path: str | os.PathLike[str]) -> Header:
    p = Path(path)
    for lineno, raw in _lines(p):
        return _check_header(p, _parse_line(p, lineno, raw))
    raise CassetteError(p, None, "empty file: no header line")


def iter_records(path: str | os.PathLike[str]) -> Iterator[Record]:
    """Yield the records after the header, one line at a time."""
    p = Path(path)
    seen_header = False
    for lineno, raw in _lines(p):
        obj = _parse_line(p, lineno, raw)
        if not seen_header:
            _check_header(p, obj)
            seen_header = True
            continue
        try:
            yield record_from_json(obj)
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise CassetteError(p, lineno, f"bad record: {detail}") from None
    if not seen_header:
        raise CassetteError(p, None, "empty file: no header line")


def read_cassette(path: str | os.PathLike[str]) -> tuple[Header, list[Record]]:
    return read_header(path), list(iter_records(path))


class CassetteWriter:
    """Write records to a temporary file; ``close()`` renames it over ``path``.

    Leaving the ``with`` block through an exception discards the temporary file, so the old
    cassette (or none) stays in place.
    """

    def __init__(self, path: str | os.PathLike[str], header: Header) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        self._tmp = Path(tmp)
        self._fh: IO[str] | None = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        self._fh.write(_dumps(header.to_json()) + "\n")

    def write(self, record: Record | dict[str, Any]) -> None:
        assert self._fh is not None, "writer is closed"
        obj = record if isinstance(record, dict) else record.to_json()
        self._fh.write(_dumps(obj) + "\n")

    def close(self) -> None:
        if self._fh is None:
            return
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._fh = None
        os.chmod(self._tmp, 0o644)
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._tmp.unlink(missing_ok=True)

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
