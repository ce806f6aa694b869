"""Regenerate the dashboard's screenshots in docs/images from the bundled cassettes.

    .venv/bin/python docs/images/make_screenshots.py [OUT_DIR]

Serves a copy of the repository's ``cassettes/`` with ``streamreplay web``'s app (on
127.0.0.1, a free port) and photographs it in Debian's headless Chromium at 1400x900, what a
laptop shows: the list, a WebSocket cassette's page, its messages with one opened, and the
HTTP-only REST cassette with a call opened, and gRPC calls (recorded here from a real
``shop.Orders`` server, as the tests' ``grpc_cassette`` fixture does: JSON forms need the
descriptors) with a bidirectional call opened as its messages. ``candles.png`` and
``dashboard-bot-session.png`` come from tests/tradingbot/serve/test_parity_e2e.py
(``STREAMREPLAY_SCREENSHOTS=docs/images``).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from chromium import desktop_context, launched, screenshot, wait_until  # noqa: E402
from dashboard_server import serve_in_thread  # noqa: E402

WIDTH, HEIGHT = 1400, 900


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-loaded='1']")


def _settle(page: Any) -> None:
    page.mouse.move(0, 0)  # no hover state or tooltip in the picture
    page.wait_for_timeout(600)  # plotly's responsive resize and transitions


def _record_grpc(path: Path) -> Path:
    """Real unary, streaming and failing calls through the proxy (tests/grpc_protos.py)."""
    from grpc_protos import compile_shop, record_shop_calls

    path.parent.mkdir(parents=True, exist_ok=True)
    return record_shop_calls(path, compile_shop(path.parent / "protos"))


def make(out: Path) -> list[Path]:
    shots: list[Path] = []
    # a fixed place, so the list page's header (the served directory) is the same every run
    base = Path(tempfile.gettempdir()) / "streamreplay-docs"
    shutil.rmtree(base, ignore_errors=True)
    root = base / "cassettes"
    shutil.copytree(REPO / "cassettes", root)
    try:
        server = serve_in_thread(root)
        try:
            with launched() as browser, desktop_context(browser, WIDTH, HEIGHT) as context:
                page = context.new_page()
                _open(page, server.url + "/")
                shots.append(screenshot(page, "dashboard-list.png", out))

                _open(page, server.url + "/cassette/dydx/book_trades_candles.jsonl")
                page.wait_for_selector("#timeline .main-svg")
                _settle(page)
                shots.append(screenshot(page, "dashboard.png", out))

                page.locator("#messages > li summary").nth(9).click()
                page.locator("#messages > li pre").first.wait_for()
                page.evaluate("document.activeElement.blur()")  # no focus ring
                page.evaluate("document.getElementById('messages-section').scrollIntoView()")
                _settle(page)
                shots.append(screenshot(page, "dashboard-messages.png", out))

                _open(page, server.url + "/cassette/dydx/rest.jsonl")
                page.wait_for_selector("#timeline .main-svg")
                page.locator("#http-list > li summary").nth(1).click()
                page.locator("#http-list .http-detail").wait_for()
                wait_until(page, "document.querySelectorAll('#http-list .http-detail').length")
                page.evaluate("document.getElementById('http-view').scrollIntoView()")
                page.evaluate("window.scrollBy(0, -260)")  # the waterfall's end in view too
                _settle(page)
                shots.append(screenshot(page, "dashboard-http.png", out))

                # written after the list's picture, which shows the bundled cassettes only
                (root / "grpc").mkdir()
                shutil.copy(_record_grpc(base / "grpc" / "shop.jsonl"), root / "grpc")
                _open(page, server.url + "/cassette/grpc/shop.jsonl")
                page.wait_for_selector("#timeline .main-svg")
                call = page.locator("#http-list > li").nth(2)  # /shop.Orders/Trade
                call.locator(":scope > details > summary").click()
                call.locator(".grpc-end").wait_for()
                call.locator(".grpc-messages > li summary").nth(1).click()
                call.locator(".grpc-messages pre").wait_for()
                page.evaluate("document.activeElement.blur()")
                page.evaluate("document.getElementById('http-view').scrollIntoView()")
                page.evaluate("window.scrollBy(0, -150)")  # the waterfall's calls in view too
                _settle(page)
                shots.append(screenshot(page, "dashboard-grpc.png", out))
        finally:
            server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return shots


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for shot in make(target):
        print(shot)
