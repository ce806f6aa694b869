"""``tradingbot record``: record an indexer session into a cassette for ``tradingbot replay``.

The session goes through pytest-streamreplay's proxy (:func:`pytest_streamreplay.harness.
use_cassette`, record mode ``all``), so the cassette holds exactly what the real dydx-v4-client
sent and received: a REST snapshot (perpetual markets, then each market's order book) through
:class:`~tradingbot.feeds.rest.RestFeed`, then one websocket connection through
:class:`~tradingbot.feeds.stream.StreamFeed` subscribed to v4_markets and, per market,
v4_orderbook, v4_trades and v4_candles (1MIN), batched, for ``duration`` wall seconds. A dropped
connection is reconnected and resubscribed by the feed, and shows as a second connection.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "MARKET_SPEED_KEY",
    "RecordSummary",
    "add_record_command",
    "record_session",
    "recorded_market_speed",
    "summarize_cassette",
]

NOTE = "recorded by `tradingbot record` from {ws_url} ({markets}) by dydx-v4-client"

MARKET_SPEED_KEY = "market_speed"
"""Header key: how many times faster than the wall clock the source's market time ran (a
simulator at 20x writes 20), so ``tradingbot replay`` can put the bars back on market time
without being told. Absent means 1 (a live venue)."""


@dataclass
class RecordSummary:
    """What a recorded cassette holds."""

    path: Path
    bytes: int
    connections: int
    http: int
    sent: int
    received: int
    per_channel: dict[str, int] = field(default_factory=dict)
    feed_errors: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "cassette": str(self.path),
            "bytes": self.bytes,
            "websocket_connections": self.connections,
            "http_interactions": self.http,
            "messages_sent": self.sent,
            "messages_received": self.received,
            "messages_per_channel": dict(sorted(self.per_channel.items())),
            "feed_errors": self.feed_errors,
        }


def summarize_cassette(path: Path) -> RecordSummary:
    """Count a cassette's connections, HTTP interactions and received messages per channel
    (``connected``, ``error``, ... for messages without a channel)."""
    from pytest_streamreplay.cassette import iter_records
    from pytest_streamreplay.cassette.records import HttpInteraction, WsConnection, WsMessage

    per_channel: Counter[str] = Counter()
    connections = http = sent = received = 0
    for record in iter_records(path):
        if isinstance(record, WsConnection):
            connections += 1
        elif isinstance(record, HttpInteraction):
            http += 1
        elif isinstance(record, WsMessage):
            if record.dir == "send":
                sent += 1
                continue
            received += 1
            value = record.value
            if isinstance(value, dict):
                per_channel[str(value.get("channel") or value.get("type") or "?")] += 1
            else:
                per_channel["(not JSON)"] += 1
    return RecordSummary(
        path=path,
        bytes=path.stat().st_size,
        connections=connections,
        http=http,
        sent=sent,
        received=received,
        per_channel=dict(per_channel),
    )


def recorded_market_speed(paths: Sequence[Path]) -> float:
    """The market speed the cassettes' headers declare (1 where absent); they must agree.

    Raises ValueError naming the files when they disagree or a value is not a positive number.
    """
    from pytest_streamreplay.cassette import read_header

    speeds: dict[float, list[str]] = {}
    for path in paths:
        raw = read_header(path).extra.get(MARKET_SPEED_KEY, 1)
        if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
            raise ValueError(f"{path}: header {MARKET_SPEED_KEY}={raw!r} is not a positive number")
        speeds.setdefault(float(raw), []).append(str(path))
    if len(speeds) > 1:
        found = "; ".join(f"{s:g}x: {', '.join(names)}" for s, names in sorted(speeds.items()))
        raise ValueError(f"the cassettes were recorded at different market speeds ({found})")
    return next(iter(speeds), 1.0)


def record_session(
    out: Path,
    *,
    rest_url: str,
    ws_url: str,
    markets: Sequence[str],
    duration: float,
    resolution: str = "1MIN",
    market_speed: float = 1.0,
) -> RecordSummary:
    """Record a REST snapshot and ``duration`` seconds of the websocket feed into ``out``
    (overwritten). Every wait is bounded; the feed and the proxy are closed before returning.

    ``market_speed``: how fast the source's market time runs against the wall clock (written
    into the header when it is not 1; see :data:`MARKET_SPEED_KEY`)."""
    from pytest_streamreplay.harness import runtime, use_cassette

    from .feeds.events import ErrorEvent, MarketEvent
    from .feeds.rest import RestFeed
    from .feeds.stream import StreamFeed

    out.parent.mkdir(parents=True, exist_ok=True)
    errors = 0
    lock = threading.Lock()

    def on_event(event: MarketEvent) -> None:
        nonlocal errors
        if isinstance(event, ErrorEvent):
            with lock:
                errors += 1

    try:
        with use_cassette(out, record_mode="all") as sr:
            sr.note = NOTE.format(ws_url=ws_url, markets=", ".join(markets))
            if market_speed != 1.0:
                sr.metadata[MARKET_SPEED_KEY] = market_speed
            with RestFeed(rest_url, timeout=10) as rest:
                rest.run(rest.fetch_markets(), timeout=30)
                for market in markets:
                    rest.run(rest.fetch_orderbook(market), timeout=30)
            feed = StreamFeed(ws_url)
            feed.markets().subscribe(on_event)
            for market in markets:
                feed.order_book(market).subscribe(on_event)
                feed.trades(market).subscribe(on_event)
                feed.candles(market, resolution).subscribe(on_event)
            feed.start()
            try:
                threading.Event().wait(duration)
            finally:
                feed.close()
    finally:
        runtime().stop()
    summary = summarize_cassette(out)
    summary.feed_errors = errors
    return summary


# -- the command ---------------------------------------------------------------------------


def add_record_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``tradingbot record`` (see :data:`tradingbot.cli.COMMANDS`)."""
    p = sub.add_parser(
        "record",
        help="record an indexer session into a cassette (for tradingbot replay)",
        description=(
            "Record what dydx-v4-client exchanges with the indexer through the "
            "pytest-streamreplay proxy: a REST snapshot (perpetual markets, order books), then "
            "v4_markets and each market's order book, trades and 1-minute candles over one "
            "websocket for --duration seconds. Prints a summary JSON. Default: mainnet."
        ),
    )
    p.add_argument("--out", type=Path, required=True, metavar="CASSETTE", help="file to write")
    p.add_argument("--duration", type=float, default=60.0, help="wall seconds (default 60)")
    p.add_argument(
        "--market",
        action="append",
        default=None,
        help="BTC-USD[,ETH-USD]; repeatable (default BTC-USD and ETH-USD)",
    )
    p.add_argument("--network", choices=("mainnet", "testnet"), default=None)
    p.add_argument("--rest-url", help="indexer REST URL (with --ws-url), e.g. the simulator")
    p.add_argument("--ws-url", help="indexer websocket URL (with --rest-url)")
    p.add_argument(
        "--market-speed",
        type=float,
        default=1.0,
        metavar="F",
        help="the source's market time runs F times faster than the wall clock (a simulator); "
        "written into the cassette so `tradingbot replay` need not be told (default 1)",
    )
    p.set_defaults(func=run_record_command)


def run_record_command(args: argparse.Namespace) -> int:
    from .feeds.network import MAINNET, TESTNET

    if args.duration <= 0:
        print("tradingbot record: --duration must be > 0", file=sys.stderr)
        return 2
    if args.market_speed <= 0:
        print("tradingbot record: --market-speed must be > 0", file=sys.stderr)
        return 2
    if (args.rest_url is None) != (args.ws_url is None):
        print("tradingbot record: give both --rest-url and --ws-url", file=sys.stderr)
        return 2
    if args.rest_url is not None and args.network is not None:
        print("tradingbot record: --network or --rest-url/--ws-url, not both", file=sys.stderr)
        return 2
    if args.rest_url is not None:
        rest_url, ws_url = args.rest_url, args.ws_url
    else:
        endpoints = TESTNET if args.network == "testnet" else MAINNET
        rest_url, ws_url = endpoints.rest_url, endpoints.ws_url
    groups = args.market or ["BTC-USD,ETH-USD"]
    markets = tuple(
        dict.fromkeys(m.strip().upper() for g in groups for m in g.split(",") if m.strip())
    )
    if not markets:
        print("tradingbot record: need at least one market", file=sys.stderr)
        return 2
    print(f"recording {', '.join(markets)} from {ws_url} for {args.duration:g} s", file=sys.stderr)
    summary = record_session(
        args.out,
        rest_url=rest_url,
        ws_url=ws_url,
        markets=markets,
        duration=args.duration,
        market_speed=args.market_speed,
    )
    print(json.dumps(summary.to_json(), indent=2), flush=True)
    return 0
