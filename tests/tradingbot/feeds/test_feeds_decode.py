"""The pure decoders against every real captured indexer message, and against malformed input."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradingbot.feeds import dydx
from tradingbot.feeds.events import (
    AssetPositionUpdate,
    BookDelta,
    BookSnapshot,
    Candle,
    Connected,
    ErrorEvent,
    ErrorKind,
    Fill,
    FundingRate,
    MarketEvent,
    MarketUpdate,
    OraclePrice,
    OrderUpdate,
    Pong,
    PositionUpdate,
    SubaccountSnapshot,
    Subscribed,
    Trade,
    TradeType,
    TradingReward,
    Transfer,
    Unsubscribed,
)

ENVELOPE_ONLY = {"type", "version"}  # message metadata the events do not carry


# -- a generic "nothing lost" check --------------------------------------------------------


def _input_leaves(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        if value.get("type") == "Buffer" and isinstance(value.get("data"), list):
            yield key, bytes(value["data"]).hex()
            return
        for k, v in value.items():
            if str(k).upper() == str(k):
                yield str(k), k  # upper-case keys are data: tickers, symbols
            yield from _input_leaves(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _input_leaves(v, key)
    elif value is not None:
        yield key, value


def _output_values(value: Any, into: set[Any]) -> None:
    if is_dataclass(value) and not isinstance(value, type):
        for f in fields(value):
            if f.name == "extras":
                for k, text in getattr(value, f.name):
                    into.add(k)
                    for _, leaf in _input_leaves(json.loads(text)):
                        into.add(leaf)
            else:
                _output_values(getattr(value, f.name), into)
    elif isinstance(value, tuple):
        for v in value:
            _output_values(v, into)
    elif isinstance(value, Decimal):
        into.update({value, abs(value)})
    elif isinstance(value, datetime):
        into.add(value.astimezone(UTC))
    elif value is not None:
        into.add(value)
        into.add(str(value))


def _candidates(leaf: Any) -> list[Any]:
    out = [leaf]
    if isinstance(leaf, str):
        with contextlib.suppress(InvalidOperation):
            out.append(Decimal(leaf))
        with contextlib.suppress(ValueError):
            out.append(datetime.fromisoformat(leaf).astimezone(UTC))
    return out


def assert_loss_free(message: Any, events: list[MarketEvent]) -> None:
    produced: set[Any] = set()
    for event in events:
        _output_values(event, produced)
    body = {k: v for k, v in message.items() if k not in ENVELOPE_ONLY}
    missing = [
        (key, leaf)
        for key, leaf in _input_leaves(body)
        if not any(c in produced for c in _candidates(leaf))
    ]
    assert not missing, f"values lost by the decoder: {missing[:10]}"


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


# -- recorded websocket messages -----------------------------------------------------------
# ``dydx_data`` runs each test on the local indexer's recording (tests/tradingbot/data/
# dydx-local, in the repository: always) and on the real captures (../shared/dydx-real, a
# cross-check where present). Every check runs on both: the files of one name have one shape.


def test_every_websocket_message_decodes_without_loss(dydx_data: Path) -> None:
    files = sorted((dydx_data / "websocket").glob("*.json"))
    assert len(files) >= 10
    for path in files:
        message = _load(path)
        events = dydx.decode(message)
        assert events, path.name
        errors = [e for e in events if isinstance(e, ErrorEvent)]
        if path.name == "error.json":
            assert [e.kind for e in errors] == [ErrorKind.SERVER]
            assert errors[0].message == message["message"]
        else:
            assert not errors, (path.name, errors)
        for event in events:
            assert event.message_id == message["message_id"], path.name
            assert event.connection_id == message["connection_id"], path.name
            assert event.channel == message.get("channel", ""), path.name
        assert_loss_free(message, events)


def test_orderbook_snapshot_keeps_every_level_in_order(dydx_data: Path) -> None:
    message = _load(dydx_data / "websocket" / "v4_orderbook_snapshot.json")
    events = dydx.decode(message)
    assert isinstance(events[0], Subscribed)
    (book,) = events[1:]
    assert isinstance(book, BookSnapshot)
    assert book.market == message["id"] and book.subscription_id == message["id"]
    for side in ("bids", "asks"):
        want = [(Decimal(x["price"]), Decimal(x["size"])) for x in message["contents"][side]]
        assert want and list(getattr(book, side)) == want


def test_orderbook_delta_zero_size_is_a_deletion(dydx_data: Path) -> None:
    message = _load(dydx_data / "websocket" / "v4_orderbook.json")
    (delta,) = dydx.decode(message)
    assert isinstance(delta, BookDelta)
    assert delta.market == message["id"] and delta.message_id == message["message_id"]
    for side in ("bids", "asks"):
        raw = message["contents"].get(side, [])
        assert list(getattr(delta, side)) == [(Decimal(p), Decimal(q)) for p, q in raw]
    deletions = [lvl for lvl in (*delta.bids, *delta.asks) if lvl[1] == 0]
    assert deletions  # both recordings hold a "0" size: the level goes


def test_trades_keep_every_trade(dydx_data: Path) -> None:
    message = _load(dydx_data / "websocket" / "v4_trades.json")
    trades = dydx.decode(message)
    raw = message["contents"]["trades"]
    assert [t.id for t in trades if isinstance(t, Trade)] == [r["id"] for r in raw]
    for trade, r in zip(trades, raw, strict=True):
        assert isinstance(trade, Trade) and trade.market == message["id"]
        assert (trade.price, trade.size) == (Decimal(r["price"]), Decimal(r["size"]))
        assert trade.type is TradeType(r["type"])
        assert trade.created_at == datetime.fromisoformat(r["createdAt"].replace("Z", "+00:00"))


def test_candles_snapshot_keeps_every_bar_newest_first(dydx_data: Path) -> None:
    message = _load(dydx_data / "websocket" / "v4_candles.json")
    events = dydx.decode(message)
    candles = [e for e in events if isinstance(e, Candle)]
    assert len(candles) == len(message["contents"]["candles"]) >= 100
    for candle, raw in zip(candles, message["contents"]["candles"], strict=True):
        assert candle.market == raw["ticker"] and candle.resolution == "1MIN"
        assert (candle.open, candle.high, candle.low, candle.close) == tuple(
            Decimal(raw[k]) for k in ("open", "high", "low", "close")
        )
        assert candle.trades == raw["trades"]
        assert candle.usd_volume == Decimal(raw["usdVolume"])
        assert candle.started_at.tzinfo is not None
    starts = [c.started_at for c in candles]
    assert starts == sorted(starts, reverse=True)  # newest first, as sent


def test_markets_snapshot_has_margin_params(dydx_data: Path) -> None:
    message = _load(dydx_data / "websocket" / "v4_markets_subscribed.json")
    events = dydx.decode(message)
    updates = {e.market: e for e in events if isinstance(e, MarketUpdate)}
    oracles = {e.market: e for e in events if isinstance(e, OraclePrice)}
    raw = message["contents"]["markets"]
    assert set(updates) == set(raw)
    priced = {t for t, m in raw.items() if m.get("oraclePrice") is not None}
    assert set(oracles) == priced
    assert any(Decimal(m["openInterestUpperCap"]) > 0 for m in raw.values())  # OI-scaled IMF on
    for ticker, market in raw.items():
        update = updates[ticker]
        assert update.is_snapshot and update.status == market["status"]
        for field, key in (
            ("initial_margin_fraction", "initialMarginFraction"),
            ("maintenance_margin_fraction", "maintenanceMarginFraction"),
            ("open_interest_lower_cap", "openInterestLowerCap"),
            ("open_interest_upper_cap", "openInterestUpperCap"),
            ("tick_size", "tickSize"),
            ("step_size", "stepSize"),
        ):
            assert getattr(update, field) == Decimal(market[key]), (ticker, field)
        assert update.atomic_resolution == market["atomicResolution"]
        if ticker in priced:
            assert oracles[ticker].price == Decimal(market["oraclePrice"])


def test_markets_oracle_price_updates(dydx_data: Path) -> None:
    message = _load(dydx_data / "websocket" / "v4_markets_oracle_price.json")
    raw = message["contents"]["oraclePrices"]
    oracles = dydx.decode(message)
    assert raw and [type(o) for o in oracles] == [OraclePrice] * len(raw)
    for oracle in oracles:
        assert isinstance(oracle, OraclePrice)
        sent = raw[oracle.market]
        assert oracle.price == Decimal(sent["oraclePrice"])
        assert oracle.height == int(sent["effectiveAtHeight"])
        assert oracle.market_id == sent["marketId"]


def test_markets_partial_updates_leave_absent_fields_unchanged(dydx_data: Path) -> None:
    """A ``trading`` update carries only what changed: absent fields decode as None
    (unchanged), never as 0; the market's ``id`` is kept."""
    message = _load(dydx_data / "websocket" / "v4_markets_trading_data.json")
    raw = message["contents"]["trading"]
    updates = dydx.decode(message)
    assert raw and [type(u) for u in updates] == [MarketUpdate] * len(raw)
    for update in updates:
        assert isinstance(update, MarketUpdate) and not update.is_snapshot
        sent = raw[update.market]
        assert "initialMarginFraction" not in sent  # a partial, not a whole market
        assert update.initial_margin_fraction is None and update.tick_size is None
        assert update.base_open_interest == Decimal(sent["baseOpenInterest"])
        assert ("id", json.dumps(sent["id"])) in update.extras


def test_markets_whole_market_update(dydx_data: Path) -> None:
    """A ``trading`` update carrying a whole market (a status change: a listed market going
    live here, a market in final settlement on mainnet): every parameter decodes."""
    message = _load(dydx_data / "websocket" / "v4_markets_cross.json")
    raw = message["contents"]["trading"]
    updates = dydx.decode(message)
    assert raw and [type(u) for u in updates] == [MarketUpdate] * len(raw)
    for update in updates:
        assert isinstance(update, MarketUpdate) and not update.is_snapshot
        sent = raw[update.market]
        assert update.status == sent["status"]
        assert update.initial_margin_fraction == Decimal(sent["initialMarginFraction"])
        assert update.open_interest_upper_cap == Decimal(sent["openInterestUpperCap"])
        assert update.tick_size == Decimal(sent["tickSize"])
        assert update.atomic_resolution == sent["atomicResolution"]


def test_subaccount_snapshot_positions_borrowed_usdc_and_orders(dydx_data: Path) -> None:
    """Open positions both ways, a SHORT (borrowed, negative) USDC balance and open orders."""
    message = _load(dydx_data / "websocket" / "v4_accounts_balance.json")
    events = dydx.decode(message)
    snap = events[1]
    assert isinstance(snap, SubaccountSnapshot)
    sub = message["contents"]["subaccount"]
    assert snap.equity == Decimal(sub["equity"])
    assert snap.free_collateral == Decimal(sub["freeCollateral"])
    sizes = {m: Decimal(p["size"]) for m, p in sub["openPerpetualPositions"].items()}
    assert {p.market: p.size for p in snap.positions} == sizes
    assert min(sizes.values()) < 0 < max(sizes.values())  # a short and a long position
    assets = sub["assetPositions"]
    assert any(a["side"] == "SHORT" for a in assets.values())
    assert [a.size for a in snap.asset_positions] == [
        Decimal(a["size"]) * (-1 if a["side"] == "SHORT" else 1) for a in assets.values()
    ]
    assert min(a.size for a in snap.asset_positions) < 0  # borrowed USDC is negative
    orders = message["contents"]["orders"]
    assert orders and [(o.order_id, o.status) for o in snap.orders] == [
        (o["id"], o["status"]) for o in orders
    ]


def _fills(message: dict[str, Any]) -> list[tuple[Fill, dict[str, Any]]]:
    raw = message["contents"]["fills"]
    fills = [e for e in dydx.decode(message) if isinstance(e, Fill)]
    assert len(fills) == len(raw) >= 1
    return list(zip(fills, raw, strict=True))


def test_subaccount_fills_event_ids_hex_and_buffer(dydx_data: Path) -> None:
    """Fill event ids come as hex text (today) or a serialised Node Buffer (indexer 2023):
    both decode to the same hex form."""
    forms: set[str] = set()
    for name in ("v4_accounts_channel_data.json", "v4_accounts_fills.json"):
        message = _load(dydx_data / "websocket" / name)
        for fill, raw in _fills(message):
            sent = raw["eventId"]
            if isinstance(sent, dict):
                assert sent["type"] == "Buffer"
                forms.add("buffer")
                assert fill.event_id == bytes(sent["data"]).hex()
            else:
                forms.add("hex")
                assert fill.event_id == sent
            assert (fill.fill_id, fill.order_id, fill.market) == (
                raw["id"],
                raw["orderId"],
                raw["ticker"],
            )
            assert (fill.price, fill.size) == (Decimal(raw["price"]), Decimal(raw["size"]))
            assert fill.liquidity == raw["liquidity"]
    assert forms == {"buffer", "hex"}


def test_subaccount_fill_update_carries_order_and_position(dydx_data: Path) -> None:
    message = _load(dydx_data / "websocket" / "v4_accounts_fills.json")
    events = dydx.decode(message)
    contents = message["contents"]
    orders = [e for e in events if isinstance(e, OrderUpdate)]
    positions = [e for e in events if isinstance(e, PositionUpdate)]
    assert [(o.order_id, o.status) for o in orders] == [
        (o["id"], o["status"]) for o in contents["orders"]
    ]
    assert [(p.market, p.size) for p in positions] == [
        (p["market"], Decimal(p["size"])) for p in contents["perpetualPositions"]
    ]
    fill_orders = {f.order_id for f, _ in _fills(message)}
    assert fill_orders <= {o.order_id for o in orders}  # the order the fills belong to


def test_subaccount_order_updates(dydx_data: Path) -> None:
    """Orders placed (OPEN, BEST_EFFORT_OPENED), a conditional STOP_LIMIT with its trigger,
    cancelled ones with their removal reason, an expired one sent with its id alone, a
    reduce-only one resized away (BEST_EFFORT_CANCELED, its optimistic fill)."""
    statuses: set[str] = set()
    triggers = bare = optimistic = 0
    for path in sorted((dydx_data / "websocket").glob("v4_accounts_channel_data_order*.json")):
        message = _load(path)
        raw = message["contents"]["orders"]
        orders = dydx.decode(message)
        assert raw and [type(o) for o in orders] == [OrderUpdate] * len(raw), path.name
        for order, sent in zip(orders, raw, strict=True):
            assert isinstance(order, OrderUpdate)
            statuses.add(sent["status"])
            assert (order.order_id, order.status, order.market) == (
                sent["id"],
                sent["status"],
                sent["ticker"],
            )
            assert order.removal_reason == sent.get("removalReason")
            if "totalOptimisticFilled" in sent:
                optimistic += 1
                assert order.total_optimistic_filled == Decimal(sent["totalOptimisticFilled"])
            if "price" not in sent:  # a removed order, named only: the rest is unknown
                bare += 1
                assert order.price is None and order.side is None and order.size is None
            if sent.get("triggerPrice") is not None:
                triggers += 1
                assert order.trigger_price == Decimal(sent["triggerPrice"])
                assert order.type == "STOP_LIMIT"
    assert {"OPEN", "BEST_EFFORT_OPENED", "CANCELED", "BEST_EFFORT_CANCELED"} <= statuses
    assert triggers and bare and optimistic


def test_subaccount_transfer_and_trading_reward(dydx_data: Path) -> None:
    message = _load(dydx_data / "websocket" / "v4_accounts_channel_data_transfers.json")
    sent = message["contents"]["transfers"]
    (transfer,) = [e for e in dydx.decode(message) if isinstance(e, Transfer)]
    assert (transfer.type, transfer.symbol, transfer.size) == (
        sent["type"],
        sent["symbol"],
        Decimal(sent["size"]),
    )
    assert transfer.sender_address == sent["sender"]["address"]
    # a withdrawal: the subaccount sends (its number), the wallet receives
    assert transfer.sender_subaccount_number == sent["sender"]["subaccountNumber"]
    assert transfer.recipient_address == sent["recipient"]["address"]
    assert transfer.block_height == int(message["contents"]["blockHeight"])
    message = _load(dydx_data / "websocket" / "v4_accounts_rewards.json")
    reward = message["contents"]["tradingReward"]
    (event,) = dydx.decode(message)
    assert isinstance(event, TradingReward)
    assert event.amount == Decimal(reward["tradingReward"])
    assert event.created_at_height == int(reward["createdAtHeight"])


# -- recorded REST bodies ------------------------------------------------------------------

REST_DECODERS = {
    "addresses.json": (dydx.decode_subaccounts, SubaccountSnapshot, 1),
    "asset_positions.json": (dydx.decode_asset_positions, AssetPositionUpdate, 1),
    "conditional_order.json": (dydx.decode_order, OrderUpdate, 1),
    "fills.json": (dydx.decode_fills, Fill, 2),
    "list_perpetual_markets.json": (dydx.decode_perpetual_markets, MarketUpdate, 125),
    "list_perpetual_markets_empty_oracle_price.json": (
        dydx.decode_perpetual_markets,
        MarketUpdate,
        101,
    ),
    "list_perpetual_markets_v8.json": (dydx.decode_perpetual_markets, MarketUpdate, 1),
    "list_perpetual_positions.json": (dydx.decode_perpetual_positions, None, 1),
    "order.json": (dydx.decode_order, OrderUpdate, 1),
    "orders.json": (dydx.decode_orders, OrderUpdate, 1),
    "subaccount.json": (dydx.decode_subaccount, SubaccountSnapshot, 1),
    "v4_fills.json": (dydx.decode_fills, Fill, 1),
}
"""The real captures' REST bodies: decoder, event class, how many of them."""

LOCAL_REST_DECODERS = {
    "list_perpetual_markets.json": (dydx.decode_perpetual_markets, MarketUpdate, 3),
    "subaccount.json": (dydx.decode_subaccount, SubaccountSnapshot, 1),
    "orderbook.json": (lambda b: dydx.decode_orderbook(b, "ETH-USD"), BookSnapshot, 1),
    "trades.json": (lambda b: dydx.decode_trades(b, "ETH-USD"), Trade, None),
    "candles.json": (lambda b: dydx.decode_candles(b, "ETH-USD"), Candle, None),
    "historical_funding.json": (
        lambda b: dydx.decode_historical_funding(b, "ETH-USD"),
        FundingRate,
        None,
    ),
    "list_perpetual_markets_v8.json": (dydx.decode_perpetual_markets, MarketUpdate, None),
    "addresses.json": (dydx.decode_subaccounts, SubaccountSnapshot, 1),
    "asset_positions.json": (dydx.decode_asset_positions, AssetPositionUpdate, 1),
    "list_perpetual_positions.json": (dydx.decode_perpetual_positions, PositionUpdate, None),
    "fills.json": (dydx.decode_fills, Fill, None),
    "orders.json": (dydx.decode_orders, OrderUpdate, None),
    "order.json": (dydx.decode_order, OrderUpdate, 1),
    "conditional_order.json": (dydx.decode_order, OrderUpdate, 1),
}
"""The local indexer's REST bodies (None: any number, at least one)."""


def test_every_rest_body_decodes_without_loss(dydx_data: Path) -> None:
    decoders: dict[str, Any] = (
        REST_DECODERS if dydx_data.name == "dydx-real" else LOCAL_REST_DECODERS
    )
    files = sorted(p.name for p in (dydx_data / "http").glob("*.json"))
    assert set(files) == set(decoders), f"files vs decoders: {set(files) ^ set(decoders)}"
    for name in files:
        decoder, cls, count = decoders[name]
        body = _load(dydx_data / "http" / name)
        events = decoder(body)
        assert not [e for e in events if isinstance(e, ErrorEvent)], name
        if cls is not None:
            found = sum(isinstance(e, cls) for e in events)
            assert found == count if count is not None else found >= 1, name
        assert all(e.channel.startswith("rest:") for e in events)
        wrapped = {"body": body} if isinstance(body, list) else body
        assert_loss_free(wrapped, events)


EMPTY_ORACLE_FILE = {"dydx-real": "list_perpetual_markets_empty_oracle_price.json"}
"""Where each set keeps markets without an oracle price (the local one: its market list)."""


def test_market_funding_rate_and_open_interest_caps(dydx_data: Path) -> None:
    """``defaultFundingRate1H`` (protocol v8) is kept where sent and None where not (unknown,
    not 0); ``openInterestUpperCap`` 0 turns the OI-scaled IMF off."""
    seen = set()
    for name in ("list_perpetual_markets.json", "list_perpetual_markets_v8.json"):
        body = _load(dydx_data / "http" / name)
        updates = [e for e in dydx.decode_perpetual_markets(body) if isinstance(e, MarketUpdate)]
        assert len(updates) == len(body["markets"])
        for update in updates:
            raw = body["markets"][update.market]
            rate = raw.get("defaultFundingRate1H")
            seen.add((name, rate is None))
            assert update.default_funding_rate_1h == (None if rate is None else Decimal(rate))
            assert update.open_interest_upper_cap == Decimal(raw["openInterestUpperCap"])
    assert ("list_perpetual_markets_v8.json", False) in seen  # v8 sends the rate
    assert ("list_perpetual_markets.json", True) in seen  # before v8: absent


def test_empty_oracle_price_is_none_not_an_error(dydx_data: Path) -> None:
    """A market listed but not yet priced (INITIALIZING): no oracle price, no error."""
    name = EMPTY_ORACLE_FILE.get(dydx_data.name, "list_perpetual_markets.json")
    body = _load(dydx_data / "http" / name)
    events = dydx.decode_perpetual_markets(body)
    assert not [e for e in events if isinstance(e, ErrorEvent)]
    empty = [t for t, m in body["markets"].items() if m["oraclePrice"] is None]
    assert empty
    updates = {e.market: e for e in events if isinstance(e, MarketUpdate)}
    oracles = {e.market for e in events if isinstance(e, OraclePrice)}
    for ticker in empty:
        assert updates[ticker].oracle_price is None and ticker not in oracles
        assert updates[ticker].status == body["markets"][ticker]["status"]


# -- synthetic shapes (no capture has them) ------------------------------------------------


def _msg(**kw: Any) -> dict[str, Any]:
    return {"connection_id": "c1", "message_id": 7, **kw}


def test_batched_orderbook_yields_one_delta_per_item_in_order() -> None:
    message = _msg(
        type="channel_batch_data",
        channel="v4_orderbook",
        id="BTC-USD",
        version="1.0.0",
        contents=[{"bids": [["100", "1"]]}, {"asks": [["101", "0"]], "bids": [["99", "2"]]}],
    )
    events = dydx.decode(message)
    assert [type(e) for e in events] == [BookDelta, BookDelta]
    assert all(e.message_id == 7 and e.connection_id == "c1" for e in events)
    second = events[1]
    assert isinstance(second, BookDelta)
    assert second.asks == ((Decimal(101), Decimal(0)),)
    assert second.bids == ((Decimal(99), Decimal(2)),)


def test_connection_messages() -> None:
    assert [type(e) for e in dydx.decode(_msg(type="connected"))] == [Connected]
    assert [type(e) for e in dydx.decode({"type": "pong", "connection_id": "c1"})] == [Pong]
    assert [type(e) for e in dydx.decode(_msg(type="unsubscribed", channel="v4_trades"))] == [
        Unsubscribed
    ]


def test_rest_candles_funding_book_trades() -> None:
    candle = {
        "startedAt": "2024-07-26T17:57:00.000Z",
        "ticker": "BTC-USD",
        "resolution": "1MIN",
        "low": "1",
        "high": "3",
        "open": "2",
        "close": "2.5",
        "baseTokenVolume": "10",
        "usdVolume": "20",
        "trades": 4,
        "startingOpenInterest": "5",
        "orderbookMidPriceOpen": "2.01",
        "orderbookMidPriceClose": "2.49",
        "id": "x",
    }
    (c,) = dydx.decode_candles({"candles": [candle]}, "BTC-USD")
    assert isinstance(c, Candle) and c.mid_price_close == Decimal("2.49")
    (f,) = dydx.decode_historical_funding(
        {
            "historicalFunding": [
                {
                    "ticker": "BTC-USD",
                    "rate": "0.0000125",
                    "price": "65000.5",
                    "effectiveAt": "2024-07-26T17:00:00.000Z",
                    "effectiveAtHeight": "123",
                }
            ]
        }
    )
    assert isinstance(f, FundingRate) and f.rate == Decimal("0.0000125") and f.height == 123
    (book,) = dydx.decode_orderbook(
        {"bids": [{"price": "99", "size": "1"}], "asks": [{"price": "101", "size": "2"}]},
        "BTC-USD",
    )
    assert isinstance(book, BookSnapshot) and book.asks == ((Decimal(101), Decimal(2)),)
    (t,) = dydx.decode_trades(
        {
            "trades": [
                {
                    "id": "a",
                    "side": "SELL",
                    "size": "1",
                    "price": "100",
                    "type": "LIQUIDATED",
                    "createdAt": "2024-07-26T17:00:00.000Z",
                    "createdAtHeight": "5",
                }
            ]
        },
        "BTC-USD",
    )
    assert isinstance(t, Trade) and t.type is TradeType.LIQUIDATED and t.created_at_height == 5


# -- malformed input -----------------------------------------------------------------------

GOOD_TRADE = {
    "id": "t1",
    "price": "100",
    "size": "1",
    "side": "BUY",
    "type": "LIMIT",
    "createdAt": "2024-01-01T00:00:00Z",
}

MALFORMED: list[tuple[Any, str]] = [
    ([1, 2], "not a JSON object"),
    ("hello", "not a JSON object"),
    (None, "not a JSON object"),
    (_msg(), "unknown message type None"),
    (_msg(type="weird"), "unknown message type 'weird'"),
    (_msg(type="channel_data", channel="v4_nope", contents={}), "unknown channel 'v4_nope'"),
    ({"type": "channel_data", "channel": "v4_trades", "id": "X"}, "without an integer message_id"),
    (_msg(type="channel_data", channel="v4_trades", id="X"), "without contents"),
    (
        _msg(type="channel_batch_data", channel="v4_orderbook", id="X", contents={}),
        "contents is not a list",
    ),
    (
        _msg(type="channel_data", channel="v4_orderbook", id="X", contents={"bids": [["a", "1"]]}),
        "bids[0].price: not a decimal",
    ),
    (
        _msg(type="channel_data", channel="v4_orderbook", id="X", contents={"bids": [["1"]]}),
        "expected [price, size]",
    ),
    (
        _msg(type="channel_data", channel="v4_orderbook", id="X", contents={"asks": [["1", "-2"]]}),
        "size >= 0",
    ),
    (
        _msg(
            type="channel_data", channel="v4_orderbook", id="X", contents={"bids": [["NaN", "1"]]}
        ),
        "not finite",
    ),
    (_msg(type="channel_data", channel="v4_orderbook", contents={"bids": []}), "no market id"),
    (_msg(type="channel_data", channel="v4_trades", id="X", contents={}), "'trades' list"),
    (
        _msg(
            type="channel_data",
            channel="v4_trades",
            id="X",
            contents={"trades": [{**GOOD_TRADE, "side": "UP"}]},
        ),
        "unknown side 'UP'",
    ),
    (
        _msg(
            type="channel_data",
            channel="v4_trades",
            id="X",
            contents={"trades": [{k: v for k, v in GOOD_TRADE.items() if k != "price"}]},
        ),
        "missing price",
    ),
    (
        _msg(
            type="channel_data",
            channel="v4_candles",
            id="X/1MIN",
            contents={"startedAt": "yesterday"},
        ),
        "not an ISO-8601 time",
    ),
    (_msg(type="channel_data", channel="v4_markets", contents={"trading": [1]}), "keyed by ticker"),
    (_msg(type="channel_data", channel="v4_markets", contents={"surprise": {}}), "'surprise'"),
    (
        _msg(type="channel_data", channel="v4_subaccounts", id="a/0", contents={"fills": 3}),
        "expected a list or object",
    ),
    (_msg(type="error"), "without a message"),
]


@pytest.mark.parametrize(("message", "expected"), MALFORMED)
def test_malformed_messages_yield_error_events(message: Any, expected: str) -> None:
    events = dydx.decode(message)
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert errors, events
    assert any(expected in e.message for e in errors), [e.message for e in errors]


def test_one_bad_trade_does_not_cost_the_others() -> None:
    message = _msg(
        type="channel_data",
        channel="v4_trades",
        id="BTC-USD",
        contents={"trades": [GOOD_TRADE, {**GOOD_TRADE, "size": {}}, {**GOOD_TRADE, "id": "t3"}]},
    )
    events = dydx.decode(message)
    assert [type(e) for e in events] == [Trade, ErrorEvent, Trade]
    error = events[1]
    assert isinstance(error, ErrorEvent)
    assert "trades[1].size" in error.message and error.kind is ErrorKind.DECODE
    assert error.message_id == 7 and '"size": {}' in error.raw


def test_decode_text_rejects_garbage() -> None:
    (error,) = dydx.decode_text(b"\x00{not json")
    assert isinstance(error, ErrorEvent) and error.message.startswith("not JSON")
    (ok,) = dydx.decode_text('{"type":"connected","connection_id":"c","message_id":0}')
    assert isinstance(ok, Connected)


def test_rest_bodies_of_the_wrong_shape() -> None:
    for events in (
        dydx.decode_perpetual_markets([]),
        dydx.decode_trades({"trades": None}, "X"),
        dydx.decode_candles("x"),
        dydx.decode_orders({}),
        dydx.decode_orderbook({"bids": 1}, "X"),
    ):
        assert len(events) == 1 and isinstance(events[0], ErrorEvent)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["subscribed", "channel_data", "channel_batch_data", "connected", "x"]),
    channel=st.sampled_from([*dydx.CHANNELS, "v4_other"]),
    contents=json_values,
    sub_id=st.none() | st.text(max_size=12),
)
def test_decode_never_raises(kind: str, channel: str, contents: Any, sub_id: str | None) -> None:
    message = _msg(type=kind, channel=channel, contents=contents, id=sub_id)
    events = dydx.decode(message)
    assert isinstance(events, list)
    assert all(isinstance(e, MarketEvent) for e in events)
    if kind != "connected" and not isinstance(contents, dict | list):
        assert any(isinstance(e, ErrorEvent) for e in events), events


def test_rest_order_short_term_and_conditional(dydx_data: Path) -> None:
    """GET /v4/orders/{id}: a short-term order (good til a block) and a conditional one (good
    til a time, with its trigger price)."""
    (order,) = dydx.decode_order(body := _load(dydx_data / "http" / "order.json"))
    assert isinstance(order, OrderUpdate)
    assert order.good_til_block == int(body["goodTilBlock"])
    (conditional,) = dydx.decode_order(body := _load(dydx_data / "http" / "conditional_order.json"))
    assert isinstance(conditional, OrderUpdate) and conditional.type == "STOP_LIMIT"
    assert conditional.trigger_price == Decimal(body["triggerPrice"])
