"""What happened to each cassette in a run, and the end-of-session summary (rich)."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["NO_TRAFFIC", "NO_TRAFFIC_CLIENTS", "CassetteOutcome", "render_summary"]

NO_TRAFFIC = "no traffic reached the proxy: a client may ignore proxy settings"
#: Clients measured to ignore the proxy variables the plugin sets (docs/configuration.md).
NO_TRAFFIC_CLIENTS = (
    "aiohttp ClientSession(trust_env=False), Node's fetch and http before Node 24 (Node 20 "
    "ignores NODE_USE_ENV_PROXY), the npm ws package, any client given proxy=None or "
    "trust_env=False"
)
_LISTED = 10


@dataclass
class CassetteOutcome:
    """One test's use of its cassette; plain data so xdist workers can send it home."""

    test: str
    path: str
    # recorded | replayed | kept (recording discarded) | missing (requests refused) |
    # absent (no cassette and no requests: nothing to replay) | error
    action: str
    interactions: int = 0
    unmatched: int = 0
    unused: int = 0
    reached_proxy: bool = True  # False: the test ran bound and no client connection arrived

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> CassetteOutcome:
        return cls(**obj)


_ACTION_STYLE = {
    "recorded": "cyan",
    "replayed": "green",
    "kept": "yellow",
    "missing": "red",
    "absent": "dim",
    "error": "red",
}


def render_summary(
    outcomes: list[CassetteOutcome], *, verbose: bool, color: bool, width: int = 100
) -> str:
    """One line of totals; with ``verbose``, one line per test (never wrapped, so it greps)."""
    from rich.console import Console

    counts = Counter(o.action for o in outcomes)
    unmatched = sum(o.unmatched for o in outcomes)
    unused = sum(o.unused for o in outcomes)
    buf = io.StringIO()
    console = Console(
        file=buf,
        force_terminal=color,
        color_system="standard" if color else None,
        width=width,
        highlight=False,
    )
    parts = [f"{counts.get('recorded', 0)} recorded", f"{counts.get('replayed', 0)} replayed"]
    if counts.get("kept"):
        parts.append(f"{counts['kept']} not saved (test failed)")
    for action in ("missing", "error"):
        if counts.get(action):
            parts.append(f"{counts[action]} {action}")
    if counts.get("absent"):
        parts.append(f"{counts['absent']} without a cassette (made no requests)")
    parts += [f"{unmatched} unmatched requests", f"{unused} unused interactions"]
    bad = unmatched or counts.get("missing") or counts.get("error")
    style = "red" if bad else ("yellow" if unused else "green")
    console.print(f"[{style}]cassettes: " + ", ".join(parts) + f"[/{style}]", soft_wrap=True)
    silent = sorted((o for o in outcomes if not o.reached_proxy), key=lambda o: o.test)
    if silent:
        console.print(
            f"[yellow]{len(silent)} test(s): {NO_TRAFFIC} (known: {NO_TRAFFIC_CLIENTS})[/yellow]",
            soft_wrap=True,
        )
        for o in silent[:_LISTED]:
            console.print(f"  {o.test} -> {o.path or '-'} ({o.action})", soft_wrap=True)
        if len(silent) > _LISTED:
            console.print(f"  ... and {len(silent) - _LISTED} more (-v lists every test)")
    if verbose:
        for o in sorted(outcomes, key=lambda o: o.test):
            extra = f" ({o.interactions} http"
            extra += f", {o.unmatched} unmatched" if o.unmatched else ""
            extra += f", {o.unused} unused" if o.unused else ""
            extra += ", no traffic" if not o.reached_proxy else ""
            style = _ACTION_STYLE.get(o.action, "")
            console.print(
                f"  [{style}]{o.action:<8}[/{style}] {o.test} -> {o.path or '-'}{extra})",
                soft_wrap=True,
            )
    return buf.getvalue()
