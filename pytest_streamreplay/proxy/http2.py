"""HTTP/2 end to end: what mitmproxy does not negotiate on its own.

mitmproxy speaks HTTP/2 only after TLS ALPN, picks the client's first offer (httpx offers
``http/1.1`` before ``h2``), and reads cleartext HTTP/2 with prior knowledge (plaintext gRPC,
``grpc.insecure_channel`` through ``grpc_proxy``) as a broken HTTP/1 request. This addon makes
the client side negotiate h2 whenever the client offers it, recognises the h2 connection
preface inside a CONNECT tunnel, and keeps the origin side on the protocol the client used.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

__all__ = ["H2_PREFACE", "Http2Negotiation"]

#: What an HTTP/2 client with prior knowledge sends first (RFC 9113, section 3.4).
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class Http2Negotiation:
    """Added after mitmproxy's own ``NextLayer`` and ``TlsConfig``, whose choices it amends.

    ``h2c_ports``: ports on 127.0.0.1 that speak cleartext HTTP/2 to an h2 client (the HTTP/2
    replay origin)."""

    def __init__(self, h2c_ports: Callable[[], Collection[int | None]] = tuple) -> None:
        self.h2c_ports = h2c_ports

    def next_layer(self, nextlayer: Any) -> None:
        data = nextlayer.data_client()
        if not data.startswith(H2_PREFACE):
            return  # a shorter prefix: mitmproxy asks again when more bytes arrive
        from mitmproxy.proxy import layers
        from mitmproxy.proxy.layers.http import HTTPMode

        context = nextlayer.context
        context.client.alpn = b"h2"  # what ALPN would have said, had there been TLS
        nextlayer.layer = layers.HttpLayer(context, HTTPMode.transparent)

    def server_connected(self, data: Any) -> None:
        """A cleartext origin under a cleartext h2 client speaks h2 too (gRPC servers on
        plaintext ports speak nothing else)."""
        if data.client.alpn != b"h2" or data.server.tls:
            return
        address = data.server.address or ("", 0)
        if not data.client.tls or (address[0] == "127.0.0.1" and address[1] in self.h2c_ports()):
            data.server.alpn = b"h2"

    def tls_start_client(self, tls_start: Any) -> None:
        """Prefer h2 when the client offers it (servers choose; mitmproxy took the first)."""
        from mitmproxy import ctx

        client = tls_start.context.client
        if not ctx.options.http2 or b"h2" not in (client.alpn_offers or ()):
            return
        ssl_conn = tls_start.ssl_conn
        app_data = ssl_conn.get_app_data() if ssl_conn is not None else None
        if isinstance(app_data, dict) and app_data.get("client_alpn") is None:
            app_data["client_alpn"] = b"h2"

    def tls_start_server(self, tls_start: Any) -> None:
        """Offer the origin the protocol the client negotiated first, so both sides match."""
        client, server = tls_start.context.client, tls_start.context.server
        chosen = client.alpn
        if chosen and server.alpn_offers and chosen in server.alpn_offers:
            server.alpn_offers = (chosen, *(a for a in server.alpn_offers if a != chosen))
            if tls_start.ssl_conn is not None:
                tls_start.ssl_conn.set_alpn_protos(list(server.alpn_offers))
