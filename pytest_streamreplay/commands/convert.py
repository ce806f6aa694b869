"""``import`` and ``export``: mitmproxy flow files, HAR and vcrpy cassettes in; flow files out."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cassette import CASSETTE_SUFFIX, CassetteWriter, iter_records, new_header, read_header
from ._common import CommandError, plural
from ._redact import add_redact_options, redactor_for, report_redaction

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["register", "run_export", "run_import"]

_FORMATS = ("mitm", "har", "vcr")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    imp = subparsers.add_parser(
        "import",
        help="turn a mitmproxy flow file, HAR or vcrpy cassette into a cassette",
        description="Convert a mitmproxy flow file (.mitm), a HAR file (.har) or a vcrpy "
        "cassette (.yaml/.yml) into a cassette. The format is taken from the extension, "
        "else from the content.",
    )
    imp.add_argument("file", metavar="FILE")
    imp.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help=f"cassette to write (default: FILE with suffix {CASSETTE_SUFFIX})",
    )
    imp.add_argument("--format", choices=_FORMATS, help="skip detection")
    imp.add_argument("--test", metavar="NODEID", help="test id to put in the cassette header")
    add_redact_options(imp)
    imp.set_defaults(run=run_import)

    exp = subparsers.add_parser(
        "export",
        help="write a cassette as a mitmproxy flow file (open it in mitmweb)",
        description="Write a cassette's HTTP interactions and WebSocket connections as "
        "mitmproxy flows. Events have no flow form and are left out.",
    )
    exp.add_argument("cassette", metavar="CASSETTE")
    exp.add_argument(
        "-o",
        "--output",
        metavar="FILE.mitm",
        help="flow file to write (default: CASSETTE with suffix .mitm)",
    )
    add_redact_options(exp)
    exp.set_defaults(run=run_export)


def _warn(message: str) -> None:
    print(f"streamreplay: warning: {message}", file=sys.stderr)


def run_import(args: argparse.Namespace, console: Console) -> int:
    from ..cassette.convert import detect_format, import_records
    from ..cassette.redaction import redact_records

    source = Path(args.file)
    fmt = args.format or detect_format(source)
    if fmt == "cassette":
        raise CommandError(f"{source}: already a cassette; nothing to import")
    out = Path(args.output) if args.output else source.with_suffix(CASSETTE_SUFFIX)
    if out.resolve() == source.resolve():
        raise CommandError(f"{out}: the output would overwrite the input; pass -o")
    counts: Counter[str] = Counter()
    header = new_header(test=args.test, source={"format": fmt, "file": source.name})
    records = list(import_records(source, fmt, on_skip=_warn))
    redactor = redactor_for(args)
    if redactor is not None:
        # Other tools record secrets in clear: nothing reaches a cassette unredacted.
        records = redact_records(records, redactor)
    with CassetteWriter(out, header) as writer:
        for record in records:
            counts[record.to_json()["kind"]] += 1
            writer.write(record)
    console.print(
        f"imported {plural(counts['http'], 'HTTP interaction')}, "
        f"{plural(counts['ws'], 'WebSocket connection')} "
        f"({plural(counts['ws_msg'], 'message')}) from {source} ({fmt}) into {out}",
        markup=False,
        soft_wrap=True,
    )
    console.print(report_redaction(out, redactor is not None), markup=False, soft_wrap=True)
    if not counts:
        _warn(f"{source}: nothing to import; wrote an empty cassette")
    return 0


def run_export(args: argparse.Namespace, console: Console) -> int:
    from ..cassette.convert import to_mitm
    from ..cassette.redaction import redact_file_records

    source = Path(args.cassette)
    out = Path(args.output) if args.output else source.with_suffix(".mitm")
    if out.resolve() == source.resolve():
        raise CommandError(f"{out}: the output would overwrite the cassette; pass -o")
    header = read_header(source)
    redactor = redactor_for(args)
    records = (
        iter_records(source)
        if redactor is None
        else redact_file_records(lambda: iter_records(source), redactor)
    )
    summary = to_mitm(records, out, header=header)
    console.print(
        f"exported {plural(summary.http_flows, 'HTTP flow')} and "
        f"{plural(summary.websocket_flows, 'WebSocket flow')} "
        f"({plural(summary.messages, 'message')}) from {source} to {out}",
        markup=False,
        soft_wrap=True,
    )
    console.print(report_redaction(out, redactor is not None), markup=False, soft_wrap=True)
    if summary.events_skipped:
        _warn(
            f"{plural(summary.events_skipped, 'event')} left out "
            "(mitmproxy flows cannot hold events)"
        )
    if summary.orphans_skipped:
        _warn(
            f"{plural(summary.orphans_skipped, 'WebSocket record')} left out: "
            "no connection record before them"
        )
    return 0
