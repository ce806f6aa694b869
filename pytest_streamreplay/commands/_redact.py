"""Options and messages shared by the commands that write cassettes: they redact by default."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..cassette.redaction import Redactor

__all__ = ["add_redact_options", "redactor_for", "report_redaction"]


def add_redact_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-redact",
        action="store_true",
        help="write secrets as they are (by default headers, parameters, JSON fields and "
        "values shaped like tokens, keys and seed phrases are replaced by placeholders)",
    )
    parser.add_argument(
        "--redact",
        action="append",
        default=[],
        metavar="NAME",
        help="another header, parameter or JSON field name to redact",
    )


def redactor_for(args: argparse.Namespace) -> Redactor | None:
    """The redactor the options ask for; None with ``--no-redact``."""
    from ..cassette.redaction import Redactor

    return None if args.no_redact else Redactor(extra=args.redact)


def report_redaction(out: object, redacted: bool) -> str:
    """The line that says whether ``out`` was redacted; a warning on stderr when it was not."""
    if redacted:
        return f"secrets redacted in {out} (--no-redact to keep them)"
    print(
        f"streamreplay: warning: {out}: not redacted (--no-redact); it may hold credentials",
        file=sys.stderr,
    )
    return f"{out}: not redacted (--no-redact)"
