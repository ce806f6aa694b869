"""Development cassettes: deterministic dYdX websocket sessions written in the cassette format.

The bundled cassettes recorded through the proxy come later; until then tests, benchmarks and
``make demo`` need sessions that look exactly like a recorded one (a ``ws`` record, the client's
``subscribe`` messages, the indexer's ``connected``/``subscribed``/``channel_data`` replies with
one ``message_id`` counter) and are a pure function of their arguments, so a test can assert
exact numbers.

* :func:`write_dev_cassette` runs the simulator's seeded :class:`MarketModel` (books, trades,
  1-minute candles, oracle prices, market stats) without a server or a socket.
* :func:`write_path_cassette` scripts one market along a given price path: the tool for
  scenarios such as a liquidation cascade.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pytest_streamreplay.cassette import CassetteWriter, WsConnection, WsMessage, new_header
from pytest_streamreplay.cassette.body import encode_body

from .simulator.model import EPOCH, MarketModel, fmt, iso

__all__ = ["DEV_WS_URL", "write_dev_cassette", "write_path_cassette"]

DEV_WS_URL = "ws://127.0.0.1/v4/ws"
"""The URL development cassettes claim to have been recorded from (never contacted)."""

_VERSIONS = {
    "v4_orderbook": "1.0.0",
    "v4_trades": "2.1.0",
    "v4_candles": "1.0.0",
    "v4_markets": "1.0.0",
}


class _Session:
    """One connection's messages: the per-connection ``message_id`` counter and the writer."""

    def __init__(self, writer: CassetteWriter, connection_id: str) -> None:
        self.writer = writer
        self.connection_id = connection_id
        self.next_id = 0
        self.messages = 0

    def _write(self, direction: str, t: float, value: dict[str, Any]) -> None:
        import json

        body = encode_body(json.dumps(value, separators=(",", ":")).encode("utf-8"))
        self.writer.write(WsMessage(1, direction, t, body))
        self.messages += 1

    def send(self, t: float, value: dict[str, Any]) -> None:
        self._write("send", t, value)

    def recv(self, t: float, kind: str, **fields: Any) -> None:
        message: dict[str, Any] = {
            "type": kind,
            "connection_id": self.connection_id,
            "message_id": self.next_id,
        }
        message.update(fields)
        self.next_id += 1
        self._write("recv", t, message)

    def subscribe(self, t: float, channel: str, sub_id: str | None, contents: Any) -> None:
        request: dict[str, Any] = {"type": "subscribe", "channel": channel}
        if sub_id is not None:
            request["id"] = sub_id
        request["batched"] = channel in ("v4_orderbook", "v4_trades")
        self.send(t, request)
        extra = {} if sub_id is None else {"id": sub_id}
        self.recv(t + 0.5, "subscribed", channel=channel, **extra, contents=contents)

    def data(self, t: float, channel: str, sub_id: str | None, items: list[Any]) -> None:
        extra = {} if sub_id is None else {"id": sub_id}
        if channel in ("v4_orderbook", "v4_trades"):
            self.recv(
                t,
                "channel_batch_data",
                channel=channel,
                **extra,
                version=_VERSIONS[channel],
                contents=items,
            )
        else:
            for item in items:
                self.recv(
                    t,
                    "channel_data",
                    channel=channel,
                    **extra,
                    version=_VERSIONS[channel],
                    contents=item,
                )


def _connection_id(seed: object) -> str:
    rng = random.Random(f"{seed}:dev-cassette")
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _open(path: Path, seed: object, note: str, start: datetime, **extra: Any) -> CassetteWriter:
    header = new_header(
        note=note, source="tradingbot.testing", market_start=iso(start), seed=str(seed), **extra
    )
    header.recorded_at = iso(start)  # a pure function of the arguments: no wall time
    writer = CassetteWriter(path, header)
    writer.write(WsConnection(1, DEV_WS_URL, 0.0))
    return writer


def write_dev_cassette(
    path: str | os.PathLike[str],
    *,
    seed: int = 7,
    markets: Sequence[str] = ("BTC-USD", "ETH-USD"),
    minutes: float = 5.0,
    step_ms: int = 1000,
) -> Path:
    """Write ``minutes`` of market time of the simulator's model (one step per ``step_ms``).

    Subscriptions: v4_markets, then per market v4_orderbook and v4_trades (batched: one batch a
    step) and v4_candles ``MARKET/1MIN``. The header carries ``market_start`` (ISO time of the
    connection's opening in market time) so a replay can start its virtual clock there.
    """
    target = Path(path)
    model = MarketModel(seed, markets=tuple(markets), step_ms=step_ms, warmup_steps=0)
    steps = max(1, int(minutes * 60_000 // step_ms))
    with _open(target, seed, "simulator model", model.now, markets=list(markets)) as writer:
        s = _Session(writer, _connection_id(seed))
        s.recv(0.0, "connected")
        t = 1.0
        s.subscribe(t, "v4_markets", None, model.markets_json())
        for ticker in markets:
            t += 1.0
            s.subscribe(t, "v4_orderbook", ticker, model.orderbook_json(ticker))
            t += 1.0
            s.subscribe(t, "v4_trades", ticker, model.trades_json(ticker))
            t += 1.0
            candles = model.candles_json(ticker, "1MIN", rest=False)
            s.subscribe(t, "v4_candles", f"{ticker}/1MIN", candles)
        wanted: set[tuple[str, str | None]] = {("v4_markets", None)}
        for ticker in markets:
            wanted |= {("v4_orderbook", ticker), ("v4_trades", ticker)}
            wanted.add(("v4_candles", f"{ticker}/1MIN"))
        for step in range(1, steps + 1):
            at = float(step * step_ms)
            grouped: dict[tuple[str, str | None], list[Any]] = {}
            for emission in model.step():
                key = (emission.channel, emission.id)
                if key in wanted:
                    grouped.setdefault(key, []).append(emission.contents)
            for (channel, sub_id), items in grouped.items():
                s.data(at, channel, sub_id, items)
    return target


def _levels(mid: Decimal, tick: Decimal, size: Decimal, depth: int) -> tuple[list[Any], list[Any]]:
    bids = [[fmt(mid - tick * k), fmt(size)] for k in range(1, depth + 1)]
    asks = [[fmt(mid + tick * k), fmt(size)] for k in range(1, depth + 1)]
    return bids, asks


def write_path_cassette(
    path: str | os.PathLike[str],
    prices: Iterable[Decimal | str | int],
    *,
    market: str = "BTC-USD",
    step_ms: int = 1000,
    tick: Decimal = Decimal(1),
    level_size: Decimal = Decimal(5),
    depth: int = 10,
    imf: Decimal = Decimal("0.05"),
    mmf: Decimal = Decimal("0.03"),
    start: datetime = EPOCH,
) -> Path:
    """One market walked along ``prices`` (one step each): the oracle price is the path, the
    book is ``depth`` levels of ``level_size`` a tick apart around it, and one trade of
    ``tick``-small size prints at the oracle price every step (so bars form)."""
    target = Path(path)
    path_prices = [Decimal(str(p)) for p in prices]
    if not path_prices:
        raise ValueError("need at least one price")
    first = path_prices[0]
    market_json = {
        "clobPairId": "0",
        "ticker": market,
        "status": "ACTIVE",
        "oraclePrice": fmt(first),
        "initialMarginFraction": fmt(imf),
        "maintenanceMarginFraction": fmt(mmf),
        "openInterest": "100",
        "openInterestLowerCap": "0",
        "openInterestUpperCap": "0",
        "tickSize": fmt(tick),
        "stepSize": "0.0001",
        "nextFundingRate": "0",
        "marketType": "CROSS",
    }
    with _open(target, f"path:{market}", "scripted price path", start) as writer:
        s = _Session(writer, _connection_id(f"path:{market}:{len(path_prices)}"))
        s.recv(0.0, "connected")
        s.subscribe(1.0, "v4_markets", None, {"markets": {market: market_json}})
        bids, asks = _levels(first, tick, level_size, depth)
        snapshot = {
            "bids": [{"price": p, "size": q} for p, q in bids],
            "asks": [{"price": p, "size": q} for p, q in asks],
        }
        s.subscribe(2.0, "v4_orderbook", market, snapshot)
        s.subscribe(3.0, "v4_trades", market, {"trades": []})
        old_bids, old_asks = {p for p, _ in bids}, {p for p, _ in asks}
        for step, price in enumerate(path_prices[1:], start=1):
            at = float(step * step_ms)
            now = start + timedelta(milliseconds=at)
            new_bids, new_asks = _levels(price, tick, level_size, depth)
            delta = {
                "bids": [[p, "0"] for p in sorted(old_bids - {b for b, _ in new_bids})] + new_bids,
                "asks": [[p, "0"] for p in sorted(old_asks - {a for a, _ in new_asks})] + new_asks,
            }
            old_bids, old_asks = {p for p, _ in new_bids}, {p for p, _ in new_asks}
            s.data(at, "v4_orderbook", market, [delta])
            trade = {
                "id": f"{step:016x}",
                "size": "0.001",
                "price": fmt(price),
                "side": "SELL",
                "createdAt": iso(now),
                "type": "LIMIT",
            }
            s.data(at, "v4_trades", market, [{"trades": [trade]}])
            oracle = {
                market: {
                    "oraclePrice": fmt(price),
                    "effectiveAt": iso(now),
                    "effectiveAtHeight": str(1_000_000 + step),
                    "marketId": 0,
                }
            }
            s.data(at, "v4_markets", None, [{"oraclePrices": oracle}])
    return target
