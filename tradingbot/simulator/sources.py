"""What the local indexer serves: the seeded model, or a folder of captured messages.

A source answers three questions for the server: is a subscription valid, what is its snapshot,
and what happened in the next step. The server owns the protocol (ids, batching, faults).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from .model import CANDLE_RESOLUTIONS, Emission, MarketModel

__all__ = [
    "CHANNEL_VERSIONS",
    "NO_ID_CHANNELS",
    "ModelSource",
    "ReplaySource",
    "RestResult",
    "Source",
    "SubscribeError",
]

CHANNEL_VERSIONS = {
    "v4_orderbook": "1.0.0",
    "v4_trades": "2.1.0",
    "v4_candles": "1.0.0",
    "v4_markets": "1.0.0",
    "v4_subaccounts": "3.0.0",
    "v4_block_height": "1.0.0",
}
"""Channels the local indexer serves, with the ``version`` their data messages carry."""

NO_ID_CHANNELS = frozenset({"v4_markets", "v4_block_height"})
"""Channels with one stream per connection: their subscription key has no id."""

RestResult = tuple[int, Any]

ACCOUNT_ROUTES = frozenset(
    {"addresses", "asset_positions", "perpetual_positions", "fills", "orders", "order"}
)
"""REST routes about a subaccount: ``address`` in the path or the query, ``subaccountNumber``."""


class SubscribeError(ValueError):
    """A subscription the indexer would refuse; the message goes to the client verbatim."""


class Source(Protocol):
    """The server's view of a data source."""

    def snapshot(self, channel: str, sub_id: str | None) -> dict[str, Any]:
        """Validate a subscription and return its snapshot, or raise SubscribeError."""
        ...

    def step(self) -> list[Emission]:
        """Advance one step; updates in order."""
        ...

    def rest(self, route: str, params: dict[str, str], query: dict[str, str]) -> RestResult:
        """Answer a REST route (``route`` names it; ``params`` from the path)."""
        ...


def _check_channel(channel: Any, sub_id: Any) -> None:
    if channel not in CHANNEL_VERSIONS:
        raise SubscribeError(f"Invalid subscribe message: unknown channel {channel!r}")
    if channel not in NO_ID_CHANNELS and not (isinstance(sub_id, str) and sub_id):
        raise SubscribeError(f"Invalid subscribe message: channel {channel} requires an id")


def _not_found(what: str) -> RestResult:
    return 404, {"errors": [{"msg": f"{what} not found"}]}


def _limit(query: dict[str, str], default: int = 100) -> int:
    try:
        return max(1, min(1000, int(query.get("limit", default))))
    except ValueError:
        return default


def _iso_param(query: dict[str, str], key: str) -> datetime | None:
    value = query.get(key)
    if not value:
        return None
    return datetime.fromisoformat(value.replace(" ", "+"))


class ModelSource:
    """Serves :class:`~tradingbot.simulator.model.MarketModel`."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model

    def snapshot(self, channel: str, sub_id: str | None) -> dict[str, Any]:
        _check_channel(channel, sub_id)
        m = self.model
        if channel in ("v4_orderbook", "v4_trades"):
            assert sub_id is not None
            if not m.has_market(sub_id):
                raise SubscribeError(f"Invalid subscribe message: unknown market {sub_id!r}")
            if channel == "v4_orderbook":
                return m.orderbook_json(sub_id)
            return m.trades_json(sub_id, limit=100)
        if channel == "v4_candles":
            assert sub_id is not None
            ticker, _, resolution = sub_id.partition("/")
            if not m.has_market(ticker) or resolution not in CANDLE_RESOLUTIONS:
                raise SubscribeError(
                    f"Invalid subscribe message: candles id must be MARKET/RESOLUTION "
                    f"with a known market and one of {', '.join(CANDLE_RESOLUTIONS)}: {sub_id!r}"
                )
            return m.candles_json(ticker, resolution, limit=100, rest=False)
        if channel == "v4_markets":
            return m.markets_json()
        if channel == "v4_block_height":
            return m.block_height_json()
        assert sub_id is not None
        address, _, number = sub_id.rpartition("/")
        if not address or not number.isdigit():
            raise SubscribeError(
                f"Invalid subscribe message: subaccount id must be ADDRESS/NUMBER: {sub_id!r}"
            )
        return m.subaccount_snapshot(address, int(number))

    def step(self) -> list[Emission]:
        return self.model.step()

    def rest(self, route: str, params: dict[str, str], query: dict[str, str]) -> RestResult:
        m = self.model
        if route == "markets":
            ticker = query.get("ticker")
            if ticker and not m.has_market(ticker):
                return _not_found(f"market {ticker}")
            return 200, m.markets_json(ticker or None)
        if route == "subaccount":
            try:
                number = int(params["number"])
            except ValueError:
                return 400, {"errors": [{"msg": "subaccountNumber must be an integer"}]}
            return 200, {"subaccount": m.subaccount_json(params["address"], number)}
        if route == "height":
            return 200, m.block_height_json()
        if route in ACCOUNT_ROUTES:
            return self._account_rest(route, params, query)
        market = params.get("market", "")
        if not m.has_market(market):
            return _not_found(f"market {market}")
        if route == "orderbook":
            return 200, m.orderbook_json(market)
        if route == "trades":
            return 200, m.trades_json(market, _limit(query), rest=True)
        if route == "funding":
            return 200, m.funding_json(market, _limit(query))
        if route == "candles":
            resolution = query.get("resolution", "")
            if resolution not in CANDLE_RESOLUTIONS:
                return 400, {"errors": [{"msg": f"invalid resolution {resolution!r}"}]}
            try:
                start, end = _iso_param(query, "fromISO"), _iso_param(query, "toISO")
            except ValueError:
                return 400, {"errors": [{"msg": "fromISO/toISO must be ISO-8601"}]}
            return 200, m.candles_json(market, resolution, _limit(query), start, end)
        return _not_found(route)

    def _account_rest(
        self, route: str, params: dict[str, str], query: dict[str, str]
    ) -> RestResult:
        if route == "order":  # order ids are unique across accounts
            order = self.model.order_json(params.get("order_id", ""))
            return (200, order) if order else _not_found(f"order {params.get('order_id')}")
        address = params.get("address") or query.get("address", "")
        number_text = query.get("subaccountNumber", "0")
        if not address:
            return 400, {"errors": [{"msg": "address is required"}]}
        if not number_text.isdigit():
            return 400, {"errors": [{"msg": "subaccountNumber must be an integer"}]}
        return 200, self.model.account_rest(route, address, int(number_text))


_EMPTY_SNAPSHOTS: dict[str, dict[str, Any]] = {
    "v4_orderbook": {"bids": [], "asks": []},
    "v4_trades": {"trades": []},
    "v4_candles": {"candles": []},
    "v4_markets": {"markets": {}},
}


class ReplaySource:
    """Serves a folder of captured indexer messages (``*.json`` one each, ``*.jsonl`` many).

    Snapshots come from captured ``subscribed`` messages for the same channel and id; data
    messages are replayed one per step per subscription key, in file order, then stop. The
    server rewrites ``connection_id`` and ``message_id`` for each client.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._snapshots: dict[tuple[str, str | None], dict[str, Any]] = {}
        self._data: dict[tuple[str, str | None], list[dict[str, Any]]] = defaultdict(list)
        self._cursor: dict[tuple[str, str | None], int] = defaultdict(int)
        for message in self._messages(folder):
            if not isinstance(message, dict):
                continue
            channel, sub_id = message.get("channel"), message.get("id")
            if not isinstance(channel, str):
                continue
            if channel in NO_ID_CHANNELS or not isinstance(sub_id, str):
                sub_id = None
            key = (channel, sub_id)
            contents = message.get("contents")
            kind = message.get("type")
            if kind == "subscribed" and isinstance(contents, dict):
                self._snapshots.setdefault(key, contents)
            elif kind == "channel_data" and isinstance(contents, dict):
                self._data[key].append(contents)
            elif kind == "channel_batch_data" and isinstance(contents, list):
                self._data[key].extend(c for c in contents if isinstance(c, dict))

    @staticmethod
    def _messages(folder: Path) -> list[Any]:
        out: list[Any] = []
        for path in sorted(folder.iterdir()):
            if path.suffix == ".json":
                out.append(json.loads(path.read_text()))
            elif path.suffix == ".jsonl":
                out.extend(json.loads(line) for line in path.read_text().splitlines() if line)
        return out

    @property
    def keys(self) -> list[tuple[str, str | None]]:
        """Every (channel, id) the folder has anything for."""
        return sorted(set(self._snapshots) | set(self._data), key=lambda k: (k[0], k[1] or ""))

    def snapshot(self, channel: str, sub_id: str | None) -> dict[str, Any]:
        _check_channel(channel, sub_id)
        key = (channel, None if channel in NO_ID_CHANNELS else sub_id)
        if key in self._snapshots:
            return self._snapshots[key]
        if key in self._data and channel in _EMPTY_SNAPSHOTS:
            return _EMPTY_SNAPSHOTS[channel]
        raise SubscribeError(f"Internal error, could not fetch data for subscription: {channel}.")

    def step(self) -> list[Emission]:
        out: list[Emission] = []
        for key, items in self._data.items():
            cursor = self._cursor[key]
            if cursor < len(items):
                self._cursor[key] = cursor + 1
                out.append(Emission(key[0], key[1], items[cursor]))
        return out

    def rest(self, route: str, params: dict[str, str], query: dict[str, str]) -> RestResult:
        if route == "markets" and ("v4_markets", None) in self._snapshots:
            return 200, self._snapshots[("v4_markets", None)]
        if route == "orderbook" and ("v4_orderbook", params.get("market")) in self._snapshots:
            return 200, self._snapshots[("v4_orderbook", params.get("market"))]
        return _not_found(route)
