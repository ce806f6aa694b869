"""vcrpy cassettes recorded by vcrpy itself against a real local server, imported."""

from __future__ import annotations

import base64
import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import requests
import vcr

from pytest_streamreplay.cassette import HttpInteraction
from pytest_streamreplay.cassette.convert import (
    ConvertError,
    detect_format,
    from_vcr,
    import_records,
)

MARKETS = {"markets": {"BTC-USD": {"oraclePrice": "97000.5", "status": "ACTIVE"}}}
BLOB = bytes(range(256)) * 3


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/markets"):
            self._send(200, json.dumps(MARKETS).encode(), "application/json")
        elif self.path == "/blob":
            self._send(200, BLOB, "application/octet-stream")
        elif self.path == "/gz":
            self._send(
                200,
                gzip.compress(b'{"zipped":true}'),
                "application/json",
                [("Content-Encoding", "gzip")],
            )
        else:
            self._send(404, b"nope", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._send(201, body[::-1], "application/octet-stream", [("X-Echo", "1"), ("X-Echo", "2")])

    def _send(
        self, status: int, body: bytes, ctype: str, extra: list[tuple[str, str]] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra or []:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_requests_cassette_recorded_by_vcrpy(server: str, tmp_path: Path) -> None:
    path = tmp_path / "requests.yaml"
    with vcr.use_cassette(str(path), record_mode="all"):
        assert requests.get(f"{server}/markets?limit=1").json() == MARKETS
        assert requests.get(f"{server}/blob").content == BLOB
        assert requests.get(f"{server}/gz").json() == {"zipped": True}
        assert requests.post(f"{server}/echo", data=b"\x00abc\xff").status_code == 201
        assert requests.get(f"{server}/missing").status_code == 404
    assert "!!binary" in path.read_text()  # vcrpy wrote the binary body its own way

    records = list(from_vcr(path))
    assert all(isinstance(r, HttpInteraction) for r in records)
    assert [(r.request.method, r.request.url, r.response.status) for r in records] == [
        ("GET", f"{server}/markets?limit=1", 200),
        ("GET", f"{server}/blob", 200),
        ("GET", f"{server}/gz", 200),
        ("POST", f"{server}/echo", 201),
        ("GET", f"{server}/missing", 404),
    ]
    markets, blob, gz, echo, missing = records
    assert markets.response.json == MARKETS
    assert markets.response.body == {"json": MARKETS, "layout": "spaced"}
    assert markets.response.reason == "OK"
    assert markets.response.header("content-type") == "application/json"
    assert blob.response.content == BLOB
    assert gz.response.content == b'{"zipped":true}'  # decoded ...
    assert gz.response.header("Content-Encoding") == "gzip"  # ... header kept for replay
    assert echo.request.content == b"\x00abc\xff"
    assert echo.response.content == b"\xffcba\x00"
    assert [v for k, v in echo.response.headers if k.lower() == "x-echo"] == ["1", "2"]
    assert missing.response.content == b"nope" and missing.response.reason == "Not Found"
    assert [r.id for r in records] == [0, 1, 2, 3, 4]  # from 0, as recording numbers them


def test_httpx_cassette_recorded_by_vcrpy(server: str, tmp_path: Path) -> None:
    path = tmp_path / "httpx.yml"
    with vcr.use_cassette(str(path), record_mode="all"), httpx.Client() as client:
        assert client.get(f"{server}/markets").json() == MARKETS
        assert client.post(f"{server}/echo", content=b"hello").content == b"olleh"
    assert detect_format(path) == "vcr"
    records = list(from_vcr(path))
    assert [(r.request.method, r.response.status) for r in records] == [("GET", 200), ("POST", 201)]
    assert records[0].response.json == MARKETS
    assert records[1].request.content == b"hello"
    assert records[1].response.content == b"olleh"


def test_json_cassette_from_vcrpys_json_serializer(server: str, tmp_path: Path) -> None:
    path = tmp_path / "markets.json"
    with vcr.use_cassette(str(path), record_mode="all", serializer="json"):
        assert requests.get(f"{server}/markets").json() == MARKETS
    assert detect_format(path) == "vcr"  # by content: .json is also HAR's extension
    (record,) = list(import_records(path))
    assert isinstance(record, HttpInteraction)
    assert record.request.url == f"{server}/markets" and record.response.json == MARKETS


def test_hand_written_shapes_and_errors(tmp_path: Path) -> None:
    zipped = base64.b64encode(gzip.compress(b"[1, 2]")).decode()
    path = tmp_path / "old.yaml"
    path.write_text(
        "interactions:\n"
        "- request: {method: get, uri: 'http://h.test/a', body: null,"
        " headers: {Accept: '*/*'}}\n"
        "  response:\n"
        "    status: {code: 200, message: OK}\n"
        "    headers: {Content-Type: [text/plain]}\n"
        "    body: {string: !!binary aGk=}\n"
        "- request: {method: GET, uri: 'http://h.test/z', body: 'q=1', headers: {}}\n"
        "  response:\n"
        "    status: {code: 200, message: OK}\n"
        "    headers: {Content-Encoding: [gzip]}\n"
        f"    body: {{string: !!binary {zipped}}}\n"
        "- request: {method: GET}\n"
        "  response: {}\n"
        "version: 1\n"
    )
    notes: list[str] = []
    records = list(from_vcr(path, on_skip=notes.append))
    assert len(records) == 2
    assert records[0].request.method == "GET" and records[0].request.headers == [("Accept", "*/*")]
    assert records[0].response.content == b"hi"
    assert records[1].request.content == b"q=1"
    assert records[1].response.body == {"json": [1, 2], "layout": "spaced"}  # gunzipped
    assert records[1].response.headers == [("Content-Encoding", "gzip")]
    assert "gzip" in (records[1].response.encoded or {})  # wire bytes can be rebuilt
    assert notes and notes[0].startswith("interaction 3: unreadable")

    bad = tmp_path / "bad.yaml"
    bad.write_text("interactions: [\n  - {request: ")
    with pytest.raises(ConvertError, match=r"bad\.yaml: not valid vcrpy YAML at line"):
        list(from_vcr(bad))
    other = tmp_path / "other.yaml"
    other.write_text("just: a mapping\n")
    with pytest.raises(ConvertError, match="no 'interactions' list"):
        list(from_vcr(other))
