"""A small protobuf service compiled at test time with grpcio-tools (no generated code in the
repository): ``shop.Orders`` with unary, server-streaming and bidirectional methods whose
messages use a well-known type (``google.protobuf.Timestamp``)."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

SHOP_PROTO = """
syntax = "proto3";
package shop;
import "google/protobuf/timestamp.proto";

message OrderQuery {
  string id = 1;
  google.protobuf.Timestamp at = 2;
  int32 limit = 3;
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
