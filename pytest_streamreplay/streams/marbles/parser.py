"""The RxJS ``run()``-mode marble grammar: one character is one frame of 1 virtual ms.

``' '`` is ignored; ``-`` is one frame; ``10ms``/``1.4s``/``5.25m`` (preceded by a space or the
start, followed by a space) move time on; any other character is a value (looked up in
``values``); ``|`` completes; ``#`` errors; ``(ab|)`` emits together at the group's first frame
and then time moves on by the group's length including the parentheses; ``^`` marks where a hot
observable is subscribed (frame 0); ``!`` marks an unsubscription (subscription diagrams only).

One deliberate difference from RxJS: ``^`` is placed by its *frame*, not by its character index,
so spaces and time progressions before it count as the diagram shows them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "MarbleEvent",
    "MarbleSyntaxError",
    "Subscription",
    "parse_marbles",
    "parse_subscription",
]

Kind = Literal["on_next", "on_error", "on_completed"]

_TIME = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m) ")
_UNIT_MS = {"ms": 1.0, "s": 1000.0, "m": 60_000.0}


class MarbleSyntaxError(ValueError):
    """A diagram the grammar does not allow (says which character and where)."""


@dataclass(frozen=True)
class MarbleEvent:
    """A notification parsed from a diagram; ``char`` is the character that wrote it."""

    frame: float
    kind: Kind
    value: Any = None
    error: Any = None
    char: str = ""


@dataclass(frozen=True)
class Subscription:
    """A subscription's frames; ``unsubscribed`` is ``math.inf`` while still subscribed."""

    subscribed: float
    unsubscribed: float = math.inf

    def __repr__(self) -> str:
        end = "inf" if math.isinf(self.unsubscribed) else f"{self.unsubscribed:g}"
        return f"Subscription({self.subscribed:g}, {end})"


def _time_progression(diagram: str, i: int) -> tuple[float, int] | None:
    """Return (duration ms, characters consumed) if a time progression starts at ``i``."""
    if i != 0 and diagram[i - 1] != " ":
        return None
    match = _TIME.match(diagram, i)
    if match is None:
        return None
    return float(match.group(1)) * _UNIT_MS[match.group(2)], len(match.group(0))


def _walk(diagram: str) -> list[tuple[float, str, int]]:
    """Yield (frame, marker character, index) for every non-timing character."""
    out: list[tuple[float, str, int]] = []
    frame = 0.0
    group_start: float | None = None
    i = 0
    while i < len(diagram):
        c = diagram[i]
        next_frame = frame
        if c == " ":
            pass
        elif c == "-":
            next_frame += 1
        elif c == "(":
            if group_start is not None:
                raise MarbleSyntaxError(f"nested group at index {i} in {diagram!r}")
            group_start = frame
            next_frame += 1
        elif c == ")":
            if group_start is None:
                raise MarbleSyntaxError(f"')' without '(' at index {i} in {diagram!r}")
            group_start = None
            next_frame += 1
        else:
            progression = _time_progression(diagram, i) if c.isdigit() else None
            if progression is not None:
                duration, consumed = progression
                frame += duration
                i += consumed
                continue
            at = group_start if group_start is not None else frame
            out.append((at, c, i))
            next_frame += 1
        frame = next_frame
        i += 1
    if group_start is not None:
        raise MarbleSyntaxError(f"unclosed group '(' in {diagram!r}")
    return out


def _make_error(error: Any) -> Any:
    return error if error is not None else Exception("error")


def parse_marbles(
    diagram: str,
    values: Mapping[str, Any] | None = None,
    error: Any = None,
    *,
    allow_subscription: bool = True,
) -> tuple[list[MarbleEvent], float | None]:
    """Parse a value diagram into events (frames relative to ``^`` if present) and ``^``'s frame.

    ``error`` is what ``#`` stands for (default ``Exception("error")``).
    """
    events: list[MarbleEvent] = []
    sub_frame: float | None = None
    for frame, c, i in _walk(diagram):
        if c == "!":
            raise MarbleSyntaxError(
                f"'!' (unsubscription) belongs in a subscription diagram, found at index {i} "
                f"in {diagram!r}"
            )
        if c == "^":
            if not allow_subscription:
                raise MarbleSyntaxError(
                    f"a cold observable cannot have a subscription point '^' ({diagram!r})"
                )
            if sub_frame is not None:
                raise MarbleSyntaxError(f"more than one '^' in {diagram!r}")
            sub_frame = frame
        elif c == "|":
            events.append(MarbleEvent(frame, "on_completed", char=c))
        elif c == "#":
            events.append(MarbleEvent(frame, "on_error", error=_make_error(error), char=c))
        else:
            value = values[c] if values is not None and c in values else c
            events.append(MarbleEvent(frame, "on_next", value=value, char=c))
    if sub_frame is not None:
        offset = sub_frame
        events = [MarbleEvent(e.frame - offset, e.kind, e.value, e.error, e.char) for e in events]
    return events, sub_frame


def parse_subscription(diagram: str) -> Subscription:
    """Parse ``"^--!"``-style diagrams: only ``^``, ``!``, ``-``, groups and time progression."""
    sub: float | None = None
    unsub: float | None = None
    for frame, c, i in _walk(diagram):
        if c == "^":
            if sub is not None:
                raise MarbleSyntaxError(f"more than one '^' in {diagram!r}")
            sub = frame
        elif c == "!":
            if unsub is not None:
                raise MarbleSyntaxError(f"more than one '!' in {diagram!r}")
            unsub = frame
        else:
            raise MarbleSyntaxError(
                f"a subscription diagram has only '^' and '!' markers, found {c!r} at index {i} "
                f"in {diagram!r}"
            )
    if sub is None:
        if unsub is not None:
            raise MarbleSyntaxError(f"'!' without '^' in {diagram!r}")
        sub = 0.0
    if unsub is not None and unsub < sub:
        raise MarbleSyntaxError(f"'!' before '^' in {diagram!r}")
    return Subscription(sub, math.inf if unsub is None else unsub)
