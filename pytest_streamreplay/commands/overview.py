"""``ls`` and ``info``: what cassettes there are, and what one holds."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cassette import CASSETTE_SUFFIX, FORMAT, CassetteError
from ..cassette.grpc import call_summary
from ._common import CommandError, Scan, age, describe_close, ms, plain, scan, size

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

__all__ = ["register", "run_info", "run_ls"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    ls = subparsers.add_parser(
        "ls",
        help="list cassettes under a directory",
        description="List cassettes (*.jsonl, "
        "recursively) with their test, record counts, size, age and format version.",
    )
    ls.add_argument(
        "dir",
        nargs="?",
        default="cassettes",
        metavar="DIR",
        help="directory to search (default: ./cassettes)",
    )
    ls.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    ls.set_defaults(run=run_ls)

    info = subparsers.add_parser(
        "info",
        help="summarise one cassette",
        description="Show a cassette's header, record "
        "counts, HTTP interactions, WebSocket connections and events.",
    )
    info.add_argument("cassette", metavar="CASSETTE")
    info.add_argument(
        "--limit",
        type=int,
        default=50,
        metavar="N",
        help="show at most N HTTP interactions (default 50; 0: all)",
    )
    info.add_argument("--json", action="store_true", help="one JSON document instead of tables")
    info.set_defaults(run=run_info)


def run_ls(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table
    from rich.text import Text

    root = Path(args.dir)
    if root.is_file():
        paths = [root]
    elif root.is_dir():
        paths = sorted(root.rglob(f"*{CASSETTE_SUFFIX}"))
    else:
        raise CommandError(f"{root}: no such directory")
    if not paths:
        console.print(f"no cassettes (*{CASSETTE_SUFFIX}) under {root}")
        return 0
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name, justify in (
        ("cassette", "left"),
        ("test", "left"),
        ("http", "right"),
        ("ws", "right"),
        ("msgs", "right"),
        ("events", "right"),
        ("size", "right"),
        ("age", "right"),
        ("v", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    failures = 0
    listing: list[dict[str, Any]] = []
    for path in paths:
        shown = str(path.relative_to(root)) if path != root else str(path)
        stat = path.stat()
        try:
            found = scan(path)
        except CassetteError as exc:
            failures += 1
            print(f"streamreplay: error: {exc}", file=sys.stderr)
            listing.append({"cassette": shown, "error": str(exc), "size": stat.st_size})
            table.add_row(
                *plain(shown),
                Text("unreadable", style="red"),
                *plain("", "", "", "", size(stat.st_size), age(None, stat.st_mtime), ""),
            )
            continue
        kinds, header = found.kinds, found.header
        listing.append(
            {
                "cassette": shown,
                "test": header.test,
                "http": kinds["http"],
                "ws": kinds["ws"],
                "ws_msg": kinds["ws_msg"],
                "event": kinds["event"],
                "size": stat.st_size,
                "recorded_at": header.recorded_at,
                "version": header.version,
            }
        )
        table.add_row(
            *plain(
                shown,
                header.test or "-",
                kinds["http"],
                kinds["ws"],
                kinds["ws_msg"],
                kinds["event"],
                size(stat.st_size),
                age(header.recorded_at, stat.st_mtime),
                header.version,
            )
        )
    if args.json:
        _print_json(listing)
        return 1 if failures else 0
    console.print(table)
    total = len(paths)
    console.print(
        f"{total} cassette{'s' if total != 1 else ''}"
        + (f", {failures} unreadable" if failures else "")
    )
    return 1 if failures else 0


def run_info(args: argparse.Namespace, console: Console) -> int:
    from rich.text import Text

    path = Path(args.cassette)
    limit = args.limit if args.limit > 0 else sys.maxsize
    found = scan(path, keep_http=limit)
    header = found.header
    if args.json:
        _print_json(_info_json(found, path))
        return 0

    console.print(Text(str(path), style="bold"), size(path.stat().st_size))
    facts = [
        ("format", f"{FORMAT} v{header.version}"),
        (
            "recorded",
            f"{header.recorded_at} ({age(header.recorded_at)} ago) by {header.recorded_by or '?'}",
        ),
        ("test", header.test or "-"),
    ]
    if header.note:
        facts.append(("note", header.note))
    facts.extend(
        (str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
        for k, v in header.extra.items()
    )
    kinds = found.kinds
    facts.append(
        (
            "records",
            ", ".join(f"{k} {kinds[k]}" for k in ("http", "ws", "ws_msg", "ws_close", "event")),
        )
    )
    key_width = max(9, *(len(key) for key, _ in facts))
    for key, value in facts:
        console.print(f"  {key:<{key_width}} {value}", markup=False, soft_wrap=True)

    if kinds["http"]:
        table = _section_table(
            f"HTTP interactions ({kinds['http']})",
            ("id", "t", "method", "url", "status", "body", "duration"),
            right=("id", "t", "body"),
        )
        for rec in found.http:
            resp = rec.response
            call = call_summary(rec)
            status = f"{resp.status} {resp.reason}".strip()
            if call is not None:  # a gRPC call: its status is the one that matters
                status = f"grpc {call['status_name'] or call['status']}"
            table.add_row(
                *plain(
                    rec.id,
                    ms(rec.t),
                    rec.request.method if call is None else "gRPC",
                    rec.request.url,
                    status,
                    size(len(resp.content))
                    if call is None
                    else f"{call['response_messages']} msg ({size(len(resp.content))})",
                    f"{rec.duration_ms:.1f} ms"
                    + (" (chunked)" if resp.chunks else "")
                    + (f" (ended: {resp.end})" if resp.end else ""),
                )
            )
        console.print()
        console.print(table)
        hidden = kinds["http"] - len(found.http)
        if hidden > 0:
            console.print(f"… {hidden} more (--limit 0 shows all)")

    if found.connections:
        table = _section_table(
            f"WebSocket connections ({len(found.connections)})",
            ("id", "t", "url", "sent", "received", "last message", "close"),
            right=("id", "t", "sent", "received"),
        )
        for cid, stats in found.connections.items():
            table.add_row(
                *plain(
                    cid,
                    ms(stats.record.t),
                    stats.record.url,
                    f"{stats.sent} ({size(stats.bytes_sent)})",
                    f"{stats.received} ({size(stats.bytes_received)})",
                    ms(stats.last_t),
                    describe_close(stats.close),
                )
            )
        console.print()
        console.print(table)

    if found.event_counts:
        table = _section_table(
            f"Events ({kinds['event']})",
            ("name", "count", "first", "last"),
            right=("count", "first", "last"),
            fold=False,
        )
        for name, count in sorted(found.event_counts.items()):
            first, last = found.events[name]
            table.add_row(*plain(name, count, ms(first), ms(last)))
        console.print()
        console.print(table)
    return 0


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def _info_json(found: Scan, path: Path) -> dict[str, Any]:
    """``info --json``: the same facts as the tables, untruncated and typed."""
    header = found.header
    return {
        "cassette": str(path),
        "size": path.stat().st_size,
        "header": header.to_json(),
        "records": {k: found.kinds[k] for k in ("http", "ws", "ws_msg", "ws_close", "event")},
        "http": [
            {
                "id": rec.id,
                "t": rec.t,
                "method": rec.request.method,
                "url": rec.request.url,
                "status": rec.response.status,
                "body_size": len(rec.response.content),
                "duration_ms": rec.duration_ms,
                "chunked": rec.response.chunks is not None,
                "grpc": call_summary(rec),
            }
            for rec in found.http
        ],
        "http_shown": len(found.http),
        "connections": [
            {
                "id": cid,
                "t": stats.record.t,
                "url": stats.record.url,
                "sent": stats.sent,
                "received": stats.received,
                "bytes_sent": stats.bytes_sent,
                "bytes_received": stats.bytes_received,
                "last_t": stats.last_t,
                "close": None if stats.close is None else stats.close.to_json(),
            }
            for cid, stats in found.connections.items()
        ],
        "events": {
            name: {"count": count, "first": found.events[name][0], "last": found.events[name][1]}
            for name, count in sorted(found.event_counts.items())
        },
    }


def _section_table(
    title: str, columns: Sequence[str], *, right: Collection[str], fold: bool = True
) -> Table:
    """One of ``info``'s sections: a titled, borderless table; ``right`` columns are numbers."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="bold")
    for name in columns:
        table.add_column(
            name,
            justify="right" if name in right else "left",
            overflow="fold" if fold else "ellipsis",
        )
    return table
