"""Live versus replay, end to end: the bars the bot served live over its WebSocket (recorded
through the plugin) equal, message for message and hash for hash, the bars a deterministic
replay of the recorded input builds; and the candles page and the dashboard in a real Chromium.

The live run is ``tradingbot run --serve 0`` against the local indexer (conftest.py); the
replay is ``tradingbot.pipeline.replay`` on virtual time into a ``BarHub``. What is compared
and what is not is in docs/web.md, "Parity end to end".
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bot_process import BotProcess
from chromium import launched, requires_chromium, screenshot, wait_until, watched_page
from dashboard_server import serve_in_thread

from pytest_streamreplay.cassette import CassetteWriter, iter_records, read_header
from pytest_streamreplay.cassette.records import WsMessage
from pytest_streamreplay.streams import (
    ParityTracker,
    StreamHasher,
    VirtualScheduler,
    cassette_stream,
    collect,
)
from pytest_streamreplay.streams.parity import normalize
from tradingbot.market.bars import Bar
from tradingbot.serve import BAR_CONFIRMED, BAR_FORMING, BarHub, bar_parity
from tradingbot.simulator import SimulatorThread

from .conftest import (
    BOT_SECONDS,
    INDEXER,
    MARKET,
    MARKET_SPEED,
    RESOLUTION,
    LiveSession,
    Message,
    align,
    replay_bar_messages,
    subscriber_view,
)

# One worker runs the whole module (``make test`` distributes with ``--dist loadgroup``), so the
# recorded live session (a module fixture, ~10 s) is made once.
pytestmark = pytest.mark.xdist_group("live_session")


def read_messages(cassette: Path) -> list[Message]:
    """A cassette's received messages, read on virtual time (instant and deterministic)."""
    return collect(cassette_stream(cassette, scheduler=VirtualScheduler()))


def confirmed_bars(messages: list[Message]) -> list[dict[str, Any]]:
    return [m["bar"] for m in messages if m["type"] == BAR_CONFIRMED]


# -- parity --------------------------------------------------------------------------------------


def test_live_bars_equal_the_replayed_bars(live_session: LiveSession) -> None:
    live = read_messages(live_session.output)
    assert live == live_session.received  # the output cassette holds what the client read
    for message in live:
        assert message["parity"] == bar_parity(message["bar"])
        assert (message["type"] == BAR_CONFIRMED) == message["bar"]["confirmed"]
    assert len(confirmed_bars(live)) >= 2, "too short a live run to compare"

    replayed, pipeline = replay_bar_messages(live_session.input)
    joined, expected = align(live, replayed)
    report = ParityTracker().compare(live, expected)
    assert report.equal, f"{report} (client joined after {joined} messages)"
    assert StreamHasher().update_all(live).digest == StreamHasher().update_all(expected).digest

    # the bars themselves: the client's, the replay engine's, and the counts on both sides
    engine = pipeline.market.bars.history(MARKET, RESOLUTION)
    assert confirmed_bars(live) == [normalize(bar) for bar in engine]
    summary = pipeline.summary()
    live_summary = live_session.summary
    assert live_summary["bars_confirmed"] == summary["bars_confirmed"] == len(engine)
    # the bot processed exactly the input the replay read: nothing was left in flight. Live,
    # the pipeline gets every event of the connection (``StreamFeed.connection``), as the
    # replay decodes every received message, ``connected`` included
    assert any("channel" not in m for m in read_messages(live_session.input))
    assert live_summary["events"] == summary["events"]


def test_a_perturbed_output_reports_the_first_divergence(
    live_session: LiveSession, tmp_path: Path
) -> None:
    """The check can fail: one confirmed bar's close changed in a copy of the output cassette
    is reported at its index, with both items, and the hashes differ."""
    live = read_messages(live_session.output)
    index = next(i for i, m in enumerate(live) if m["type"] == BAR_CONFIRMED)
    perturbed_path = tmp_path / "perturbed.jsonl"
    seen = 0
    with CassetteWriter(perturbed_path, read_header(live_session.output)) as writer:
        for record in iter_records(live_session.output):
            obj = record.to_json()
            if isinstance(record, WsMessage) and record.dir == "recv":
                if seen == index:
                    value = json.loads(json.dumps(obj["json"]))
                    value["bar"]["close"] = str(Decimal(value["bar"]["close"]) + 1)
                    obj["json"] = value
                seen += 1
            writer.write(obj)
    perturbed = read_messages(perturbed_path)
    assert len(perturbed) == len(live)

    report = ParityTracker().compare(perturbed, live)
    assert not report.equal
    assert report.left_digest != report.right_digest
    assert report.divergence is not None
    assert report.divergence.index == index
    assert report.divergence.left == perturbed[index] != live[index] == report.divergence.right
    assert f"first divergence at item {index}" in str(report)
    # and the message no longer carries its bar's hash
    assert perturbed[index]["parity"] != bar_parity(perturbed[index]["bar"])


def test_replay_command_with_the_exchange_clock_rebuilds_the_live_bars(
    live_session: LiveSession, tmp_path: Path
) -> None:
    """What a user runs: ``tradingbot replay --exchange-clock`` on the recorded input confirms
    the bars the live bot confirmed, as the in-process replay does."""
    out = tmp_path / "summary.json"
    command = [sys.executable, "-m", "tradingbot.cli", "replay", str(live_session.input)]
    command += ["--headless", "--exchange-clock", "--time-scale", str(MARKET_SPEED)]
    command += ["--summary-json", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(out.read_text())
    _, pipeline = replay_bar_messages(live_session.input)
    expected = pipeline.summary()
    for key in ("bars_confirmed", "late_trades", "candle_mismatches", "events"):
        assert summary[key] == expected[key], key
    assert summary["bars_confirmed"] == live_session.summary["bars_confirmed"]
    # the exchange clock waits for the indexer's batched trades: none dropped, and the bars
    # agree with the indexer's own candles
    assert summary["late_trades"] == live_session.summary["late_trades"] == 0
    assert summary["candle_mismatches"] == live_session.summary["candle_mismatches"] == 0


def _bar(minute: int, close: int, confirmed: bool) -> Bar:
    start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)
    price = Decimal(close)
    return Bar(
        MARKET,
        RESOLUTION,
        start,
        start + timedelta(minutes=1),
        *(price, price, price, price),
        Decimal(1),
        price,
        1,
        confirmed=confirmed,
    )


@pytest.mark.parametrize("joined", range(6))
def test_subscriber_view_is_what_the_hub_sends_a_late_subscriber(joined: int) -> None:
    """The only normalisation of the live stream (a late join) matches the real hub."""
    bars = [_bar(0, 1, False), _bar(0, 2, False), _bar(0, 2, True), _bar(1, 3, False)]
    bars += [_bar(1, 3, True)]
    hub = BarHub((RESOLUTION,))
    everything = [hub.publish(b) for b in bars[:joined]]

    async def late() -> list[Message]:
        sub = hub.subscribe(MARKET, RESOLUTION)
        everything.extend(hub.publish(b) for b in bars[joined:])
        hub.close()
        got = list(sub.initial)
        while (message := await asyncio.wait_for(sub.get(), 5)) is not None:
            got.append(message)
        return got

    got = asyncio.run(late())
    assert got == subscriber_view(everything, joined)
    assert align(got, everything)[1] == got


# -- the browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as chromium:
        yield chromium


PAGE_BOT_SECONDS = 20.0


@requires_chromium
def test_candles_page_draws_the_live_bars_and_follows_the_websocket(
    browser: Any, tmp_path: Path
) -> None:
    """``tradingbot run --serve``'s page in Chromium while the bot runs: candles are drawn,
    and a newly confirmed bar reaches the chart."""
    pytest.importorskip(
        "dydx_v4_client", reason="dydx-v4-client is not installed (Python < 3.13 only)"
    )
    indexer = SimulatorThread(replace(INDEXER, tick_ms=10)).start()  # a 1MIN bar every 0.6 s
    # The page must see bars confirmed while the bot runs: on a loaded box Chromium, the page
    # and plotly took longer than the other tests' BOT_SECONDS (a 15 s wait timed out).
    bot = BotProcess(
        "run",
        *("--rest-url", indexer.rest_url, "--ws-url", indexer.ws_url),
        *("--market", MARKET, "--duration", str(PAGE_BOT_SECONDS)),
        *("--paper", "--headless", "--serve", "0"),
    )
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        url = bot.serving_url()
        with watched_page(context, url) as page:
            page.goto(url + f"bars/{MARKET}/{RESOLUTION}")
            assert page.title() == f"tradingbot {MARKET} {RESOLUTION}"
            # plotly draws one box path per candle
            page.wait_for_function("document.querySelectorAll('#chart path.box').length >= 2")
            drawn = "document.getElementById('chart').data[0].text"
            before = page.evaluate(f"{drawn}.filter(t => t.startsWith('confirmed')).length")
            page.wait_for_function(
                f"{drawn}.filter(t => t.startsWith('confirmed')).length > {before}"
            )
            page.wait_for_function("document.querySelectorAll('#chart path.box').length >= 5")
            # One box per candle, both read in one page task: bars keep arriving while the bot
            # runs (one every 0.6 s), so two separate reads could straddle a new candle
            # (8 boxes vs 7 candles, seen on 3.11).
            boxes, candles = page.evaluate(
                "[document.querySelectorAll('#chart path.box').length,"
                " document.getElementById('chart').data[0].x.length]"
            )
            assert boxes == candles >= 5
            assert page.inner_text("#status").startswith("live: ")
            time.sleep(0.3)  # let plotly finish the frame
            screenshot(page, "candles.png", tmp_path)

            summary = bot.summary()
            page.wait_for_function(
                "document.getElementById('status').textContent.startsWith('disconnected (1001)')"
            )
            # the page saw every confirmed bar: the snapshot it joined with, then live ones
            assert page.evaluate("confirmed") == summary["bars_confirmed"] > before
    finally:
        context.close()
        bot.stop()
        indexer.stop()


@requires_chromium
def test_dashboard_on_the_recorded_live_session(
    browser: Any, live_session: LiveSession, tmp_path: Path
) -> None:
    """``streamreplay web`` over this module's recording: the list, the session's timeline,
    a filter that narrows the messages to the confirmed bars, and a filtered cassette of them
    that holds the bars the client received."""
    root = live_session.session.parent
    live = read_messages(live_session.output)
    total = sum(isinstance(r, WsMessage) for r in iter_records(live_session.session))
    server = serve_in_thread(root)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        with watched_page(context, server.url) as page:
            page.goto(server.url + "/")
            page.wait_for_selector("body[data-loaded='1']")
            assert page.locator("#cassettes tbody tr").count() == 3  # session, input, output
            page.fill("#search", "output")
            wait_until(page, "document.querySelectorAll('#cassettes tbody tr').length === 1")

            page.goto(server.url + "/cassette/session.jsonl")
            page.wait_for_selector("body[data-loaded='1']")
            page.wait_for_selector("#timeline .main-svg")
            assert int(page.get_attribute("#timeline", "data-points") or 0) == total
            assert page.locator("#connections tbody tr").count() == 2  # feed and bars
            assert int(page.get_attribute("#messages", "data-total") or 0) == total

            page.set_viewport_size({"width": 1400, "height": 1150})
            time.sleep(0.5)  # let plotly finish resizing and drawing
            screenshot(page, "dashboard-bot-session.png", tmp_path)

            page.fill("input[name=text]", BAR_CONFIRMED)
            page.click("#filters button[type=submit]")
            want = len(confirmed_bars(live))
            # the dashboard's CSP forbids the eval that page.wait_for_function needs
            wait_until(page, f"document.getElementById('messages').dataset.total === '{want}'")
            wait_until(page, f"document.getElementById('timeline').dataset.points === '{want}'")

            page.fill("#create input[name=output]", "cut/confirmed.jsonl")
            page.click("#create button[type=submit]")
            page.wait_for_selector("#created a")
    finally:
        context.close()
        server.stop()
    cut = root / "cut" / "confirmed.jsonl"
    assert read_header(cut).extra["filtered_from"] == "session.jsonl"
    kept = read_messages(cut)
    assert [m["bar"] for m in kept] == confirmed_bars(live)
    assert {m["type"] for m in live} == {BAR_FORMING, BAR_CONFIRMED}


def test_live_and_replay_summaries_count_alike(live_session: LiveSession) -> None:
    """The same session, live and replayed: ``messages`` counts indexer messages in both (not
    events in one and messages in the other), ``events`` the decoded events, and
    ``market_seconds`` the exchange's time (the indexer ran at ``MARKET_SPEED`` x, so it is
    that many times the wall time the feed lasted)."""
    live = live_session.summary
    _, pipeline = replay_bar_messages(live_session.input)
    replayed = pipeline.summary()
    recorded = sum(
        1 for r in iter_records(live_session.input) if isinstance(r, WsMessage) and r.dir == "recv"
    )
    assert replayed["messages"] == recorded
    assert live["messages"] == replayed["messages"]
    counts = ("messages", "events")
    assert [live[k] for k in counts] == [replayed[k] for k in counts], (live, replayed)
    assert live["events"] > live["messages"]
    assert live["bars_confirmed"] == replayed["bars_confirmed"] >= 2
    # one confirmed 1MIN bar needs a minute of market time; far less than that went by on the
    # wall clock (BOT_SECONDS)
    assert live["market_seconds"] == replayed["market_seconds"]
    assert live["market_seconds"] >= 60 * live["bars_confirmed"] > BOT_SECONDS
