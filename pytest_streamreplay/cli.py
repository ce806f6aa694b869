"""The ``streamreplay`` command: inspect, filter, import and export cassettes.

Subcommands live in ``pytest_streamreplay.commands``; this module parses arguments and turns
every expected failure (a missing file, a corrupt cassette, an unknown format, a bad
expression) into one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from .commands import register_all

    parser = argparse.ArgumentParser(
        prog="streamreplay", description="Inspect and convert pytest-streamreplay cassettes."
    )
    parser.add_argument("--version", action="version", version=f"streamreplay {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    register_all(subparsers)
    return parser


def _fail(message: str, code: int) -> int:
    print(f"streamreplay: error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    from .cassette import CassetteError
    from .cassette.where import QueryError
    from .commands._common import CommandError, make_console

    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 0
    try:
        return int(run(args, make_console()))
    except (CommandError, QueryError) as exc:
        return _fail(str(exc), exc.code)
    except CassetteError as exc:
        return _fail(str(exc), 1)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):  # piped into head: quiet, status 1 as rich does
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 1
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc}", 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
