"""Record the local indexer's messages into tests/tradingbot/data/dydx-local/ (run from the
repository root: ``.venv/bin/python tests/tradingbot/data/record_local_indexer.py``).

What the decoder tests read on a fresh clone: one message of each kind, captured from the
project's own simulator (tradingbot/simulator: seeded model, the indexer's protocol) over a real
websocket and real HTTP, written one file per message under the names the real captures use
for the same shape (those are LGPL-3.0 test fixtures of NautilusTrader, read from
../shared/dydx-real when present, never copied here). Three simulator configurations: the main
one (a market listed without an oracle price, a subaccount that trades), a legacy one (fill
event ids as Node Buffers) and a protocol v8 one (defaultFundingRate1H). Everything here is
modelled: prices, sizes, markets, orders, fills and balances come from the simulator's model,
the shapes from the indexer protocol it implements. The model runs on its own clock (epoch
2024-01-01): a new recording differs only in the connection id the server assigns and in how
far the model ran while the client subscribed. See README.md beside this file.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import replace
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
    listing=("LISTING-USD",),  # listed, not yet priced: oraclePrice null
    account_activity=True,  # positions, borrowed USDC, orders, fills, transfers, rewards
)
LEGACY = replace(CONFIG, warmup_steps=300, listing=(), buffer_event_ids=True)
"""The 2023 indexer's fill event ids (a serialised Node Buffer)."""
V8 = replace(CONFIG, warmup_steps=300, listing=(), funding_rate_1h=True)
"""Protocol v8's market fields (defaultFundingRate1H)."""

SUBSCRIPTIONS: list[dict[str, Any]] = [
    {"channel": "v4_markets", "batched": False},
    {"channel": "v4_orderbook", "id": "ETH-USD", "batched": False},
    {"channel": "v4_trades", "id": "ETH-USD", "batched": False},
    {"channel": "v4_candles", "id": "ETH-USD/1MIN", "batched": False},
    {"channel": "v4_subaccounts", "id": f"{ADDRESS}/0"},
    {"channel": "v4_block_height", "batched": False},
]

WEBSOCKET = {
    "connected",
    "error",
    "unsubscribed",
    "v4_accounts_balance",
    "v4_accounts_channel_data_order",
    "v4_accounts_channel_data_order_best_effort_canceled",
    "v4_accounts_channel_data_order_canceled",
    "v4_accounts_channel_data_order_expired",
    "v4_accounts_channel_data_order_opened",
    "v4_accounts_channel_data_order_opened_stop_limit",
    "v4_accounts_channel_data_transfers",
    "v4_accounts_fills",
    "v4_accounts_rewards",
    "v4_block_height_channel_data",
    "v4_block_height_subscribed",
    "v4_candles",
    "v4_candles_channel_data",
    "v4_markets_cross",
    "v4_markets_oracle_price",
    "v4_markets_subscribed",
    "v4_markets_trading_data",
    "v4_orderbook",
    "v4_orderbook_snapshot",
    "v4_trades",
    "v4_trades_subscribed",
}
"""The messages kept, one of each (the real captures' file names where they have one)."""


def _account_name(contents: dict[str, Any]) -> str | None:
    """v4_subaccounts updates by what they carry."""
    if "fills" in contents:
        return "v4_accounts_fills"
    if "transfers" in contents:
        return "v4_accounts_channel_data_transfers"
    if "tradingReward" in contents:
        return "v4_accounts_rewards"
    orders = contents.get("orders") or []
    if not orders:
        return None
    if any(o.get("removalReason") == "ORDER_REMOVAL_REASON_EXPIRED" for o in orders):
        return "v4_accounts_channel_data_order_expired"
    last = orders[-1]
    status, kind = last.get("status"), last.get("type")
    if status == "OPEN":
        return "v4_accounts_channel_data_order"
    if status == "CANCELED":
        return "v4_accounts_channel_data_order_canceled"
    if status == "BEST_EFFORT_CANCELED":
        return "v4_accounts_channel_data_order_best_effort_canceled"
    if status == "BEST_EFFORT_OPENED":
        suffix = "_stop_limit" if kind == "STOP_LIMIT" else ""
        return f"v4_accounts_channel_data_order_opened{suffix}"
    return None


def _name(message: dict[str, Any]) -> str | None:
    """The file a message is kept as."""
    kind, channel = message.get("type"), message.get("channel", "")
    if kind in ("connected", "error", "unsubscribed"):
        return kind
    if kind == "subscribed":
        return {
            "v4_orderbook": "v4_orderbook_snapshot",
            "v4_candles": "v4_candles",
            "v4_trades": "v4_trades_subscribed",
            "v4_subaccounts": "v4_accounts_balance",
        }.get(channel, f"{channel}_subscribed")
    if kind == "channel_data":
        contents = message.get("contents") or {}
        if channel == "v4_subaccounts":
            return _account_name(contents)
        if channel == "v4_markets":
            if "oraclePrices" in contents:
                return "v4_markets_oracle_price"
            whole = any("status" in m for m in contents.get("trading", {}).values())
            return "v4_markets_cross" if whole else "v4_markets_trading_data"
        if channel in ("v4_orderbook", "v4_trades"):
            return channel
        return f"{channel}_channel_data"
    return None


def record_websocket(
    sim: SimulatorThread,
    subscriptions: list[dict[str, Any]],
    wanted: set[str],
    name: Callable[[dict[str, Any]], str | None] = _name,
) -> dict[str, dict[str, Any]]:
    """Subscribe and keep the first message of each wanted name (all of them, or fail)."""
    kept: dict[str, dict[str, Any]] = {}
    ws = create_connection(sim.ws_url, timeout=10)
    try:
        for sub in subscriptions:
            ws.send(json.dumps({"type": "subscribe", **sub}))
        if "error" in wanted:
            ws.send(json.dumps({"type": "subscribe", "channel": "v4_orderbook", "id": "NOPE-USD"}))
        deadline = time.monotonic() + 20
        unsubscribed = "unsubscribed" not in wanted
        while time.monotonic() < deadline and not wanted <= set(kept):
            message = json.loads(ws.recv())
            kept_as = name(message)
            if kept_as in wanted and kept_as not in kept:
                kept[kept_as] = message
            if not unsubscribed and "v4_block_height_channel_data" in kept:
                ws.send(json.dumps({"type": "unsubscribe", "channel": "v4_block_height"}))
                unsubscribed = True
    finally:
        ws.close()
    missing = wanted - set(kept)
    if missing:
        raise SystemExit(f"the local indexer sent no {sorted(missing)} within 20 s")
    return kept


def record_rest(sim: SimulatorThread, routes: dict[str, str]) -> dict[str, Any]:
    bodies = {}
    for name, route in routes.items():
        with urllib.request.urlopen(sim.rest_url + route, timeout=10) as response:
            bodies[name] = json.loads(response.read())
    return bodies


def _order_id(sim: SimulatorThread, kind: str, status: str | None = None) -> str:
    """The id of the account's first order of ``kind`` (and ``status``), after the websocket
    recording: a filled taker order is short-term (good til a block)."""
    query = f"/v4/orders?address={ADDRESS}&subaccountNumber=0"
    with urllib.request.urlopen(sim.rest_url + query, timeout=10) as response:
        orders = json.loads(response.read())
    return next(
        o["id"] for o in reversed(orders) if o["type"] == kind and status in (None, o["status"])
    )


def record(out: Path) -> dict[str, list[str]]:
    """Record every file into ``out/websocket`` and ``out/http`` (replacing what was there)."""
    account = f"address={ADDRESS}&subaccountNumber=0"
    with SimulatorThread(CONFIG) as sim:
        # before the clock starts: LISTING-USD is listed, not yet live (it goes live during
        # the websocket recording: v4_markets_cross)
        markets = record_rest(sim, {"list_perpetual_markets": "/v4/perpetualMarkets"})
        messages = record_websocket(sim, SUBSCRIPTIONS, WEBSOCKET)
        routes = {
            "orderbook": "/v4/orderbooks/perpetualMarket/ETH-USD",
            "trades": "/v4/trades/perpetualMarket/ETH-USD",
            "candles": "/v4/candles/perpetualMarkets/ETH-USD?resolution=1MIN",
            "historical_funding": "/v4/historicalFunding/ETH-USD",
            "subaccount": f"/v4/addresses/{ADDRESS}/subaccountNumber/0",
            "addresses": f"/v4/addresses/{ADDRESS}",
            "asset_positions": f"/v4/assetPositions?{account}",
            "list_perpetual_positions": f"/v4/perpetualPositions?{account}",
            "fills": f"/v4/fills?{account}",
            "orders": f"/v4/orders?{account}",
            "order": f"/v4/orders/{_order_id(sim, 'LIMIT', 'FILLED')}",
            "conditional_order": f"/v4/orders/{_order_id(sim, 'STOP_LIMIT')}",
        }
        bodies = {**markets, **record_rest(sim, routes)}
    with SimulatorThread(LEGACY) as sim:
        legacy = record_websocket(
            sim,
            [{"channel": "v4_subaccounts", "id": f"{ADDRESS}/0"}],
            {"v4_accounts_channel_data"},
            lambda m: "v4_accounts_channel_data" if "fills" in m.get("contents", {}) else None,
        )
    with SimulatorThread(V8) as sim:
        v8 = record_rest(sim, {"list_perpetual_markets_v8": "/v4/perpetualMarkets?ticker=BTC-USD"})
    for folder, items in (("websocket", {**messages, **legacy}), ("http", {**bodies, **v8})):
        target = out / folder
        target.mkdir(parents=True, exist_ok=True)
        for old in target.glob("*.json"):
            old.unlink()
        for name, value in sorted(items.items()):
            (target / f"{name}.json").write_text(json.dumps(value, indent=2) + "\n")
    return {"websocket": sorted({**messages, **legacy}), "http": sorted({**bodies, **v8})}


def main() -> int:
    print(json.dumps(record(OUT), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
