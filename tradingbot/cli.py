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
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__

if TYPE_CHECKING:
    from .pipeline import PipelineConfig
    from .serve import BarServer
    from .simulator import SimulatorConfig

__all__ = ["COMMANDS", "build_parser", "main", "simulator_config"]


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


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is 0..65535 (0: pick a free one)")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _add_serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--serve",
        type=_port,
        default=None,
        metavar="PORT",
        help="serve the bars on 127.0.0.1:PORT (REST, WebSocket, page; 0: pick a free port)",
    )
    p.add_argument(
        "--serve-linger",
        type=_non_negative,
        default=0.0,
        metavar="S",
        help="with --serve: keep serving S seconds after the run ends (default 0)",
    )


def _start_serving(
    args: argparse.Namespace, resolutions: tuple[str, ...], markets: tuple[str, ...] = ()
) -> BarServer | None:
    """With ``--serve``: a started ``BarServer`` (URL printed once it listens), else None.
    Raises OSError when the port cannot be bound."""
    if args.serve is None:
        return None
    from .serve import BarHub, BarServer

    server = BarServer(BarHub(resolutions, markets=markets), port=args.serve).start()
    print(f"serving bars at {server.url}", flush=True)
    return server


def _stop_serving(server: BarServer | None, linger: float) -> None:
    """Keep serving ``linger`` seconds (Ctrl-C ends it early), then stop."""
    if server is None:
        return
    try:
        if linger > 0:
            time.sleep(linger)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


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
    shapes = p.add_argument_group(
        "optional shapes", "what the real indexer also sends; off by default (same bytes as before)"
    )
    shapes.add_argument(
        "--listing",
        type=_markets,
        default=(),
        help="comma-separated tickers listed but INITIALIZING: no oracle price yet",
    )
    shapes.add_argument(
        "--account-activity",
        action="store_true",
        help="subaccounts trade: positions, borrowed USDC, orders, fills, transfers, rewards",
    )
    shapes.add_argument(
        "--funding-rate-1h",
        action="store_true",
        help="protocol v8: markets carry defaultFundingRate1H",
    )
    shapes.add_argument(
        "--buffer-event-ids",
        action="store_true",
        help="fills' eventId as a serialised Node Buffer (the 2023 indexer)",
    )
    p.set_defaults(func=_run_simulate)


def simulator_config(args: argparse.Namespace) -> SimulatorConfig:
    """The local indexer's configuration from ``tradingbot simulate``'s arguments."""
    from .simulator import SimulatorConfig

    return SimulatorConfig(
        seed=args.seed,
        markets=args.markets,
        tick_ms=args.tick_ms,
        step_ms=args.step_ms,
        flush_ms=args.flush_ms,
        warmup_steps=args.warmup_steps,
        replay_dir=args.replay,
        listing=args.listing,
        account_activity=args.account_activity,
        funding_rate_1h=args.funding_rate_1h,
        buffer_event_ids=args.buffer_event_ids,
    )


def _run_simulate(args: argparse.Namespace) -> int:
    from .simulator import LocalIndexer

    if args.replay is not None and not args.replay.is_dir():
        print(f"tradingbot simulate: --replay {args.replay} is not a folder", file=sys.stderr)
        return 2
    config = simulator_config(args)

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


def _cassettes(paths: list[Path]) -> list[Path] | None:
    missing = [p for p in paths if not p.is_file()]
    if missing:
        for p in missing:
            print(f"tradingbot: cassette {p} not found", file=sys.stderr)
        return None
    return paths


class RunFailed(Exception):
    """A run ended by an error (of the feed or of a stage): the command exits with 1 and says
    why on stderr, in one line."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"the run ended on {type(cause).__name__}: {cause}")
        self.cause = cause


def _driven(run: Callable[[], Any]) -> Any:
    """``run()`` (a driver call); an exception from the run becomes :class:`RunFailed`. A
    missing optional module is left to :func:`main`, which names the extra."""
    try:
        return run()
    except (KeyboardInterrupt, ModuleNotFoundError):
        raise
    except Exception as exc:
        raise RunFailed(exc) from exc


def _finish(summary: dict[str, Any], path: Path | None) -> None:
    """Print the summary JSON and write it to ``path`` if asked."""
    import json

    text = json.dumps(summary, indent=2, sort_keys=True)
    print(text, flush=True)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")


def _add_replay(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "replay",
        help="run the bot on recorded cassettes (virtual time, paper broker)",
        description=(
            "Read the indexer messages (recv direction) of each cassette in turn, decode them "
            "and run books, bars, signals, strategy, risk and the paper broker on a virtual "
            "clock that starts at the recording's market time. Prints a summary JSON."
        ),
    )
    p.add_argument("cassettes", nargs="+", type=Path, metavar="CASSETTE")
    p.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="market seconds per wall second (0, the default: as fast as possible)",
    )
    p.add_argument(
        "--time-scale",
        type=float,
        default=None,
        metavar="F",
        help="the cassette was recorded with market time running F times faster than the wall "
        "clock (a simulator at F x): replay it in market time (default: the market_speed its "
        "header declares, else 1)",
    )
    p.add_argument("--headless", action="store_true", help="no dashboard: just the summary")
    p.add_argument("--summary-json", type=Path, default=None, help="also write it here")
    p.add_argument("--no-trade", action="store_true", help="signals and risk only, no orders")
    p.add_argument(
        "--exchange-clock",
        action="store_true",
        help="confirm bars on the exchange's timestamps, as `tradingbot run` does against a "
        "local indexer: replays such a run's bars exactly",
    )
    p.add_argument("--equity", type=Decimal, default=Decimal(10_000), help="starting USDC")
    _add_serve_options(p)
    p.set_defaults(func=_run_replay)


def _run_replay(args: argparse.Namespace) -> int:
    from .pipeline import PipelineConfig, replay

    paths = _cassettes(args.cassettes)
    if paths is None:
        return 2
    if args.speed < 0:
        print("tradingbot replay: --speed must be >= 0", file=sys.stderr)
        return 2
    if args.time_scale is None:
        from pytest_streamreplay.cassette import CassetteError

        from .record import recorded_market_speed

        try:
            args.time_scale = recorded_market_speed(paths)
        except (ValueError, CassetteError) as exc:
            print(f"tradingbot replay: {exc}; give --time-scale", file=sys.stderr)
            return 2
    if args.time_scale <= 0:
        print("tradingbot replay: --time-scale must be > 0", file=sys.stderr)
        return 2
    config = PipelineConfig(
        trade=not args.no_trade, starting_quote=args.equity, exchange_clock=args.exchange_clock
    )
    try:
        server = _start_serving(args, config.resolutions)
    except OSError as exc:
        print(f"tradingbot replay: cannot listen on port {args.serve}: {exc}", file=sys.stderr)
        return 2
    taps = [server.hub.observe] if server is not None else []
    try:
        if args.headless:
            pipeline = _driven(
                lambda: replay(
                    paths, config=config, speed=args.speed, taps=taps, time_scale=args.time_scale
                )
            )
        else:
            from .dashboard import Dashboard

            board = Dashboard(title=f"tradingbot replay: {', '.join(p.name for p in paths)}")
            with board.running():
                pipeline = _driven(
                    lambda: replay(
                        paths,
                        config=config,
                        speed=args.speed,
                        on_progress=board.update,
                        taps=taps,
                        time_scale=args.time_scale,
                    )
                )
        _finish(pipeline.summary(), args.summary_json)
    finally:
        _stop_serving(server, args.serve_linger)
    return 0


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="run the bot on a live indexer feed (mainnet, testnet or a local one)",
        description=(
            "Subscribe to markets, order books, trades and 1-minute candles of the given "
            "markets and run the pipeline for --duration seconds. Orders go to the paper "
            "broker with --paper; otherwise to the NodeClient adapter, which only builds and "
            "logs orders (dry-run) unless DYDX_MNEMONIC is set and a node is configured."
        ),
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--network", choices=("mainnet", "testnet"))
    where.add_argument("--rest-url", help="indexer REST URL (with --ws-url), e.g. the simulator")
    p.add_argument("--ws-url", help="indexer websocket URL (with --rest-url)")
    p.add_argument("--node-url", help="validator gRPC host for live orders (mainnet)")
    p.add_argument(
        "--market", type=_markets, action="append", required=True, help="e.g. BTC-USD[,ETH-USD]"
    )
    p.add_argument("--duration", type=_positive, default=60.0, help="wall seconds (default 60)")
    p.add_argument("--paper", action="store_true", help="paper broker instead of the adapter")
    p.add_argument("--dry-run", action="store_true", help="never send, even with a mnemonic")
    p.add_argument("--address", help="wallet address (default: derived from the mnemonic)")
    p.add_argument("--headless", action="store_true", help="no dashboard: just the summary")
    p.add_argument("--summary-json", type=Path, default=None, help="also write it here")
    _add_serve_options(p)
    p.set_defaults(func=_run_run)


def _endpoints(args: argparse.Namespace) -> tuple[str, str, Any]:
    """(rest, ws, dydx network config or None)."""
    from .feeds.network import MAINNET, TESTNET

    if args.network is None:
        return args.rest_url, args.ws_url, None
    endpoints = MAINNET if args.network == "mainnet" else TESTNET
    network: Any = None
    if args.network == "testnet":
        from dydx_v4_client.network import TESTNET as DYDX_TESTNET

        network = DYDX_TESTNET
    elif args.node_url:
        from dydx_v4_client.network import make_mainnet

        network = make_mainnet(
            rest_indexer=endpoints.rest_url,
            websocket_indexer=endpoints.ws_url,
            node_url=args.node_url,
        )
    return endpoints.rest_url, endpoints.ws_url, network


def _run_run(args: argparse.Namespace) -> int:
    import logging

    from .pipeline import PipelineConfig
    from .strategy import StrategyConfig

    if args.rest_url is not None and not args.ws_url:
        print("tradingbot run: --rest-url needs --ws-url", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    markets = tuple(dict.fromkeys(m for group in args.market for m in group))
    _, ws_url, network = _endpoints(args)
    config = PipelineConfig(
        exchange_clock=args.network is None,
        strategy=StrategyConfig(markets=markets),
    )
    try:
        server = _start_serving(args, config.resolutions, markets)
    except OSError as exc:
        print(f"tradingbot run: cannot listen on port {args.serve}: {exc}", file=sys.stderr)
        return 2
    try:
        return _run_feed(args, config, markets, ws_url, network, server)
    finally:
        _stop_serving(server, args.serve_linger)


def _run_feed(
    args: argparse.Namespace,
    config: PipelineConfig,
    markets: tuple[str, ...],
    ws_url: str,
    network: Any,
    server: BarServer | None,
) -> int:
    from .execution import PaperBroker
    from .execution.base import Broker
    from .execution.live import LiveBroker
    from .feeds.stream import StreamFeed
    from .pipeline import run_live

    paper = PaperBroker(config.starting_quote, fees=config.fees)
    taps = [server.hub.observe] if server is not None else []
    live: LiveBroker | None = None
    broker: Broker
    if args.paper:
        broker = paper
    else:
        live = LiveBroker(
            network=network,
            address=args.address,
            dry_run=True if args.dry_run else None,
            shadow=paper,
        )
        broker = live
    feed = StreamFeed(ws_url)
    streams = [feed.markets()]
    for market in markets:
        streams += [feed.order_book(market), feed.trades(market), feed.candles(market, "1MIN")]
    events = feed.connection(*streams)
    feed.start()
    try:
        if args.headless:
            pipeline = _driven(
                lambda: run_live(
                    events,
                    duration=args.duration,
                    config=config,
                    broker=broker,
                    status=feed.status,
                    taps=taps,
                )
            )
        else:
            from .dashboard import Dashboard

            board = Dashboard(title=f"tradingbot run: {', '.join(markets)}")
            with board.running():
                pipeline = _driven(
                    lambda: run_live(
                        events,
                        duration=args.duration,
                        config=config,
                        broker=broker,
                        status=feed.status,
                        on_progress=board.update,
                        taps=taps,
                    )
                )
    finally:
        feed.close()
        if live is not None:
            live.close()
    summary = pipeline.summary()
    summary["mode"] = "paper" if args.paper else ("dry-run" if live and live.dry_run else "live")
    if live is not None:
        summary["orders_built"] = len(live.orders)
        summary["wallet_address"] = live.address
    _finish(summary, args.summary_json)
    return 0


def _add_record(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .record import add_record_command

    add_record_command(sub)


COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_simulate,
    _add_replay,
    _add_run,
    _add_record,
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


EXTRA_FOR_MODULE: dict[str, str] = {
    "dydx_v4_client": "live",
    "websocket": "live",
    "httpx": "live",
    "aiohttp": "simulator",
    "fastapi": "serve",
    "starlette": "serve",
    "uvicorn": "serve",
    "plotly": "serve",
}
"""Top-level module -> the extra of ``streamreplay-tradingbot`` that installs it (see
tradingbot/pyproject.toml): ``replay`` needs none, the other commands name theirs."""


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The extra that provides the module ``exc`` could not import, None if it is not one."""
    return EXTRA_FOR_MODULE.get((exc.name or "").partition(".")[0])


NEWEST_PYTHON_FOR_MODULE: dict[str, tuple[int, int]] = {"dydx_v4_client": (3, 12)}
"""Top-level module -> the newest Python its distribution installs on (dydx-v4-client pins a
coincurve without a 3.13 wheel; the ``live`` extra leaves it out there)."""


def install_hint(exc: ModuleNotFoundError, extra: str) -> str:
    """What to do about a missing extra: install it, or, where installing it cannot bring the
    module on this Python, which Python to use (a pip command would not help there)."""
    newest = NEWEST_PYTHON_FOR_MODULE.get((exc.name or "").partition(".")[0])
    if newest is not None and sys.version_info[:2] > newest:
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        return (
            f"it does not install on Python {here}; use Python 3.11 or "
            f"{newest[0]}.{newest[1]} with 'streamreplay-tradingbot[{extra}]'"
        )
    return f"pip install 'streamreplay-tradingbot[{extra}]'"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    try:
        return func(args)
    except RunFailed as exc:
        print(f"tradingbot {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        extra = missing_extra(exc)
        if extra is None:
            raise
        print(
            f"tradingbot {args.command}: needs the '{extra}' extra (no module named "
            f"{exc.name!r}): {install_hint(exc, extra)}",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
