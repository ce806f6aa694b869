"""The dashboard's layout at a laptop's 1400x900 in a real Chromium: nothing overflows, HTTP
cassettes get an HTTP view, the message list is compact until asked.

Served: a copy of the repository's bundled ``cassettes/`` (long dYdX test ids, an HTTP-only
REST cassette, one with both) plus the cassettes of ``layout_cassettes``. "Overflow" is
measured, not eyeballed: an element's ``scrollWidth`` above its ``clientWidth`` means content
sticks out of it; a child's bounding box past its card's means it is drawn outside.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chromium import requires_chromium, wait_until
from dashboard_server import serve_in_thread

from pytest_streamreplay.cassette import new_header, write_cassette

from .conftest import LAYOUT_HEIGHT, LAYOUT_WIDTH, event_records
from .layout_cassettes import (
    HTTP_TEST,
    LONG_NAME,
    LONG_TEST,
    LONG_URL,
    MANY,
    write_grpc,
    write_http_only,
    write_many,
    write_many_calls,
    write_mixed,
)

pytestmark = requires_chromium

BUNDLED = Path(__file__).resolve().parents[2] / "cassettes"
WIDTH, HEIGHT = LAYOUT_WIDTH, LAYOUT_HEIGHT

# Elements (visible ones) whose content is wider than their box.
OVERFLOWING = """(selector) => [...document.querySelectorAll(selector)]
  .filter((e) => e.getClientRects().length && e.scrollWidth > e.clientWidth + 1)
  .map((e) => `${e.tagName}#${e.id}.${e.className}: ${e.scrollWidth} > ${e.clientWidth}`)"""

# Descendants drawn (partly) outside their container's box, or outside the viewport.
OUTSIDE = """(selector) => {
  const out = [];
  for (const box of document.querySelectorAll(selector)) {
    if (!box.getClientRects().length) continue;
    const outer = box.getBoundingClientRect();
    if (outer.left < -1 || outer.right > window.innerWidth + 1) {
      out.push(`${box.tagName}.${box.className} at ${outer.left}..${outer.right}`);
    }
    for (const e of box.querySelectorAll("*")) {
      const r = e.getBoundingClientRect();
      if (!r.width && !r.height) continue;
      if (r.left < outer.left - 1 || r.right > outer.right + 1) {
        const what = `${e.tagName}.${e.className} "${e.textContent.slice(0, 40)}"`;
        out.push(`${what} at ${r.left}..${r.right} in ${outer.left}..${outer.right}`);
      }
    }
  }
  return out;
}"""

PAGE_SCROLLS = "document.documentElement.scrollWidth > document.documentElement.clientWidth"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("layout") / "cassettes"
    shutil.copytree(BUNDLED, root)
    write_http_only(root / "http" / "orders_api.jsonl")
    write_grpc(root / "grpc" / "orders.jsonl")
    write_mixed(root / "mixed" / "feed_and_rest.jsonl")
    write_many(root / "feed" / "many.jsonl")
    write_mixed(root / LONG_NAME)
    write_many_calls(root / "http" / "ticks.jsonl")
    write_cassette(root / "bot" / "session.jsonl", new_header(test=LONG_TEST), event_records(n=400))
    # unreadable: listed with its error, a long path in it
    (root / "recordings" / (LONG_NAME.rsplit("/", 1)[1][:-6] + "_broken.jsonl")).write_text(
        '{"kind":"header","format":"streamreplay-cassette","version":1}\n{"kind":"ws_msg", oops\n'
    )
    server = serve_in_thread(root)
    try:
        yield server.url
    finally:
        server.stop()


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-loaded='1']")


def _assert_fits(page: Any, containers: str) -> None:
    assert page.evaluate(OVERFLOWING, containers) == []
    assert page.evaluate(OUTSIDE, containers) == []
    assert not page.evaluate(PAGE_SCROLLS), page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )


def test_list_page_shows_every_column_within_the_viewport(page: Any, served: str) -> None:
    _open(page, served + "/")
    rows = page.locator("#cassettes tbody tr")
    assert rows.count() == len(list(BUNDLED.rglob("*.jsonl"))) + 8  # the fixture writes 8
    headers = page.locator("#cassettes thead th").all_inner_texts()
    assert [h.strip() for h in headers[-2:]] == ["age", "v"]
    # every header and every cell, age and version included, is inside the viewport
    boxes = page.evaluate(
        """() => [...document.querySelectorAll('#cassettes th, #cassettes td')]
          .map((e) => e.getBoundingClientRect()).map((r) => [r.left, r.right])"""
    )
    assert boxes and all(left >= 0 and right <= WIDTH for left, right in boxes), boxes
    ages = page.locator("#cassettes tbody tr td:nth-child(9)").all_inner_texts()
    versions = page.locator("#cassettes tbody tr td:nth-child(10)").all_inner_texts()
    assert all(a.strip() for a in ages[:-1]) and set(versions[:-1]) == {"1"}
    _assert_fits(page, "#cassettes, #cassettes-wrap, main")
    # the whole test id is there (wrapped, not cut), and in the cell's title
    cell = page.locator("#cassettes tbody tr", has_text="mixed/feed_and_rest.jsonl").locator(
        "td:nth-child(2)"
    )
    assert cell.get_attribute("title") == LONG_TEST
    assert cell.inner_text().replace("\n", "") == LONG_TEST


@pytest.mark.parametrize(
    "name",
    [
        "mixed/feed_and_rest.jsonl",
        "dydx/book_trades_candles.jsonl",
        "dydx/rest.jsonl",
        "bot/session.jsonl",
        LONG_NAME,
    ],
)
def test_cassette_page_cards_and_tables_hold_their_content(
    page: Any, served: str, name: str
) -> None:
    _open(page, f"{served}/cassette/{name}")
    page.wait_for_selector("#timeline .main-svg")
    _assert_fits(
        page,
        "header, #summary .card, #summary, #tables, #http-view, #filters, #messages li, main",
    )
    # the test id wraps inside its card, whole, and is also its title
    test_value = page.locator("#summary .card.test b")
    full = test_value.get_attribute("title")
    assert full and full.startswith("tests/")
    assert test_value.inner_text().replace("\n", "") == full
    if name.startswith("mixed/"):
        assert full == LONG_TEST


def test_http_only_cassette_gets_an_http_view(page: Any, served: str) -> None:
    _open(page, served + "/cassette/http/orders_api.jsonl")
    page.wait_for_selector("#timeline .main-svg")
    # no WebSocket-style "messages per X ms" axis: a waterfall of the calls instead
    layout = page.evaluate(
        "(() => { const c = document.getElementById('timeline');"
        " return [c.layout.yaxis.title.text || '', c.layout.xaxis.title.text || '',"
        " c.data.map((t) => [t.orientation, t.y.length])]; })()"
    )
    assert "messages per" not in layout[0] and "per" not in layout[0]
    assert layout[2] == [["h", 4]], layout
    assert page.is_hidden("#ws-block") and page.is_hidden("#messages-section")
    rows = page.locator("#http-list > li")
    assert rows.count() == 4
    first = rows.nth(0).locator("summary").inner_text()
    for piece in ("GET", "/v1/accounts/acct-0001/orders?status=open&limit=100", "200", "18.3 ms"):
        assert piece in first, (piece, first)
    assert "201" in rows.nth(1).inner_text() and "404" in rows.nth(3).inner_text()
    assert page.locator("#http-list .http-detail").count() == 0  # details load on demand

    rows.nth(0).locator("summary").click()
    detail = rows.nth(0).locator(".http-detail")
    detail.wait_for()
    request_headers = detail.locator("table.headers.request").inner_text()
    assert "Authorization" in request_headers and "REDACTED-bearer-1" in request_headers
    assert detail.locator("table.headers.request .redacted").count() == 1
    assert "X-Request-Id" in detail.locator("table.headers.response").inner_text()
    assert '"side": "BUY"' in detail.locator(".body.response").inner_text()

    rows.nth(1).locator("summary").focus()
    page.keyboard.press("Enter")  # the keyboard opens a call too
    posted = rows.nth(1).locator(".http-detail")
    posted.wait_for()
    assert '"price": "97000"' in posted.locator(".body.request").inner_text()

    rows.nth(2).locator("summary").click()
    chunks = rows.nth(2).locator(".http-detail ol.chunks > li")
    chunks.first.wait_for()
    assert chunks.count() == 3
    texts = chunks.all_inner_texts()
    assert "+0.0 ms" in texts[0] and "data: first" in texts[0]
    assert "+120.5 ms" in texts[1] and "byte 13" in texts[1] and "data: second" in texts[1]
    assert "+250.0 ms" in texts[2] and "byte 27" in texts[2]
    _assert_fits(page, "#summary .card, #http-view, #http-list > li, main")
    assert page.locator("#summary .card.test b").get_attribute("title") == HTTP_TEST

    # zooming the waterfall narrows the calls to that range; "Reset zoom" brings them back
    page.evaluate("Plotly.relayout('timeline', {'xaxis.range': [0.3, 0.5]})")
    wait_until(page, "document.getElementById('http-list').dataset.total === '1'")
    assert "404" in page.inner_text("#http-list")
    # and what is in view can be cut into a cassette, as from the message list
    page.fill("#http-view input[name=output]", "cut/late_calls.jsonl")
    page.click("#http-view #create button[type=submit]")
    page.wait_for_selector("#created a")
    assert "kept 1 of 4 records" in page.inner_text("#created")
    page.click("#reset-zoom")
    wait_until(page, "document.getElementById('http-list').dataset.total === '4'")


def test_grpc_calls_show_as_http_with_method_and_status(page: Any, served: str) -> None:
    _open(page, served + "/cassette/grpc/orders.jsonl")
    rows = page.locator("#http-list > li")
    assert rows.count() == 3
    texts = [rows.nth(i).locator("summary").inner_text() for i in range(3)]
    assert all("gRPC" in t for t in texts)
    assert "/orders.Orders/Get" in texts[0] and "grpc-status 0 OK" in texts[0]
    assert "/orders.Orders/Watch" in texts[1] and "4 chunks" in texts[1]
    assert "grpc-status 5 NOT_FOUND" in texts[2]
    # an opened call is its messages and status; its HTTP/2 exchange is one click further
    rows.nth(2).locator(":scope > details > summary").click()
    rows.nth(2).locator("details.raw > summary").click()
    detail = rows.nth(2).locator(".http-detail")
    detail.wait_for()
    assert "order 7 not found" in detail.locator("table.headers.response").inner_text()
    rows.nth(0).locator(":scope > details > summary").click()
    rows.nth(0).locator("details.raw > summary").click()
    trailers = rows.nth(0).locator(".http-detail table.headers.trailers")
    trailers.wait_for()
    assert "grpc-status" in trailers.inner_text()
    # a binary body shows its printable bytes, a placeholder in it highlighted
    request = rows.nth(0).locator(".http-detail .body.request")
    assert request.locator(".redacted").inner_text() == "REDACTED-jwt-1____"
    assert "42" in request.inner_text() and "binary, 29 bytes" in request.inner_text()
    # the message row says a placeholder is in its bytes, and its hex dump shows it
    message = rows.nth(0).locator(".grpc-messages > li").first
    assert "redacted" in message.locator(".meta").inner_text()
    message.locator("summary").click()
    assert "|..42..REDACTED-j|" in message.locator("pre.hex").inner_text()
    _assert_fits(page, "#http-view, #http-list > li, main")


def test_mixed_cassette_shows_websocket_and_http_sections(page: Any, served: str) -> None:
    _open(page, served + "/cassette/mixed/feed_and_rest.jsonl")
    page.wait_for_selector("#timeline .main-svg")
    title = page.evaluate("document.getElementById('timeline').layout.yaxis.title.text")
    assert "messages per" not in title  # HTTP calls are counted too: not only messages
    assert page.is_visible("#ws-block") and page.is_visible("#messages-section")
    assert page.locator("#connections tbody tr").count() == 3
    assert LONG_URL in page.inner_text("#connections").replace("\n", "")
    assert page.locator("#http-list > li").count() == 1
    assert "perpetualMarkets" in page.inner_text("#http-list")
    # a binary message with a placeholder says so on its line, and shows it when opened
    page.select_option("select[name=conn]", "3")
    page.click("#filters button[type=submit]")
    wait_until(page, "document.getElementById('messages').dataset.total === '1'")
    row = page.locator("#messages > li").first
    assert "redacted" in row.locator(".meta").inner_text()
    assert "REDACTED-jwt-1" in row.locator(".preview").inner_text()
    row.locator("summary").click()
    assert row.locator("pre .redacted").inner_text() == "REDACTED-jwt-1____"


def test_message_list_is_compact_until_expanded(page: Any, served: str) -> None:
    _open(page, served + "/cassette/feed/many.jsonl")
    items = page.locator("#messages > li")
    shown = items.count()
    assert 0 < shown <= 100
    assert page.get_attribute("#messages", "data-total") == str(MANY)
    # one line each, and no body rendered until asked
    heights = page.evaluate(
        "[...document.querySelectorAll('#messages > li')]"
        ".map((e) => e.getBoundingClientRect().height)"
    )
    assert max(heights) < 40, heights
    assert page.locator("#messages pre").count() == 0
    preview = items.nth(0).locator(".preview")
    assert preview.inner_text().startswith('{"type":"channel_data","channel":"v4_orderbook"')
    assert "v4_orderbook" in items.nth(0).locator(".meta").inner_text()
    _assert_fits(page, "#messages > li, main")

    items.nth(0).locator("summary").click()
    body = items.nth(0).locator("pre")
    body.wait_for()
    assert body.inner_text().count("\n") > 30 and '"seq": 0' in body.inner_text()
    assert page.locator("#messages pre").count() == 1
    items.nth(1).locator("summary").focus()
    page.keyboard.press("Enter")
    items.nth(1).locator("pre").wait_for()
    assert '"seq": 1' in items.nth(1).locator("pre").inner_text()

    page.click("#expand-all")
    wait_until(page, f"document.querySelectorAll('#messages pre').length === {shown}")
    assert page.get_attribute("#expand-all", "aria-pressed") == "true"
    page.click("#expand-all")
    wait_until(page, "document.querySelectorAll('#messages details[open]').length === 0")

    page.click("#next")
    wait_until(page, f"document.getElementById('range').textContent.startsWith('{shown + 1}')")
    assert page.locator("#messages > li").count() == shown


def test_error_page_with_a_long_name_fits(page: Any, served: str) -> None:
    response = page.goto(f"{served}/cassette/{LONG_NAME[:-6]}_missing.jsonl")
    assert response.status == 404
    assert "no such cassette" in page.inner_text("main")
    _assert_fits(page, "main, .error")


def test_list_page_fits_a_1024px_window_too(page: Any, served: str) -> None:
    page.set_viewport_size({"width": 1024, "height": 768})
    _open(page, served + "/")
    right = page.evaluate(
        "Math.max(...[...document.querySelectorAll('#cassettes th, #cassettes td')]"
        ".map((e) => e.getBoundingClientRect().right))"
    )
    assert right <= 1024
    _assert_fits(page, "#cassettes, #cassettes-wrap, main")
    # and the test ids stay readable: their column is not squeezed to a few characters
    width = page.evaluate(
        "document.querySelector('#cassettes td.test').getBoundingClientRect().width"
    )
    assert width >= 200, width


def test_http_calls_page_past_fifty(page: Any, served: str) -> None:
    _open(page, served + "/cassette/http/ticks.jsonl")
    rows = page.locator("#http-list > li")
    assert rows.count() == 50 and page.inner_text("#http-range").startswith("1\u201350 of 120")
    page.click("#http-next")
    wait_until(page, "document.getElementById('http-range').textContent.startsWith('51')")
    assert rows.count() == 50 and "/v1/ticks/50" in rows.first.inner_text()
    page.click("#http-next")
    wait_until(page, "document.getElementById('http-range').textContent.startsWith('101')")
    assert rows.count() == 20 and page.is_disabled("#http-next")
    title = page.inner_text("#timeline-title")
    assert title == "HTTP calls"  # all 120 on the waterfall (it shows up to 500)
