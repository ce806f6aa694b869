"""A thread-safe hub between the pipeline's bars and the network subscribers.

The pipeline publishes every :class:`~tradingbot.market.bars.Bar` it emits (forming and
confirmed) from its own thread; subscribers live on the server's asyncio loop. The hub keeps
the confirmed history and the latest forming bar per (market, resolution), and hands each new
subscriber a snapshot of both together with a queue of what follows, taken under one lock, so
nothing is missed or sent twice between history and live messages.

Every message carries ``parity``: the SHA-256 of the bar's canonical JSON
(:func:`pytest_streamreplay.streams.parity.canonical_json`), so a client can check that the
bar it received is the bar the pipeline emitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

from pytest_streamreplay.streams.parity import canonical_json, normalize

from ..feeds.events import ErrorEvent
from ..market.bars import Bar

__all__ = [
    "BAR_CONFIRMED",
    "BAR_FORMING",
    "BarHub",
    "BarSubscription",
    "bar_message",
    "bar_parity",
]

BAR_FORMING = "BAR_FORMING"
BAR_CONFIRMED = "BAR_CONFIRMED"

Message = dict[str, Any]
Key = tuple[str, str]


def bar_parity(bar: Bar | dict[str, Any]) -> str:
    """SHA-256 (hex) of the bar's canonical JSON; the dataclass and its JSON form agree."""
    return hashlib.sha256(canonical_json(bar).encode("utf-8")).hexdigest()


def bar_message(bar: Bar) -> Message:
    """``{"type": BAR_FORMING|BAR_CONFIRMED, "bar": {...}, "parity": sha256}``."""
    return {
        "type": BAR_CONFIRMED if bar.confirmed else BAR_FORMING,
        "bar": normalize(bar),
        "parity": bar_parity(bar),
    }


class BarSubscription:
    """One subscriber: ``initial`` messages (confirmed history, then the forming bar if any)
    and an asyncio queue of live messages, fed from any thread.

    ``await get()`` returns the next live message, or ``None`` once the subscription ended
    (the hub closed, or the subscriber fell more than ``maxsize`` messages behind: then
    ``overflowed`` is set).
    """

    def __init__(
        self,
        key: Key,
        initial: list[Message],
        loop: asyncio.AbstractEventLoop,
        maxsize: int,
    ) -> None:
        self.key = key
        self.initial = initial
        self.maxsize = maxsize
        self.overflowed = False
        self._loop = loop
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue()
        self._ended = False

    def _put(self, message: Message | None) -> None:  # on the loop's thread
        if self._ended:
            return
        if message is not None and self._queue.qsize() >= self.maxsize:
            self.overflowed = True
            message = None
        if message is None:
            self._ended = True
        self._queue.put_nowait(message)

    def deliver(self, message: Message | None) -> None:
        """Queue ``message`` (``None``: end) from any thread, in call order."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            self._loop.call_soon_threadsafe(self._put, message)

    async def get(self) -> Message | None:
        return await self._queue.get()


class BarHub:
    """Confirmed history and forming bars per (market, resolution), fanned out to subscribers.

    ``resolutions`` are the ones the pipeline builds; ``markets`` the ones known in advance
    (more become known as bars or market events arrive). ``history`` bounds the confirmed
    bars kept per key (the oldest are dropped).
    """

    def __init__(
        self,
        resolutions: Iterable[str] = ("1MIN",),
        *,
        markets: Iterable[str] = (),
        history: int = 5000,
    ) -> None:
        self.resolutions = tuple(resolutions)
        self._history_size = history
        self._lock = threading.Lock()
        self._markets: set[str] = set(markets)
        self._confirmed: dict[Key, deque[Message]] = {}
        self._forming: dict[Key, Message] = {}
        self._subscribers: dict[Key, set[BarSubscription]] = {}
        self._closed = False
        self.published = 0

    # -- the pipeline's side ---------------------------------------------------------------

    def observe(self, item: Any) -> None:
        """Any pipeline item: bars are published, other items with a market make it known."""
        if isinstance(item, Bar):
            self.publish(item)
            return
        market = getattr(item, "market", None)
        known = self._markets  # a racy read is fine: the add is locked
        if isinstance(market, str) and market not in known and not isinstance(item, ErrorEvent):
            with self._lock:
                known.add(market)

    def publish(self, bar: Bar) -> Message:
        """Record ``bar`` and send it to the subscribers of its market and resolution."""
        message = bar_message(bar)
        key = (bar.market, bar.resolution)
        with self._lock:
            self._markets.add(bar.market)
            if bar.confirmed:
                kept = self._confirmed.get(key)
                if kept is None:
                    kept = self._confirmed[key] = deque(maxlen=self._history_size)
                kept.append(message)
                self._forming.pop(key, None)
            else:
                self._forming[key] = message
            self.published += 1
            # delivered under the lock: a concurrent subscribe sees it either in its snapshot
            # or in its queue, never both, never neither
            for sub in self._subscribers.get(key, ()):
                sub.deliver(message)
        return message

    def close(self) -> None:
        """End every subscription (new ones get their snapshot and end at once)."""
        with self._lock:
            self._closed = True
            subs = [s for group in self._subscribers.values() for s in group]
            self._subscribers.clear()
        for sub in subs:
            sub.deliver(None)

    # -- the server's side -----------------------------------------------------------------

    def knows(self, market: str, resolution: str) -> bool:
        """Whether ``resolution`` is built and ``market`` has been declared or seen."""
        with self._lock:
            return resolution in self.resolutions and market in self._markets

    def markets(self) -> list[str]:
        with self._lock:
            return sorted(self._markets)

    def confirmed(self, market: str, resolution: str) -> list[Message]:
        """Confirmed bar messages so far, oldest first."""
        with self._lock:
            return list(self._confirmed.get((market, resolution), ()))

    def forming(self, market: str, resolution: str) -> Message | None:
        with self._lock:
            return self._forming.get((market, resolution))

    def subscribe(self, market: str, resolution: str, *, maxsize: int = 10_000) -> BarSubscription:
        """Subscribe from a coroutine (the running loop receives the live messages)."""
        loop = asyncio.get_running_loop()
        key = (market, resolution)
        with self._lock:
            initial = list(self._confirmed.get(key, ()))
            forming = self._forming.get(key)
            if forming is not None:
                initial.append(forming)
            sub = BarSubscription(key, initial, loop, maxsize)
            if self._closed:
                sub.deliver(None)
            else:
                self._subscribers.setdefault(key, set()).add(sub)
        return sub

    def unsubscribe(self, sub: BarSubscription) -> None:
        with self._lock:
            group = self._subscribers.get(sub.key)
            if group is not None:
                group.discard(sub)
                if not group:
                    del self._subscribers[sub.key]

    def subscriber_count(self) -> int:
        with self._lock:
            return sum(len(g) for g in self._subscribers.values())
