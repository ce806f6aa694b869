"""Websocket feed: ONE dydx-v4-client ``IndexerSocket`` shared by every subscription, kept alive.

Why one connection: the indexer numbers messages per connection, so one connection gives one
total order across channels (the ordering checks above rely on it) and costs one socket.

Threads: a supervisor thread owns the connection's life (connect, watch for silence, back off,
reconnect, circuit breaker); each connection's ``run_forever`` runs in its own IO thread (the
client's ``connect()`` is declared async but blocks, and it turns TLS verification off, so it is
not used: ``run_forever`` is called with verification on). Events are delivered on the IO
thread, statuses on the thread that saw the change: use ``observe_on`` to move them elsewhere.

Resilience: reconnect with jittered exponential backoff; after every (re)connect all current
subscriptions are sent again (consumers then see a fresh ``Subscribed`` and snapshot: the cue to
reset derived state); a connection silent for ``silence_timeout`` (after one JSON ping at half
of it went unanswered) is recycled; after ``breaker.failure_threshold`` consecutive failures the
circuit opens and only one attempt per ``breaker.reset_timeout`` is made. Every state change is
a :class:`~tradingbot.feeds.events.FeedStatus` on :attr:`StreamFeed.status`.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import reactivex
from dydx_v4_client.indexer.candles_resolution import CandlesResolution
from dydx_v4_client.indexer.socket.websocket import IndexerSocket
from reactivex import Observable, abc
from reactivex import operators as ops
from reactivex.disposable import CompositeDisposable, Disposable
from reactivex.subject import ReplaySubject, Subject

from .dydx import CANDLES, MARKETS, ORDERBOOK, SUBACCOUNTS, TRADES, decode
from .events import (
    Connected,
    ErrorEvent,
    ErrorKind,
    FeedState,
    FeedStatus,
    MarketEvent,
    Subscribed,
)
from .resilience import Backoff, CircuitBreaker

__all__ = ["StreamFeed"]

log = logging.getLogger(__name__)

SubKey = tuple[str, str | None]
SocketAction = Callable[[IndexerSocket], Any]


@dataclass
class _Spec:
    subscribe: SocketAction
    unsubscribe: SocketAction
    refs: int = 1


class StreamFeed:
    """Observables of decoded indexer events over one self-healing websocket connection."""

    def __init__(
        self,
        ws_url: str,
        *,
        silence_timeout: float = 20.0,
        backoff: Backoff | None = None,
        breaker: CircuitBreaker | None = None,
        sslopt: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_interval: float = 0.05,
    ) -> None:
        if silence_timeout <= 0:
            raise ValueError("silence_timeout must be positive")
        self.ws_url = ws_url
        self.silence_timeout = silence_timeout
        self.backoff = backoff or Backoff()
        self.breaker = breaker or CircuitBreaker()
        self._sslopt = sslopt
        self._clock = clock
        self._now = now
        self._poll = poll_interval
        self._events: Subject[MarketEvent] = Subject()
        self._status: ReplaySubject[FeedStatus] = ReplaySubject(buffer_size=1)
        self._status_lock = threading.Lock()
        self._lock = threading.RLock()
        self._subs: dict[SubKey, _Spec] = {}
        self._pending: set[SubKey] = set()
        self._ws: IndexerSocket | None = None
        self._open = False
        self._healthy = False
        self._last_seen = 0.0
        self._pinged = False
        self._reason = ""
        self._connection_id: str | None = None
        self._failed_sock: Any = None
        self._closing = threading.Event()
        self._supervisor = threading.Thread(target=self._run, name="stream-feed", daemon=True)
        self._io_threads: list[threading.Thread] = []

    # -- public surface --------------------------------------------------------------------

    @property
    def events(self) -> Observable[MarketEvent]:
        """Every decoded event of the connection, in arrival order (hot)."""
        return self._events

    def connection(self, *streams: Observable[MarketEvent]) -> Observable[MarketEvent]:
        """Every event of the connection (its ``connected``, errors and every channel, as a
        recorded session holds them) while subscribed to ``streams`` (made by
        :meth:`order_book`, :meth:`trades`, ...), which open the subscriptions: the live
        counterpart of a cassette, so a run counts the same messages live and replayed."""

        def on_subscribe(
            observer: abc.ObserverBase[MarketEvent], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            everything = self._events.subscribe(observer)  # first: nothing can be missed
            opened = [stream.subscribe(lambda _: None) for stream in streams]
            return CompositeDisposable(everything, *opened)

        return reactivex.create(on_subscribe)

    @property
    def errors(self) -> Observable[ErrorEvent]:
        """Only the :class:`ErrorEvent`\\ s (server errors, undecodable messages)."""
        return self._events.pipe(
            ops.filter(lambda e: isinstance(e, ErrorEvent)),
            ops.map(_as_error),
        )

    @property
    def status(self) -> Observable[FeedStatus]:
        """State changes; a late subscriber first gets the latest one."""
        return self._status

    @property
    def connection_id(self) -> str | None:
        """The current connection's id (from its ``connected`` message)."""
        return self._connection_id

    def start(self) -> StreamFeed:
        """Start connecting (returns at once)."""
        self._supervisor.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop: close the connection, join the threads, complete the Observables."""
        if self._closing.is_set():
            return
        self._closing.set()
        with self._lock:
            ws = self._ws
        if ws is not None:
            _close_socket(ws)
        if self._supervisor.is_alive():
            self._supervisor.join(timeout)
        for thread in self._io_threads:
            thread.join(timeout)
        self._events.on_completed()
        self._status.on_completed()

    def __enter__(self) -> StreamFeed:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def order_book(self, market: str, batched: bool = True) -> Observable[MarketEvent]:
        """v4_orderbook for ``market``: Subscribed, BookSnapshot, then BookDeltas."""
        return self._stream(
            (ORDERBOOK, market),
            lambda ws: ws.order_book.subscribe(market, batched),
            lambda ws: ws.order_book.unsubscribe(market),
        )

    def trades(self, market: str, batched: bool = True) -> Observable[MarketEvent]:
        """v4_trades for ``market``: Subscribed, recent Trades, then new Trades."""
        return self._stream(
            (TRADES, market),
            lambda ws: ws.trades.subscribe(market, batched),
            lambda ws: ws.trades.unsubscribe(market),
        )

    def candles(
        self, market: str, resolution: str = "1MIN", batched: bool = True
    ) -> Observable[MarketEvent]:
        """v4_candles for ``market``/``resolution``: Subscribed, history, then bar updates."""
        res = CandlesResolution(resolution)
        return self._stream(
            (CANDLES, f"{market}/{res.value}"),
            lambda ws: ws.candles.subscribe(market, res, batched),
            lambda ws: ws.candles.unsubscribe(market, res),
        )

    def markets(self, batched: bool = True) -> Observable[MarketEvent]:
        """v4_markets: MarketUpdate/OraclePrice snapshot, then partial updates."""
        return self._stream(
            (MARKETS, None),
            lambda ws: ws.markets.subscribe(batched),
            lambda ws: ws.markets.unsubscribe(),
        )

    def subaccount(self, address: str, number: int = 0) -> Observable[MarketEvent]:
        """v4_subaccounts for ``address/number``: SubaccountSnapshot, then account events."""
        return self._stream(
            (SUBACCOUNTS, f"{address}/{number}"),
            lambda ws: ws.subaccounts.subscribe(address, number),
            lambda ws: ws.subaccounts.unsubscribe(address, number),
        )

    # -- subscriptions ---------------------------------------------------------------------

    def _stream(
        self, key: SubKey, subscribe: SocketAction, unsubscribe: SocketAction
    ) -> Observable[MarketEvent]:
        channel, sub_id = key

        def matches(event: MarketEvent) -> bool:
            return event.channel == channel and event.subscription_id == sub_id

        def on_subscribe(
            observer: abc.ObserverBase[MarketEvent], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            # Listen first, then subscribe: the snapshot cannot be missed.
            inner = self._events.pipe(ops.filter(matches)).subscribe(observer)
            self._add(key, _Spec(subscribe, unsubscribe))

            def dispose() -> None:
                inner.dispose()
                self._remove(key)

            return Disposable(dispose)

        return reactivex.create(on_subscribe)

    def _add(self, key: SubKey, spec: _Spec) -> None:
        with self._lock:
            existing = self._subs.get(key)
            if existing is not None:
                existing.refs += 1
                return
            self._subs[key] = spec
            if self._ws is not None and self._open:
                self._pending.add(key)
                _send(self._ws, spec.subscribe)

    def _remove(self, key: SubKey) -> None:
        with self._lock:
            spec = self._subs.get(key)
            if spec is None:
                return
            spec.refs -= 1
            if spec.refs > 0:
                return
            del self._subs[key]
            self._pending.discard(key)
            if self._ws is not None and self._open and not self._closing.is_set():
                _send(self._ws, spec.unsubscribe)

    # -- status ----------------------------------------------------------------------------

    def _set_status(self, state: FeedState, **fields: Any) -> None:
        status = FeedStatus(state=state, at=self._now(), **fields)
        with self._status_lock:
            if not self._status.is_disposed:
                self._status.on_next(status)

    # -- supervisor ------------------------------------------------------------------------

    def _run(self) -> None:
        attempt = 0
        while not self._closing.is_set():
            if not self.breaker.allow():
                wait = self.breaker.remaining()
                self._set_status(
                    FeedState.CIRCUIT_OPEN,
                    attempt=attempt,
                    delay=wait,
                    detail=f"{self.breaker.failures} consecutive failures",
                )
                if self._closing.wait(wait):
                    break
                self._set_status(FeedState.CIRCUIT_HALF_OPEN, attempt=attempt)
            self._set_status(FeedState.CONNECTING, attempt=attempt, detail=self.ws_url)
            healthy = self._connect_once()
            if self._closing.is_set():
                break
            if healthy:
                attempt = 0
            if self.breaker.record_failure():
                attempt += 1
                continue
            delay = self.backoff.delay(attempt)
            attempt += 1
            self._set_status(FeedState.RECONNECTING, attempt=attempt, delay=delay)
            if self._closing.wait(delay):
                break
        self._set_status(FeedState.CLOSED)

    def _connect_once(self) -> bool:
        """One connection, from dial to end. True if the server said ``connected``."""
        ws = IndexerSocket(
            self.ws_url,
            on_open=self._on_open,
            on_message=self._on_message,
            on_error=self._on_error,
            on_close=self._on_close,
            on_ping=self._on_ping,
        )
        with self._lock:
            self._ws = ws
            self._open = False
            self._healthy = False
            self._pinged = False
            self._reason = "connection closed"
            self._last_seen = self._clock()
        io = threading.Thread(target=self._io, args=(ws,), name="stream-feed-io", daemon=True)
        self._io_threads = [t for t in self._io_threads if t.is_alive()] + [io]
        io.start()
        while io.is_alive():
            io.join(self._poll)
            if self._closing.is_set():
                break
            silence = self._clock() - self._last_seen
            if silence > self.silence_timeout:
                self._reason = f"silent for {silence:.2f}s"
                self._set_status(
                    FeedState.STALE, detail=self._reason, connection_id=self._connection_id
                )
                _abort_socket(ws)
                break
            if silence > self.silence_timeout / 2 and self._open and not self._pinged:
                self._pinged = True
                _send(ws, lambda s: s.send(json.dumps({"type": "ping"})))
        io.join(2.0)
        if io.is_alive():
            _abort_socket(ws)
            io.join(2.0)
        if not io.is_alive() and self._failed_sock is not None:
            _release_socket(self._failed_sock)
        self._failed_sock = None
        with self._lock:
            self._ws = None
            self._open = False
            healthy = self._healthy
        if not self._closing.is_set():
            self._set_status(
                FeedState.DISCONNECTED, detail=self._reason, connection_id=self._connection_id
            )
        return healthy

    def _io(self, ws: IndexerSocket) -> None:
        try:
            ws.run_forever(sslopt=self._sslopt, reconnect=0)
        except Exception as exc:  # run_forever reports most failures through on_error
            self._reason = f"{type(exc).__name__}: {exc}"

    # -- socket callbacks (IO thread) ------------------------------------------------------

    def _current(self, ws: Any) -> bool:
        return ws is self._ws

    def _on_open(self, ws: Any) -> None:
        if not self._current(ws):
            return
        with self._lock:
            self._open = True
            self._pending = set(self._subs)
            for spec in self._subs.values():
                _send(ws, spec.subscribe)

    def _on_message(self, ws: Any, message: Any) -> None:
        if not self._current(ws):
            return
        self._last_seen = self._clock()
        self._pinged = False
        for event in decode(message, received_at=self._now()):
            if isinstance(event, Connected):
                self._healthy = True
                self._connection_id = event.connection_id
                self.breaker.record_success()
                self._set_status(FeedState.CONNECTED, connection_id=event.connection_id)
                if not self._subs:
                    self._set_status(FeedState.SUBSCRIBED, detail="0 subscriptions")
            elif isinstance(event, Subscribed):
                self._acknowledge((event.channel, event.subscription_id))
            self._emit(event)

    def _acknowledge(self, key: SubKey) -> None:
        with self._lock:
            if key not in self._pending:
                return
            self._pending.discard(key)
            done = not self._pending
            count = len(self._subs)
        if done:
            self._set_status(
                FeedState.SUBSCRIBED,
                detail=f"{count} subscriptions",
                connection_id=self._connection_id,
            )

    def _on_error(self, ws: Any, error: BaseException) -> None:
        if not self._current(ws):
            return
        if isinstance(error, json.JSONDecodeError):
            self._last_seen = self._clock()
            self._emit(
                ErrorEvent(
                    kind=ErrorKind.DECODE,
                    message=f"not JSON: {error.msg} at position {error.pos}",
                    raw=error.doc[:240],
                    connection_id=self._connection_id,
                    received_at=self._now(),
                )
            )
            return
        self._reason = f"{type(error).__name__}: {error}"
        self._failed_sock = ws.sock  # still set here; teardown clears it next

    def _on_close(self, ws: Any, code: int | None, message: str | None) -> None:
        if self._current(ws) and code is not None:
            self._reason = f"closed by server ({code} {message or ''})".strip()

    def _on_ping(self, ws: Any, data: Any) -> None:
        if self._current(ws):
            self._last_seen = self._clock()

    def _emit(self, event: MarketEvent) -> None:
        try:
            self._events.on_next(event)
        except Exception:  # a subscriber's bug must not kill the connection
            log.exception("stream feed subscriber raised on %r", type(event).__name__)


def _as_error(event: MarketEvent) -> ErrorEvent:
    assert isinstance(event, ErrorEvent)
    return event


def _send(ws: IndexerSocket, action: SocketAction) -> None:
    """Send on the socket; a dead socket is fine (the reconnect resubscribes)."""
    try:
        action(ws)
    except Exception as exc:
        log.debug("stream feed send failed: %s", exc)


def _close_socket(ws: IndexerSocket) -> None:
    """Say goodbye (close frame), then cut: ``WebSocketApp.close`` from another thread would
    close the descriptor under the IO thread's ``select``, which then never wakes up."""
    ws.keep_running = False
    sock = ws.sock
    if sock is not None and sock.connected:
        try:
            sock.send_close()
        except Exception as exc:
            log.debug("stream feed close frame: %s", exc)
    _abort_socket(ws)


def _release_socket(sock: Any) -> None:
    """Close the TCP socket a failed handshake leaves open (websocket-client's teardown skips
    it because the websocket never counted as connected)."""
    raw = getattr(sock, "sock", None)
    if raw is not None:
        try:
            raw.close()
        except OSError as exc:
            log.debug("stream feed release: %s", exc)


def _abort_socket(ws: IndexerSocket) -> None:
    """Cut the TCP connection so a blocked ``run_forever`` returns at once.

    Only ``shutdown`` on the raw socket: it wakes the IO thread's ``select``/``recv``, which then
    tears down and closes the descriptor itself (closing it from here would leave that
    ``select`` waiting forever).
    """
    ws.keep_running = False
    sock = ws.sock
    raw = getattr(sock, "sock", None)
    if raw is None:
        return
    try:
        raw.shutdown(socket.SHUT_RDWR)
    except OSError as exc:
        log.debug("stream feed abort: %s", exc)
