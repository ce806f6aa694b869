"""REST feed: dydx-v4-client ``IndexerClient`` calls, decoded, rate-limited and retried.

Two faces over one implementation: ``fetch_*`` coroutines (for asyncio code) and cold
Observables of the same names without the prefix (each subscription performs the call on the
feed's own event-loop thread, emits the decoded events, then completes, or errors after the
retries). Transient failures (transport errors, HTTP 429 and 5xx) are retried with jittered
backoff; other HTTP errors are not. A circuit breaker fails fast while the indexer is down, and a
token bucket keeps calls under the indexer's rate limit; each of these shows on :attr:`status`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import reactivex
from dydx_v4_client.indexer.rest.indexer_client import IndexerClient
from reactivex import Observable, abc
from reactivex.disposable import Disposable
from reactivex.subject import ReplaySubject

from . import dydx
from .events import FeedState, FeedStatus, MarketEvent
from .resilience import Backoff, CircuitBreaker, CircuitOpenError, RateLimiter

__all__ = ["RestError", "RestFeed"]

T = TypeVar("T")


class RestError(RuntimeError):
    """A REST call failed for good (after retries, or with a non-retryable status)."""


def _iso(moment: datetime | str | None) -> str | None:
    if moment is None or isinstance(moment, str):
        return moment
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        return code == 429 or code >= 500
    return isinstance(exc, httpx.TransportError)


class RestFeed:
    """Decoded indexer REST data through ``IndexerClient``. Close it to stop its loop thread."""

    def __init__(
        self,
        rest_url: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: Backoff | None = None,
        breaker: CircuitBreaker | None = None,
        limiter: RateLimiter | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        # IndexerClient's default timeout (3000) reaches httpx as seconds: always pass ours.
        self.client = IndexerClient(rest_url, api_timeout=timeout)
        self.retries = retries
        self.backoff = backoff or Backoff(initial=0.2, maximum=5.0)
        self.breaker = breaker or CircuitBreaker()
        self.limiter = limiter or RateLimiter(rate=10.0, burst=10)
        self._now = now
        self._status: ReplaySubject[FeedStatus] = ReplaySubject(buffer_size=1)
        self._status_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()

    @property
    def status(self) -> Observable[FeedStatus]:
        """Rate limiting, retries, circuit state; a late subscriber gets the latest."""
        return self._status

    def _set_status(self, state: FeedState, **fields: Any) -> None:
        with self._status_lock:
            self._status.on_next(FeedStatus(state=state, at=self._now(), **fields))

    # -- the call path ---------------------------------------------------------------------

    async def _call(self, what: str, request: Callable[[], Awaitable[Any]]) -> Any:
        attempt = 0
        while True:
            if not self.breaker.allow():
                self._set_status(
                    FeedState.CIRCUIT_OPEN, detail=what, delay=self.breaker.remaining()
                )
                raise CircuitOpenError(f"{what}: circuit open after repeated failures")
            waited = self.limiter.reserve()
            if waited > 0:
                self._set_status(FeedState.RATE_LIMITED, detail=what, delay=waited)
                await asyncio.sleep(waited)
            try:
                body = await request()
            except Exception as exc:
                if not _retryable(exc):
                    raise RestError(f"{what}: {exc}") from exc
                opened = self.breaker.record_failure()
                if opened or attempt >= self.retries:
                    raise RestError(f"{what}: failed after {attempt + 1} attempts: {exc}") from exc
                delay = self.backoff.delay(attempt)
                attempt += 1
                self._set_status(
                    FeedState.RECONNECTING, detail=f"{what}: {exc}", attempt=attempt, delay=delay
                )
                await asyncio.sleep(delay)
                continue
            self.breaker.record_success()
            return body

    # -- coroutines ------------------------------------------------------------------------

    async def fetch_markets(self, market: str | None = None) -> list[MarketEvent]:
        """Perpetual markets with margin params: MarketUpdate (+ OraclePrice) each."""
        body = await self._call(
            "perpetualMarkets", lambda: self.client.markets.get_perpetual_markets(market)
        )
        return dydx.decode_perpetual_markets(body, received_at=self._now())

    async def fetch_orderbook(self, market: str) -> list[MarketEvent]:
        """The order book: one BookSnapshot."""
        body = await self._call(
            f"orderbook {market}",
            lambda: self.client.markets.get_perpetual_market_orderbook(market),
        )
        return dydx.decode_orderbook(body, market, received_at=self._now())

    async def fetch_trades(self, market: str, limit: int | None = None) -> list[MarketEvent]:
        """Recent trades, newest first."""
        body = await self._call(
            f"trades {market}",
            lambda: self.client.markets.get_perpetual_market_trades(market, limit=limit),
        )
        return dydx.decode_trades(body, market, received_at=self._now())

    async def fetch_candles(
        self,
        market: str,
        resolution: str = "1MIN",
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        limit: int | None = None,
    ) -> list[MarketEvent]:
        """Candle history, newest first (the indexer caps ``limit`` at 1000)."""
        body = await self._call(
            f"candles {market}/{resolution}",
            lambda: self.client.markets.get_perpetual_market_candles(
                market, resolution, _iso(start), _iso(end), limit
            ),
        )
        return dydx.decode_candles(body, market, received_at=self._now())

    async def fetch_funding(self, market: str, limit: int | None = None) -> list[MarketEvent]:
        """Historical funding (1-hour rates), newest first."""
        body = await self._call(
            f"historicalFunding {market}",
            lambda: self.client.markets.get_perpetual_market_historical_funding(
                market, limit=limit
            ),
        )
        return dydx.decode_historical_funding(body, market, received_at=self._now())

    async def fetch_subaccount(self, address: str, number: int = 0) -> list[MarketEvent]:
        """One SubaccountSnapshot."""
        body = await self._call(
            f"subaccount {address}/{number}",
            lambda: self.client.account.get_subaccount(address, number),
        )
        return dydx.decode_subaccount(body, received_at=self._now())

    # -- Observables -----------------------------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._thread_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="rest-feed", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def _observable(
        self, make: Callable[[], Coroutine[Any, Any, list[MarketEvent]]]
    ) -> Observable[MarketEvent]:
        def on_subscribe(
            observer: abc.ObserverBase[MarketEvent], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            future = asyncio.run_coroutine_threadsafe(make(), self._ensure_loop())

            def done(f: Any) -> None:
                if f.cancelled():
                    return
                exc = f.exception()
                if exc is not None:
                    observer.on_error(exc)
                    return
                for event in f.result():
                    observer.on_next(event)
                observer.on_completed()

            future.add_done_callback(done)

            def cancel() -> None:
                future.cancel()

            return Disposable(cancel)

        return reactivex.create(on_subscribe)

    def markets(self, market: str | None = None) -> Observable[MarketEvent]:
        """Cold Observable of :meth:`fetch_markets`."""
        return self._observable(lambda: self.fetch_markets(market))

    def orderbook(self, market: str) -> Observable[MarketEvent]:
        """Cold Observable of :meth:`fetch_orderbook`."""
        return self._observable(lambda: self.fetch_orderbook(market))

    def trades(self, market: str, limit: int | None = None) -> Observable[MarketEvent]:
        """Cold Observable of :meth:`fetch_trades`."""
        return self._observable(lambda: self.fetch_trades(market, limit))

    def candles(
        self,
        market: str,
        resolution: str = "1MIN",
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        limit: int | None = None,
    ) -> Observable[MarketEvent]:
        """Cold Observable of :meth:`fetch_candles`."""
        return self._observable(lambda: self.fetch_candles(market, resolution, start, end, limit))

    def funding(self, market: str, limit: int | None = None) -> Observable[MarketEvent]:
        """Cold Observable of :meth:`fetch_funding`."""
        return self._observable(lambda: self.fetch_funding(market, limit))

    def subaccount(self, address: str, number: int = 0) -> Observable[MarketEvent]:
        """Cold Observable of :meth:`fetch_subaccount`."""
        return self._observable(lambda: self.fetch_subaccount(address, number))

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run one of the ``fetch_*`` coroutines on the feed's loop and wait (sync callers)."""
        return asyncio.run_coroutine_threadsafe(coro, self._ensure_loop()).result(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the loop thread and complete :attr:`status`."""
        with self._thread_lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            loop.close()
        self._status.on_completed()

    def __enter__(self) -> RestFeed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
