"""Hooks users implement in conftest.py to customise redaction, matching and cassette paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pluggy

__all__ = [
    "pytest_streamreplay_cassette_path",
    "pytest_streamreplay_matchers",
    "pytest_streamreplay_redact",
]

hookspec = pluggy.HookspecMarker("pytest")


@hookspec
def pytest_streamreplay_redact(record: Any, test_id: str) -> bool | None:
    """Redact a freshly recorded record in place, after the built-in rules ran.

    ``record`` is an ``HttpInteraction``, ``WsConnection``, ``WsMessage``, ``WsClose`` or
    ``Event`` from ``pytest_streamreplay.cassette``. Return False to leave it out of the
    cassette (what vcrpy's ``before_record_*`` returning None does).
    """


@hookspec
def pytest_streamreplay_matchers() -> dict[str, Any]:
    """Return named request matchers usable in ``match_on``.

    A matcher is ``fn(live: HttpRequest, recorded: HttpRequest) -> str | None``: None when the
    requests agree, else a short description of the difference.
    """
    return {}


@hookspec(firstresult=True)
def pytest_streamreplay_cassette_path(item: Any, cassette_dir: Path) -> Path | None:
    """Return the cassette path for a test item, or None for the default."""
