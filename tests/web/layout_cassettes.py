"""Cassettes for the dashboard's layout tests: HTTP only (with a streamed answer), gRPC calls,
both HTTP and WebSocket under a long parametrized test id, and many large messages.

They are written the way the recorder writes them (``cassette`` records, base64 gRPC frames,
``chunks`` with offsets from the response headers, ``trailers``), so the page sees what a real
recording holds.
"""

from __future__ import annotations

import struct
from pathlib import Path

from pytest_streamreplay.cassette import (
    CassetteWriter,
    Chunk,
    HttpInteraction,
    HttpRequest,
    HttpResponse,
    WsConnection,
    WsMessage,
    encode_body,
    new_header,
    write_cassette,
)

from .conftest import feed_records

__all__ = [
    "HTTP_TEST",
    "LONG_NAME",
    "LONG_TEST",
    "LONG_URL",
    "MANY",
    "REDACTED_TOKEN",
    "write_grpc",
    "write_grpc_stream",
    "write_http_only",
    "write_many",
    "write_many_calls",
    "write_mixed",
]

LONG_TEST = (
    "tests/plugin/test_websocket_reconnect_and_resubscribe.py::"
    "test_reconnect_resubscribes_every_channel_after_the_server_drops_the_socket"
    "[aiohttp-wss-v4_orderbook+v4_trades-BTC-USD,ETH-USD,SOL-USD-record_mode=new_episodes]"
)
HTTP_TEST = "tests/plugin/test_http_clients.py::test_orders_api_roundtrip[httpx-http2]"
MANY = 5000
LONG_NAME = (
    "recordings/2026-11-22/"
    "tests_plugin_test_websocket_reconnect_and_resubscribe_py__"
    "test_reconnect_resubscribes_every_channel_after_the_server_drops_the_socket.jsonl"
)


def _json_body(text: str) -> dict[str, object] | None:
    return encode_body(text.encode())


def write_http_only(path: Path) -> Path:
    """Four calls: a GET with a redacted header, a POST, a streamed answer, a 404."""
    api = "https://api.example.test/v1/accounts/acct-0001"
    records = [
        HttpInteraction(
            id=1,
            request=HttpRequest(
                "GET",
                f"{api}/orders?status=open&limit=100",
                [["Authorization", "REDACTED-bearer-1"], ["Accept", "application/json"]],
                None,
            ),
            response=HttpResponse(
                200,
                "OK",
                headers=[
                    ["Content-Type", "application/json"],
                    ["X-Request-Id", "req-1"],
                    ["Set-Cookie", "session=" + "a1B2c3D4" * 80 + "; Path=/; HttpOnly"],
                ],
                body=_json_body('{"orders":[{"id":"o-1","side":"BUY","size":"0.5"}]}'),
            ),
            t=12.5,
            duration_ms=18.25,
        ),
        HttpInteraction(
            id=2,
            request=HttpRequest(
                "POST",
                f"{api}/orders",
                [["Content-Type", "application/json"]],
                _json_body('{"side":"SELL","size":"1.25","price":"97000"}'),
            ),
            response=HttpResponse(
                201,
                "Created",
                headers=[["Content-Type", "application/json"]],
                body=_json_body('{"id":"o-2","status":"OPEN"}'),
            ),
            t=40.0,
            duration_ms=22.0,
        ),
        HttpInteraction(
            id=3,
            request=HttpRequest("GET", f"{api}/events", [["Accept", "text/event-stream"]], None),
            response=HttpResponse(
                200,
                "OK",
                headers=[["Content-Type", "text/event-stream"]],
                chunks=[
                    Chunk(0.0, encode_body(b"data: first\n\n")),
                    Chunk(120.5, encode_body(b"data: second\n\n")),
                    Chunk(250.0, encode_body(b"data: third\n\n")),
                ],
            ),
            t=70.0,
            duration_ms=260.0,
        ),
        HttpInteraction(
            id=4,
            request=HttpRequest("GET", f"{api}/orders/missing", [], None),
            response=HttpResponse(
                404, "Not Found", headers=[["Content-Type", "text/plain"]], body=_json_body("no")
            ),
            t=400.0,
            duration_ms=3.5,
        ),
    ]
    write_cassette(path, new_header(test=HTTP_TEST), records)
    return path


REDACTED_TOKEN = b"REDACTED-jwt-1____"  # what redaction leaves of an 18-byte secret


def write_many_calls(path: Path, n: int = 120) -> Path:
    """``n`` quick GETs, more than a page of the HTTP section."""
    records = [
        HttpInteraction(
            id=i,
            request=HttpRequest("GET", f"https://api.example.test/v1/ticks/{i}", [], None),
            response=HttpResponse(200, "OK", headers=[], body=_json_body(f'{{"tick":{i}}}')),
            t=10.0 * i,
            duration_ms=2.0,
        )
        for i in range(n)
    ]
    write_cassette(path, new_header(test="tests/test_api.py::test_ticks"), records)
    return path


def _frame(payload: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", len(payload)) + payload


def _grpc_request(method: str, payload: bytes) -> HttpRequest:
    return HttpRequest(
        "POST",
        f"http://orders.internal:50051/orders.Orders/{method}",
        [["content-type", "application/grpc"], ["te", "trailers"]],
        encode_body(_frame(payload), binary=True),
    )


def write_grpc(path: Path) -> Path:
    """A unary call, a server-streaming one (chunks) and an error answered trailers-only."""
    grpc_headers = [["content-type", "application/grpc"]]
    records = [
        HttpInteraction(
            id=1,
            # a token in a protobuf string field, redacted to a placeholder of its length
            request=_grpc_request("Get", b"\x0a\x0242\x12\x12" + REDACTED_TOKEN),
            response=HttpResponse(
                200,
                "",
                "HTTP/2.0",
                grpc_headers,
                body=encode_body(_frame(b"order 42: open"), binary=True),
                trailers=[["grpc-status", "0"], ["grpc-message", ""]],
            ),
            t=5.0,
            duration_ms=4.0,
        ),
        HttpInteraction(
            id=2,
            request=_grpc_request("Watch", b"BTC-USD"),
            response=HttpResponse(
                200,
                "",
                "HTTP/2.0",
                grpc_headers,
                chunks=[
                    Chunk(float(10 * i), encode_body(_frame(f"tick {i}".encode()), binary=True))
                    for i in range(4)
                ],
                trailers=[["grpc-status", "0"]],
            ),
            t=20.0,
            duration_ms=45.0,
        ),
        HttpInteraction(
            id=3,
            request=_grpc_request("Get", b"7"),
            response=HttpResponse(
                200,
                "",
                "HTTP/2.0",
                [*grpc_headers, ["grpc-status", "5"], ["grpc-message", "order 7 not found"]],
                body=None,
            ),
            t=90.0,
            duration_ms=2.0,
        ),
    ]
    write_cassette(path, new_header(test="tests/plugin/test_grpc.py::test_orders"), records)
    return path


def write_grpc_stream(path: Path, n: int = 120) -> Path:
    """One server-streaming call of ``n`` answers with JSON forms (more than a page of them),
    each a long one-line preview."""
    updates = [
        {"id": "42", "status": f"step {i}", "quantity": str(i), "tags": ["x" * 40] * 6}
        for i in range(n)
    ]
    chunks = [
        Chunk(
            float(i),
            encode_body(_frame(f"step {i}".encode()), binary=True),
            message={"type": "orders.Order", "json": update},
        )
        for i, update in enumerate(updates)
    ]
    request = _grpc_request("Watch", b"\x0a\x0242")
    request.messages = [{"type": "orders.OrderQuery", "json": {"id": "42"}}]
    record = HttpInteraction(
        id=1,
        request=request,
        response=HttpResponse(
            200,
            "",
            "HTTP/2.0",
            [["content-type", "application/grpc"]],
            chunks=chunks,
            trailers=[["grpc-status", "0"]],
        ),
        t=3.0,
        duration_ms=float(n),
    )
    write_cassette(path, new_header(test="tests/plugin/test_grpc.py::test_watch"), [record])
    return path


LONG_URL = "wss://indexer.v4testnet.dydx.exchange/v4/ws?" + "&".join(
    f"subscription_{k}=v4_orderbook:BTC-USD,ETH-USD,SOL-USD" for k in range(6)
)


def write_mixed(path: Path) -> Path:
    """HTTP and WebSocket connections (the API tests' feed, and one with a 300-character URL)
    under a very long test id."""
    records = [
        *feed_records(),
        WsConnection(id=3, url=LONG_URL, t=900.0),
        WsMessage.build(3, "send", 5.0, b"\x08\x01\x12\x12" + REDACTED_TOKEN, True),
    ]
    write_cassette(path, new_header(test=LONG_TEST), records)
    return path


def write_many(path: Path, n: int = MANY) -> Path:
    """``n`` received messages whose pretty bodies are about 40 lines each."""
    with CassetteWriter(path, new_header(test="tests/test_feed.py::test_many")) as writer:
        writer.write(WsConnection(id=1, url="wss://indexer.test/v4/ws", t=0.0))
        for i in range(n):
            levels = [[f"{97000 + k}.5", f"{k + i % 7}.25"] for k in range(18)]
            writer.write(
                {
                    "kind": "ws_msg",
                    "conn": 1,
                    "dir": "recv",
                    "t": float(i),
                    "json": {
                        "type": "channel_data",
                        "channel": "v4_orderbook",
                        "seq": i,
                        "contents": {"bids": levels, "asks": levels},
                    },
                }
            )
    return path
