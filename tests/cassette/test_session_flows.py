"""The session's live-flow ledger: teardown waits for flows the test started, cuts off the rest
from what they delivered, and nothing a cut flow sends afterwards reaches the cassette."""

from __future__ import annotations

import threading

from pytest_streamreplay.cassette.records import WsClose, WsMessage
from pytest_streamreplay.session import CassetteSession, RecordMode


def _session(tmp_path) -> CassetteSession:
    return CassetteSession(tmp_path / "c.jsonl", record_mode=RecordMode.ONCE)


def test_a_flow_finishing_during_the_wait_is_written_whole(tmp_path) -> None:
    session = _session(tmp_path)
    cuts: list[str] = []
    session.flow_started("f1", lambda: cuts.append("f1"))

    def finish() -> None:
        if session.flow_finished("f1"):
            session.record(WsClose(0, 1.0), flow=None)

    timer = threading.Timer(0.05, finish)
    timer.start()
    assert session.settle(timeout=30) == 0
    timer.join()
    assert cuts == [] and [type(r) for r in session.new_records] == [WsClose]


def test_a_flow_still_open_is_cut_and_later_traffic_dropped(tmp_path) -> None:
    session = _session(tmp_path)
    session.flow_started("ws", lambda: session.record(WsClose(0, 2.0, None, "", "teardown")))
    session.record(WsMessage.build(0, "recv", 1.0, b"early", binary=False), flow="ws")
    assert session.settle(timeout=0.01) == 1
    session.record(WsMessage.build(0, "recv", 3.0, b"late", binary=False), flow="ws")
    assert not session.flow_finished("ws"), "the flow was already cut"
    assert [type(r).__name__ for r in session.new_records] == ["WsMessage", "WsClose"]
    assert session.new_records[-1].by == "teardown"  # type: ignore[union-attr]


def test_one_failing_cut_does_not_lose_the_others(tmp_path) -> None:
    session = _session(tmp_path)

    def broken() -> None:
        raise RuntimeError("boom")

    session.flow_started("a", broken)
    session.flow_started("b", lambda: session.record(WsClose(1, 1.0, None, "", "teardown")))
    assert session.settle(timeout=0.01) == 2
    assert len(session.new_records) == 1
