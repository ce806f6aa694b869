"""The run in numbers: :func:`summary` (JSON-ready, money as decimal strings).

Every field means the same in replay and live: ``messages`` counts the indexer messages that
reached the pipeline (one per ``(connection_id, message_id)``; a message's events share it),
``events`` the decoded events, ``market_seconds`` the market time between the first and the last
event (the exchange's clock when the run confirms bars on it, else the receive clock), and
``latency_ms`` the pipeline's own time per event, from its arrival until every stage is done.
"""

from __future__ import annotations

import os
import resource
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradingbot.execution import PaperBroker

if TYPE_CHECKING:
    from .chain import Pipeline

__all__ = ["best_prices", "peak_rss_mb", "summary"]


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1024 * 1024 if os.uname().sysname == "Darwin" else 1024
    return round(peak / scale, 1)


def best_prices(pipeline: Pipeline) -> dict[str, tuple[Decimal | None, Decimal | None]]:
    """Best bid and ask of each market the run follows (markets without a book are left out)."""
    out: dict[str, tuple[Decimal | None, Decimal | None]] = {}
    for market in pipeline.followed_markets():
        book = pipeline.market.books.book(market)
        if book is None:
            continue
        bid, ask = book.best_bid, book.best_ask
        out[market] = (bid[0] if bid else None, ask[0] if ask else None)
    return out


def summary(pipeline: Pipeline) -> dict[str, Any]:
    """The run in numbers (JSON-ready: money as decimal strings)."""
    ex = pipeline.execution
    state = ex.state(pipeline.last_time)
    prices = best_prices(pipeline)
    wall = (pipeline.finished_wall or time.perf_counter()) - pipeline.started_wall
    first, last = pipeline.market.first_time, pipeline.market.last_time
    virtual = (last - first).total_seconds() if first and last else 0.0
    broker = pipeline.broker
    extra: dict[str, Any] = {}
    if isinstance(broker, PaperBroker):
        extra = {
            "fees_paid": _num(broker.fees_paid),
            "funding_paid": _num(broker.funding_paid),
            "realized_pnl": _num(broker.realized_pnl, 8),
        }
    followed = pipeline.followed_markets()
    return {
        "markets": followed,
        "messages": pipeline.messages,
        "events": pipeline.events,
        "bars_confirmed": pipeline.market.bars_confirmed,
        "best_bid": {m: _num(b) for m, (b, _) in prices.items()},
        "best_ask": {m: _num(a) for m, (_, a) in prices.items()},
        "oracle_price": {m: _num(pipeline.oracle[m]) for m in followed if m in pipeline.oracle},
        "signals": pipeline.scores,
        "orders": ex.orders,
        "rejected": ex.rejected,
        "fills": ex.fills,
        "equity": _num(state.equity, 8),
        "max_margin_usage": _num(ex.max_margin_usage, 6),
        "max_maintenance_ratio": _num(ex.max_maintenance_ratio, 6),
        "liquidatable_at_any_time": ex.ever_liquidatable,
        "liquidation_guard_actions": ex.guard_actions,
        "positions": {
            p.market: {
                "size": _num(p.size),
                "entry_price": _num(p.entry_price, 8),
                "liquidation_price": _num(p.liquidation_price, 8),
            }
            for p in state.positions
        },
        **extra,
        "quality_issues": len(pipeline.market.quality.issues),
        "candle_mismatches": pipeline.market.candle_mismatches,
        "late_trades": pipeline.market.late_trades,
        "resyncs": pipeline.market.resyncs,
        "feed_errors": pipeline.market.feed_errors,
        "intents_sha256": pipeline.intent_hasher.digest,
        "fills_sha256": pipeline.fill_hasher.digest,
        "latency_ms": pipeline.latency.stats_ms(),
        "peak_rss_mb": peak_rss_mb(),
        "market_seconds": round(virtual, 3),
        "wall_seconds": round(wall, 3),
        "events_per_second": round(pipeline.events / wall, 1) if wall > 0 else 0.0,
    }


def _num(value: Decimal | None, places: int | None = None) -> str | None:
    """Money and prices go out as plain decimal strings (JSON floats would round them);
    ``places`` rounds derived values (averages, ratios) that carry 28 digits of division."""
    if value is None:
        return None
    if not value.is_finite():
        return str(value)
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    return format(value.normalize(), "f")
