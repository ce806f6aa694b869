"""Cassettes and runners for the ``streamreplay`` command tests."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

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
    write_cassette,
)
from pytest_streamreplay.cli import main

TEST_ID = "tests/test_feed.py::test_book[BTC-USD]"
SCRIPT = Path(sys.executable).with_name("streamreplay")

Completed = subprocess.CompletedProcess[str]
Run = Callable[..., Completed]


def _run_process(args: tuple[str, ...], cwd: Path, script: bool) -> Completed:
    if script and not SCRIPT.exists():
        pytest.skip(f"no console script at {SCRIPT}")
    cmd = [str(SCRIPT)] if script else [sys.executable, "-m", "pytest_streamreplay.cli"]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60
    )


def _run_inline(args: tuple[str, ...]) -> Completed:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --version, --help, usage errors
            code = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run ``streamreplay ARGS`` in ``tmp_path``.

    By default in this process (``cli.main``, fast); ``process=True`` runs
    ``python -m pytest_streamreplay.cli`` and ``script=True`` the installed console script,
    each module's tests doing both at least once so the real entry points stay covered.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")

    def runner(*args: str, process: bool = False, script: bool = False) -> Completed:
        if process or script:
            return _run_process(args, tmp_path, script)
        return _run_inline(args)

    return runner


def feed_records() -> list:
    """Two connections to a dYdX-like feed, two HTTP calls and a few events."""
    trades = {"type": "channel_data", "channel": "v4_trades", "contents": {"size": "0.5"}}
    book = {"type": "channel_data", "channel": "v4_orderbook", "contents": {"bids": []}}
    return [
        HttpInteraction(
            id=1,
            request=HttpRequest.build("GET", "https://indexer.test/v4/perpetualMarkets", [], b""),
            response=HttpResponse(
                200,
                "OK",
                headers=[("Content-Type", "application/json")],
                body=encode_body(b'{"markets":{}}'),
            ),
            t=5.0,
            duration_ms=12.0,
        ),
        WsConnection(id=1, url="wss://indexer.test/v4/ws", t=20.0),
        WsMessage.build(1, "send", 1.0, b'{"type":"subscribe","channel":"v4_trades"}', False),
        WsConnection(id=2, url="wss://other.test/stream", t=25.0),
        WsMessage.build(1, "recv", 40.0, encode_json(trades), False),
        WsMessage.build(2, "recv", 41.0, b"\x00\x01\x02binary-frame", True),
        WsMessage.build(1, "recv", 90.0, encode_json(book), False),
        Event(session="s1", t=50.0, name="trade", data={"price": "97000.5"}),
        Event(session="s1", t=95.0, name="book", data={"depth": 3}),
        Event(session="s1", t=96.0, name="trade", data={"price": "97001"}),
        HttpInteraction(
            id=2,
            request=HttpRequest.build("POST", "https://indexer.test/v4/orders", [], b"{}"),
            response=HttpResponse(503, "Service Unavailable"),
            t=120.0,
        ),
        WsClose(conn=1, t=130.0, code=1000, reason="done", by="client"),
    ]


def encode_json(value: object) -> bytes:
    import json

    return json.dumps(value, separators=(",", ":")).encode()


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "cassettes" / "feed" / "test_book.jsonl"
    write_cassette(path, new_header(test=TEST_ID), feed_records())
    return path


@pytest.fixture
def corrupt(tmp_path: Path) -> Path:
    path = tmp_path / "cassettes" / "broken.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '{"kind":"header","format":"streamreplay-cassette","version":1}\n'
        '{"kind":"ws","id":1,"url":"wss://x.test","t":0}\n'
        '{"kind":"ws_msg", oops\n'
    )
    return path


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command (and proof there is no traceback)."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]
