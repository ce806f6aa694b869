"""A seeded, deterministic market model that speaks the indexer's JSON.

Why a clock of its own: the output must be a function of the seed and the number of steps, never
of wall time, so two runs give the same bytes. Market time starts at :data:`EPOCH` and advances
``step_ms`` per :meth:`MarketModel.step`; the server decides how fast steps happen in wall time.

Per step and market: the mid price random-walks in ticks; the book is rebuilt around it (bids
strictly below the mid, asks strictly above: never crossed) and the changed levels are emitted
with absolute sizes (0 deletes); takers trade against the top of the book; candles of every
resolution roll from those trades; oracle prices, market stats and hourly funding follow.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from .account import AccountModel
from .indexer_json import fmt, iso

__all__ = [
    "CANDLE_RESOLUTIONS",
    "EPOCH",
    "LISTING_STEPS",
    "Emission",
    "MarketModel",
    "MarketSpec",
    "fmt",
    "iso",
    "spec_for",
]

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
"""Market time of step 0: fixed, so output never depends on when the model runs."""

CANDLE_RESOLUTIONS: dict[str, int] = {
    "1MIN": 60,
    "5MINS": 300,
    "15MINS": 900,
    "30MINS": 1800,
    "1HOUR": 3600,
    "4HOURS": 14400,
    "1DAY": 86400,
}

_KNOWN: dict[str, tuple[str, str, str]] = {
    # ticker: (start price, tick size, step size)
    "BTC-USD": ("65000", "1", "0.0001"),
    "ETH-USD": ("3400", "0.1", "0.001"),
    "SOL-USD": ("150", "0.01", "0.1"),
}
_TRADE_TYPES = ("LIMIT",) * 94 + ("MARKET",) * 4 + ("LIQUIDATED", "DELEVERAGED")
_DEPTH = 25  # levels a side
LISTING_STEPS = 60
"""Steps after the warm-up at which listed markets (``listing=``) go live."""
_HISTORY = 2000  # trades kept per market for REST


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """Static parameters of one simulated perpetual market."""

    ticker: str
    market_id: int
    start_price: Decimal
    tick_size: Decimal
    step_size: Decimal
    initial_margin_fraction: Decimal = Decimal("0.05")
    maintenance_margin_fraction: Decimal = Decimal("0.03")
    open_interest_lower_cap: Decimal = Decimal("0")
    open_interest_upper_cap: Decimal = Decimal("0")


def spec_for(ticker: str, market_id: int) -> MarketSpec:
    """Plausible parameters for a ticker (known majors, or a 100-USD generic market)."""
    price, tick, step = _KNOWN.get(ticker, ("100", "0.01", "1"))
    generic = ticker not in _KNOWN
    return MarketSpec(
        ticker=ticker,
        market_id=market_id,
        start_price=Decimal(price),
        tick_size=Decimal(tick),
        step_size=Decimal(step),
        initial_margin_fraction=Decimal("0.1") if generic else Decimal("0.05"),
        maintenance_margin_fraction=Decimal("0.05") if generic else Decimal("0.03"),
        open_interest_lower_cap=Decimal("5000000") if generic else Decimal("0"),
        open_interest_upper_cap=Decimal("10000000") if generic else Decimal("0"),
    )


@dataclass(frozen=True, slots=True)
class Emission:
    """One update the model produced: the ``contents`` of a channel_data for ``(channel, id)``."""

    channel: str
    id: str | None
    contents: dict[str, Any]


@dataclass(slots=True)
class _Candle:
    started: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    base_volume: Decimal = Decimal(0)
    usd_volume: Decimal = Decimal(0)
    trades: int = 0
    starting_oi: Decimal = Decimal(0)
    mid_open: Decimal = Decimal(0)
    mid_close: Decimal = Decimal(0)


@dataclass(slots=True)
class _Market:
    spec: MarketSpec
    rng: random.Random
    mid: int  # in ticks
    half_spread: int
    bids: dict[int, int] = field(default_factory=dict)  # ticks -> steps
    asks: dict[int, int] = field(default_factory=dict)
    trades: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=_HISTORY))
    candles: dict[str, list[_Candle]] = field(default_factory=dict)
    oracle: Decimal = Decimal(0)
    open_interest: Decimal = Decimal(0)
    volume: Decimal = Decimal(0)
    trade_count: int = 0
    premium_sum: Decimal = Decimal(0)
    premium_n: int = 0
    funding: list[dict[str, Any]] = field(default_factory=list)
    next_rate: Decimal = Decimal(0)


class MarketModel:
    """The whole simulated venue: markets, their books, trades, candles, oracle and funding."""

    def __init__(
        self,
        seed: int,
        markets: tuple[str, ...] = ("BTC-USD", "ETH-USD"),
        step_ms: int = 1000,
        warmup_steps: int = 300,
        start_height: int = 1_000_000,
        listing: tuple[str, ...] = (),
        funding_rate_1h: bool = False,
        account_activity: bool = False,
        buffer_event_ids: bool = False,
    ) -> None:
        if step_ms <= 0:
            raise ValueError("step_ms must be positive")
        self.seed = seed
        self.listing = tuple(t for t in listing if t not in markets)
        self._isolated = frozenset(self.listing)  # listed markets trade isolated once live
        self.funding_rate_1h = funding_rate_1h
        self.account_activity = account_activity
        self.buffer_event_ids = buffer_event_ids
        self._accounts: dict[tuple[str, int], AccountModel] = {}
        self.step_ms = step_ms
        self.steps = 0
        self.height = start_height
        self._markets: dict[str, _Market] = {}
        for index, ticker in enumerate(markets):
            self._add_market(ticker, index)
        self._activate_at = warmup_steps + LISTING_STEPS if self.listing else None
        for _ in range(warmup_steps):
            self.step()

    def _add_market(self, ticker: str, market_id: int) -> _Market:
        spec = spec_for(ticker, market_id)
        rng = random.Random(f"{self.seed}:{ticker}")
        mid = int(spec.start_price / spec.tick_size)
        market = _Market(spec=spec, rng=rng, mid=mid, half_spread=1)
        market.oracle = spec.start_price
        market.open_interest = spec.step_size * 10000
        self._markets[ticker] = market
        self._rebuild_book(market, fill_all=True)
        self._seed_funding(market)
        return market

    def _activate_listing(self) -> Emission:
        """The listed markets go live (their oracle has prices): from now on they trade like the
        others; the indexer announces it with a ``trading`` update carrying each whole market."""
        whole: dict[str, Any] = {}
        for ticker in self.listing:
            market = self._add_market(ticker, len(self._markets))
            body = self._market_json(market)
            body.pop("oraclePrice")  # prices follow on oraclePrices
            market_id = market.spec.market_id
            whole[ticker] = {"id": str(market_id), "marketId": market_id, **body}
        self.listing = ()
        return Emission("v4_markets", None, {"trading": whole})

    # -- clock -----------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """Current market time: EPOCH + steps x step_ms."""
        return EPOCH + timedelta(milliseconds=self.steps * self.step_ms)

    @property
    def tickers(self) -> tuple[str, ...]:
        """The simulated markets, in configuration order."""
        return tuple(self._markets)

    def has_market(self, ticker: str) -> bool:
        """Whether ``ticker`` is simulated."""
        return ticker in self._markets

    # -- stepping --------------------------------------------------------------------------

    def step(self) -> list[Emission]:
        """Advance one step and return its updates in a fixed order."""
        before = self.now
        self.steps += 1
        self.height += 1
        now = self.now
        books: list[Emission] = []
        trades: list[Emission] = []
        candles: list[Emission] = []
        for market in self._markets.values():
            self._walk(market)
            old_bids, old_asks = dict(market.bids), dict(market.asks)
            self._rebuild_book(market, fill_all=False)
            fills = self._take(market, now)
            self._roll_candles(market, now, fills)
            book = self._book_diff(market, old_bids, old_asks)
            if book:
                books.append(Emission("v4_orderbook", market.spec.ticker, book))
            if fills:
                trades.append(Emission("v4_trades", market.spec.ticker, {"trades": fills}))
                for resolution, history in market.candles.items():
                    candles.append(
                        Emission(
                            "v4_candles",
                            f"{market.spec.ticker}/{resolution}",
                            self._candle_json(market, resolution, history[-1], rest=False),
                        )
                    )
            self._sample_premium(market)
        out = books + trades + candles
        if self.steps == self._activate_at:
            out.append(self._activate_listing())
        if self.steps % 2 == 0:
            out.append(Emission("v4_markets", None, {"oraclePrices": self._oracle_json(now)}))
        if self.steps % 10 == 0:
            out.append(Emission("v4_markets", None, {"trading": self._trading_json()}))
        if now.hour != before.hour or now.date() != before.date():
            self._pay_funding(now)
        for account in self._accounts.values():
            out += [Emission("v4_subaccounts", account.channel_id, c) for c in account.step()]
        out.append(
            Emission("v4_block_height", None, {"blockHeight": str(self.height), "time": iso(now)})
        )
        return out

    def _walk(self, m: _Market) -> None:
        vol = max(2, int(m.spec.start_price * Decimal("0.00005") / m.spec.tick_size))
        r = m.rng.random()
        if r < 0.2:
            m.mid -= m.rng.randint(1, vol)
        elif r < 0.4:
            m.mid += m.rng.randint(1, vol)
        floor = _DEPTH + m.half_spread + 2
        if m.mid < floor:
            m.mid = floor + (floor - m.mid)
        noise = m.rng.randint(-2, 2)
        m.oracle = (m.mid + noise) * m.spec.tick_size

    def _rebuild_book(self, m: _Market, fill_all: bool) -> None:
        """Keep levels only inside ``(mid - spread - depth, mid - spread]`` and the mirror."""
        best_bid = m.mid - m.half_spread
        best_ask = m.mid + m.half_spread
        bid_range = range(best_bid - _DEPTH + 1, best_bid + 1)
        ask_range = range(best_ask, best_ask + _DEPTH)
        for side, valid in ((m.bids, bid_range), (m.asks, ask_range)):
            for price in [p for p in side if p not in valid]:
                del side[price]
            for price in valid:
                if price not in side and (fill_all or m.rng.random() < 0.3):
                    side[price] = m.rng.randint(1, 500)
            for _ in range(m.rng.randint(0, 3)):
                price = valid[m.rng.randrange(len(valid))]
                if price in side:
                    side[price] = m.rng.randint(1, 500)
            if m.rng.random() < 0.1 and len(side) > 3:
                victim = sorted(side)[m.rng.randrange(len(side))]
                del side[victim]

    def _take(self, m: _Market, now: datetime) -> list[dict[str, Any]]:
        count = m.rng.choices((0, 1, 2, 3), weights=(50, 30, 15, 5))[0]
        fills: list[dict[str, Any]] = []
        for _ in range(count):
            buy = m.rng.random() < 0.5
            side = m.asks if buy else m.bids
            if not side:
                continue
            price = min(side) if buy else max(side)
            steps = min(side[price], m.rng.randint(1, 50))
            side[price] -= steps
            if side[price] == 0:
                del side[price]
            m.trade_count += 1
            size = steps * m.spec.step_size
            px = price * m.spec.tick_size
            trade = {
                "id": f"{m.spec.market_id:04x}{self.height:012x}{m.trade_count:08x}",
                "size": fmt(size),
                "price": fmt(px),
                "side": "BUY" if buy else "SELL",
                "createdAt": iso(now),
                "type": m.rng.choice(_TRADE_TYPES),
            }
            fills.append(trade)
            m.trades.appendleft({**trade, "createdAtHeight": str(self.height)})
            m.volume += size * px
            m.open_interest += size if m.rng.random() < 0.5 else -min(size, m.open_interest)
        return fills

    def _mid_price(self, m: _Market) -> Decimal:
        if m.bids and m.asks:
            return (max(m.bids) + min(m.asks)) * m.spec.tick_size / 2
        return m.mid * m.spec.tick_size

    def _roll_candles(self, m: _Market, now: datetime, fills: list[dict[str, Any]]) -> None:
        mid = self._mid_price(m)
        for resolution, seconds in CANDLE_RESOLUTIONS.items():
            history = m.candles.setdefault(resolution, [])
            epoch_s = int(now.timestamp())
            started = datetime.fromtimestamp(epoch_s - epoch_s % seconds, UTC)
            if not history or history[-1].started != started:
                last = history[-1].close if history else mid
                history.append(
                    _Candle(
                        started=started,
                        open=last,
                        high=last,
                        low=last,
                        close=last,
                        starting_oi=m.open_interest,
                        mid_open=mid,
                        mid_close=mid,
                    )
                )
                if len(history) > 1000:
                    del history[0]
            candle = history[-1]
            candle.mid_close = mid
            for trade in fills:  # in execution order
                px, size = Decimal(trade["price"]), Decimal(trade["size"])
                if candle.trades == 0:
                    candle.open = candle.high = candle.low = px
                candle.high = max(candle.high, px)
                candle.low = min(candle.low, px)
                candle.close = px
                candle.trades += 1
                candle.base_volume += size
                candle.usd_volume += size * px

    def _book_diff(
        self, m: _Market, old_bids: dict[int, int], old_asks: dict[int, int]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, old, new, descending in (
            ("bids", old_bids, m.bids, True),
            ("asks", old_asks, m.asks, False),
        ):
            changed = sorted(
                (p for p in old.keys() | new.keys() if old.get(p) != new.get(p)),
                reverse=descending,
            )
            if changed:
                out[name] = [
                    [fmt(p * m.spec.tick_size), fmt(new.get(p, 0) * m.spec.step_size)]
                    for p in changed
                ]
        return out

    def _sample_premium(self, m: _Market) -> None:
        if m.oracle > 0:
            m.premium_sum += (self._mid_price(m) - m.oracle) / m.oracle
            m.premium_n += 1
            cap = Decimal("0.0001")
            avg = m.premium_sum / m.premium_n / 8
            m.next_rate = max(-cap, min(cap, avg)).quantize(Decimal("1E-10"))

    def _seed_funding(self, m: _Market) -> None:
        for hours_before in range(24, 0, -1):
            at = EPOCH - timedelta(hours=hours_before)
            rate = Decimal(m.rng.randint(-100, 100)) / Decimal(10_000_000)
            m.funding.append(
                {
                    "ticker": m.spec.ticker,
                    "rate": fmt(rate),
                    "price": fmt(m.spec.start_price),
                    "effectiveAt": iso(at),
                    "effectiveAtHeight": str(self.height - hours_before * 3600),
                }
            )

    def _pay_funding(self, now: datetime) -> None:
        for m in self._markets.values():
            m.funding.append(
                {
                    "ticker": m.spec.ticker,
                    "rate": fmt(m.next_rate),
                    "price": fmt(m.oracle),
                    "effectiveAt": iso(now.replace(minute=0, second=0, microsecond=0)),
                    "effectiveAtHeight": str(self.height),
                }
            )
            m.premium_sum, m.premium_n = Decimal(0), 0

    # -- JSON views (snapshots, REST bodies, updates) --------------------------------------

    def _market_json(self, m: _Market) -> dict[str, Any]:
        s = m.spec
        return {
            "clobPairId": str(s.market_id),
            "ticker": s.ticker,
            "status": "ACTIVE",
            "oraclePrice": fmt(m.oracle),
            "priceChange24H": fmt(m.oracle - s.start_price),
            "volume24H": fmt(m.volume),
            "trades24H": m.trade_count,
            "nextFundingRate": fmt(m.next_rate),
            "initialMarginFraction": fmt(s.initial_margin_fraction),
            "maintenanceMarginFraction": fmt(s.maintenance_margin_fraction),
            "openInterest": fmt(m.open_interest),
            "atomicResolution": -10 if s.ticker == "BTC-USD" else -9,
            "quantumConversionExponent": -9,
            "tickSize": fmt(s.tick_size),
            "stepSize": fmt(s.step_size),
            "stepBaseQuantums": 1000000,
            "subticksPerTick": 100000,
            "marketType": "ISOLATED" if s.ticker in self._isolated else "CROSS",
            "openInterestLowerCap": fmt(s.open_interest_lower_cap),
            "openInterestUpperCap": fmt(s.open_interest_upper_cap),
            "baseOpenInterest": fmt(m.open_interest),
            **self._v8_fields(),
        }

    def _v8_fields(self) -> dict[str, Any]:
        """Protocol v8 adds each market's default 1-hour funding rate (0 on dYdX's perps)."""
        return {"defaultFundingRate1H": "0"} if self.funding_rate_1h else {}

    def _listed_json(self, ticker: str) -> dict[str, Any]:
        """A market voted in but not yet trading: INITIALIZING, no oracle price, nothing traded
        (its parameters are those it trades with once live)."""
        s = spec_for(ticker, len(self._markets) + self.listing.index(ticker))
        return {
            "clobPairId": str(s.market_id),
            "ticker": ticker,
            "status": "INITIALIZING",
            "oraclePrice": None,
            "priceChange24H": "0",
            "volume24H": "0",
            "trades24H": 0,
            "nextFundingRate": "0",
            "initialMarginFraction": fmt(s.initial_margin_fraction),
            "maintenanceMarginFraction": fmt(s.maintenance_margin_fraction),
            "openInterest": "0",
            "atomicResolution": -9,
            "quantumConversionExponent": -9,
            "tickSize": fmt(s.tick_size),
            "stepSize": fmt(s.step_size),
            "stepBaseQuantums": 1000000,
            "subticksPerTick": 100000,
            "marketType": "ISOLATED",
            "openInterestLowerCap": fmt(s.open_interest_lower_cap),
            "openInterestUpperCap": fmt(s.open_interest_upper_cap),
            "baseOpenInterest": "0",
            **self._v8_fields(),
        }

    def markets_json(self, ticker: str | None = None) -> dict[str, Any]:
        """``{"markets": {...}}``: the v4_markets snapshot and GET /v4/perpetualMarkets body."""
        chosen = [m for t, m in self._markets.items() if ticker is None or t == ticker]
        markets = {m.spec.ticker: self._market_json(m) for m in chosen}
        for listed in self.listing:
            if ticker is None or ticker == listed:
                markets[listed] = self._listed_json(listed)
        return {"markets": markets}

    def _oracle_json(self, now: datetime) -> dict[str, Any]:
        return {
            t: {
                "oraclePrice": fmt(m.oracle),
                "effectiveAt": iso(now),
                "effectiveAtHeight": str(self.height),
                "marketId": m.spec.market_id,
            }
            for t, m in self._markets.items()
        }

    def _trading_json(self) -> dict[str, Any]:
        return {
            t: {
                "id": str(m.spec.market_id),
                "ticker": t,
                "nextFundingRate": fmt(m.next_rate),
                "openInterest": fmt(m.open_interest),
                "baseOpenInterest": fmt(m.open_interest),
                "volume24H": fmt(m.volume),
                "trades24H": m.trade_count,
                "priceChange24H": fmt(m.oracle - m.spec.start_price),
            }
            for t, m in self._markets.items()
        }

    def orderbook_json(self, ticker: str) -> dict[str, Any]:
        """The book as a snapshot: ``{bids: [{price, size}], asks: [...]}``, best first."""
        m = self._markets[ticker]
        tick, step = m.spec.tick_size, m.spec.step_size

        def levels(side: dict[int, int], descending: bool) -> list[dict[str, str]]:
            return [
                {"price": fmt(p * tick), "size": fmt(side[p] * step)}
                for p in sorted(side, reverse=descending)
            ]

        return {"bids": levels(m.bids, True), "asks": levels(m.asks, False)}

    def trades_json(self, ticker: str, limit: int = 100, rest: bool = False) -> dict[str, Any]:
        """Recent trades, newest first (REST adds ``createdAtHeight``)."""
        recent = list(self._markets[ticker].trades)[:limit]
        if not rest:
            recent = [{k: v for k, v in t.items() if k != "createdAtHeight"} for t in recent]
        return {"trades": recent}

    def _candle_json(self, m: _Market, resolution: str, c: _Candle, rest: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "startedAt": iso(c.started),
            "ticker": m.spec.ticker,
            "resolution": resolution,
            "low": fmt(c.low),
            "high": fmt(c.high),
            "open": fmt(c.open),
            "close": fmt(c.close),
            "baseTokenVolume": fmt(c.base_volume),
            "usdVolume": fmt(c.usd_volume),
            "trades": c.trades,
            "startingOpenInterest": fmt(c.starting_oi),
        }
        if rest:
            body["orderbookMidPriceOpen"] = fmt(c.mid_open)
            body["orderbookMidPriceClose"] = fmt(c.mid_close)
            body["id"] = f"{m.spec.ticker}-{resolution}-{iso(c.started)}"
        return body

    def candles_json(
        self,
        ticker: str,
        resolution: str,
        limit: int = 100,
        from_time: datetime | None = None,
        to_time: datetime | None = None,
        rest: bool = True,
    ) -> dict[str, Any]:
        """Candles newest first, optionally within ``[from_time, to_time]`` (start times)."""
        m = self._markets[ticker]
        chosen = [
            c
            for c in reversed(m.candles.get(resolution, []))
            if (from_time is None or c.started >= from_time)
            and (to_time is None or c.started <= to_time)
        ][:limit]
        return {"candles": [self._candle_json(m, resolution, c, rest) for c in chosen]}

    def funding_json(self, ticker: str, limit: int = 100) -> dict[str, Any]:
        """Historical funding, newest first; ``rate`` is the 1-hour rate."""
        return {"historicalFunding": list(reversed(self._markets[ticker].funding))[:limit]}

    def block_height_json(self) -> dict[str, Any]:
        """The v4_block_height snapshot."""
        return {"height": str(self.height), "time": iso(self.now)}

    # -- the account (see account.py) --------------------------------------------------

    def top_of_book(self, ticker: str) -> tuple[Decimal, Decimal]:
        """Best bid and best ask of a simulated market."""
        m = self._markets[ticker]
        bid = max(m.bids) if m.bids else m.mid - m.half_spread
        ask = min(m.asks) if m.asks else m.mid + m.half_spread
        return bid * m.spec.tick_size, ask * m.spec.tick_size

    def oracle_price(self, ticker: str) -> Decimal:
        """A simulated market's oracle price."""
        return self._markets[ticker].oracle

    def market_params(self, ticker: str) -> tuple[int, Decimal, Decimal, Decimal]:
        """``(market_id, step_size, initial_margin_fraction, tick_size)`` of a market."""
        s = self._markets[ticker].spec
        return s.market_id, s.step_size, s.initial_margin_fraction, s.tick_size

    def account(self, address: str, number: int) -> AccountModel | None:
        """The scripted account of ``address/number`` (made on first use), or None when the
        model runs without account activity (every subaccount is flat)."""
        if not self.account_activity:
            return None
        key = (address, number)
        if key not in self._accounts:
            self._accounts[key] = AccountModel(
                self, address, number, buffer_event_ids=self.buffer_event_ids
            )
        return self._accounts[key]

    def subaccount_snapshot(self, address: str, number: int) -> dict[str, Any]:
        """The v4_subaccounts ``subscribed`` contents."""
        account = self.account(address, number)
        return {
            "subaccount": self.subaccount_json(address, number),
            "orders": account.open_orders() if account else [],
            "blockHeight": str(self.height),
        }

    def order_json(self, order_id: str) -> dict[str, Any] | None:
        """GET /v4/orders/{id}: the order of any scripted account, or None."""
        for account in self._accounts.values():
            if order_id in account.orders:
                return dict(account.orders[order_id])
        return None

    def account_rest(self, route: str, address: str, number: int) -> Any:
        """The bodies of the account routes (see ``sources.ACCOUNT_ROUTES``)."""
        account = self.account(address, number)
        if route == "addresses":
            rewards = account.total_rewards() if account else "0"
            return {
                "subaccounts": [self.subaccount_json(address, number)],
                "totalTradingRewards": rewards,
            }
        if route == "asset_positions":
            usdc = self.subaccount_json(address, number)["assetPositions"]["USDC"]
            return {"positions": [usdc]}
        if route == "perpetual_positions":
            return {"positions": account.open_positions() if account else []}
        if route == "fills":
            return {"fills": account.rest_fills() if account else []}
        return account.all_orders() if account else []  # "orders"

    def subaccount_json(self, address: str, number: int) -> dict[str, Any]:
        """The subaccount object: the scripted account's, or a flat, collateral-only one."""
        account = self.account(address, number)
        if account is not None:
            return account.subaccount_json()
        return {
            "address": address,
            "subaccountNumber": number,
            "equity": "10000",
            "freeCollateral": "10000",
            "openPerpetualPositions": {},
            "assetPositions": {
                "USDC": {
                    "size": "10000",
                    "symbol": "USDC",
                    "side": "LONG",
                    "assetId": "0",
                    "subaccountNumber": number,
                }
            },
            "marginEnabled": True,
            "updatedAtHeight": str(self.height),
            "latestProcessedBlockHeight": str(self.height),
        }
