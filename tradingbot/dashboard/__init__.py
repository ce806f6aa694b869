"""The Rich live terminal dashboard of a running (or replaying) pipeline."""

from .view import (
    REFRESH_HZ,
    Dashboard,
    DashboardData,
    MarketRow,
    render,
    shown_markets,
    snapshot,
    sparkline,
)

__all__ = [
    "REFRESH_HZ",
    "Dashboard",
    "DashboardData",
    "MarketRow",
    "render",
    "shown_markets",
    "snapshot",
    "sparkline",
]
