"""A cassette recorded from a simulator running 20x replays in market time with time_scale,
which ``tradingbot replay`` reads from the header's ``market_speed`` unless told."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tradingbot.pipeline import replay
from tradingbot.record import MARKET_SPEED_KEY, recorded_market_speed

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


def _with_speed(src: Path, dst: Path, speed: object) -> Path:
    """A copy of ``src`` whose header declares ``speed`` (None: the key removed)."""
    first, rest = src.read_bytes().split(b"\n", 1)
    header = json.loads(first)
    header.pop(MARKET_SPEED_KEY, None)
    if speed is not None:
        header[MARKET_SPEED_KEY] = speed
    dst.write_bytes(json.dumps(header).encode() + b"\n" + rest)
    return dst


def test_the_bundled_cassette_declares_its_market_speed(tmp_path: Path) -> None:
    assert recorded_market_speed([CASSETTE]) == 20.0
    assert recorded_market_speed([_with_speed(CASSETTE, tmp_path / "live.jsonl", None)]) == 1.0


@pytest.mark.parametrize("bad", [0, -3, "fast", True])
def test_a_bad_market_speed_names_the_file(tmp_path: Path, bad: object) -> None:
    path = _with_speed(CASSETTE, tmp_path / "bad.jsonl", bad)
    with pytest.raises(ValueError, match=r"bad\.jsonl: header market_speed=.* not a positive"):
        recorded_market_speed([path])


def test_cassettes_at_different_speeds_are_refused(tmp_path: Path) -> None:
    slow = _with_speed(CASSETTE, tmp_path / "slow.jsonl", 5)
    with pytest.raises(ValueError, match=r"different market speeds \(5x: .*slow\.jsonl; 20x: "):
        recorded_market_speed([CASSETTE, slow])
    done = _replay_command(CASSETTE, slow)
    assert done.returncode == 2
    assert "different market speeds" in done.stderr and "give --time-scale" in done.stderr


def test_replay_command_takes_the_time_scale_from_the_header(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    done = _replay_command(CASSETTE, "--summary-json", out)
    assert done.returncode == 0, done.stderr
    summary = json.loads(out.read_text())
    scaled = replay([CASSETTE], time_scale=20).summary()
    assert summary["intents_sha256"] == scaled["intents_sha256"]
    assert summary["orders"] == scaled["orders"] > replay([CASSETTE]).summary()["orders"]


def _replay_command(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tradingbot.cli", "replay", "--headless", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )
