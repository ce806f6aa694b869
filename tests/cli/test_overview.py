"""``streamreplay --version``, ``--help``, ``ls`` and ``info`` through real processes."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import TEST_ID, Run, one_error_line


def test_version_and_help_list_the_commands(run: Run) -> None:
    version = run("--version", script=True)
    assert version.returncode == 0
    assert re.fullmatch(r"streamreplay \d+\.\d+\.\d+\S*", version.stdout.strip())
    helped = run("--help")
    assert helped.returncode == 0
    for command in ("ls", "info", "timeline", "filter", "import", "export", "verify", "redact"):
        assert re.search(rf"^\s+{command}\s", helped.stdout, re.M), command


def test_ls_tables_every_cassette_and_reports_the_corrupt_one(
    run: Run, feed: Path, corrupt: Path
) -> None:
    result = run("ls", script=True)  # default directory: ./cassettes
    assert result.returncode == 1  # one cassette is unreadable
    row = next(line for line in result.stdout.splitlines() if "test_book.jsonl" in line)
    assert TEST_ID in row  # brackets in the test id are not eaten as markup
    # http, ws, messages, events, ..., format version
    assert re.search(r"feed/test_book\.jsonl\s+\S+\s+2\s+2\s+4\s+3\s+[\d.]+ \S+\s+\S+\s+1$", row)
    assert re.search(r"broken\.jsonl\s+unreadable", result.stdout)
    assert "2 cassettes, 1 unreadable" in result.stdout
    assert one_error_line(result) == (
        f"streamreplay: error: {corrupt.relative_to(corrupt.parents[1])}:3: not valid JSON "
        "(Expecting property name enclosed in double quotes at column 19); fix or re-record"
    )


def test_ls_of_a_clean_directory_and_of_a_missing_one(run: Run, feed: Path) -> None:
    ok = run("ls", str(feed.parent))
    assert ok.returncode == 0 and "1 cassette" in ok.stdout and "test_book.jsonl" in ok.stdout
    missing = run("ls", "nowhere")
    assert one_error_line(missing) == "streamreplay: error: nowhere: no such directory"


def test_info_shows_header_counts_interactions_connections_events(run: Run, feed: Path) -> None:
    result = run("info", str(feed), process=True)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"test      {TEST_ID}" in out
    assert "streamreplay-cassette v1" in out and "pytest-streamreplay" in out
    assert "records   http 2, ws 2, ws_msg 4, ws_close 1, event 3" in out
    assert re.search(
        r"1\s+\+0\.005s\s+GET\s+https://indexer\.test/v4/perpetualMarkets\s+200 OK", out
    )
    assert re.search(
        r"2\s+\+0\.120s\s+POST\s+https://indexer\.test/v4/orders\s+"
        r"503 Service Unavailable",
        out,
    )
    conn1 = next(line for line in out.splitlines() if "wss://indexer.test/v4/ws" in line)
    assert re.search(r"1 \(42 B\)\s+2 \(\d+ B\)", conn1)  # sent, received
    assert '1000 "done" by client at +0.130s' in conn1
    conn2 = next(line for line in out.splitlines() if "wss://other.test/stream" in line)
    assert re.search(r"0 \(0 B\)\s+1 \(15 B\)", conn2) and "open (no close recorded)" in conn2
    assert re.search(r"trade\s+2\s+\+0\.050s\s+\+0\.096s", out)
    assert re.search(r"book\s+1\s+\+0\.095s\s+\+0\.095s", out)


def test_info_errors_are_one_line_naming_file_and_line(run: Run, corrupt: Path) -> None:
    missing = run("info", "gone.jsonl", script=True)
    assert one_error_line(missing) == "streamreplay: error: gone.jsonl: no such cassette"
    bad = run("info", str(corrupt))
    assert one_error_line(bad).startswith(f"streamreplay: error: {corrupt}:3: not valid JSON")
    not_cassette = corrupt.with_name("plain.jsonl")
    not_cassette.write_text('{"hello": 1}\n')
    line = one_error_line(run("info", str(not_cassette)))
    assert line == (
        f"streamreplay: error: {not_cassette}:1: not a streamreplay-cassette file "
        "(the first line is not its header)"
    )


def test_piped_output_is_plain_full_lines(run: Run, tmp_path: Path, feed: Path) -> None:
    """Piped into grep or cut, nothing is cut, wrapped or padded (``ls | cat`` once gave
    ``book_trades_candl…``; ``verify`` wrapped its digest line)."""
    from pytest_streamreplay.cassette import new_header, write_cassette

    from .conftest import feed_records

    long_name = "book_trades_candles_" + "x" * 90 + ".jsonl"
    long_test = "tests/tradingbot/cassettes/test_bundled_cassettes.py::test_" + "y" * 80
    write_cassette(feed.parent / long_name, new_header(test=long_test), feed_records())
    for args in (("ls", str(feed.parent)), ("info", str(feed)), ("verify", str(feed))):
        result = run(*args, process=True)  # stdout is a pipe
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert "…" not in result.stdout, args
        assert not [line for line in lines if line != line.rstrip()], args
        assert "\x1b[" not in result.stdout, args  # no colour codes
    listing = run("ls", str(feed.parent), process=True).stdout
    row = next(line for line in listing.splitlines() if long_name in line)
    assert long_test in row
    digest = run("verify", str(feed), process=True).stdout.splitlines()[0]
    assert re.fullmatch(r"sha256 [0-9a-f]{64}  \(\d+ items\) \S+test_book\.jsonl", digest)


def test_listing_commands_speak_json(run: Run, feed: Path, corrupt: Path) -> None:
    import json

    listing = run("ls", "--json")
    assert listing.returncode == 1  # the corrupt one is still reported
    rows = {row["cassette"]: row for row in json.loads(listing.stdout)}
    book = rows["feed/test_book.jsonl"]
    assert (book["test"], book["http"], book["ws"], book["ws_msg"], book["event"]) == (
        TEST_ID,
        2,
        2,
        4,
        3,
    )
    assert "not valid JSON" in rows["broken.jsonl"]["error"]
    info = json.loads(run("info", "--json", str(feed)).stdout)
    assert info["header"]["test"] == TEST_ID
    assert info["records"] == {"http": 2, "ws": 2, "ws_msg": 4, "ws_close": 1, "event": 3}
    assert [h["status"] for h in info["http"]] == [200, 503]
    assert [c["url"] for c in info["connections"]] == [
        "wss://indexer.test/v4/ws",
        "wss://other.test/stream",
    ]
    assert info["connections"][0]["close"]["code"] == 1000
    assert info["events"]["trade"]["count"] == 2
