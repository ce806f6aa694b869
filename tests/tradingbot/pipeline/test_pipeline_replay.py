"""The whole chain on replayed cassettes: stages as streams, parity, a liquidation cascade, and
the ``tradingbot replay`` command."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from pytest_streamreplay.streams import (
    ParityTracker,
    StreamHasher,
    VirtualScheduler,
    cassette_stream,
    collect,
)
from tradingbot.execution import ExecutionReport, OrderStatus
from tradingbot.feeds.events import BookSnapshot, Fill, MarketEvent, Trade
from tradingbot.market.bars import Bar
from tradingbot.market.book import BookState
from tradingbot.pipeline import (
    LatencyRecorder,
    MarketState,
    Pipeline,
    PipelineConfig,
    decode_stage,
    market_stage,
    replay,
)
from tradingbot.risk import Account, MarketRiskParams, PerpPosition, is_liquidatable
from tradingbot.signals import Score
from tradingbot.strategy import IntentKind, StrategyConfig, TradeIntent
from tradingbot.testing import write_dev_cassette, write_path_cassette

START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def dev_cassette(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dev_cassette(tmp_path_factory.mktemp("dev") / "dev.jsonl", seed=7, minutes=4)


def test_decode_and_market_stages_on_a_replayed_stream(dev_cassette: Path) -> None:
    sched = VirtualScheduler(START)
    events = decode_stage(lambda: sched.now)(cassette_stream(dev_cassette, scheduler=sched))
    out = collect(events.pipe(market_stage(MarketState(PipelineConfig()))), scheduler=sched)
    decoded = [x for x in out if isinstance(x, MarketEvent)]
    assert all(e.received_at is not None and e.received_at >= START for e in decoded)
    snapshots = [x for x in decoded if isinstance(x, BookSnapshot)]
    assert [s.market for s in snapshots] == ["BTC-USD", "ETH-USD"]
    # each snapshot is followed at once by the book state it produced
    first = out.index(snapshots[0])
    assert isinstance(out[first + 1], BookState) and out[first + 1].market == "BTC-USD"
    states = [x for x in out if isinstance(x, BookState)]
    assert all(s.best_bid[0] < s.best_ask[0] for s in states if s.best_bid and s.best_ask)
    confirmed = [b for b in out if isinstance(b, Bar) and b.confirmed]
    # 4 minutes of trades in 2 markets: buckets 00:00-00:03 close, 00:04 is still forming
    assert sorted({(b.market, b.started_at.minute) for b in confirmed}) == [
        (m, i) for m in ("BTC-USD", "ETH-USD") for i in range(4)
    ]
    # trades feed the bars in time order: every bar's trade count matches its trades
    trades = [t for t in decoded if isinstance(t, Trade)]
    for bar in confirmed:
        inside = [
            t
            for t in trades
            if t.market == bar.market and bar.started_at <= t.created_at < bar.ended_at
        ]
        assert bar.trades == len(inside)


def test_full_chain_order_score_after_book_intent_after_score(dev_cassette: Path) -> None:
    pipeline = Pipeline(PipelineConfig())
    sched = VirtualScheduler(START)
    pipeline.clock = lambda: sched.now
    out = collect(
        pipeline.operator()(cassette_stream(dev_cassette, scheduler=sched)), scheduler=sched
    )
    intents = [i for i, x in enumerate(out) if isinstance(x, TradeIntent)]
    assert intents, "the development cassette must make the strategy trade"
    for i in intents:
        assert isinstance(out[i - 1], Score | BookState)
        assert isinstance(out[i + 1], ExecutionReport)
        assert out[i + 1].intent_id == out[i].id
    assert pipeline.scores == sum(isinstance(x, Score) for x in out)


def _run_items(path: Path) -> tuple[list[TradeIntent], list[Fill], Pipeline]:
    sched = VirtualScheduler(START)
    pipeline = Pipeline(PipelineConfig(), clock=lambda: sched.now)
    out = collect(pipeline.operator()(cassette_stream(path, scheduler=sched)), scheduler=sched)
    return (
        [x for x in out if isinstance(x, TradeIntent)],
        [x for x in out if isinstance(x, Fill)],
        pipeline,
    )


def test_replays_are_byte_identical_run_to_run(dev_cassette: Path, tmp_path: Path) -> None:
    a_intents, a_fills, first = _run_items(dev_cassette)
    b_intents, b_fills, second = _run_items(dev_cassette)
    assert a_intents and a_fills
    assert first.intent_hasher.count == len(a_intents) > 0
    assert first.intent_hasher.digest == second.intent_hasher.digest
    assert first.fill_hasher.digest == second.fill_hasher.digest
    assert first.summary()["equity"] == second.summary()["equity"]
    # item by item too, through the stream tools' parity tracker
    assert ParityTracker().compare(a_intents + a_fills, b_intents + b_fills).equal
    assert StreamHasher().update_all(a_fills).digest == first.fill_hasher.digest
    # the replay driver (cassette_stream on a MarketClock) gives the same intents
    assert replay([dev_cassette]).intent_hasher.digest == first.intent_hasher.digest
    # and the hash does see a different market: another seed, other intents
    other = replay([write_dev_cassette(tmp_path / "other.jsonl", seed=8, minutes=2)])
    assert other.intent_hasher.count > 0
    assert other.intent_hasher.digest != first.intent_hasher.digest


def test_liquidation_cascade_guard_acts_before_liquidation(tmp_path: Path) -> None:
    # 1 BTC long from 50,000 on 10,000 USDC; the oracle falls 0.2% a second. Unguarded the
    # account is liquidatable from about 41,237 on; the guard must act before that.
    prices = [int(50_000 * 0.998**i) for i in range(130)]
    path = write_path_cassette(tmp_path / "cascade.jsonl", prices)
    config = PipelineConfig(
        trade=False, starting_quote=D(10_000), positions={"BTC-USD": (D(1), D(50_000))}
    )
    pipeline = replay([path], config=config)
    btc = MarketRiskParams("BTC-USD", D("0.05"), D("0.03"))
    unguarded = Account(D(-40_000), (PerpPosition(btc, D(1), D(prices[-1])),))
    assert is_liquidatable(unguarded), "the path must really be a cascade"
    first_liquidatable = next(
        i
        for i, p in enumerate(prices)
        if is_liquidatable(Account(D(-40_000), (PerpPosition(btc, D(1), D(p)),)))
    )
    guard = pipeline.guard_intents
    assert guard, "the guard never acted"
    assert all(g.kind in (IntentKind.REDUCE, IntentKind.CLOSE) and g.reduce_only for g in guard)
    assert "maintenance ratio" in guard[0].reason and "reduce threshold 0.8" in guard[0].reason
    acted_at = guard[0].created_at
    assert acted_at is not None
    assert acted_at < START + timedelta(seconds=first_liquidatable)
    summary = pipeline.summary()
    assert summary["liquidation_guard_actions"] == len(guard)
    assert summary["liquidatable_at_any_time"] is False
    assert D(summary["max_maintenance_ratio"]) < 1
    assert D(summary["positions"]["BTC-USD"]["size"]) < D("0.5")  # shrunk along the way
    assert summary["orders"] == len(guard) and summary["fills"] >= len(guard)


def test_guard_orders_pass_the_rate_limit_and_are_reported(tmp_path: Path) -> None:
    prices = [int(50_000 * 0.995**i) for i in range(60)]
    path = write_path_cassette(tmp_path / "fast.jsonl", prices)
    config = PipelineConfig(trade=False, positions={"BTC-USD": (D(1), D(50_000))})
    pipeline = replay([path], config=config)
    reports = pipeline.execution.recent_reports
    assert reports and all(r.status is not OrderStatus.REJECTED for r in reports)
    assert pipeline.summary()["liquidatable_at_any_time"] is False


def test_latency_recorder_percentiles() -> None:
    rec = LatencyRecorder()
    for ns in range(1, 101):
        rec.add(ns * 1_000_000.0)  # 1..100 ms
    assert rec.stats_ms() == {"p50": 51.0, "p99": 100.0, "max": 100.0}
    assert LatencyRecorder().stats_ms() == {"p50": 0.0, "p99": 0.0, "max": 0.0}


def test_replay_command_headless_summary(dev_cassette: Path, tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tradingbot.cli",
            "replay",
            str(dev_cassette),
            "--headless",
            "--summary-json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(out.read_text())
    assert json.loads(done.stdout) == summary
    for key in (
        "markets",
        "messages",
        "bars_confirmed",
        "best_bid",
        "best_ask",
        "signals",
        "orders",
        "fills",
        "equity",
        "max_margin_usage",
        "liquidation_guard_actions",
        "latency_ms",
        "peak_rss_mb",
    ):
        assert key in summary
    assert summary["markets"] == ["BTC-USD", "ETH-USD"]
    assert summary["messages"] > 500 and summary["bars_confirmed"] == 8
    for market in summary["markets"]:
        assert D(summary["best_bid"][market]) < D(summary["best_ask"][market])
    assert summary["signals"] > 0 and summary["orders"] > 0 and summary["fills"] > 0
    assert D(9_000) < D(summary["equity"]) < D(11_000)
    assert 0 <= D(summary["max_margin_usage"]) < 1
    lat = summary["latency_ms"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["max"]
    assert 0 < summary["peak_rss_mb"] < 500
    assert summary["intents_sha256"] == replay([dev_cassette]).intent_hasher.digest


def test_replay_command_rejects_missing_cassettes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tradingbot.cli", "replay", str(tmp_path / "nope.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "not found" in done.stderr


def test_paced_replay_follows_the_speed(tmp_path: Path) -> None:
    path = write_path_cassette(tmp_path / "short.jsonl", [100 + i for i in range(6)])
    import time

    start = time.perf_counter()
    seen: list[float] = []
    replay([path], speed=10.0, on_progress=lambda p, f: seen.append(f))
    took = time.perf_counter() - start
    assert 0.35 < took < 3.0  # 5 market seconds at 10x: about half a second
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_the_summary_names_only_the_markets_the_run_follows(btc_only_cassette: Path) -> None:
    """Asked for BTC-USD, the run still hears every market's oracle price on v4_markets (ETH-USD
    here; on mainnet a hundred more): the summary, like the dashboard, names BTC-USD alone."""
    config = PipelineConfig(strategy=StrategyConfig(markets=("BTC-USD",)))
    pipeline = replay([btc_only_cassette], config=config)
    assert "ETH-USD" in pipeline.markets  # heard
    summary = pipeline.summary()
    assert summary["markets"] == ["BTC-USD"]
    assert list(summary["oracle_price"]) == ["BTC-USD"]
    assert list(summary["best_bid"]) == list(summary["best_ask"]) == ["BTC-USD"]
