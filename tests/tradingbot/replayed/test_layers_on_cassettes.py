"""Each layer on the bundled dYdX cassettes (``cassettes/dydx/``), and only on them.

Input is always ``cassette_stream(path, direction="recv", scheduler=...)`` -> ``decode``
(flat_map) -> the layer's reactivex operator; the assertions are on the output stream.

``book_trades_candles.jsonl`` was recorded at 20x real time (one market second per 50 ms of
wall time), so it is replayed at ``speed=1/20`` on a virtual clock that starts at the
cassette's market start: virtual time then follows market time, and bar timers fire at bucket
ends. ``markets_oracle.jsonl`` (100x) is replayed as recorded.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import reactivex
import reactivex.operators as ops
from reactivex import Observable
from reactivex.scheduler import ImmediateScheduler

from pytest_streamreplay import (
    StreamHasher,
    VirtualScheduler,
    cassette_stream,
    collect,
    collect_notifications,
)
from tradingbot.feeds.dydx import decode
from tradingbot.feeds.events import (
    Candle,
    MarketEvent,
    MarketUpdate,
    OraclePrice,
    Subscribed,
    Trade,
)
from tradingbot.market import Bar, BookState, LateTrade, bars, book_states, candle_checks
from tradingbot.market.book import CrossedBookResolved, ResyncRequest
from tradingbot.market.operators import order_books
from tradingbot.pipeline import cassette_start, replay
from tradingbot.risk import (
    Account,
    GuardConfig,
    LiquidationGuard,
    MarketRiskParams,
    PerpPosition,
    equity,
    is_liquidatable,
    liquidation_price,
    maintenance_ratio,
    params_from_market_update,
    total_mmr,
)
from tradingbot.signals import EMA, RSI, VWAP, Score, SignalConfig, scores

REPO = Path(__file__).resolve().parents[3]
DYDX = REPO / "cassettes" / "dydx"
BOOK_TRADES_CANDLES = DYDX / "book_trades_candles.jsonl"
MARKETS_ORACLE = DYDX / "markets_oracle.jsonl"
MARKETS = ("BTC-USD", "ETH-USD")
SPEEDUP = 20  # the recording's market seconds per wall second
# Replayed trades arrive 0.2-1.14 s of market time after their ``created_at`` (the recording's
# own latency, scaled by 20); a bucket's timer must wait for its last trade or that trade would
# come out as a LateTrade (the bars test asserts none does).
CONFIRM_DELAY = timedelta(seconds=2)
SIGNALS = SignalConfig(ema_fast=2, ema_slow=3, rsi=2, atr=2, volatility_window=3)


# -- replayed input ----------------------------------------------------------------------------


def decoded(messages: Observable[Any]) -> Observable[MarketEvent]:
    """Raw indexer messages -> events, each message's events in order at its instant."""
    immediate = ImmediateScheduler.singleton()
    return messages.pipe(ops.flat_map(lambda m: reactivex.from_iterable(decode(m), immediate)))


def market_clock() -> VirtualScheduler:
    start = cassette_start(BOOK_TRADES_CANDLES)
    assert start is not None
    return VirtualScheduler(start)


def book_events(sched: VirtualScheduler) -> Observable[MarketEvent]:
    return decoded(
        cassette_stream(BOOK_TRADES_CANDLES, direction="recv", scheduler=sched, speed=1 / SPEEDUP)
    )


def live_trades(events: Observable[MarketEvent]) -> Observable[MarketEvent]:
    """Drop the trades of subscription snapshots (history, out of time order): per
    subscription, a fresh set of the snapshot messages' ids."""

    def build() -> Observable[MarketEvent]:
        snapshot_ids: set[tuple[str | None, int | None]] = set()

        def keep(e: MarketEvent) -> bool:
            if isinstance(e, Subscribed):
                snapshot_ids.add((e.connection_id, e.message_id))
            return not (isinstance(e, Trade) and (e.connection_id, e.message_id) in snapshot_ids)

        return events.pipe(ops.filter(keep))

    return reactivex.defer(lambda _: build())


def stamped(sched: VirtualScheduler) -> Callable[[Observable[Any]], Observable[Any]]:
    """Pair each item with the virtual (market) time it came out at."""
    return ops.map(lambda item: (sched.now, item))


def q(value: D | float | None, places: str = "0.0001") -> str | None:
    return None if value is None else str(D(str(value)).quantize(D(places)))


# -- 1. market state (L3) ----------------------------------------------------------------------


def test_order_books_never_cross_and_ids_increase(stream_snapshot: Any) -> None:
    sched = market_clock()
    events = book_events(sched)
    # message ids never go back per connection (events of one message share its id)
    last: dict[str | None, int] = {}
    for e in collect(events, scheduler=sched):
        assert e.message_id is not None
        assert e.message_id >= last.get(e.connection_id, -1), e
        last[e.connection_id] = e.message_id
    assert len(last) == 1 and max(last.values()) > 500

    sched = market_clock()
    out = collect(book_events(sched).pipe(order_books(depth=10), stamped(sched)), scheduler=sched)
    states = [(t, s) for t, s in out if isinstance(s, BookState)]
    assert not [s for _, s in out if isinstance(s, ResyncRequest)]
    resolved = [s for _, s in out if isinstance(s, CrossedBookResolved)]
    assert {s.market for _, s in states} == set(MARKETS) and len(states) > 500
    for _, s in states:
        assert not s.crossed and s.best_bid and s.best_ask, s
        assert s.best_bid[0] < s.best_ask[0], s
    final = {s.market: s for _, s in states}
    minutes: dict[str, dict[str, Any]] = defaultdict(dict)
    for t, s in states:
        row = minutes[s.market].setdefault(
            t.strftime("%H:%M"), {"states": 0, "min_spread": None, "max_spread": None}
        )
        row["states"] += 1
        spread = s.best_ask[0] - s.best_bid[0]
        row["min_spread"] = str(min(D(row["min_spread"] or spread), spread))
        row["max_spread"] = str(max(D(row["max_spread"] or spread), spread))
        row["last_mid"] = str(s.mid)
    assert {
        "uncrossed_reports": len(resolved),
        "top_of_book": {
            m: {"bid": [str(x) for x in s.best_bid], "ask": [str(x) for x in s.best_ask]}
            for m, s in sorted(final.items())
        },
        "per_minute": dict(sorted(minutes.items())),
    } == stream_snapshot


def test_bars_confirm_at_bucket_end_and_match_venue_candles(stream_snapshot: Any) -> None:
    sched = market_clock()
    events = book_events(sched).pipe(ops.share())
    bar_stream = live_trades(events).pipe(
        bars(["1MIN"], scheduler=sched, confirm_delay=CONFIRM_DELAY)
    )
    candles = events.pipe(ops.filter(lambda e: isinstance(e, Candle)))
    merged = reactivex.merge(bar_stream.pipe(stamped(sched)), candles.pipe(stamped(sched)))
    checker_in: list[Any] = []
    checks = collect(
        merged.pipe(
            ops.do_action(checker_in.append),
            ops.map(lambda pair: pair[1]),
            candle_checks(tolerance=D("0.000001")),
        ),
        scheduler=sched,
    )
    assert not [x for _, x in checker_in if isinstance(x, LateTrade)]
    confirmed = [(t, b) for t, b in checker_in if isinstance(b, Bar) and b.confirmed]
    # confirmed once per bucket, at the bucket end (+ delay) at the latest and never before it
    for t, b in confirmed:
        assert b.ended_at <= t <= b.ended_at + CONFIRM_DELAY, (t, b)
    assert len({(b.market, b.started_at) for _, b in confirmed}) == len(confirmed)
    # some buckets closed by the timer on virtual time, not only by a later bucket's trade
    assert any(t == b.ended_at + CONFIRM_DELAY for t, b in confirmed)
    for market in MARKETS:
        mine = [b for _, b in confirmed if b.market == market]
        assert len(mine) >= 4, market
        assert [b.partial for b in mine] == [True] + [False] * (len(mine) - 1)
    # the checker compared every complete confirmed bar with the venue's candle of its bucket
    checked = {(c.market, c.started_at) for c in checks}
    complete = {(b.market, b.started_at) for _, b in confirmed if not b.partial}
    assert complete <= checked and len(checked) >= 6
    latest = {(c.market, c.started_at): c for c in checks}  # a later candle is checked again
    differences = {
        f"{m} {s:%H:%M}": [(d.field, str(d.ours), str(d.venue)) for d in c.differences]
        for (m, s), c in sorted(latest.items())
    }
    assert all(not diff for diff in differences.values()), differences
    assert {
        "confirmed": [
            f"{b.market} {b.started_at:%H:%M} at {t:%H:%M:%S.%f} o={b.open} c={b.close} "
            f"n={b.trades} partial={b.partial}"
            for t, b in confirmed
        ],
        "checks": differences,
    } == stream_snapshot


# -- 2. signals (L4/L5) ------------------------------------------------------------------------


def batch_ema(xs: list[D], n: int) -> list[D | None]:
    """Closed form: seed s = mean(x[:n]); x_t = (1-a)^(t-n+1)·s + a·Σ_{k=n}^{t} (1-a)^(t-k)·x_k."""
    a = D(2) / (n + 1)
    seed = sum(xs[:n], D(0)) / n
    out: list[D | None] = [None] * (n - 1)
    for t in range(n - 1, len(xs)):
        tail = sum((a * (1 - a) ** (t - k) * xs[k] for k in range(n, t + 1)), D(0))
        out.append((1 - a) ** (t - n + 1) * seed + tail)
    return out


def batch_rsi(xs: list[D], n: int) -> list[D | None]:
    diffs = [b - a for a, b in itertools.pairwise(xs)]
    gains = [max(d, D(0)) for d in diffs]
    losses = [max(-d, D(0)) for d in diffs]
    out: list[D | None] = [None] * n
    if len(diffs) < n:
        return out[: len(xs)]
    g, l_ = sum(gains[:n], D(0)) / n, sum(losses[:n], D(0)) / n
    for i in range(n, len(diffs) + 1):
        if i > n:
            g = g + (gains[i - 1] - g) / n
            l_ = l_ + (losses[i - 1] - l_) / n
        if l_ == 0:
            out.append(D(100) if g > 0 else D(50))
        else:
            out.append(D(100) - D(100) / (1 + g / l_))
    return out


def per_trade(factory: Callable[[], Any], update: Callable[[Any, Trade], Any]) -> Any:
    """An operator: Trade -> indicator value, a fresh indicator per market per subscription."""

    def op(source: Observable[Trade]) -> Observable[tuple[Trade, Any]]:
        def build() -> Observable[tuple[Trade, Any]]:
            ind: dict[str, Any] = {}
            return source.pipe(
                ops.map(lambda t: (t, update(ind.setdefault(t.market, factory()), t)))
            )

        return reactivex.defer(lambda _: build())

    return op


def close(a: D | None, b: D | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= D("1e-12") * max(abs(b), D(1))


def test_incremental_indicators_equal_batch_on_replayed_trades() -> None:
    sched = market_clock()
    trades = live_trades(book_events(sched)).pipe(
        ops.filter(lambda e: isinstance(e, Trade)), ops.share()
    )
    streams = reactivex.zip(
        trades.pipe(per_trade(lambda: EMA(10), lambda i, t: i.update(t.price))),
        trades.pipe(per_trade(lambda: RSI(14), lambda i, t: i.update(t.price))),
        trades.pipe(per_trade(VWAP, lambda i, t: i.update(t.price, t.size, t.created_at))),
    )
    rows = collect(streams, scheduler=sched)
    for market in MARKETS:
        mine = [(e[0], e[1], r[1], v[1]) for e, r, v in rows if e[0].market == market]
        assert len(mine) > 150, market
        prices = [t.price for t, *_ in mine]
        ema, rsi = batch_ema(prices, 10), batch_rsi(prices, 14)
        assert all(close(a, b) for (_, a, _, _), b in zip(mine, ema, strict=True))
        assert all(close(a, b) for (_, _, a, _), b in zip(mine, rsi, strict=True))
        pv = v = D(0)
        for t, _, _, got in mine:  # one UTC day: the session sums since the first trade
            pv, v = pv + t.price * t.size, v + t.size
            assert close(got, pv / v)
        assert mine[-1][1] is not None and mine[-1][2] is not None


def test_score_timeline(stream_snapshot: Any) -> None:
    sched = market_clock()
    events = book_events(sched).pipe(ops.share())
    trades_only = live_trades(events).pipe(ops.filter(lambda e: isinstance(e, Trade)))
    market_outputs = reactivex.merge(
        events.pipe(book_states(depth=10)),
        trades_only.pipe(bars(["1MIN"], scheduler=sched, confirm_delay=CONFIRM_DELAY)),
        trades_only,
    )
    out = collect(market_outputs.pipe(scores(config=SIGNALS), stamped(sched)), scheduler=sched)
    assert len(out) > 1000
    assert all(isinstance(s, Score) and -1 <= s.value <= 1 for _, s in out)
    timeline: dict[str, Score] = {}
    for t, s in out:  # the last score of each market in each 15 s of market time
        slot = t.replace(second=t.second // 15 * 15, microsecond=0)
        timeline[f"{s.market} {slot:%H:%M:%S}"] = s
    last = {s.market: s for _, s in out}
    for market in MARKETS:  # warmed up by the end: every component present
        assert last[market].missing == (), last[market]
    assert {
        key: f"{s.value:+.4f} missing={','.join(s.missing) or '-'}"
        for key, s in sorted(timeline.items())
    } == stream_snapshot


# -- 3. risk (L7) ------------------------------------------------------------------------------

POSITIONS = {"BTC-USD": D("1"), "ETH-USD": D("-10")}


def oracle_accounts(
    sched: VirtualScheduler, quote: Callable[[dict[str, D]], D]
) -> Observable[tuple[datetime, Account]]:
    """Replayed markets channel -> the account (fixed positions, oracle prices) after each
    oracle price, once every market has params and a price. ``quote(first_prices)`` sets Q."""

    def build() -> Observable[tuple[datetime, Account]]:
        params: dict[str, MarketRiskParams] = {}
        prices: dict[str, D] = {}
        balance: list[D] = []

        def step(e: MarketEvent) -> list[tuple[datetime, Account]]:
            if isinstance(e, MarketUpdate) and e.market in POSITIONS:
                params[e.market] = params_from_market_update(e, params.get(e.market))
            elif isinstance(e, OraclePrice) and e.market in POSITIONS:
                prices[e.market] = e.price
                # the snapshot's prices have no effective time: they only set the first prices
                if len(prices) == len(params) == len(POSITIONS) and e.effective_at is not None:
                    if not balance:
                        balance.append(quote(dict(prices)))
                    positions = tuple(
                        PerpPosition(params[m], size=s, oracle_price=prices[m])
                        for m, s in POSITIONS.items()
                    )
                    return [(e.effective_at, Account(balance[0], positions))]
            return []

        stream = decoded(cassette_stream(MARKETS_ORACLE, direction="recv", scheduler=sched))
        return stream.pipe(ops.flat_map(lambda e: reactivex.from_iterable(step(e))))

    return reactivex.defer(lambda _: build())


def test_margin_series_on_replayed_oracle_prices(stream_snapshot: Any) -> None:
    sched = VirtualScheduler()
    series = collect(oracle_accounts(sched, lambda prices: D(-25000)), scheduler=sched)
    assert len(series) > 150
    rows = []
    for when, acc in series:
        expected_equity = acc.quote_balance + sum(p.size * p.oracle_price for p in acc.positions)
        expected_mmr = sum(
            abs(p.size * p.oracle_price * p.params.maintenance_margin_fraction)
            for p in acc.positions
        )
        assert equity(acc) == expected_equity and total_mmr(acc) == expected_mmr
        assert not is_liquidatable(acc)
        rows.append(
            f"{when:%H:%M:%S} E={q(equity(acc), '0.01')} MMR={q(total_mmr(acc), '0.01')} "
            f"ratio={q(maintenance_ratio(acc))} "
            f"liq(BTC)={q(liquidation_price(acc, 'BTC-USD'), '0.01')}"
        )
    assert rows == stream_snapshot


def test_liquidation_guard_on_replayed_prices(stream_snapshot: Any) -> None:
    """Q puts the account at maintenance ratio 0.8 (the reduce threshold) at the first prices:
    the replayed moves take it above and below."""
    config = GuardConfig(reduce_ratio=D("0.8"), close_ratio=D("0.95"), target_ratio=D("0.6"))

    sched = VirtualScheduler()
    first = collect(oracle_accounts(sched, lambda prices: D(0)), count=1, scheduler=sched)[0][1]
    target_equity = total_mmr(first) / D("0.8")  # ratio = MMR / E = 0.8 at the first prices
    q0 = target_equity - sum(p.size * p.oracle_price for p in first.positions)
    guard = LiquidationGuard(config)
    sched = VirtualScheduler()
    reports = collect(
        oracle_accounts(sched, lambda prices: q0).pipe(
            ops.map(lambda pair: (pair[0], pair[1], guard.evaluate(pair[1])))
        ),
        scheduler=sched,
    )
    acted = [r for _, _, r in reports if r.actions]
    assert acted and len(acted) < len(reports), "expected the replayed prices on both sides"
    timeline = []
    for when, acc, report in reports:
        assert report.ratio == maintenance_ratio(acc)
        assert bool(report.actions) == (report.ratio >= D("0.8"))
        if report.actions:
            after = acc
            for action in report.actions:
                price = next(p.oracle_price for p in after.positions if p.market == action.market)
                after = Account(
                    after.quote_balance - action.size * price,
                    tuple(
                        PerpPosition(
                            p.params, size=p.size + action.size, oracle_price=p.oracle_price
                        )
                        if p.market == action.market
                        else p
                        for p in after.positions
                    ),
                )
            # trading at the oracle price keeps E; a reduction lands the ratio on the target
            assert equity(after) == equity(acc)
            if report.ratio >= D("0.95"):
                assert {a.kind for a in report.actions} == {"close"}
                assert maintenance_ratio(after) == 0
            else:
                assert abs(maintenance_ratio(after) - D("0.6")) < D("1e-20")
            timeline.append(
                f"{when:%H:%M:%S} ratio={q(report.ratio)} "
                + " ".join(f"{a.kind} {a.market} {q(a.size, '0.000001')}" for a in report.actions)
            )
    assert {"evaluations": len(reports), "actions": timeline} == stream_snapshot


# -- 4. ordering/timing with marbles ------------------------------------------------------------


def test_oracle_sampled_on_marble_time(marbles: Any) -> None:
    """BTC oracle prices from the replayed markets channel, sampled every 500 ms of virtual
    time (the marble scheduler's): the last price of each window, at the window's end."""
    btc = decoded(cassette_stream(MARKETS_ORACLE, direction="recv")).pipe(
        ops.filter(lambda e: isinstance(e, OraclePrice) and e.market == "BTC-USD"),
        ops.map(lambda e: str(e.price)),
    )
    marbles.expect(btc.pipe(ops.sample(0.5))).to_be(SAMPLED, SAMPLED_VALUES)
    # the same replay without sampling: each sampled value is the last price of its window
    raw = collect_notifications(btc, scheduler=VirtualScheduler())
    prices = [(n.time, n.value) for n in raw if n.kind == "on_next"]
    assert len(prices) > 50
    for end, key in zip((500, 1000, 1500, 2000, 2500), "abcde", strict=True):
        assert SAMPLED_VALUES[key] == [v for t, v in prices if t <= end][-1]


SAMPLED = "500ms a 499ms b 499ms c 499ms d 499ms (e|)"
SAMPLED_VALUES = {"a": "64986", "b": "64985", "c": "64981", "d": "64991", "e": "64988"}


# -- 5. parity ---------------------------------------------------------------------------------


def test_pipeline_replay_parity(stream_snapshot: Any) -> None:
    runs = [replay([BOOK_TRADES_CANDLES]) for _ in range(2)]
    first, second = runs
    assert first.completed and second.completed
    assert first.intent_hasher.count > 0
    assert first.intent_hasher.digest == second.intent_hasher.digest
    assert first.fill_hasher.digest == second.fill_hasher.digest
    assert first.fill_hasher.count == second.fill_hasher.count
    assert first.intent_hasher.digest != StreamHasher().digest
    assert {
        "intents": [first.intent_hasher.count, first.intent_hasher.digest],
        "fills": [first.fill_hasher.count, first.fill_hasher.digest],
    } == stream_snapshot
