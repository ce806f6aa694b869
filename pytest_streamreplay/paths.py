"""Cassette paths: ``<dir>/<test file without .py>/<[Class.]test name>.jsonl`` by default.

Names given in a marker (the ``streamreplay`` marker's ``cassette``, pytest-recording's
``default_cassette``) are data in a test file, not a program's choice: they resolve inside the
cassette directory (the ``vcr_cassette_dir`` for ``vcr`` tests) and always name a ``.jsonl``
file, so ``cassette="../../x.py"`` can neither leave the directory nor create a module.
``use_cassette(path)`` may write anywhere its program says, but always a cassette file.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .cassette.storage import CASSETTE_SUFFIX

__all__ = [
    "ALLOW_OUTSIDE_INI",
    "CassetteNameError",
    "cassette_file_name",
    "cassette_path_for",
    "confined",
    "safe_name",
]

#: The ini key that lets explicit names resolve outside the cassette directory.
ALLOW_OUTSIDE_INI = "streamreplay_allow_cassette_outside"
# Names other tools give their cassettes; the same name with our suffix is the natural mapping.
_FOREIGN_SUFFIXES = (".yaml", ".yml")

_UNSAFE = re.compile(r"[^A-Za-z0-9._\[\]=+-]")
_MAX_NAME = 120


def safe_name(name: str) -> str:
    """Replace characters unsafe in file names; shorten very long names with a hash."""
    safe = _UNSAFE.sub("_", name)
    if len(safe) > _MAX_NAME:
        digest = hashlib.sha1(name.encode()).hexdigest()[:10]
        safe = f"{safe[: _MAX_NAME - 11]}-{digest}"
    return safe


class CassetteNameError(ValueError):
    """An explicit cassette name that cannot be used; the message says what to do."""


def cassette_file_name(path: Path) -> Path:
    """``path`` as a cassette file: ``.jsonl`` kept, ``.yaml``/``.yml`` mapped, else appended.

    Dots inside a name are part of it (``TestPlayer.results`` -> ``TestPlayer.results.jsonl``).
    """
    if path.suffix == CASSETTE_SUFFIX:
        return path
    if path.suffix.lower() in _FOREIGN_SUFFIXES:
        return path.with_suffix(CASSETTE_SUFFIX)
    return path.with_name(path.name + CASSETTE_SUFFIX)


def _explicit_path(explicit: str, folder: Path, cassette_dir: Path, allow_outside: bool) -> Path:
    if "\x00" in explicit or Path(explicit).name in ("", ".", ".."):
        raise CassetteNameError(f"cassette name {explicit!r} does not name a file")
    path = cassette_file_name((folder / explicit).resolve())
    return confined(path, cassette_dir, explicit, allow_outside=allow_outside)


def confined(path: Path, cassette_dir: Path, name: str, *, allow_outside: bool = False) -> Path:
    """``path`` (resolved: symlinks followed) when it is inside ``cassette_dir``; else a
    ``CassetteNameError`` naming the ini opt-in, unless ``allow_outside``."""
    path = path.resolve()
    root = cassette_dir.resolve()
    if not allow_outside and root not in path.parents:
        raise CassetteNameError(
            f"cassette name {name!r} resolves to {path}, outside the cassette directory "
            f"{root}; use a name inside it, or set the ini option {ALLOW_OUTSIDE_INI} = true "
            "to allow paths outside"
        )
    return path


def cassette_path_for(
    test_file: Path,
    rootdir: Path,
    cassette_dir: Path,
    test_name: str,
    class_name: str | None,
    explicit: str | None = None,
    *,
    allow_outside: bool = False,
) -> Path:
    """The cassette of one test; ``explicit`` is the marker's name (relative to the test
    file's folder in ``cassette_dir``), checked as the module docstring says."""
    try:
        rel = test_file.resolve().relative_to(rootdir.resolve())
    except ValueError:
        rel = Path(test_file.name)
    folder = cassette_dir / rel.with_suffix("")
    if explicit is not None:
        return _explicit_path(explicit, folder, cassette_dir, allow_outside)
    name = f"{class_name}.{test_name}" if class_name else test_name
    return folder / f"{safe_name(name)}{CASSETTE_SUFFIX}"
