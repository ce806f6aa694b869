"""The live adapter: the paper broker's interface, orders built for dYdX's ``NodeClient``.

Dry-run is the default: without a mnemonic in ``DYDX_MNEMONIC`` (or with ``dry_run=True``, or
without a node to send to) every intent is turned into the exact ``Order`` protobuf the chain
would receive (quantums and subticks computed in ``Decimal`` from the market's atomic
resolution, step base quantums and subticks per tick), logged without secrets, and filled by a
shadow :class:`PaperBroker` so positions, margin and the liquidation guard behave as they would.

The mnemonic is held in a :class:`Secret` whose ``repr``/``str`` are redacted, read once from the
environment, never logged, printed or stored in reports; only the wallet *address* derived from
it is shown. Sending for real (mnemonic + node) goes through ``NodeClient.place_order`` on a
private asyncio loop thread; fills then arrive on the subaccount feed, not here. A transaction
the node answers with a non-zero code is reported ``REJECTED`` with the node's log, not
``SENT``; each sent order keeps its transaction hash and code in ``orders``. A short-term
order is good until ``good_til_blocks`` past the feed's last block height, or, when the feed
carries none, past the node's latest block (``GetLatestBlock``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import zlib
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any, TypeVar

from tradingbot.feeds.events import BlockHeight, Fill, MarketUpdate, Side
from tradingbot.market.book import BookState
from tradingbot.risk.margin import Account, MarketRiskParams
from tradingbot.strategy.intents import TimeInForce, TradeIntent

from .paper import PaperBroker
from .reports import ExecutionReport, OrderStatus, rejected_report

__all__ = ["MNEMONIC_ENV", "ChainMarket", "LiveBroker", "Secret", "order_numbers"]

log = logging.getLogger(__name__)

MNEMONIC_ENV = "DYDX_MNEMONIC"
T = TypeVar("T")
_MAX_CLIENT_ID = 2**32 - 1
_QUOTE_ATOMIC_RESOLUTION = -6


class Secret:
    """A string that does not show itself: ``repr``, ``str`` and ``format`` are redacted."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True, slots=True)
class ChainMarket:
    """What converting sizes and prices to chain units needs (from the v4_markets record)."""

    ticker: str
    clob_pair_id: int
    atomic_resolution: int
    quantum_conversion_exponent: int
    step_base_quantums: int
    subticks_per_tick: int


def order_numbers(market: ChainMarket, size: Decimal, price: Decimal) -> tuple[int, int]:
    """(quantums, subticks) for ``size`` at ``price``, rounded down to whole steps/ticks.

    quantums = size x 10^-atomicResolution; subticks = price x 10^(atomicResolution -
    quantumConversionExponent + 6); the same formulas as dydx-v4-client's ``Market``, in
    ``Decimal`` so no float rounding moves an order by a step.
    """
    raw_q = size.scaleb(-market.atomic_resolution)
    step = Decimal(market.step_base_quantums)
    quantums = int((raw_q / step).to_integral_value(rounding=ROUND_FLOOR) * step)
    exponent = (
        market.atomic_resolution - market.quantum_conversion_exponent - _QUOTE_ATOMIC_RESOLUTION
    )
    raw_s = price.scaleb(exponent)
    tick = Decimal(market.subticks_per_tick)
    subticks = int((raw_s / tick).to_integral_value(rounding=ROUND_FLOOR) * tick)
    return max(quantums, market.step_base_quantums), max(subticks, market.subticks_per_tick)


class LiveBroker:
    """Same interface as :class:`PaperBroker`; see the module docstring for the modes."""

    def __init__(
        self,
        *,
        network: Any | None = None,
        address: str | None = None,
        subaccount: int = 0,
        dry_run: bool | None = None,
        env: Mapping[str, str] | None = None,
        shadow: PaperBroker | None = None,
        good_til_blocks: int = 20,
    ) -> None:
        source = os.environ if env is None else env
        raw = source.get(MNEMONIC_ENV, "").strip()
        self._mnemonic: Secret | None = Secret(raw) if raw else None
        self.network = network
        self.subaccount = subaccount
        self.good_til_blocks = good_til_blocks
        self.dry_run = (
            dry_run if dry_run is not None else (self._mnemonic is None or network is None)
        )
        if not self.dry_run and (self._mnemonic is None or network is None):
            raise ValueError(f"live sending needs {MNEMONIC_ENV} and a network with a node")
        self.address = address or (self._derive_address() if self._mnemonic else None)
        self.shadow = shadow or PaperBroker()
        self.chain_markets: dict[str, ChainMarket] = {}
        self.orders: list[dict[str, Any]] = []
        """Every order built (dry-run or sent), as plain data without secrets."""
        self.height: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._node: Any = None
        self._wallet: Any = None
        log.info(
            "live broker: %s mode, wallet %s, subaccount %d",
            "dry-run" if self.dry_run else "LIVE",
            self.address or "(none)",
            subaccount,
        )

    def _derive_address(self) -> str | None:
        """The wallet address of the mnemonic (public): proves the key loads, shows nothing."""
        assert self._mnemonic is not None
        try:
            from dydx_v4_client.key_pair import KeyPair
            from dydx_v4_client.wallet import Wallet

            return Wallet(KeyPair.from_mnemonic(self._mnemonic.reveal()), 0, 0).address
        except ModuleNotFoundError:
            raise  # no dydx-v4-client (Python 3.13): the mnemonic is not to blame
        except Exception as exc:  # an invalid mnemonic: say so without echoing it
            log.warning(
                "live broker: %s does not hold a valid mnemonic (%s)",
                MNEMONIC_ENV,
                type(exc).__name__,
            )
            return None

    # -- the paper interface, delegated ----------------------------------------------------

    def on_event(self, item: Any, now: datetime | None) -> list[Fill]:
        if isinstance(item, MarketUpdate):
            self._learn(item)
        elif isinstance(item, BlockHeight):
            self.height = item.height
        return self.shadow.on_event(item, now)

    def account(self) -> Account:
        return self.shadow.account()

    def params(self, market: str) -> MarketRiskParams | None:
        return self.shadow.params(market)

    def oracle_price(self, market: str) -> Decimal | None:
        return self.shadow.oracle_price(market)

    def book(self, market: str) -> BookState | None:
        return self.shadow.book(market)

    def position_size(self, market: str) -> Decimal:
        return self.shadow.position_size(market)

    def entry_price(self, market: str) -> Decimal | None:
        return self.shadow.entry_price(market)

    def equity(self) -> Decimal:
        return self.shadow.equity()

    def _learn(self, update: MarketUpdate) -> None:
        old = self.chain_markets.get(update.market)
        fields: dict[str, Any] = {
            "clob_pair_id": int(update.clob_pair_id) if update.clob_pair_id else None,
            "atomic_resolution": update.atomic_resolution,
            "quantum_conversion_exponent": update.quantum_conversion_exponent,
            "step_base_quantums": update.step_base_quantums,
            "subticks_per_tick": update.subticks_per_tick,
        }
        if old is not None:
            known: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
            self.chain_markets[update.market] = replace(old, **known)
        elif all(v is not None for v in fields.values()):
            self.chain_markets[update.market] = ChainMarket(update.market, **fields)

    # -- orders ----------------------------------------------------------------------------

    def build_order(self, intent: TradeIntent, height: int | None = None) -> Any:
        """The ``Order`` protobuf for ``intent`` (raises KeyError for an unknown market), good
        until ``good_til_blocks`` past ``height`` (default: the feed's last block height)."""
        from dydx_v4_client import OrderFlags
        from dydx_v4_client.node.message import order, order_id
        from v4_proto.dydxprotocol.clob.order_pb2 import Order

        market = self.chain_markets[intent.market]
        quantums, subticks = order_numbers(market, intent.size, intent.price)
        client_id = zlib.crc32(intent.id.encode()) & _MAX_CLIENT_ID
        oid = order_id(
            self.address or "",
            self.subaccount,
            client_id,
            market.clob_pair_id,
            OrderFlags.SHORT_TERM,
        )
        tif = (
            Order.TimeInForce.TIME_IN_FORCE_IOC
            if intent.time_in_force is TimeInForce.IOC
            else Order.TimeInForce.TIME_IN_FORCE_UNSPECIFIED
        )
        return order(
            order_id=oid,
            side=Order.Side.SIDE_BUY if intent.side is Side.BUY else Order.Side.SIDE_SELL,
            quantums=quantums,
            subticks=subticks,
            time_in_force=tif,
            reduce_only=intent.reduce_only,
            good_til_block=(height if height is not None else self.height or 0)
            + self.good_til_blocks,
        )

    def submit(
        self, intent: TradeIntent, now: datetime | None
    ) -> tuple[ExecutionReport, list[Fill]]:
        if intent.market not in self.chain_markets:
            reason = f"no chain parameters for {intent.market} (need a v4_markets snapshot)"
            return rejected_report(intent, now, (reason,)), []
        height = self.height
        if not self.dry_run and height is None:
            # No block height on the feed (``tradingbot run`` subscribes none): ask the node,
            # or the order would be good until block 20 and the chain would refuse it.
            height = self._run(self._latest_height())
        built = self.build_order(intent, height)
        record = {
            "intent_id": intent.id,
            "market": intent.market,
            "side": intent.side.value,
            "quantums": built.quantums,
            "subticks": built.subticks,
            "client_id": built.order_id.client_id,
            "reduce_only": intent.reduce_only,
            "good_til_block": built.good_til_block,
        }
        self.orders.append(record)
        if self.dry_run:
            log.info("dry-run: would place %s", record)
            report, fills = self.shadow.submit(intent, now)
            marked = [replace(f, channel="dry-run") for f in fills]
            return replace(report, status=OrderStatus.DRY_RUN, note=intent.reason), marked
        answer = self._run(self._place(built)).tx_response
        record.update(txhash=answer.txhash, code=answer.code)
        if answer.code != 0:
            log.warning(
                "node refused %s: %s code %d: %s",
                record,
                answer.codespace,
                answer.code,
                answer.raw_log,
            )
            reason = (
                f"node refused the order ({answer.codespace} code {answer.code}): {answer.raw_log}"
            )
            return rejected_report(intent, now, (reason,)), []
        log.info("placed %s", record)
        report, _ = self.shadow.submit(intent, now)
        return replace(
            report, status=OrderStatus.SENT, filled=Decimal(0), average_price=None, fee=Decimal(0)
        ), []

    # -- the chain (live mode only) --------------------------------------------------------

    async def _connect(self) -> Any:
        from dydx_v4_client.node.client import NodeClient
        from dydx_v4_client.wallet import Wallet

        if self._node is None:
            assert self.network is not None and self._mnemonic is not None
            self._node = await NodeClient.connect(self.network.node)
            self._wallet = await Wallet.from_mnemonic(
                self._node, self._mnemonic.reveal(), self.address or ""
            )
        return self._node

    async def _latest_height(self) -> int:
        node = await self._connect()
        return int(await node.latest_block_height())

    async def _place(self, built: Any) -> Any:
        node = await self._connect()
        return await node.place_order(self._wallet, built)

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="node-client", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the node loop thread (if one was started) and join it."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        loop.close()
        self._loop = self._thread = None
