"""cassette_stream: recorded offsets on virtual time, selection, speed, laziness."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import reactivex
import reactivex.operators as ops
from reactivex.testing import TestScheduler

from pytest_streamreplay.cassette import CassetteWriter, Event, WsMessage, new_header
from pytest_streamreplay.streams import (
    Notification,
    ParityTracker,
    StreamHasher,
    VirtualScheduler,
    cassette_stream,
    collect,
    collect_notifications,
)


def test_recv_messages_at_exact_recorded_offsets(market_cassette: Path) -> None:
    s = TestScheduler()
    notes = collect_notifications(cassette_stream(market_cassette, scheduler=s))
    assert [(n.time, n.kind) for n in notes] == [
        (12.5, "on_next"),
        (40.25, "on_next"),
        (40.25, "on_next"),
        (1500.001, "on_next"),
        (1500.001, "on_completed"),
    ]
    assert notes[1].value == {"type": "trade", "price": "101.5", "size": "0.2"}


def test_direction_send_and_both(market_cassette: Path) -> None:
    s = VirtualScheduler()
    sent = collect(cassette_stream(market_cassette, direction="send", scheduler=s))
    assert sent == [{"type": "subscribe", "channel": "v4_trades"}]
    both = collect(cassette_stream(market_cassette, direction="both", records=True, scheduler=s))
    assert [m.dir for m in both if isinstance(m, WsMessage)] == ["send"] + ["recv"] * 4
    with pytest.raises(ValueError, match="direction"):
        cassette_stream(market_cassette, direction="sideways")  # type: ignore[arg-type]


def test_connection_by_id_or_url_and_multi_connection_timeline(
    tmp_path: Path, ws_cassette: Callable[..., Path]
) -> None:
    path = ws_cassette(
        tmp_path / "two.jsonl",
        [(1, "recv", 5.0, "a1"), (2, "recv", 1.0, "b1"), (1, "recv", 30.0, "a2")],
        {1: ("wss://one/ws", 0.0), 2: ("wss://two/ws", 10.0)},
    )
    s = VirtualScheduler()
    assert collect(cassette_stream(path, connection=2, scheduler=s)) == ["b1"]
    only_one = collect_notifications(cassette_stream(path, connection="one", scheduler=s))
    assert [(n.time, n.value) for n in only_one[:-1]] == [(5.0, "a1"), (30.0, "a2")]
    every = collect_notifications(cassette_stream(path, scheduler=s))
    # All connections on the first one's timeline: b1 is 10 ms (opening) + 1 ms.
    assert [(n.time, n.value) for n in every[:-1]] == [(5.0, "a1"), (11.0, "b1"), (30.0, "a2")]


def test_speed_scales_offsets_and_instant_emits_at_once(market_cassette: Path) -> None:
    s = VirtualScheduler()
    fast = collect_notifications(cassette_stream(market_cassette, scheduler=s, speed=2.0))
    # Scaled offsets land on reactivex's microsecond clock: 750.0005 ms rounds to 750 ms.
    assert [n.time for n in fast] == [6.25, 20.125, 20.125, 750.0, 750.0]
    instant = collect_notifications(cassette_stream(market_cassette, scheduler=s, speed="instant"))
    assert {n.time for n in instant} == {0.0} and len(instant) == 5
    with pytest.raises(ValueError, match="speed"):
        cassette_stream(market_cassette, speed=0)


def test_events_cassette_emits_event_records(tmp_path: Path) -> None:
    path = tmp_path / "bus.jsonl"
    with CassetteWriter(path, new_header()) as w:
        w.write(Event("s1", 0.0, "bar", {"close": "1"}))
        w.write(Event("s1", 60_000.0, "bar", {"close": "2"}))
        w.write(Event("s2", 5.0, "fill", {"qty": 1}))
    s = VirtualScheduler()
    notes = collect_notifications(cassette_stream(path, connection="s1", scheduler=s))
    assert [(n.time, n.value.name, n.value.data) for n in notes[:-1]] == [
        (0.0, "bar", {"close": "1"}),
        (60_000.0, "bar", {"close": "2"}),
    ]


def test_cold_and_cancellable(market_cassette: Path) -> None:
    s = VirtualScheduler()
    stream = cassette_stream(market_cassette, scheduler=s)
    # A piped stream no longer carries .scheduler: name it so collect drives virtual time.
    assert collect(stream.pipe(ops.take(1)), scheduler=s) == [{"type": "connected"}]
    assert len(collect(stream)) == 4  # a fresh read per subscription


def test_many_same_time_messages_keep_exact_time(
    tmp_path: Path, ws_cassette: Callable[..., Path]
) -> None:
    # reactivex's own loop jumps the clock a second after 100 same-time actions.
    msgs = [(1, "recv", 7.0, i) for i in range(250)]
    path = ws_cassette(tmp_path / "burst.jsonl", msgs, {1: ("wss://x", 0.0)})
    s = VirtualScheduler()
    notes = collect_notifications(cassette_stream(path, scheduler=s))
    assert {n.time for n in notes} == {7.0} and len(notes) == 251


def test_replayed_twice_identical_notifications_and_hashes(market_cassette: Path) -> None:
    runs = []
    for _ in range(2):
        s = VirtualScheduler()
        runs.append(collect_notifications(cassette_stream(market_cassette, scheduler=s)))
    assert runs[0] == runs[1]
    h1, h2 = StreamHasher(checkpoint_every=2), StreamHasher(checkpoint_every=2)
    h1.update_all((n.time, n.kind, n.value) for n in runs[0])
    h2.update_all((n.time, n.kind, n.value) for n in runs[1])
    assert h1.digest == h2.digest and h1.checkpoints == h2.checkpoints
    report = ParityTracker().compare(
        [(n.time, n.value) for n in runs[0]], [(n.time, n.value) for n in runs[1]]
    )
    assert report.equal and report.left_count == 5


def test_real_time_default_scheduler(market_cassette: Path) -> None:
    notes = collect_notifications(cassette_stream(market_cassette, speed=50.0), timeout=5.0)
    assert notes[0].value == {"type": "connected"}
    assert notes[-1].kind == "on_completed"
    assert notes[-1].time >= 1500.001 / 50.0 - 1.0
    assert isinstance(notes[0], Notification)


def test_fast_clock_jumps_keep_other_timers_in_order(market_cassette: Path) -> None:
    s = VirtualScheduler()
    seen: list[tuple[float, object]] = []
    ticks = reactivex.interval(0.020).pipe(ops.take(3), ops.map(lambda i: f"tick{i}"))
    merged = reactivex.merge(cassette_stream(market_cassette, scheduler=s), ticks)
    merged.subscribe(lambda v: seen.append((s.now_ms, v)), scheduler=s)
    s.start()  # start() lets the stream move the clock itself when nothing else is due
    times = [t for t, _ in seen]
    assert times == sorted(times)
    assert [(t, v) for t, v in seen if isinstance(v, str)] == [
        (20.0, "tick0"),
        (40.0, "tick1"),
        (60.0, "tick2"),
    ]
    assert seen[-1][0] == 1500.001 and seen[1][0] == 20.0


def _downstream_times(
    path: Path, operator: Callable[[reactivex.Observable[Any]], reactivex.Observable[Any]]
) -> list[tuple[float, str, object]]:
    """Timestamps of ``cassette_stream | operator`` run by ``VirtualScheduler.start()``.

    start() lets the stream move the clock itself, so this checks that work the operator
    schedules from on_next still runs at its own virtual time, between the stream's items.
    """
    s = VirtualScheduler()
    seen: list[tuple[float, str, object]] = []
    cassette_stream(path, scheduler=s).pipe(operator).subscribe(
        on_next=lambda v: seen.append((s.now_ms, "next", v)),
        on_completed=lambda: seen.append((s.now_ms, "completed", None)),
        scheduler=s,
    )
    s.start()
    return seen


def test_work_scheduled_by_on_next_interleaves_at_its_virtual_time(
    tmp_path: Path, ws_cassette: Callable[..., Path]
) -> None:
    msgs = [(1, "recv", t, v) for t, v in [(1.0, "a"), (2.0, "b"), (2.2, "c"), (5.0, "d")]]
    path = ws_cassette(tmp_path / "timers.jsonl", msgs, {1: ("wss://x", 0.0)})
    # delay: each value 0.5 ms later, the next stream item still at its own offset.
    assert _downstream_times(path, ops.delay(0.0005)) == [
        (1.5, "next", "a"),
        (2.5, "next", "b"),
        (2.7, "next", "c"),
        (5.5, "next", "d"),
        (5.5, "completed", None),
    ]
    # debounce: "b" is dropped because "c" comes 0.2 ms later; completion flushes "d" at once.
    assert _downstream_times(path, ops.debounce(0.0005)) == [
        (1.5, "next", "a"),
        (2.7, "next", "c"),
        (5.0, "next", "d"),
        (5.0, "completed", None),
    ]
    # A timer the observer starts between two items fires at its own time, not at the next item.
    s = VirtualScheduler()
    seen: list[tuple[float, object]] = []

    def on_next(v: object) -> None:
        seen.append((s.now_ms, v))
        if v == "a":
            s.schedule_relative(0.0025, lambda *_: seen.append((s.now_ms, "timer")))

    cassette_stream(path, scheduler=s).subscribe(on_next)
    s.start()
    assert seen == [(1.0, "a"), (2.0, "b"), (2.2, "c"), (3.5, "timer"), (5.0, "d")]
