"""The ``tradingbot`` command.

Each subcommand lives in one ``_add_<name>`` function that registers its parser and sets
``func``: adding a command (run, replay, record, ...) means adding one such function to
:data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

from . import __version__

__all__ = ["COMMANDS", "build_parser", "main"]


def _markets(text: str) -> tuple[str, ...]:
    markets = tuple(m.strip().upper() for m in text.split(",") if m.strip())
    if not markets:
        raise argparse.ArgumentTypeError("need at least one market, e.g. BTC-USD,ETH-USD")
    return markets


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _add_simulate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "simulate",
        help="run the local dYdX indexer (REST + websocket) on 127.0.0.1",
        description=(
            "Serve the dYdX v4 indexer protocol from a seeded market model (same seed, same "
            "bytes) or from a folder of captured messages. Point IndexerClient at the REST URL "
            "and IndexerSocket at the websocket URL it prints."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (0: pick a free one)")
    p.add_argument("--seed", type=int, default=0, help="model seed (default 0)")
    p.add_argument(
        "--markets", type=_markets, default=("BTC-USD", "ETH-USD"), help="comma-separated tickers"
    )
    p.add_argument("--tick-ms", type=_positive, default=50.0, help="wall ms per model step")
    p.add_argument(
        "--step-ms", type=int, default=1000, help="market ms per step (speed = step/tick)"
    )
    p.add_argument("--flush-ms", type=_positive, default=250.0, help="batched flush cadence")
    p.add_argument("--warmup-steps", type=int, default=300, help="steps run before serving")
    p.add_argument("--replay", type=Path, default=None, help="serve this folder of captures")
    p.set_defaults(func=_run_simulate)


def _run_simulate(args: argparse.Namespace) -> int:
    from .simulator import LocalIndexer, SimulatorConfig

    if args.replay is not None and not args.replay.is_dir():
        print(f"tradingbot simulate: --replay {args.replay} is not a folder", file=sys.stderr)
        return 2
    config = SimulatorConfig(
        seed=args.seed,
        markets=args.markets,
        tick_ms=args.tick_ms,
        step_ms=args.step_ms,
        flush_ms=args.flush_ms,
        warmup_steps=args.warmup_steps,
        replay_dir=args.replay,
    )

    async def serve() -> None:
        indexer = LocalIndexer(config)
        await indexer.start(args.host, args.port)
        print(f"REST      http://{args.host}:{indexer.port}", flush=True)
        print(f"WebSocket ws://{args.host}:{indexer.port}/v4/ws", flush=True)
        print("Ctrl-C to stop.", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await indexer.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    return 0


COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_simulate,
]
"""Subcommand registrars, in help order."""


def build_parser() -> argparse.ArgumentParser:
    """The full parser: one subparser per entry of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(prog="tradingbot", description="dYdX v4 perpetuals bot.")
    parser.add_argument("--version", action="version", version=f"tradingbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
