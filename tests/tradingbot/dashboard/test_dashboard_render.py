"""The dashboard rendered to a fixed-size console: panels, numbers, progress."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
from rich.console import Console

from tradingbot.dashboard import Dashboard, render, snapshot, sparkline
from tradingbot.pipeline import Pipeline, PipelineConfig, replay
from tradingbot.testing import write_dev_cassette, write_path_cassette

TITLES = (
    "Markets & oracle prices",
    "Order book (top 5)",
    "Signals",
    "Positions",
    "Margin",
    "Orders & fills",
    "Feed & processing",
)


def _text(renderable: object, width: int = 180, height: int = 60) -> str:
    console = Console(record=True, width=width, height=height, color_system=None)
    console.print(renderable, height=height)
    return console.export_text()


def test_sparkline_scales_between_min_and_max() -> None:
    assert sparkline([D(1), D(2), D(3), D(4), D(5), D(6), D(7), D(8)]) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, 5, 5]) == "▄▄▄"
    assert sparkline([]) == ""
    assert len(sparkline(list(range(100)), width=10)) == 10


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    path = write_dev_cassette(tmp_path_factory.mktemp("dash") / "dev.jsonl", seed=7, minutes=3)
    return replay([path])


def test_every_panel_and_its_key_numbers_render(finished: Pipeline) -> None:
    text = _text(render(snapshot(finished, title="dash test", progress=1.0)))
    for title in TITLES:
        assert title in text
    assert "dash test" in text and "100%" in text
    summary = finished.summary()
    for market in ("BTC-USD", "ETH-USD"):
        assert market in text
        assert summary["best_bid"][market] in text
        assert summary["best_ask"][market] in text
        assert summary["oracle_price"][market] in text
    for market in ("BTC-USD", "ETH-USD"):
        book = finished.market.books.book(market)
        assert book is not None
        depth = book.depth_within(D("0.001"))
        assert depth is not None and f"{depth[0]} / {depth[1]}" in text
    assert f"messages {summary['messages']}" in text
    assert f"orders {summary['orders']}  fills {summary['fills']}" in text
    equity = D(summary["equity"])
    assert f"equity {equity:,.2f}" in text
    assert "margin usage" in text and "maintenance ratio" in text
    assert "feed: replay complete" in text
    assert "latency ms p50" in text
    assert any(ch in text for ch in "▁▂▃▄▅▆▇█")  # the bar sparkline


def test_positions_show_liquidation_prices(tmp_path: Path) -> None:
    path = write_path_cassette(tmp_path / "p.jsonl", [50_000 - 10 * i for i in range(20)])
    pipeline = replay(
        [path], config=PipelineConfig(trade=False, positions={"BTC-USD": (D(1), D(50_000))})
    )
    state = pipeline.execution.last_state
    assert state is not None
    [pos] = state.positions
    assert pos.liquidation_price is not None
    text = _text(render(snapshot(pipeline)))
    assert f"{pos.liquidation_price:,.2f}" in text  # 41,2xx.xx
    assert f"{pos.unrealized_pnl:,.2f}" in text


def test_live_dashboard_updates_a_recorded_console(tmp_path: Path) -> None:
    path = write_path_cassette(tmp_path / "p.jsonl", [100 + i for i in range(30)])
    console = Console(record=True, width=160, height=50, color_system=None, force_terminal=True)
    board = Dashboard(console, title="live test")
    fractions: list[float] = []

    def update(p: Pipeline, f: float) -> None:
        fractions.append(f)
        board.update(p, f)

    with board.running():
        replay([path], on_progress=update, slice_seconds=5.0)
    text = console.export_text()
    assert "live test" in text and "Positions" in text
    assert fractions[-1] == 1.0 and len(fractions) >= 5
