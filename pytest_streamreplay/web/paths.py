"""Confine every file the dashboard touches to one cassette directory.

Names come from URLs, so each is resolved (symlinks followed) and checked to lie inside the
root before anything is opened: ``../``, absolute paths, ``%2e%2e`` (already decoded by the
router) and symlinks pointing out of the directory are all refused the same way.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ..cassette import CASSETTE_SUFFIX

__all__ = ["CassetteRoot", "PathRefused"]


class PathRefused(Exception):
    """A name that is not a cassette inside the root; ``status`` is the HTTP status to send."""

    def __init__(self, name: str, reason: str, status: int = 404) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason
        self.status = status


class CassetteRoot:
    """The directory served; turns relative names into checked absolute paths and back."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def _check_name(self, name: str) -> PurePosixPath:
        if not name or "\x00" in name or "\\" in name:
            raise PathRefused(name, "not a cassette name", 400)
        pure = PurePosixPath(name)
        if pure.is_absolute() or any(part in ("..", ".") for part in pure.parts):
            raise PathRefused(name, "outside the cassette directory", 400)
        if pure.suffix != CASSETTE_SUFFIX:
            raise PathRefused(name, f"not a cassette (names end in {CASSETTE_SUFFIX})", 400)
        return pure

    def _inside(self, name: str, path: Path) -> Path:
        resolved = path.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise PathRefused(name, "outside the cassette directory", 400)
        return resolved

    def existing(self, name: str) -> Path:
        """The cassette ``name`` (relative, POSIX), which must exist inside the root."""
        pure = self._check_name(name)
        resolved = self._inside(name, self.root.joinpath(*pure.parts))
        if not resolved.is_file():
            raise PathRefused(name, "no such cassette", 404)
        return resolved

    def new(self, name: str) -> Path:
        """Where a new cassette ``name`` would go; its directory must resolve inside the root."""
        pure = self._check_name(name)
        target = self.root.joinpath(*pure.parts)
        parent = self._inside(name, target.parent)
        if target.is_symlink():
            raise PathRefused(name, "refusing to write through a symlink", 400)
        return parent / target.name

    def name_of(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()

    def cassettes(self) -> list[Path]:
        """Every ``*.jsonl`` under the root that resolves inside it, sorted by name."""
        found: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if not filename.endswith(CASSETTE_SUFFIX) or filename.startswith("."):
                    continue
                path = Path(dirpath, filename)
                resolved = path.resolve()
                if self.root in resolved.parents and resolved.is_file():
                    found.append(path)
        return found
