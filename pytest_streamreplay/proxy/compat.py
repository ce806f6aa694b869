"""Fixes for clients that mitmproxy would otherwise turn away, or that would not come at all."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any

__all__ = [
    "accept_ws_scheme_requests",
    "aiohttp_trusts_env",
    "end_bodies_before_trailers",
    "skip_informational_answers",
]


def accept_ws_scheme_requests() -> None:
    """Let ``GET ws://host/path`` through to the hooks as ``http://``.

    aiohttp sends that absolute form to a plain-HTTP proxy for ws:// URLs; mitmproxy 11/12
    answer 400 "Invalid request scheme: ws" before any addon hook runs (upstream issues #3867,
    #7717), so the scheme is normalised inside its validator. wss:// uses CONNECT and is
    unaffected.
    """
    from mitmproxy.proxy.layers import http as http_layer

    original = http_layer.validate_request
    if getattr(original, "_streamreplay", False):
        return

    def validate_request(mode: Any, request: Any, validate_inbound_headers: bool) -> str | None:
        if request.scheme in ("ws", "wss"):
            request.scheme = "https" if request.scheme == "wss" else "http"
        result: str | None = original(mode, request, validate_inbound_headers)
        return result

    validate_request._streamreplay = True  # type: ignore[attr-defined]
    http_layer.validate_request = validate_request


class _WithoutTrailers:
    """An h11 chunked-body reader whose end of message carries no trailer fields."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    def __call__(self, buf: Any) -> Any:
        import h11

        event = self._reader(buf)
        if isinstance(event, h11.EndOfMessage) and event.headers:
            return h11.EndOfMessage()
        return event

    def read_eof(self) -> Any:
        return self._reader.read_eof()


def end_bodies_before_trailers() -> None:
    """End an HTTP/1 chunked body at its last chunk and drop the trailer fields after it.

    mitmproxy 12 raises NotImplementedError when an HTTP/1 message has trailers (its HTTP/2
    side keeps them): the answer was never finished and the client waited until its timeout.
    HTTP/1 clients (httpx, requests, aiohttp, urllib) ignore trailers anyway.
    """
    from mitmproxy.proxy.layers.http import _http1

    original = _http1.make_body_reader
    if getattr(original, "_streamreplay", False):
        return

    def make_body_reader(expected_size: int | None) -> Any:
        reader = original(expected_size)
        return _WithoutTrailers(reader) if expected_size is None else reader

    make_body_reader._streamreplay = True  # type: ignore[attr-defined]
    _http1.make_body_reader = make_body_reader


def _drop_informational_heads(buf: Any) -> None:
    """Take complete ``1xx`` heads (not ``101``) off the front of an HTTP/1 origin's bytes."""
    while True:
        data = bytes(buf)
        status = data[9:12]
        if not (data.startswith(b"HTTP/1.") and status[:1] == b"1" and status != b"101"):
            return
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return  # the rest of the head is still to come
        buf.maybe_extract_at_most(end + 4)


def skip_informational_answers() -> None:
    """Skip an HTTP/1 origin's informational answers (``103 Early Hints``, a ``100 Continue``
    it sends unasked) before its answer.

    mitmproxy 12 took the first one for the answer: requests got a ``103`` with no body,
    httpx waited for the rest until its timeout, and the cassette kept the ``103``. Clients
    that see them throw them away (h11, urllib3), so the client loses nothing it would use.
    """
    from mitmproxy.proxy import events
    from mitmproxy.proxy.layers.http import _http1

    original = _http1.Http1Client.read_headers
    if getattr(original, "_streamreplay", False):
        return

    def read_headers(self: Any, event: Any) -> Any:
        if isinstance(event, events.DataReceived) and self.request:
            _drop_informational_heads(self.buf)
        return original(self, event)

    read_headers._streamreplay = True  # type: ignore[attr-defined]
    _http1.Http1Client.read_headers = read_headers  # type: ignore[method-assign]


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Runs ``patch`` on one module right after it is first imported (while installed)."""

    def __init__(self, name: str, patch: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.patch = patch

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module
        patch = self.patch

        def exec_then_patch(module: ModuleType) -> None:
            exec_module(module)
            patch(module)

        loader.exec_module = exec_then_patch  # type: ignore[method-assign]
        return spec


@contextlib.contextmanager
def aiohttp_trusts_env() -> Iterator[None]:
    """Make ``aiohttp.ClientSession()`` default to ``trust_env=True`` for the block.

    aiohttp ignores the proxy variables unless a session is created with ``trust_env=True``:
    a test's default session would go straight to the origin and record nothing. Only the
    default changes; a session made with an explicit ``trust_env=False`` keeps bypassing the
    proxy (and is reported). Covers aiohttp imported before the block or inside it.
    """
    changed: list[dict[str, Any]] = []

    def patch(module: ModuleType) -> None:
        init = getattr(getattr(module, "ClientSession", None), "__init__", None)
        defaults = getattr(init, "__kwdefaults__", None)
        if isinstance(defaults, dict) and defaults.get("trust_env") is False:
            defaults["trust_env"] = True
            changed.append(defaults)

    hook: _PatchOnImport | None = None
    loaded = sys.modules.get("aiohttp.client")
    if loaded is not None:
        patch(loaded)
    else:
        hook = _PatchOnImport("aiohttp.client", patch)
        sys.meta_path.insert(0, hook)
    try:
        yield
    finally:
        if hook is not None and hook in sys.meta_path:
            sys.meta_path.remove(hook)
        for defaults in changed:
            defaults["trust_env"] = False
