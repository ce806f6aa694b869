"""What happened to each cassette in a run, and the end-of-session summary (rich)."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "NO_TRAFFIC",
    "NO_TRAFFIC_CLIENTS",
    "CassetteOutcome",
    "SharedVerdict",
    "judge_shared",
    "render_summary",
]

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
    unused: int = 0  # not counted here for a shared cassette: see ``judge_shared``
    #: HTTP interactions and WebSocket connections this test's save put on disk.
    written: int = 0
    #: Tests of the run (as collected) that use this cassette; 2 or more: a shared cassette.
    shared: int = 0
    #: Shared cassettes replayed without recording: the ``#id ...`` lines of the recorded
    #: interactions and WebSocket connections this test did not use; None otherwise.
    unused_http: list[str] | None = None
    unused_ws: list[str] | None = None
    reached_proxy: bool = True  # False: the test ran bound and no client connection arrived
    #: Requests that went live and got no answer from their origin (``METHOD url: why``).
    origin_failures: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> CassetteOutcome:
        return cls(**obj)


@dataclass
class SharedVerdict:
    """What the tests of a run that share a cassette left unused, judged once for the run."""

    path: str
    sharers: int  # tests of the run that use the cassette
    ran: int  # of those, tests that replayed it
    unused_http: list[str] = field(default_factory=list)
    unused_ws: list[str] = field(default_factory=list)

    @property
    def judged(self) -> bool:
        """Only when every test sharing it replayed it: the others might use the rest."""
        return self.ran >= self.sharers

    @property
    def unused(self) -> int:
        return len(self.unused_http) + len(self.unused_ws) if self.judged else 0

    def problems(self, strict: bool) -> list[str]:
        if not self.unused:
            return []
        suffix = " (--replay-strict)" if strict else ""
        where = f"{self.path} (shared by {self.sharers} tests)"
        out = []
        for items, what, verb in (
            (self.unused_http, "interaction(s)", "requested"),
            (self.unused_ws, "WebSocket connection(s)", "opened"),
        ):
            if items:
                out.append(
                    f"{where}: {len(items)} recorded {what} were never {verb}{suffix}:\n"
                    + "\n".join(f"  {line}" for line in items)
                )
        return out


def judge_shared(outcomes: list[CassetteOutcome]) -> list[SharedVerdict]:
    """For each shared cassette replayed in the run: what none of its tests used (what each
    used is known from what it left unused)."""
    verdicts: dict[str, SharedVerdict] = {}
    tests: dict[str, set[str]] = {}
    for o in outcomes:
        if o.shared < 2 or o.unused_http is None:
            continue
        unused_ws = o.unused_ws or []
        verdict = verdicts.get(o.path)
        if verdict is None:
            verdicts[o.path] = SharedVerdict(o.path, o.shared, 0, o.unused_http, unused_ws)
            tests[o.path] = set()
        else:
            verdict.unused_http = [x for x in verdict.unused_http if x in set(o.unused_http)]
            verdict.unused_ws = [x for x in verdict.unused_ws if x in set(unused_ws)]
            verdict.sharers = max(verdict.sharers, o.shared)
        tests[o.path].add(o.test)
    for path, verdict in verdicts.items():
        verdict.ran = len(tests[path])
    return sorted(verdicts.values(), key=lambda v: v.path)


_ACTION_STYLE = {
    "recorded": "cyan",
    "replayed": "green",
    "kept": "yellow",
    "missing": "red",
    "absent": "dim",
    "error": "red",
}


def render_summary(
    outcomes: list[CassetteOutcome],
    *,
    verbose: bool,
    color: bool,
    width: int = 100,
    strict: bool = False,
) -> str:
    """One line of totals, then what shared cassettes left unused; with ``verbose``, one line
    per test (never wrapped, so it greps).

    "recorded" and "replayed" count cassette files: those written, and those only read.
    """
    from rich.console import Console

    counts = Counter(o.action for o in outcomes)
    written_paths = {o.path for o in outcomes if o.action == "recorded"}
    replayed_paths = {o.path for o in outcomes if o.action == "replayed"} - written_paths
    written = sum(o.written for o in outcomes)
    verdicts = judge_shared(outcomes)
    unmatched = sum(o.unmatched for o in outcomes)
    unused = sum(o.unused for o in outcomes) + sum(v.unused for v in verdicts)
    buf = io.StringIO()
    console = Console(
        file=buf,
        force_terminal=color,
        color_system="standard" if color else None,
        width=width,
        highlight=False,
    )
    parts = [f"{len(written_paths)} recorded", f"{len(replayed_paths)} replayed"]
    if written_paths:
        parts.append(f"{written} interactions written")
    if counts.get("kept"):
        parts.append(f"{counts['kept']} not saved (test failed)")
    for action in ("missing", "error"):
        if counts.get(action):
            parts.append(f"{counts[action]} {action}")
    if counts.get("absent"):
        parts.append(f"{counts['absent']} without a cassette (made no requests)")
    parts += [f"{unmatched} unmatched requests", f"{unused} unused interactions"]
    bad = unmatched or counts.get("missing") or counts.get("error") or (strict and unused)
    style = "red" if bad else ("yellow" if unused else "green")
    console.print(f"[{style}]cassettes: " + ", ".join(parts) + f"[/{style}]", soft_wrap=True)
    for verdict in verdicts:
        style = "red" if strict else "yellow"
        if not verdict.judged:
            console.print(
                f"[yellow]{verdict.path}: unused interactions not judged: {verdict.ran} of the "
                f"{verdict.sharers} tests that share it ran[/yellow]",
                soft_wrap=True,
            )
        for problem in verdict.problems(strict):
            console.print(problem, style=style, soft_wrap=True, markup=False)
    unreachable = [o for o in outcomes if o.origin_failures]
    if unreachable:
        console.print(
            f"[yellow]{len(unreachable)} test(s) could not reach an origin while recording "
            "(nothing was recorded for those requests):[/yellow]",
            soft_wrap=True,
        )
        for o in sorted(unreachable, key=lambda o: o.test)[:_LISTED]:
            console.print(f"  {o.test} -> {o.path or '-'} ({o.action})", soft_wrap=True)
            for failure in o.origin_failures[:3]:
                console.print(f"    {failure}", soft_wrap=True, markup=False)
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
            extra += f", {o.written} written" if o.action == "recorded" else ""
            extra += f", {o.unmatched} unmatched" if o.unmatched else ""
            extra += f", {o.unused} unused" if o.unused else ""
            extra += f", shared by {o.shared} tests" if o.shared > 1 else ""
            extra += ", no traffic" if not o.reached_proxy else ""
            style = _ACTION_STYLE.get(o.action, "")
            console.print(
                f"  [{style}]{o.action:<8}[/{style}] {o.test} -> {o.path or '-'}{extra})",
                soft_wrap=True,
            )
    return buf.getvalue()
