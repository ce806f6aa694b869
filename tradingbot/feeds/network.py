"""Where the indexer lives: mainnet, testnet, or any REST/websocket URL pair (the local one).

Constants only: nothing here opens a connection, and tests never use the public endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAINNET", "TESTNET", "Endpoints"]


@dataclass(frozen=True, slots=True)
class Endpoints:
    """An indexer's REST base URL and websocket URL."""

    rest_url: str
    ws_url: str
    name: str = "custom"

    @classmethod
    def local(cls, port: int, host: str = "127.0.0.1") -> Endpoints:
        """The local indexer (``tradingbot simulate``) on ``host:port``."""
        return cls(f"http://{host}:{port}", f"ws://{host}:{port}/v4/ws", "local")


MAINNET = Endpoints("https://indexer.dydx.trade", "wss://indexer.dydx.trade/v4/ws", "mainnet")
TESTNET = Endpoints(
    "https://indexer.v4testnet.dydx.exchange",
    "wss://indexer.v4testnet.dydx.exchange/v4/ws",
    "testnet",
)
