"""What the repository tracks: nothing a local setup makes.

A fresh clone runs ``make demo`` / ``make test``, which create ``.venv``; a tracked ``.venv``
(a symlink to one checkout's environment was committed once: on a clone it pointed at itself,
and ``make`` stopped at "Too many levels of symbolic links") breaks that for everyone.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

LOCAL_ONLY = (".venv", ".tox", ".mypy_cache", ".ruff_cache", ".pytest_cache")


def _tracked() -> list[str]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return [p for p in out.stdout.decode().split("\0") if p]


def test_no_local_environment_is_tracked() -> None:
    tracked = _tracked()
    assert tracked
    local = [p for p in tracked if p.split("/")[0] in LOCAL_ONLY]
    assert not local, f"tracked but made by a local setup (git rm --cached them): {local}"


def test_gitignore_covers_them_as_files_and_links_too() -> None:
    """``.venv/`` (with the slash) ignores a directory only: a ``.venv`` symlink got through."""
    patterns = {line.strip() for line in (REPO / ".gitignore").read_text().splitlines()}
    for name in LOCAL_ONLY:
        assert name in patterns or f"/{name}" in patterns, name
