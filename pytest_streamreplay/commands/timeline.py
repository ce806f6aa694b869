"""``timeline``: messages over time, per connection, as compact text.

For each WebSocket connection: a sparkline per direction (how busy the connection was across
its lifetime), then one row per message with its offset, direction, size and a one-line
preview. HTTP interactions get the same treatment as one group when no connection is chosen.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..cassette import HttpInteraction, WsClose, WsConnection, WsMessage, iter_records, read_header
from ..cassette.grpc import call_messages, call_summary
from ._common import CommandError, describe_close, is_plain, ms, preview, size

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["register", "run_timeline", "sparkline"]

_BLOCKS = "▁▂▃▄▅▆▇█"
_ARROWS = {"send": "→", "recv": "←"}


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "timeline",
        help="messages over time, per connection",
        description="Show each WebSocket connection's messages over time: a sparkline per "
        "direction, then one row per message (offset, direction, size, preview).",
    )
    parser.add_argument("cassette", metavar="CASSETTE")
    parser.add_argument("--connection", type=int, metavar="N", help="only connection N")
    parser.add_argument(
        "--width", type=int, metavar="W", help="line width (default: the terminal's)"
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=100,
        metavar="N",
        help="at most N rows per connection (default 100; 0: all)",
    )
    parser.set_defaults(run=run_timeline)


def sparkline(times: Iterable[float], span: float, buckets: int) -> str:
    """Counts of ``times`` in ``buckets`` equal slices of ``[0, span]``, drawn with blocks."""
    counts = [0] * max(1, buckets)
    for t in times:
        index = int(t / span * len(counts)) if span > 0 else 0
        counts[min(max(index, 0), len(counts) - 1)] += 1
    peak = max(counts)
    if peak == 0:
        return " " * len(counts)
    return "".join(
        " " if c == 0 else _BLOCKS[min(len(_BLOCKS), -(-c * len(_BLOCKS) // peak)) - 1]
        for c in counts
    )


@dataclass
class _Row:
    t: float
    arrow: str
    size: int
    text: str


@dataclass
class _Group:
    title: str
    detail: str = ""
    times: dict[str, list[float]] = field(default_factory=lambda: {"send": [], "recv": []})
    rows: list[_Row] = field(default_factory=list)
    total: int = 0
    end: float = 0.0
    close: WsClose | None = None
    status: str | None = None  # a gRPC call's ending, shown where a connection's close is


def _collect(path: Path, only: int | None, limit: int, width: int) -> dict[str, _Group]:
    groups: dict[str, _Group] = {}
    keep = 0 if only is not None else 1
    preview_width = max(10, width - 30)
    for record in iter_records(path):
        if isinstance(record, WsConnection):
            if only is None or record.id == only:
                groups[f"ws{record.id}"] = _Group(f"connection {record.id}", record.url)
        elif isinstance(record, WsMessage | WsClose):
            group = groups.get(f"ws{record.conn}")
            if group is None:
                continue
            group.end = max(group.end, record.t)
            if isinstance(record, WsClose):
                group.close = record
                continue
            group.total += 1
            group.times.setdefault(record.dir, []).append(record.t)
            if len(group.rows) < limit:
                content = record.content
                group.rows.append(
                    _Row(
                        record.t,
                        _ARROWS.get(record.dir, "?"),
                        len(content),
                        preview(record.body, content, record.binary, preview_width),
                    )
                )
        elif isinstance(record, HttpInteraction) and (call := call_summary(record)):
            if only is None or record.id == only:
                groups[f"grpc{record.id}"] = _grpc_group(record, call, limit, preview_width)
        elif isinstance(record, HttpInteraction) and keep:
            group = groups.setdefault("http", _Group("http", "(HTTP interactions)"))
            group.total += 1
            group.times["send"].append(record.t)
            group.end = max(group.end, record.t + record.duration_ms)
            if len(group.rows) < limit:
                resp = record.response
                text = f"{resp.status} {record.request.method} {record.request.url}"
                if len(text) > preview_width:
                    text = text[: preview_width - 1] + "…"
                group.rows.append(_Row(record.t, "⇄", len(resp.content), text))
    http = groups.pop("http", None)  # connections first, HTTP as the last group
    if http is not None:
        groups["http"] = http
    return groups


def _grpc_group(
    record: HttpInteraction, call: dict[str, Any], limit: int, preview_width: int
) -> _Group:
    """A gRPC call as a connection: its messages both ways, from the call's start."""
    parts = urlsplit(record.request.url)
    group = _Group(f"grpc call {record.id}", f"{call['method']}  {parts.scheme}://{parts.netloc}")
    for message in call_messages(record):
        group.total += 1
        group.times[message.dir].append(message.t)
        group.end = max(group.end, message.t)
        if len(group.rows) < limit:
            if message.decoded:
                shown = json.dumps(message.json, ensure_ascii=False, separators=(",", ":"))
                text = f"{message.type} {shown}"
                text = text if len(text) <= preview_width else text[: preview_width - 1] + "…"
            else:
                text = preview({"base64": ""}, message.payload, True, preview_width)
            group.rows.append(_Row(message.t, _ARROWS[message.dir], len(message.payload), text))
    group.end = max(group.end, record.duration_ms)
    ending = record.response.end
    name = call["status_name"] or call["status"]
    if name is None:
        group.status = f"no status ({ending})" if ending else "no status"
    else:
        group.status = f"{name}: {call['message']}" if call["message"] else str(name)
    return group


def run_timeline(args: argparse.Namespace, console: Console) -> int:
    from rich.text import Text

    path = Path(args.cassette)
    read_header(path)
    width = args.width or (100 if is_plain(console) else console.width)
    if width < 40:
        raise CommandError(f"--width {width}: at least 40 columns are needed", code=2)
    limit = args.limit if args.limit > 0 else 1 << 62
    groups = _collect(path, args.connection, limit, width)
    if args.connection is not None and not groups:
        raise CommandError(f"{path}: no WebSocket connection or gRPC call {args.connection}")
    if not groups:
        console.print(
            f"{path}: no WebSocket messages or HTTP interactions", markup=False, soft_wrap=True
        )
        return 0

    def line(text: str, style: str = "") -> None:
        console.print(
            Text(text[:width], style=style),
            no_wrap=True,
            crop=False,
            overflow="ignore",
            width=max(width, 1),
        )

    buckets = max(10, width - 10)
    for n, group in enumerate(groups.values()):
        if n:
            line("")
        span = max(group.end, 1.0)
        line(f"{group.title}  {group.detail}", "bold")
        if group.title == "http":
            line(f"  {group.total} interactions over {ms(span)[1:]}")
        else:
            line(
                f"  {group.total} messages ({len(group.times.get('send', []))} sent, "
                f"{len(group.times.get('recv', []))} received) over {ms(span)[1:]}"
            )
        labels = (
            (("send", "all "),) if group.title == "http" else (("recv", "recv"), ("send", "send"))
        )
        for key, label in labels:
            line(f"  {label} │{sparkline(group.times.get(key, []), span, buckets)}│")
        gap = max(1, buckets - len("0s") - len(ms(span)[1:]))
        line(f"        0s{' ' * gap}{ms(span)[1:]}", "dim")
        for row in group.rows:
            line(f"  {ms(row.t):>10} {row.arrow} {size(row.size):>9}  {row.text}")
        hidden = group.total - len(group.rows)
        if hidden > 0:
            line(f"  … {hidden} more (--limit 0 shows all)", "dim")
        if group.status is not None:
            line(f"  status: {group.status}")
        elif group.title != "http":
            line(
                f"  closed: {describe_close(group.close)}"
                if group.close
                else "  still open at the end of the recording"
            )
    return 0
