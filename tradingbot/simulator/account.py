"""A modelled trading subaccount: what the indexer's v4_subaccounts channel and account routes send.

Why: the local indexer's default subaccount is flat (10,000 USDC, nothing else), so the shapes a
real account produces (open positions both ways, a borrowed USDC balance, resting and
conditional orders, fills with their order and position, transfers, trading rewards) would be
checked only on captures the project cannot ship. With ``SimulatorConfig(account_activity=True)``
each subaccount the client asks for lives this scripted life, driven by the market model's
books and clock (so it is as deterministic as the model):

- it opens long the first market (16,000 USD) and short the second (4,000 USD) on 10,000 USDC
  of its own, so its USDC balance is borrowed (SHORT), and
  keeps a GTT limit order resting below the book;
- every :data:`CYCLE` steps: an IOC taker order (``BEST_EFFORT_OPENED``), the next step its
  fills at the top of the book with the order ``FILLED``, the new position and the USDC
  balance, the step after a trading reward; the resting order is cancelled and replaced by a
  STOP_LIMIT conditional order (``BEST_EFFORT_OPENED`` with its trigger price), a reduce-only
  order on the wrong side is resized away (``BEST_EFFORT_CANCELED``), and a USDC transfer
  (withdrawal or deposit of 10) moves the balance.

The account trades against the modelled book without taking liquidity from it: the market
streams are the same with or without it.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from .indexer_json import fmt, iso

__all__ = ["CYCLE", "AccountModel", "MarketView"]

CYCLE = 12
"""Steps between the account's taker orders (its other events are placed inside a cycle)."""

_FEE_RATE = Decimal("0.0005")
_REWARD_RATE = Decimal("0.0002")
_TRANSFER = Decimal("10")
_REST_LIMIT = 100  # the indexer's default page


class MarketView(Protocol):
    """What the account reads of the market model."""

    height: int

    @property
    def now(self) -> datetime: ...

    @property
    def tickers(self) -> tuple[str, ...]: ...

    def top_of_book(self, ticker: str) -> tuple[Decimal, Decimal]:
        """Best bid and best ask."""
        ...

    def oracle_price(self, ticker: str) -> Decimal: ...

    def market_params(self, ticker: str) -> tuple[int, Decimal, Decimal, Decimal]:
        """``(market_id, step_size, initial_margin_fraction, tick_size)``."""
        ...


def _uuid(*parts: object) -> str:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


@dataclass(slots=True)
class _Position:
    market: str
    size: Decimal
    entry: Decimal
    max_size: Decimal
    sum_open: Decimal
    sum_close: Decimal = Decimal(0)
    realized: Decimal = Decimal(0)
    exit: Decimal | None = None
    created_at: str = ""
    created_height: int = 0
    position_id: str = ""


@dataclass(slots=True)
class AccountModel:
    """One scripted subaccount over a :class:`MarketView`."""

    view: MarketView
    address: str
    number: int
    buffer_event_ids: bool = False
    usdc: Decimal = Decimal(0)
    positions: dict[str, _Position] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)
    rewards: Decimal = Decimal(0)
    age: int = 0
    client_ids: int = 0
    pending: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.usdc = Decimal(10_000)
        view = self.view
        for index, ticker in enumerate(view.tickers[:2]):
            _mid, step, _imf, _tick = view.market_params(ticker)
            price = view.oracle_price(ticker)
            worth = Decimal(16_000) if index == 0 else Decimal(4_000)  # net long: USDC borrowed
            size = (worth / price / step).to_integral_value() * step
            signed = size if index == 0 else -size
            self.usdc -= signed * price
            self.positions[ticker] = _Position(
                market=ticker,
                size=signed,
                entry=price,
                max_size=signed,
                sum_open=size,
                created_at=iso(view.now),
                created_height=view.height,
                position_id=_uuid(self.subaccount_id, "position", ticker),
            )
        self._rest_order(view.tickers[0])

    # -- identities ------------------------------------------------------------------------

    @property
    def subaccount_id(self) -> str:
        """The indexer's id of ``address/number``."""
        return _uuid("subaccount", self.address, self.number)

    @property
    def channel_id(self) -> str:
        """The v4_subaccounts subscription id."""
        return f"{self.address}/{self.number}"

    # -- the script ------------------------------------------------------------------------

    def step(self) -> list[dict[str, Any]]:
        """Advance one model step; the ``contents`` of the channel_data messages it causes."""
        self.age += 1
        phase = self.age % CYCLE
        height = str(self.view.height)
        out: list[dict[str, Any]] = []
        if phase == 1:
            out.append({"blockHeight": height, "orders": [self._taker_order()]})
        elif phase == 2 and self.pending is not None:
            out.append(self._fill_pending())
        elif phase == 3 and self.fills:
            amount = (Decimal(self.fills[-1]["fee"]) * _REWARD_RATE / _FEE_RATE).quantize(
                Decimal("1E-18")
            )
            self.rewards += amount
            reward = {
                "tradingReward": fmt(amount),
                "createdAt": iso(self.view.now),
                "createdAtHeight": height,
            }
            out.append({"blockHeight": height, "tradingReward": reward})
        elif phase == 4 and (self.age // CYCLE) % 2 == 1:
            out.append({"blockHeight": height, "orders": [self._resized_away()]})
        elif phase == 6:
            cancelled = self._cancel("OPEN", "ORDER_REMOVAL_REASON_USER_CANCELED")
            if cancelled is not None:
                out.append({"blockHeight": height, "orders": [cancelled]})
        elif phase == 7:
            out.append({"blockHeight": height, "orders": [self._rest_order(self._ticker())]})
        elif phase == 8 and (self.age // CYCLE) % 2 == 0:
            orders = [self._stop_order(self._ticker())]
            stale = self._cancel("BEST_EFFORT_OPENED", "ORDER_REMOVAL_REASON_EXPIRED", orders[0])
            if stale is not None:  # an expiry names the order only, as the indexer sends it
                keep = ("id", "subaccountId", "clientId", "clobPairId", "orderFlags", "ticker")
                expired = {k: stale[k] for k in keep}
                expired.update(status=stale["status"], removalReason=stale["removalReason"])
                orders.insert(0, expired)
            out.append({"blockHeight": height, "orders": orders})
        elif phase == 9:
            out.append(self._transfer())
        return out

    def _next_client_id(self) -> str:
        self.client_ids += 1
        return str(self.client_ids)

    def _order(self, ticker: str, **fields: Any) -> dict[str, Any]:
        market_id = self.view.market_params(ticker)[0]
        client_id = self._next_client_id()
        order = {
            "id": _uuid(self.subaccount_id, "order", client_id),
            "subaccountId": self.subaccount_id,
            "clientId": client_id,
            "clobPairId": str(market_id),
            "postOnly": False,
            "reduceOnly": False,
            "clientMetadata": "1",
            "createdAtHeight": str(self.view.height),
            "ticker": ticker,
            "subaccountNumber": self.number,
            **fields,
        }
        self.orders[order["id"]] = order
        return order

    def _rest_order(self, ticker: str) -> dict[str, Any]:
        """A GTT limit bid 1% below the book, resting (``OPEN``, stateful: flags 64)."""
        _mid, step, _imf, tick = self.view.market_params(ticker)
        bid, _ask = self.view.top_of_book(ticker)
        price = (bid * Decimal("0.99") / tick).to_integral_value() * tick
        good_til = self.view.now + timedelta(days=28)
        return self._order(
            ticker,
            side="BUY",
            size=fmt(step * 10),
            totalFilled="0",
            price=fmt(price),
            type="LIMIT",
            status="OPEN",
            timeInForce="GTT",
            orderFlags="64",
            goodTilBlockTime=iso(good_til),
            updatedAt=iso(self.view.now),
            updatedAtHeight=str(self.view.height),
        )

    def _stop_order(self, ticker: str) -> dict[str, Any]:
        """A STOP_LIMIT buy triggered 1% above the book (conditional: flags 32)."""
        _mid, step, _imf, tick = self.view.market_params(ticker)
        _bid, ask = self.view.top_of_book(ticker)
        trigger = (ask * Decimal("1.01") / tick).to_integral_value() * tick
        return self._order(
            ticker,
            side="BUY",
            size=fmt(step * 10),
            price=fmt(trigger + tick * 10),
            triggerPrice=fmt(trigger),
            type="STOP_LIMIT",
            status="BEST_EFFORT_OPENED",
            timeInForce="IOC",
            orderFlags="32",
            goodTilBlockTime=iso(self.view.now + timedelta(days=28)),
        )

    def _ticker(self) -> str:
        tickers = self.view.tickers
        return tickers[(self.age // CYCLE) % len(tickers)]

    def _cancel(
        self, status: str, reason: str, keep: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Cancel the newest working order in ``status`` (not ``keep``); None if there is none."""
        order = next(
            (o for o in reversed(self.orders.values()) if o["status"] == status and o is not keep),
            None,
        )
        if order is None:
            return None
        order.update(
            status="CANCELED",
            removalReason=reason,
            updatedAt=iso(self.view.now),
            updatedAtHeight=str(self.view.height),
        )
        return dict(order)

    def _resized_away(self) -> dict[str, Any]:
        """A reduce-only IOC order on the wrong side of the position: the protocol resizes it
        to nothing and drops it (BEST_EFFORT_CANCELED), as the indexer reports it."""
        ticker = self._ticker()
        _mid, step, _imf, _tick = self.view.market_params(ticker)
        position = self.positions.get(ticker)
        buy = position is None or position.size >= 0  # reducing a long sells: buy instead
        bid, ask = self.view.top_of_book(ticker)
        order = self._order(
            ticker,
            side="BUY" if buy else "SELL",
            size=fmt(step * 10),
            price=fmt(ask if buy else bid),
            type="LIMIT",
            status="BEST_EFFORT_CANCELED",
            timeInForce="IOC",
            reduceOnly=True,
            orderFlags="0",
            goodTilBlock=str(self.view.height + 20),
            removalReason="ORDER_REMOVAL_REASON_REDUCE_ONLY_RESIZE",
            totalOptimisticFilled="0",
        )
        for key in ("createdAtHeight", "subaccountNumber"):  # the indexer's update omits them
            order.pop(key)
        return dict(order)

    def _taker_order(self) -> dict[str, Any]:
        """An IOC order crossing the book: it alternates buying and selling each market."""
        tickers = self.view.tickers
        cycle = self.age // CYCLE
        ticker = tickers[cycle % len(tickers)]
        _mid, step, _imf, tick = self.view.market_params(ticker)
        bid, ask = self.view.top_of_book(ticker)
        buy = (cycle // len(tickers)) % 2 == 0
        limit = ask * Decimal("1.01") if buy else bid * Decimal("0.99")
        order = self._order(
            ticker,
            side="BUY" if buy else "SELL",
            size=fmt(step * 20),
            price=fmt((limit / tick).to_integral_value() * tick),
            type="LIMIT",
            status="BEST_EFFORT_OPENED",
            timeInForce="IOC",
            orderFlags="0",
            goodTilBlock=str(self.view.height + 20),
        )
        self.pending = order
        return dict(order)

    def _event_id(self, index: int) -> Any:
        raw = (
            self.view.height.to_bytes(4, "big") + (2).to_bytes(4, "big") + index.to_bytes(4, "big")
        )
        if self.buffer_event_ids:
            return {"type": "Buffer", "data": list(raw)}
        return raw.hex()

    def _fill_pending(self) -> dict[str, Any]:
        order, self.pending = self.pending, None
        assert order is not None
        ticker = order["ticker"]
        bid, ask = self.view.top_of_book(ticker)
        buy = order["side"] == "BUY"
        price = ask if buy else bid
        size = Decimal(order["size"])
        now, height = iso(self.view.now), self.view.height
        tx_hash = hashlib.sha256(f"{self.subaccount_id}:{height}".encode()).hexdigest().upper()
        fills = []
        for index, part in enumerate((size / 2, size - size / 2)):
            quote = part * price
            fee = (quote * _FEE_RATE).quantize(Decimal("0.000001"))
            fill = {
                "id": _uuid(order["id"], "fill", index),
                "fee": fmt(fee),
                "side": order["side"],
                "size": fmt(part),
                "type": "LIMIT",
                "price": fmt(price),
                "eventId": self._event_id(index),
                "orderId": order["id"],
                "createdAt": now,
                "liquidity": "TAKER",
                "clobPairId": order["clobPairId"],
                "quoteAmount": fmt(quote),
                "subaccountId": self.subaccount_id,
                "clientMetadata": order["clientMetadata"],
                "createdAtHeight": str(height),
                "transactionHash": tx_hash,
                "ticker": ticker,
            }
            if not self.buffer_event_ids:  # the 2023 indexer had no affiliate revenue share
                fill["affiliateRevShare"] = "0"
            fills.append(fill)
            self.fills.append(fill)
            self.usdc -= fee
        signed = size if buy else -size
        self.usdc -= signed * price
        position = self._apply(ticker, signed, price)
        order.update(
            status="FILLED",
            totalFilled=order["size"],
            updatedAt=now,
            updatedAtHeight=str(height),
            triggerPrice=None,
        )
        return {
            "blockHeight": str(height),
            "fills": fills,
            "orders": [dict(order)],
            "perpetualPositions": [self._position_update(position)],
            "assetPositions": [self._usdc_json()],
        }

    def _apply(self, ticker: str, signed: Decimal, price: Decimal) -> _Position:
        p = self.positions.get(ticker)
        if p is None:
            p = _Position(
                market=ticker,
                size=Decimal(0),
                entry=price,
                max_size=Decimal(0),
                sum_open=Decimal(0),
                created_at=iso(self.view.now),
                created_height=self.view.height,
                position_id=_uuid(self.subaccount_id, "position", ticker),
            )
            self.positions[ticker] = p
        if p.size == 0 or (p.size > 0) == (signed > 0):  # opening more
            total = abs(p.size) + abs(signed)
            p.entry = (p.entry * abs(p.size) + price * abs(signed)) / total
            p.sum_open += abs(signed)
        else:  # closing (the script never flips a position)
            closed = min(abs(signed), abs(p.size))
            p.realized += closed * (price - p.entry) * (1 if p.size > 0 else -1)
            p.exit = price
            p.sum_close += closed
        p.size += signed
        if abs(p.size) > abs(p.max_size):
            p.max_size = p.size
        return p

    def _transfer(self) -> dict[str, Any]:
        deposit = (self.age // CYCLE) % 2 == 1  # a withdrawal first
        self.usdc += _TRANSFER if deposit else -_TRANSFER
        height = str(self.view.height)
        me = {"address": self.address, "subaccountNumber": self.number}
        wallet = {"address": self.address}
        transfer = {
            "sender": wallet if deposit else me,
            "recipient": me if deposit else wallet,
            "size": fmt(_TRANSFER),
            "createdAt": iso(self.view.now),
            "createdAtHeight": height,
            "symbol": "USDC",
            "type": "DEPOSIT" if deposit else "WITHDRAWAL",
            "transactionHash": hashlib.sha256(f"{self.address}:transfer:{height}".encode())
            .hexdigest()
            .upper(),
        }
        return {"blockHeight": height, "transfers": transfer, "assetPositions": [self._usdc_json()]}

    # -- views -----------------------------------------------------------------------------

    def _unrealized(self, p: _Position) -> Decimal:
        return p.size * (self.view.oracle_price(p.market) - p.entry)

    def _position_update(self, p: _Position) -> dict[str, Any]:
        return {
            "address": self.address,
            "subaccountNumber": self.number,
            "positionId": p.position_id,
            "market": p.market,
            "side": "LONG" if p.size >= 0 else "SHORT",
            "status": "OPEN" if p.size != 0 else "CLOSED",
            "size": fmt(p.size),
            "maxSize": fmt(p.max_size),
            "netFunding": "0",
            "entryPrice": fmt(p.entry),
            "exitPrice": None if p.exit is None else fmt(p.exit),
            "sumOpen": fmt(p.sum_open),
            "sumClose": fmt(p.sum_close),
            "realizedPnl": fmt(p.realized),
            "unrealizedPnl": fmt(self._unrealized(p)),
        }

    def _open_position(self, p: _Position) -> dict[str, Any]:
        return {
            "market": p.market,
            "status": "OPEN",
            "side": "LONG" if p.size >= 0 else "SHORT",
            "size": fmt(p.size),
            "maxSize": fmt(p.max_size),
            "entryPrice": fmt(p.entry),
            "exitPrice": None if p.exit is None else fmt(p.exit),
            "realizedPnl": fmt(p.realized),
            "unrealizedPnl": fmt(self._unrealized(p)),
            "createdAt": p.created_at,
            "createdAtHeight": str(p.created_height),
            "closedAt": None,
            "sumOpen": fmt(p.sum_open),
            "sumClose": fmt(p.sum_close),
            "netFunding": "0",
            "subaccountNumber": self.number,
        }

    def _usdc_json(self) -> dict[str, Any]:
        return {
            "size": fmt(abs(self.usdc)),
            "symbol": "USDC",
            "side": "LONG" if self.usdc >= 0 else "SHORT",
            "assetId": "0",
            "subaccountNumber": self.number,
        }

    def open_positions(self) -> list[dict[str, Any]]:
        """GET /v4/perpetualPositions ``positions`` (open ones)."""
        return [self._open_position(p) for p in self.positions.values() if p.size != 0]

    def subaccount_json(self) -> dict[str, Any]:
        """The subaccount object (snapshot and REST): equity at oracle prices."""
        notional = Decimal(0)
        initial = Decimal(0)
        for p in self.positions.values():
            price = self.view.oracle_price(p.market)
            imf = self.view.market_params(p.market)[2]
            notional += p.size * price
            initial += abs(p.size * price * imf)
        equity = self.usdc + notional
        return {
            "address": self.address,
            "subaccountNumber": self.number,
            "equity": fmt(equity),
            "freeCollateral": fmt(equity - initial),
            "openPerpetualPositions": {p["market"]: p for p in self.open_positions()},
            "assetPositions": {"USDC": self._usdc_json()},
            "marginEnabled": True,
            "updatedAtHeight": str(self.view.height),
            "latestProcessedBlockHeight": str(self.view.height),
        }

    def asset_positions(self) -> list[dict[str, Any]]:
        """GET /v4/assetPositions ``positions``."""
        return [self._usdc_json()]

    def open_orders(self) -> list[dict[str, Any]]:
        """Orders still working: the snapshot's ``orders``."""
        working = ("OPEN", "BEST_EFFORT_OPENED", "UNTRIGGERED")
        return [dict(o) for o in self.orders.values() if o["status"] in working]

    def all_orders(self) -> list[dict[str, Any]]:
        """GET /v4/orders: newest first."""
        return [dict(o) for o in reversed(self.orders.values())][:_REST_LIMIT]

    def rest_fills(self) -> list[dict[str, Any]]:
        """GET /v4/fills: newest first, in the REST form (``market``, ``marketType``)."""
        out = []
        for fill in reversed(self.fills[-_REST_LIMIT:]):
            keep = ("id", "side", "liquidity", "type", "price", "size", "fee", "createdAt")
            rest = {k: fill[k] for k in keep}
            rest.update(
                market=fill["ticker"],
                marketType="PERPETUAL",
                orderId=fill["orderId"],
                createdAtHeight=fill["createdAtHeight"],
                clientMetadata=fill["clientMetadata"],
                subaccountNumber=self.number,
            )
            if "affiliateRevShare" in fill:
                rest["affiliateRevShare"] = fill["affiliateRevShare"]
            out.append(rest)
        return out

    def total_rewards(self) -> str:
        """The address's ``totalTradingRewards``."""
        return fmt(self.rewards)
