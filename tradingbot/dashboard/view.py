"""The Rich terminal dashboard: one Layout rebuilt from a snapshot of the pipeline.

Why a snapshot: the pipeline runs on the feed's (or the replay's) thread and the screen is
redrawn on another; :func:`snapshot` copies what the panels show under the pipeline's lock, so
rendering never reads half-updated state. Rendering is a pure function of the snapshot, which
is also how the tests check it (a fixed-size ``Console(record=True)``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.layout import Layout
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from tradingbot.execution.reports import AccountState, ExecutionReport
from tradingbot.feeds.events import Fill
from tradingbot.signals import SignalScorer

if TYPE_CHECKING:
    from tradingbot.pipeline import Pipeline

__all__ = [
    "HIDE_FIRST",
    "REFRESH_HZ",
    "Dashboard",
    "DashboardData",
    "MarketRow",
    "render",
    "shown_markets",
    "shown_sections",
    "snapshot",
    "sparkline",
]

DRAW_SHARE = 0.2
"""At most this share of the time goes to redrawing, however slow a redraw is."""

REFRESH_HZ = 10.0
"""Redraws per wall second at most: a screen cannot show more, and a snapshot plus a layout
cost far more than an event, so drawing per update would set the pace of a fast replay."""

_BLOCKS = "▁▂▃▄▅▆▇█"
DEPTH_BAND = Decimal("0.001")
"""The depth column: resting size within 0.1% (10 bps) of the mid, each side."""


def sparkline(values: Sequence[Decimal | float], width: int = 24) -> str:
    """The last ``width`` values as block characters scaled between their min and max."""
    data = [float(v) for v in values[-width:]]
    if not data:
        return ""
    low, high = min(data), max(data)
    if high == low:
        return _BLOCKS[3] * len(data)
    span = high - low
    return "".join(_BLOCKS[min(7, int((v - low) / span * 8))] for v in data)


@dataclass(frozen=True, slots=True)
class MarketRow:
    market: str
    oracle: Decimal | None
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]
    closes: tuple[Decimal, ...]
    bars: int
    score: float | None
    explain: str
    depth: tuple[Decimal, Decimal] | None = None
    """(bid size, ask size) within ``DEPTH_BAND`` of the mid, over the whole book."""
    components: tuple[tuple[str, float], ...] = ()
    """The score's components: (name, signal), one column each in the Signals panel."""


@dataclass(frozen=True, slots=True)
class DashboardData:
    """Everything the panels show, copied out of a running pipeline."""

    title: str
    market_time: datetime | None
    progress: float | None
    markets: tuple[MarketRow, ...]
    account: AccountState | None
    reports: tuple[ExecutionReport, ...]
    fills: tuple[Fill, ...]
    feed: str
    messages: int
    events: int
    signals: int
    orders: int
    fill_count: int
    rejected: int
    guard_actions: int
    quality_issues: tuple[str, ...]
    latency_ms: dict[str, float]
    events_per_second: float
    max_margin_usage: Decimal
    extra: dict[str, Any] = field(default_factory=dict)


def shown_markets(pipeline: Pipeline) -> list[str]:
    """The markets the run follows (:meth:`Pipeline.followed_markets`, as the summary): a
    market seen only on v4_markets (its oracle price) would show an empty row."""
    return pipeline.followed_markets()


def snapshot(
    pipeline: Pipeline, *, title: str = "tradingbot", progress: float | None = None
) -> DashboardData:
    """Copy the pipeline's visible state (``run_live`` calls ``on_progress`` holding
    ``pipeline.lock``)."""
    rows = []
    for market in shown_markets(pipeline):
        book = pipeline.market.books.book(market)
        history = pipeline.market.bars.history(market, pipeline.config.resolutions[0])
        closes = [b.close for b in history]
        forming = pipeline.market.bars.forming(market, pipeline.config.resolutions[0])
        if forming is not None:
            closes.append(forming.close)
        score = pipeline.last_scores.get(market)
        rows.append(
            MarketRow(
                market=market,
                oracle=pipeline.oracle.get(market),
                bids=book.bids(5) if book is not None else (),
                asks=book.asks(5) if book is not None else (),
                closes=tuple(closes[-40:]),
                bars=len(history),
                score=score.value if score is not None else None,
                explain=", ".join(f"{c.name} {c.signal:+.2f}" for c in score) if score else "",
                depth=book.depth_within(DEPTH_BAND) if book is not None else None,
                components=tuple((c.name, c.signal) for c in score) if score else (),
            )
        )
    ex = pipeline.execution
    status = pipeline.feed_status
    if status is not None:
        feed = f"{status.state.value}" + (f" ({status.detail})" if status.detail else "")
    elif pipeline.completed:
        feed = "replay complete"
    else:
        feed = "replaying" if pipeline.mode == "replay" else "waiting"
    wall = max(1e-9, (pipeline.finished_wall or _now()) - pipeline.started_wall)
    return DashboardData(
        title=title,
        market_time=pipeline.market.last_time,  # the exchange's time on the exchange clock
        progress=progress,
        markets=tuple(rows),
        account=ex.last_state,
        reports=tuple(ex.recent_reports[-8:]),
        fills=tuple(ex.recent_fills[-8:]),
        feed=feed,
        messages=pipeline.messages,
        events=pipeline.events,
        signals=pipeline.scores,
        orders=ex.orders,
        fill_count=ex.fills,
        rejected=ex.rejected,
        guard_actions=ex.guard_actions,
        quality_issues=tuple(f"{i.kind.value} {i.stream}" for i in pipeline.market.issues[-3:]),
        latency_ms=pipeline.latency.stats_ms(),
        events_per_second=pipeline.events / wall,
        max_margin_usage=ex.max_margin_usage,
    )


def _now() -> float:
    return time.perf_counter()


def _fmt(value: Decimal | None, places: int = 2) -> str:
    if value is None:
        return "-"
    if not value.is_finite():
        return "inf"
    return f"{value:,.{places}f}"


def _markets_panel(data: DashboardData) -> Panel:
    table = Table(box=box.SIMPLE, expand=True, pad_edge=False)
    for name in ("market", "oracle", "bid", "ask", "spread", "depth ±10bp", "bars"):
        table.add_column(name, justify="left" if name == "market" else "right", no_wrap=True)
    table.add_column("closes", no_wrap=True, overflow="crop", ratio=1)  # takes what is left
    for row in data.markets:
        bid = row.bids[0][0] if row.bids else None
        ask = row.asks[0][0] if row.asks else None
        spread = ask - bid if bid is not None and ask is not None else None
        table.add_row(
            row.market,
            str(row.oracle) if row.oracle is not None else "-",
            str(bid) if bid is not None else "-",
            str(ask) if ask is not None else "-",
            str(spread) if spread is not None else "-",
            depth_text(row.depth),
            str(row.bars),
            Text(sparkline(row.closes), style="cyan"),
        )
    return Panel(table, title="Markets & oracle prices", border_style="blue")


def depth_text(depth: tuple[Decimal, Decimal] | None) -> str:
    """``bid size / ask size`` near the mid, to 4 decimals (a sum of many levels' sizes)."""
    if depth is None:
        return "-"
    return f"{_fmt(depth[0], 4)} / {_fmt(depth[1], 4)}"


def _book_panel(data: DashboardData) -> Panel:
    grids: list[RenderableType] = []
    for row in data.markets:
        table = Table(title=row.market, box=box.MINIMAL, expand=True, pad_edge=False)
        table.add_column("bid size", justify="right", style="green", no_wrap=True)
        table.add_column("bid", justify="right", style="green", no_wrap=True)
        table.add_column("ask", justify="right", style="red", no_wrap=True)
        table.add_column("ask size", justify="right", style="red", no_wrap=True)
        for i in range(max(len(row.bids), len(row.asks))):
            b = row.bids[i] if i < len(row.bids) else None
            a = row.asks[i] if i < len(row.asks) else None
            table.add_row(
                str(b[1]) if b else "",
                str(b[0]) if b else "",
                str(a[0]) if a else "",
                str(a[1]) if a else "",
            )
        grids.append(table)
    side_by_side = Table.grid(expand=True, padding=(0, 1))  # one column per market: the
    for _ in grids:  # panel's height does not grow with the number of markets
        side_by_side.add_column(ratio=1)
    if grids:
        side_by_side.add_row(*grids)
    return Panel(side_by_side, title="Order book (top 5)", border_style="blue")


_SHORT_NAMES = {"momentum": "mom.", "mean_reversion": "mean rev."}
"""Component column headers: the half-width Signals panel holds four numeric columns, not four
``name value`` phrases (they wrapped, and the panel cut the second line)."""


def _signals_panel(data: DashboardData) -> Panel:
    names = list(SignalScorer.COMPONENTS)  # always every column: "-" until a component has data
    for row in data.markets:
        names += [name for name, _ in row.components if name not in names]
    table = Table(box=box.SIMPLE, expand=True, pad_edge=False)
    table.add_column("market", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    for name in names:
        table.add_column(_SHORT_NAMES.get(name, name), justify="right", no_wrap=True)
    for row in data.markets:
        score = "-" if row.score is None else f"{row.score:+.3f}"
        style = "green" if (row.score or 0) > 0 else "red" if (row.score or 0) < 0 else ""
        signals = dict(row.components)
        cells = [f"{signals[n]:+.2f}" if n in signals else "-" for n in names]
        table.add_row(row.market, Text(score, style=style), *cells)
    footer = Text(f"signals {data.signals}", style="dim")
    return Panel(Group(table, footer), title="Signals", border_style="magenta")


def _positions_panel(data: DashboardData) -> Panel:
    table = Table(box=box.SIMPLE, expand=True, pad_edge=False, collapse_padding=True)
    for name in ("market", "size", "entry", "oracle", "uPnL", "liq. px"):
        table.add_column(name, justify="left" if name == "market" else "right", no_wrap=True)
    acct = data.account
    if acct is not None:
        for p in acct.positions:
            table.add_row(
                p.market,
                str(p.size),
                _fmt(p.entry_price),
                _fmt(p.oracle_price),
                _fmt(p.unrealized_pnl),
                _fmt(p.liquidation_price),
            )
    return Panel(table, title="Positions", border_style="green")


def _gauge(label: str, value: Decimal, limit: Decimal) -> Table:
    ratio = float(min(value / limit, Decimal(1))) if value.is_finite() and limit else 1.0
    style = "green" if ratio < 0.5 else "yellow" if ratio < 0.8 else "red"
    grid = Table.grid(expand=True)
    grid.add_column(width=20)
    grid.add_column(ratio=1)
    grid.add_column(width=10, justify="right")
    shown = f"{value:.2%}" if value.is_finite() else "inf"
    grid.add_row(label, ProgressBar(total=1.0, completed=ratio, complete_style=style), Text(shown))
    return grid


def _margin_panel(data: DashboardData) -> Panel:
    acct = data.account
    if acct is None:
        body: RenderableType = Text("no account state yet", style="dim")
    else:
        body = Group(
            # two lines: on one, a half-width panel wrapped the USDC balance away from its label
            Text(f"equity {_fmt(acct.equity)}  USDC {_fmt(acct.quote_balance)}", no_wrap=True),
            Text(f"free collateral {_fmt(acct.free_collateral)}", no_wrap=True),
            _gauge("margin usage", acct.margin_usage, Decimal(1)),
            _gauge("maintenance ratio", acct.maintenance_ratio, Decimal(1)),
            Text(
                f"max margin usage {data.max_margin_usage:.2%}  guard actions "
                f"{data.guard_actions}" + ("  LIQUIDATABLE" if acct.liquidatable else ""),
                style="red" if acct.liquidatable else "dim",
            ),
        )
    return Panel(body, title="Margin", border_style="yellow")


def _orders_panel(data: DashboardData, hidden: Sequence[str] = ()) -> Panel:
    # ids are long and alike: they give way (ellipsis) so statuses and numbers stay whole
    table = Table(box=box.SIMPLE, expand=True, pad_edge=False, show_edge=False)
    table.add_column("id", no_wrap=True, overflow="ellipsis", ratio=1, min_width=6)
    for name in ("market", "side", "kind", "status", "filled", "avg px"):
        table.add_column(name, no_wrap=True)
    for r in data.reports[-4:]:
        table.add_row(
            r.intent_id,
            r.market,
            r.side.value,
            r.kind.value,
            r.status.value,
            f"{r.filled}/{r.requested}",
            _fmt(r.average_price),
        )
    fills = Table(box=box.SIMPLE, expand=True, pad_edge=False, show_edge=False)
    fills.add_column("fill", no_wrap=True, overflow="ellipsis", ratio=1, min_width=6)
    for name in ("market", "side", "price", "size", "liq.", "fee"):
        fills.add_column(name, no_wrap=True)
    for f in data.fills[-4:]:
        fills.add_row(
            f.fill_id,
            f.market,
            f.side.value,
            str(f.price),
            str(f.size),
            f.liquidity or "",
            _fmt(f.fee, 4),
        )
    counts = Text(
        f"orders {data.orders}  fills {data.fill_count}  rejected {data.rejected}", style="dim"
    )
    note = f"{', '.join(hidden)} hidden: a taller terminal shows them" if hidden else None
    return Panel(
        Group(table, fills, counts), title="Orders & fills", subtitle=note, border_style="cyan"
    )


def _feed_panel(data: DashboardData) -> Panel:
    lat = data.latency_ms
    lines = [
        f"feed: {data.feed}",
        f"messages {data.messages}  events {data.events}  {data.events_per_second:,.0f} ev/s",
        f"latency ms p50 {lat['p50']:.3f}  p99 {lat['p99']:.3f}  max {lat['max']:.3f}",
        "quality: " + ("; ".join(data.quality_issues) or "ok"),
    ]
    return Panel(Text("\n".join(lines)), title="Feed & processing", border_style="white")


def _header(data: DashboardData) -> RenderableType:
    """Title (cut with an ellipsis if it must be), then the market time in a column of its own
    (always whole), then the progress bar if the run has one."""
    when = data.market_time.strftime("%Y-%m-%d %H:%M:%S UTC") if data.market_time else "-"
    grid = Table.grid(expand=True, padding=(0, 1))
    grid.add_column(ratio=2, no_wrap=True, overflow="ellipsis")
    grid.add_column(no_wrap=True, min_width=len("market time 2024-01-01 00:00:00 UTC"))
    cells: list[RenderableType] = [
        Text(data.title, style="bold", no_wrap=True, overflow="ellipsis"),
        Text(f"market time {when}", style="bold"),
    ]
    if data.progress is not None:
        grid.add_column(ratio=3)
        grid.add_column(width=5, justify="right", no_wrap=True)
        cells += [ProgressBar(total=1.0, completed=data.progress), Text(f"{data.progress:.0%}")]
    grid.add_row(*cells)
    return grid


HIDE_FIRST = ("book", "body", "markets")
"""What a terminal too short for every panel loses first: the book (the markets panel keeps the
best prices), then signals, feed, positions and margin, then the markets. The header and the
orders and fills (what the bot did) stay."""


def _section_sizes(data: DashboardData) -> dict[str, int]:
    """Rows each section needs, top to bottom (50 for two markets)."""
    n = len(data.markets)
    return {"header": 1, "markets": 6 + n, "book": 11, "body": 13 + n, "orders": 15}


def shown_sections(data: DashboardData, height: int | None) -> list[str]:
    """The sections that fit in ``height`` rows (None: no limit), dropping :data:`HIDE_FIRST`
    in order: a short terminal shows fewer panels, each whole, rather than panels drawn over
    one another."""
    sizes = _section_sizes(data)
    shown = list(sizes)
    for name in HIDE_FIRST:
        if height is None or sum(sizes[s] for s in shown) <= height:
            break
        shown.remove(name)
    return shown


def render(data: DashboardData, height: int | None = None) -> Layout:
    """The whole screen for one snapshot, for a terminal of ``height`` rows (None: as tall as
    it needs). The wide tables (markets, the books side by side, orders and fills) span the
    full width: half a terminal would cut their cells; the narrow panels share the row between
    them. Sections that do not fit are left out whole (:func:`shown_sections`), and the orders
    panel's bottom border says which."""
    sizes = _section_sizes(data)
    shown = shown_sections(data, height)
    hidden = [_HIDDEN_NAMES[s] for s in sizes if s not in shown]
    flexible = "body" if "body" in shown else "orders"  # takes any rows left over
    builders = {
        "markets": lambda: _markets_panel(data),
        "book": lambda: _book_panel(data),
        "orders": lambda: _orders_panel(data, hidden),
    }
    layout = Layout(name="root")
    parts = []
    for name in shown:
        size = None if name == flexible else sizes[name]
        build = builders.get(name)
        parts.append(Layout(build() if build else "", name=name, size=size))
    layout.split_column(*parts)
    if "body" in shown:
        layout["body"].split_row(Layout(name="left"), Layout(name="right"))
        layout["left"].split_column(
            Layout(_signals_panel(data), name="signals", size=7 + len(data.markets)),
            Layout(_feed_panel(data), name="feed", size=6),
        )
        layout["right"].split_column(
            Layout(_positions_panel(data), name="positions", size=5 + len(data.markets)),
            Layout(_margin_panel(data), name="margin", size=7),
        )
    layout["header"].update(_header(data))
    return layout


_HIDDEN_NAMES = {"book": "book", "body": "signals/positions", "markets": "markets"}


class Dashboard:
    """A ``rich.live.Live`` screen refreshed from the pipeline's progress callback."""

    def __init__(
        self,
        console: Console | None = None,
        *,
        title: str = "tradingbot",
        refresh_hz: float = REFRESH_HZ,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console or Console()
        self.title = title
        self.interval = 1.0 / refresh_hz
        self.clock = clock
        self.draws = 0
        self._next_at: float | None = None
        self._began: float | None = None  # when running() started: how long a replay has taken
        self._live: Live | None = None

    @contextmanager
    def running(self) -> Iterator[Dashboard]:
        with Live(console=self.console, auto_refresh=False, screen=False, transient=False) as live:
            self._live = live
            self._began = self.clock()
            self._next_at = self.clock() + self.interval  # Live drew the empty screen
            try:
                yield self
            finally:
                self._live = None
        if not self.console.is_terminal:  # Live ends a terminal's last frame with a newline only
            self.console.line()

    def update(self, pipeline: Pipeline, progress: float | None = None) -> None:
        """The pipeline's ``on_progress`` callback: redraw if ``1 / refresh_hz`` seconds passed
        since the last redraw ended (or the run is done), else nothing: the screen refreshes
        on a timer, however often the driver reports."""
        done = progress is not None and progress >= 1.0
        started = self.clock()
        if not done and self._next_at is not None and started < self._next_at:
            return
        if not done and progress and self._began is not None:
            # A frame the last one replaces sooner than the next would be due is never seen at
            # this rate; on a short replay it cost as much as the replay (a 0.07 s bundled
            # session drew at 77 %, then the last frame 20 ms later).
            left = (started - self._began) * (1.0 - progress) / progress
            if left < self.interval:
                return
        self.draws += 1
        data = snapshot(pipeline, title=self.title, progress=progress)
        if self.console.is_terminal:
            layout = render(data, self.console.size.height)
        else:  # a file or a pipe: no height to fit, print the frame whole
            self.console.height = sum(_section_sizes(data).values())
            layout = render(data)
        if self._live is not None:
            # the last frame is drawn once, by Live as it stops (it redraws whatever it holds)
            self._live.update(layout, refresh=not done)
        # the next redraw: an interval after this one ended, and never so soon that redrawing
        # takes more than DRAW_SHARE of the time (a redraw on a busy machine can be slow)
        ended = self.clock()
        self._next_at = ended + max(self.interval, (ended - started) * (1 / DRAW_SHARE - 1))
