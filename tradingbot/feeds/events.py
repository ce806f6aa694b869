"""Typed, immutable market events: the one vocabulary every layer above the feeds speaks.

Every event is a frozen, slotted dataclass built with keyword arguments only, so adding an
optional field later never breaks a caller. Prices, sizes and money are ``Decimal``; times are
timezone-aware ``datetime`` (UTC). Every event carries its source identity (``channel``,
``subscription_id``, ``message_id``, ``connection_id``) so higher layers can check ordering:
``message_id`` is one counter per websocket connection across all channels, and events decoded
from one message (a batch, a snapshot) share it and keep the message's order.

REST-decoded events use ``channel="rest:<path>"`` and no ``message_id``/``connection_id``.
Fields set to ``None`` were absent from the message (updates are often partial).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "AssetPositionUpdate",
    "BlockHeight",
    "BookDelta",
    "BookSnapshot",
    "Candle",
    "Connected",
    "ErrorEvent",
    "ErrorKind",
    "Extras",
    "FeedState",
    "FeedStatus",
    "Fill",
    "FundingRate",
    "Level",
    "MarketEvent",
    "MarketUpdate",
    "OraclePrice",
    "OrderUpdate",
    "Pong",
    "PositionUpdate",
    "Side",
    "SubaccountSnapshot",
    "Subscribed",
    "Trade",
    "TradeType",
    "TradingReward",
    "Transfer",
    "Unsubscribed",
]

Level = tuple[Decimal, Decimal]
"""One book level: ``(price, size)``."""

Extras = tuple[tuple[str, str], ...]
"""Fields the decoder does not model, as ``(key, json-text)`` pairs, sorted: nothing is lost."""


class Side(StrEnum):
    """Taker side of a trade, side of an order or fill."""

    BUY = "BUY"
    SELL = "SELL"


class TradeType(StrEnum):
    """How a public trade happened."""

    LIMIT = "LIMIT"
    MARKET = "MARKET"
    LIQUIDATED = "LIQUIDATED"
    DELEVERAGED = "DELEVERAGED"


class ErrorKind(StrEnum):
    """Who is to blame for an :class:`ErrorEvent`."""

    SERVER = "server"  # the indexer sent a ``type: error`` message
    DECODE = "decode"  # the message (or one item in it) did not have the expected shape
    TRANSPORT = "transport"  # the connection failed (raised by feeds, never by decode)


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketEvent:
    """Base of every event: where it came from.

    ``received_at`` is the local receive time when a feed stamped it (decode is pure and leaves
    it ``None`` unless given one).
    """

    channel: str = ""
    subscription_id: str | None = None
    message_id: int | None = None
    connection_id: str | None = None
    received_at: datetime | None = None


# -- connection-level ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Connected(MarketEvent):
    """The server accepted the websocket; ``connection_id`` names the session."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribed(MarketEvent):
    """A subscription started; the snapshot events follow in the same message."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsubscribed(MarketEvent):
    """A subscription ended."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong(MarketEvent):
    """Answer to a client ``ping`` message."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorEvent(MarketEvent):
    """Something was wrong; ``message`` names what. ``raw`` is a short excerpt of the input."""

    kind: ErrorKind
    message: str
    raw: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockHeight(MarketEvent):
    """A new chain block (v4_block_height)."""

    height: int
    time: datetime


# -- order book ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BookSnapshot(MarketEvent):
    """Full book: replaces whatever the consumer held. Levels in the message's order."""

    market: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]

    @property
    def time(self) -> datetime | None:
        """The indexer sends no book timestamps: this is the receive time."""
        return self.received_at


@dataclass(frozen=True, slots=True, kw_only=True)
class BookDelta(MarketEvent):
    """Level changes with ABSOLUTE sizes: size 0 deletes the level."""

    market: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]

    @property
    def time(self) -> datetime | None:
        """The indexer sends no book timestamps: this is the receive time."""
        return self.received_at


# -- trades, candles, prices ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Trade(MarketEvent):
    """One public trade; ``side`` is the taker's."""

    id: str
    market: str
    side: Side
    price: Decimal
    size: Decimal
    type: TradeType
    created_at: datetime
    created_at_height: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Candle(MarketEvent):
    """One OHLCV bar; the live channel re-sends the current bar as it changes."""

    market: str
    resolution: str
    started_at: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    base_volume: Decimal
    usd_volume: Decimal
    trades: int
    starting_open_interest: Decimal
    mid_price_open: Decimal | None = None
    mid_price_close: Decimal | None = None
    extras: Extras = ()
    """Fields not modelled above (REST candles carry an ``id``), as in the other events."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OraclePrice(MarketEvent):
    """Oracle price: the one margin, liquidation and funding use."""

    market: str
    price: Decimal
    effective_at: datetime | None = None
    height: int | None = None
    market_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketUpdate(MarketEvent):
    """Market parameters. ``is_snapshot`` marks a full record; otherwise ``None`` = unchanged.

    Margin: IMF/MMF are fractions; the open-interest caps (USD notional) scale IMF up between
    lower and upper cap (off when the upper cap is 0). ``next_funding_rate`` is the predicted
    1-hour rate.
    """

    market: str
    is_snapshot: bool = False
    status: str | None = None
    oracle_price: Decimal | None = None
    initial_margin_fraction: Decimal | None = None
    maintenance_margin_fraction: Decimal | None = None
    open_interest: Decimal | None = None
    base_open_interest: Decimal | None = None
    open_interest_lower_cap: Decimal | None = None
    open_interest_upper_cap: Decimal | None = None
    tick_size: Decimal | None = None
    step_size: Decimal | None = None
    next_funding_rate: Decimal | None = None
    default_funding_rate_1h: Decimal | None = None
    price_change_24h: Decimal | None = None
    volume_24h: Decimal | None = None
    trades_24h: int | None = None
    atomic_resolution: int | None = None
    quantum_conversion_exponent: int | None = None
    subticks_per_tick: int | None = None
    step_base_quantums: int | None = None
    clob_pair_id: str | None = None
    market_id: int | None = None
    market_type: str | None = None
    extras: Extras = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingRate(MarketEvent):
    """A funding rate that took effect: ``rate`` is the 1-hour rate (REST historicalFunding)."""

    market: str
    rate: Decimal
    price: Decimal | None
    effective_at: datetime
    height: int | None = None


# -- subaccount ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdate(MarketEvent):
    """An order's new state. Removed/expired orders carry few fields: the rest are ``None``."""

    order_id: str
    market: str | None = None
    status: str | None = None
    side: Side | None = None
    size: Decimal | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    type: str | None = None
    time_in_force: str | None = None
    reduce_only: bool | None = None
    post_only: bool | None = None
    total_filled: Decimal | None = None
    total_optimistic_filled: Decimal | None = None
    removal_reason: str | None = None
    client_id: str | None = None
    client_metadata: str | None = None
    clob_pair_id: str | None = None
    order_flags: str | None = None
    subaccount_id: str | None = None
    subaccount_number: int | None = None
    good_til_block: int | None = None
    good_til_block_time: datetime | None = None
    created_at_height: int | None = None
    updated_at: datetime | None = None
    updated_at_height: int | None = None
    block_height: int | None = None
    extras: Extras = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill(MarketEvent):
    """One of our fills."""

    fill_id: str
    market: str
    side: Side
    price: Decimal
    size: Decimal
    liquidity: str | None = None
    type: str | None = None
    fee: Decimal | None = None
    quote_amount: Decimal | None = None
    order_id: str | None = None
    created_at: datetime | None = None
    created_at_height: int | None = None
    event_id: str | None = None  # hex, whatever encoding the indexer used
    transaction_hash: str | None = None
    client_metadata: str | None = None
    affiliate_rev_share: Decimal | None = None
    subaccount_id: str | None = None
    subaccount_number: int | None = None
    clob_pair_id: str | None = None
    market_type: str | None = None
    block_height: int | None = None
    extras: Extras = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionUpdate(MarketEvent):
    """A perpetual position's state; ``size`` is signed (negative = short)."""

    market: str
    size: Decimal
    side: str | None = None
    status: str | None = None
    max_size: Decimal | None = None
    entry_price: Decimal | None = None
    exit_price: Decimal | None = None
    realized_pnl: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    net_funding: Decimal | None = None
    sum_open: Decimal | None = None
    sum_close: Decimal | None = None
    created_at: datetime | None = None
    created_at_height: int | None = None
    closed_at: datetime | None = None
    position_id: str | None = None
    address: str | None = None
    subaccount_number: int | None = None
    block_height: int | None = None
    extras: Extras = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetPositionUpdate(MarketEvent):
    """A collateral balance (USDC). ``size`` is signed: SHORT means borrowed (negative)."""

    symbol: str
    size: Decimal
    side: str | None = None
    asset_id: str | None = None
    address: str | None = None
    subaccount_number: int | None = None
    block_height: int | None = None
    extras: Extras = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer(MarketEvent):
    """A deposit, withdrawal or transfer touching the subaccount."""

    type: str
    symbol: str
    size: Decimal
    sender_address: str | None = None
    sender_subaccount_number: int | None = None
    recipient_address: str | None = None
    recipient_subaccount_number: int | None = None
    created_at: datetime | None = None
    created_at_height: int | None = None
    transaction_hash: str | None = None
    block_height: int | None = None
    extras: Extras = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TradingReward(MarketEvent):
    """A trading reward credited to the subaccount's address."""

    amount: Decimal
    created_at: datetime | None = None
    created_at_height: int | None = None
    block_height: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SubaccountSnapshot(MarketEvent):
    """The subaccount as a whole (subscription snapshot or REST body)."""

    address: str
    subaccount_number: int
    equity: Decimal
    free_collateral: Decimal
    margin_enabled: bool | None = None
    positions: tuple[PositionUpdate, ...] = ()
    asset_positions: tuple[AssetPositionUpdate, ...] = ()
    orders: tuple[OrderUpdate, ...] = ()
    block_height: int | None = None
    updated_at_height: int | None = None
    latest_processed_block_height: int | None = None
    extras: Extras = ()


# -- feed status (not a MarketEvent: it describes the pipe, not the market) ----------------


class FeedState(StrEnum):
    """States a feed reports on its ``status`` Observable."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    SUBSCRIBED = "subscribed"  # (re)subscribed everything after a connect
    DISCONNECTED = "disconnected"
    STALE = "stale"  # no message within the silence limit: the connection is recycled
    RECONNECTING = "reconnecting"  # waiting ``delay`` seconds before attempt ``attempt``
    CIRCUIT_OPEN = "circuit_open"  # too many failures in a row: pausing ``delay`` seconds
    CIRCUIT_HALF_OPEN = "circuit_half_open"  # trying again after the pause
    RATE_LIMITED = "rate_limited"  # a REST call waited ``delay`` seconds for a token
    CLOSED = "closed"  # stopped by the owner; terminal


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedStatus:
    """One state change of a feed."""

    state: FeedState
    at: datetime
    detail: str = ""
    attempt: int = 0
    delay: float | None = None
    connection_id: str | None = None
