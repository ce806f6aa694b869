"""What happened to each cassette in a run, and the end-of-session summary (rich)."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["CassetteOutcome", "render_summary"]


@dataclass
class CassetteOutcome:
    """One test's use of its cassette; plain data so xdist workers can send it home."""

    test: str
    path: str
    action: str  # recorded | replayed | kept (recording discarded) | missing | error
    interactions: int = 0
    unmatched: int = 0
    unused: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> CassetteOutcome:
        return cls(**obj)


def render_summary(outcomes: list[CassetteOutcome], *, verbose: bool, color: bool,
                   width: int = 100) -> str:
    """A short table of totals; with ``verbose``, one row per test."""
    from rich.console import Console
    from rich.table import Table

    counts = Counter(o.action for o in outcomes)
    unmatched = sum(o.unmatched for o in outcomes)
    unused = sum(o.unused for o in outcomes)
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=color, color_system="standard" if color else None,
                      width=width, soft_wrap=False)
    parts = [f"{counts.get('recorded', 0)} recorded", f"{counts.get('replayed', 0)} replayed"]
    if counts.get("kept"):
        parts.append(f"{counts['kept']} not saved (test failed)")
    if counts.get("missing"):
        parts.append(f"{counts['missing']} missing")
    parts += [f"{unmatched} unmatched requests", f"{unused} unused interactions"]
    style = "red" if unmatched or counts.get("missing") else ("yellow" if unused else "green")
    console.print(f"[{style}]cassettes: " + ", ".join(parts) + f"[/{style}]", highlight=False)
    if verbose and outcomes:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for col in ("test", "cassette", "action", "http", "unmatched", "unused"):
            table.add_column(col, overflow="fold")
        for o in sorted(outcomes, key=lambda o: o.test):
            table.add_row(o.test, o.path, o.action, str(o.interactions), str(o.unmatched),
                          str(o.unused))
        console.print(table)
    return buf.getvalue()
