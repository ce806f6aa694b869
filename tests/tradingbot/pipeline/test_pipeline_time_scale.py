"""A cassette recorded from a simulator running 20x replays in market time with time_scale."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradingbot.pipeline import replay

CASSETTE = Path(__file__).resolve().parents[3] / "cassettes" / "dydx" / "book_trades_candles.jsonl"


def test_time_scale_runs_the_strategy_in_market_time() -> None:
    compressed = replay([CASSETTE]).summary()
    first = replay([CASSETTE], time_scale=20).summary()
    again = replay([CASSETTE], time_scale=20).summary()
    assert first["messages"] == compressed["messages"] == 1346
    # 5 market minutes instead of 15 s: 30 s cooldowns pass and bar timers fire in market time.
    assert first["orders"] > compressed["orders"]
    assert first["bars_confirmed"] >= compressed["bars_confirmed"]
    assert (first["intents_sha256"], first["fills_sha256"]) == (
        again["intents_sha256"],
        again["fills_sha256"],
    )


def test_time_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="time_scale must be positive"):
        replay([CASSETTE], time_scale=0)
