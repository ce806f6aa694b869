"""cassette_stream over gRPC calls: a server stream's messages on virtual time, like a
WebSocket's (a real grpcio server and client recorded the cassette)."""

from __future__ import annotations

from pathlib import Path

import pytest
from reactivex.testing import TestScheduler

from pytest_streamreplay.cassette import WsMessage, iter_records
from pytest_streamreplay.cassette.grpc import call_messages
from pytest_streamreplay.streams import VirtualScheduler, cassette_stream, collect
from pytest_streamreplay.streams.collect import collect_notifications


def _call(path: Path, method: str):
    return next(
        r for r in iter_records(path) if getattr(r, "request", None) and r.request.path == method
    )


def test_a_server_stream_emits_its_messages_at_their_offsets(grpc_cassette: Path) -> None:
    watch = _call(grpc_cassette, "/shop.Orders/Watch")
    offsets = [c.t for c in watch.response.chunks]
    s = TestScheduler()
    notes = collect_notifications(
        cassette_stream(grpc_cassette, connection="/shop.Orders/Watch", scheduler=s)
    )
    assert [n.kind for n in notes] == ["on_next"] * 3 + ["on_completed"]
    assert [n.time for n in notes[:3]] == [pytest.approx(t, abs=0.001) for t in offsets]
    assert [n.value["status"] for n in notes[:3]] == ["step 0", "step 1", "step 2"]
    assert notes[2].value == {"id": "42", "status": "step 2", "quantity": "2"}


def test_a_call_by_id_both_directions_as_message_records(grpc_cassette: Path) -> None:
    trade = _call(grpc_cassette, "/shop.Orders/Trade")
    records = collect(
        cassette_stream(
            grpc_cassette,
            connection=trade.id,
            direction="both",
            records=True,
            scheduler=VirtualScheduler(),
        )
    )
    assert all(isinstance(r, WsMessage) and r.conn == trade.id for r in records)
    assert [(r.dir, r.value["id"]) for r in records] == [
        ("send", "a"),
        ("recv", "a"),
        ("send", "b"),
        ("recv", "b"),
    ]
    expected = [(m.dir, m.t) for m in call_messages(trade)]
    assert [(r.dir, r.t) for r in records] == expected


def test_without_json_forms_the_values_are_the_protobuf_bytes(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    pytest.importorskip(
        "grpc_tools", reason="grpcio-tools is not installed (the dev group brings it)"
    )
    from grpc_protos import compile_shop, record_shop_calls

    folder = tmp_path_factory.mktemp("bytes_only")
    protos = compile_shop(folder / "protos")
    path = record_shop_calls(folder / "shop.jsonl", protos, descriptors=False)
    assert '"messages"' not in path.read_text()  # no JSON forms were written
    values = collect(
        cassette_stream(path, connection="/shop.Orders/Watch", scheduler=VirtualScheduler())
    )
    assert all(isinstance(v, bytes) for v in values)
    statuses = [protos.pb2.Order.FromString(v).status for v in values]
    assert statuses == ["step 0", "step 1", "step 2"]
