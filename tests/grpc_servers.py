"""A real grpcio server on 127.0.0.1 with a service defined without generated code (bytes in,
bytes out), plaintext or TLS, counting the calls it answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

SERVICE = "test.Echo"


@dataclass
class GrpcOrigin:
    server: Any
    port: int
    calls: list[str] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"localhost:{self.port}"

    def stop(self) -> None:
        self.server.stop(0).wait(5)


def start_grpc_origin(tls: tuple[Path, Path] | None = None) -> GrpcOrigin:
    """``/test.Echo/Unary`` echoes with a custom trailer, ``/Stream`` sends N messages 50 ms
    apart, ``/Burst`` a 2 MiB message and then N small ones back to back, ``/Fail`` ends
    with NOT_FOUND, its details and a trailer, ``/Collect`` (client streaming) joins what it
    was sent, ``/Chat`` (bidirectional) answers each message as it arrives."""
    seen: list[str] = []
    lock = threading.Lock()

    def note(name: str) -> None:
        with lock:
            seen.append(name)

    def unary(request: bytes, context: Any) -> bytes:
        note("Unary")
        context.set_trailing_metadata((("x-served-by", "origin"),))
        return b"echo:" + request

    def stream(request: bytes, context: Any) -> Iterator[bytes]:
        note("Stream")
        for i in range(int(request or b"3")):
            if i:
                time.sleep(0.05)
            yield b"message %d" % i

    def burst(request: bytes, context: Any) -> Iterator[bytes]:
        note("Burst")
        yield bytes(range(256)) * 8192  # 2 MiB: several HTTP/2 frames, several socket reads
        for i in range(int(request or b"20")):
            yield b"small %d" % i  # sent back to back: many share one socket read

    def fail(request: bytes, context: Any) -> bytes:
        note("Fail")
        context.set_trailing_metadata((("x-reason", "no-such-order"),))
        context.abort(grpc.StatusCode.NOT_FOUND, f"order {request.decode()} not found")
        raise AssertionError("unreachable")

    def collect(requests: Iterator[bytes], context: Any) -> bytes:
        note("Collect")
        return b"+".join(requests)

    def chat(requests: Iterator[bytes], context: Any) -> Iterator[bytes]:
        note("Chat")
        for request in requests:
            yield b"re:" + request

    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Unary": grpc.unary_unary_rpc_method_handler(unary),
            "Stream": grpc.unary_stream_rpc_method_handler(stream),
            "Burst": grpc.unary_stream_rpc_method_handler(burst),
            "Fail": grpc.unary_unary_rpc_method_handler(fail),
            "Collect": grpc.stream_unary_rpc_method_handler(collect),
            "Chat": grpc.stream_stream_rpc_method_handler(chat),
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    port = bind_local_port(server, tls)
    server.start()
    return GrpcOrigin(server, port, seen)


def start_shop_origin(protos: Any, *, reflection: bool = False) -> GrpcOrigin:
    """A plaintext grpcio server of ``shop.Orders`` (see grpc_protos.py) with real messages:
    ``Get`` answers the order asked for (NOT_FOUND for id ``missing``), ``Watch`` streams
    ``limit`` updates of it 20 ms apart, ``Trade`` (bidirectional) confirms each order as it
    arrives. ``reflection``: the server describes itself (gRPC server reflection)."""
    pb2, pb2_grpc = protos.pb2, protos.pb2_grpc
    seen: list[str] = []

    class Orders(pb2_grpc.OrdersServicer):  # type: ignore[misc,name-defined]
        def Get(self, request: Any, context: Any) -> Any:
            seen.append("Get")
            if request.id == "missing":
                context.abort(grpc.StatusCode.NOT_FOUND, "no order missing")
            return pb2.Order(id=request.id, status="open", quantity=3, tags=["new"])

        def Watch(self, request: Any, context: Any) -> Iterator[Any]:
            seen.append("Watch")
            for i in range(request.limit or 3):
                if i:
                    time.sleep(0.02)
                yield pb2.Order(id=request.id, status=f"step {i}", quantity=i)

        def Trade(self, requests: Iterator[Any], context: Any) -> Iterator[Any]:
            seen.append("Trade")
            for order in requests:
                yield pb2.Order(id=order.id, status="filled", quantity=order.quantity)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb2_grpc.add_OrdersServicer_to_server(Orders(), server)
    if reflection:
        from grpc_reflection.v1alpha import reflection as grpc_reflection

        names = (pb2.DESCRIPTOR.services_by_name["Orders"].full_name, grpc_reflection.SERVICE_NAME)
        grpc_reflection.enable_server_reflection(names, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return GrpcOrigin(server, port, seen)


def bind_local_port(server: Any, tls: tuple[Path, Path] | None) -> int:
    """A free port of 127.0.0.1 for a grpcio ``server``: plaintext, or TLS with (cert, key)."""
    if tls is None:
        return int(server.add_insecure_port("127.0.0.1:0"))
    cert, key = tls
    creds = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    return int(server.add_secure_port("127.0.0.1:0", creds))
