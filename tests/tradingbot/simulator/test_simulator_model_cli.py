"""The market model's invariants and determinism, and the ``tradingbot simulate`` command."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import websocket

from tradingbot.cli import build_parser, main
from tradingbot.simulator import EPOCH, MarketModel


def test_model_is_a_function_of_seed_and_steps() -> None:
    a, b, c = (MarketModel(s, warmup_steps=0) for s in (5, 5, 6))
    runs = [[json.dumps(e.contents) for _ in range(50) for e in m.step()] for m in (a, b, c)]
    assert runs[0] == runs[1] and runs[0] != runs[2]
    assert (a.now - EPOCH).total_seconds() == 50  # market time: steps x step_ms, not wall time


def test_model_book_never_crosses_and_candles_match_trades() -> None:
    model = MarketModel(9, markets=("ETH-USD",), warmup_steps=0)
    trades: list[dict[str, str]] = []
    for _ in range(240):  # four market minutes
        for emission in model.step():
            if emission.channel == "v4_trades":
                trades += emission.contents["trades"]
        book = model.orderbook_json("ETH-USD")
        assert Decimal(book["bids"][0]["price"]) < Decimal(book["asks"][0]["price"])
    candles = model.candles_json("ETH-USD", "1MIN", limit=10)["candles"]
    closed = [c for c in candles if c["startedAt"] < "2024-01-01T00:03"]
    for candle in closed:
        minute = [t for t in trades if t["createdAt"][:16] == candle["startedAt"][:16]]
        assert candle["trades"] == len(minute)
        if minute:
            prices = [Decimal(t["price"]) for t in minute]
            assert Decimal(candle["high"]) == max(prices) and Decimal(candle["low"]) == min(prices)
            assert Decimal(candle["close"]) == prices[-1] and Decimal(candle["open"]) == prices[0]
            assert Decimal(candle["baseTokenVolume"]) == sum(Decimal(t["size"]) for t in minute)


def test_cli_parser() -> None:
    args = build_parser().parse_args(
        ["simulate", "--seed", "4", "--markets", "btc-usd, sol-usd", "--tick-ms", "5"]
    )
    assert (args.seed, args.markets, args.tick_ms) == (4, ("BTC-USD", "SOL-USD"), 5.0)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["simulate", "--tick-ms", "0"])
    assert main([]) == 0
    assert main(["simulate", "--replay", "/nonexistent-folder"]) == 2


def test_cli_turns_on_the_optional_shapes() -> None:
    """What the in-repository recording uses can be served by hand too."""
    from tradingbot.cli import simulator_config

    plain = simulator_config(build_parser().parse_args(["simulate"]))
    assert (plain.listing, plain.account_activity, plain.funding_rate_1h) == ((), False, False)
    assert not plain.buffer_event_ids
    args = build_parser().parse_args(
        [
            "simulate",
            *("--listing", "new-usd"),
            *("--account-activity", "--funding-rate-1h", "--buffer-event-ids"),
        ]
    )
    config = simulator_config(args)
    assert config.listing == ("NEW-USD",)
    assert config.account_activity and config.funding_rate_1h and config.buffer_event_ids


def test_cli_simulate_serves_the_protocol(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradingbot.cli", "simulate", "--port", "0", "--seed", "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        ws_url = ""
        while time.monotonic() < deadline and not ws_url:
            line = proc.stdout.readline()
            if line.startswith("WebSocket"):
                ws_url = line.split()[1]
        assert ws_url.startswith("ws://127.0.0.1:")
        ws = websocket.create_connection(ws_url, timeout=5)
        try:
            assert json.loads(ws.recv())["type"] == "connected"
            ws.send(json.dumps({"type": "subscribe", "channel": "v4_markets"}))
            subscribed = json.loads(ws.recv())
            assert set(subscribed["contents"]["markets"]) == {"BTC-USD", "ETH-USD"}
        finally:
            ws.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
