"""The shapes the local indexer sends only when asked (an account that trades, a market not yet
priced, protocol v8, Buffer event ids), and the in-repository recording made from them."""

from __future__ import annotations

import importlib.util
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

from tradingbot.feeds import dydx
from tradingbot.feeds.events import ErrorEvent
from tradingbot.simulator import MarketModel, SimulatorThread
from tradingbot.simulator.model import LISTING_STEPS

ADDRESS = "dydx1test"
RECORDER = Path(__file__).resolve().parents[1] / "data" / "record_local_indexer.py"
LOCAL = Path(__file__).resolve().parents[1] / "data" / "dydx-local"


def _account_updates(model: MarketModel, steps: int) -> list[dict[str, Any]]:
    return [
        e.contents
        for _ in range(steps)
        for e in model.step()
        if e.channel == "v4_subaccounts" and e.id == f"{ADDRESS}/0"
    ]


def _signed(asset: dict[str, Any]) -> Decimal:
    return Decimal(asset["size"]) * (-1 if asset["side"] == "SHORT" else 1)


def test_account_balances_follow_its_fills_and_transfers() -> None:
    """Every USDC balance and position the account reports is what its own fills, fees and
    transfers make of the previous one: the modelled account is consistent, not decoration."""
    model = MarketModel(3, account_activity=True, warmup_steps=20)
    snapshot = model.subaccount_snapshot(ADDRESS, 0)
    sub = snapshot["subaccount"]
    usdc = _signed(sub["assetPositions"]["USDC"])
    positions = {m: Decimal(p["size"]) for m, p in sub["openPerpetualPositions"].items()}
    assert usdc < 0 and min(positions.values()) < 0 < max(positions.values())
    assert [o["status"] for o in snapshot["orders"]] == ["OPEN"]
    seen: set[str] = set()
    for contents in _account_updates(model, 120):
        assert not [e for e in dydx.decode(_message(contents)) if isinstance(e, ErrorEvent)]
        seen.update(k for k in contents if k != "blockHeight")
        for fill in contents.get("fills", []):
            signed = Decimal(fill["size"]) * (1 if fill["side"] == "BUY" else -1)
            usdc -= signed * Decimal(fill["price"]) + Decimal(fill["fee"])
            positions[fill["ticker"]] = positions.get(fill["ticker"], Decimal(0)) + signed
            assert fill["orderId"] in {o["id"] for o in contents["orders"]}
        if "transfers" in contents:
            transfer = contents["transfers"]
            usdc += Decimal(transfer["size"]) * (1 if transfer["type"] == "DEPOSIT" else -1)
        for asset in contents.get("assetPositions", []):
            assert _signed(asset) == usdc
        for position in contents.get("perpetualPositions", []):
            assert Decimal(position["size"]) == positions[position["market"]]
    assert seen == {"orders", "fills", "perpetualPositions", "assetPositions", "transfers"} | {
        "tradingReward"
    }
    rest = model.account_rest("perpetual_positions", ADDRESS, 0)["positions"]
    assert {p["market"]: Decimal(p["size"]) for p in rest} == positions


def _message(contents: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "channel_data",
        "connection_id": "c",
        "message_id": 1,
        "channel": "v4_subaccounts",
        "id": f"{ADDRESS}/0",
        "version": "3.0.0",
        "contents": contents,
    }


def test_optional_shapes_stay_off_by_default() -> None:
    """The default model (every cassette, demo and test recorded so far) sends none of them."""
    plain = MarketModel(3, warmup_steps=20)
    assert plain.subaccount_snapshot(ADDRESS, 0)["orders"] == []
    assert plain.subaccount_json(ADDRESS, 0)["openPerpetualPositions"] == {}
    assert _account_updates(plain, 40) == []
    markets = plain.markets_json()["markets"]
    assert all("defaultFundingRate1H" not in m and m["oraclePrice"] for m in markets.values())
    listed = MarketModel(3, warmup_steps=20, listing=("LISTING-USD",), funding_rate_1h=True)
    markets = listed.markets_json()["markets"]
    assert markets["LISTING-USD"]["oraclePrice"] is None
    assert markets["LISTING-USD"]["status"] == "INITIALIZING"
    assert all(m["defaultFundingRate1H"] == "0" for m in markets.values())
    oracle_updates = [
        e.contents["oraclePrices"]
        for _ in range(4)
        for e in listed.step()
        if e.channel == "v4_markets" and "oraclePrices" in e.contents
    ]
    assert oracle_updates and all("LISTING-USD" not in u for u in oracle_updates)


def test_a_listed_market_goes_live_with_a_whole_market_update() -> None:
    model = MarketModel(3, warmup_steps=20, listing=("LISTING-USD",))
    listed = model.markets_json()["markets"]["LISTING-USD"]
    assert not model.has_market("LISTING-USD")
    updates = []
    for _ in range(LISTING_STEPS):
        updates += [
            e.contents["trading"]
            for e in model.step()
            if e.channel == "v4_markets" and "status" in str(e.contents.get("trading"))
        ]
    (whole,) = updates
    market = whole["LISTING-USD"]
    assert market["status"] == "ACTIVE" and "oraclePrice" not in market
    for key in ("initialMarginFraction", "openInterestUpperCap", "tickSize", "marketType"):
        assert market[key] == listed[key], key  # the parameters it was listed with
    assert model.has_market("LISTING-USD") and model.orderbook_json("LISTING-USD")["bids"]
    model.step()
    live = model.markets_json()["markets"]["LISTING-USD"]
    assert live["status"] == "ACTIVE" and live["oraclePrice"]


def test_account_routes_over_http(make_simulator: Callable[..., SimulatorThread]) -> None:
    sim = make_simulator(seed=4, tick_ms=10, settle_ms=10, account_activity=True)

    def get(route: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(sim.rest_url + route, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    query = f"address={ADDRESS}&subaccountNumber=0"
    status, orders = get(f"/v4/orders?{query}")
    assert status == 200 and [o["status"] for o in orders] == ["OPEN"]
    assert get(f"/v4/orders/{orders[0]['id']}") == (200, orders[0])
    assert get("/v4/orders/nope")[0] == 404
    assert get("/v4/fills?subaccountNumber=0")[0] == 400  # no address
    assert get(f"/v4/fills?address={ADDRESS}&subaccountNumber=x")[0] == 400
    status, body = get(f"/v4/addresses/{ADDRESS}")
    assert status == 200 and body["subaccounts"][0]["address"] == ADDRESS
    status, body = get(f"/v4/assetPositions?{query}")
    assert status == 200 and body["positions"][0]["side"] == "SHORT"


def _recorder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("record_local_indexer", RECORDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_recording_in_the_repository_is_what_the_local_indexer_sends(tmp_path: Path) -> None:
    """Record again: the same files, each message of the same kind; so the in-repository data
    cannot drift from the simulator it documents."""
    _recorder().record(tmp_path)
    for folder in ("websocket", "http"):
        fresh = sorted(p.name for p in (tmp_path / folder).glob("*.json"))
        assert fresh == sorted(p.name for p in (LOCAL / folder).glob("*.json")), folder
    for path in sorted((tmp_path / "websocket").glob("*.json")):
        new, old = (json.loads(p.read_text()) for p in (path, LOCAL / "websocket" / path.name))
        assert (new["type"], new.get("channel")) == (old["type"], old.get("channel")), path.name
        assert set(new.get("contents") or {}) <= _keys_seen(old.get("contents")), path.name


def _keys_seen(contents: Any) -> set[str]:
    """Top-level keys, with the book's optional sides (a delta may touch one side only)."""
    keys = set(contents or {}) if isinstance(contents, dict) else set()
    return keys | ({"bids", "asks"} if keys & {"bids", "asks"} else set())
