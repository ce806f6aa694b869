"""How the indexer writes numbers and times (shared by the market model and the account)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

__all__ = ["fmt", "iso"]


def fmt(value: Decimal) -> str:
    """Decimal as the indexer writes it: plain notation, no trailing zeros."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def iso(moment: datetime) -> str:
    """The indexer's timestamp format: UTC, milliseconds, ``Z``."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )
