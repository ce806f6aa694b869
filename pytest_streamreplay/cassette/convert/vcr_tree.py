"""A tree of vcrpy cassettes (pytest-recording's layout) moved to cassettes, in one process.

pytest-recording keeps ``<test dir>/cassettes/<module>/<[Class.]test>.yaml``; a
``vcr_cassette_dir`` override puts them elsewhere, which only running the project's fixtures
could tell. So every vcrpy cassette under the root is found by content (a YAML or JSON file
with an ``interactions`` list), wherever it is, and converted beside itself with ``.jsonl``:
the place this plugin's ``@pytest.mark.vcr`` looks (``vcr_compat.cassette_file``).
Virtual environments, hidden folders and ``node_modules`` are not searched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..records import HttpInteraction, Record
from ..redaction import Redactor, redact_records
from ..storage import CASSETTE_SUFFIX, CassetteWriter, new_header
from ._common import ConvertError, SkipHandler, ignore_skip
from .vcr_import import from_vcr

__all__ = [
    "Migration",
    "find_vcr_cassettes",
    "migrate_cassette",
    "migrated_path",
    "recording_cassette_name",
]

_SUFFIXES = (".yaml", ".yml", ".json")
_MAX_NAME = 255  # bytes in a file name on common file systems
_SKIP_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "venv"})
_SNIFF_BYTES = 4096


def recording_cassette_name(name: str) -> str:
    """The file name pytest-recording gives a cassette named ``name``: ``.yaml`` added when
    missing; past 255 bytes, cut to ``<prefix>...<md5 of the name>.yaml``."""
    if not name.lower().endswith(_SUFFIXES):
        if len(name) + len(".yaml") > _MAX_NAME:
            import hashlib

            digest = hashlib.md5(name.encode()).hexdigest()
            name = f"{name[: _MAX_NAME - len('.yaml') - len(digest) - 3]}...{digest}"
        name += ".yaml"
    return name


def migrated_path(source: Path) -> Path:
    """``x.yaml`` -> ``x.jsonl`` in the same folder (``TestC.test_x.yaml`` keeps its dot).

    ``.jsonl`` is a byte longer than ``.yaml``: a name that would pass 255 bytes loses bytes
    from the end of its prefix (before pytest-recording's ``...<md5>``), never from the hash."""
    lower = source.name.lower()
    stem = next((source.name[: -len(s)] for s in _SUFFIXES if lower.endswith(s)), source.name)
    excess = len((stem + CASSETTE_SUFFIX).encode()) - _MAX_NAME
    if excess > 0:
        cut = stem.rfind("...")
        if cut < excess:
            cut = len(stem)
        prefix = stem[:cut].encode()[:-excess].decode("utf-8", "ignore")
        stem = prefix + stem[cut:]
    return source.with_name(stem + CASSETTE_SUFFIX)


def _is_vcr_cassette(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError:
        return False
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if path.suffix.lower() == ".json":
        return text.startswith(b"{") and b'"interactions"' in head
    # vcrpy's YAML starts with the top-level key; one under another key is not a cassette.
    return text.startswith(b"interactions:") or b"\ninteractions:" in head


def _skipped_dir(path: Path) -> bool:
    name = path.name
    return name.startswith(".") or name in _SKIP_DIRS or (path / "pyvenv.cfg").exists()


def find_vcr_cassettes(root: str | os.PathLike[str]) -> Iterator[Path]:
    """vcrpy cassettes under ``root``, sorted by path within each folder."""
    top = Path(root)
    if top.is_file():
        if top.suffix.lower() in _SUFFIXES and _is_vcr_cassette(top):
            yield top
        return
    for folder, dirs, files in os.walk(top):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not _skipped_dir(here / d))
        for name in sorted(files):
            path = here / name
            if path.suffix.lower() in _SUFFIXES and _is_vcr_cassette(path):
                yield path


@dataclass(frozen=True)
class Migration:
    """One cassette converted: where from, where to, how many interactions, how many of them
    had something redacted."""

    source: Path
    target: Path
    interactions: int
    redacted: int


def migrate_cassette(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str] | None = None,
    *,
    redactor: Redactor | None = None,
    on_skip: SkipHandler = ignore_skip,
) -> Migration:
    """Convert one vcrpy cassette (redacted, written atomically); ``ConvertError`` names a file
    that cannot be read, and then nothing is written."""
    src = Path(source)
    dst = Path(target) if target is not None else migrated_path(src)
    # Everything is read before anything is written: a bad file writes nothing.
    records: list[Record] = list(from_vcr(src, on_skip=on_skip))
    before = [r.to_json() for r in records]
    # The redaction every writer uses (two passes: a secret found late is scrubbed early too).
    records = redact_records(records, redactor)
    redacted = sum(r.to_json() != b for r, b in zip(records, before, strict=True))
    if dst.resolve() == src.resolve():
        raise ConvertError(src, "the cassette would overwrite its source")
    header = new_header(source={"format": "vcr", "file": src.name})
    with CassetteWriter(dst, header) as writer:
        for record in records:
            writer.write(record)
    count = sum(isinstance(r, HttpInteraction) for r in records)
    return Migration(src, dst, count, redacted)
