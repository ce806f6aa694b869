"""EventRecorder/EventReplayer: typed round trips, timing, filters, summaries."""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from reactivex.subject import Subject

from pytest_streamreplay.cassette import CassetteWriter, Event, new_header
from pytest_streamreplay.streams import (
    EventRecorder,
    EventReplayer,
    VirtualScheduler,
    cassette_stream,
    collect,
    decode_event,
)


class Side(enum.Enum):
    BUY = "buy"
    SELL = "sell"


@dataclasses.dataclass(frozen=True)
class Fill:
    price: Decimal
    size: Decimal
    side: Side
    at: datetime
    tags: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Bar:
    close: Decimal
    fills: tuple[Fill, ...] = ()


def _record(path: Path) -> list[object]:
    s = VirtualScheduler()
    bus: Subject[object] = Subject()
    published: list[object] = [
        Fill(Decimal("101.50"), Decimal("0.2"), Side.BUY, datetime(2024, 1, 1, tzinfo=UTC), ["x"]),
        {"event": "heartbeat", "seq": 1},
        Bar(
            Decimal("101.5"),
            (Fill(Decimal("1"), Decimal("2"), Side.SELL, datetime(2024, 1, 1, tzinfo=UTC)),),
        ),
    ]
    with EventRecorder(path, bus, scheduler=s, session="morning") as rec:
        bus.on_next(published[0])
        s.advance_by(0.250)
        bus.on_next(published[1])
        s.advance_by(1.0)
        bus.on_next(published[2])
    assert rec.count == 3
    return published


def test_typed_events_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "bus.jsonl"
    published = _record(path)
    lines = [json.loads(x) for x in path.read_text().splitlines()[1:]]
    assert [(x["t"], x["name"], x.get("type")) for x in lines] == [
        (0.0, "Fill", f"{__name__}:Fill"),
        (250.0, "heartbeat", None),
        (1250.0, "Bar", f"{__name__}:Bar"),
    ]
    assert lines[0]["data"]["price"] == "101.50"  # exact, not normalised
    replayer = EventReplayer(path)
    assert list(replayer.events()) == published
    assert replayer.summary() == {"Fill": 1, "heartbeat": 1, "Bar": 1}
    assert [(e.t, e.session, e.name) for e in replayer.timeline()] == [
        (0.0, "morning", "Fill"),
        (250.0, "morning", "heartbeat"),
        (1250.0, "morning", "Bar"),
    ]


def test_unimportable_type_comes_back_as_dict() -> None:
    record = Event("s", 0.0, "Gone", {"a": 1}, type="no_such_module_xyz:Gone")
    assert decode_event(record) == {"a": 1}


def test_replay_on_virtual_time_with_speed_filter_and_progress(tmp_path: Path) -> None:
    path = tmp_path / "bus.jsonl"
    published = _record(path)
    s = VirtualScheduler()
    bus: Subject[object] = Subject()
    seen: list[tuple[float, object]] = []
    bus.subscribe(lambda e: seen.append((s.now_ms, e)))
    progress: list[tuple[int, str]] = []
    handle = EventReplayer(path).replay(
        bus,
        speed=2.0,
        scheduler=s,
        filter=lambda r: r.name != "heartbeat",
        progress=lambda n, r: progress.append((n, r.name)),
    )
    s.start()
    assert seen == [(0.0, published[0]), (625.0, published[2])]
    assert progress == [(1, "Fill"), (2, "Bar")]
    assert handle.wait(0.1) == 2


def test_replay_real_time_and_instant_onto_a_callable(tmp_path: Path) -> None:
    path = tmp_path / "bus.jsonl"
    published = _record(path)
    out: list[object] = []
    handle = EventReplayer(path).replay(out.append, speed=100.0)
    assert handle.wait(5.0) == 3 and out == published
    names: list[object] = []
    EventReplayer(path).replay(names.append, speed="instant", filter={"heartbeat"})
    assert names == [{"event": "heartbeat", "seq": 1}]


def test_wrapped_publish_and_sessions(tmp_path: Path) -> None:
    path = tmp_path / "wrapped.jsonl"
    sink: list[object] = []
    s = VirtualScheduler()
    with EventRecorder(path, scheduler=s) as rec:
        publish = rec.wrap(sink.append)
        publish({"type": "tick"})
        s.advance_by(5.0)
        rec.start_session("afternoon")
        publish({"type": "tick"})
    assert sink == [{"type": "tick"}] * 2
    assert [(e.session, e.t) for e in EventReplayer(path).timeline()] == [
        ("main", 0.0),
        ("afternoon", 0.0),
    ]
    assert EventReplayer(path, session="afternoon").summary() == {"tick": 1}
    with pytest.raises(RuntimeError, match="context manager"):
        EventRecorder(path).record({"x": 1})


def test_failed_recording_keeps_the_old_cassette(tmp_path: Path) -> None:
    path = tmp_path / "bus.jsonl"
    _record(path)
    before = path.read_text()
    with pytest.raises(ZeroDivisionError), EventRecorder(path) as rec:
        rec.record({"event": "x"})
        1 / 0  # noqa: B018
    assert path.read_text() == before


def test_events_are_a_stream_too(tmp_path: Path) -> None:
    path = tmp_path / "plain.jsonl"
    with CassetteWriter(path, new_header()) as w:
        w.write(Event("s", 10.0, "bar", {"close": "1"}))
    s = VirtualScheduler()
    [record] = collect(cassette_stream(path, scheduler=s))
    assert record.name == "bar" and s.now_ms == 10.0
