"""``filter``: a smaller cassette with only the chosen connections, messages, interactions, events.

The selection is a ``cassette.query.Query``, the same language the web dashboard speaks; each
of its fields is one option here (``--connection``, ``--direction``, ``--event``, ``--url``,
``--channel``, ``--text``, ``--path``/``--value``, ``--where``, ``--from``/``--to``). The output
is written atomically, in one pass.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cassette.query import QUERY_FIELDS, Query, write_filtered
from ._redact import add_redact_options, redactor_for, report_redaction

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["register", "run_filter"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "filter",
        help="write a cassette with only the selected records",
        description="Keep only the selected WebSocket connections and messages, HTTP "
        "interactions and events; write them to OUT (atomically). Options that name a family "
        "(--connection, --direction, --url, --event) keep only the families named; the others "
        "then test each interaction, message and event.",
        epilog="examples: --connection 1 --direction recv;  --url /v4/orderbooks;  "
        "--channel v4_trades --from 1000 --to 5000;  --path contents.trades[].side --value BUY;"
        "  --where 'response.status >= 400'",
    )
    parser.add_argument("cassette", metavar="CASSETTE")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="cassette to write (may be CASSETTE itself)",
    )
    for spec in QUERY_FIELDS:
        parser.add_argument(
            spec.flag,
            dest=spec.name,
            type=spec.type,
            nargs="+" if spec.many else None,
            choices=spec.choices,
            metavar=spec.metavar,
            help=spec.help,
        )
    add_redact_options(parser)
    parser.set_defaults(run=run_filter)


def run_filter(args: argparse.Namespace, console: Console) -> int:
    query = Query(**{spec.name: getattr(args, spec.name) for spec in QUERY_FIELDS})
    source, out = Path(args.cassette), Path(args.output)
    redactor = redactor_for(args)
    kept, total = write_filtered(source, out, query, redactor=redactor)
    parts = ", ".join(f"{k} {kept[k]}" for k in ("http", "ws", "ws_msg", "ws_close", "event"))
    console.print(
        f"kept {sum(kept.values())} of {total} records ({parts}) in {out}",
        markup=False,
        soft_wrap=True,
    )
    console.print(report_redaction(out, redactor is not None), markup=False, soft_wrap=True)
    return 0
