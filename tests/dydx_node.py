"""A stand-in dYdX validator node: a real grpcio server on 127.0.0.1 serving the few services
the bot's ``LiveBroker`` calls through dydx-v4-client's ``NodeClient``, built from the
protobufs that ship with the client (``v4_proto``: generated servicers and messages).

* ``cosmos.auth.v1beta1.Query/Account``: a ``BaseAccount`` (number, sequence) for a known
  address, ``NOT_FOUND`` otherwise, as a node answers for an account that never received funds.
* ``cosmos.base.tendermint.v1beta1.Service/GetLatestBlock``: the node's height.
* ``cosmos.tx.v1beta1.Service/BroadcastTx``: decodes the transaction, checks its signature
  against the account number and chain id the node knows (so a wallet that signed with the
  wrong ones is refused, as on the chain) and a short-term order's good-til-block window; keeps
  every decoded ``MsgPlaceOrder``; answers a ``TxResponse`` with the transaction's hash
  (SHA-256 of its bytes, upper-case hex, as CometBFT names it) and code 0, or the refusal.
* ``Simulate`` (used by ``NodeClient.send``, not by ``place_order``): a fixed gas use.

Codes and logs of refusals are this stand-in's own (codespace ``sdk`` 4 for a bad signature, as
the Cosmos SDK says; ``clob`` for the order window), not a copy of the chain's whole rule set.
Short-term orders leave the account sequence as it is: dYdX does not use sequences for them.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from google.protobuf import any_pb2
from grpc_servers import bind_local_port
from mnemonic import Mnemonic
from v4_proto.cosmos.auth.v1beta1 import query_pb2 as auth_query
from v4_proto.cosmos.auth.v1beta1 import query_pb2_grpc as auth_grpc
from v4_proto.cosmos.auth.v1beta1.auth_pb2 import BaseAccount
from v4_proto.cosmos.base.abci.v1beta1.abci_pb2 import GasInfo, TxResponse
from v4_proto.cosmos.base.tendermint.v1beta1 import query_pb2 as tm_query
from v4_proto.cosmos.base.tendermint.v1beta1 import query_pb2_grpc as tm_grpc
from v4_proto.cosmos.crypto.secp256k1.keys_pb2 import PubKey
from v4_proto.cosmos.tx.v1beta1 import service_pb2 as tx_service
from v4_proto.cosmos.tx.v1beta1 import service_pb2_grpc as tx_grpc
from v4_proto.cosmos.tx.v1beta1.tx_pb2 import SignDoc, Tx
from v4_proto.dydxprotocol.clob.tx_pb2 import MsgPlaceOrder
from v4_proto.tendermint.types.block_pb2 import Block
from v4_proto.tendermint.types.types_pb2 import Header

__all__ = [
    "CHAIN_ID",
    "T0",
    "DydxNode",
    "decoded_orders",
    "live_broker",
    "start_dydx_node",
    "test_mnemonic",
    "trade_intent",
]

CHAIN_ID = "localdydxprotocol"  # dydx_v4_client.network.local_node's chain id
SHORT_BLOCK_WINDOW = 20  # a short-term order lives at most this many blocks past the height
_SIMULATED_GAS = 120_000


def test_mnemonic(label: str = "pytest-streamreplay stand-in node") -> str:
    """A valid 24-word BIP39 mnemonic made from ``label`` (its SHA-256 as entropy): the same
    words in every run, and no account anyone funded."""
    return str(Mnemonic("english").to_mnemonic(hashlib.sha256(label.encode()).digest()))


test_mnemonic.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@dataclass
class DydxNode:
    """A running stand-in node; ``calls`` lists the methods it answered, ``orders`` the
    ``MsgPlaceOrder`` of every transaction it accepted, ``refused`` the raw logs of the rest."""

    server: Any
    port: int
    height: int
    accounts: dict[str, tuple[int, int]]
    chain_id: str = CHAIN_ID
    calls: list[str] = field(default_factory=list)
    orders: list[MsgPlaceOrder] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def target(self) -> str:
        return f"localhost:{self.port}"

    def stop(self) -> None:
        self.server.stop(0).wait(5)

    def note(self, method: str) -> None:
        with self.lock:
            self.calls.append(method)


class _Auth(auth_grpc.QueryServicer):  # type: ignore[misc]
    def __init__(self, node: DydxNode) -> None:
        self.node = node

    def Account(self, request: Any, context: Any) -> Any:
        self.node.note("Account")
        known = self.node.accounts.get(request.address)
        if known is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"account {request.address} not found")
        number, sequence = known
        account = BaseAccount(address=request.address, account_number=number, sequence=sequence)
        packed = any_pb2.Any()
        packed.Pack(account, type_url_prefix="/")
        return auth_query.QueryAccountResponse(account=packed)


class _Tendermint(tm_grpc.ServiceServicer):  # type: ignore[misc]
    def __init__(self, node: DydxNode) -> None:
        self.node = node

    def GetLatestBlock(self, request: Any, context: Any) -> Any:
        self.node.note("GetLatestBlock")
        header = Header(chain_id=self.node.chain_id, height=self.node.height)
        return tm_query.GetLatestBlockResponse(block=Block(header=header))


class _Tx(tx_grpc.ServiceServicer):  # type: ignore[misc]
    def __init__(self, node: DydxNode) -> None:
        self.node = node

    def Simulate(self, request: Any, context: Any) -> Any:
        self.node.note("Simulate")
        gas = GasInfo(gas_wanted=_SIMULATED_GAS, gas_used=_SIMULATED_GAS)
        return tx_service.SimulateResponse(gas_info=gas)

    def BroadcastTx(self, request: Any, context: Any) -> Any:
        self.node.note("BroadcastTx")
        txhash = hashlib.sha256(request.tx_bytes).hexdigest().upper()
        refusal = self._check(Tx.FromString(request.tx_bytes))
        if refusal is not None:
            codespace, code, log = refusal
            with self.node.lock:
                self.node.refused.append(log)
            response = TxResponse(txhash=txhash, codespace=codespace, code=code, raw_log=log)
        else:
            response = TxResponse(txhash=txhash, code=0, raw_log="[]")
        return tx_service.BroadcastTxResponse(tx_response=response)

    def _check(self, tx: Any) -> tuple[str, int, str] | None:
        """Why the node refuses ``tx`` (codespace, code, log), or None: it is accepted."""
        if len(tx.auth_info.signer_infos) != 1 or len(tx.signatures) != 1:
            return "sdk", 4, "expected one signer and one signature"
        if not self._signed_by_a_known_account(tx):
            return "sdk", 4, "signature verification failed"
        orders = []
        for message in tx.body.messages:
            placed = MsgPlaceOrder()
            if not message.Unpack(placed):
                return "sdk", 6, f"unsupported message {message.type_url}"
            height, gtb = self.node.height, placed.order.good_til_block
            if not height < gtb <= height + SHORT_BLOCK_WINDOW:
                return "clob", 2, f"good til block {gtb} outside ({height}, {height + 20}]"
            orders.append(placed)
        with self.node.lock:
            self.node.orders.extend(orders)
        return None

    def _signed_by_a_known_account(self, tx: Any) -> bool:
        """The signature holds for one of the node's account numbers and its chain id."""
        pub = PubKey()
        if not tx.auth_info.signer_infos[0].public_key.Unpack(pub):
            return False
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), pub.key)
        raw = tx.signatures[0]
        if len(raw) != 64:
            return False
        signature = encode_dss_signature(
            int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        )
        for number, _ in self.node.accounts.values():
            doc = SignDoc(
                body_bytes=tx.body.SerializeToString(),
                auth_info_bytes=tx.auth_info.SerializeToString(),
                chain_id=self.node.chain_id,
                account_number=number,
            )
            try:
                key.verify(signature, doc.SerializeToString(), ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                continue
            return True
        return False


def start_dydx_node(
    accounts: dict[str, tuple[int, int]],
    *,
    height: int = 1_000,
    tls: tuple[Path, Path] | None = None,
) -> DydxNode:
    """Serve ``accounts`` (address -> (account number, sequence)) at ``height`` on an ephemeral
    port of 127.0.0.1, plaintext or with ``tls`` (cert, key)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    port = bind_local_port(server, tls)
    node = DydxNode(server, port, height, dict(accounts))
    auth_grpc.add_QueryServicer_to_server(_Auth(node), server)
    tm_grpc.add_ServiceServicer_to_server(_Tendermint(node), server)
    tx_grpc.add_ServiceServicer_to_server(_Tx(node), server)
    server.start()
    return node


# -- the bot's side: a LiveBroker that knows BTC-USD, and its intents -------------------------

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def live_broker(target: str, mnemonic: str | None = None, tls: bool = False) -> Any:
    """A sending ``LiveBroker`` for the node at ``target`` (plaintext, or TLS as mainnet's
    nodes; the local chain id) that knows BTC-USD's chain parameters and book; the mnemonic
    defaults to ``DYDX_MNEMONIC``."""
    from dydx_markets import btc_usd_update
    from dydx_v4_client.network import local_node, make_insecure, make_secure

    from tradingbot.execution.live import LiveBroker
    from tradingbot.market.book import BookState

    # made here, not at import: a gRPC channel takes grpc_proxy when it is created
    make = make_secure if tls else make_insecure
    network = make(local_node, "http://127.0.0.1:9", "ws://127.0.0.1:9", target)
    env = None if mnemonic is None else {"DYDX_MNEMONIC": mnemonic}
    broker = LiveBroker(network=network, env=env)
    assert not broker.dry_run
    broker.on_event(btc_usd_update(), T0)
    book = BookState("BTC-USD", ((Decimal(64999), Decimal(1)),), ((Decimal(65000), Decimal(1)),))
    broker.on_event(book, T0)
    return broker


def trade_intent(n: int, side: str, size: str, price: int) -> Any:
    """Intent ``s00000n`` on BTC-USD (``side``: "BUY" or "SELL")."""
    from tradingbot.feeds.events import Side
    from tradingbot.strategy import IntentKind, TradeIntent

    return TradeIntent(
        id=f"s{n:06d}",
        market="BTC-USD",
        side=Side(side),
        size=Decimal(size),
        price=Decimal(price),
        kind=IntentKind.ENTRY,
        reason="test",
    )


def decoded_orders(node: DydxNode) -> list[dict[str, Any]]:
    """The orders the node accepted, as the fields a test checks."""
    return [
        {
            "owner": o.order.order_id.subaccount_id.owner,
            "clob_pair_id": o.order.order_id.clob_pair_id,
            "client_id": o.order.order_id.client_id,
            "side": o.order.side,
            "quantums": o.order.quantums,
            "subticks": o.order.subticks,
            "good_til_block": o.order.good_til_block,
        }
        for o in node.orders
    ]
