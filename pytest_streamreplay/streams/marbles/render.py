"""Render notifications back to marble diagrams and explain the first difference.

The renderer writes what the parser reads: ``parse_marbles(render(events))`` gives the events
back. Long or fractional gaps become time progressions (`` 25ms ``); events that share a frame
become a group. When a group is wider than the gap to the next event, the diagram cannot say it
exactly; the renderer then returns ``exact=False`` and the diff lists exact times.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Rendered", "format_ms", "render", "render_subscription"]

_MAX_DASHES = 20
_PROGRESSION_LIKE = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:ms|s|m)")


def format_ms(value: float) -> str:
    """Milliseconds without float noise: 3 -> "3", 2.5 -> "2.5", 0.001 -> "0.001"."""
    if math.isinf(value):
        return "inf"
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


@dataclass(frozen=True)
class Rendered:
    diagram: str
    exact: bool
    columns: dict[float, int]  # frame -> column of its marker in ``diagram``


def render(items: Iterable[tuple[float, str]]) -> Rendered:
    """Render (frame, marker) pairs (frames >= 0, markers one character) as a diagram."""
    groups: dict[float, list[str]] = {}
    for frame, marker in items:
        groups.setdefault(frame, []).append(marker)
    text = ""
    pos = 0.0
    exact = True
    columns: dict[float, int] = {}
    for frame in sorted(groups):
        markers = groups[frame]
        gap = frame - pos
        if gap < 0:
            exact = False
            gap = 0
        text, ok = _gap(text, gap)
        exact = exact and ok
        columns[frame] = len(text) + (1 if len(markers) > 1 else 0)
        if len(markers) == 1:
            text += markers[0]
            pos = frame + 1
        else:
            text += "(" + "".join(markers) + ")"
            pos = frame + len(markers) + 2
    return Rendered(text, exact, columns)


def _gap(text: str, gap: float) -> tuple[str, bool]:
    """Append a gap of ``gap`` frames; False if the result would not parse back exactly."""
    if gap == 0:
        return text, True
    if gap == int(gap) and gap <= _MAX_DASHES:
        return text + "-" * int(gap), True
    ok = True
    tail = text.rsplit(" ", 1)[-1]
    if tail and _PROGRESSION_LIKE.fullmatch(tail):
        if gap >= 1:
            # "1m" then " 30ms " would read as a one-minute progression: break it with a frame.
            text += "-"
            gap -= 1
        else:
            ok = False  # values "1","m" then a sub-frame gap: no exact spelling exists
    if gap == 0:
        return text, ok
    lead = " " if text else ""
    return f"{text}{lead}{format_ms(gap)}ms ", ok


def render_subscription(subscribed: float, unsubscribed: float) -> str:
    """``^`` at the subscription frame, ``!`` at the unsubscription frame (if any)."""
    items: list[tuple[float, str]] = [(subscribed, "^")]
    if not math.isinf(unsubscribed):
        items.append((unsubscribed, "!"))
    return render(items).diagram


def align(rows: Sequence[tuple[str, str]]) -> str:
    """Left-align labelled rows: ``label: diagram``."""
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {diagram}" for label, diagram in rows)
