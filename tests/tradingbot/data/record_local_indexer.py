"""Record the local indexer's messages into tests/tradingbot/data/dydx-local/ (run from the
repository root: ``.venv/bin/python tests/tradingbot/data/record_local_indexer.py``).

What the decoder tests read on a fresh clone: one message of each kind, captured from the
project's own simulator (tradingbot/simulator: seeded model, the indexer's protocol) over a real
websocket and real HTTP, written one file per message like the real captures the project
cannot ship (they are LGPL-3.0 test fixtures of NautilusTrader, read from ../shared/dydx-real
when present). Everything here is modelled: prices, sizes, markets and margin parameters come
from the simulator's model, the shapes from the indexer protocol the simulator implements.
The model runs on its own clock (epoch 2024-01-01): a new recording differs only in the
connection id the server assigns and in how far the model ran while the client subscribed.
See README.md beside this file.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from websocket import create_connection

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tradingbot.simulator import SimulatorConfig, SimulatorThread

OUT = Path(__file__).resolve().parent / "dydx-local"
ADDRESS = "dydx1localindexer0000000000000000000000000"
CONFIG = SimulatorConfig(
    seed=15,
    markets=("BTC-USD", "ETH-USD"),
    tick_ms=20,
    flush_ms=100,
    settle_ms=50,
    warmup_steps=6_000,  # 100 market minutes: a candle snapshot of 100 bars
    heartbeat_s=None,
)

SUBSCRIPTIONS: list[dict[str, Any]] = [
    {"channel": "v4_markets", "batched": False},
    {"channel": "v4_orderbook", "id": "ETH-USD", "batched": False},
    {"channel": "v4_trades", "id": "ETH-USD", "batched": False},
    {"channel": "v4_candles", "id": "ETH-USD/1MIN", "batched": False},
    {"channel": "v4_subaccounts", "id": f"{ADDRESS}/0"},
    {"channel": "v4_block_height", "batched": False},
]


def _name(message: dict[str, Any]) -> str | None:
    """The file a message is kept as (the real captures' names where they have one)."""
    kind, channel = message.get("type"), message.get("channel", "")
    if kind in ("connected", "error", "unsubscribed"):
        return kind
    short = {"v4_subaccounts": "v4_accounts"}.get(channel, channel)
    if kind == "subscribed":
        return {
            "v4_orderbook": "v4_orderbook_snapshot",
            "v4_candles": "v4_candles",
            "v4_trades": "v4_trades_subscribed",
        }.get(channel, f"{short}_subscribed")
    if kind == "channel_data":
        contents = message.get("contents") or {}
        if channel == "v4_markets":
            return (
                "v4_markets_oracle_price"
                if "oraclePrices" in contents
                else "v4_markets_trading_data"
            )
        if channel == "v4_orderbook":
            return "v4_orderbook"
        if channel == "v4_trades":
            return "v4_trades"
        return f"{short}_channel_data"
    return None


def record_websocket(sim: SimulatorThread) -> dict[str, dict[str, Any]]:
    kept: dict[str, dict[str, Any]] = {}
    ws = create_connection(sim.ws_url, timeout=10)
    try:
        for sub in SUBSCRIPTIONS:
            ws.send(json.dumps({"type": "subscribe", **sub}))
        ws.send(json.dumps({"type": "subscribe", "channel": "v4_orderbook", "id": "NOPE-USD"}))
        deadline = time.monotonic() + 8
        unsubscribed = False
        while time.monotonic() < deadline:
            message = json.loads(ws.recv())
            name = _name(message)
            if name is not None and name not in kept:
                kept[name] = message
            if not unsubscribed and "v4_block_height_channel_data" in kept:
                ws.send(json.dumps({"type": "unsubscribe", "channel": "v4_block_height"}))
                unsubscribed = True
            if len(kept) >= 14:
                break
    finally:
        ws.close()
    return kept


def record_rest(sim: SimulatorThread) -> dict[str, Any]:
    routes = {
        "list_perpetual_markets": "/v4/perpetualMarkets",
        "orderbook": "/v4/orderbooks/perpetualMarket/ETH-USD",
        "trades": "/v4/trades/perpetualMarket/ETH-USD",
        "candles": "/v4/candles/perpetualMarkets/ETH-USD?resolution=1MIN",
        "historical_funding": "/v4/historicalFunding/ETH-USD",
        "subaccount": f"/v4/addresses/{ADDRESS}/subaccountNumber/0",
    }
    bodies = {}
    for name, route in routes.items():
        with urllib.request.urlopen(sim.rest_url + route, timeout=10) as response:
            bodies[name] = json.loads(response.read())
    return bodies


def main() -> int:
    sim = SimulatorThread(CONFIG).start()
    try:
        messages = record_websocket(sim)
        bodies = record_rest(sim)
    finally:
        sim.stop()
    for folder, items in (("websocket", messages), ("http", bodies)):
        target = OUT / folder
        target.mkdir(parents=True, exist_ok=True)
        for old in target.glob("*.json"):
            old.unlink()
        for name, value in sorted(items.items()):
            (target / f"{name}.json").write_text(json.dumps(value, indent=2) + "\n")
    print(json.dumps({"websocket": sorted(messages), "http": sorted(bodies)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
