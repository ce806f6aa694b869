"""The Rich live terminal dashboard of a running (or replaying) pipeline."""

from .view import (
    HIDE_FIRST,
    REFRESH_HZ,
    Dashboard,
    DashboardData,
    MarketRow,
    render,
    shown_markets,
    shown_sections,
    snapshot,
    sparkline,
)

__all__ = [
    "HIDE_FIRST",
    "REFRESH_HZ",
    "Dashboard",
    "DashboardData",
    "MarketRow",
    "render",
    "shown_markets",
    "shown_sections",
    "snapshot",
    "sparkline",
]
