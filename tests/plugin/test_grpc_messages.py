"""gRPC messages in JSON form: a real grpcio service with real protobuf messages (compiled at
test time), descriptors named by the test, fields matched and diffed by name."""

from __future__ import annotations

import base64

import pytest

pytest.importorskip("grpc", reason="grpcio is not installed (the dev group brings it)")
pytest.importorskip("grpc_tools", reason="grpcio-tools is not installed (the dev group brings it)")

from grpc_protos import ShopProtos, compile_shop
from grpc_servers import start_shop_origin
from pytester_helpers import cassette_files, cassette_lines

from pytest_streamreplay.cassette import decode_body


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> ShopProtos:
    return compile_shop(tmp_path_factory.mktemp("protos"))


CALLS = """
import os, time, grpc, pytest
import shop_pb2, shop_pb2_grpc

@pytest.mark.streamreplay(MARKER)
def test_orders():
    with grpc.insecure_channel(os.environ["GRPC_TARGET"]) as ch:
        stub = shop_pb2_grpc.OrdersStub(ch)
        query = shop_pb2.OrderQuery(id="42", limit=3, api_key=os.environ.get("API_KEY", ""))
        query.at.FromSeconds(int(os.environ.get("AT", "1700000000")))
        order = stub.Get(query, timeout=20)
        updates = list(stub.Watch(query, timeout=20))
        trades = [shop_pb2.Order(id=i, quantity=q) for i, q in TRADES]
        filled = list(stub.Trade(iter(trades), timeout=20))
    assert (order.id, order.status, list(order.tags)) == ("42", "open", ["new"])
    assert [u.status for u in updates] == ["step 0", "step 1", "step 2"]
    assert [(f.id, f.status) for f in filled] == [(t.id, "filled") for t in trades]
"""


def _source(marker: str = "", trades: str = '[("a", 1), ("b", 2)]') -> str:
    return CALLS.replace("MARKER", marker).replace("TRADES", trades)


def _record(inner, monkeypatch, shop: ShopProtos, source: str, *, reflection: bool = False) -> None:
    server = start_shop_origin(shop, reflection=reflection)
    monkeypatch.setenv("GRPC_TARGET", server.target)
    inner.makepyfile(test_rpc=source)
    try:
        inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
        assert sorted(set(server.calls)) == ["Get", "Trade", "Watch"]
    finally:
        server.stop()


def _calls(inner) -> list[dict]:
    (cassette,) = cassette_files(inner)
    return [r for r in cassette_lines(cassette) if r["kind"] == "http"]


@pytest.mark.parametrize("how", ["module", "descriptor_set"])
def test_messages_are_stored_with_their_json_form(inner, monkeypatch, shop, how) -> None:
    if how == "module":
        source = _source('grpc_descriptors=["shop_pb2"]')
    else:  # a FileDescriptorSet file, named in the ini file relative to the rootdir
        (inner.path / "protos").mkdir()
        (inner.path / "protos" / "shop.binpb").write_bytes(shop.descriptor_set.read_bytes())
        inner.makeini("[pytest]\nstreamreplay_grpc_descriptors = protos/shop.binpb\n")
        source = _source()
    _record(inner, monkeypatch, shop, source)
    get, watch, trade = _calls(inner)

    assert get["request"]["messages"] == [
        {
            "type": "shop.OrderQuery",
            "json": {"id": "42", "at": "2023-11-14T22:13:20Z", "limit": 3},
        }
    ]
    # the bytes stay the protobuf bytes, framed, as base64
    query = shop.pb2.OrderQuery.FromString(decode_body(get["request"]["body"])[5:])
    assert query.id == "42" and "base64" in get["request"]["body"]
    (reply,) = get["response"]["chunks"]
    assert reply["message"] == {
        "type": "shop.Order",
        "json": {"id": "42", "status": "open", "quantity": "3", "tags": ["new"]},
    }
    assert [c["message"]["json"]["status"] for c in watch["response"]["chunks"]] == [
        "step 0",
        "step 1",
        "step 2",
    ]
    assert [m["json"] for m in trade["request"]["messages"]] == [
        {"id": "a", "quantity": "1"},
        {"id": "b", "quantity": "2"},
    ]
    for chunk in trade["response"]["chunks"]:  # each JSON form is its chunk's own message
        payload = base64.b64decode(chunk["base64"])[5:]
        assert shop.pb2.Order.FromString(payload).id == chunk["message"]["json"]["id"]

    inner.runpytest("--replay-strict").assert_outcomes(passed=1)


def test_without_descriptors_messages_are_bytes_only(inner, monkeypatch, shop) -> None:
    _record(inner, monkeypatch, shop, _source())
    for call in _calls(inner):
        assert "messages" not in call["request"]
        assert all("message" not in c for c in call["response"]["chunks"])


def test_a_changed_field_is_reported_by_name(inner, monkeypatch, shop) -> None:
    _record(inner, monkeypatch, shop, _source('grpc_descriptors=["shop_pb2"]'))
    monkeypatch.setenv("AT", "1700000060")  # a minute later: the query's timestamp changed
    replayed = inner.runpytest("--replay-strict")
    replayed.assert_outcomes(failed=1)
    text = replayed.stdout.str()
    assert "Unmatched request POST http://localhost:" in text
    assert (
        'request message #0 (shop.OrderQuery): at: "2023-11-14T22:14:20Z" != '
        '"2023-11-14T22:13:20Z" (recorded)' in text
    )


def test_match_on_grpc_message_ignores_the_named_fields(inner, monkeypatch, shop) -> None:
    marker = 'grpc_descriptors=["shop_pb2"], match_on=["method", "path", "grpc_message[at]"]'
    _record(inner, monkeypatch, shop, _source(marker))
    monkeypatch.setenv("AT", "1700000060")
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
    # other fields still count
    inner.makepyfile(test_rpc=_source(marker).replace('id="42"', 'id="43"'))
    replayed = inner.runpytest("--replay-strict")
    replayed.assert_outcomes(failed=1)
    assert (
        'grpc_message[at]: request message #0 (shop.OrderQuery): id: "43" != "42" (recorded)'
        in replayed.stdout.str()
    )


def test_a_later_message_of_a_bidirectional_call_is_diffed_by_field(
    inner, monkeypatch, shop
) -> None:
    _record(inner, monkeypatch, shop, _source('grpc_descriptors=["shop_pb2"]'))
    changed = _source('grpc_descriptors=["shop_pb2"]', trades='[("a", 1), ("b", 5)]')
    inner.makepyfile(test_rpc=changed)
    replayed = inner.runpytest("--replay-strict")
    replayed.assert_outcomes(failed=1)
    text = replayed.stdout.str()
    assert "/shop.Orders/Trade" in text
    assert 'request message #1 (shop.Order): quantity: "5" != "2" (recorded)' in text


def test_a_descriptor_that_cannot_be_found_is_a_clear_error(inner, monkeypatch, shop) -> None:
    inner.makepyfile(test_rpc=_source('grpc_descriptors=["no_such_pb2"]'))
    result = inner.runpytest("--record-mode=once")
    text = result.stdout.str()
    assert result.ret != 0
    assert "grpc_descriptors: 'no_such_pb2' is neither a file nor an importable module" in text
    assert not cassette_files(inner)


def test_server_reflection_gives_json_forms_and_the_cassette_keeps_the_types(
    inner, monkeypatch, shop
) -> None:
    """No descriptors in the test: the server describes itself while recording; the cassette
    keeps what it said, so replay (server gone) still compares fields by name."""
    pytest.importorskip("grpc_reflection", reason="grpcio-reflection is not installed")
    marker = 'grpc_descriptors=["server-reflection"]'
    _record(inner, monkeypatch, shop, _source(marker), reflection=True)
    (cassette,) = cassette_files(inner)
    header, *records = cassette_lines(cassette)
    assert "grpc_descriptor_set" in header
    get, watch, trade = (r for r in records if r["kind"] == "http")
    assert get["request"]["messages"][0]["json"] == {
        "id": "42",
        "at": "2023-11-14T22:13:20Z",
        "limit": 3,
    }
    assert [c["message"]["type"] for c in watch["response"]["chunks"]] == ["shop.Order"] * 3
    assert len(trade["request"]["messages"]) == 2
    # the reflection call itself went straight to the server: it is not in the cassette
    assert all("ServerReflection" not in r["request"]["url"] for r in records if "request" in r)

    monkeypatch.setenv("AT", "1700000060")
    replayed = inner.runpytest("--replay-strict")
    replayed.assert_outcomes(failed=1)
    assert 'request message #0 (shop.OrderQuery): at: "2023-11-14T22:14:20Z"' in (
        replayed.stdout.str()
    )
    ignoring = marker + ', match_on=["method", "path", "grpc_message[at]"]'
    inner.makepyfile(test_rpc=_source(ignoring))
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)


def test_a_server_without_reflection_leaves_messages_as_bytes(inner, monkeypatch, shop) -> None:
    pytest.importorskip("grpc_reflection", reason="grpcio-reflection is not installed")
    _record(inner, monkeypatch, shop, _source('grpc_descriptors=["server-reflection"]'))
    (cassette,) = cassette_files(inner)
    header, *records = cassette_lines(cassette)
    assert "grpc_descriptor_set" not in header
    assert all("messages" not in r["request"] for r in records)


def test_a_secret_field_leaves_the_protobuf_bytes_too(inner, monkeypatch, shop) -> None:
    """Redaction reaches the JSON form; the bytes are written again from it, so the key is
    nowhere in the cassette; replay still matches (the live call is redacted the same way)."""
    secret = "sk-live-4f9a8b7c6d5e4f3a2b1c"
    monkeypatch.setenv("API_KEY", secret)
    _record(inner, monkeypatch, shop, _source('grpc_descriptors=["shop_pb2"]'))
    get, watch, _ = _calls(inner)
    for call in (get, watch):
        (form,) = call["request"]["messages"]
        assert form["json"]["api_key"].startswith("REDACTED-")
        query = shop.pb2.OrderQuery.FromString(decode_body(call["request"]["body"])[5:])
        assert query.api_key == form["json"]["api_key"] and query.id == "42"
    (cassette,) = cassette_files(inner)
    text = cassette.read_text()
    assert secret not in text
    assert secret.encode() not in b"".join(decode_body(c["request"]["body"]) for c in _calls(inner))
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)
