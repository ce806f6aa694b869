"""The chain that runs is the chain that is tested.

``Pipeline`` (the fast chain the drivers use) and the layer operators piped one after another
(``decode_stage | market_stage | signal_stage | strategy_stage | execution_stage``) must make the
same decisions on the same cassette: same intents, same fills, in the same order (their
stream hashes are equal). And the quality monitor's liveness check runs in both: a market left
silent is reported as STALE_FEED in replay and live.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import reactivex

from pytest_streamreplay.streams import MarketClock, StreamHasher, cassette_stream, collect

pytest.importorskip("dydx_v4_client", reason="dydx-v4-client is not installed (Python < 3.13 only)")

from tradingbot.execution import ExecutionEngine, PaperBroker, RiskGate, execution_stage
from tradingbot.feeds.events import Fill
from tradingbot.feeds.stream import StreamFeed
from tradingbot.market.quality import QualityIssue, QualityKind
from tradingbot.pipeline import (
    MarketState,
    PipelineConfig,
    cassette_start,
    decode_stage,
    market_stage,
    replay,
    run_live,
    signal_stage,
)
from tradingbot.signals import SignalEngine, SignalScorer
from tradingbot.simulator import SimulatorThread
from tradingbot.strategy import ScoreStrategy, TradeIntent, strategy_stage
from tradingbot.testing import write_dev_cassette


def _operator_chain(path: Path, config: PipelineConfig) -> list[Any]:
    """Every item of a replay through the layer operators, piped as separate stages."""
    clock = MarketClock(cassette_start(path))
    broker = PaperBroker(config.starting_quote, fees=config.fees, positions=config.positions)
    source = cassette_stream(path, direction="recv", scheduler=clock.scheduler)
    items = source.pipe(
        decode_stage(lambda: clock.now),
        market_stage(MarketState(config)),
        signal_stage(SignalEngine(SignalScorer(), config.signals)),
        strategy_stage(ScoreStrategy(config.strategy, broker)),
        execution_stage(ExecutionEngine(broker, RiskGate(config.limits, config.guard))),
    )
    return collect(items, scheduler=clock.scheduler)


def _digest(items: list[Any]) -> str:
    hasher = StreamHasher()
    for item in items:
        hasher.update(item)
    return hasher.digest


def test_operator_chain_and_pipeline_decide_alike_on_the_dev_cassette(tmp_path: Path) -> None:
    path = write_dev_cassette(tmp_path / "dev.jsonl", seed=7, minutes=12)
    config = PipelineConfig()
    items = _operator_chain(path, config)
    summary = replay([path], config=config).summary()
    intents = [x for x in items if isinstance(x, TradeIntent)]
    fills = [x for x in items if isinstance(x, Fill)]
    assert len(intents) > 3 and len(fills) > 3  # decisions were made: the check can fail
    assert _digest(intents) == summary["intents_sha256"]
    assert _digest(fills) == summary["fills_sha256"]
    issues = [x for x in items if isinstance(x, QualityIssue)]
    assert len(issues) == summary["quality_issues"]


def _silenced(
    src: Path, dst: Path, *, ids: set[str] | None, start_ms: float, end_ms: float
) -> Path:
    """``src`` without the indexer's channel messages of ``ids`` (all, with None) between
    ``start_ms`` and ``end_ms``: a feed that went quiet for a while."""
    kept: list[str] = []
    for line in src.read_text().splitlines():
        record = json.loads(line)
        message = record.get("json") if record.get("kind") == "ws_msg" else None
        if (
            isinstance(message, dict)
            and record["dir"] == "recv"
            and message.get("type") in ("channel_data", "channel_batch_data")
            and start_ms <= record["t"] < end_ms
            and (ids is None or message.get("id") in ids)
        ):
            continue
        kept.append(line)
    dst.write_text("\n".join(kept) + "\n")
    return dst


def _issues(pipeline: Any, kind: QualityKind) -> list[QualityIssue]:
    return [i for i in pipeline.market.quality.issues if i.kind == kind]


def test_replay_reports_a_market_left_silent(tmp_path: Path) -> None:
    dev = write_dev_cassette(tmp_path / "dev.jsonl", seed=7, minutes=5)
    eth = {"ETH-USD", "ETH-USD/1MIN"}
    path = _silenced(dev, tmp_path / "quiet.jsonl", ids=eth, start_ms=60_000, end_ms=240_000)
    pipeline = replay([path])
    stale = {i.stream for i in _issues(pipeline, QualityKind.STALE_FEED)}
    assert {"v4_orderbook:ETH-USD"} <= stale
    assert not any("BTC-USD" in s for s in stale)
    recovered = {i.stream for i in _issues(pipeline, QualityKind.FEED_RECOVERED)}
    assert "v4_orderbook:ETH-USD" in recovered
    start = cassette_start(path)
    stale_eth = _issues(pipeline, QualityKind.STALE_FEED)
    (first,) = [i for i in stale_eth if i.stream == "v4_orderbook:ETH-USD"]
    assert first.at is not None and start is not None
    # reported once the silence passed 60 s of market time, not at the end of the replay
    assert timedelta(seconds=119) < first.at - start <= timedelta(seconds=122)


def test_replay_reports_a_whole_feed_left_silent(tmp_path: Path) -> None:
    """No event at all for three minutes: only the driver's clock can notice."""
    dev = write_dev_cassette(tmp_path / "dev.jsonl", seed=7, minutes=5)
    path = _silenced(dev, tmp_path / "quiet.jsonl", ids=None, start_ms=60_000, end_ms=240_000)
    pipeline = replay([path])
    stale = {i.stream for i in _issues(pipeline, QualityKind.STALE_FEED)}
    assert {"v4_orderbook:BTC-USD", "v4_orderbook:ETH-USD", "v4_markets:BTC-USD"} <= stale
    start = cassette_start(path)
    assert start is not None
    for issue in _issues(pipeline, QualityKind.STALE_FEED):
        assert issue.at is not None and issue.at - start < timedelta(seconds=240)


def test_live_reports_a_stalled_feed(make_simulator: Callable[..., SimulatorThread]) -> None:
    sim = make_simulator(seed=5, tick_ms=20, flush_ms=100, settle_ms=50)
    feed = StreamFeed(f"{sim.ws_url}?stall_after=40")  # the indexer stops sending after 40
    events = reactivex.merge(feed.markets(), feed.order_book("BTC-USD"), feed.trades("BTC-USD"))
    feed.start()
    try:
        pipeline = run_live(
            events,
            duration=5.0,  # the stall comes about 1.5 s in; checks run once a second
            config=PipelineConfig(stale_after=timedelta(seconds=1)),
            status=feed.status,
        )
    finally:
        feed.close()
    assert pipeline.events > 10
    stale = {i.stream for i in _issues(pipeline, QualityKind.STALE_FEED)}
    assert "v4_orderbook:BTC-USD" in stale
