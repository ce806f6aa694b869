"""Cassettes are data from anywhere (a pull request, a colleague): opening one in the dashboard
must never run its content as script. Every field that reaches the page carries markup here;
headless Chromium (Debian's, tests/chromium.py) loads the pages and checks that no script ran,
no injected element exists, the markup shows as text, and the CSP forbids inline script."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chromium import desktop_context, launched, requires_chromium, wait_until, watched_page
from dashboard_server import serve_in_thread

pytestmark = requires_chromium

# Sets a flag when it runs, whichever way it gets in (handler attribute or element).
MARK = "<img src=x onerror=window.__xss=(window.__xss||0)+1>"
SVG = "<svg onload=window.__xss=(window.__xss||0)+1>"
ATTR = "\"'><img src=x onerror=window.__xss=(window.__xss||0)+1>"
LINK = "<a href=javascript:window.__xss=1 id=evil>click</a>"


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj) + "\n"


def _header(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "header",
        "format": "streamreplay-cassette",
        "version": 1,
        "recorded_by": "pytest-streamreplay " + MARK,
        "recorded_at": "2026-01-01T00:00:00+00:00",
        **extra,
    }


def hostile_but_valid() -> str:
    """Every free-text field carries markup; the structure is valid, so the page renders it."""
    body = {
        "type": "channel_data",
        "channel": "v4_trades" + MARK,
        MARK: ATTR,
        "nested": {SVG: [LINK, "REDACTED" + MARK]},
    }
    lines = [
        _header(test="tests/test_x.py::test_" + MARK, note=SVG, meta=MARK, **{MARK: ATTR}),
        {
            "kind": "http",
            "id": 1,
            "t": 1.0,
            "duration_ms": 2.0,
            "request": {
                "method": "GET" + MARK,
                "url": "https://x.test/" + ATTR,
                "headers": [[MARK, SVG]],
                "body": {"text": MARK},
            },
            "response": {
                "status": 200,
                "reason": MARK,
                "headers": [["Content-Type", MARK]],
                "body": {"json": body},
            },
        },
        {"kind": "ws", "id": 1, "t": 2.0, "url": "wss://x.test/" + ATTR, "headers": []},
        {"kind": "ws_msg", "conn": 1, "dir": "send", "t": 1.0, "json": body},
        {"kind": "ws_msg", "conn": 1, "dir": "recv", "t": 2.0, "text": MARK + " REDACTED"},
        # a binary frame whose bytes are markup (valid base64: a bad body is refused on read)
        {
            "kind": "ws_msg",
            "conn": 1,
            "dir": "recv",
            "t": 3.0,
            "binary": True,
            "base64": base64.b64encode(MARK.encode()).decode(),
        },
        {"kind": "ws_close", "conn": 1, "t": 4.0, "code": 4000, "reason": ATTR, "by": "server"},
        {"kind": "event", "session": MARK, "t": 5.0, "name": "tick" + MARK, "data": body},
    ]
    return "".join(_line(x) for x in lines)


def _framed(payload: bytes) -> str:
    return base64.b64encode(b"\x00" + len(payload).to_bytes(4, "big") + payload).decode()


def hostile_grpc() -> str:
    """A gRPC call whose method, message types, JSON forms, bytes and status message are markup."""
    form = {MARK: ATTR, "nested": {SVG: [LINK, "REDACTED" + MARK]}}
    call = {
        "kind": "http",
        "id": 1,
        "t": 1.0,
        "duration_ms": 5.0,
        "request": {
            "method": "POST",
            "url": "http://x.test/shop.Orders/" + MARK,
            "headers": [["content-type", "application/grpc"]],
            "body": {"base64": _framed(MARK.encode())},
            "messages": [{"type": "shop." + MARK, "json": form}],
        },
        "response": {
            "status": 200,
            "headers": [["content-type", "application/grpc"]],
            "chunks": [
                {"t": 1.0, "base64": _framed(SVG.encode()), "message": {"type": SVG, "json": form}},
                {"t": 2.0, "base64": _framed(LINK.encode())},  # no JSON form: hex
            ],
            "trailers": [["grpc-status", "5"], ["grpc-message", MARK]],
        },
    }
    return _line(_header(test="tests/test_grpc.py::test_" + MARK)) + _line(call)


INVALID_FIELDS = {
    "close_code": {"kind": "ws_close", "conn": 1, "t": 3, "code": MARK, "by": "server"},
    "close_by": {"kind": "ws_close", "conn": 1, "t": 3, "code": 1000, "by": MARK},
    "msg_dir": {"kind": "ws_msg", "conn": 1, "dir": MARK, "t": 1, "text": "hi"},
}


def hostile_invalid(record: dict[str, Any]) -> str:
    opening = {"kind": "ws", "id": 1, "t": 0.0, "url": "wss://x.test/ws", "headers": []}
    return _line(_header(test="t")) + _line(opening) + _line(record)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("hostile") / "cassettes"
    root.mkdir()
    (root / "valid.jsonl").write_text(hostile_but_valid())
    (root / f"name{MARK}.jsonl").write_text(hostile_but_valid())
    (root / "http_only.jsonl").write_text(
        "".join(line for line in hostile_but_valid().splitlines(keepends=True)[:2])
    )
    (root / "grpc.jsonl").write_text(hostile_grpc())
    for name, record in INVALID_FIELDS.items():
        (root / f"{name}.jsonl").write_text(hostile_invalid(record))
    server = serve_in_thread(root)
    try:
        yield server.url, root
    finally:
        server.stop()


@pytest.fixture(scope="module")
def context() -> Iterator[Any]:
    with launched() as browser, desktop_context(browser) as context:
        yield context


@pytest.fixture
def page(context: Any, served: tuple[str, Path]) -> Iterator[Any]:
    with watched_page(context, served[0]) as page:
        page.add_init_script(
            "window.__violations = [];"
            "document.addEventListener('securitypolicyviolation',"
            " (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        yield page
        assert dialogs == []


def _assert_nothing_ran(page: Any) -> None:
    page.wait_for_timeout(300)  # give an injected onerror/onload its chance to fire
    assert page.evaluate("window.__xss") is None
    assert (
        page.evaluate("document.querySelectorAll('main img, main svg[onload], #evil').length") == 0
    )
    # Nothing was even blocked by the CSP: the markup never became elements or handlers.
    assert page.evaluate("window.__violations") == []


def _assert_csp(response: Any) -> None:
    policy = response.headers.get("content-security-policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives.get("script-src") == ["'self'"], policy
    assert directives.get("object-src") == ["'none'"], policy
    assert "frame-ancestors" in directives and "base-uri" in directives


def test_list_page_shows_hostile_names_and_tests_as_text(page: Any, served) -> None:
    url, _ = served
    response = page.goto(url + "/")
    _assert_csp(response)
    page.wait_for_selector("body[data-loaded='1']")
    text = page.inner_text("#cassettes")
    assert f"name{MARK}.jsonl" in text and "test_" + MARK in text
    assert "unreadable" in text  # the invalid ones are listed with their error
    _assert_nothing_ran(page)


@pytest.mark.parametrize("name", ["valid.jsonl", f"name{MARK}.jsonl"])
def test_cassette_page_shows_every_hostile_field_as_text(page: Any, served, name: str) -> None:
    from urllib.parse import quote

    url, _ = served
    response = page.goto(url + "/cassette/" + quote(name))
    assert response.status == 200
    _assert_csp(response)
    page.wait_for_selector("body[data-loaded='1']")
    wait_until(page, "Number(document.getElementById('messages').dataset.total) === 5")
    assert page.inner_text("#error") == ""
    connections = page.inner_text("#connections")
    assert ATTR.strip() in connections.replace("\n", "") or "onerror" in connections
    assert "4000" in connections and "server" in connections
    assert "GET" + MARK in page.inner_text("#http-list")
    assert "tick" + MARK in page.inner_text("#events")
    assert MARK in page.inner_text("#messages")  # the one-line previews (cut at 240)
    assert "test_" + MARK in page.inner_text("#summary")
    _assert_nothing_ran(page)
    # opened: every message's full body, and the call's headers and bodies
    page.click("#expand-all")
    wait_until(page, "document.querySelectorAll('#messages > li > details > pre').length === 4")
    page.click("#http-list > li summary")
    page.wait_for_selector("#http-list .http-detail")
    wait_until(page, "document.querySelectorAll('#messages .http-detail').length === 1")
    call = page.inner_text("#http-list .http-detail")
    assert MARK in call and SVG in call and ATTR.strip() in call.replace("\n", "")
    messages = page.inner_text("#messages")
    assert MARK in messages and SVG in messages and LINK in messages
    _assert_nothing_ran(page)
    page.select_option("select[name=channel]", index=1)  # a hostile channel name as option
    page.click("#filters button[type=submit]")
    wait_until(page, "Number(document.getElementById('messages').dataset.total) === 2")
    _assert_nothing_ran(page)


def test_http_only_waterfall_and_call_show_hostile_fields_as_text(page: Any, served) -> None:
    """The waterfall's labels go through plotly, which reads a few tags in text."""
    url, _ = served
    page.goto(url + "/cassette/http_only.jsonl")
    page.wait_for_selector("body[data-loaded='1']")
    page.wait_for_selector("#timeline .main-svg")
    assert page.evaluate("document.getElementById('timeline').data[0].orientation") == "h"
    assert "#1 GET" + MARK[:30] in page.inner_text("#timeline")  # a label, cut at 48
    page.click("#http-list > li summary")
    page.wait_for_selector("#http-list .http-detail")
    assert MARK in page.inner_text("#http-list .http-detail")
    _assert_nothing_ran(page)


def test_grpc_messages_show_hostile_forms_as_text(page: Any, served) -> None:
    url, _ = served
    page.goto(url + "/cassette/grpc.jsonl")
    page.wait_for_selector("body[data-loaded='1']")
    assert "/shop.Orders/" + MARK in page.inner_text("#http-list")
    page.click("#http-list > li summary")
    page.wait_for_selector("#http-list .grpc-end")
    rows = page.locator(".grpc-messages > li")
    assert rows.count() == 3
    assert "shop." + MARK in rows.nth(0).inner_text() and SVG in rows.nth(1).inner_text()
    assert MARK in rows.nth(0).locator(".preview").inner_text()
    for i in range(3):
        rows.nth(i).locator("summary").click()
        rows.nth(i).locator("pre.body").wait_for()
    opened = page.inner_text(".grpc-messages")
    assert MARK in opened and SVG in opened and LINK in opened and ATTR.strip() in opened
    assert "|<a href=javascri|" in opened  # the hex dump's text column, as text
    assert MARK in page.inner_text(".grpc-end")  # grpc-message
    page.click("#http-list details.raw > summary")
    page.wait_for_selector("#http-list details.raw .http-detail")
    _assert_nothing_ran(page)


@pytest.mark.parametrize("name", sorted(INVALID_FIELDS))
def test_invalid_record_fields_are_refused_on_read(page: Any, served, name: str) -> None:
    url, _ = served
    response = page.goto(f"{url}/cassette/{name}.jsonl")
    assert response.status == 422
    _assert_csp(response)
    assert f"{name}.jsonl:3" in page.inner_text("main")
    _assert_nothing_ran(page)
