"""``streamreplay timeline`` through a real process."""

from __future__ import annotations

import re
from pathlib import Path

from pytest_streamreplay.commands.timeline import sparkline

from .conftest import Run, one_error_line


def test_sparkline_scales_to_the_busiest_slice() -> None:
    assert sparkline([0, 1, 2, 3, 99], 100, 10) == "█        ▂"
    assert sparkline([], 100, 4) == "    "
    assert sparkline([5], 0, 3) == "█  "


def test_timeline_rows_and_sparklines_per_connection(run: Run, feed: Path) -> None:
    result = run("timeline", str(feed), "--width", "100", process=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 100 for line in lines)
    first = lines.index("connection 1  wss://indexer.test/v4/ws")
    second = lines.index("connection 2  wss://other.test/stream")
    conn1 = "\n".join(lines[first:second])
    assert "3 messages (1 sent, 2 received) over 0.130s" in conn1
    assert re.search(
        r"\+0\.001s → +42 B  \{\"type\":\"subscribe\",\"channel\":\"v4_trades\"\}", conn1
    )
    assert re.search(
        r"\+0\.040s ← +\d+ B  \{\"type\":\"channel_data\",\"channel\":\"v4_trades\"", conn1
    )
    assert re.search(r"\+0\.090s ← .*v4_orderbook", conn1)
    spark = {
        label: line
        for line in lines[first:second]
        for label in ("recv", "send")
        if line.startswith(f"  {label} │")
    }
    assert set(spark) == {"recv", "send"} and "█" in spark["recv"] and "█" in spark["send"]
    assert 'closed: 1000 "done" by client at +0.130s' in conn1
    conn2 = "\n".join(lines[second:])
    assert re.search(r"\+0\.041s ← +15 B  <15 bytes> 00 01 02 62", conn2)
    assert "still open at the end of the recording" in conn2
    assert "http  (HTTP interactions)" in result.stdout
    assert re.search(r"\+0\.120s ⇄ +0 B  503 POST https://indexer\.test/v4/orders", result.stdout)


def test_timeline_one_connection_with_a_row_limit(run: Run, feed: Path) -> None:
    result = run("timeline", str(feed), "--connection", "1", "--limit", "1", "--width", "60")
    assert result.returncode == 0, result.stderr
    assert "connection 1" in result.stdout
    assert "connection 2" not in result.stdout and "http" not in result.stdout
    assert result.stdout.count(" → ") + result.stdout.count(" ← ") == 1
    assert "… 2 more (--limit 0 shows all)" in result.stdout


def test_timeline_errors(run: Run, feed: Path, corrupt: Path) -> None:
    assert one_error_line(run("timeline", str(feed), "--connection", "7")) == (
        f"streamreplay: error: {feed}: no WebSocket connection or gRPC call 7"
    )
    assert one_error_line(run("timeline", str(corrupt))).startswith(
        f"streamreplay: error: {corrupt}:3:"
    )
