"""mitmproxy flow files in and out: flows written by mitmproxy's own FlowWriter."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import connection, http
from mitmproxy import io as mitmio
from mitmproxy.test import tflow
from mitmproxy.websocket import WebSocketData, WebSocketMessage
from wsproto.frame_protocol import Opcode

from pytest_streamreplay.cassette import (
    Event,
    HttpInteraction,
    HttpRequest,
    HttpResponse,
    WsClose,
    WsConnection,
    WsMessage,
    encode_body,
    new_header,
    read_cassette,
    write_cassette,
)
from pytest_streamreplay.cassette.convert import (
    ConvertError,
    detect_format,
    from_mitm,
    import_records,
    to_mitm,
)

T0 = 1_763_000_000.0
ORDERS = {"orders": [{"id": 7, "price": "101.25"}]}
GZ_ORDERS = gzip.compress(json.dumps(ORDERS).encode(), compresslevel=9, mtime=1_700_000_000)
ORDERBOOK = {
    "type": "channel_data",
    "channel": "v4_orderbook",
    "contents": {"bids": [["1.5", "2"]]},
}


def _write_flows(path: Path, flows: list) -> Path:
    with open(path, "wb") as fh:
        writer = mitmio.FlowWriter(fh)
        for flow in flows:
            writer.add(flow)
    return path


def _conns(host: str, port: int, start: float) -> tuple[connection.Client, connection.Server]:
    client = connection.Client(
        peername=("127.0.0.1", 51000), sockname=("127.0.0.1", 8080), timestamp_start=start
    )
    server = connection.Server(address=(host, port), timestamp_start=start)
    return client, server


def _gzip_flow() -> http.HTTPFlow:
    flow = http.HTTPFlow(*_conns("indexer.example.test", 443, T0 + 0.5))
    flow.request = http.Request(
        "indexer.example.test",
        443,
        b"POST",
        b"https",
        b"",
        b"/v4/orders?limit=2&x=%20y",
        b"HTTP/1.1",
        http.Headers([(b"Content-Type", b"application/json"), (b"Accept-Encoding", b"gzip")]),
        b'{"side": "BUY"}',
        None,
        T0 + 0.5,
        T0 + 0.51,
    )
    flow.response = http.Response(
        b"HTTP/1.1",
        201,
        b"Created",
        http.Headers(
            [
                (b"Content-Type", b"application/json"),
                (b"Content-Encoding", b"gzip"),
                (b"Set-Cookie", b"a=1"),
                (b"Set-Cookie", b"b=2"),
            ]
        ),
        GZ_ORDERS,
        None,
        T0 + 0.6,
        T0 + 0.625,
    )
    return flow


def _binary_flow() -> http.HTTPFlow:
    flow = http.HTTPFlow(*_conns("cdn.example.test", 8443, T0 + 1))
    flow.request = http.Request.make("GET", "https://cdn.example.test:8443/blob.bin")
    flow.request.timestamp_start = flow.request.timestamp_end = T0 + 1
    flow.response = http.Response.make(
        200, bytes(range(256)), {"Content-Type": "application/octet-stream"}
    )
    flow.response.timestamp_start = flow.response.timestamp_end = T0 + 1.25
    return flow


def _ws_flow() -> http.HTTPFlow:
    """A dYdX-like feed, opened first but (as mitmdump does) written last."""
    flow = http.HTTPFlow(*_conns("indexer.example.test", 443, T0))
    flow.request = http.Request.make(
        "GET",
        "https://indexer.example.test/v4/ws",
        headers=((b"Upgrade", b"websocket"), (b"Sec-WebSocket-Protocol", b"v4")),
    )
    flow.request.timestamp_start = flow.request.timestamp_end = T0
    flow.response = http.Response.make(
        101, b"", {"Upgrade": "websocket", "Sec-WebSocket-Protocol": "v4"}
    )
    flow.response.timestamp_start = flow.response.timestamp_end = T0 + 0.1
    ws = WebSocketData()
    ws.messages = [
        WebSocketMessage(
            Opcode.TEXT, True, b'{"type":"subscribe","channel":"v4_orderbook"}', T0 + 0.2
        ),
        WebSocketMessage(Opcode.TEXT, False, json.dumps(ORDERBOOK).encode(), T0 + 0.35),
        WebSocketMessage(Opcode.BINARY, False, b"\x00\xffbin", T0 + 0.4),
        WebSocketMessage(Opcode.TEXT, True, "ping é".encode(), T0 + 2.1),
    ]
    ws.close_code, ws.close_reason, ws.closed_by_client = 4001, "bye", True
    ws.timestamp_end = T0 + 2.5
    flow.websocket = ws
    return flow


def test_helper_flows_import_field_by_field(tmp_path: Path) -> None:
    path = _write_flows(
        tmp_path / "t.mitm",
        [tflow.tflow(resp=True), tflow.twebsocketflow(), tflow.ttcpflow(), tflow.tflow(err=True)],
    )
    notes: list[str] = []
    records = list(from_mitm(path, on_skip=notes.append))
    assert [type(r) for r in records] == [
        HttpInteraction,
        WsConnection,
        WsMessage,
        WsMessage,
        WsMessage,
        WsClose,
    ]
    http_rec, conn, m1, m2, m3, close = records
    assert isinstance(http_rec, HttpInteraction)
    # ids as recording gives them: one sequence for interactions and connections, from 0
    assert (http_rec.id, http_rec.t, http_rec.duration_ms) == (0, 0.0, 3000.0)
    assert http_rec.request.method == "GET"
    assert http_rec.request.url == "http://address:22/path"
    assert http_rec.request.headers == [("header", "qvalue"), ("content-length", "7")]
    assert http_rec.request.content == b"content"
    assert (http_rec.response.status, http_rec.response.reason) == (200, "OK")
    assert http_rec.response.headers == [("header-response", "svalue"), ("content-length", "7")]
    assert http_rec.response.content == b"message"
    assert isinstance(conn, WsConnection)
    assert (conn.id, conn.url, conn.t) == (1, "ws://example.com/ws", 3000.0)
    assert ("sec-websocket-key", "1234") in conn.headers
    assert [(m.dir, m.binary, m.content, m.t) for m in (m1, m2, m3)] == [  # type: ignore[union-attr]
        ("send", True, b"hello binary", 0.0),
        ("send", False, b"hello text", 1000.0),
        ("recv", False, b"it's me", 2000.0),
    ]
    assert close == WsClose(conn=1, t=2000.0, code=1000, reason="", by="server")
    assert notes == [
        "flow 3: a TCP flow has no cassette form",
        "GET http://address:22/path: no response (error)",
    ]


def test_realistic_flows_import_decoded_and_in_recording_order(tmp_path: Path) -> None:
    path = _write_flows(tmp_path / "feed.mitm", [_gzip_flow(), _binary_flow(), _ws_flow()])
    records = list(from_mitm(path))
    kinds = [type(r).__name__ for r in records]
    # as recording writes them: an interaction when its response ends, a message as it passes
    assert kinds == [
        "WsConnection",
        "WsMessage",
        "WsMessage",
        "WsMessage",
        "HttpInteraction",
        "HttpInteraction",
        "WsMessage",
        "WsClose",
    ]
    conn = records[0]
    assert isinstance(conn, WsConnection)
    assert conn.url == "wss://indexer.example.test/v4/ws"
    assert conn.subprotocol == "v4" and conn.t == 100.0  # opened when the 101 arrived
    messages = [r for r in records if isinstance(r, WsMessage)]
    assert [m.dir for m in messages] == ["send", "recv", "recv", "send"]
    assert [m.t for m in messages] == [100.0, 250.0, 300.0, 2000.0]
    assert messages[1].body == {"json": ORDERBOOK, "layout": "spaced"}
    assert messages[2].binary and messages[2].content == b"\x00\xffbin"
    assert messages[3].text == "ping é"
    assert records[7] == WsClose(conn=0, t=2400.0, code=4001, reason="bye", by="client")

    post, blob = records[4], records[5]
    assert isinstance(post, HttpInteraction) and isinstance(blob, HttpInteraction)
    assert post.request.url == "https://indexer.example.test/v4/orders?limit=2&x=%20y"
    assert post.request.json == {"side": "BUY"}
    assert (post.t, post.duration_ms) == (500.0, 125.0)
    assert post.response.status == 201 and post.response.reason == "Created"
    assert post.response.json == ORDERS  # gunzipped
    assert post.response.header("content-encoding") == "gzip"  # kept for replay
    # a recipe that rebuilds the compressed bytes (checked byte for byte below)
    assert (post.response.encoded or {})["gzip"]["header"] == GZ_ORDERS[:10].hex()
    assert [v for k, v in post.response.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert blob.request.url == "https://cdn.example.test:8443/blob.bin"
    assert blob.response.content == bytes(range(256))
    assert "base64" in (blob.response.body or {})


def test_compressed_wire_bytes_survive_import_and_export(tmp_path: Path) -> None:
    records = list(from_mitm(_write_flows(tmp_path / "in.mitm", [_gzip_flow()])))
    to_mitm(records, tmp_path / "out.mitm")
    with open(tmp_path / "out.mitm", "rb") as fh:
        (flow,) = list(mitmio.FlowReader(fh).stream())
    assert isinstance(flow, http.HTTPFlow) and flow.response is not None
    assert flow.response.raw_content == GZ_ORDERS  # the same bytes, gzip header and all
    assert flow.response.headers.get_all("set-cookie") == ["a=1", "b=2"]


def _cassette_records() -> list:
    gz_body = json.dumps({"ok": True, "n": [1, 2, 3]}).encode()
    return [
        HttpInteraction(
            id=1,
            request=HttpRequest.build(
                "GET",
                "https://api.example.test/v4/height?x=1",
                [("Accept", "application/json")],
                b"",
            ),
            response=HttpResponse(
                200,
                "OK",
                headers=[("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
                body=encode_body(gz_body),
            ),
            t=12.5,
            duration_ms=40.25,
        ),
        WsConnection(
            id=1,
            url="wss://api.example.test/v4/ws",
            t=60.0,
            headers=[("Sec-WebSocket-Protocol", "v4")],
            subprotocol="v4",
            response_headers=[("Sec-WebSocket-Protocol", "v4")],
        ),
        WsMessage.build(1, "send", 1.5, b'{"type":"subscribe"}', binary=False),
        HttpInteraction(
            id=2,
            request=HttpRequest.build(
                "POST",
                "http://127.0.0.1:8000/echo",
                [("Content-Type", "application/octet-stream")],
                b"\x01\x02\xff",
            ),
            response=HttpResponse(
                404, "Not Found", http_version="HTTP/2.0", headers=[("X-Id", "a"), ("X-Id", "b")]
            ),
            t=70.0,
            duration_ms=3.0,
        ),
        WsMessage.build(1, "recv", 20.0, b"\x00\x01", binary=True),
        WsMessage.build(1, "recv", 25.125, b"plain text", binary=False),
        Event(session="s", t=5.0, name="tick", data={"n": 1}),
        WsClose(conn=1, t=30.0, code=1001, reason="going away", by="server"),
    ]


def test_cassette_to_mitm_and_back_preserves_everything(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    header = new_header(test="tests/test_x.py::test_y")
    write_cassette(cassette, header, _cassette_records())
    header, records = read_cassette(cassette)
    summary = to_mitm(records, tmp_path / "out.mitm", header=header)
    assert (summary.http_flows, summary.websocket_flows, summary.messages) == (2, 1, 3)
    assert summary.events_skipped == 1

    with open(tmp_path / "out.mitm", "rb") as fh:
        flows: list[Any] = list(mitmio.FlowReader(fh).stream())
    assert [type(f).__name__ for f in flows] == ["HTTPFlow"] * 3
    assert flows[1].websocket is not None and flows[0].websocket is None
    assert flows[1].response.status_code == 101
    assert flows[0].response.raw_content != flows[0].response.content  # gzipped on the wire
    first = records[0]
    assert isinstance(first, HttpInteraction)
    assert gzip.decompress(flows[0].response.raw_content) == first.response.content

    back = list(from_mitm(tmp_path / "out.mitm"))
    originals = [r for r in records if not isinstance(r, Event)]
    assert len(back) == len(originals)
    by_kind = lambda rs, k: [r for r in rs if isinstance(r, k)]  # noqa: E731
    for a, b in zip(
        by_kind(originals, HttpInteraction), by_kind(back, HttpInteraction), strict=True
    ):
        assert a.request == b.request
        back_response = b.response.to_json()
        if a.response.encoded is None:  # the export compressed it; the import found how
            assert back_response.pop("encoded", None) is None or "gzip" in a.response.headers[1]
        assert a.response.to_json() == back_response
        assert a.t == pytest.approx(b.t, abs=0.01)
        assert a.duration_ms == pytest.approx(b.duration_ms, abs=0.01)
    for kind in (WsConnection, WsMessage, WsClose):
        for a, b in zip(by_kind(originals, kind), by_kind(back, kind), strict=True):
            ja, jb = a.to_json(), b.to_json()
            assert ja.pop("t") == pytest.approx(jb.pop("t"), abs=0.01)
            assert ja == jb
    # the cassette's own ids come back (each kind's ids are unique), not a new numbering
    assert [r.id for r in by_kind(back, HttpInteraction)] == [1, 2]
    assert [r.id for r in by_kind(back, WsConnection)] == [1]


def test_detect_and_errors(tmp_path: Path) -> None:
    path = _write_flows(tmp_path / "noext", [tflow.tflow(resp=True)])
    assert detect_format(path) == "mitm"
    assert len(list(import_records(path))) == 1
    junk = tmp_path / "junk.mitm"
    junk.write_bytes(b"this is not a flow file")
    with pytest.raises(ConvertError, match=r"junk\.mitm: not a readable mitmproxy flow file"):
        list(from_mitm(junk))
    with pytest.raises(ConvertError, match="no such file"):
        list(from_mitm(tmp_path / "missing.mitm"))
    odd = tmp_path / "odd.bin"
    odd.write_bytes(b"\x00\x01 nothing recognisable")
    with pytest.raises(ConvertError, match="unknown format"):
        detect_format(odd)


def test_importing_the_package_does_not_import_mitmproxy_or_vcr() -> None:
    code = (
        "import sys, pytest_streamreplay, pytest_streamreplay.cassette, "
        "pytest_streamreplay.cassette.convert, pytest_streamreplay.cli;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'mitmproxy', 'vcr', 'yaml'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_har_files_import_through_mitmproxys_reader(tmp_path: Path) -> None:
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "browser", "version": "1"},
            "entries": [
                {
                    "startedDateTime": "2026-01-01T00:00:00.000Z",
                    "time": 12,
                    "request": {
                        "method": "GET",
                        "url": "https://a.test/x?y=1",
                        "httpVersion": "HTTP/1.1",
                        "headers": [{"name": "Accept", "value": "*/*"}],
                        "queryString": [],
                        "cookies": [],
                        "headersSize": -1,
                        "bodySize": 0,
                    },
                    "response": {
                        "status": 200,
                        "statusText": "OK",
                        "httpVersion": "HTTP/1.1",
                        "headers": [{"name": "Content-Type", "value": "application/json"}],
                        "cookies": [],
                        "content": {"size": 7, "mimeType": "application/json", "text": '{"a":1}'},
                        "redirectURL": "",
                        "headersSize": -1,
                        "bodySize": 7,
                    },
                    "cache": {},
                    "timings": {"send": 0, "wait": 10, "receive": 2},
                }
            ],
        }
    }
    path = tmp_path / "capture.json"
    path.write_text(json.dumps(har))
    assert detect_format(path) == "har"
    (record,) = list(import_records(path))
    assert isinstance(record, HttpInteraction)
    assert (record.request.method, record.request.url) == ("GET", "https://a.test/x?y=1")
    assert record.response.json == {"a": 1} and record.duration_ms == 12.0


def test_unfinished_responses_export_as_mitmproxy_errors(tmp_path: Path) -> None:
    """An exported unfinished stream carries mitmproxy's error (mitmweb shows how it ended); one
    the client gave up on has no response, as in mitmproxy, and import names it as skipped."""
    records = [
        HttpInteraction(
            0,
            HttpRequest("GET", "http://a.test/slow"),
            HttpResponse(0, end="no_response", chunks=[]),
        ),
        HttpInteraction(
            1,
            HttpRequest("GET", "http://a.test/sse"),
            HttpResponse(200, body=encode_body(b"data: 1\n\n"), end="client_closed"),
        ),
    ]
    path = tmp_path / "out.mitm"
    to_mitm(records, path)
    with path.open("rb") as f:
        flows = list(mitmio.FlowReader(f).stream())
    assert flows[0].response is None and "no_response" in flows[0].error.msg
    assert flows[1].response.status_code == 200 and "client_closed" in flows[1].error.msg
    skipped: list[str] = []
    (back,) = from_mitm(path, on_skip=skipped.append)
    assert back.request.url == "http://a.test/sse"
    assert skipped == [
        "GET http://a.test/slow: no response (streamreplay: response ended no_response)"
    ]
