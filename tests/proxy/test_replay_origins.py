"""The replay origins' own listening socket (the WebSocket one is bound before its server
starts): its connections must send small messages at once."""

from __future__ import annotations

import asyncio
import socket

from pytest_streamreplay.proxy.origins import ReplayOrigins


def test_the_websocket_origin_socket_hands_out_no_delay_connections() -> None:
    """asyncio turns Nagle off only for sockets created as IPPROTO_TCP; with it on, each small
    replayed message after the first waited ~40 ms for the client's delayed ACK."""

    async def main() -> int:
        origins = ReplayOrigins()
        await origins.start()
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        sock, origins._ws_socket = origins._ws_socket, None  # serve it with a probe instead
        assert sock is not None and sock.getsockname() == ("127.0.0.1", origins.ws_port)
        server = await asyncio.start_server(handler, sock=sock)
        _, writer = await asyncio.open_connection("127.0.0.1", origins.ws_port)
        try:
            return await asyncio.wait_for(seen, 10)
        finally:
            writer.close()
            server.close()
            await origins.stop()

    assert asyncio.run(main()) != 0
