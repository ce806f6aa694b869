"""Use a cassette without pytest: one proxy per process, one bound session at a time.

``use_cassette`` is what the pytest fixture does, as a context manager: start the proxy if
needed, bind the session, point the environment at the proxy, and restore it all afterwards.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Never

from .cassette.grpc_types import GrpcTypes
from .cassette.matching import DEFAULT_MATCH_ON, Matcher, resolve_matchers
from .cassette.records import HttpInteraction
from .cassette.redaction import Redactor
from .options import as_names, as_paths
from .playback import Speed
from .proxy.binding import SessionBinding
from .proxy.compat import aiohttp_trusts_env
from .proxy.contained_warnings import contained
from .proxy.env import UNSET_VARS, client_env, reset_cached_openers, trust_in_cached_contexts
from .proxy.grpc_channels import grpc_calls_through
from .session import CassetteSession, RecordMode

__all__ = [
    "ProxyRuntime",
    "ReplayProblemsError",
    "StreamReplayHandle",
    "patched_environ",
    "runtime",
    "use_cassette",
]


class ReplayProblemsError(AssertionError):
    """Unmatched requests or connections (and, when strict, mismatches, undelivered messages
    and unused recordings) found when a ``use_cassette`` block ends; nothing is saved."""


class ProxyRuntime:
    """The process's proxy, started on first use; addons read the shared binding."""

    def __init__(self) -> None:
        self.binding = SessionBinding()
        self._proxy: Any = None
        self._config: tuple[Path | None, bool] = (None, False)
        self._lock = threading.Lock()
        self.share_tls_contexts = True

    @property
    def upstream(self) -> tuple[Path | None, bool]:
        """The upstream TLS trust set by ``configure``: (CA file, insecure)."""
        return self._config

    def configure(
        self, *, upstream_ca: Path | None = None, upstream_insecure: bool = False
    ) -> None:
        """Set upstream TLS trust; a running proxy with other settings is restarted on next use."""
        config = (upstream_ca, upstream_insecure)
        if config != self._config:
            self.stop()
            self._config = config

    def proxy(self) -> Any:
        with self._lock:
            if self._proxy is None or not self._proxy.running:
                with contained():
                    from .proxy.failsafe import ReplayGuard
                    from .proxy.h2_live import ProxyRoute
                    from .proxy.h2_origin import H2OriginLifecycle, H2ReplayOrigin
                    from .proxy.http2 import Http2Negotiation
                    from .proxy.http_addon import HttpRecordReplay
                    from .proxy.origins import OriginsLifecycle, ReplayOrigins
                    from .proxy.server import ProxyServer
                    from .proxy.ws_addon import WebSocketRecordReplay

                origins = ReplayOrigins()
                h2 = H2ReplayOrigin()
                upstream_ca, insecure = self._config
                self._proxy = ProxyServer(
                    [
                        Http2Negotiation(h2c_ports=lambda: (h2.port,)),
                        OriginsLifecycle(origins),
                        H2OriginLifecycle(h2),
                        HttpRecordReplay(self.binding, origins, h2),
                        WebSocketRecordReplay(self.binding, origins),
                        # last: refuses what got past the others
                        ReplayGuard(self.binding, origins, more_ports=lambda: (h2.port,)),
                    ],
                    upstream_ca=upstream_ca,
                    upstream_insecure=insecure,
                ).start()
                # new_episodes sends a new gRPC episode from the replay origin through here
                h2.via = ProxyRoute(
                    str(self._proxy.listen_host),
                    int(self._proxy.port),
                    self._proxy.credentials.userinfo,
                    self._proxy.ca_cert,
                )
                _skip_final_gc_at_exit()
            self._proxy.claim_context()
            return self._proxy

    @property
    def address(self) -> tuple[str, int] | None:
        """Where the running proxy listens, or None before it starts."""
        proxy = self._proxy
        if proxy is None or proxy.port is None:
            return None
        return str(proxy.listen_host), int(proxy.port)

    @property
    def started(self) -> bool:
        return self._proxy is not None and self._proxy.running

    def stop(self) -> None:
        with self._lock:
            if self._proxy is not None:
                self._proxy.stop()
                self._proxy = None


_RUNTIME = ProxyRuntime()
_EXIT_HOOK: list[bool] = []


def _skip_final_gc_at_exit() -> None:
    """Freeze the garbage collector when the interpreter exits (registered once a proxy ran).

    The last full collection at shutdown walks every object mitmproxy's modules created: 0.6-0.9 s
    measured after the summary on a loaded 2-core box, against 0.04-0.1 s frozen. Objects are
    still freed by reference counting; only cycles left at exit go uncollected, which Python does
    not promise to finalise anyway. ``STREAMREPLAY_EXIT_GC=1`` keeps the collection.
    """
    if _EXIT_HOOK or os.environ.get("STREAMREPLAY_EXIT_GC") == "1":
        return
    import atexit
    import gc

    _EXIT_HOOK.append(True)
    atexit.register(gc.freeze)


def runtime() -> ProxyRuntime:
    return _RUNTIME


@dataclass
class StreamReplayHandle:
    """What a test sees of its cassette: the proxy, the environment, what happened so far."""

    session: CassetteSession
    proxy_url: str
    ca_bundle: Path
    env: dict[str, str]
    note: str | None = None  # written into the cassette's header when it is recorded
    #: Extra header keys (JSON values) written when it is recorded, e.g. how fast the source ran.
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return self.session.mode

    @property
    def record_mode(self) -> str:
        return self.session.effective_mode.value

    @property
    def cassette_path(self) -> Path:
        return self.session.path

    @property
    def interactions(self) -> list[HttpInteraction]:
        return self.session.interactions

    @property
    def unmatched(self) -> list[str]:
        return [u.report for u in self.session.unmatched]

    def unused(self) -> list[HttpInteraction]:
        return self.session.unused()

    def route(self, original: str, target: str) -> None:
        """While recording, serve ``original`` (a URL prefix, any of http/https/ws/wss) from
        ``target``: record a production URL from a local stand-in. Replay ignores routes."""
        self.session.add_route(original, target)


@contextlib.contextmanager
def patched_environ(env: dict[str, str], unset: Sequence[str] = UNSET_VARS) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in [*env, *unset]}
    try:
        for k in unset:
            os.environ.pop(k, None)
        os.environ.update(env)
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _tls_sharing(enabled: bool) -> contextlib.AbstractContextManager[None]:
    from .proxy.tls_cache import shared_httpx_tls_contexts

    return shared_httpx_tls_contexts() if enabled else contextlib.nullcontext()


@contextlib.contextmanager
def bound(session: CassetteSession, rt: ProxyRuntime | None = None) -> Iterator[StreamReplayHandle]:
    """Bind an existing session to the running proxy with the client environment set."""
    rt = rt or runtime()
    proxy = rt.proxy()
    env = client_env(proxy.url, proxy.ca_bundle)
    trust_in_cached_contexts(proxy.ca_cert)
    handle = StreamReplayHandle(session, proxy.url, proxy.ca_bundle, env)
    session.start_clock()  # the proxy's start-up is not part of the recording
    rt.binding.bind(session)
    try:
        with (
            patched_environ(env),
            _tls_sharing(rt.share_tls_contexts),
            aiohttp_trusts_env(),
            grpc_calls_through(proxy.url),
        ):
            reset_cached_openers()
            yield handle
    finally:
        rt.binding.unbind(session)
        session.close()
        reset_cached_openers()


def use_cassette(
    path: str | os.PathLike[str],
    *,
    match_on: str | Sequence[str | Matcher] = DEFAULT_MATCH_ON,
    redact: str | Sequence[str] | Literal[False] = (),
    allow_repeats: bool = True,
    record_mode: str | RecordMode = RecordMode.NONE,
    speed: str | float = "instant",
    message_ignore: str | Sequence[str] = (),
    extra_cassettes: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = (),
    grpc_descriptors: str | Sequence[str] = (),
    strict: bool = False,
    upstream_ca: str | os.PathLike[str] | None = None,
    upstream_insecure: bool = False,
    share_tls_contexts: bool = True,
    **unknown: Never,  # type checkers reject any other keyword; at run time, a TypeError below
) -> contextlib.AbstractContextManager[StreamReplayHandle]:
    """Record or replay ``path`` for the traffic of the block; saves when the block succeeds.

    The keywords are the marker's and the options' (docs/configuration.md has the table).
    ``path`` is the calling program's choice (unlike a marker's name, it is not confined to a
    cassette directory) but always a cassette file: ``x.py`` is written as ``x.py.jsonl``,
    ``x.yaml`` as ``x.jsonl``; ``extra_cassettes`` are relative to its folder.
    ``upstream_ca``, ``upstream_insecure`` and ``share_tls_contexts`` set the process's proxy
    for the block (it restarts when they change) and are put back afterwards.

    Raises ``ReplayProblemsError`` at the end of the block when anything went unmatched (and,
    with ``strict``, anything the plugin's ``--replay-strict`` would fail a test for)."""
    if unknown:
        from .options import use_cassette_keywords

        raise TypeError(
            f"use_cassette() got unknown keyword argument(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(use_cassette_keywords())}"
        )
    try:
        mode = RecordMode(record_mode)
    except ValueError:
        choices = ", ".join(m.value for m in RecordMode)
        raise ValueError(
            f"use_cassette(record_mode=...): unknown record mode {record_mode!r} "
            f"(choose from {choices})"
        ) from None
    try:
        pace = Speed.parse(speed)
    except ValueError as exc:
        raise ValueError(f"use_cassette(speed=...): {exc}") from None
    from .paths import cassette_file_name

    cassette = cassette_file_name(Path(path))
    session = CassetteSession(
        cassette,
        record_mode=mode,
        matchers=resolve_matchers(as_names(match_on)),
        allow_repeats=allow_repeats,
        redactor=Redactor(extra=as_names(redact or ()), defaults=redact is not False),
        strict=strict,
        speed=pace,
        message_ignore=as_names(message_ignore),
        extra=[cassette.parent / extra for extra in as_paths(extra_cassettes)],
        grpc_types=GrpcTypes.load(as_names(grpc_descriptors)) if grpc_descriptors else None,
    )
    ca = Path(upstream_ca).resolve() if upstream_ca else None
    return _use_cassette(session, ca, upstream_insecure, share_tls_contexts)


@contextlib.contextmanager
def _use_cassette(
    session: CassetteSession, upstream_ca: Path | None, insecure: bool, share_tls: bool
) -> Iterator[StreamReplayHandle]:
    rt = runtime()
    before = rt.upstream, rt.share_tls_contexts
    rt.configure(upstream_ca=upstream_ca, upstream_insecure=insecure)
    rt.share_tls_contexts = share_tls
    try:
        with bound(session, rt) as handle:
            yield handle
    finally:
        rt.configure(upstream_ca=before[0][0], upstream_insecure=before[0][1])
        rt.share_tls_contexts = before[1]
    problems = session.problems()
    if problems:
        raise ReplayProblemsError("\n\n".join(problems))
    session.save(note=handle.note, metadata=handle.metadata)
    if late := session.late_errors():  # the proxy failed writing an exchange meanwhile
        raise ReplayProblemsError("\n\n".join(late))
