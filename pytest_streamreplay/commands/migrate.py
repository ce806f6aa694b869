"""``migrate``: move a pytest-recording project's vcrpy cassettes to cassettes in one command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import CommandError, plural

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["register", "run_migrate"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    cmd = subparsers.add_parser(
        "migrate",
        help="convert every pytest-recording/vcrpy cassette under ROOT, in place",
        description="Find every vcrpy cassette under ROOT (pytest-recording's "
        "cassettes/<module>/<test>.yaml and any vcr_cassette_dir), convert each to a "
        "redacted .jsonl cassette beside it, where @pytest.mark.vcr finds it once "
        "pytest-recording is uninstalled. Existing .jsonl cassettes are kept.",
    )
    cmd.add_argument("root", metavar="ROOT", nargs="?", default=".", help="default: .")
    cmd.add_argument(
        "--check",
        action="store_true",
        help="list what would be converted, write nothing; exit 1 if anything is left",
    )
    cmd.add_argument("--force", action="store_true", help="convert again over existing .jsonl")
    cmd.add_argument(
        "--remove-yaml",
        action="store_true",
        help="delete each vcrpy cassette once its .jsonl is written",
    )
    cmd.set_defaults(run=run_migrate)


def _show(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive
        return str(path)


def run_migrate(args: argparse.Namespace, console: Console) -> int:
    from ..cassette.convert import ConvertError
    from ..cassette.convert.vcr_tree import find_vcr_cassettes, migrate_cassette, migrated_path

    root = Path(args.root)
    if not root.exists():
        raise CommandError(f"{root}: no such file or directory")
    found = list(find_vcr_cassettes(root))
    if not found:
        raise CommandError(
            f"no vcrpy cassettes (.yaml, .yml, .json with an 'interactions' list) under {root}"
        )

    def say(text: str) -> None:
        console.print(text, markup=False, soft_wrap=True, highlight=False)

    todo = [p for p in found if args.force or not migrated_path(p).exists()]
    done = len(found) - len(todo)
    if args.check:
        for source in todo:
            say(f"would migrate {_show(source)} -> {_show(migrated_path(source))}")
        say(
            f"{plural(len(todo), 'cassette')} to migrate, {done} already migrated "
            f"under {_show(root)}"
        )
        return 1 if todo else 0

    failed = interactions = redacted = migrated = 0
    for source in todo:

        def warn(message: str, source: Path = source) -> None:
            print(f"streamreplay: warning: {_show(source)}: {message}", file=sys.stderr)

        try:
            result = migrate_cassette(source, on_skip=warn)
        except ConvertError as exc:
            failed += 1
            print(f"streamreplay: error: {exc}", file=sys.stderr)
            continue
        migrated += 1
        interactions += result.interactions
        redacted += result.redacted
        note = f"; secrets redacted in {result.redacted}" if result.redacted else ""
        say(
            f"migrated {_show(source)} -> {_show(result.target)} "
            f"({plural(result.interactions, 'HTTP interaction')}{note})"
        )
        if args.remove_yaml:
            source.unlink()
    summary = (
        f"migrated {plural(migrated, 'cassette')} ({plural(interactions, 'HTTP interaction')})"
        f", {done} already migrated"
    )
    if redacted:
        summary += f"; secrets redacted in {plural(redacted, 'interaction')}"
    if failed:
        summary += f"; {failed} failed (named above)"
    say(summary)
    if _installed("pytest_recording"):
        print(
            "streamreplay: note: pytest-recording is still installed and keeps handling "
            "@pytest.mark.vcr with the YAML cassettes; `pip uninstall pytest-recording` to "
            "replay the migrated ones",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
