"""One driver shape: replay and live differ only in their source and clock, and an error ends
either run at once, with exit code 1 and the error on stderr from the command."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dydx_v4_client", reason="dydx-v4-client is not installed (Python < 3.13 only)")

from tradingbot import cli
from tradingbot.feeds.stream import StreamFeed
from tradingbot.market.bars import Bar
from tradingbot.pipeline import replay, run_live
from tradingbot.signals import SignalEngine
from tradingbot.simulator import SimulatorThread
from tradingbot.testing import write_dev_cassette


class Boom(RuntimeError):
    pass


def _failing_tap(after: int) -> tuple[Callable[[Any], None], list[Any]]:
    seen: list[Any] = []

    def tap(item: Any) -> None:
        seen.append(item)
        if len(seen) == after:
            raise Boom(f"tap failed on item {after}")

    return tap, seen


@pytest.mark.timeout(60)
def test_an_error_ends_a_live_run_at_once(simulator: SimulatorThread) -> None:
    tap, seen = _failing_tap(50)
    feed = StreamFeed(simulator.ws_url)
    events = feed.connection(feed.markets(), feed.order_book("BTC-USD"), feed.trades("BTC-USD"))
    feed.start()
    try:
        with pytest.raises(Boom, match="item 50"):
            # far longer than the test's timeout: only the error can end it in time
            run_live(events, duration=600, taps=[tap])
    finally:
        feed.close()
    assert len(seen) == 50  # nothing was processed after the error


def test_an_error_ends_a_replay_the_same_way(tmp_path: Path) -> None:
    path = write_dev_cassette(tmp_path / "dev.jsonl", minutes=3)
    tap, seen = _failing_tap(50)
    with pytest.raises(Boom, match="item 50"):
        replay([path], taps=[tap])
    assert len(seen) == 50


def _explode_on_confirmed_bars(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in the signal layer: it raises on the first confirmed bar."""
    apply = SignalEngine.apply

    def buggy(self: SignalEngine, item: Any) -> Any:
        if isinstance(item, Bar) and item.confirmed:
            raise Boom("indicator blew up")
        return apply(self, item)

    monkeypatch.setattr(SignalEngine, "apply", buggy)


@pytest.mark.timeout(60)
def test_run_command_exits_nonzero_with_the_error_on_stderr(
    make_simulator: Callable[..., SimulatorThread],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim = make_simulator(seed=3, tick_ms=20, flush_ms=100, settle_ms=50)
    _explode_on_confirmed_bars(monkeypatch)
    where = ["--rest-url", sim.rest_url, "--ws-url", sim.ws_url, "--market", "BTC-USD"]
    code = cli.main(["run", *where, "--paper", "--headless", "--duration", "600"])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        "tradingbot run: error: the run ended on Boom: indicator blew up"
    )
    assert '"bars_confirmed"' not in out  # no summary of a failed run


def test_replay_command_exits_nonzero_with_the_error_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_dev_cassette(tmp_path / "dev.jsonl", minutes=3)
    _explode_on_confirmed_bars(monkeypatch)
    code = cli.main(["replay", str(path), "--headless"])
    _, err = capsys.readouterr()
    assert code == 1
    assert err.strip() == "tradingbot replay: error: the run ended on Boom: indicator blew up"
