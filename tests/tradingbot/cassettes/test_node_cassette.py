"""The bundled validator-node cassette (``cassettes/dydx/node_orders.jsonl``): the live adapter's
orders replayed through dydx-v4-client's real ``NodeClient`` with no node at all, as a user
replays a recording of their bot.

* ``pytest tests/tradingbot/cassettes --record-mode=rewrite -m record_cassettes`` records it:
  the stand-in node (``tests/dydx_node.py``) serves :data:`NODE`, a name no resolver knows,
  through a route, with the test mnemonic (:func:`dydx_node.test_mnemonic`, no funded account).
  What is sent is deterministic (RFC 6979 signatures): a new recording holds the same messages.
* ``pytest`` (and ``pytest --replay-strict``) replays it.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("dydx_v4_client", reason="dydx-v4-client is not installed (Python < 3.13 only)")

from dydx_node import T0, live_broker, start_dydx_node, test_mnemonic, trade_intent
from dydx_v4_client.key_pair import KeyPair
from v4_proto.cosmos.tx.v1beta1.service_pb2 import BroadcastTxRequest

from pytest_streamreplay.cassette import iter_records
from pytest_streamreplay.cassette.body import decode_body
from pytest_streamreplay.cassette.records import HttpInteraction
from pytest_streamreplay.harness import StreamReplayHandle
from tradingbot.execution import OrderStatus
from tradingbot.execution.live import LiveBroker
from tradingbot.feeds.events import BlockHeight

REPO = Path(__file__).resolve().parents[3]
NODE_ORDERS = REPO / "cassettes" / "dydx" / "node_orders.jsonl"
NODE = "node.dydx.invalid:9090"
MNEMONIC = test_mnemonic()
HEIGHT = 1_000


@contextlib.contextmanager
def stand_in_node(sr: StreamReplayHandle) -> Iterator[None]:
    """While recording: the stand-in node behind :data:`NODE`. While replaying: nothing."""
    if sr.mode != "record":
        yield
        return
    address = LiveBroker(env={"DYDX_MNEMONIC": MNEMONIC}).address or ""
    node = start_dydx_node({address: (7, 3)}, height=HEIGHT)
    try:
        sr.route(f"http://{NODE}", f"http://127.0.0.1:{node.port}")
        sr.note = (
            f"recorded from the stand-in node (tests/dydx_node.py, height {HEIGHT}) by "
            "dydx-v4-client's NodeClient through pytest-streamreplay; test mnemonic"
        )
        yield
    finally:
        node.stop()


def _broadcast_hashes(calls: list[HttpInteraction]) -> list[str]:
    """The transaction hash of every BroadcastTx among ``calls``, from its request bytes."""
    hashes = []
    for call in calls:
        if call.request.url.endswith("/BroadcastTx"):
            frame = decode_body(call.request.body)  # one gRPC frame: flag, length, message
            tx = BroadcastTxRequest.FromString(frame[5:]).tx_bytes
            hashes.append(hashlib.sha256(tx).hexdigest().upper())
    return hashes


@pytest.mark.record_cassettes
@pytest.mark.streamreplay(cassette=str(NODE_ORDERS))
def test_live_broker_replays_its_orders_from_the_bundled_node_cassette(
    streamreplay: StreamReplayHandle,
) -> None:
    with stand_in_node(streamreplay):
        broker = live_broker(NODE, MNEMONIC)
        try:
            buy, _ = broker.submit(trade_intent(1, "BUY", "0.5", 65010), T0)
            sell, _ = broker.submit(trade_intent(2, "SELL", "0.0768", 65096), T0)
            broker.on_event(BlockHeight(height=HEIGHT - 100, time=T0), T0)  # a stale feed
            stale, _ = broker.submit(trade_intent(3, "BUY", "0.1", 65010), T0)
        finally:
            broker.close()
    assert [buy.status, sell.status, stale.status] == [
        OrderStatus.SENT,
        OrderStatus.SENT,
        OrderStatus.REJECTED,
    ]
    assert stale.reasons == (
        "node refused the order (clob code 2): good til block 920 outside (1000, 1020]",
    )
    assert [(o["quantums"], o["subticks"], o["good_til_block"]) for o in broker.orders] == [
        (5_000_000_000, 6_501_000_000, HEIGHT + 20),  # the node's height: none on the feed
        (768_000_000, 6_509_600_000, HEIGHT + 20),
        (1_000_000_000, 6_501_000_000, HEIGHT - 80),
    ]
    assert [o["code"] for o in broker.orders] == [0, 0, 2]
    # the node's answers name the transactions the broker sent (as recorded, or replayed)
    assert [o["txhash"] for o in broker.orders] == _broadcast_hashes(streamreplay.interactions)


def test_the_bundled_node_cassette_holds_no_secret() -> None:
    """The address, public key and signatures are in it (the node sees them); the mnemonic and
    the private key never are."""
    text = NODE_ORDERS.read_text()
    frames = b"".join(
        decode_body(r.request.body) + r.response.content
        for r in iter_records(NODE_ORDERS)
        if isinstance(r, HttpInteraction)
    )
    words = MNEMONIC.split()
    for secret in [MNEMONIC, *(" ".join(words[i : i + 3]) for i in range(len(words) - 2))]:
        assert secret not in text and secret.encode() not in frames
    key = KeyPair.from_mnemonic(MNEMONIC).key.secret
    assert key.hex() not in text and key not in frames
    assert KeyPair.from_mnemonic(MNEMONIC).public_key_bytes in frames
