"""The dashboard in a real headless Chromium (Debian's), driven by Playwright.

The app runs under uvicorn in a thread on 127.0.0.1:0, exactly as ``streamreplay web`` serves
it (test_command.py starts the real command); no browser is downloaded (see tests/chromium.py).
The screenshot goes to tmp_path, and to ``$STREAMREPLAY_SCREENSHOTS`` when set (e.g.
``STREAMREPLAY_SCREENSHOTS=docs/images``), so a normal run leaves the repository alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chromium import (
    desktop_context,
    launched,
    requires_chromium,
    screenshot,
    wait_until,
    watched_page,
)
from dashboard_server import serve_in_thread

from pytest_streamreplay.cassette import CassetteWriter, WsConnection, new_header, read_header

from .conftest import event_records, feed_records

pytestmark = requires_chromium


def _write_market_feed(path: Path) -> None:
    """Two feeds over a minute with bursts, so the chart has something to show."""
    with CassetteWriter(path, new_header(test="tests/test_feed.py::test_market_day")) as writer:
        writer.write(WsConnection(id=1, url="wss://indexer.dydx.test/v4/ws", t=0.0))
        writer.write(WsConnection(id=2, url="wss://indexer.dydx.test/v4/ws", t=1500.0))
        writer.write(
            {
                "kind": "ws_msg",
                "conn": 1,
                "dir": "send",
                "t": 2.0,
                "json": {
                    "type": "subscribe",
                    "channel": "v4_trades",
                    "id": "BTC-USD",
                    "apiKey": "REDACTED",
                },
            }
        )
        writer.write(
            {
                "kind": "ws_msg",
                "conn": 2,
                "dir": "send",
                "t": 1.0,
                "json": {"type": "subscribe", "channel": "v4_orderbook", "id": "ETH-USD"},
            }
        )
        for i in range(1200):
            t = i * 50.0 + (i % 7) * 3
            burst = 3 if 300 <= i < 420 or 800 <= i < 860 else 1
            for k in range(burst):
                writer.write(
                    {
                        "kind": "ws_msg",
                        "conn": 1,
                        "dir": "recv",
                        "t": t + k,
                        "json": {
                            "type": "channel_data",
                            "channel": "v4_trades",
                            "id": "BTC-USD",
                            "contents": {
                                "trades": [
                                    {
                                        "price": f"{97000 + (i % 50) * 0.5}",
                                        "size": "0.01",
                                        "side": "BUY",
                                    }
                                ]
                            },
                        },
                    }
                )
            if i % 3 == 0:
                writer.write(
                    {
                        "kind": "ws_msg",
                        "conn": 2,
                        "dir": "recv",
                        "t": t + 10,
                        "json": {
                            "type": "channel_data",
                            "channel": "v4_orderbook",
                            "id": "ETH-USD",
                            "contents": {"bids": [["3100.5", "2"]]},
                        },
                    }
                )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from pytest_streamreplay.cassette import write_cassette

    root = tmp_path_factory.mktemp("served") / "cassettes"
    write_cassette(
        root / "feed" / "test_book.jsonl",
        new_header(test="tests/test_feed.py::test_book"),
        feed_records(),
    )
    write_cassette(
        root / "bot" / "session.jsonl",
        new_header(test="tests/test_bot.py::test_session"),
        event_records(),
    )
    _write_market_feed(root / "feed" / "market_day.jsonl")
    server = serve_in_thread(root)
    try:
        yield server.url, root
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def context(browser: Any) -> Iterator[Any]:
    with desktop_context(browser) as context:
        yield context


@pytest.fixture
def page(context: Any, served: tuple[str, Path]) -> Iterator[Any]:
    """A page that fails the test on a script error or on any request off the server."""
    with watched_page(context, served[0]) as page:
        yield page


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-loaded='1']")


def test_list_page_shows_cassettes_and_searches(page: Any, served: tuple[str, Path]) -> None:
    url, _ = served
    _open(page, url + "/")
    rows = page.locator("#cassettes tbody tr")
    assert rows.count() == 3
    assert "tests/test_feed.py::test_book" in page.inner_text("#cassettes")
    page.fill("#search", "bot")
    wait_until(page, "document.querySelectorAll('#cassettes tbody tr').length === 1")
    assert "bot/session.jsonl" in rows.first.inner_text()
    assert "events" in rows.first.inner_text()


def test_cassette_page_chart_filters_zoom_and_create(
    page: Any, served: tuple[str, Path], tmp_path: Path
) -> None:
    """One page load (plotly.min.js is large) exercising the chart, filters and filter-out."""
    url, root = served
    _open(page, url + "/cassette/feed/market_day.jsonl")

    # the timeline chart: plotly SVG with one bar trace per connection and direction
    page.wait_for_selector("#timeline .main-svg")
    assert page.locator("#timeline .trace.bars .point").count() > 50
    assert page.evaluate("document.getElementById('timeline').data.length") == 4
    total = int(page.get_attribute("#timeline", "data-points") or 0)
    assert total == 1 + 1 + (1200 + 2 * 120 + 2 * 60) + 400  # every message, binned
    assert page.locator("#connections tbody tr").count() == 2
    assert "redacted: apiKey" in page.inner_text("#messages li >> nth=0")
    assert page.locator("#messages .redacted").count() == 0  # one line each until opened
    page.click("#messages li >> nth=0 >> summary")
    page.wait_for_selector("#messages li >> nth=0 >> pre .redacted")
    _screenshot(page, tmp_path)

    # filters narrow the list (and the chart)
    before = int(page.get_attribute("#messages", "data-total") or 0)
    assert before == total and page.locator("#messages li").count() == 50
    page.click("#next")
    wait_until(page, r"document.getElementById('range').textContent.startsWith('51\u2013100')")
    assert page.is_enabled("#prev")
    page.select_option("select[name=channel]", "v4_orderbook")
    page.select_option("select[name=dir]", "recv")
    page.click("#filters button[type=submit]")
    _wait_total(page, "400")
    assert set(page.locator("#messages li .meta .tag").all_inner_texts()) == {"v4_orderbook"}
    # the chart is drawn by its own request, which may answer after the list's
    wait_until(page, "document.getElementById('timeline').dataset.points === '400'")
    page.fill("input[name=text]", "3100.5")
    page.press("input[name=text]", "Enter")
    _wait_total(page, "400")  # every orderbook message has that bid
    page.fill("input[name=text]", "97012.5")
    page.select_option("select[name=channel]", "")
    page.select_option("select[name=dir]", "")
    page.click("#filters button[type=submit]")
    wait_until(page, "Number(document.getElementById('messages').dataset.total) < 100")
    assert "97012.5" in page.inner_text("#messages li >> nth=0")

    # a filtered cassette from the selection
    page.fill("input[name=text]", "")
    page.select_option("select[name=channel]", "v4_orderbook")
    page.click("#filters button[type=submit]")
    _wait_total(page, "401")
    page.fill("#create input[name=output]", "cut/orderbook.jsonl")
    page.click("#create button[type=submit]")
    page.wait_for_selector("#created a")
    assert "kept 403 of" in page.inner_text("#created")  # 2 ws + 401 messages
    out = root / "cut" / "orderbook.jsonl"
    assert read_header(out).extra["filtered_from"] == "market_day.jsonl"

    # zooming the chart re-queries both the bins and the list for that time range
    page.evaluate("Plotly.relayout('timeline', {'xaxis.range': [10, 20]})")
    wait_until(page, "document.getElementById('messages').dataset.total !== '401'")
    zoomed = int(page.get_attribute("#messages", "data-total") or 0)
    assert 0 < zoomed < 401
    assert " in +10.000s" in page.inner_text("#range")
    page.click("#reset-zoom")
    _wait_total(page, "401")


def _wait_total(page: Any, total: str) -> None:
    wait_until(page, f"document.getElementById('messages').dataset.total === '{total}'")


def _screenshot(page: Any, tmp_path: Path) -> None:
    page.set_viewport_size({"width": 1400, "height": 1150})
    time.sleep(0.5)  # let plotly finish resizing and drawing
    screenshot(page, "dashboard-market-day.png", tmp_path)  # docs/images: make_screenshots.py


def test_replay_controls_show_progress(page: Any, served: tuple[str, Path]) -> None:
    url, _ = served
    _open(page, url + "/cassette/bot/session.jsonl")
    assert page.is_visible("#replay")
    page.fill("#replay-speed", "0.1")
    page.click("#replay-start")
    page.wait_for_selector("#replay-status[data-state='running']")
    page.click("#replay-pause")
    page.wait_for_selector("#replay-status[data-state='paused']")
    assert page.is_enabled("#replay-resume") and not page.is_enabled("#replay-pause")
    page.fill("#replay-speed", "1000")
    page.click("#replay-speed-set")
    page.click("#replay-resume")
    page.wait_for_selector("#replay-status[data-state='finished']")
    assert "40 of 40 events" in page.inner_text("#replay-status")
    assert page.get_attribute("#replay-progress", "value") == "1"


def test_missing_cassette_and_traversal_pages_are_clear(
    page: Any, served: tuple[str, Path]
) -> None:
    url, _ = served
    response = page.goto(url + "/cassette/feed/nope.jsonl")
    assert response.status == 404
    assert "No such cassette" in page.inner_text("h1")
    assert "feed/nope.jsonl: no such cassette" in page.inner_text("main")
    response = page.goto(url + "/cassette/%2e%2e/%2e%2e/etc/passwd")
    assert response.status in (400, 404)
    assert "root:" not in page.content()
