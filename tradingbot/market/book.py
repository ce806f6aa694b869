"""Order books from v4_orderbook snapshots plus deltas, with ordering checks and uncrossing.

dYdX v4 deltas carry ABSOLUTE sizes ("0" deletes a level) and no per-level sequence numbers, so
a lost or reordered message silently corrupts the book: the only defence is the envelope's
``message_id`` (one counter per connection, across all channels). :class:`BookEngine` checks it
and, when it cannot trust a book, stops applying deltas to it and emits a
:class:`ResyncRequest` until a fresh snapshot arrives.

Crossed books: the indexer can publish a delta that leaves best bid >= best ask because the
opposite side's levels were already consumed and their removal is still on its way. The rule
(applied per delta): the levels a delta *sets* are the freshest information, so after applying
the delta's bids, every ask priced at or below the highest bid the delta set is dropped; after
applying its asks, every bid priced at or above the lowest ask it set is dropped. A delta's asks
are applied after its bids, so within one self-crossing delta the asks win. Dropped levels are
reported as :class:`CrossedBookResolved`. A crossed *snapshot* is kept as sent and flagged
(``BookState.crossed``): no side of it is fresher than the other.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from tradingbot.feeds.events import BookDelta, BookSnapshot, Level, MarketEvent
from tradingbot.stages import KindOf, frozen_maker

__all__ = [
    "BookEngine",
    "BookOutput",
    "BookState",
    "CrossedBookResolved",
    "OrderBook",
    "ResyncRequest",
]

ZERO = Decimal(0)
TWO = Decimal(2)


def _mid(bid: Level | None, ask: Level | None) -> Decimal | None:
    return None if bid is None or ask is None else (bid[0] + ask[0]) / TWO


@dataclass(frozen=True, slots=True)
class BookState:
    """An immutable view of one book after an update: the best ``depth`` levels per side,
    best first, and where the update came from."""

    market: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    message_id: int | None = None
    connection_id: str | None = None
    time: datetime | None = None
    crossed: bool = False

    @property
    def best_bid(self) -> Level | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> Level | None:
        return self.asks[0] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        bids, asks = self.bids, self.asks
        return _mid(bids[0], asks[0]) if bids and asks else None

    @property
    def spread(self) -> Decimal | None:
        bids, asks = self.bids, self.asks
        return asks[0][0] - bids[0][0] if bids and asks else None

    def depth_within(self, band: Decimal) -> tuple[Decimal, Decimal] | None:
        """(bid size, ask size) priced within ``band`` (a fraction of mid) of the mid, over the
        levels this view holds. None without a two-sided book."""
        return _depth(self.mid, iter(self.bids), iter(self.asks), band)


_make_state = frozen_maker(BookState)


def _depth(
    mid: Decimal | None, bids: Iterator[Level], asks: Iterator[Level], band: Decimal
) -> tuple[Decimal, Decimal] | None:
    if mid is None:
        return None
    low, high = mid * (1 - band), mid * (1 + band)
    bid_size = ZERO
    for price, size in bids:
        if price < low:
            break
        bid_size += size
    ask_size = ZERO
    for price, size in asks:
        if price > high:
            break
        ask_size += size
    return bid_size, ask_size


@dataclass(frozen=True, slots=True)
class ResyncRequest:
    """The book of ``market`` can no longer be trusted: re-subscribe (or fetch a snapshot).

    Deltas for it are ignored until a snapshot arrives."""

    market: str
    reason: str
    connection_id: str | None = None
    message_id: int | None = None


@dataclass(frozen=True, slots=True)
class CrossedBookResolved:
    """Levels dropped by the crossed-book rule (see the module docstring)."""

    market: str
    side: Literal["bids", "asks"]
    dropped: tuple[Level, ...]
    message_id: int | None = None


BookOutput = BookState | ResyncRequest | CrossedBookResolved
_BOOK_EVENTS = KindOf(BookSnapshot, BookDelta)


class OrderBook:
    """One market's full book: price -> level per side plus sorted price lists, so updates cost
    O(log n + n) (bisect and list insert) and best prices O(1)."""

    def __init__(self, market: str) -> None:
        self.market = market
        # price -> its level (price, size): book states share the level tuples
        self._bids: dict[Decimal, Level] = {}
        self._asks: dict[Decimal, Level] = {}
        self._bid_prices: list[Decimal] = []  # ascending: best bid last
        self._ask_prices: list[Decimal] = []  # ascending: best ask first

    # -- mutation ------------------------------------------------------------------------

    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()
        self._bid_prices.clear()
        self._ask_prices.clear()

    def apply_snapshot(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        self.clear()
        for price, size in bids:
            self._set(self._bids, self._bid_prices, price, size)
        for price, size in asks:
            self._set(self._asks, self._ask_prices, price, size)

    def apply_delta(
        self, bids: Iterable[Level], asks: Iterable[Level]
    ) -> list[tuple[Literal["bids", "asks"], tuple[Level, ...]]]:
        """Apply absolute level sizes, then the crossed-book rule; returns what it dropped."""
        dropped: list[tuple[Literal["bids", "asks"], tuple[Level, ...]]] = []
        top_bid: Decimal | None = None
        for price, size in bids:
            self._set(self._bids, self._bid_prices, price, size)
            if size > ZERO and (top_bid is None or price > top_bid):
                top_bid = price
        if top_bid is not None:
            ask_prices = self._ask_prices  # ascending: the stale asks (<= top_bid), a prefix
            stale = ask_prices[: bisect_right(ask_prices, top_bid)]
            if stale:
                dropped.append(("asks", tuple([self._asks[p] for p in stale])))
                for p in stale:
                    self._set(self._asks, self._ask_prices, p, ZERO)
        low_ask: Decimal | None = None
        for price, size in asks:
            self._set(self._asks, self._ask_prices, price, size)
            if size > ZERO and (low_ask is None or price < low_ask):
                low_ask = price
        if low_ask is not None:
            bid_prices = self._bid_prices  # ascending: the stale bids (>= low_ask), a suffix
            stale = bid_prices[bisect_left(bid_prices, low_ask) :][::-1]  # best first
            if stale:
                dropped.append(("bids", tuple([self._bids[p] for p in stale])))
                for p in stale:
                    self._set(self._bids, self._bid_prices, p, ZERO)
        return dropped

    @staticmethod
    def _set(
        levels: dict[Decimal, Level], prices: list[Decimal], price: Decimal, size: Decimal
    ) -> None:
        if size < ZERO:
            raise ValueError(f"negative size {size} at {price}")
        if size == ZERO:
            if levels.pop(price, None) is not None:
                del prices[bisect_left(prices, price)]
            return
        held = levels.get(price)
        if held is None:
            insort(prices, price)
            levels[price] = (price, size)
        else:  # the price object first seen stays (Decimal("1.0") == Decimal("1"))
            levels[price] = (held[0], size)

    # -- queries -------------------------------------------------------------------------

    @property
    def best_bid(self) -> Level | None:
        if not self._bid_prices:
            return None
        return self._bids[self._bid_prices[-1]]

    @property
    def best_ask(self) -> Level | None:
        if not self._ask_prices:
            return None
        return self._asks[self._ask_prices[0]]

    @property
    def mid(self) -> Decimal | None:
        return _mid(self.best_bid, self.best_ask)

    @property
    def spread(self) -> Decimal | None:
        bid, ask = self.best_bid, self.best_ask
        return None if bid is None or ask is None else ask[0] - bid[0]

    @property
    def crossed(self) -> bool:
        bid, ask = self.best_bid, self.best_ask
        return bid is not None and ask is not None and bid[0] >= ask[0]

    def iter_bids(self) -> Iterator[Level]:
        """Best (highest) first."""
        bids = self._bids
        return (bids[p] for p in reversed(self._bid_prices))

    def iter_asks(self) -> Iterator[Level]:
        """Best (lowest) first."""
        asks = self._asks
        return (asks[p] for p in self._ask_prices)

    def bids(self, n: int | None = None) -> tuple[Level, ...]:
        prices = self._bid_prices[::-1] if n is None else self._bid_prices[: -n - 1 : -1]
        bids = self._bids
        return tuple([bids[p] for p in prices])

    def asks(self, n: int | None = None) -> tuple[Level, ...]:
        prices = self._ask_prices if n is None else self._ask_prices[:n]
        asks = self._asks
        return tuple([asks[p] for p in prices])

    def depth_within(self, band: Decimal) -> tuple[Decimal, Decimal] | None:
        """(bid size, ask size) priced within ``band`` (fraction of mid, e.g. 0.001 = 10 bps)
        of the mid; None without a two-sided book."""
        return _depth(self.mid, self.iter_bids(), self.iter_asks(), band)

    def state(
        self,
        depth: int,
        *,
        message_id: int | None = None,
        connection_id: str | None = None,
        time: datetime | None = None,
    ) -> BookState:
        return _make_state(  # BookState(...), faster: one per book update
            self.market,
            self.bids(depth),
            self.asks(depth),
            message_id,
            connection_id,
            time,
            self.crossed,
        )


class BookEngine:
    """Books for every market on a stream, with message-id ordering checks.

    ``contiguous_ids=True`` when the engine sees *every* message of the connection (all channels):
    then a jump in ``message_id`` is a lost message and every book on the connection is resynced.
    Otherwise (book events only, other channels filtered out) ids only have to be
    non-decreasing per market. Events decoded from one message share its id, so equal ids are
    fine. A new ``connection_id`` restarts the counter; books then wait for fresh snapshots.
    REST snapshots (no ``message_id``) are applied without checks.
    """

    def __init__(self, depth: int = 25, *, contiguous_ids: bool = False) -> None:
        self.depth = depth
        self.contiguous_ids = contiguous_ids
        self._books: dict[str, OrderBook] = {}
        self._synced: set[str] = set()
        self._requested: set[str] = set()
        self._connection: str | None = None
        self._last_id: int | None = None  # connection-wide (contiguous mode)
        self._last_market_id: dict[str, int] = {}

    def book(self, market: str) -> OrderBook | None:
        return self._books.get(market)

    def is_synced(self, market: str) -> bool:
        return market in self._synced

    def _resync(self, market: str, reason: str, event: MarketEvent) -> list[BookOutput]:
        self._synced.discard(market)
        if market in self._requested:
            return []
        self._requested.add(market)
        return [ResyncRequest(market, reason, event.connection_id, event.message_id)]

    def _check_order(self, event: MarketEvent) -> list[BookOutput]:
        """Ordering checks; marks untrusted books and returns the resync requests."""
        out: list[BookOutput] = []
        if event.connection_id is not None and event.connection_id != self._connection:
            self._connection = event.connection_id
            self._last_id = None
            self._last_market_id.clear()
            self._synced.clear()  # new connection: wait for its snapshots
            self._requested.clear()
        mid = event.message_id
        if mid is None:
            return out
        if self.contiguous_ids:
            last = self._last_id
            if last is not None and (mid > last + 1 or mid < last):
                why = (
                    f"message gap: expected {last + 1}, got {mid}"
                    if mid > last
                    else f"message out of order: {mid} after {last}"
                )
                fresh = event.market if isinstance(event, BookSnapshot) else None
                for market in sorted(self._synced | set(self._books)):
                    if market != fresh:  # a snapshot needs no resync: it *is* one
                        out += self._resync(market, why, event)
            self._last_id = mid if last is None else max(last, mid)
        elif isinstance(event, BookDelta):  # a snapshot is self-contained: never resynced
            last_m = self._last_market_id.get(event.market)
            if last_m is not None and mid < last_m:
                out += self._resync(
                    event.market, f"message out of order: {mid} after {last_m}", event
                )
            else:
                self._last_market_id[event.market] = mid
        return out

    def apply(self, event: MarketEvent) -> list[BookOutput]:
        """Feed any event of the stream; returns resync requests, uncross reports and the new
        :class:`BookState` of the book the event changed (in that order)."""
        if (
            _BOOK_EVENTS[type(event)] < 0
            and not self.contiguous_ids
            and (event.connection_id is None or event.connection_id == self._connection)
        ):
            return []  # what _check_order would conclude for most events: nothing to check
        out = self._check_order(event)
        if isinstance(event, BookSnapshot):
            book = self._books.setdefault(event.market, OrderBook(event.market))
            book.apply_snapshot(event.bids, event.asks)
            self._synced.add(event.market)
            self._requested.discard(event.market)
            if event.message_id is not None:
                self._last_market_id[event.market] = event.message_id
        elif isinstance(event, BookDelta):
            if event.market not in self._synced:
                return out + self._resync(event.market, "delta without a trusted snapshot", event)
            book = self._books[event.market]
            for side, levels in book.apply_delta(event.bids, event.asks):
                out.append(CrossedBookResolved(event.market, side, levels, event.message_id))
        else:
            return out
        out.append(
            book.state(
                self.depth,
                message_id=event.message_id,
                connection_id=event.connection_id,
                time=event.received_at,
            )
        )
        return out
