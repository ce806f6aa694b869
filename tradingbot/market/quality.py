"""Data-quality checks on the event stream, reported as events rather than exceptions.

A trading layer should know when its inputs are doubtful (a lost message, time running
backwards, a silent feed) and decide itself whether to stop quoting; so the monitor only
observes and reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tradingbot.feeds.events import MarketEvent, OraclePrice, Trade
from tradingbot.stages import KindOf

from .ringbuffer import RingBuffer

__all__ = ["DataQualityMonitor", "QualityIssue", "QualityKind"]


class QualityKind(StrEnum):
    MESSAGE_GAP = "message_gap"  # message_id jumped: messages were lost
    MESSAGE_OUT_OF_ORDER = "message_out_of_order"  # message_id went backwards
    OUT_OF_ORDER_TIME = "out_of_order_time"  # a trade/oracle time earlier than the previous one
    STALE_FEED = "stale_feed"  # no event on a stream for longer than ``stale_after``
    FEED_RECOVERED = "feed_recovered"  # a stale stream delivered again


@dataclass(frozen=True, slots=True)
class QualityIssue:
    kind: QualityKind
    stream: str
    """``channel`` or ``channel:market``: which stream the issue concerns."""
    detail: str
    at: datetime | None = None
    message_id: int | None = None
    connection_id: str | None = None


_TICK = timedelta(microseconds=1)  # stale means silent for *more* than stale_after

_TIMED = KindOf(Trade, OraclePrice)  # events with an exchange time to check
_TRADE, _ORACLE = 0, 1


def _stream(event: MarketEvent) -> str:
    market = getattr(event, "market", None)
    return f"{event.channel}:{market}" if market else event.channel


class DataQualityMonitor:
    """Checks ids, event times and liveness.

    * ``message_id`` per connection: backwards is always an issue; a jump is a gap only with
      ``contiguous_ids`` (the monitor sees every message of the connection). Events of one
      message share an id.
    * event times (trade ``created_at``, oracle ``effective_at``) per stream must not decrease.
    * staleness: a market's stream (``channel:market``) with no event for more than
      ``stale_after`` (checked by ``on_time``) is reported once, and its recovery once.
      Channel-wide events (``connected``, subscription acknowledgements) carry no market data
      and are not watched: a channel is only ever acknowledged once.

    Arrival time is the ``now`` passed to :meth:`apply`, else the event's ``received_at``, else
    the last clock seen by :meth:`on_time`. ``history`` bounds the kept issues.
    """

    def __init__(
        self,
        stale_after: timedelta = timedelta(seconds=60),
        *,
        contiguous_ids: bool = False,
        history: int = 1000,
    ) -> None:
        self.stale_after = stale_after
        self.contiguous_ids = contiguous_ids
        self.issues: RingBuffer[QualityIssue] = RingBuffer(history)
        self._connection: str | None = None
        self._last_id: int | None = None
        self._last_time: dict[str, datetime] = {}
        self._last_seen: dict[str, datetime] = {}
        self._stale: set[str] = set()
        self._clock: datetime | None = None

    def _emit(self, out: list[QualityIssue], issue: QualityIssue) -> None:
        out.append(issue)
        self.issues.append(issue)

    def apply(self, event: MarketEvent, now: datetime | None = None) -> list[QualityIssue]:
        out: list[QualityIssue] = []
        at = now or event.received_at or self._clock
        stream = _stream(event)
        if event.connection_id is not None and event.connection_id != self._connection:
            self._connection, self._last_id = event.connection_id, None
        mid = event.message_id
        if mid is not None:
            last = self._last_id
            if last is not None and mid < last:
                self._emit(
                    out,
                    QualityIssue(
                        QualityKind.MESSAGE_OUT_OF_ORDER,
                        stream,
                        f"message {mid} after {last}",
                        at,
                        mid,
                        event.connection_id,
                    ),
                )
            elif last is not None and self.contiguous_ids and mid > last + 1:
                self._emit(
                    out,
                    QualityIssue(
                        QualityKind.MESSAGE_GAP,
                        stream,
                        f"expected message {last + 1}, got {mid} ({mid - last - 1} missing)",
                        at,
                        mid,
                        event.connection_id,
                    ),
                )
            if last is None or mid > last:
                self._last_id = mid
        when: datetime | None = None
        kind = _TIMED[type(event)]
        if kind == _TRADE:
            when = event.created_at  # type: ignore[attr-defined]
        elif kind == _ORACLE:
            when = event.effective_at  # type: ignore[attr-defined]
        if when is not None:
            prev = self._last_time.get(stream)
            if prev is not None and when < prev:
                self._emit(
                    out,
                    QualityIssue(
                        QualityKind.OUT_OF_ORDER_TIME,
                        stream,
                        f"event time {when.isoformat()} before {prev.isoformat()}",
                        at,
                        mid,
                        event.connection_id,
                    ),
                )
            else:
                self._last_time[stream] = when
        if at is not None and stream is not event.channel:  # a market's stream
            self._last_seen[stream] = at
            if stream in self._stale:
                self._stale.discard(stream)
                self._emit(
                    out,
                    QualityIssue(
                        QualityKind.FEED_RECOVERED,
                        stream,
                        "events again",
                        at,
                        mid,
                        event.connection_id,
                    ),
                )
        return out

    def next_deadline(self) -> datetime | None:
        """The earliest time ``on_time`` could report a stream as stale (None: none can be):
        a driver that skips quiet stretches of a replay stops here to look."""
        live = [seen for stream, seen in self._last_seen.items() if stream not in self._stale]
        return min(live) + self.stale_after + _TICK if live else None

    def on_time(self, now: datetime) -> list[QualityIssue]:
        """Report streams silent for more than ``stale_after`` (once per silence)."""
        self._clock = now
        out: list[QualityIssue] = []
        for stream, seen in sorted(self._last_seen.items()):
            if stream not in self._stale and now - seen > self.stale_after:
                self._stale.add(stream)
                self._emit(
                    out,
                    QualityIssue(
                        QualityKind.STALE_FEED,
                        stream,
                        f"no event for {now - seen} (limit {self.stale_after})",
                        now,
                    ),
                )
        return out
