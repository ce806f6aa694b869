"""Saving into a cassette that other tests may be saving into at the same moment.

Tests that share a cassette run in one process, in several xdist workers or in several pytest
processes. Each one saves under a lock beside the cassette: it reads what is there now, adds
its own records (renumbered so ids stay unique, WebSocket messages following their connection)
and renames a complete temporary file over the cassette. Nothing another test saved is lost,
and a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from .records import Header, HttpInteraction, Record, WsClose, WsConnection, WsMessage
from .storage import CassetteError, CassetteWriteError, CassetteWriter, iter_records, read_header

__all__ = ["CassetteLockTimeoutError", "Merged", "cassette_lock", "save_merged"]

#: How long a save waits for another one to finish; saves hold the lock for one file write.
LOCK_TIMEOUT = 120.0


class CassetteLockTimeoutError(CassetteError):
    """Another process held the cassette's lock for longer than ``LOCK_TIMEOUT``."""


def lock_path(path: Path) -> Path:
    """``.<name>.lock`` beside the cassette: hidden, and gone when no save is running. A name
    near the 255-byte limit (pytest-recording's long names) gets a short one from its hash."""
    name = path.name
    if len(name.encode()) > 200:
        name = "cassette-" + hashlib.sha1(name.encode()).hexdigest()[:16]
    return path.parent / f".{name}.lock"


@contextlib.contextmanager
def cassette_lock(path: str | os.PathLike[str], timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the cassette's lock (across threads, processes and xdist workers) for the block.

    POSIX: ``flock`` on the lock file, which the holder deletes before letting go; a process
    that locked a file meanwhile deleted sees it is no longer at the path and tries again, so
    the file does not outlive the save. A process killed mid-save leaves a file nobody holds
    (the kernel drops the lock): the next save takes it and removes it. Windows:
    ``msvcrt.locking`` on a lock file that stays. Elsewhere: no lock (saves still rename a
    complete file, but two at once may lose one's records).
    """
    target = lock_path(Path(path))
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # no folder, no permission, no inode left: nothing written
            raise CassetteWriteError(path, exc) from exc
        try:
            if _try_lock(fd):
                if _still_there(fd, target):
                    break
                _unlock(fd)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        if time.monotonic() > deadline:
            raise CassetteLockTimeoutError(
                path,
                None,
                f"waited {timeout:.0f} s for {target} (another test saving this cassette); "
                "if no pytest is running, delete that file",
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
    try:
        yield
    finally:
        try:
            if sys.platform != "win32":
                target.unlink(missing_ok=True)  # while still holding it: see the docstring
            _unlock(fd)
        finally:
            os.close(fd)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

    def _still_there(fd: int, target: Path) -> bool:
        return True

else:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - a platform with neither
        fcntl = None  # type: ignore[assignment]

    def _try_lock(fd: int) -> bool:
        if fcntl is None:  # pragma: no cover
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _still_there(fd: int, target: Path) -> bool:
        try:
            on_disk = os.stat(target)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)


@dataclasses.dataclass(frozen=True)
class Merged:
    """What ``save_merged`` did: the records it added (ids as written) and the cassette's HTTP
    interactions after it (the earlier tests' included)."""

    added: list[Record]
    http_total: int


def _same_run(path: Path, header: Header) -> bool:
    """Whether the cassette on disk was last written by the pytest run writing ``header``."""
    if header.pytest_session is None:
        return False
    try:
        return read_header(path).pytest_session == header.pytest_session
    except CassetteError:
        return False  # unreadable: a fresh start replaces it


def save_merged(
    path: str | os.PathLike[str],
    header: Header,
    records: Sequence[Record],
    *,
    fresh: bool = False,
    scrub: Callable[[list[Record]], None] | None = None,
) -> Merged:
    """Add ``records`` to the cassette at ``path`` under its lock; returns them as written
    (renumbered copies) and how many HTTP interactions the cassette now holds. ``scrub`` sees
    each record already in the cassette before it is written back (the session removes
    secrets it learned late from them too).

    With ``fresh`` (record modes ``all`` and ``rewrite``) the cassette is replaced, unless the
    same pytest run (``header.pytest_session``) already wrote it: then the earlier tests' records
    stay. Raises ``CassetteError`` for a cassette that cannot be read back (nothing is written)
    and ``CassetteWriteError`` when writing fails (the old cassette stays).
    """
    target = Path(path)
    with cassette_lock(target):
        keep = target.exists() and (not fresh or _same_run(target, header))
        if keep:
            old = read_header(target)
            header = dataclasses.replace(
                old,
                recorded_by=header.recorded_by,
                recorded_at=header.recorded_at,
                note=header.note if header.note is not None else old.note,
                extra={**old.extra, **header.extra},
                pytest_session=header.pytest_session,
            )
        http = 0
        with CassetteWriter(target, header) as writer:
            next_id = 0
            if keep:
                for record in iter_records(target):
                    if scrub is not None:
                        scrub([record])
                    writer.write(record)
                    if isinstance(record, HttpInteraction | WsConnection):
                        next_id = max(next_id, record.id + 1)
                        http += isinstance(record, HttpInteraction)
            added = renumber(records, next_id)
            for record in added:
                writer.write(record)
    return Merged(added, http + sum(isinstance(r, HttpInteraction) for r in added))


def renumber(records: Sequence[Record], start: int) -> list[Record]:
    """Copies of ``records`` with ids from ``start`` on (in order), messages and closes
    following their connection's new id."""
    ids: dict[int, int] = {}
    out: list[Record] = []
    for record in records:
        if isinstance(record, HttpInteraction | WsConnection):
            ids[record.id] = start + len(ids)
            out.append(dataclasses.replace(record, id=ids[record.id]))
        elif isinstance(record, WsMessage | WsClose):
            out.append(dataclasses.replace(record, conn=ids.get(record.conn, record.conn)))
        else:
            out.append(record)
    return out
