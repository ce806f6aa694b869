"""An in-process mitmproxy on its own event-loop thread, listening on 127.0.0.1 only.

One per process (``mitmproxy.ctx.master`` is process-global): started once, then each test
binds its cassette session to the running addons. Starting costs 15-35 ms after the import of
mitmproxy (0.2-0.9 s, by load), which is why nothing imports mitmproxy until a proxy is first
needed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import os
import threading
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .auth import ProxyAuthGuard, ProxyCredentials
from .ca import CA_BASENAME, bundle_with, cache_dir, ensure_ca
from .contained_warnings import contained

__all__ = ["ProxyServer", "ProxyStartError"]

T = TypeVar("T")


class ProxyStartError(RuntimeError):
    """The proxy did not come up (port, CA or option problem)."""


def _debug_log_to(path: str | None) -> None:
    """``STREAMREPLAY_PROXY_LOG=FILE`` appends mitmproxy's debug log there (one per process)."""
    if not path:
        return
    logger = logging.getLogger("mitmproxy")
    if any(getattr(h, "_streamreplay", False) for h in logger.handlers):
        return
    handler = logging.FileHandler(f"{path}.{os.getpid()}")
    handler._streamreplay = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(threadName)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


class _Running:
    """Added last: its ``running`` hook fires after every other addon's has finished."""

    def __init__(self) -> None:
        self.seen = False

    def running(self) -> None:
        self.seen = True


class ProxyServer:
    """Owns the mitmproxy ``Master``, its loop thread and the CA bundle clients trust."""

    def __init__(
        self,
        addons: Sequence[object] = (),
        *,
        confdir: Path | None = None,
        upstream_ca: Path | None = None,
        upstream_insecure: bool = False,
        listen_host: str = "127.0.0.1",
    ) -> None:
        self.addons = list(addons)
        self.confdir = confdir or cache_dir() / "ca"
        self.upstream_ca = upstream_ca
        self.upstream_insecure = upstream_insecure
        self.listen_host = listen_host
        #: Clients must send these (see ``auth``); fresh for each server object.
        self.credentials = ProxyCredentials()
        self.port: int | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._master: Any = None
        self._proxyserver: Any = None

    # -- public facts ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self.port is not None

    @property
    def address(self) -> str:
        """``http://host:port``, without credentials: what the proxy refuses with 407."""
        if self.port is None:
            raise ProxyStartError("the proxy is not running")
        return f"http://{self.listen_host}:{self.port}"

    @property
    def url(self) -> str:
        """The proxy URL clients are given, with the credentials it requires."""
        return self.address.replace("://", f"://{self.credentials.userinfo}@", 1)

    @property
    def ca_cert(self) -> Path:
        return self.confdir / f"{CA_BASENAME}-ca-cert.pem"

    @property
    def ca_bundle(self) -> Path:
        return self.confdir.parent / "ca-bundle.pem"

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 20.0) -> ProxyServer:
        if self.running:
            return self
        with contained():
            ensure_ca(self.confdir)
            bundle_with(self.ca_cert, self.ca_bundle)
        self._ready = threading.Event()
        self._error = None
        self._thread = threading.Thread(
            target=self._thread_main, name="streamreplay-proxy", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            raise ProxyStartError(f"mitmproxy did not start listening within {timeout} s")
        if self._error is not None:
            raise ProxyStartError(f"mitmproxy failed to start: {self._error}") from self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None or self.loop is None:
            return
        if self._master is not None and not self.loop.is_closed():
            try:
                self.run(self._shutdown(), timeout=timeout)
            except (concurrent.futures.TimeoutError, RuntimeError):
                pass
        self._thread.join(timeout)
        self._thread = None
        self.port = None

    def claim_context(self) -> None:
        """Make this proxy's master mitmproxy's process-global one again.

        mitmproxy builds every new client connection's handler from the global ``ctx.master``
        and ``ctx.options``. Anything else that constructs a ``Master`` in this process (its own
        test helpers do) takes them over, and our proxy then accepts connections it never
        serves. Called before each test's traffic.
        """
        if self._master is None:
            return
        from mitmproxy import ctx

        if ctx.master is not self._master:
            ctx.master = self._master
            ctx.options = self._master.options

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run a coroutine on the proxy's loop from another thread and wait for its result."""
        assert self.loop is not None, "proxy not started"
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    # -- the loop thread -------------------------------------------------------------------
    def _thread_main(self) -> None:
        with contained():  # everything mitmproxy does happens on this thread
            self._loop_main()

    def _loop_main(self) -> None:
        _debug_log_to(os.environ.get("STREAMREPLAY_PROXY_LOG"))
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to start(), never raised in the thread
            self._error = exc
        finally:
            self._ready.set()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def _upstream_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"ssl_insecure": self.upstream_insecure}
        if self.upstream_ca is not None:
            # mitmproxy's option replaces the default roots: keep certifi's beside the user's CA.
            # Named by the CA's content: mitmproxy caches its TLS contexts by this path, so
            # another CA under the same name would be ignored for the rest of the process.
            digest = hashlib.sha256(self.upstream_ca.read_bytes()).hexdigest()[:16]
            combined = bundle_with(
                self.upstream_ca, self.confdir.parent / f"upstream-bundle-{digest}.pem"
            )
            opts["ssl_verify_upstream_trusted_ca"] = str(combined)
        return opts

    async def _main(self) -> None:
        from .mitm_imports import import_proxy_modules

        import_proxy_modules()  # before the imports below: they would load every addon

        from mitmproxy import options
        from mitmproxy.addons import core, next_layer, proxyserver, tlsconfig
        from mitmproxy.master import Master

        from .compat import (
            accept_ws_scheme_requests,
            end_bodies_before_trailers,
            skip_informational_answers,
        )

        accept_ws_scheme_requests()
        end_bodies_before_trailers()
        skip_informational_answers()

        opts = options.Options(
            listen_host=self.listen_host, listen_port=0, confdir=str(self.confdir)
        )
        master = Master(opts, event_loop=asyncio.get_running_loop())
        ps = proxyserver.Proxyserver()
        running = _Running()
        master.addons.add(
            core.Core(),
            ps,
            next_layer.NextLayer(),
            tlsconfig.TlsConfig(),
            ProxyAuthGuard(self.credentials),  # before any addon that records or replays
            *self.addons,
            running,
        )
        opts.update(connection_strategy="lazy", **self._upstream_options())
        self._master, self._proxyserver = master, ps
        run = asyncio.ensure_future(master.run())
        for _ in range(4000):
            if run.done() or (ps.listen_addrs() and running.seen):
                break
            await asyncio.sleep(0.005)
        addrs = ps.listen_addrs()
        if not addrs:
            if run.done() and run.exception() is not None:
                raise ProxyStartError(str(run.exception()))
            raise ProxyStartError("the proxy server reported no listening address")
        self.port = int(addrs[0][1])
        self._ready.set()
        await run

    async def _shutdown(self) -> None:
        ps = self._proxyserver
        await ps.servers.update([])
        for handler in list(ps.connections.values()):
            try:
                handler.close_connection(handler.client)
            except (KeyError, AssertionError):
                pass
        await asyncio.sleep(0)
        self._master.should_exit.set()
