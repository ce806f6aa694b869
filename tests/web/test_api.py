"""The dashboard's JSON API, through FastAPI's TestClient on cassettes written in tmp_path."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pytest_streamreplay.cassette import (
    WsClose,
    WsConnection,
    WsMessage,
    iter_records,
    read_header,
)
from pytest_streamreplay.cassette.query import Query

from .conftest import BIG_MESSAGES, EVENTS_TEST, FEED_TEST, dashboard_client

FEED = "/api/cassettes/feed/test_book.jsonl"
BOT = "/api/cassettes/bot/session.jsonl"


def test_list_shows_every_cassette_with_counts_and_kind(client: TestClient) -> None:
    body = client.get("/api/cassettes").json()
    rows = {row["name"]: row for row in body["cassettes"]}
    assert set(rows) == {"feed/test_book.jsonl", "bot/session.jsonl"}
    feed = rows["feed/test_book.jsonl"]
    assert feed["test"] == FEED_TEST
    assert feed["kind"] == ["HTTP", "WebSocket"]
    assert feed["counts"] == {"http": 1, "ws": 2, "messages": 14, "events": 0, "grpc": 0}
    assert feed["version"] == 1 and feed["size"] > 0 and feed["age"].endswith("s")
    assert rows["bot/session.jsonl"]["kind"] == ["events"]
    assert rows["bot/session.jsonl"]["counts"]["events"] == 40


def test_list_search_matches_name_test_and_kind(client: TestClient) -> None:
    assert [r["name"] for r in client.get("/api/cassettes?q=bot.py").json()["cassettes"]] == [
        "bot/session.jsonl"
    ]
    assert client.get("/api/cassettes?q=websocket").json()["count"] == 1
    assert client.get("/api/cassettes?q=nothing-like-this").json()["count"] == 0


def test_details_has_connections_http_events_and_channels(client: TestClient) -> None:
    body = client.get(FEED).json()
    assert body["header"]["test"] == FEED_TEST
    assert body["records"] == {"http": 1, "ws": 2, "ws_msg": 14, "ws_close": 1}
    conns = {c["id"]: c for c in body["connections"]}
    assert conns[1]["url"] == "wss://indexer.test/v4/ws"
    assert (conns[1]["sent"], conns[1]["received"]) == (1, 11)
    assert conns[1]["close"] == {"code": 1000, "reason": "done", "by": "client", "t": 1200.0}
    assert conns[2]["close"] is None
    assert body["http"][0]["status"] == 200
    assert body["channels"] == {"v4_trades": 11, "v4_orderbook": 1}
    assert body["duration_ms"] == pytest.approx(1220.0)
    events = client.get(BOT).json()["events"]
    assert [(e["name"], e["count"]) for e in events] == [("Bar", 20), ("Fill", 20)]


def test_messages_page_in_file_order_with_absolute_times(client: TestClient) -> None:
    first = client.get(f"{FEED}/messages", params={"limit": 3}).json()
    assert first["total"] == 15  # 14 messages + 1 HTTP interaction
    assert [i["kind"] for i in first["items"]] == ["http", "ws_msg", "ws_msg"]
    assert first["items"][1]["t"] == pytest.approx(21.0)  # opened at 20, sent at +1
    assert first["has_more"] and first["next_offset"] == 3
    rest = client.get(f"{FEED}/messages", params={"offset": 3, "limit": 100}).json()
    assert len(rest["items"]) == 12 and not rest["has_more"] and rest["next_offset"] is None
    lines = [i["line"] for i in first["items"] + rest["items"]]
    assert lines == sorted(lines) and len(set(lines)) == 15


def test_messages_mark_redacted_fields_and_body_forms(client: TestClient) -> None:
    items = client.get(f"{FEED}/messages", params={"conn": [1, 2], "limit": 100}).json()["items"]
    subscribe = items[0]
    assert subscribe["body"]["json"]["apiKey"] == "REDACTED"
    assert subscribe["redacted"] == ["apiKey"]
    binary = next(i for i in items if i["binary"])
    assert "base64" in binary["body"]
    text = next(i for i in items if "text" in i["body"])
    assert text["body"]["text"] == "plain text hello"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"dir": "send"}, 1),
        ({"dir": "recv", "conn": 1}, 11),
        ({"conn": 2}, 2),
        ({"channel": "v4_orderbook"}, 1),
        ({"channel": "v4_trades", "dir": "recv"}, 10),
        ({"text": "97005"}, 1),
        ({"text": "PLAIN TEXT"}, 1),
        ({"path": "contents.trades[].price", "value": "97003"}, 1),
        ({"path": "contents.trades[0].side"}, 10),
        ({"path": "apiKey"}, 1),
        ({"where": "channel == 'v4_orderbook' or type == 'subscribe'"}, 2),
        ({"t_from": 100, "t_to": 400}, 3),
        ({"url": "/v4/perpetual"}, 1),
    ],
)
def test_message_filters(client: TestClient, params: dict, expected: int) -> None:
    body = client.get(f"{FEED}/messages", params={**params, "limit": 1000}).json()
    assert body["total"] == expected, body
    assert len(body["items"]) == expected


def test_event_filters_by_name_and_channel(client: TestClient) -> None:
    body = client.get(f"{BOT}/messages", params={"event": "Fill", "limit": 5}).json()
    assert body["total"] == 20
    assert {i["name"] for i in body["items"]} == {"Fill"}
    assert client.get(f"{BOT}/messages", params={"channel": "bars"}).json()["total"] == 40
    assert client.get(f"{BOT}/messages", params={"dir": "recv"}).json()["total"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"conn": 1},
        {"dir": "recv"},
        {"channel": "v4_trades"},
        {"conn": 2, "dir": "recv"},
        {"t_from": 50, "t_to": 700, "channel": "v4_trades"},
    ],
)
def test_index_answers_like_a_streaming_selection(cassette_dir: Path, params: dict) -> None:
    """The fast path (index) and the streaming path (Selection) must select the same lines."""
    from pytest_streamreplay.web.paths import CassetteRoot
    from pytest_streamreplay.web.service import page_messages

    root = CassetteRoot(cassette_dir)
    path = root.existing("feed/test_book.jsonl")
    conn = params.pop("conn", None)
    fast_query = Query(conn=[conn] if conn else None, **params)
    slow_query = Query(conn=[conn] if conn else None, where="true", **params)
    assert fast_query.structural and not slow_query.structural
    fast = page_messages(root, path, fast_query, limit=1000)
    slow = page_messages(root, path, slow_query, limit=1000)
    assert fast["total"] == slow["total"] > 0
    assert [i["line"] for i in fast["items"]] == [i["line"] for i in slow["items"]]
    assert [i["t"] for i in fast["items"]] == [i["t"] for i in slow["items"]]


def test_bad_queries_are_400_with_a_reason(client: TestClient) -> None:
    for params, needle in [
        ({"where": "open('x')"}, "function calls"),
        ({"dir": "sideways"}, "dir must be"),
        ({"limit": 0}, "limit"),
        ({"path": "a[0"}, "unclosed"),
        ({"t_from": 5, "t_to": 1}, "before"),
    ]:
        response = client.get(f"{FEED}/messages", params=params)
        assert response.status_code == 400, params
        assert needle in response.json()["error"]


def test_timeline_bins_per_connection_and_direction(client: TestClient) -> None:
    body = client.get(f"{FEED}/timeline", params={"bins": 12}).json()
    assert body["start"] == 0 and body["end"] == pytest.approx(1220.0)
    series = {s["key"]: s for s in body["series"]}
    assert set(series) == {"http", "conn 1 send", "conn 1 recv", "conn 2 recv"}
    assert all(len(s["counts"]) == 12 for s in series.values())
    assert series["conn 1 recv"]["total"] == 11 == sum(series["conn 1 recv"]["counts"])
    zoomed = client.get(f"{FEED}/timeline", params={"start": 100, "end": 400, "bins": 3}).json()
    zseries = {s["key"]: s["counts"] for s in zoomed["series"]}
    assert zseries == {"conn 1 recv": [1, 1, 1]}
    filtered = client.get(f"{FEED}/timeline", params={"text": "orderbook"}).json()
    assert [s["total"] for s in filtered["series"]] == [1]
    events = client.get(f"{BOT}/timeline", params={"bins": 4}).json()
    assert {s["key"]: s["total"] for s in events["series"]} == {"event Bar": 20, "event Fill": 20}


def test_fields_lists_json_paths_seen(client: TestClient) -> None:
    fields = {f["path"]: f["count"] for f in client.get(f"{FEED}/fields").json()["fields"]}
    assert fields["channel"] == 12
    assert fields["contents.trades[].price"] == 10
    assert "apiKey" in fields and "markets.BTC-USD" in fields
    assert {f["path"] for f in client.get(f"{BOT}/fields").json()["fields"]} == {
        "seq",
        "channel",
    }


def test_create_filtered_writes_only_the_selection(client: TestClient, cassette_dir: Path) -> None:
    response = client.post(
        f"{FEED}/filter",
        json={"output": "cut/trades.jsonl", "channel": "v4_trades", "dir": "recv", "conn": [1]},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "cut/trades.jsonl"
    assert body["by_kind"] == {"http": 0, "ws": 1, "ws_msg": 10, "ws_close": 1, "event": 0}
    out = cassette_dir / "cut" / "trades.jsonl"
    records = list(iter_records(out))  # a valid cassette
    messages = [r for r in records if isinstance(r, WsMessage)]
    assert len(messages) == 10
    assert all(m.dir == "recv" and m.value["channel"] == "v4_trades" for m in messages)
    assert isinstance(records[0], WsConnection) and isinstance(records[-1], WsClose)
    header = read_header(out)
    assert header.test == FEED_TEST
    assert header.extra["filtered_from"] == "test_book.jsonl"
    assert "--channel v4_trades" in header.extra["filter"]  # as `streamreplay filter` says it
    listed = [r["name"] for r in client.get("/api/cassettes").json()["cassettes"]]
    assert "cut/trades.jsonl" in listed


def test_create_filtered_matches_the_filter_command(client: TestClient, cassette_dir: Path) -> None:
    """One query language: the API and ``streamreplay filter`` cut the same records and
    describe the cut the same way."""
    from pytest_streamreplay.cli import main

    body = {"output": "w.jsonl", "where": "type == 'subscribe'", "text": "SUBSCRIBE", "t_from": 0}
    assert client.post(f"{FEED}/filter", json=body).status_code == 201
    source = cassette_dir / "feed" / "test_book.jsonl"
    args = ["--where", "type == 'subscribe'", "--text", "SUBSCRIBE", "--from", "0"]
    assert main(["filter", str(source), "-o", str(cassette_dir / "cli.jsonl"), *args]) == 0
    by_api = [r.to_json() for r in iter_records(cassette_dir / "w.jsonl")]
    by_cli = [r.to_json() for r in iter_records(cassette_dir / "cli.jsonl")]
    assert by_api == by_cli
    assert [r["kind"] for r in by_api] == ["ws", "ws_msg", "ws", "ws_close"]
    headers = [read_header(cassette_dir / n).extra["filter"] for n in ("w.jsonl", "cli.jsonl")]
    assert headers[0] == headers[1]


def test_create_filtered_refuses_existing_outside_and_failing(
    client: TestClient, cassette_dir: Path, corrupt: Path
) -> None:
    existing = client.post(f"{FEED}/filter", json={"output": "bot/session.jsonl"})
    assert existing.status_code == 409 and "exists" in existing.json()["error"]
    assert read_header(cassette_dir / "bot" / "session.jsonl").test == EVENTS_TEST
    for bad in ("../escape.jsonl", "/tmp/escape.jsonl", "x.txt", "a/../../b.jsonl"):
        response = client.post(f"{FEED}/filter", json={"output": bad})
        assert response.status_code == 400, bad
    assert not (cassette_dir.parent / "escape.jsonl").exists()
    same = client.post(f"{FEED}/filter", json={"output": "feed/test_book.jsonl", "overwrite": True})
    assert same.status_code == 400
    # a corrupt source fails half-way: nothing is left behind (atomic write)
    broken = client.post("/api/cassettes/broken.jsonl/filter", json={"output": "out.jsonl"})
    assert broken.status_code == 422
    assert not (cassette_dir / "out.jsonl").exists()
    assert not [p for p in cassette_dir.iterdir() if p.name.startswith(".out.jsonl")]


def test_corrupt_cassette_is_a_json_error_naming_file_and_line(
    client: TestClient, corrupt: Path
) -> None:
    response = client.get("/api/cassettes/broken.jsonl")
    assert response.status_code == 422
    body = response.json()
    assert body["file"] == "broken.jsonl" and body["line"] == 3
    assert body["error"].startswith("broken.jsonl:3: not valid JSON")
    assert "Traceback" not in response.text and str(corrupt.parent) not in response.text
    row = next(r for r in client.get("/api/cassettes").json()["cassettes"] if "error" in r)
    assert row["name"] == "broken.jsonl" and row["error"].startswith("broken.jsonl:3:")
    page = client.get("/cassette/broken.jsonl")
    assert page.status_code == 422 and "broken.jsonl:3" in page.text
    assert page.headers["content-type"].startswith("text/html")


def test_missing_cassette_and_unknown_paths(client: TestClient) -> None:
    missing = client.get("/api/cassettes/nope.jsonl")
    assert missing.status_code == 404 and missing.json()["error"] == "no such cassette"
    assert client.get("/api/nothing/here").status_code == 404
    assert client.get("/api/nothing/here").json()["error"].startswith("no API endpoint")
    page = client.get("/cassette/nope.jsonl")
    assert page.status_code == 404 and "No such cassette" in page.text
    assert client.get("/static/../app.py").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/api/cassettes/%2e%2e/%2e%2e/etc/passwd",
        "/api/cassettes/%2e%2e%2f%2e%2e%2fsecret.jsonl",
        "/api/cassettes/%252e%252e/secret.jsonl",
        "/api/cassettes/feed/%2E%2E/%2E%2E/secret.jsonl",
        "/api/cassettes//etc/passwd",
        "/api/cassettes/%2Fetc%2Fpasswd",
        "/api/cassettes/feed\\..\\..\\secret.jsonl",
        "/api/cassettes/link.jsonl",
        "/api/cassettes/linkdir/secret.jsonl",
        "/api/cassettes/..%00/secret.jsonl",
        "/api/cassettes/%2e%2e/secret.jsonl/messages",
        "/static/%2e%2e/app.py",
        "/cassette/%2e%2e/secret.jsonl",
    ],
)
def test_traversal_is_refused_and_nothing_outside_is_read(
    cassette_dir: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    secret = cassette_dir.parent / "secret.jsonl"
    secret.write_text(
        '{"kind":"header","format":"streamreplay-cassette","version":1,"test":"SECRET"}\n'
    )
    (cassette_dir / "link.jsonl").symlink_to(secret)
    (cassette_dir / "linkdir").symlink_to(cassette_dir.parent, target_is_directory=True)
    opened: list[str] = []
    real_open = open

    def watching_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(os.fspath(file) if isinstance(file, str | os.PathLike) else str(file))
        return real_open(file, *args, **kwargs)

    import builtins

    monkeypatch.setattr(builtins, "open", watching_open)
    with dashboard_client(cassette_dir) as client:
        response = client.get(url)
        assert response.status_code in (400, 404), response.text
        assert "SECRET" not in response.text
        listed = client.get("/api/cassettes").json()["cassettes"]
    assert "link.jsonl" not in {r["name"] for r in listed}
    outside = [p for p in opened if Path(p).resolve() == secret.resolve()]
    assert outside == []


def test_openapi_schema_documents_the_api(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404  # Swagger UI would load from a CDN
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/cassettes",
        "/api/cassettes/{name}",
        "/api/cassettes/{name}/messages",
        "/api/cassettes/{name}/timeline",
        "/api/cassettes/{name}/fields",
        "/api/cassettes/{name}/filter",
        "/api/cassettes/{name}/replay",
        "/api/cassettes/{name}/replay/start",
        "/api/cassettes/{name}/replay/speed",
    ):
        assert path in paths, sorted(paths)


def test_pages_and_vendored_plotly_are_served(client: TestClient) -> None:
    index = client.get("/")
    assert index.status_code == 200 and "/static/list.js" in index.text
    page = client.get("/cassette/feed/test_book.jsonl")
    assert page.status_code == 200 and "/static/vendor/plotly.min.js" in page.text
    plotly = client.get("/static/vendor/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
    assert b"plotly" in plotly.content[:2000].lower()
    assert client.get("/static/app.css").status_code == 200


# -- a large cassette ----------------------------------------------------------------------


def test_large_cassette_pages_and_bins_without_loading_everything(big_dir: Path) -> None:
    """100 000 messages: the index is built once, then pages and bins are cheap and small."""
    api = "/api/cassettes/big.jsonl"
    with dashboard_client(big_dir) as client:
        assert client.get(api).json()["counts"]["messages"] == BIG_MESSAGES  # builds the index
        started = time.monotonic()
        first = client.get(f"{api}/messages", params={"limit": 100})
        deep = client.get(f"{api}/messages", params={"limit": 50, "offset": 99_960})
        channel = client.get(
            f"{api}/messages", params={"channel": "v4_orderbook", "offset": 20_000, "limit": 10}
        )
        paged = time.monotonic() - started
        assert first.json()["total"] == BIG_MESSAGES and len(first.json()["items"]) == 100
        assert len(first.content) < 100_000  # a page, not the cassette
        seqs = [i["body"]["json"]["seq"] for i in deep.json()["items"]]
        assert seqs == list(range(99_960, 100_000))
        assert channel.json()["total"] == BIG_MESSAGES // 4
        assert channel.json()["items"][0]["body"]["json"]["seq"] == 80_000
        assert paged < 5, f"three pages took {paged:.2f} s"

        # a content search streams, and can stop once the page is full
        text = client.get(f"{api}/messages", params={"text": "orderbook", "total": False}).json()
        assert text["total"] is None and text["has_more"] and len(text["items"]) == 100

        started = time.monotonic()
        binned = client.get(f"{api}/timeline", params={"bins": 100})
        series = binned.json()["series"]
        assert [len(s["counts"]) for s in series] == [100]
        assert sum(series[0]["counts"]) == BIG_MESSAGES
        assert len(binned.content) < 5_000
        zoomed = client.get(f"{api}/timeline", params={"start": 1000, "end": 1999, "bins": 10})
        assert zoomed.json()["series"][0]["counts"] == [100] * 10
        assert time.monotonic() - started < 10


def test_event_cassette_summary(client: TestClient) -> None:
    body = client.get(BOT).json()
    assert body["kind"] == ["events"]
    assert body["duration_ms"] == pytest.approx(39 * 25.0)
    items = client.get(f"{BOT}/messages", params={"limit": 2}).json()["items"]
    assert [i["name"] for i in items] == ["Bar", "Fill"]
    assert items[1]["body"]["json"] == {"seq": 1, "channel": "bars"}


def test_create_filtered_redacts_what_it_writes(client: TestClient, cassette_dir: Path) -> None:
    """A cassette written before today's rules (or by hand) loses its secrets when cut."""
    from pytest_streamreplay.cassette import new_header, write_cassette

    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3ZWItZmlsdGVyIn0.d2ViLWZpbHRlci1zaWduYXR1cmU"
    write_cassette(
        cassette_dir / "old" / "leaky.jsonl",
        new_header(test="t"),
        [
            WsConnection(1, "wss://x.test/ws?listenKey=web-listen-key-123456"),
            WsMessage.build(1, "send", 1.0, b'{"action":"auth","key":"PKWEB12345678"}', False),
            WsMessage.build(1, "recv", 2.0, f"session {jwt}".encode(), False),
        ],
    )
    response = client.post(
        "/api/cassettes/old/leaky.jsonl/filter", json={"output": "old/cut.jsonl", "conn": [1]}
    )
    assert response.status_code == 201, response.text
    text = (cassette_dir / "old" / "cut.jsonl").read_text()
    for secret in ("web-listen-key-123456", "PKWEB12345678", jwt):
        assert secret not in text
    assert "REDACTED-jwt-1" in text


def test_a_bad_body_is_a_json_error_naming_file_and_line(
    client: TestClient, cassette_dir: Path
) -> None:
    """A body replay could not rebuild (bad base64) is refused when read, on every endpoint."""
    path = cassette_dir / "badbody.jsonl"
    path.write_text(
        '{"kind":"header","format":"streamreplay-cassette","version":1}\n'
        '{"kind":"ws","id":1,"url":"wss://x.test","t":0}\n'
        '{"kind":"ws_msg","conn":1,"dir":"recv","t":1,"binary":true,"base64":"abc"}\n'
    )
    base = "/api/cassettes/badbody.jsonl"
    for response in (
        client.get(base),
        client.get(f"{base}/messages"),
        client.get(f"{base}/timeline"),
        client.post(f"{base}/filter", json={"output": "out.jsonl"}),
    ):
        assert response.status_code == 422, response.text
        assert response.json()["error"].startswith(
            "badbody.jsonl:3: bad record: message body: invalid base64"
        ), response.text
    assert not (cassette_dir / "out.jsonl").exists()


def _http_client(tmp_path: Path) -> TestClient:
    from .layout_cassettes import write_grpc, write_http_only

    root = tmp_path / "cassettes"
    write_http_only(root / "http" / "orders_api.jsonl")
    write_grpc(root / "grpc" / "orders.jsonl")
    return dashboard_client(root)


def test_http_calls_page_with_duration_size_chunks_and_grpc(tmp_path: Path) -> None:
    with _http_client(tmp_path) as client:
        body = client.get("/api/cassettes/http/orders_api.jsonl/http?limit=3").json()
        assert body["total"] == 4 and body["has_more"] and body["next_offset"] == 3
        first, _, streamed = body["items"]
        assert (first["method"], first["status"], first["duration_ms"]) == ("GET", 200, 18.25)
        assert first["line"] == 2 and first["content_type"] == "application/json"
        assert first["chunks"] is None and first["grpc"] is None
        assert streamed["chunks"] == 3 and streamed["size"] == 13 + 14 + 13
        late = client.get("/api/cassettes/http/orders_api.jsonl/http?t_from=300").json()
        assert [i["status"] for i in late["items"]] == [404]
        calls = client.get("/api/cassettes/grpc/orders.jsonl/http").json()["items"]
        grpc = [(c["grpc"]["method"], c["grpc"]["status"], c["grpc"]["status_name"]) for c in calls]
        assert grpc == [
            ("/orders.Orders/Get", 0, "OK"),
            ("/orders.Orders/Watch", 0, "OK"),
            ("/orders.Orders/Get", 5, "NOT_FOUND"),
        ]
        # the details' first 500 calls carry the same summary, with the line to open
        details = client.get("/api/cassettes/grpc/orders.jsonl").json()
        assert [h["line"] for h in details["http"]] == [2, 3, 4]


def test_one_record_in_full_with_headers_bodies_and_chunk_offsets(tmp_path: Path) -> None:
    with _http_client(tmp_path) as client:
        one = client.get("/api/cassettes/http/orders_api.jsonl/records/2").json()
        assert ["Authorization", "REDACTED-bearer-1"] in one["request"]["headers"]
        assert ["X-Request-Id", "req-1"] in one["response"]["headers"]
        assert one["response"]["body"]["json"]["orders"][0]["side"] == "BUY"
        posted = client.get("/api/cassettes/http/orders_api.jsonl/records/3").json()
        assert posted["request"]["body"]["json"]["price"] == "97000"
        streamed = client.get("/api/cassettes/http/orders_api.jsonl/records/4").json()
        chunks = streamed["response"]["chunks"]
        assert [(c["t"], c["offset"], c["size"]) for c in chunks] == [
            (0.0, 0, 13),
            (120.5, 13, 14),
            (250.0, 27, 13),
        ]
        assert chunks[1]["body"] == {"text": "data: second\n\n"}
        assert streamed["response"]["chunks_total"] == 3
        trailers = client.get("/api/cassettes/grpc/orders.jsonl/records/2").json()
        assert trailers["response"]["trailers"] == [["grpc-status", "0"], ["grpc-message", ""]]
        # a placeholder inside a binary (gRPC) body is reported like one in JSON or text
        assert trailers["request"]["redacted"] == ["$"] and "base64" in trailers["request"]["body"]
        assert trailers["response"]["redacted"] == []
        page = client.get("/api/cassettes/grpc/orders.jsonl/messages").json()
        assert [item["redacted"] for item in page["items"]] == [[], [], []]  # response bodies
        for bad in ("6", "1", "x"):
            answer = client.get(f"/api/cassettes/http/orders_api.jsonl/records/{bad}")
            assert answer.status_code == 400, (bad, answer.text)
            assert answer.json()["error"]
