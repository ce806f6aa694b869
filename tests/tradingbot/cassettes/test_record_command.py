"""``tradingbot record`` against the local indexer, in a subprocess; the cassette replays."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_streamreplay.cassette import iter_records
from pytest_streamreplay.cassette.records import HttpInteraction, WsConnection
from tradingbot.cli import main
from tradingbot.simulator import SimulatorThread


def test_record_then_replay(make_simulator: Callable[..., SimulatorThread], tmp_path: Path) -> None:
    pytest.importorskip(
        "dydx_v4_client", reason="dydx-v4-client is not installed (Python < 3.13 only)"
    )
    sim = make_simulator(seed=3, tick_ms=20, flush_ms=100, settle_ms=50, heartbeat_s=None)
    out = tmp_path / "session" / "local.jsonl"
    env = {**os.environ, "STREAMREPLAY_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tradingbot.cli",
            "record",
            "--out",
            str(out),
            "--duration",
            "2",
            "--rest-url",
            sim.rest_url,
            "--ws-url",
            sim.ws_url,
            "--market",
            "BTC-USD",
            "--market",
            "ETH-USD",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["bytes"] == out.stat().st_size > 0
    assert summary["websocket_connections"] == 1
    assert summary["http_interactions"] == 3  # perpetualMarkets + two order books
    per_channel = summary["messages_per_channel"]
    assert per_channel["connected"] == 1
    for channel in ("v4_markets", "v4_orderbook", "v4_trades", "v4_candles"):
        assert per_channel[channel] > 2, per_channel
    assert summary["feed_errors"] == 0

    records = list(iter_records(out))
    assert [r.url for r in records if isinstance(r, WsConnection)] == [sim.ws_url]
    urls = [r.request.url for r in records if isinstance(r, HttpInteraction)]
    assert urls[0] == f"{sim.rest_url}/v4/perpetualMarkets"

    replayed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tradingbot.cli",
            "replay",
            str(out),
            "--headless",
            "--summary-json",
            str(tmp_path / "summary.json"),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )
    assert replayed.returncode == 0, replayed.stderr
    result = json.loads((tmp_path / "summary.json").read_text())
    assert result["markets"] == ["BTC-USD", "ETH-USD"]
    assert result["messages"] == summary["messages_received"]
    assert result["feed_errors"] == 0 and result["quality_issues"] == 0
    assert set(result["best_bid"]) == {"BTC-USD", "ETH-USD"}
    assert set(result["oracle_price"]) == {"BTC-USD", "ETH-USD"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--duration", "0"], "--duration must be > 0"),
        (["--rest-url", "http://127.0.0.1:9"], "give both --rest-url and --ws-url"),
        (
            ["--network", "testnet", "--rest-url", "http://a", "--ws-url", "ws://a"],
            "not both",
        ),
        (["--market", " , "], "need at least one market"),
    ],
)
def test_record_rejects_bad_arguments(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["record", "--out", str(tmp_path / "x.jsonl"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()
