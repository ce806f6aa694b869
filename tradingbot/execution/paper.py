"""Paper execution against the replayed (or live) book: the same code path as live, no venue.

Taker fills walk the opposite side level by level up to the intent's limit price; what the
book cannot give is cancelled (IOC) or rests at the limit (GTC) and fills as maker when a public
trade prints through it. Liquidity taken from a level is remembered until that market's next
book update, so two intents in a row cannot both take the same resting size. Fees are charged
per fill (taker / maker rate x notional); funding is settled hourly through
:func:`tradingbot.risk.accrue_funding` at each market's latest predicted 1-hour rate, or from
``FundingRate`` events when the stream carries them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tradingbot.feeds.events import (
    Fill,
    FundingRate,
    MarketUpdate,
    OraclePrice,
    Side,
    Trade,
)
from tradingbot.market.book import BookState
from tradingbot.risk import (
    Account,
    FundingPayment,
    MarketRiskParams,
    PerpPosition,
    accrue_funding,
    equity,
    params_from_market_update,
)
from tradingbot.stages import KindOf
from tradingbot.strategy.intents import TimeInForce, TradeIntent

from .reports import ExecutionReport, Liquidity, OrderStatus

__all__ = ["FeeSchedule", "PaperBroker", "PaperPosition"]

ZERO = Decimal(0)


_MARKET_DATA = KindOf(BookState, OraclePrice, MarketUpdate, FundingRate, Trade)
_BOOK, _ORACLE, _UPDATE, _FUNDING, _TRADE = range(5)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Fee rates as fractions of notional (dYdX's first tier: 5 bps taker, 1 bp maker)."""

    taker: Decimal = Decimal("0.0005")
    maker: Decimal = Decimal("0.0001")


@dataclass(slots=True)
class PaperPosition:
    market: str
    size: Decimal
    entry_price: Decimal


@dataclass(slots=True)
class _Resting:
    intent: TradeIntent
    remaining: Decimal
    fills: list[Fill] = field(default_factory=list)


def _hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


class PaperBroker:
    """Positions, USDC balance, fees, funding and fills, all in ``Decimal``.

    ``positions`` seeds open positions as ``{market: (signed size, entry price)}`` (scenario
    tests start leveraged); the balance is then ``starting_quote`` minus their cost.
    """

    def __init__(
        self,
        starting_quote: Decimal = Decimal(10_000),
        *,
        fees: FeeSchedule | None = None,
        positions: Mapping[str, tuple[Decimal, Decimal]] | None = None,
        id_prefix: str = "pf",
    ) -> None:
        self.fees = fees or FeeSchedule()
        self.id_prefix = id_prefix
        self.quote = starting_quote
        self._positions: dict[str, PaperPosition] = {}
        for market, (size, price) in (positions or {}).items():
            self._positions[market] = PaperPosition(market, size, price)
            self.quote -= size * price
        self._books: dict[str, BookState] = {}
        self._consumed: dict[str, dict[Decimal, Decimal]] = {}
        self._oracle: dict[str, Decimal] = {}
        self._params: dict[str, MarketRiskParams] = {}
        self._rate_1h: dict[str, Decimal] = {}
        self._explicit_funding: set[str] = set()
        self._funding_hour: datetime | None = None  # the next settlement time
        self._resting: dict[str, _Resting] = {}
        self._fill_seq = 0
        self.fills = 0
        self.fees_paid = ZERO
        self.funding_paid = ZERO
        self.realized_pnl = ZERO
        self.funding_payments: list[FundingPayment] = []

    # -- PositionView ----------------------------------------------------------------------

    def position_size(self, market: str) -> Decimal:
        pos = self._positions.get(market)
        return pos.size if pos is not None else ZERO

    def entry_price(self, market: str) -> Decimal | None:
        pos = self._positions.get(market)
        return pos.entry_price if pos is not None else None

    def equity(self) -> Decimal:
        return equity(self.account())

    # -- state -----------------------------------------------------------------------------

    def positions(self) -> dict[str, PaperPosition]:
        return {m: replace(p) for m, p in sorted(self._positions.items())}

    def params(self, market: str) -> MarketRiskParams | None:
        return self._params.get(market)

    def oracle_price(self, market: str) -> Decimal | None:
        return self._oracle.get(market)

    def book(self, market: str) -> BookState | None:
        return self._books.get(market)

    def resting(self) -> list[TradeIntent]:
        return [r.intent for r in self._resting.values()]

    def account(self) -> Account:
        """The cross-margin account at oracle prices (entry price until an oracle is seen).

        A position whose market has sent no parameters yet is margined at IMF 5% / MMF 3%
        (the majors' defaults), so an early revaluation never fails."""
        positions = []
        for market, pos in sorted(self._positions.items()):
            params = self._params.get(market) or MarketRiskParams(
                market, Decimal("0.05"), Decimal("0.03")
            )
            price = self._oracle.get(market, pos.entry_price)
            positions.append(PerpPosition(params, pos.size, price))
        return Account(self.quote, tuple(positions))

    # -- market data -----------------------------------------------------------------------

    def on_event(self, item: Any, now: datetime | None) -> list[Fill]:
        """Track books, oracle prices, market parameters and funding; fill resting orders on
        trades through their price. Returns maker fills."""
        fills: list[Fill] = []
        kind = _MARKET_DATA[type(item)]
        if kind == _BOOK:
            self._books[item.market] = item
            self._consumed.pop(item.market, None)
        elif kind == _ORACLE:
            self._oracle[item.market] = item.price
        elif kind == _UPDATE:
            if item.oracle_price is not None:
                self._oracle[item.market] = item.oracle_price
            if item.next_funding_rate is not None:
                self._rate_1h[item.market] = item.next_funding_rate
            try:
                self._params[item.market] = params_from_market_update(
                    item, self._params.get(item.market)
                )
            except ValueError:
                pass  # a partial update before any snapshot: nothing to merge onto yet
        elif kind == _FUNDING:
            self._explicit_funding.add(item.market)
            self._settle({item.market: item.rate})
        elif kind == _TRADE:
            fills = self._maker_fills(item, now)
        if now is not None and (self._funding_hour is None or now >= self._funding_hour):
            self._funding_tick(now)  # its early return inlined: this runs for every item
        return fills

    def _funding_tick(self, now: datetime) -> None:
        due = self._funding_hour
        if due is not None and now < due:
            return  # the common case: one comparison per event
        hour = _hour(now.astimezone(UTC))
        self._funding_hour = hour + timedelta(hours=1)
        if due is None:
            return
        rates = {m: r for m, r in self._rate_1h.items() if m not in self._explicit_funding}
        self._settle(rates)

    def _settle(self, rates_1h: Mapping[str, Decimal]) -> None:
        account, payments = accrue_funding(self.account(), rates_1h)
        paid = self.quote - account.quote_balance
        self.quote = account.quote_balance
        self.funding_paid += paid
        self.funding_payments.extend(p for p in payments if p.amount != ZERO)

    # -- orders ----------------------------------------------------------------------------

    def submit(
        self, intent: TradeIntent, now: datetime | None
    ) -> tuple[ExecutionReport, list[Fill]]:
        """Execute ``intent`` now: walk the book, then cancel (IOC) or rest (GTC) the rest."""
        size = intent.size
        if intent.reduce_only:
            held = self.position_size(intent.market)
            if held == ZERO or (held > ZERO) == (intent.side is Side.BUY):
                return self._report(intent, OrderStatus.REJECTED, [], now, ("reduce_only",)), []
            size = min(size, abs(held))
        book = self._books.get(intent.market)
        fills: list[Fill] = []
        remaining = size
        if book is not None:
            remaining, fills = self._walk(intent, book, size, now)
        if remaining > ZERO and intent.time_in_force is TimeInForce.GTC:
            self._resting[intent.id] = _Resting(intent, remaining, list(fills))
            return self._report(intent, OrderStatus.RESTING, fills, now), fills
        if remaining == ZERO:
            status = OrderStatus.FILLED
        elif fills:
            status = OrderStatus.PARTIALLY_FILLED
        else:
            status = OrderStatus.CANCELED
        return self._report(intent, status, fills, now), fills

    def cancel(self, intent_id: str) -> bool:
        return self._resting.pop(intent_id, None) is not None

    def _walk(
        self, intent: TradeIntent, book: BookState, size: Decimal, now: datetime | None
    ) -> tuple[Decimal, list[Fill]]:
        buy = intent.side is Side.BUY
        levels = book.asks if buy else book.bids
        consumed = self._consumed.setdefault(intent.market, {})
        remaining = size
        fills: list[Fill] = []
        for price, level_size in levels:
            if (buy and price > intent.price) or (not buy and price < intent.price):
                break
            available = level_size - consumed.get(price, ZERO)
            if available <= ZERO:
                continue
            qty = min(available, remaining)
            consumed[price] = consumed.get(price, ZERO) + qty
            fills.append(self._fill(intent, price, qty, Liquidity.TAKER, now))
            remaining -= qty
            if remaining == ZERO:
                break
        return remaining, fills

    def _maker_fills(self, trade: Trade, now: datetime | None) -> list[Fill]:
        fills: list[Fill] = []
        for key in list(self._resting):
            rest = self._resting[key]
            intent = rest.intent
            if intent.market != trade.market:
                continue
            buy = intent.side is Side.BUY
            through = trade.price <= intent.price if buy else trade.price >= intent.price
            if not through or trade.side == intent.side:
                continue  # only a taker on the other side can hit our resting order
            qty = min(rest.remaining, trade.size)
            fill = self._fill(intent, intent.price, qty, Liquidity.MAKER, now or trade.created_at)
            fills.append(fill)
            rest.remaining -= qty
            if rest.remaining == ZERO:
                del self._resting[key]
        return fills

    def _fill(
        self,
        intent: TradeIntent,
        price: Decimal,
        qty: Decimal,
        liquidity: Liquidity,
        now: datetime | None,
    ) -> Fill:
        rate = self.fees.taker if liquidity is Liquidity.TAKER else self.fees.maker
        notional = price * qty
        fee = notional * rate
        signed = qty if intent.side is Side.BUY else -qty
        self.quote -= signed * price + fee
        self.fees_paid += fee
        self._apply_position(intent.market, signed, price)
        self._fill_seq += 1
        self.fills += 1
        return Fill(
            channel="paper",
            fill_id=f"{self.id_prefix}{self._fill_seq:06d}",
            market=intent.market,
            side=intent.side,
            price=price,
            size=qty,
            liquidity=liquidity.value,
            type="LIMIT",
            fee=fee,
            quote_amount=notional,
            order_id=intent.id,
            created_at=now,
        )

    def _apply_position(self, market: str, signed: Decimal, price: Decimal) -> None:
        pos = self._positions.get(market)
        if pos is None:
            self._positions[market] = PaperPosition(market, signed, price)
            return
        old = pos.size
        new = old + signed
        if old * signed > ZERO:  # adding: average the entry
            pos.entry_price = (abs(old) * pos.entry_price + abs(signed) * price) / abs(new)
        else:
            closed = min(abs(signed), abs(old))
            direction = 1 if old > ZERO else -1
            self.realized_pnl += (price - pos.entry_price) * closed * direction
            if abs(signed) > abs(old):  # flipped: the rest opens at this price
                pos.entry_price = price
        pos.size = new
        if new == ZERO:
            del self._positions[market]

    def _report(
        self,
        intent: TradeIntent,
        status: OrderStatus,
        fills: list[Fill],
        now: datetime | None,
        reasons: tuple[str, ...] = (),
    ) -> ExecutionReport:
        filled = sum((f.size for f in fills), ZERO)
        notional = sum((f.price * f.size for f in fills), ZERO)
        return ExecutionReport(
            intent_id=intent.id,
            market=intent.market,
            side=intent.side,
            kind=intent.kind,
            status=status,
            requested=intent.size,
            filled=filled,
            average_price=notional / filled if filled else None,
            fee=sum((f.fee or ZERO for f in fills), ZERO),
            at=now,
            reasons=reasons,
            note=intent.reason,
        )
