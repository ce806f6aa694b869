"""The liquidation guard's decisions on a scripted cascade, pinned as a stream snapshot, and the
pipeline on a live feed from the local simulator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import reactivex
from reactivex import operators as ops

from pytest_streamreplay.streams import VirtualScheduler, cassette_stream, collect_notifications

pytest.importorskip("dydx_v4_client", reason="dydx-v4-client is not installed (Python < 3.13 only)")

from tradingbot.dashboard import snapshot
from tradingbot.execution import ExecutionReport
from tradingbot.feeds.stream import StreamFeed
from tradingbot.pipeline import Pipeline, PipelineConfig, run_live
from tradingbot.simulator import EPOCH, SimulatorThread
from tradingbot.strategy import TradeIntent
from tradingbot.testing import write_path_cassette

START = datetime(2024, 1, 1, tzinfo=UTC)


def test_guard_decisions_timeline(tmp_path: Path, stream_snapshot: Any) -> None:
    prices = [int(50_000 * 0.997**i) for i in range(70)]
    path = write_path_cassette(tmp_path / "cascade.jsonl", prices)
    config = PipelineConfig(trade=False, positions={"BTC-USD": (D(1), D(50_000))})
    sched = VirtualScheduler(START)
    pipeline = Pipeline(config, clock=lambda: sched.now)
    decisions = pipeline.operator()(cassette_stream(path, scheduler=sched)).pipe(
        ops.filter(lambda x: isinstance(x, TradeIntent | ExecutionReport))
    )
    timeline = collect_notifications(decisions, scheduler=sched)
    assert len(timeline) >= 4  # intents and their reports, then completion
    assert timeline == stream_snapshot


def test_run_live_on_the_local_simulator(
    make_simulator: Callable[..., SimulatorThread],
) -> None:
    sim = make_simulator(seed=5, tick_ms=20, flush_ms=100, settle_ms=50)
    feed = StreamFeed(sim.ws_url)
    events = reactivex.merge(
        feed.markets(), feed.order_book("BTC-USD"), feed.trades("BTC-USD"), feed.candles("BTC-USD")
    )
    feed.start()
    try:
        pipeline = run_live(
            events, duration=2.5, config=PipelineConfig(exchange_clock=True), status=feed.status
        )
    finally:
        feed.close()
    summary = pipeline.summary()
    assert summary["events"] > 100 and "BTC-USD" in summary["markets"]
    assert D(summary["best_bid"]["BTC-USD"]) < D(summary["best_ask"]["BTC-USD"])
    # 2.5 s at 50 market steps a second: a couple of market minutes, so bars confirm
    assert summary["bars_confirmed"] >= 1
    assert summary["resyncs"] == 0 and summary["feed_errors"] == 0
    assert pipeline.feed_status is not None
    # market time is the exchange's (the simulator's epoch, 50 market seconds a wall second),
    # in the summary and on the dashboard's header, not the wall clock
    assert summary["market_seconds"] >= 60 * summary["bars_confirmed"] > 2.5
    shown = snapshot(pipeline).market_time
    assert shown is not None and EPOCH <= shown < EPOCH + timedelta(days=1)
