"""Stream tools: cassettes as Observables, collectors, marbles, step verification, parity."""

from __future__ import annotations

__all__: list[str] = []
