"""Pure decoders: dYdX v4 indexer JSON (websocket messages, REST bodies) to typed events.

No I/O, no clock, no exceptions out: anything the decoder cannot read becomes an
:class:`~tradingbot.feeds.events.ErrorEvent` naming what was wrong, and one bad item in a batch
does not cost the other items. Numbers are read as ``Decimal`` from the indexer's decimal strings.

Loss-free: every field of the known message shapes lands in a typed field, and fields the
decoder does not model land in the event's ``extras`` (or, for unknown subaccount keys, in an
ErrorEvent), so a change of the indexer's format shows up instead of vanishing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, replace
from dataclasses import fields as dc_fields
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, TypeVar

from ..stages import frozen_maker, frozen_makers
from .events import (
    AssetPositionUpdate,
    BlockHeight,
    BookDelta,
    BookSnapshot,
    Candle,
    Connected,
    ErrorEvent,
    ErrorKind,
    Fill,
    FundingRate,
    Level,
    MarketEvent,
    MarketUpdate,
    OraclePrice,
    OrderUpdate,
    Pong,
    PositionUpdate,
    Side,
    SubaccountSnapshot,
    Subscribed,
    Trade,
    TradeType,
    TradingReward,
    Transfer,
    Unsubscribed,
)

__all__ = [
    "BLOCK_HEIGHT",
    "CANDLES",
    "CHANNELS",
    "MARKETS",
    "ORDERBOOK",
    "PARENT_SUBACCOUNTS",
    "SUBACCOUNTS",
    "TRADES",
    "DecodeError",
    "decode",
    "decode_asset_positions",
    "decode_candles",
    "decode_fills",
    "decode_historical_funding",
    "decode_order",
    "decode_orderbook",
    "decode_orders",
    "decode_perpetual_markets",
    "decode_perpetual_positions",
    "decode_subaccount",
    "decode_subaccounts",
    "decode_text",
    "decode_trades",
    "parse_decimal",
    "parse_time",
]

ORDERBOOK = "v4_orderbook"
TRADES = "v4_trades"
CANDLES = "v4_candles"
MARKETS = "v4_markets"
SUBACCOUNTS = "v4_subaccounts"
PARENT_SUBACCOUNTS = "v4_parent_subaccounts"
BLOCK_HEIGHT = "v4_block_height"
CHANNELS = (ORDERBOOK, TRADES, CANDLES, MARKETS, SUBACCOUNTS, PARENT_SUBACCOUNTS, BLOCK_HEIGHT)

_RAW_EXCERPT = 240
ZERO = Decimal(0)
E = TypeVar("E", bound=MarketEvent)
Src = dict[str, Any]  # the MarketEvent base fields, passed through to every event


class DecodeError(ValueError):
    """Raised inside the decoder for a malformed item; turned into an ErrorEvent at the edge."""


# -- scalar parsers ------------------------------------------------------------------------


def parse_decimal(value: Any, name: str = "value") -> Decimal:
    """A finite Decimal from a decimal string or int (float via its repr: never binary maths)."""
    if type(value) is str:
        cached = _DECIMALS.get(value)
        if cached is not None:
            return cached
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise DecodeError(f"{name}: expected a decimal string, got {type(value).__name__}")
    try:
        result = Decimal(repr(value) if isinstance(value, float) else value)
    except InvalidOperation:
        raise DecodeError(f"{name}: not a decimal: {value!r}") from None
    if not result.is_finite():
        raise DecodeError(f"{name}: not finite: {value!r}")
    if type(value) is str:
        if len(_DECIMALS) >= _DECIMALS_MAX:
            _DECIMALS.clear()
        _DECIMALS[value] = result
    return result


_DECIMALS: dict[str, Decimal] = {}
"""Parsed decimal strings: prices and sizes repeat (Decimals are immutable, so sharing one is
safe), and a dict hit costs a fraction of parsing."""
_DECIMALS_MAX = 16_384


def parse_time(value: Any, name: str = "time") -> datetime:
    """A UTC-aware datetime from the indexer's ISO-8601 text (naive input is taken as UTC)."""
    if not isinstance(value, str):
        raise DecodeError(f"{name}: expected ISO-8601 text, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DecodeError(f"{name}: not an ISO-8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise DecodeError(f"{name}: expected an integer, got bool")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise DecodeError(f"{name}: not an integer: {value!r}")


def _str(value: Any, name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise DecodeError(f"{name}: expected text, got {type(value).__name__}")


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    raise DecodeError(f"{name}: expected true/false, got {value!r}")


def _side(value: Any, name: str) -> Side:
    if type(value) is str and (known := _SIDES.get(value)) is not None:
        return known
    try:
        return Side(value)
    except ValueError:
        raise DecodeError(f"{name}: unknown side {value!r}") from None


def _trade_type(value: Any, name: str) -> TradeType:
    if type(value) is str and (known := _TRADE_TYPES.get(value)) is not None:
        return known
    try:
        return TradeType(value)
    except ValueError:
        raise DecodeError(f"{name}: unknown trade type {value!r}") from None


_SIDES = {s.value: s for s in Side}
_TRADE_TYPES = {t.value: t for t in TradeType}


def _event_id(value: Any, name: str) -> str:
    """Fill event ids come as hex text or as a serialised Node Buffer: both become hex."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and value.get("type") == "Buffer":
        data = value.get("data")
        if isinstance(data, list) and all(isinstance(b, int) and 0 <= b < 256 for b in data):
            return bytes(data).hex()
    raise DecodeError(f"{name}: unreadable event id {value!r}")


_dec = parse_decimal
_time = parse_time


Parser = Callable[[Any, str], Any]
"""``parse(value, name)``: :func:`_build` passes the JSON key as ``name`` and prefixes the
item's path to the message of a DecodeError, so messages must start with ``name``."""
FieldMap = Mapping[str, tuple[str, Parser]]


def _excerpt(value: Any) -> str:
    try:
        text = json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _RAW_EXCERPT else text[: _RAW_EXCERPT - 3] + "..."


def _error(
    src: Src, message: str, raw: Any = None, kind: ErrorKind = ErrorKind.DECODE
) -> ErrorEvent:
    return ErrorEvent(**src, kind=kind, message=message, raw="" if raw is None else _excerpt(raw))


def _build(
    cls: type[E],
    data: Any,
    fieldmap: FieldMap,
    src: Src,
    what: str,
    **fixed: Any,
) -> E:
    """Map a JSON object onto ``cls`` through ``fieldmap``; unmapped keys go to ``extras``."""
    if not isinstance(data, Mapping):
        raise DecodeError(f"{what}: expected an object, got {type(data).__name__}")
    kwargs: dict[str, Any] = dict(fixed)
    extras: list[tuple[str, str]] = []
    nulls = False
    for value in fixed.values():
        if value is None:
            nulls = True
    get, decimals = fieldmap.get, _DECIMALS.get
    for key, value in data.items():
        mapped = get(key)
        if mapped is None:
            extras.append((str(key), _json_text(value)))
            continue
        attr, parse = mapped
        if attr in fixed:
            continue
        if value is None:
            kwargs[attr] = None
            nulls = True
            continue
        if parse is _dec and type(value) is str:  # parse_decimal's cache hit, inlined
            known = decimals(value)
            if known is not None:
                kwargs[attr] = known
                continue
        try:
            # the parser names the field only when it fails: build "what.key" then
            kwargs[attr] = parse(value, key)
        except DecodeError as exc:
            raise DecodeError(f"{what}.{exc}") from None
    has_extras, required = _shape(cls)
    if has_extras:
        kwargs["extras"] = tuple(sorted(extras)) if extras else ()
    missing = required.difference(kwargs)
    if missing:
        missing = missing.difference(src)
    absent = (
        [name for name, value in kwargs.items() if value is None and name in _REQUIRED[cls]]
        if nulls
        else []
    )
    if missing or absent:
        raise DecodeError(f"{what}: missing {', '.join(sorted([*missing, *absent]))}")
    return frozen_makers[cls](**src, **kwargs)  # cls(...), faster


def _json_text(value: Any) -> str:
    """``json.dumps(value, sort_keys=True, default=str)``, without the encoder for the plain
    strings and integers that unmodelled fields mostly are (same text: nothing to escape)."""
    kind = type(value)
    plain = kind is str and value.isascii() and value.isprintable()
    if plain and '"' not in value and "\\" not in value:
        return f'"{value}"'
    if kind is int:
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


_SHAPES: dict[type, tuple[bool, frozenset[str]]] = {}


def _shape(cls: type) -> tuple[bool, frozenset[str]]:
    """(has an ``extras`` field, required field names), read once per class."""
    shape = _SHAPES.get(cls)
    if shape is None:
        fields = dc_fields(cls)
        shape = _SHAPES[cls] = (
            any(f.name == "extras" for f in fields),
            frozenset(f.name for f in fields if _required(f)),
        )
    return shape


def _required(f: Any) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


_REQUIRED: dict[type, frozenset[str]] = {}


def _register_required(*classes: type) -> None:
    for cls in classes:
        _REQUIRED[cls] = frozenset(f.name for f in dc_fields(cls) if _required(f))


_register_required(
    AssetPositionUpdate,
    Candle,
    Fill,
    FundingRate,
    MarketUpdate,
    OraclePrice,
    OrderUpdate,
    PositionUpdate,
    SubaccountSnapshot,
    Trade,
    Transfer,
    TradingReward,
    BlockHeight,
)


def _one(cls: type[E], data: Any, fieldmap: FieldMap, src: Src, what: str, **fixed: Any) -> list[E]:
    return [_build(cls, data, fieldmap, src, what, **fixed)]


def _guarded(build: Callable[[], Iterable[MarketEvent]], src: Src, raw: Any) -> list[MarketEvent]:
    """Run one item's decoder; a malformed item becomes one ErrorEvent."""
    try:
        built = build()
        return built if type(built) is list else list(built)
    except (DecodeError, *_MALFORMED) as exc:
        return [_failure(exc, src, raw)]


_MALFORMED = (KeyError, TypeError, ValueError, AttributeError)
"""What a decoder raises on input of the wrong shape (besides DecodeError)."""


def _failure(exc: Exception, src: Src, raw: Any) -> ErrorEvent:
    """The ErrorEvent for an item whose decoder raised ``exc`` (see :func:`_guarded`)."""
    if isinstance(exc, DecodeError):
        return _error(src, str(exc), raw)
    return _error(src, f"malformed item: {type(exc).__name__}: {exc}", raw)


# -- field maps (indexer JSON key -> event attribute, parser) ------------------------------

_TRADE: FieldMap = {
    "id": ("id", _str),
    "price": ("price", _dec),
    "size": ("size", _dec),
    "side": ("side", _side),
    "type": ("type", _trade_type),
    "createdAt": ("created_at", _time),
    "createdAtHeight": ("created_at_height", _int),
}

_CANDLE: FieldMap = {
    "ticker": ("market", _str),
    "resolution": ("resolution", _str),
    "startedAt": ("started_at", _time),
    "open": ("open", _dec),
    "high": ("high", _dec),
    "low": ("low", _dec),
    "close": ("close", _dec),
    "baseTokenVolume": ("base_volume", _dec),
    "usdVolume": ("usd_volume", _dec),
    "trades": ("trades", _int),
    "startingOpenInterest": ("starting_open_interest", _dec),
    "orderbookMidPriceOpen": ("mid_price_open", _dec),
    "orderbookMidPriceClose": ("mid_price_close", _dec),
}

_MARKET: FieldMap = {
    "ticker": ("market", _str),
    "status": ("status", _str),
    "oraclePrice": ("oracle_price", _dec),
    "initialMarginFraction": ("initial_margin_fraction", _dec),
    "maintenanceMarginFraction": ("maintenance_margin_fraction", _dec),
    "openInterest": ("open_interest", _dec),
    "baseOpenInterest": ("base_open_interest", _dec),
    "openInterestLowerCap": ("open_interest_lower_cap", _dec),
    "openInterestUpperCap": ("open_interest_upper_cap", _dec),
    "tickSize": ("tick_size", _dec),
    "stepSize": ("step_size", _dec),
    "nextFundingRate": ("next_funding_rate", _dec),
    "defaultFundingRate1H": ("default_funding_rate_1h", _dec),
    "priceChange24H": ("price_change_24h", _dec),
    "volume24H": ("volume_24h", _dec),
    "trades24H": ("trades_24h", _int),
    "atomicResolution": ("atomic_resolution", _int),
    "quantumConversionExponent": ("quantum_conversion_exponent", _int),
    "subticksPerTick": ("subticks_per_tick", _int),
    "stepBaseQuantums": ("step_base_quantums", _int),
    "clobPairId": ("clob_pair_id", _str),
    "marketId": ("market_id", _int),
    "marketType": ("market_type", _str),
}

_ORACLE: FieldMap = {
    "oraclePrice": ("price", _dec),
    "effectiveAt": ("effective_at", _time),
    "effectiveAtHeight": ("height", _int),
    "marketId": ("market_id", _int),
}

_FUNDING: FieldMap = {
    "ticker": ("market", _str),
    "rate": ("rate", _dec),
    "price": ("price", _dec),
    "effectiveAt": ("effective_at", _time),
    "effectiveAtHeight": ("height", _int),
}

_ORDER: FieldMap = {
    "id": ("order_id", _str),
    "ticker": ("market", _str),
    "status": ("status", _str),
    "side": ("side", _side),
    "size": ("size", _dec),
    "price": ("price", _dec),
    "triggerPrice": ("trigger_price", _dec),
    "type": ("type", _str),
    "timeInForce": ("time_in_force", _str),
    "reduceOnly": ("reduce_only", _bool),
    "postOnly": ("post_only", _bool),
    "totalFilled": ("total_filled", _dec),
    "totalOptimisticFilled": ("total_optimistic_filled", _dec),
    "removalReason": ("removal_reason", _str),
    "clientId": ("client_id", _str),
    "clientMetadata": ("client_metadata", _str),
    "clobPairId": ("clob_pair_id", _str),
    "orderFlags": ("order_flags", _str),
    "subaccountId": ("subaccount_id", _str),
    "subaccountNumber": ("subaccount_number", _int),
    "goodTilBlock": ("good_til_block", _int),
    "goodTilBlockTime": ("good_til_block_time", _time),
    "createdAtHeight": ("created_at_height", _int),
    "updatedAt": ("updated_at", _time),
    "updatedAtHeight": ("updated_at_height", _int),
}

_FILL: FieldMap = {
    "id": ("fill_id", _str),
    "ticker": ("market", _str),
    "market": ("market", _str),
    "side": ("side", _side),
    "price": ("price", _dec),
    "size": ("size", _dec),
    "liquidity": ("liquidity", _str),
    "type": ("type", _str),
    "fee": ("fee", _dec),
    "quoteAmount": ("quote_amount", _dec),
    "orderId": ("order_id", _str),
    "createdAt": ("created_at", _time),
    "createdAtHeight": ("created_at_height", _int),
    "eventId": ("event_id", _event_id),
    "transactionHash": ("transaction_hash", _str),
    "clientMetadata": ("client_metadata", _str),
    "affiliateRevShare": ("affiliate_rev_share", _dec),
    "subaccountId": ("subaccount_id", _str),
    "subaccountNumber": ("subaccount_number", _int),
    "clobPairId": ("clob_pair_id", _str),
    "marketType": ("market_type", _str),
}

_POSITION: FieldMap = {
    "market": ("market", _str),
    "size": ("size", _dec),
    "side": ("side", _str),
    "status": ("status", _str),
    "maxSize": ("max_size", _dec),
    "entryPrice": ("entry_price", _dec),
    "exitPrice": ("exit_price", _dec),
    "realizedPnl": ("realized_pnl", _dec),
    "unrealizedPnl": ("unrealized_pnl", _dec),
    "netFunding": ("net_funding", _dec),
    "sumOpen": ("sum_open", _dec),
    "sumClose": ("sum_close", _dec),
    "createdAt": ("created_at", _time),
    "createdAtHeight": ("created_at_height", _int),
    "closedAt": ("closed_at", _time),
    "positionId": ("position_id", _str),
    "address": ("address", _str),
    "subaccountNumber": ("subaccount_number", _int),
}

_ASSET: FieldMap = {
    "symbol": ("symbol", _str),
    "size": ("size", _dec),
    "side": ("side", _str),
    "assetId": ("asset_id", _str),
    "address": ("address", _str),
    "subaccountNumber": ("subaccount_number", _int),
}

_TRANSFER: FieldMap = {
    "type": ("type", _str),
    "symbol": ("symbol", _str),
    "size": ("size", _dec),
    "sender.address": ("sender_address", _str),
    "sender.subaccountNumber": ("sender_subaccount_number", _int),
    "recipient.address": ("recipient_address", _str),
    "recipient.subaccountNumber": ("recipient_subaccount_number", _int),
    "createdAt": ("created_at", _time),
    "createdAtHeight": ("created_at_height", _int),
    "transactionHash": ("transaction_hash", _str),
}

_REWARD: FieldMap = {
    "tradingReward": ("amount", _dec),
    "createdAt": ("created_at", _time),
    "createdAtHeight": ("created_at_height", _int),
}

_SUBACCOUNT: FieldMap = {
    "address": ("address", _str),
    "subaccountNumber": ("subaccount_number", _int),
    "equity": ("equity", _dec),
    "freeCollateral": ("free_collateral", _dec),
    "marginEnabled": ("margin_enabled", _bool),
    "updatedAtHeight": ("updated_at_height", _int),
    "latestProcessedBlockHeight": ("latest_processed_block_height", _int),
    # decoded separately into nested events:
    "openPerpetualPositions": ("positions", lambda v, n: v),
    "assetPositions": ("asset_positions", lambda v, n: v),
}


# -- item decoders -------------------------------------------------------------------------


def _levels(raw: Any, what: str) -> tuple[Level, ...]:
    """Book levels as ``[price, size]`` pairs (updates) or ``{price, size}`` objects (snapshots)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise DecodeError(f"{what}: expected a list of levels, got {type(raw).__name__}")
    out: list[Level] = []
    cached, prices, sizes = _DECIMALS.get, _LEVEL_PRICES.get, _LEVEL_SIZES.get
    for i, level in enumerate(raw):
        # fast path: a [price, size] pair of strings parsed before and valid as a level
        if type(level) is list and len(level) == 2:
            price, size = level
            if type(price) is str and type(size) is str:
                p, s = prices(price), sizes(size)
                if p is not None and s is not None:  # both seen valid before
                    out.append((p, s))
                    continue
                p, s = cached(price), cached(size)
                if p is not None and s is not None and p > ZERO and s >= ZERO:
                    if len(_LEVEL_PRICES) >= _DECIMALS_MAX or len(_LEVEL_SIZES) >= _DECIMALS_MAX:
                        _LEVEL_PRICES.clear()
                        _LEVEL_SIZES.clear()
                    _LEVEL_PRICES[price], _LEVEL_SIZES[size] = p, s
                    out.append((p, s))
                    continue
        out.append(_level(level, f"{what}[{i}]"))
    return tuple(out)


_LEVEL_PRICES: dict[str, Decimal] = {}
_LEVEL_SIZES: dict[str, Decimal] = {}
"""Decimal strings already parsed and checked as a level price (> 0) or size (>= 0): the
fast path of :func:`_levels` skips the comparisons for them."""


def _level(level: Any, name: str) -> Level:
    if isinstance(level, Mapping):
        if "price" not in level or "size" not in level:
            raise DecodeError(f"{name}: level needs price and size")
        price, size = level["price"], level["size"]
    elif isinstance(level, list | tuple) and len(level) == 2:
        price, size = level
    else:
        raise DecodeError(f"{name}: expected [price, size], got {level!r}")
    p, s = parse_decimal(price, f"{name}.price"), parse_decimal(size, f"{name}.size")
    if p <= 0 or s < 0:
        raise DecodeError(f"{name}: price must be > 0 and size >= 0, got {price!r} {size!r}")
    return p, s


_BOOK_KEYS = frozenset(("bids", "asks"))
_MAKE_SNAPSHOT, _MAKE_DELTA = frozen_maker(BookSnapshot), frozen_maker(BookDelta)
_MAKE_ORACLE = frozen_maker(OraclePrice)


def _book(contents: Any, src: Src, market: str, snapshot: bool) -> list[MarketEvent]:
    def build() -> list[MarketEvent]:
        if not isinstance(contents, Mapping):
            raise DecodeError(f"{ORDERBOOK}: contents is not an object")
        if contents.keys() - _BOOK_KEYS:
            unknown = sorted(set(contents) - _BOOK_KEYS)
            raise DecodeError(f"{ORDERBOOK}: unexpected keys {unknown}")
        make = _MAKE_SNAPSHOT if snapshot else _MAKE_DELTA
        bids = _levels(contents.get("bids"), "bids")
        asks = _levels(contents.get("asks"), "asks")
        return [make(**src, market=market, bids=bids, asks=asks)]

    return _guarded(build, src, contents)


def _trade_items(contents: Any, src: Src, market: str) -> list[MarketEvent]:
    if not isinstance(contents, Mapping) or not isinstance(contents.get("trades"), list):
        return [_error(src, f"{TRADES}: contents needs a 'trades' list", contents)]
    out: list[MarketEvent] = []
    for i, item in enumerate(contents["trades"]):
        try:  # _guarded(partial(_one, ...)) inlined: this runs for every trade
            out.append(_build(Trade, item, _TRADE, src, f"trades[{i}]", market=market))
        except (DecodeError, *_MALFORMED) as exc:
            out.append(_failure(exc, src, item))
    return out


def _candle(item: Any, src: Src, market: str | None, what: str) -> list[MarketEvent]:
    try:  # _guarded inlined: this runs for every candle
        fixed: dict[str, Any] = {}
        if isinstance(item, Mapping) and "ticker" not in item and market:
            fixed["market"] = market
        return [_build(Candle, item, _CANDLE, src, what, **fixed)]
    except (DecodeError, *_MALFORMED) as exc:
        return [_failure(exc, src, item)]


def _candle_market(subscription_id: str | None) -> str | None:
    return subscription_id.split("/", 1)[0] if subscription_id else None


def _candles_snapshot(contents: Any, src: Src, sub_id: str | None) -> list[MarketEvent]:
    if not isinstance(contents, Mapping) or not isinstance(contents.get("candles"), list):
        return [_error(src, f"{CANDLES}: snapshot needs a 'candles' list", contents)]
    market = _candle_market(sub_id)
    out: list[MarketEvent] = []
    for i, item in enumerate(contents["candles"]):
        out += _candle(item, src, market, f"candles[{i}]")
    return out


def _market_items(
    markets: Any, src: Src, snapshot: bool, what: str, with_oracle: bool
) -> list[MarketEvent]:
    if not isinstance(markets, Mapping):
        return [_error(src, f"{what}: expected an object keyed by ticker", markets)]
    out: list[MarketEvent] = []
    for ticker, item in markets.items():

        def build(ticker: str = ticker, item: Any = item) -> list[MarketEvent]:
            update = _build(
                MarketUpdate,
                item,
                _MARKET,
                src,
                f"{what}.{ticker}",
                market=ticker,
                is_snapshot=snapshot,
            )
            events: list[MarketEvent] = [update]
            if with_oracle and update.oracle_price is not None:
                events.append(_MAKE_ORACLE(**src, market=ticker, price=update.oracle_price))
            return events

        out += _guarded(build, src, item)
    return out


def _oracle_items(prices: Any, src: Src) -> list[MarketEvent]:
    if not isinstance(prices, Mapping):
        return [_error(src, "oraclePrices: expected an object keyed by ticker", prices)]
    out: list[MarketEvent] = []
    for ticker, item in prices.items():
        try:  # _guarded(partial(_one, ...)) inlined: this runs for every oracle price
            what = f"oraclePrices.{ticker}"
            out.append(_build(OraclePrice, item, _ORACLE, src, what, market=ticker))
        except (DecodeError, *_MALFORMED) as exc:
            out.append(_failure(exc, src, item))
    return out


def _markets_update(contents: Any, src: Src) -> list[MarketEvent]:
    if not isinstance(contents, Mapping):
        return [_error(src, f"{MARKETS}: contents is not an object", contents)]
    out: list[MarketEvent] = []
    for key, value in contents.items():
        if key == "trading":
            out += _market_items(value, src, False, "trading", with_oracle=False)
        elif key == "oraclePrices":
            out += _oracle_items(value, src)
        elif key == "markets":
            out += _market_items(value, src, True, "markets", with_oracle=True)
        else:
            out.append(_error(src, f"{MARKETS}: unknown contents key {key!r}", value))
    return out


def _signed_asset(asset: AssetPositionUpdate) -> AssetPositionUpdate:
    """The indexer sends an absolute size with side SHORT for a borrowed balance: sign it."""
    if asset.side == "SHORT" and asset.size > 0:
        return replace(asset, size=-asset.size)
    return asset


def _asset(item: Any, src: Src, what: str, **fixed: Any) -> AssetPositionUpdate:
    return _signed_asset(_build(AssetPositionUpdate, item, _ASSET, src, what, **fixed))


def _as_items(value: Any, what: str, single_key: str | None = None) -> list[tuple[str, Any]]:
    """Lists stay lists; objects keyed by market/symbol become their values (keys kept).

    ``single_key``: an object holding that key is one item, not a keyed map (the indexer sends
    ``transfers`` as a single object).
    """
    if single_key is not None and isinstance(value, Mapping) and single_key in value:
        return [(what, value)]
    if isinstance(value, list):
        return [(f"{what}[{i}]", v) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        return [(f"{what}.{k}", v) for k, v in value.items()]
    raise DecodeError(f"{what}: expected a list or object, got {type(value).__name__}")


def _subaccount_snapshot(
    sub: Any, src: Src, orders: Any, block_height: int | None, what: str
) -> SubaccountSnapshot:
    if not isinstance(sub, Mapping):
        raise DecodeError(f"{what}: expected an object")
    positions = tuple(
        _build(PositionUpdate, item, _POSITION, src, name, block_height=block_height)
        for name, item in _as_items(
            sub.get("openPerpetualPositions") or {}, "openPerpetualPositions"
        )
    )
    assets = tuple(
        _asset(item, src, name, block_height=block_height)
        for name, item in _as_items(sub.get("assetPositions") or {}, "assetPositions")
    )
    order_events = tuple(
        _build(OrderUpdate, item, _ORDER, src, name, block_height=block_height)
        for name, item in _as_items(orders or [], "orders")
    )
    return _build(
        SubaccountSnapshot,
        sub,
        _SUBACCOUNT,
        src,
        what,
        positions=positions,
        asset_positions=assets,
        orders=order_events,
        block_height=block_height,
    )


def _opt_height(contents: Mapping[str, Any], src: Src) -> int | None:
    value = contents.get("blockHeight")
    return None if value is None else _int(value, "blockHeight")


def _subaccounts_snapshot(contents: Any, src: Src) -> list[MarketEvent]:
    def build() -> list[MarketEvent]:
        if not isinstance(contents, Mapping):
            raise DecodeError(f"{SUBACCOUNTS}: contents is not an object")
        unknown = sorted(set(contents) - {"subaccount", "orders", "blockHeight"})
        if unknown:
            raise DecodeError(f"{SUBACCOUNTS}: unexpected snapshot keys {unknown}")
        height = _opt_height(contents, src)
        return [
            _subaccount_snapshot(
                contents.get("subaccount"), src, contents.get("orders"), height, "subaccount"
            )
        ]

    return _guarded(build, src, contents)


def _transfer(item: Any, src: Src, what: str, height: int | None) -> Transfer:
    if not isinstance(item, Mapping):
        raise DecodeError(f"{what}: expected an object")
    flat: dict[str, Any] = {}
    for key, value in item.items():
        if key in ("sender", "recipient") and isinstance(value, Mapping):
            for sub_key, sub_value in value.items():
                flat[f"{key}.{sub_key}"] = sub_value
        else:
            flat[key] = value
    return _build(Transfer, flat, _TRANSFER, src, what, block_height=height)


def _subaccounts_update(contents: Any, src: Src) -> list[MarketEvent]:
    if not isinstance(contents, Mapping):
        return [_error(src, f"{SUBACCOUNTS}: contents is not an object", contents)]
    try:
        height = _opt_height(contents, src)
    except DecodeError as exc:
        return [_error(src, str(exc), contents.get("blockHeight"))]
    out: list[MarketEvent] = []
    # Balances and positions first, then orders, then the fills that explain them.
    for key in ("assetPositions", "perpetualPositions", "orders", "fills", "transfers"):
        if key not in contents:
            continue
        try:
            items = _as_items(contents[key], key, "size" if key == "transfers" else None)
        except DecodeError as exc:
            out.append(_error(src, str(exc), contents[key]))
            continue
        for name, item in items:

            def build(key: str = key, name: str = name, item: Any = item) -> list[MarketEvent]:
                if key == "assetPositions":
                    return [_asset(item, src, name, block_height=height)]
                if key == "perpetualPositions":
                    return [_build(PositionUpdate, item, _POSITION, src, name, block_height=height)]
                if key == "orders":
                    return [_build(OrderUpdate, item, _ORDER, src, name, block_height=height)]
                if key == "fills":
                    return [_build(Fill, item, _FILL, src, name, block_height=height)]
                return [_transfer(item, src, name, height)]

            out += _guarded(build, src, item)
    if "tradingReward" in contents:
        reward = contents["tradingReward"]
        out += _guarded(
            lambda: [
                _build(TradingReward, reward, _REWARD, src, "tradingReward", block_height=height)
            ],
            src,
            reward,
        )
    known = {
        "assetPositions",
        "perpetualPositions",
        "orders",
        "fills",
        "transfers",
        "tradingReward",
        "blockHeight",
    }
    for key in sorted(set(contents) - known):
        out.append(_error(src, f"{SUBACCOUNTS}: unknown contents key {key!r}", contents[key]))
    return out


def _block_height(contents: Any, src: Src) -> list[MarketEvent]:
    def build() -> list[MarketEvent]:
        if not isinstance(contents, Mapping):
            raise DecodeError(f"{BLOCK_HEIGHT}: contents is not an object")
        raw = contents.get("blockHeight", contents.get("height"))
        if raw is None or "time" not in contents:
            raise DecodeError(f"{BLOCK_HEIGHT}: needs height and time")
        return [
            BlockHeight(
                **src, height=_int(raw, "blockHeight"), time=parse_time(contents["time"], "time")
            )
        ]

    return _guarded(build, src, contents)


def _channel_payload(
    channel: str, contents: Any, src: Src, sub_id: str | None, snapshot: bool
) -> list[MarketEvent]:
    """Decode one ``contents`` object of ``channel`` (a snapshot or one update)."""
    if channel == ORDERBOOK:
        if not sub_id:
            return [_error(src, f"{ORDERBOOK}: message has no market id", contents)]
        return _book(contents, src, sub_id, snapshot)
    if channel == TRADES:
        if not sub_id:
            return [_error(src, f"{TRADES}: message has no market id", contents)]
        return _trade_items(contents, src, sub_id)
    if channel == CANDLES:
        if snapshot:
            return _candles_snapshot(contents, src, sub_id)
        return _candle(contents, src, _candle_market(sub_id), "candle")
    if channel == MARKETS:
        if snapshot:
            if not isinstance(contents, Mapping) or "markets" not in contents:
                return [_error(src, f"{MARKETS}: snapshot needs 'markets'", contents)]
            return _market_items(contents["markets"], src, True, "markets", with_oracle=True)
        return _markets_update(contents, src)
    if channel in (SUBACCOUNTS, PARENT_SUBACCOUNTS):
        if snapshot:
            return _subaccounts_snapshot(contents, src)
        return _subaccounts_update(contents, src)
    if channel == BLOCK_HEIGHT:
        return _block_height(contents, src)
    return [_error(src, f"unknown channel {channel!r}", contents)]


# -- the websocket entry point -------------------------------------------------------------


def _source(message: Mapping[str, Any], received_at: datetime | None) -> Src:
    message_id = message.get("message_id")
    connection_id = message.get("connection_id")
    channel = message.get("channel")
    sub_id = message.get("id")
    return {
        "channel": channel if isinstance(channel, str) else "",
        "subscription_id": sub_id if isinstance(sub_id, str) else None,
        "message_id": message_id
        if isinstance(message_id, int) and not isinstance(message_id, bool)
        else None,
        "connection_id": connection_id if isinstance(connection_id, str) else None,
        "received_at": received_at,
    }


def decode(message: Any, received_at: datetime | None = None) -> list[MarketEvent]:
    """Decode one indexer websocket message (already parsed JSON) into events, in order.

    ``subscribed`` yields :class:`Subscribed` followed by the snapshot's events;
    ``channel_batch_data`` yields the events of each item in turn, all with the message's id.
    Never raises: malformed input yields :class:`ErrorEvent`\\ s.
    """
    if not isinstance(message, Mapping):
        return [
            _error(
                {"received_at": received_at},
                f"message is not a JSON object but {type(message).__name__}",
                message,
            )
        ]
    src = _source(message, received_at)
    try:
        return _decode(message, src)
    except Exception as exc:  # the decoder's promise: never an exception out
        return [_error(src, f"decoder failure: {type(exc).__name__}: {exc}", message)]


def _decode(message: Mapping[str, Any], src: Src) -> list[MarketEvent]:
    kind = message.get("type")
    mid = message.get("message_id")
    bad_id = not isinstance(mid, int) or isinstance(mid, bool)
    if kind not in ("pong", None) and bad_id:
        return [_error(src, f"{kind} message without an integer message_id", message)]
    if kind == "connected":
        return [Connected(**src)]
    if kind == "pong":
        return [Pong(**src)]
    if kind == "error":
        text = message.get("message")
        return [
            _error(
                src,
                text if isinstance(text, str) else "indexer error without a message",
                message,
                ErrorKind.SERVER,
            )
        ]
    channel = src["channel"]
    sub_id = src["subscription_id"]
    if kind == "unsubscribed":
        return [Unsubscribed(**src)]
    if kind not in ("subscribed", "channel_data", "channel_batch_data"):
        return [_error(src, f"unknown message type {kind!r}", message)]
    if channel not in CHANNELS:
        return [_error(src, f"unknown channel {message.get('channel')!r}", message)]
    if "contents" not in message:
        return [_error(src, f"{kind} message on {channel} without contents", message)]
    contents = message["contents"]
    if kind == "subscribed":
        return [Subscribed(**src), *_channel_payload(channel, contents, src, sub_id, True)]
    if kind == "channel_data":
        return _channel_payload(channel, contents, src, sub_id, False)
    if not isinstance(contents, list):
        return [_error(src, f"channel_batch_data on {channel}: contents is not a list", contents)]
    out: list[MarketEvent] = []
    for item in contents:
        out += _channel_payload(channel, item, src, sub_id, False)
    return out


def decode_text(text: str | bytes, received_at: datetime | None = None) -> list[MarketEvent]:
    """Decode a raw websocket frame: JSON that does not parse yields an ErrorEvent."""
    try:
        message = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        return [_error({"received_at": received_at}, f"not JSON: {exc}", str(text)[:200])]
    return decode(message, received_at)


# -- REST bodies ---------------------------------------------------------------------------


def _rest_src(path: str, market: str | None, received_at: datetime | None) -> Src:
    return {"channel": f"rest:{path}", "subscription_id": market, "received_at": received_at}


def _rest_list(
    body: Any, key: str | None, src: Src, item: Callable[[Any, str], list[MarketEvent]]
) -> list[MarketEvent]:
    try:
        if key is None:
            if not isinstance(body, list):
                raise DecodeError(f"expected a JSON list, got {type(body).__name__}")
            items = body
        else:
            if not isinstance(body, Mapping) or not isinstance(body.get(key), list):
                raise DecodeError(f"expected an object with a {key!r} list")
            items = body[key]
    except DecodeError as exc:
        return [_error(src, str(exc), body)]
    out: list[MarketEvent] = []
    for i, raw in enumerate(items):
        out += _guarded(partial(item, raw, f"{key or 'items'}[{i}]"), src, raw)
    return out


def decode_perpetual_markets(body: Any, received_at: datetime | None = None) -> list[MarketEvent]:
    """GET /v4/perpetualMarkets: one full :class:`MarketUpdate` (+ :class:`OraclePrice`) each."""
    src = _rest_src("/v4/perpetualMarkets", None, received_at)
    if not isinstance(body, Mapping) or "markets" not in body:
        return [_error(src, "perpetualMarkets: expected an object with 'markets'", body)]
    return _market_items(body["markets"], src, True, "markets", with_oracle=True)


def decode_orderbook(
    body: Any, market: str, received_at: datetime | None = None
) -> list[MarketEvent]:
    """GET /v4/orderbooks/perpetualMarket/{market}: one :class:`BookSnapshot`."""
    return _book(
        body,
        _rest_src(f"/v4/orderbooks/perpetualMarket/{market}", market, received_at),
        market,
        True,
    )


def decode_trades(body: Any, market: str, received_at: datetime | None = None) -> list[MarketEvent]:
    """GET /v4/trades/perpetualMarket/{market}: :class:`Trade`\\ s, newest first as sent."""
    src = _rest_src(f"/v4/trades/perpetualMarket/{market}", market, received_at)
    return _rest_list(
        body,
        "trades",
        src,
        lambda raw, what: [_build(Trade, raw, _TRADE, src, what, market=market)],
    )


def decode_candles(
    body: Any, market: str | None = None, received_at: datetime | None = None
) -> list[MarketEvent]:
    """GET /v4/candles/perpetualMarkets/{market}: :class:`Candle`\\ s, newest first as sent."""
    src = _rest_src(f"/v4/candles/perpetualMarkets/{market or ''}", market, received_at)
    return _rest_list(body, "candles", src, lambda raw, what: _candle(raw, src, market, what))


def decode_historical_funding(
    body: Any, market: str | None = None, received_at: datetime | None = None
) -> list[MarketEvent]:
    """GET /v4/historicalFunding/{market}: :class:`FundingRate`\\ s (1-hour rates)."""
    src = _rest_src(f"/v4/historicalFunding/{market or ''}", market, received_at)
    fixed = {} if market is None else {"market": market}

    def item(raw: Any, what: str) -> list[MarketEvent]:
        f = dict(fixed) if isinstance(raw, Mapping) and "ticker" not in raw else {}
        return [_build(FundingRate, raw, _FUNDING, src, what, **f)]

    return _rest_list(body, "historicalFunding", src, item)


def decode_subaccount(body: Any, received_at: datetime | None = None) -> list[MarketEvent]:
    """GET /v4/addresses/{address}/subaccountNumber/{n}: one :class:`SubaccountSnapshot`."""
    src = _rest_src("/v4/addresses/subaccountNumber", None, received_at)
    if not isinstance(body, Mapping) or "subaccount" not in body:
        return [_error(src, "subaccount: expected an object with 'subaccount'", body)]
    return _guarded(
        lambda: [_subaccount_snapshot(body["subaccount"], src, None, None, "subaccount")],
        src,
        body,
    )


def decode_subaccounts(body: Any, received_at: datetime | None = None) -> list[MarketEvent]:
    """GET /v4/addresses/{address}: a :class:`SubaccountSnapshot` per subaccount.

    Address-level fields (``totalTradingRewards``) are copied into each snapshot's ``extras``.
    """
    src = _rest_src("/v4/addresses", None, received_at)
    shared: list[tuple[str, str]] = []
    if isinstance(body, Mapping):
        shared = [
            (str(k), json.dumps(v, sort_keys=True, default=str))
            for k, v in body.items()
            if k != "subaccounts"
        ]

    def item(raw: Any, what: str) -> list[MarketEvent]:
        snap = _subaccount_snapshot(raw, src, None, None, what)
        return [replace(snap, extras=tuple(sorted((*snap.extras, *shared))))]

    return _rest_list(body, "subaccounts", src, item)


def decode_asset_positions(body: Any, received_at: datetime | None = None) -> list[MarketEvent]:
    """GET /v4/assetPositions: signed :class:`AssetPositionUpdate`\\ s."""
    src = _rest_src("/v4/assetPositions", None, received_at)
    return _rest_list(body, "positions", src, lambda raw, what: [_asset(raw, src, what)])


def decode_perpetual_positions(body: Any, received_at: datetime | None = None) -> list[MarketEvent]:
    """GET /v4/perpetualPositions: :class:`PositionUpdate`\\ s."""
    src = _rest_src("/v4/perpetualPositions", None, received_at)
    return _rest_list(
        body,
        "positions",
        src,
        lambda raw, what: [_build(PositionUpdate, raw, _POSITION, src, what)],
    )


def decode_fills(body: Any, received_at: datetime | None = None) -> list[MarketEvent]:
    """GET /v4/fills: :class:`Fill`\\ s."""
    src = _rest_src("/v4/fills", None, received_at)
    return _rest_list(body, "fills", src, lambda raw, what: [_build(Fill, raw, _FILL, src, what)])


def decode_orders(body: Any, received_at: datetime | None = None) -> list[MarketEvent]:
    """GET /v4/orders (a bare JSON list): :class:`OrderUpdate`\\ s."""
    src = _rest_src("/v4/orders", None, received_at)
    return _rest_list(
        body, None, src, lambda raw, what: [_build(OrderUpdate, raw, _ORDER, src, what)]
    )


def decode_order(body: Any, received_at: datetime | None = None) -> list[MarketEvent]:
    """GET /v4/orders/{id}: one :class:`OrderUpdate`."""
    src = _rest_src("/v4/orders/{id}", None, received_at)
    return _guarded(lambda: [_build(OrderUpdate, body, _ORDER, src, "order")], src, body)
