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
    SubaccountSnapshot,
    Subscribed,
    Trade,
    TradeType,
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
# dydx-local, in the repository) and on the real captures (../shared/dydx-real, when present).
# Checks of values only the real captures have are in the ``*_real_*`` tests below.


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
    assert set(updates) == set(raw) and set(oracles) == set(updates)
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
        assert oracles[ticker].price == Decimal(market["oraclePrice"])


def test_markets_oracle_price_updates(dydx_data: Path) -> None:
    message = _load(dydx_data / "websocket" / "v4_markets_oracle_price.json")
    raw = message["contents"]["oraclePrices"]
    oracles = dydx.decode(message)
    assert [type(o) for o in oracles] == [OraclePrice] * len(raw)
    for oracle in oracles:
        assert isinstance(oracle, OraclePrice)
        sent = raw[oracle.market]
        assert oracle.price == Decimal(sent["oraclePrice"])
        assert oracle.height == int(sent["effectiveAtHeight"])
        assert oracle.market_id == sent["marketId"]


def test_subaccount_snapshot(dydx_data: Path) -> None:
    name = "v4_accounts_balance.json" if dydx_data.name == "dydx-real" else None
    message = _load(dydx_data / "websocket" / (name or "v4_accounts_subscribed.json"))
    events = dydx.decode(message)
    snap = events[1]
    assert isinstance(snap, SubaccountSnapshot)
    sub = message["contents"]["subaccount"]
    assert snap.equity == Decimal(sub["equity"])
    assert {p.market: p.size for p in snap.positions} == {
        m: Decimal(p["size"]) for m, p in sub["openPerpetualPositions"].items()
    }
    assert [a.size for a in snap.asset_positions] == [
        Decimal(a["size"]) * (-1 if a["side"] == "SHORT" else 1)
        for a in sub["assetPositions"].values()
    ]


# -- values only the real captures have (../shared/dydx-real) --------------------------------


def test_real_orderbook_snapshot_and_delta(dydx_real: Path) -> None:
    snapshot = _load(dydx_real / "websocket" / "v4_orderbook_snapshot.json")
    assert snapshot["id"] == "ETH-USD"
    assert len(snapshot["contents"]["bids"]) == len(snapshot["contents"]["asks"]) == 100
    (delta,) = dydx.decode(_load(dydx_real / "websocket" / "v4_orderbook.json"))
    assert isinstance(delta, BookDelta)
    assert delta.market == "BTC-USD"
    assert delta.bids == ((Decimal("65920"), Decimal("0")),) and delta.asks == ()
    assert delta.message_id == 3219


def test_real_trades_and_candles(dydx_real: Path) -> None:
    trades = dydx.decode(_load(dydx_real / "websocket" / "v4_trades.json"))
    first = trades[0]
    assert isinstance(first, Trade)
    assert first.price == Decimal("3392.9") and first.size == Decimal("0.01")
    assert first.type is TradeType.LIMIT and first.market == "ETH-USD"
    assert first.created_at == datetime(2024, 7, 24, 19, 12, 35, 705000, tzinfo=UTC)
    candles = dydx.decode(_load(dydx_real / "websocket" / "v4_candles.json"))
    assert sum(isinstance(e, Candle) for e in candles) == 1000
    error = dydx.decode(_load(dydx_real / "websocket" / "error.json"))
    assert isinstance(error[0], ErrorEvent) and "could not fetch data" in error[0].message


def test_real_markets_snapshot_has_margin_params(dydx_real: Path) -> None:
    message = _load(dydx_real / "websocket" / "v4_markets_subscribed.json")
    events = dydx.decode(message)
    updates = {e.market: e for e in events if isinstance(e, MarketUpdate)}
    oracles = {e.market: e for e in events if isinstance(e, OraclePrice)}
    assert len(updates) == 98
    aave = updates["AAVE-USD"]
    assert aave.initial_margin_fraction == Decimal("0.2")
    assert aave.maintenance_margin_fraction == Decimal("0.1")
    assert aave.open_interest_lower_cap == Decimal("5000000")
    assert aave.open_interest_upper_cap == Decimal("10000000")
    assert aave.tick_size == Decimal("0.01") and aave.step_size == Decimal("0.1")
    assert aave.atomic_resolution == -7 and aave.status == "ACTIVE"
    assert oracles["AAVE-USD"].price == Decimal("110.98719743")


def test_real_markets_partial_updates(dydx_real: Path) -> None:
    """The local indexer sends no ``trading`` partials: this shape is checked on the real
    capture only."""
    (partial_update,) = dydx.decode(_load(dydx_real / "websocket" / "v4_markets_trading_data.json"))
    assert isinstance(partial_update, MarketUpdate)
    assert not partial_update.is_snapshot
    assert partial_update.market == "CRO-USD"
    assert partial_update.base_open_interest == Decimal("5100")
    assert partial_update.initial_margin_fraction is None  # absent = unchanged
    assert ("id", '"67"') in partial_update.extras
    (oracle,) = dydx.decode(_load(dydx_real / "websocket" / "v4_markets_oracle_price.json"))
    assert isinstance(oracle, OraclePrice)
    assert (oracle.market, oracle.price, oracle.height, oracle.market_id) == (
        "FTM-USD",
        Decimal("0.3866273177"),
        19183704,
        82,
    )


def test_real_subaccount_snapshot_and_updates(dydx_real: Path) -> None:
    """Positions, a SHORT USDC balance, fills and transfers: the local indexer's subaccount
    has none of them."""
    events = dydx.decode(_load(dydx_real / "websocket" / "v4_accounts_balance.json"))
    snap = events[1]
    assert isinstance(snap, SubaccountSnapshot)
    assert snap.equity == Decimal("326.241869692")
    assert {p.market: p.size for p in snap.positions} == {
        "ETH-USD": Decimal("-0.007"),
        "BTC-USD": Decimal("0.1036"),
    }
    (usdc,) = snap.asset_positions
    assert isinstance(usdc, AssetPositionUpdate)
    assert usdc.size == Decimal("-5742.811799")  # SHORT USDC is a borrowed (negative) balance
    assert snap.orders and all(isinstance(o, OrderUpdate) for o in snap.orders)

    fills = dydx.decode(_load(dydx_real / "websocket" / "v4_accounts_channel_data.json"))
    fill = next(e for e in fills if isinstance(e, Fill))
    assert fill.event_id == "0000eef1000000020000004d"  # the Buffer form, as hex
    transfer = dydx.decode(
        _load(dydx_real / "websocket" / "v4_accounts_channel_data_transfers.json")
    )
    assert [type(e) for e in transfer] == [Transfer]


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
    "list_perpetual_markets.json": (dydx.decode_perpetual_markets, MarketUpdate, 2),
    "subaccount.json": (dydx.decode_subaccount, SubaccountSnapshot, 1),
    "orderbook.json": (lambda b: dydx.decode_orderbook(b, "ETH-USD"), BookSnapshot, 1),
    "trades.json": (lambda b: dydx.decode_trades(b, "ETH-USD"), Trade, None),
    "candles.json": (lambda b: dydx.decode_candles(b, "ETH-USD"), Candle, None),
    "historical_funding.json": (
        lambda b: dydx.decode_historical_funding(b, "ETH-USD"),
        FundingRate,
        None,
    ),
}
"""The local indexer's REST bodies (None: any number, at least one)."""


def test_every_rest_body_decodes_without_loss(dydx_data: Path) -> None:
    decoders: dict[str, Any] = (
        REST_DECODERS if dydx_data.name == "dydx-real" else LOCAL_REST_DECODERS
    )
    files = sorted(p.name for p in (dydx_data / "http").glob("*.json"))
    assert files and set(files) <= set(decoders), (
        f"no decoder mapped for {set(files) - set(decoders)}"
    )
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


def test_market_funding_rate_and_open_interest_caps(dydx_data: Path) -> None:
    """``defaultFundingRate1H`` (protocol v8) is kept where sent and None where not (the local
    indexer speaks the older shape), ``openInterestUpperCap`` 0 turns the OI-scaled IMF off."""
    name = "list_perpetual_markets_v8.json" if dydx_data.name == "dydx-real" else None
    body = _load(dydx_data / "http" / (name or "list_perpetual_markets.json"))
    updates = [e for e in dydx.decode_perpetual_markets(body) if isinstance(e, MarketUpdate)]
    assert len(updates) == len(body["markets"])
    for update in updates:
        raw = body["markets"][update.market]
        rate = raw.get("defaultFundingRate1H")  # absent before v8: unknown, not 0
        assert update.default_funding_rate_1h == (None if rate is None else Decimal(rate))
        assert update.open_interest_upper_cap == Decimal(raw["openInterestUpperCap"])


def test_real_empty_oracle_price_is_none_not_an_error(dydx_real: Path) -> None:
    """Markets without an oracle price yet: the local indexer prices every market."""
    body = _load(dydx_real / "http" / "list_perpetual_markets_empty_oracle_price.json")
    events = dydx.decode_perpetual_markets(body)
    empty = [t for t, m in body["markets"].items() if m["oraclePrice"] is None]
    assert empty
    updates = {e.market: e for e in events if isinstance(e, MarketUpdate)}
    oracles = {e.market for e in events if isinstance(e, OraclePrice)}
    for ticker in empty:
        assert updates[ticker].oracle_price is None and ticker not in oracles


def test_real_v8_market_default_funding_rate(dydx_real: Path) -> None:
    (update, _oracle) = dydx.decode_perpetual_markets(
        _load(dydx_real / "http" / "list_perpetual_markets_v8.json")
    )
    assert isinstance(update, MarketUpdate)
    assert update.default_funding_rate_1h == Decimal("0")
    assert update.open_interest_upper_cap == Decimal("0")  # OI-scaled IMF off


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
