"""``streamreplay filter`` through a real process: the output is a valid, smaller cassette."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_streamreplay.cassette import (
    Event,
    HttpInteraction,
    WsClose,
    WsConnection,
    WsMessage,
    read_cassette,
)
from pytest_streamreplay.cassette.where import Where, WhereError

from .conftest import TEST_ID, Run, one_error_line


def _kinds(path: Path) -> list[str]:
    return [r.to_json()["kind"] for r in read_cassette(path)[1]]


def test_filter_one_connection_received_messages(run: Run, feed: Path, tmp_path: Path) -> None:
    out = tmp_path / "one.jsonl"
    result = run("filter", str(feed), "-o", str(out), "--connection", "1", "--direction", "recv")
    assert result.returncode == 0, result.stderr
    assert "kept 4 of 12 records" in result.stdout
    header, records = read_cassette(out)
    assert header.test == TEST_ID
    assert header.extra["filter"] == "--connection 1 --direction recv"
    assert header.extra["filtered_from"] == feed.name
    assert [type(r) for r in records] == [WsConnection, WsMessage, WsMessage, WsClose]
    assert all(r.conn == 1 and r.dir == "recv" for r in records if isinstance(r, WsMessage))


def test_filter_where_over_message_json(run: Run, feed: Path, tmp_path: Path) -> None:
    out = tmp_path / "trades.jsonl"
    result = run(
        "filter", str(feed), "-o", str(out), "--where", 'channel == "v4_trades"', script=True
    )
    assert result.returncode == 0, result.stderr
    records = read_cassette(out)[1]
    messages = [r for r in records if isinstance(r, WsMessage)]
    assert [(m.conn, m.dir) for m in messages] == [(1, "send"), (1, "recv")]
    assert all(m.value["channel"] == "v4_trades" for m in messages)
    assert not [r for r in records if isinstance(r, HttpInteraction | Event)]
    # connections stay (with their close), so the result still replays
    assert [r.id for r in records if isinstance(r, WsConnection)] == [1, 2]
    assert len([r for r in records if isinstance(r, WsClose)]) == 1

    out2 = tmp_path / "data.jsonl"
    result = run(
        "filter",
        str(feed),
        "-o",
        str(out2),
        "--where",
        'json.type == "channel_data" and not binary',
    )
    assert result.returncode == 0, result.stderr
    assert [m.t for m in read_cassette(out2)[1] if isinstance(m, WsMessage)] == [40.0, 90.0]


def test_filter_urls_events_and_http_status(run: Run, feed: Path, tmp_path: Path) -> None:
    out = tmp_path / "u.jsonl"
    assert run("filter", str(feed), "-o", str(out), "--url", "indexer.test").returncode == 0
    assert _kinds(out) == ["http", "ws", "ws_msg", "ws_msg", "ws_msg", "http", "ws_close"]

    assert run("filter", str(feed), "-o", str(out), "--event", "trade").returncode == 0
    records = read_cassette(out)[1]
    assert [(r.name, r.data) for r in records if isinstance(r, Event)] == [
        ("trade", {"price": "97000.5"}),
        ("trade", {"price": "97001"}),
    ]
    assert _kinds(out) == ["event", "event"]

    assert (
        run(
            "filter",
            str(feed),
            "-o",
            str(out),
            "--where",
            "response.status >= 500",
            "--url",
            "/v4/",
        ).returncode
        == 0
    )
    records = read_cassette(out)[1]
    assert [
        (r.request.method, r.response.status) for r in records if isinstance(r, HttpInteraction)
    ] == [("POST", 503)]


def test_filter_in_place_is_atomic(run: Run, feed: Path) -> None:
    assert run("filter", str(feed), "-o", str(feed), "--event", "book").returncode == 0
    assert _kinds(feed) == ["event"]
    assert sorted(p.name for p in feed.parent.iterdir()) == [feed.name]  # no temporary left


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ('__import__("os").system("touch pwned")', "not allowed: function calls"),
        ("json.__class__ == 1", "not allowed: field '__class__'"),
    ],
)
def test_filter_refuses_unsafe_expressions_before_touching_files(
    run: Run, feed: Path, tmp_path: Path, expr: str, reason: str
) -> None:
    out = tmp_path / "never.jsonl"
    line = one_error_line(run("filter", str(feed), "-o", str(out), "--where", expr, process=True))
    assert line.startswith(f"streamreplay: error: --where: {reason}")
    assert not out.exists() and not (tmp_path / "pwned").exists()


def test_filter_errors_name_the_file(run: Run, corrupt: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    line = one_error_line(run("filter", str(corrupt), "-o", str(out)))
    assert line.startswith(f"streamreplay: error: {corrupt}:3: not valid JSON")
    assert not out.exists()  # the half-written output was discarded
    missing = one_error_line(run("filter", "nope.jsonl", "-o", str(out)))
    assert missing == "streamreplay: error: nope.jsonl: no such cassette"


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("[x for x in json]", "not allowed: comprehensions"),
        ("t + 1 > 2", "not allowed: arithmetic"),
        ("json is None", "not allowed: operator Is"),
        ("lambda: 1", "not allowed: lambdas"),
        ("json[1:2]", "[...] takes a string or integer literal"),
        ("(x := 1)", "not allowed: assignments"),
        ('channel == "a" and', "invalid syntax"),
    ],
)
def test_where_refuses_everything_but_comparisons(expr: str, reason: str) -> None:
    with pytest.raises(WhereError) as info:
        Where(expr)
    assert str(info.value).startswith(f"--where: {reason}")
    assert info.value.code == 2


def test_where_language_semantics() -> None:
    msg = {
        "kind": "ws_msg",
        "conn": 2,
        "dir": "recv",
        "t": 5.0,
        "json": {"type": "channel_data", "contents": {"trades": [{"size": "1"}]}},
    }
    assert Where('json.contents.trades[0].size == "1"')(msg)
    assert Where('json["type"] == "channel_data" and conn in [1, 2]')(msg)
    assert Where("1 < t <= 5")(msg) and not Where("t > 5")(msg)
    assert Where("missing == null")(msg) and not Where("missing > 0")(msg)
    assert Where("json.contents.trades[-1].size != null")(msg)
    assert Where('"chan" in type')(msg)  # substring, name found in the JSON body
    event = {"kind": "event", "name": "fill", "data": {"qty": 3}}
    assert Where("qty == 3 and name == 'fill'")(event)
    with pytest.raises(WhereError, match="column 1"):
        Where("open('x')")


def test_filter_speaks_the_dashboards_query_language(run: Run, feed: Path, tmp_path: Path) -> None:
    """--channel, --text, --path/--value and --from/--to: the fields the web dashboard
    filters on, now options of the command too (one query language, cassette.query)."""
    out = tmp_path / "q.jsonl"

    def messages(*args: str) -> list[tuple[int, str]]:
        result = run("filter", str(feed), "-o", str(out), *args)
        assert result.returncode == 0, result.stderr
        return [(m.conn, m.dir) for m in read_cassette(out)[1] if isinstance(m, WsMessage)]

    assert messages("--channel", "v4_trades") == [(1, "send"), (1, "recv")]
    assert messages("--text", "V4_ORDERBOOK") == [(1, "recv")]
    assert messages("--path", "contents.size", "--value", "0.5") == [(1, "recv")]
    # on the cassette's axis: connection 1 opens at 20 ms, its messages at +1, +40, +90
    assert messages("--connection", "1", "--from", "30", "--to", "70") == [(1, "recv")]
    header = read_cassette(out)[0]
    assert header.extra["filter"] == "--connection 1 --from 30 --to 70"
    refused = run("filter", str(feed), "-o", str(out), "--value", "x")
    assert refused.returncode == 2
    assert one_error_line(refused) == "streamreplay: error: value needs a path"


def test_every_query_field_is_a_filter_option_and_documented() -> None:
    """The query's fields are declared once; the command's options and the docs follow."""
    from pytest_streamreplay.cassette.query import QUERY_FIELDS
    from pytest_streamreplay.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    filter_parser = sub.choices["filter"]  # type: ignore[attr-defined]
    flags = {opt for action in filter_parser._actions for opt in action.option_strings}
    docs = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    for spec in QUERY_FIELDS:
        assert spec.flag in flags
        assert f"`{spec.flag}" in docs, f"docs/cli.md does not describe {spec.flag}"
