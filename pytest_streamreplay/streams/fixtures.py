"""pytest fixtures of the stream tools; plugin.py re-exports everything in ``__all__``."""

from __future__ import annotations

__all__: list[str] = []
