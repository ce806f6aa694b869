"""The dashboard rendered to a fixed-size console: panels, numbers, progress."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
from rich.console import Console

from tradingbot.dashboard import Dashboard, render, shown_markets, snapshot, sparkline
from tradingbot.dashboard.view import depth_text
from tradingbot.pipeline import Pipeline, PipelineConfig, replay
from tradingbot.strategy import StrategyConfig
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
        assert depth is not None and depth_text(depth) in text
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


BUNDLED = Path(__file__).resolve().parents[3] / "cassettes" / "dydx" / "book_trades_candles.jsonl"


@pytest.fixture(scope="module")
def bundled() -> Pipeline:
    """``make demo``'s run: the bundled session, recorded at 20x, in market time."""
    return replay([BUNDLED], time_scale=20)


@pytest.mark.parametrize("width", [120, 160])
def test_no_cell_is_cut_at_common_terminal_sizes(bundled: Pipeline, width: int) -> None:
    data = snapshot(bundled, title="tradingbot replay: book_trades_candles.jsonl", progress=0.5)
    lines = _text(render(data), width=width, height=50).splitlines()
    text = "\n".join(lines)
    assert data.market_time is not None
    assert f"market time {data.market_time:%Y-%m-%d %H:%M:%S} UTC" in lines[0]
    for row in data.markets:  # every market's row whole, on one line
        (line,) = [ln for ln in lines if f" {row.market} " in ln and depth_text(row.depth) in ln]
        assert row.bids and row.asks and row.oracle is not None
        for cell in (str(row.oracle), str(row.bids[0][0]), str(row.asks[0][0])):
            assert f" {cell} " in line
    assert data.reports and data.fills
    for report in data.reports[-4:]:
        assert f" {report.status.value} " in text
        assert f" {report.filled}/{report.requested} " in text
    for fill in data.fills[-4:]:
        assert f" {fill.price} " in text and f" {fill.size} " in text
    state = bundled.execution.last_state
    assert state is not None and state.positions
    for pos in state.positions:
        assert f" {pos.size} " in text and f"{pos.liquidation_price:,.2f}" in text
    for label, value in (
        ("equity", state.equity),
        ("free collateral", state.free_collateral),
        ("USDC", state.quote_balance),  # it wrapped away from its label at 120 columns
    ):
        assert f"{label} {value:,.2f}" in text, label


def test_only_the_markets_the_run_follows_are_shown(btc_only_cassette: Path) -> None:
    """v4_markets reports every market; one with no book and no strategy is not a row."""
    btc_only = btc_only_cassette
    pipeline = replay(
        [btc_only], config=PipelineConfig(strategy=StrategyConfig(markets=("BTC-USD",)))
    )
    assert "ETH-USD" in pipeline.markets  # seen, through v4_markets
    assert shown_markets(pipeline) == ["BTC-USD"]
    assert [r.market for r in snapshot(pipeline).markets] == ["BTC-USD"]


def test_the_screen_refreshes_on_a_timer_not_per_update(bundled: Pipeline) -> None:
    wall = [0.0]
    console = Console(record=True, width=120, height=50, color_system=None, force_terminal=True)
    board = Dashboard(console, refresh_hz=8, clock=lambda: wall[0])  # binary-exact times
    with board.running():  # at 0.0: Live shows the empty screen
        for i in range(1, 129):  # two seconds of updates, one every 1/64 s
            wall[0] = i / 64
            board.update(bundled, i / 256)
        assert board.draws == 16  # at 0.125, 0.25, ... 2.0 s
        board.update(bundled, 1.0)  # the end is always drawn
        assert "100%" not in console.export_text(clear=False)  # once, as Live stops
    assert board.draws == 17
    assert "100%" in console.export_text()  # the last frame is on the screen


@pytest.mark.parametrize(("progress", "drawn"), [(0.9, 0), (0.5, 1)])
def test_a_frame_the_last_one_replaces_within_an_interval_is_not_drawn(
    bundled: Pipeline, progress: float, drawn: int
) -> None:
    """A short replay (the bundled session, 0.07 s at --speed 0) drew a frame at 77 % that the
    last frame replaced 20 ms later: as costly as the replay, and never seen at 10 Hz."""
    wall = [0.0]
    console = Console(record=True, width=120, height=50, color_system=None, force_terminal=True)
    board = Dashboard(console, refresh_hz=8, clock=lambda: wall[0])
    with board.running():
        wall[0] = 0.25  # at 90 %, about 0.03 s are left (< 1/8 s); at 50 %, 0.25 s
        board.update(bundled, progress)
        assert board.draws == drawn
        wall[0] = 0.3
        board.update(bundled, 1.0)
    assert board.draws == drawn + 1 and "100%" in console.export_text()


def test_a_live_run_without_progress_refreshes_on_the_timer(bundled: Pipeline) -> None:
    wall = [0.0]
    console = Console(record=True, width=120, height=50, color_system=None, force_terminal=True)
    board = Dashboard(console, refresh_hz=8, clock=lambda: wall[0])
    with board.running():
        for i in range(1, 17):  # one second of updates, one every 1/16 s
            wall[0] = i / 16
            board.update(bundled)
    assert board.draws == 8


def _panel_tops(text: str) -> dict[str, int]:
    """How many whole top borders (``╭─ Title ─╮`` on one line) each panel title has."""
    import re

    whole = re.compile(r"╭─+ ([^─╭╮]+?) ─+╮")
    found: dict[str, int] = {}
    for line in text.splitlines():
        for title in whole.findall(line):
            found[title] = found.get(title, 0) + 1
    return found


@pytest.mark.parametrize("height", [24, 30, 40, 45, 48])
def test_a_short_terminal_hides_whole_panels_instead_of_overlapping_them(
    bundled: Pipeline, height: int
) -> None:
    """The panels need 50 rows for two markets. On a shorter terminal (they overlapped: the
    Margin panel drew over the Orders panel's top border at 45 rows) the book goes first, then
    signals, feed, positions and margin, then the markets; what is shown is whole."""
    data = snapshot(bundled, title="tradingbot replay", progress=0.5)
    text = _text(render(data, height=height), width=120, height=height)
    tops = _panel_tops(text)
    assert tops.get("Orders & fills") == 1, text  # what the bot did: always shown, whole
    assert all(count == 1 for count in tops.values()), tops
    assert set(tops) <= set(TITLES)
    lines = text.splitlines()
    assert "market time" in lines[0] and len(lines) == height
    if height >= 39:  # header 1 + markets 8 + body 15 + orders 15
        assert set(tops) == set(TITLES) - {"Order book (top 5)"}
        assert "book hidden: a taller terminal shows them" in text
    else:
        assert "signals/positions hidden" in text


def test_a_file_gets_the_whole_last_frame_then_the_summary_on_its_own_line(
    bundled: Pipeline,
) -> None:
    """Not a terminal (``make demo | tee``, a CI log): no height to fit, so the last frame is
    printed whole (it was cut at 25 rows, and the summary began on its last line)."""
    import io

    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None)
    assert not console.is_terminal
    board = Dashboard(console)
    with board.running():
        board.update(bundled, 1.0)
    console.print("{")
    text = out.getvalue()
    assert set(_panel_tops(text)) == set(TITLES)
    assert text.splitlines()[-1] == "{"


@pytest.fixture(scope="module")
def half_hour(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """Thirty market minutes: enough bars for every signal component (the bundled five-minute
    session has two of the four)."""
    path = write_dev_cassette(tmp_path_factory.mktemp("dev") / "dev.jsonl", seed=7, minutes=30)
    return replay([path])


@pytest.mark.parametrize("width", [120, 160])
def test_every_signal_component_and_the_signal_count_are_whole(
    half_hour: Pipeline, width: int
) -> None:
    """Four components did not fit the half-width Signals panel: they wrapped and the second
    market's second line and the panel's footer were cut."""
    data = snapshot(half_hour, title="tradingbot replay", progress=1.0)
    text = _text(render(data, height=50), width=width, height=50)
    for market, score in sorted(half_hour.last_scores.items()):
        assert len(list(score)) == 4
        value = f" {score.value:+.3f} "
        (line,) = [ln for ln in text.splitlines() if f" {market} " in ln and value in ln]
        for component in score:
            assert f" {component.signal:+.2f} " in line, (market, component.name, line)
    assert f"signals {half_hour.scores}" in text
