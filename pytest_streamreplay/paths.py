"""Default cassette paths: ``<dir>/<test file without .py>/<[Class.]test name>.jsonl``."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .cassette.storage import CASSETTE_SUFFIX

__all__ = ["cassette_path_for", "safe_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._\[\]=+-]")
_MAX_NAME = 120


def safe_name(name: str) -> str:
    """Replace characters unsafe in file names; shorten very long names with a hash."""
    safe = _UNSAFE.sub("_", name)
    if len(safe) > _MAX_NAME:
        digest = hashlib.sha1(name.encode()).hexdigest()[:10]
        safe = f"{safe[: _MAX_NAME - 11]}-{digest}"
    return safe


def cassette_path_for(
    test_file: Path,
    rootdir: Path,
    cassette_dir: Path,
    test_name: str,
    class_name: str | None,
    explicit: str | None = None,
) -> Path:
    try:
        rel = test_file.resolve().relative_to(rootdir.resolve())
    except ValueError:
        rel = Path(test_file.name)
    folder = cassette_dir / rel.with_suffix("")
    if explicit:
        path = Path(explicit)
        if not path.is_absolute():
            path = folder / path
        return path if path.suffix else path.with_suffix(CASSETTE_SUFFIX)
    name = f"{class_name}.{test_name}" if class_name else test_name
    return folder / f"{safe_name(name)}{CASSETTE_SUFFIX}"
