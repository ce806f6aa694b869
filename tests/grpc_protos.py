"""A small protobuf service compiled at test time with grpcio-tools (no generated code in the
repository): ``shop.Orders`` with unary, server-streaming and bidirectional methods whose
messages use a well-known type (``google.protobuf.Timestamp``)."""

from __future__ import annotations

import importlib
import queue
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

SHOP_PROTO = """
syntax = "proto3";
package shop;
import "google/protobuf/timestamp.proto";

message OrderQuery {
  string id = 1;
  google.protobuf.Timestamp at = 2;
  int32 limit = 3;
  string api_key = 4;
}

message Order {
  string id = 1;
  string status = 2;
  int64 quantity = 3;
  repeated string tags = 4;
}

service Orders {
  rpc Get(OrderQuery) returns (Order);
  rpc Watch(OrderQuery) returns (stream Order);
  rpc Trade(stream Order) returns (stream Order);
}
"""


@dataclass
class ShopProtos:
    folder: Path  # holds shop_pb2.py, shop_pb2_grpc.py and shop.binpb
    pb2: ModuleType
    pb2_grpc: ModuleType

    @property
    def descriptor_set(self) -> Path:
        return self.folder / "shop.binpb"


def compile_shop(folder: Path) -> ShopProtos:
    """Compile ``shop.proto`` into ``folder`` and import it (``folder`` goes on sys.path)."""
    import grpc_tools
    from grpc_tools import protoc

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shop.proto").write_text(SHOP_PROTO)
    include = Path(grpc_tools.__file__).parent / "_proto"
    code = protoc.main(
        [
            "protoc",
            f"-I{folder}",
            f"-I{include}",
            f"--python_out={folder}",
            f"--grpc_python_out={folder}",
            f"--descriptor_set_out={folder / 'shop.binpb'}",
            "--include_imports",
            str(folder / "shop.proto"),
        ]
    )
    assert code == 0, f"protoc failed ({code})"
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return ShopProtos(
        folder, importlib.import_module("shop_pb2"), importlib.import_module("shop_pb2_grpc")
    )


def record_shop_calls(path: Path, protos: ShopProtos, *, descriptors: bool = True) -> Path:
    """Record a cassette of real calls to a real ``shop.Orders`` server through the proxy
    (``use_cassette``, no pytest): ``Get`` 42, ``Watch`` (3 updates), ``Trade`` (2 orders,
    bidirectional, the second sent once the first is answered), then ``Get`` of a missing
    order (NOT_FOUND)."""
    import grpc
    from grpc_servers import start_shop_origin

    from pytest_streamreplay.harness import use_cassette

    pb2, pb2_grpc = protos.pb2, protos.pb2_grpc
    server = start_shop_origin(protos)
    try:
        with (
            use_cassette(
                path, record_mode="all", grpc_descriptors=["shop_pb2"] if descriptors else ()
            ),
            grpc.insecure_channel(server.target) as channel,
        ):
            stub = pb2_grpc.OrdersStub(channel)
            query = pb2.OrderQuery(id="42", limit=3)
            stub.Get(query, timeout=20)
            list(stub.Watch(query, timeout=20))
            answers: queue.Queue[Any] = queue.Queue()

            def orders() -> Iterator[Any]:  # each order once the last one is answered
                for order_id, quantity in (("a", 1), ("b", 2)):
                    yield pb2.Order(id=order_id, quantity=quantity)
                    answers.get(timeout=10)

            for answer in stub.Trade(orders(), timeout=20):
                answers.put(answer)
            try:
                stub.Get(pb2.OrderQuery(id="missing"), timeout=20)
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.NOT_FOUND
            else:
                raise AssertionError("Get(missing) should have failed")
    finally:
        server.stop()
    return path
