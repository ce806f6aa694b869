"""What the session hands the proxy to play, and what playing it found: replay speed, a
recorded WebSocket connection's script, a conversation's report.

Plain data, so the session (which decides) depends on nothing in ``proxy/`` (which plays).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .cassette.records import WsClose, WsConnection, WsMessage

__all__ = ["ConversationReport", "Speed", "WsScript"]


@dataclass(frozen=True)
class Speed:
    """``instant`` (None): as fast as the client reads; otherwise recorded offsets / factor."""

    factor: float | None = None

    @classmethod
    def parse(cls, value: Any) -> Speed:
        if value is None or isinstance(value, Speed):
            return value or cls()
        text = str(value).strip().lower()
        if text == "instant":
            return cls(None)
        if text == "recorded":
            return cls(1.0)
        try:
            factor = float(text)
        except ValueError:
            raise ValueError(
                f"replay speed must be instant, recorded or a positive number, not {value!r}"
            ) from None
        if factor <= 0:
            raise ValueError(f"replay speed must be positive, not {factor}")
        return cls(factor)

    def __str__(self) -> str:
        return "instant" if self.factor is None else f"{self.factor:g}x"


@dataclass
class WsScript:
    """One recorded connection: its opening, messages in order, and its close (if any)."""

    conn: WsConnection
    #: A list, or the cassette index's sequence that reads each message when it is played.
    messages: Sequence[WsMessage] = field(default_factory=list)
    close: WsClose | None = None
    used: bool = False


@dataclass
class ConversationReport:
    """What happened, for the test's verdict: mismatches, and what was never delivered."""

    label: str
    mismatches: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    tail: str | None = None
    finished: bool = False
