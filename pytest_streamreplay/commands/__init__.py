"""The ``streamreplay`` subcommands, one module per command group.

Each module listed in ``COMMAND_MODULES`` has ``register(subparsers)``, which adds its
subcommands and sets ``run=<function(args, console) -> exit code>`` as the parser default.
To add a command group, write
``pytest_streamreplay/commands/<group>.py`` with a ``register`` function and append its name
here: ``cli.main`` needs no change. Modules import their heavy dependencies inside ``run``
so ``streamreplay --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

__all__ = ["COMMAND_MODULES", "register_all"]

COMMAND_MODULES: list[str] = [
    "overview",
    "timeline",
    "filter",
    "convert",
    "migrate",
    "integrity",
    "web",
]
"""Command group modules, in the order their commands appear in ``--help``."""


def register_all(subparsers: argparse._SubParsersAction[Any]) -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(subparsers)
