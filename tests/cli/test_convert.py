"""``streamreplay import`` and ``export`` through real processes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mitmproxy import io as mitmio
from mitmproxy.test import tflow

from pytest_streamreplay.cassette import (
    Event,
    HttpInteraction,
    WsClose,
    WsConnection,
    WsMessage,
    read_cassette,
)

from .conftest import Run, feed_records, one_error_line

VCR_YAML = """\
interactions:
- request:
    body: '{"q": 1}'
    headers:
      Content-Type:
      - application/json
    method: POST
    uri: https://api.test/v1/search?page=2
  response:
    body:
      string: '{"hits": [1, 2]}'
    headers:
      Content-Type:
      - application/json
      Set-Cookie:
      - a=1
      - b=2
    status:
      code: 200
      message: OK
- request:
    body: null
    headers: {}
    method: GET
    uri: https://api.test/logo.png
  response:
    body:
      string: !!binary |
        iVBORw0KGgo=
    headers: {}
    status:
      code: 200
      message: OK
version: 1
"""


def test_import_a_mitmproxy_dump(run: Run, tmp_path: Path) -> None:
    dump = tmp_path / "session.mitm"
    with open(dump, "wb") as fh:
        writer = mitmio.FlowWriter(fh)
        writer.add(tflow.tflow(resp=True))
        writer.add(tflow.twebsocketflow())
        writer.add(tflow.ttcpflow())
    result = run("import", str(dump), "--test", "tests/test_a.py::test_b", script=True)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "session.jsonl"  # default: beside the input
    assert "imported 1 HTTP interaction, 1 WebSocket connection (3 messages)" in result.stdout
    assert "streamreplay: warning: flow 3: a TCP flow has no cassette form" in result.stderr
    header, records = read_cassette(out)
    assert header.test == "tests/test_a.py::test_b"
    assert header.extra["source"] == {"format": "mitm", "file": "session.mitm"}
    assert [type(r) for r in records] == [
        HttpInteraction,
        WsConnection,
        WsMessage,
        WsMessage,
        WsMessage,
        WsClose,
    ]
    assert records[0].request.url == "http://address:22/path"  # type: ignore[union-attr]


def test_import_a_vcrpy_cassette(run: Run, tmp_path: Path) -> None:
    source = tmp_path / "search.yaml"
    source.write_text(VCR_YAML)
    out = tmp_path / "out" / "search.jsonl"
    result = run("import", str(source), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "imported 2 HTTP interactions" in result.stdout and "(vcr)" in result.stdout
    search, logo = read_cassette(out)[1]
    assert isinstance(search, HttpInteraction) and isinstance(logo, HttpInteraction)
    assert (search.request.method, search.request.url) == (
        "POST",
        "https://api.test/v1/search?page=2",
    )
    assert search.request.json == {"q": 1} and search.response.json == {"hits": [1, 2]}
    # Imports are redacted: cookie values go, names and attributes stay.
    assert [v for k, v in search.response.headers if k == "Set-Cookie"] == [
        "a=REDACTED-cookie-1",
        "b=REDACTED-cookie-2",
    ]
    assert logo.response.content == b"\x89PNG\r\n\x1a\n"


def test_import_errors(run: Run, tmp_path: Path, feed: Path) -> None:
    odd = tmp_path / "capture.bin"
    odd.write_bytes(b"\x00\x00 nothing known")
    assert one_error_line(run("import", str(odd))).startswith(
        f"streamreplay: error: {odd}: unknown format"
    )
    assert one_error_line(run("import", "absent.mitm")) == (
        "streamreplay: error: absent.mitm: no such file"
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("interactions: [\n  - {request: ")
    assert one_error_line(run("import", str(broken))).startswith(
        f"streamreplay: error: {broken}: not valid vcrpy YAML at line"
    )
    assert not broken.with_suffix(".jsonl").exists()
    assert one_error_line(run("import", str(feed))).endswith(
        "already a cassette; nothing to import"
    )


def test_export_then_import_round_trip(run: Run, feed: Path, tmp_path: Path) -> None:
    flows = tmp_path / "feed.mitm"
    result = run("export", str(feed), "-o", str(flows), script=True)
    assert result.returncode == 0, result.stderr
    assert "exported 2 HTTP flows and 2 WebSocket flows (4 messages)" in result.stdout
    assert "streamreplay: warning: 3 events left out" in result.stderr
    with open(flows, "rb") as fh:
        loaded: list[Any] = list(mitmio.FlowReader(fh).stream())
    assert [f.type for f in loaded] == ["http"] * 4
    assert [f.websocket is not None for f in loaded] == [False, True, True, False]

    back = tmp_path / "back.jsonl"
    assert run("import", str(flows), "-o", str(back)).returncode == 0
    original = [r for r in feed_records() if not isinstance(r, Event)]
    imported = read_cassette(back)[1]

    # Same records, times included (the flows carry the cassette's start); only the order
    # differs, as the export groups each connection's messages with it.
    def lines(records: list) -> list[str]:
        return sorted(json.dumps(r.to_json(), sort_keys=True) for r in records)

    assert lines(imported) == lines(original)


def test_export_then_import_keeps_the_verify_digest(run: Run, feed: Path, tmp_path: Path) -> None:
    """One numbering and one order: a round trip through mitmproxy's format is the same
    cassette to ``verify`` (events, which flows cannot carry, left out of both)."""
    from pytest_streamreplay.cassette import new_header, write_cassette

    plain = tmp_path / "plain.jsonl"
    write_cassette(plain, new_header(), [r for r in feed_records() if not isinstance(r, Event)])
    flows, back = tmp_path / "plain.mitm", tmp_path / "back.jsonl"
    assert run("export", str(plain), "-o", str(flows)).returncode == 0
    assert run("import", str(flows), "-o", str(back)).returncode == 0
    digests = [run("verify", str(p)).stdout.split()[1] for p in (plain, back)]
    assert digests[0] == digests[1]


def test_export_errors(run: Run, corrupt: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.mitm"
    line = one_error_line(run("export", str(corrupt), "-o", str(out)))
    assert line.startswith(f"streamreplay: error: {corrupt}:3: not valid JSON")
    assert not out.exists()
