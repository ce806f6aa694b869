"""Shared helpers for the stream toolkit tests: small cassettes written with CassetteWriter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_streamreplay.cassette import CassetteWriter, WsConnection, new_header


def write_ws_cassette(
    path: Path, messages: list[tuple[int, str, float, Any]], conns: dict[int, tuple[str, float]]
) -> Path:
    """messages: (conn, dir, t, json value); conns: id -> (url, opening t)."""
    with CassetteWriter(path, new_header(test="tests/streams")) as writer:
        written: set[int] = set()
        for conn, direction, t, value in messages:
            if conn not in written:
                url, opened = conns[conn]
                writer.write(WsConnection(conn, url, t=opened))
                written.add(conn)
            writer.write({"kind": "ws_msg", "conn": conn, "dir": direction, "t": t, "json": value})
    return path


@pytest.fixture
def ws_cassette() -> Callable[..., Path]:
    """The cassette-writing helper, as a fixture (test modules here are not a package)."""
    return write_ws_cassette


@pytest.fixture
def market_cassette(tmp_path: Path) -> Path:
    messages = [
        (1, "send", 0.0, {"type": "subscribe", "channel": "v4_trades"}),
        (1, "recv", 12.5, {"type": "connected"}),
        (1, "recv", 40.25, {"type": "trade", "price": "101.5", "size": "0.2"}),
        (1, "recv", 40.25, {"type": "trade", "price": "101.6", "size": "0.1"}),
        (1, "recv", 1500.001, {"type": "trade", "price": "99.9", "size": "1"}),
    ]
    return write_ws_cassette(
        tmp_path / "market.jsonl", messages, {1: ("wss://indexer.example/v4/ws", 3.0)}
    )
