"""A multi-market score-following strategy: signal scores and book state in, intents out.

Rules (each market on its own, with one shared equity):

* **entry** when flat: the score's magnitude reaches ``entry_threshold`` with at least
  ``min_components`` indicator components behind it, the book is two-sided, uncrossed and its
  spread within ``max_spread``, and the market's cooldown has passed. Long on a positive score,
  short on a negative one.
* **sizing**: notional = min(``max_notional``, equity x ``leverage`` x |score|), rounded down
  to the market's step size; nothing below ``min_notional``.
* **exit** (reduce-only, the whole position): the score fell back to ``exit_threshold`` or
  crossed to the other side (after the cooldown, which doubles as a minimum holding time), or
  the mid hit the stop-loss / take-profit distance from the entry price (at any time; retried
  at most every ``retry``).
* **prices**: marketable limits, the touch plus ``max_slippage``, rounded to the tick away
  from the touch, so a fill never walks further than the strategy allowed.

Why a position *view* instead of position events: execution sits above the strategy, so the
strategy reads positions through :class:`PositionView` (implemented by the brokers) rather than
importing them; the pipeline is synchronous, so the view is current on every decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Protocol

from tradingbot.feeds.events import MarketUpdate, Side
from tradingbot.market.book import BookState
from tradingbot.signals.scorer import Score
from tradingbot.stages import KindOf

from .intents import IntentKind, TimeInForce, TradeIntent

__all__ = ["INPUTS", "FixedEquityView", "PositionView", "ScoreStrategy", "StrategyConfig"]

ZERO = Decimal(0)
ONE = Decimal(1)


class PositionView(Protocol):
    """What the strategy needs to know about the account (brokers implement it)."""

    def position_size(self, market: str) -> Decimal:
        """Signed size held (0 when flat)."""
        ...

    def entry_price(self, market: str) -> Decimal | None: ...

    def equity(self) -> Decimal: ...


class FixedEquityView:
    """A flat account of fixed equity: for running the strategy alone (tests, research)."""

    def __init__(self, equity: Decimal = Decimal(10_000)) -> None:
        self._equity = equity

    def position_size(self, market: str) -> Decimal:
        return ZERO

    def entry_price(self, market: str) -> Decimal | None:
        return None

    def equity(self) -> Decimal:
        return self._equity


@dataclass(frozen=True, slots=True)
class StrategyConfig:
    """Thresholds are score units ([-1, 1]); fractions are of price; money is USDC."""

    entry_threshold: float = 0.35
    exit_threshold: float = 0.05
    min_components: int = 1
    cooldown: timedelta = timedelta(seconds=30)
    retry: timedelta = timedelta(seconds=5)
    leverage: Decimal = Decimal(2)
    max_notional: Decimal = Decimal(5_000)
    min_notional: Decimal = Decimal(10)
    max_spread: Decimal = Decimal("0.002")
    max_slippage: Decimal = Decimal("0.001")
    stop_loss: Decimal = Decimal("0.01")
    take_profit: Decimal = Decimal("0.02")
    markets: tuple[str, ...] | None = None
    """Markets to trade (None: every market the stream carries)."""
    default_tick: Decimal = Decimal("0.01")
    default_step: Decimal = Decimal("0.0001")

    def __post_init__(self) -> None:
        if not 0 <= self.exit_threshold < self.entry_threshold <= 1:
            raise ValueError("need 0 <= exit_threshold < entry_threshold <= 1")


def _round(value: Decimal, unit: Decimal, up: bool) -> Decimal:
    steps = (value / unit).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return steps * unit


INPUTS = KindOf(Score, BookState, MarketUpdate)
"""``INPUTS[type(item)] < 0``: :meth:`ScoreStrategy.apply` ignores the item (callers on the hot
path may skip the call)."""
_SCORE, _BOOK, _UPDATE = 0, 1, 2


class ScoreStrategy:
    """``apply(item, now) -> [TradeIntent]`` for Scores, BookStates and MarketUpdates; other
    items are ignored. Deterministic: intents depend only on the items and ``now`` values."""

    def __init__(
        self,
        config: StrategyConfig | None = None,
        positions: PositionView | None = None,
        *,
        id_prefix: str = "s",
    ) -> None:
        self.config = config or StrategyConfig()
        self.positions: PositionView = positions or FixedEquityView()
        self.id_prefix = id_prefix
        self._seq = 0
        self._books: dict[str, BookState] = {}
        self._tick: dict[str, Decimal] = {}
        self._step: dict[str, Decimal] = {}
        self._last_trade: dict[str, datetime] = {}
        self._last_exit_try: dict[str, datetime] = {}
        self.last_scores: dict[str, Score] = {}

    # -- inputs ----------------------------------------------------------------------------

    def apply(self, item: Any, now: datetime | None) -> list[TradeIntent]:
        kind = INPUTS[type(item)]
        if kind < 0:
            return []
        if kind == _SCORE:
            if not self._trades(item.market):
                return []
            self.last_scores[item.market] = item
            return self._on_score(item, now)
        if kind == _BOOK:
            if not self._trades(item.market):
                return []
            self._books[item.market] = item
            return self._on_book(item, now)
        if kind == _UPDATE:
            if item.tick_size is not None and item.tick_size > 0:
                self._tick[item.market] = item.tick_size
            if item.step_size is not None and item.step_size > 0:
                self._step[item.market] = item.step_size
        return []

    def _trades(self, market: str) -> bool:
        markets = self.config.markets
        return markets is None or market in markets

    # -- decisions -------------------------------------------------------------------------

    def _cooling(self, market: str, now: datetime | None) -> bool:
        last = self._last_trade.get(market)
        return last is not None and now is not None and now - last < self.config.cooldown

    def _on_book(self, book: BookState, now: datetime | None) -> list[TradeIntent]:
        held = self.positions.position_size(book.market)
        entry = self.positions.entry_price(book.market)
        mid = book.mid
        if held == ZERO or entry is None or mid is None or entry <= ZERO:
            return []
        move = (mid - entry) / entry if held > ZERO else (entry - mid) / entry
        if move <= -self.config.stop_loss:
            why = f"stop-loss: mid {mid} is {-move:.4%} against entry {entry}"
        elif move >= self.config.take_profit:
            why = f"take-profit: mid {mid} is {move:.4%} beyond entry {entry}"
        else:
            return []
        last = self._last_exit_try.get(book.market)
        if last is not None and now is not None and now - last < self.config.retry:
            return []
        return self._exit(book, held, why, now, None)

    def _on_score(self, score: Score, now: datetime | None) -> list[TradeIntent]:
        cfg = self.config
        book = self._books.get(score.market)
        if book is None or book.best_bid is None or book.best_ask is None or book.crossed:
            return []
        held = self.positions.position_size(score.market)
        value = score.value
        if held != ZERO:
            faded = value <= cfg.exit_threshold if held > ZERO else value >= -cfg.exit_threshold
            if not faded or self._cooling(score.market, now):
                return []
            why = f"score {value:+.4f} faded past exit threshold {cfg.exit_threshold}"
            return self._exit(book, held, why, now, value)
        if len(score.components) < cfg.min_components or abs(value) < cfg.entry_threshold:
            return []
        if self._cooling(score.market, now):
            return []
        mid, spread = book.mid, book.spread
        assert mid is not None and spread is not None
        if spread / mid > cfg.max_spread:
            return []
        side = Side.BUY if value > 0 else Side.SELL
        price = self._limit(book, side, cfg.max_slippage)
        equity = self.positions.equity()
        strength = Decimal(f"{abs(value):.4f}")
        notional = min(cfg.max_notional, equity * cfg.leverage * strength)
        step = self._step.get(score.market, cfg.default_step)
        size = _round(notional / price, step, up=False)
        if size <= ZERO or size * price < cfg.min_notional:
            return []
        why = (
            f"score {value:+.4f} beyond entry threshold {cfg.entry_threshold} "
            f"({len(score.components)} components); notional {size * price:.2f}"
        )
        if now is not None:
            self._last_trade[score.market] = now
        return [self._intent(score.market, side, size, price, IntentKind.ENTRY, why, now, value)]

    def _exit(
        self, book: BookState, held: Decimal, why: str, now: datetime | None, value: float | None
    ) -> list[TradeIntent]:
        if book.best_bid is None or book.best_ask is None:
            return []
        side = Side.SELL if held > ZERO else Side.BUY
        price = self._limit(book, side, self.config.max_slippage)
        if now is not None:
            self._last_trade[book.market] = now
            self._last_exit_try[book.market] = now
        intent = self._intent(book.market, side, abs(held), price, IntentKind.EXIT, why, now, value)
        return [intent]

    def _limit(self, book: BookState, side: Side, slippage: Decimal) -> Decimal:
        tick = self._tick.get(book.market, self.config.default_tick)
        if side is Side.BUY:
            assert book.best_ask is not None
            return _round(book.best_ask[0] * (ONE + slippage), tick, up=True)
        assert book.best_bid is not None
        return _round(book.best_bid[0] * (ONE - slippage), tick, up=False)

    def _intent(
        self,
        market: str,
        side: Side,
        size: Decimal,
        price: Decimal,
        kind: IntentKind,
        reason: str,
        now: datetime | None,
        value: float | None,
    ) -> TradeIntent:
        self._seq += 1
        return TradeIntent(
            id=f"{self.id_prefix}{self._seq:06d}",
            market=market,
            side=side,
            size=size,
            price=price,
            kind=kind,
            reason=reason,
            reduce_only=kind is not IntentKind.ENTRY,
            time_in_force=TimeInForce.IOC,
            created_at=now,
            score=value,
        )
