"""``filter``: a smaller cassette with only the chosen connections, messages, interactions, events.

Records come in three families: HTTP interactions, WebSocket connections (a ``ws`` record, its
messages and its close) and events. Options that name a family (``--connection``,
``--direction`` and ``--url`` name WebSocket; ``--url`` also HTTP; ``--event`` events) keep
only the families named; with none of them every family stays. ``--where`` then tests each
HTTP interaction, message and event. A connection's ``ws`` and ``ws_close`` records stay with
it, so the result replays like the original. The output is written atomically, in one pass.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cassette import (
    CassetteWriter,
    Event,
    HttpInteraction,
    Record,
    WsClose,
    WsConnection,
    WsMessage,
    iter_records,
    read_header,
)
from .where import Where

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Selection", "register", "run_filter", "write_filtered"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "filter",
        help="write a cassette with only the selected records",
        description="Keep only the selected WebSocket connections and messages, HTTP "
        "interactions and events; write them to OUT (atomically).",
        epilog="examples: --connection 1 --direction recv;  --url /v4/orderbooks;  "
        "--where 'channel == \"v4_trades\"';  --where 'response.status >= 400'",
    )
    parser.add_argument("cassette", metavar="CASSETTE")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="cassette to write (may be CASSETTE itself)",
    )
    parser.add_argument(
        "--connection", type=int, nargs="+", metavar="ID", help="keep these WebSocket connections"
    )
    parser.add_argument(
        "--url",
        metavar="SUBSTR",
        help="keep HTTP interactions and connections whose URL contains SUBSTR",
    )
    parser.add_argument(
        "--direction", choices=("send", "recv"), help="keep only messages in this direction"
    )
    parser.add_argument("--event", nargs="+", metavar="NAME", help="keep events with these names")
    parser.add_argument(
        "--where",
        metavar="EXPR",
        help="keep interactions, messages and events whose JSON matches EXPR",
    )
    parser.set_defaults(run=run_filter)


class Selection:
    """The decision for each record, in one streaming pass."""

    def __init__(
        self,
        *,
        connections: list[int] | None = None,
        url: str | None = None,
        direction: str | None = None,
        events: list[str] | None = None,
        where: Where | Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        self.connections = set(connections) if connections else None
        self.url = url
        self.direction = direction
        self.events = set(events) if events else None
        self.where = where
        scoped = connections or url is not None or direction or events
        self.keep_http = not scoped or url is not None
        self.keep_ws = not scoped or bool(connections or url is not None or direction)
        self.keep_events = not scoped or bool(events)
        self._open: set[int] = set()

    def _matches(self, record: Record) -> bool:
        return self.where is None or self.where(record.to_json())

    def __call__(self, record: Record) -> bool:
        if isinstance(record, HttpInteraction):
            if not self.keep_http or (self.url is not None and self.url not in record.request.url):
                return False
            return self._matches(record)
        if isinstance(record, WsConnection):
            keep = (
                self.keep_ws
                and (self.connections is None or record.id in self.connections)
                and (self.url is None or self.url in record.url)
            )
            if keep:
                self._open.add(record.id)
            return keep
        if isinstance(record, WsMessage):
            if record.conn not in self._open:
                return False
            if self.direction is not None and record.dir != self.direction:
                return False
            return self._matches(record)
        if isinstance(record, WsClose):
            return record.conn in self._open
        if isinstance(record, Event):
            if not self.keep_events or (self.events is not None and record.name not in self.events):
                return False
            return self._matches(record)
        return False


def run_filter(args: argparse.Namespace, console: Console) -> int:
    where = Where(args.where) if args.where is not None else None  # refuse before any I/O
    source, out = Path(args.cassette), Path(args.output)
    selection = Selection(
        connections=args.connection,
        url=args.url,
        direction=args.direction,
        events=args.event,
        where=where,
    )
    kept, total = write_filtered(source, out, selection, shlex.join(_options(args)))
    parts = ", ".join(f"{k} {kept[k]}" for k in ("http", "ws", "ws_msg", "ws_close", "event"))
    console.print(
        f"kept {sum(kept.values())} of {total} records ({parts}) in {out}",
        markup=False,
        soft_wrap=True,
    )
    return 0


def write_filtered(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    selection: Selection,
    description: str,
    records: Iterable[Record] | None = None,
) -> tuple[Counter[str], int]:
    """Write the records ``selection`` keeps to ``out`` atomically; (kept by kind, total read).

    Shared by ``filter`` and the web dashboard so both cut cassettes the same way. ``records``
    defaults to ``iter_records(source)``; a caller may pass a wrapping iterator of it.
    """
    header = read_header(source)
    header.extra["filtered_from"] = Path(source).name
    header.extra["filter"] = description
    kept: Counter[str] = Counter()
    total = 0
    with CassetteWriter(out, header) as writer:
        for record in iter_records(source) if records is None else records:
            total += 1
            if selection(record):
                obj = record.to_json()
                kept[obj["kind"]] += 1
                writer.write(obj)
    return kept, total


def _options(args: argparse.Namespace) -> list[str]:
    out: list[str] = []
    if args.connection:
        out += ["--connection", *map(str, args.connection)]
    if args.url is not None:
        out += ["--url", args.url]
    if args.direction:
        out += ["--direction", args.direction]
    if args.event:
        out += ["--event", *args.event]
    if args.where is not None:
        out += ["--where", args.where]
    return out
