"""gRPC calls in the dashboard, in a real Chromium at 1400x900: an opened call is its messages
(both directions, one line each, like a WebSocket connection's), then its status and trailers;
the HTTP section filters calls by method and status.

Served: a cassette of real calls through the proxy (``grpc_cassette``: unary, server stream,
bidirectional, NOT_FOUND, with JSON forms), the layout tests' gRPC cassette (no JSON forms:
the protobuf bytes in hex), a 120-message server stream (more than a page) and an HTTP-only
cassette (no gRPC: no gRPC filters).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chromium import requires_chromium, wait_until
from dashboard_server import serve_in_thread

from pytest_streamreplay.cassette import HttpInteraction, iter_records, new_header, write_cassette

from .conftest import feed_records
from .layout_cassettes import write_grpc, write_grpc_stream, write_http_only
from .test_layout import _assert_fits, _open

pytestmark = requires_chromium

SHOP = "/cassette/grpc/shop.jsonl"
FITS = "#summary .card, #http-view, #http-list > li, .grpc-messages > li, .grpc-end, main"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, grpc_cassette: Path) -> Iterator[str]:
    root = tmp_path_factory.mktemp("grpc_web") / "cassettes"
    (root / "grpc").mkdir(parents=True)
    shutil.copy(grpc_cassette, root / "grpc" / "shop.jsonl")
    write_grpc(root / "grpc" / "orders.jsonl")
    write_grpc_stream(root / "grpc" / "stream.jsonl")
    write_http_only(root / "http" / "orders_api.jsonl")
    # a feed's WebSocket traffic and a real server stream (/shop.Orders/Watch) side by side
    watch = [r for r in iter_records(grpc_cassette) if isinstance(r, HttpInteraction)][1]
    watch.id, watch.t = 9, 30.0
    write_cassette(
        root / "mixed" / "feed_and_grpc.jsonl", new_header(test="t"), [*feed_records(), watch]
    )
    server = serve_in_thread(root)
    try:
        yield server.url
    finally:
        server.stop()


def _open_call(page: Any, n: int) -> Any:
    """Open the ``n``-th call's row; its message rows once they are drawn."""
    call = page.locator("#http-list > li").nth(n)
    call.locator(":scope > details > summary").click()
    call.locator(".grpc-end").wait_for()
    return call


def _rows(call: Any) -> list[dict[str, str]]:
    return call.locator(".grpc-messages > li").evaluate_all(
        """(rows) => rows.map((li) => ({
          dir: li.dataset.dir,
          meta: li.querySelector('.meta').innerText,
          type: li.querySelector('.col-type').innerText,
          preview: li.querySelector('.preview').innerText,
        }))"""
    )


def test_a_server_stream_opens_as_its_messages(page: Any, served: str) -> None:
    _open(page, served + SHOP)
    assert page.locator("#http-list > li").count() == 4
    call = _open_call(page, 1)  # /shop.Orders/Watch: one query, three updates
    rows = _rows(call)
    assert [r["dir"] for r in rows] == ["send", "recv", "recv", "recv"]
    assert "→ send" in rows[0]["meta"] and all("← recv" in r["meta"] for r in rows[1:])
    assert [r["type"] for r in rows] == ["shop.OrderQuery"] + ["shop.Order"] * 3
    assert rows[0]["preview"] == '{"id":"42","limit":3}'
    assert rows[1]["preview"] == '{"id":"42","status":"step 0"}'
    assert rows[3]["preview"] == '{"id":"42","status":"step 2","quantity":"2"}'
    assert rows[0]["meta"].split()[1] == "+0.0"  # offsets from the call's start, in ms
    offsets = [float(r["meta"].split()[1]) for r in rows]
    assert offsets == sorted(offsets) and offsets[-1] > 10, offsets
    assert "12 B" in rows[1]["meta"]  # the protobuf message's size
    assert call.locator(".grpc-messages pre").count() == 0  # bodies load when opened
    assert "1\u20134 of 4 messages" in call.locator(".grpc-range").inner_text()

    second = call.locator(".grpc-messages > li").nth(2)
    second.locator("summary").click()
    body = second.locator("pre.body")
    body.wait_for()
    assert body.inner_text() == '{\n  "id": "42",\n  "status": "step 1",\n  "quantity": "1"\n}'
    assert call.locator(".grpc-messages pre").count() == 1

    end = call.locator(".grpc-end")
    assert "status 0 OK" in end.inner_text()
    trailers = end.locator("table.headers.trailers").inner_text()
    assert "grpc-status" in trailers and "0" in trailers
    _assert_fits(page, FITS)


def test_a_bidirectional_call_interleaves_both_directions(page: Any, served: str) -> None:
    _open(page, served + SHOP)
    call = _open_call(page, 2)  # /shop.Orders/Trade: each order sent once the last is answered
    rows = _rows(call)
    assert [r["dir"] for r in rows] == ["send", "recv", "send", "recv"]
    assert [r["preview"] for r in rows] == [
        '{"id":"a","quantity":"1"}',
        '{"id":"a","status":"filled","quantity":"1"}',
        '{"id":"b","quantity":"2"}',
        '{"id":"b","status":"filled","quantity":"2"}',
    ]


def test_an_error_call_ends_with_its_status_and_message(page: Any, served: str) -> None:
    _open(page, served + SHOP)
    call = _open_call(page, 3)  # Get(missing): NOT_FOUND, answered trailers-only
    rows = _rows(call)
    assert [(r["dir"], r["preview"]) for r in rows] == [("send", '{"id":"missing"}')]
    end = call.locator(".grpc-end")
    status = end.locator(".grpc-status").inner_text()
    assert status == "status 5 NOT_FOUND", status
    assert '"no order missing"' in end.inner_text()
    assert "trailers-only" in end.inner_text()  # the status came in the headers
    # the raw HTTP/2 exchange stays one click away
    raw = call.locator("details.raw")
    assert raw.locator(".http-detail").count() == 0 or not raw.evaluate("(d) => d.open")
    raw.locator(":scope > summary").click()
    raw.locator(".http-detail table.headers.response").wait_for()
    assert "no order missing" in raw.locator("table.headers.response").inner_text()
    _assert_fits(page, FITS)


def test_messages_without_json_forms_show_their_bytes_in_hex(page: Any, served: str) -> None:
    _open(page, served + "/cassette/grpc/orders.jsonl")
    call = _open_call(page, 1)  # Watch: "BTC-USD", then "tick 0" .. "tick 3"
    rows = _rows(call)
    assert [r["dir"] for r in rows] == ["send"] + ["recv"] * 4
    assert all(r["type"] == "—" for r in rows)  # no descriptors: the type is not known
    assert rows[0]["preview"] == "hex 42 54 43 2d 55 53 44"  # "BTC-USD"
    item = call.locator(".grpc-messages > li").nth(1)
    item.locator("summary").click()
    dump = item.locator("pre.body")
    dump.wait_for()
    assert dump.inner_text() == "00000000  " + "74 69 63 6b 20 30".ljust(47) + "  |tick 0|"
    _assert_fits(page, FITS)


def test_a_long_stream_is_paged_like_the_message_list(page: Any, served: str) -> None:
    _open(page, served + "/cassette/grpc/stream.jsonl")
    call = _open_call(page, 0)
    messages = call.locator(".grpc-messages > li")
    assert messages.count() == 50
    assert call.locator(".grpc-range").inner_text() == "1\u201350 of 121 messages"
    assert call.locator(".grpc-prev").is_disabled()
    _assert_fits(page, FITS)  # long previews are cut on their one line
    heights = messages.evaluate_all("(rows) => rows.map((e) => e.getBoundingClientRect().height)")
    assert max(heights) < 40, heights
    call.locator(".grpc-next").click()
    wait_until(page, "document.querySelector('.grpc-range').textContent.startsWith('51')")
    assert messages.count() == 50
    assert _rows(call)[0]["preview"].startswith('{"id":"42","status":"step 49"')
    assert _rows(call)[0]["meta"].startswith("#51")
    call.locator(".grpc-next").click()
    wait_until(page, "document.querySelector('.grpc-range').textContent.startsWith('101')")
    assert messages.count() == 21 and call.locator(".grpc-next").is_disabled()
    assert "status 0 OK" in call.locator(".grpc-end").inner_text()
    call.locator(".grpc-prev").click()
    wait_until(page, "document.querySelector('.grpc-range').textContent.startsWith('51')")


def test_the_http_section_filters_grpc_calls_by_method_and_status(page: Any, served: str) -> None:
    _open(page, served + SHOP)
    form = page.locator("#http-filters")
    assert form.is_visible()
    assert page.inner_text("#http-hint") == "open a call for its messages"
    methods = page.locator("#grpc-methods option").evaluate_all(
        "(options) => options.map((o) => o.value)"
    )
    assert methods == ["/shop.Orders/Get", "/shop.Orders/Trade", "/shop.Orders/Watch"]
    form.locator("input[name=grpc_method]").fill("Orders/Get")
    form.locator("button[type=submit]").click()
    wait_until(page, "document.getElementById('http-list').dataset.total === '2'")
    form.locator("select[name=grpc_status]").select_option("NOT_FOUND")
    form.locator("button[type=submit]").click()
    wait_until(page, "document.getElementById('http-list').dataset.total === '1'")
    assert "grpc-status 5 NOT_FOUND" in page.inner_text("#http-list")
    # the waterfall draws the calls the filters keep, as the list does
    wait_until(page, "document.getElementById('timeline').dataset.points === '1'")
    labels = page.evaluate("document.getElementById('timeline').layout.yaxis.ticktext")
    assert labels == ["#3 POST /shop.Orders/Get"], labels
    # without a message list, "create filtered cassette" cuts what the filters show
    page.fill("#http-view input[name=output]", "cut/not_found.jsonl")
    page.click("#http-view #create button[type=submit]")
    page.wait_for_selector("#created a")
    assert "kept 1 of 4 records" in page.inner_text("#created")
    form.locator("button[type=reset]").click()
    wait_until(page, "document.getElementById('http-list').dataset.total === '4'")
    wait_until(page, "document.getElementById('timeline').dataset.points === '4'")
    # a status nothing ended with: said so, not an empty box
    form.locator("select[name=grpc_status]").select_option("UNAVAILABLE")
    form.locator("button[type=submit]").click()
    wait_until(page, "document.getElementById('http-list').dataset.total === '0'")
    assert "no calls match" in page.inner_text("#http-list")
    _assert_fits(page, "#http-view, main")


def test_a_status_reads_green_when_ok_and_red_otherwise(page: Any, served: str) -> None:
    _open(page, served + SHOP)
    colors = page.locator("#http-list > li .grpc-status").evaluate_all(
        "(spans) => spans.map((s) => [s.textContent, getComputedStyle(s).color])"
    )
    assert [text for text, _ in colors] == [
        "grpc-status 0 OK",
        "grpc-status 0 OK",
        "grpc-status 0 OK",
        "grpc-status 5 NOT_FOUND",
    ]
    ok, error = colors[0][1], colors[3][1]
    assert ok == "rgb(26, 127, 55)" and error == "rgb(179, 38, 30)", colors


def test_a_call_in_a_mixed_cassettes_message_list_opens_as_its_messages(
    page: Any, served: str
) -> None:
    _open(page, served + "/cassette/mixed/feed_and_grpc.jsonl")
    assert page.is_visible("#messages-section") and page.is_visible("#http-filters")
    assert "a gRPC call for its messages" in page.inner_text("#http-hint")
    item = page.locator("#messages > li", has_text="/shop.Orders/Watch")
    item.locator(":scope > details > summary").click()
    item.locator(".grpc-end").wait_for()
    rows = _rows(item)
    assert [r["dir"] for r in rows] == ["send", "recv", "recv", "recv"]
    assert rows[2]["preview"] == '{"id":"42","status":"step 1","quantity":"1"}'
    inner = item.locator(".grpc-messages > li").nth(1)
    inner.locator("summary").click()
    inner.locator("pre.body").wait_for()
    assert '"status": "step 0"' in inner.locator("pre.body").inner_text()
    # "Expand all" opens the list's rows, and the call's message rows stay as they were
    page.click("#expand-all")
    wait_until(
        page, "document.querySelectorAll('#messages > li > details:not([open])').length === 0"
    )
    assert item.locator(".grpc-messages details[open]").count() == 1
    _assert_fits(page, "#messages > li, .grpc-messages > li, .grpc-end, main")


def test_no_grpc_filters_without_grpc_calls(page: Any, served: str) -> None:
    _open(page, served + "/cassette/http/orders_api.jsonl")
    assert page.locator("#http-list > li").count() == 4
    assert page.is_hidden("#http-filters")
    assert page.inner_text("#http-hint") == "open a call for its headers and bodies"
