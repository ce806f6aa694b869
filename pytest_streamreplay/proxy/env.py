"""The environment that sends every common client through the proxy without code changes.

Measured per client (see docs/configuration.md): websocket-client reads only ``http_proxy``
for ws:// and ``https_proxy`` for wss://; aiohttp's ``ws_connect`` reads ``ws_proxy``/
``wss_proxy``; requests trusts only ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``; gRPC reads
lower-case ``grpc_proxy``. ``NO_PROXY`` is removed: every client honours it, and a leftover
``localhost`` entry would let local origins bypass the recording. Node needs its own switch
(``NODE_USE_ENV_PROXY``) and CA variable.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CA_VARS",
    "NODE_VARS",
    "PROXY_VARS",
    "ROUTING_VARS",
    "UNSET_VARS",
    "client_env",
    "reset_cached_openers",
    "trust_in_cached_contexts",
]

PROXY_VARS = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "ws_proxy",
    "wss_proxy",
    "WS_PROXY",
    "WSS_PROXY",
    "grpc_proxy",
)
CA_VARS = (
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "WEBSOCKET_CLIENT_CA_BUNDLE",
    "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
)
# Node 24+ (and 22.21+) send fetch and http through HTTP(S)_PROXY only with this switch on;
# Node 20 ignores it (measured), which the summary reports. Node adds NODE_EXTRA_CA_CERTS to
# its own roots, so giving it the whole bundle keeps direct TLS working too.
NODE_VARS = ("NODE_USE_ENV_PROXY", "NODE_EXTRA_CA_CERTS")
UNSET_VARS = ("NO_PROXY", "no_proxy")
# Everything that decides whether and how a client goes through a proxy.
ROUTING_VARS = (*PROXY_VARS, *UNSET_VARS)


def client_env(proxy_url: str, ca_bundle: Path) -> dict[str, str]:
    """Variables to set for the test; ``UNSET_VARS`` are to be removed."""
    env = dict.fromkeys(PROXY_VARS, proxy_url)
    env.update(dict.fromkeys(CA_VARS, str(ca_bundle)))
    env.update(NODE_USE_ENV_PROXY="1", NODE_EXTRA_CA_CERTS=str(ca_bundle))
    return env


_TRUSTED: set[tuple[int, str]] = set()


def trust_in_cached_contexts(ca_cert: Path) -> None:
    """Add the proxy CA to SSL contexts that clients built at import time.

    aiohttp (3.10+) makes its default verifying context when it is imported, usually while
    pytest collects the test module, before the test's SSL_CERT_FILE exists. Adding a CA only
    extends that context's trust; nothing it trusted before is lost.
    """
    import sys

    connector = sys.modules.get("aiohttp.connector")
    context = getattr(connector, "_SSL_CONTEXT_VERIFIED", None)
    key = (id(context), str(ca_cert))
    if context is not None and key not in _TRUSTED:
        context.load_verify_locations(cafile=str(ca_cert))
        _TRUSTED.add(key)


def reset_cached_openers() -> None:
    """Forget urllib's global opener: it captures the proxy variables of its first use."""
    import sys

    urllib_request = sys.modules.get("urllib.request")
    if urllib_request is not None:
        urllib_request.install_opener(None)
