"""The ``tradingbot`` command."""

from __future__ import annotations

import argparse
import sys

from . import __version__

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tradingbot", description="dYdX v4 perpetuals bot.")
    parser.add_argument("--version", action="version", version=f"tradingbot {__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
