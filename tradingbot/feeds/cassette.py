"""Recorded indexer sessions as a feed: the replay driver's source.

A cassette (read through :mod:`pytest_streamreplay.cassette` and
:func:`~pytest_streamreplay.streams.cassette_stream`, never by hand) gives the indexer's
messages at their recorded offsets on a virtual clock; :func:`cassette_events` decodes them into
the same stamped :class:`~tradingbot.feeds.events.MarketEvent`\\ s the live
:class:`~tradingbot.feeds.stream.StreamFeed` delivers, so the pipeline sees one kind of input in
replay and live: only the source and the clock differ.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import reactivex
from reactivex import Observable, abc
from reactivex.scheduler import VirtualTimeScheduler

from pytest_streamreplay.cassette import iter_records, read_header
from pytest_streamreplay.cassette.records import WsMessage
from pytest_streamreplay.streams import MarketClock, cassette_stream
from tradingbot.layers import event_time

from .dydx import decode
from .events import MarketEvent

__all__ = [
    "DecodedMessages",
    "cassette_duration_ms",
    "cassette_events",
    "cassette_start",
    "decode_stage",
    "replay_clock",
]


class DecodedMessages(Observable[MarketEvent]):
    """Raw indexer messages (parsed JSON) decoded into events stamped ``received_at =
    clock()`` (the live feed stamps its events the same way, on arrival).

    A consumer on the hot path can take :attr:`messages` and :meth:`decoding` instead of
    subscribing (``Pipeline`` does): the same events in the same order, one observer layer
    fewer per event."""

    def __init__(
        self, messages: Observable[Any], clock: Callable[[], datetime] | None = None
    ) -> None:
        super().__init__()
        self.messages = messages
        self.clock = clock

    def decoding(self, push: Callable[[MarketEvent], None]) -> Callable[[Any], None]:
        """``on_next`` for raw messages: decode each and ``push`` its events."""
        clock = self.clock

        def on_next(message: Any) -> None:
            for event in decode(message, clock() if clock is not None else None):
                push(event)

        return on_next

    def _subscribe_core(
        self, observer: abc.ObserverBase[MarketEvent], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        return self.messages.subscribe(
            self.decoding(observer.on_next),
            observer.on_error,
            observer.on_completed,
            scheduler=scheduler,
        )


def decode_stage(
    clock: Callable[[], datetime] | None = None,
) -> Callable[[Observable[Any]], DecodedMessages]:
    """Raw indexer messages -> :class:`DecodedMessages` stamped with ``clock()``."""
    return lambda messages: DecodedMessages(messages, clock)


def cassette_events(
    paths: Sequence[str | os.PathLike[str]], clock: MarketClock, *, time_scale: float = 1.0
) -> DecodedMessages:
    """The received messages of ``paths`` (one cassette after another) decoded and stamped on
    ``clock``, at their recorded offsets on its scheduler.

    ``time_scale`` F: the cassettes were recorded while market time ran F times faster than the
    wall clock (a simulator at F x): offsets are stretched F times, so the clock runs in market
    time."""
    if time_scale <= 0:
        raise ValueError(f"time_scale must be positive, not {time_scale}")
    stretch = None if time_scale == 1.0 else 1.0 / time_scale
    sched = clock.scheduler
    streams = [cassette_stream(p, direction="recv", scheduler=sched, speed=stretch) for p in paths]
    return DecodedMessages(reactivex.concat(*streams), replay_clock(clock))


def replay_clock(clock: MarketClock) -> Callable[[], datetime]:
    """``clock.now`` for stamping every replayed message, cheaper: the virtual scheduler's
    datetime itself when it is in the clock's zone (then ``clock.now`` is that very object),
    else ``clock.now``. For a clock only the replay drives (never frozen)."""
    sched = clock.scheduler
    zone = clock.now.tzinfo
    if not isinstance(sched, VirtualTimeScheduler):
        return lambda: clock.now

    def now() -> datetime:
        t = sched._clock
        if type(t) is datetime and t.tzinfo is zone:
            return t
        return clock.now

    return now


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cassette_start(path: str | os.PathLike[str], scan: int = 500) -> datetime | None:
    """Market time at the cassette's opening: the header's ``market_start`` if recorded,
    else the first trade or oracle time among the first ``scan`` messages."""
    header = read_header(path)
    start = header.extra.get("market_start")
    if isinstance(start, str) and (moment := _parse_time(start)) is not None:
        return moment
    for n, record in enumerate(iter_records(path)):
        if n >= scan:
            break
        if isinstance(record, WsMessage) and record.dir == "recv":
            for event in decode(record.value):
                t = event_time(event)
                if t is not None:
                    return t - timedelta(milliseconds=record.t)
    return None


def cassette_duration_ms(path: str | os.PathLike[str]) -> float:
    """Offset of the last received message (a full read: only progress reports need it)."""
    last = 0.0
    for record in iter_records(path):
        if isinstance(record, WsMessage) and record.dir == "recv":
            last = record.t
    return last
