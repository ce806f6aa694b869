"""The Rich live terminal dashboard of a running (or replaying) pipeline."""

from .view import Dashboard, DashboardData, MarketRow, render, snapshot, sparkline

__all__ = ["Dashboard", "DashboardData", "MarketRow", "render", "snapshot", "sparkline"]
