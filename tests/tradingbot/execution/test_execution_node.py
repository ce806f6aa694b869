"""The live adapter against a stand-in validator node (``tests/dydx_node.py``): the real
dydx-v4-client ``NodeClient`` over real gRPC, first directly, then recorded into a cassette by
the plugin and replayed with the node stopped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

# pytester's inline runs drop the modules an inner run imported; importing these here keeps one
# copy for every run (see tests/plugin/conftest.py).
import cryptography.hazmat.primitives.hashes
import cryptography.x509  # noqa: F401
import mitmproxy.addons.proxyserver
import mitmproxy.master
import mitmproxy.proxy.layers.http  # noqa: F401
import pytest

pytest.importorskip("dydx_v4_client", reason="dydx-v4-client is not installed (Python < 3.13 only)")

from dydx_node import (
    T0,
    DydxNode,
    decoded_orders,
    live_broker,
    start_dydx_node,
    test_mnemonic,
    trade_intent,
)
from dydx_v4_client.key_pair import KeyPair
from pytester_helpers import cassette_files, cassette_lines, outputs, prepare_inner
from servers import make_self_signed

from pytest_streamreplay.cassette import decode_body
from tradingbot.execution import OrderStatus
from tradingbot.execution.live import LiveBroker
from tradingbot.feeds.events import BlockHeight

MNEMONIC = test_mnemonic()
ADDRESS = LiveBroker(env={"DYDX_MNEMONIC": MNEMONIC}).address or ""


@pytest.fixture
def node() -> Iterator[DydxNode]:
    server = start_dydx_node({ADDRESS: (7, 3)}, height=1_000)
    yield server
    server.stop()


def test_orders_reach_the_node_signed_with_chain_numbers_and_a_live_good_til_block(
    node: DydxNode,
) -> None:
    """No block height on the feed (``tradingbot run`` subscribes none): the broker asks the
    node, so the order lives to height + 20 instead of expiring at block 20."""
    broker = live_broker(node.target, MNEMONIC)
    try:
        buy, _ = broker.submit(trade_intent(1, "BUY", "0.5", 65010), T0)
        sell, _ = broker.submit(trade_intent(2, "SELL", "0.0768", 65096), T0)
    finally:
        broker.close()
    assert node.refused == []
    assert [buy.status, sell.status] == [OrderStatus.SENT, OrderStatus.SENT]
    assert decoded_orders(node) == [
        {
            "owner": ADDRESS,
            "clob_pair_id": 0,
            "client_id": broker.orders[0]["client_id"],
            "side": 1,  # SIDE_BUY
            "quantums": 5_000_000_000,
            "subticks": 6_501_000_000,
            "good_til_block": 1_020,
        },
        {
            "owner": ADDRESS,
            "clob_pair_id": 0,
            "client_id": broker.orders[1]["client_id"],
            "side": 2,  # SIDE_SELL
            "quantums": 768_000_000,
            "subticks": 6_509_600_000,
            "good_til_block": 1_020,
        },
    ]
    assert node.calls.count("BroadcastTx") == 2 and "GetLatestBlock" in node.calls
    assert [(len(o["txhash"]), o["code"]) for o in broker.orders] == [(64, 0), (64, 0)]


def test_a_feed_block_height_is_used_without_asking_the_node(node: DydxNode) -> None:
    broker = live_broker(node.target, MNEMONIC)
    broker.on_event(BlockHeight(height=995, time=T0), T0)
    try:
        report, _ = broker.submit(trade_intent(1, "BUY", "0.5", 65010), T0)
    finally:
        broker.close()
    assert report.status is OrderStatus.SENT
    assert [o["good_til_block"] for o in decoded_orders(node)] == [1_015]
    assert "GetLatestBlock" not in node.calls


def test_a_transaction_the_node_refuses_is_reported_rejected_with_its_log(
    node: DydxNode,
) -> None:
    """A transaction the node answers with a non-zero code never reached the book: the report
    says rejected, with the node's codespace, code and log."""
    broker = live_broker(node.target, MNEMONIC)
    broker.on_event(BlockHeight(height=900, time=T0), T0)  # a stale height: outside the window
    try:
        report, fills = broker.submit(trade_intent(1, "BUY", "0.5", 65010), T0)
    finally:
        broker.close()
    assert report.status is OrderStatus.REJECTED and fills == []
    assert report.reasons == (
        "node refused the order (clob code 2): good til block 920 outside (1000, 1020]",
    )
    assert broker.position_size("BTC-USD") == 0  # the shadow did not fill it either
    [order] = broker.orders
    assert order["code"] == 2 and len(order["txhash"]) == 64
    assert json.dumps(broker.orders).count(MNEMONIC) == 0


# -- recorded by the plugin, replayed without the node ----------------------------------------

INNER = """
import json, os, pathlib

import pytest
from dydx_node import T0, live_broker, trade_intent


@pytest.mark.streamreplay
def test_orders():
    # the mnemonic comes from DYDX_MNEMONIC
    broker = live_broker(os.environ["NODE"], tls=bool(os.environ.get("NODE_TLS")))
    intents = [
        trade_intent(1, "BUY", os.environ["SIZE"], 65010),
        trade_intent(2, "SELL", "0.0768", 65096),
    ]
    try:
        reports = [broker.submit(intent, T0)[0] for intent in intents]
    finally:
        broker.close()
    seen = {
        "reports": [[r.intent_id, r.status.value, str(r.requested), list(r.reasons)]
                    for r in reports],
        "orders": broker.orders,
    }
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.bin").write_bytes(json.dumps(seen).encode())
"""


@pytest.fixture
def inner(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ca_cache: Path
) -> pytest.Pytester:
    monkeypatch.setenv("DYDX_MNEMONIC", MNEMONIC)
    monkeypatch.setenv("SIZE", "0.5")
    pytester.makepyfile(test_node=INNER)
    return prepare_inner(pytester, monkeypatch, ca_cache)


def _record(
    inner: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    tls: tuple[Path, Path] | None = None,
) -> DydxNode:
    """Record the inner test against a stand-in node (with ``tls``: (cert, key), as mainnet's
    nodes speak TLS), then stop the node: what follows can only be replay."""
    node = start_dydx_node({ADDRESS: (7, 3)}, height=1_000, tls=tls)
    monkeypatch.setenv("NODE", node.target)
    args = []
    if tls is not None:
        monkeypatch.setenv("NODE_TLS", "1")
        args.append(f"--upstream-ca={tls[0]}")
    try:
        inner.runpytest("--record-mode=once", *args).assert_outcomes(passed=1)
    finally:
        node.stop()
    return node


@pytest.fixture(scope="module")
def node_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_self_signed(tmp_path_factory.mktemp("node-tls"))


@pytest.mark.parametrize("tls", [False, True], ids=["plaintext", "tls"])
def test_node_client_records_then_replays_strictly_with_the_same_reports(
    inner: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    node_cert: tuple[Path, Path],
    tls: bool,
) -> None:
    node = _record(inner, monkeypatch, node_cert if tls else None)
    # the wallet's account, then per order: the height (none on the feed), the sequence, the
    # transaction
    assert node.calls == ["Account", *["GetLatestBlock", "Account", "BroadcastTx"] * 2]
    assert [(o["quantums"], o["subticks"], o["good_til_block"]) for o in decoded_orders(node)] == [
        (5_000_000_000, 6_501_000_000, 1_020),
        (768_000_000, 6_509_600_000, 1_020),
    ]

    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    recorded, replayed = outputs(inner)
    assert recorded == replayed, "the replayed node must give the broker the same answers"
    seen = json.loads(recorded)
    assert [r[:2] for r in seen["reports"]] == [["s000001", "sent"], ["s000002", "sent"]]
    assert [o["code"] for o in seen["orders"]] == [0, 0]

    (cassette,) = cassette_files(inner)
    text = cassette.read_text()
    calls = [r for r in cassette_lines(cassette) if r["kind"] == "http"]
    services = {
        "Account": "cosmos.auth.v1beta1.Query",
        "GetLatestBlock": "cosmos.base.tendermint.v1beta1.Service",
        "BroadcastTx": "cosmos.tx.v1beta1.Service",
    }
    assert [c["request"]["url"].split("/", 3)[3] for c in calls] == [
        f"{services[m]}/{m}" for m in node.calls
    ]
    # The mnemonic and the key never go to the node (only the address, the public key and
    # the signature do), so neither is in the cassette's text nor in its decoded messages.
    sent = b"".join(decode_body(c["request"]["body"]) for c in calls)
    received = b"".join(decode_body(c["response"].get("body")) for c in calls)
    key = KeyPair.from_mnemonic(MNEMONIC)
    words = MNEMONIC.split()
    for secret in [MNEMONIC, *(" ".join(words[i : i + 3]) for i in range(len(words) - 2))]:
        assert secret not in text and secret.encode() not in sent + received
    private = key.key.secret
    assert private.hex() not in text and private not in sent + received
    # the public address is, as the node saw it (in the protobuf bytes, stored as base64)
    assert ADDRESS.encode() in sent
    assert key.public_key_bytes in sent  # so is the public key (inside the transaction)


def test_a_changed_order_fails_the_replay_naming_the_broadcast(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record(inner, monkeypatch)
    monkeypatch.setenv("SIZE", "0.6")
    replayed = inner.runpytest("--replay-strict")
    replayed.assert_outcomes(failed=1)
    text = replayed.stdout.str()
    assert "Unmatched request POST http://localhost:" in text
    # nearest: the recorded broadcasts (same method, another message), not the calls before
    nearest = text.split("nearest recorded requests:\n", 1)[1].splitlines()[0]
    assert "/cosmos.tx.v1beta1.Service/BroadcastTx  -- grpc messages: request message #0:" in (
        nearest
    )
