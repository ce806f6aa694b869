"""Share httpx's TLS contexts while a test is bound to the proxy.

Every ``httpx.get`` builds a new client, and an httpx client builds one TLS context per proxy
variable it finds (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY: four contexts in all), each loading the
whole CA bundle: measured 40-90 ms apiece, which made a one-request test several times slower
than the same test under vcrpy (docs/benchmarks.md). Inside a bound test every client trusts
the same bundle, so contexts built from the same arguments and the same CA variables are
shared. Contexts passed in by the caller (``verify=ssl_context``) are never touched.
Opt out with the ini key ``streamreplay_share_tls_contexts = false``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["shared_httpx_tls_contexts"]

_CACHE: dict[tuple[Any, ...], Any] = {}


def _key(kwargs: dict[str, Any], args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    items = tuple(sorted(kwargs.items()))
    for _, value in items:
        if not isinstance(value, str | bool | int | type(None) | tuple):
            return None  # an SSLContext or a path object the caller controls
    env = tuple(os.environ.get(v) for v in ("SSL_CERT_FILE", "SSL_CERT_DIR"))
    bundle = env[0]
    stamp = os.stat(bundle).st_mtime_ns if bundle and os.path.exists(bundle) else None
    return (args, items, env, stamp)


@contextlib.contextmanager
def shared_httpx_tls_contexts() -> Iterator[None]:
    """Patch httpx's transport module for the duration (only if httpx is imported)."""
    module = sys.modules.get("httpx._transports.default")
    original: Callable[..., Any] | None = getattr(module, "create_ssl_context", None)
    if module is None or original is None or getattr(original, "_streamreplay", False):
        yield
        return

    def create_ssl_context(*args: Any, **kwargs: Any) -> Any:
        key = _key(kwargs, args)
        if key is None:
            return original(*args, **kwargs)
        context = _CACHE.get(key)
        if context is None:
            context = _CACHE[key] = original(*args, **kwargs)
        return context

    create_ssl_context._streamreplay = True  # type: ignore[attr-defined]
    module.create_ssl_context = create_ssl_context  # type: ignore[attr-defined]
    try:
        yield
    finally:
        module.create_ssl_context = original  # type: ignore[attr-defined]
