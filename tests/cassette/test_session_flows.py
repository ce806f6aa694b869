"""The session's live-flow ledger: teardown waits for flows the test started, cuts off the rest
from what they delivered, and nothing a cut flow sends afterwards reaches the cassette."""

from __future__ import annotations

import threading
import time

from pytest_streamreplay import session as session_module
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


def test_a_flow_being_written_when_the_wait_ends_is_in_the_save(tmp_path) -> None:
    """The proxy took the flow (its response hook runs) but writes it late: the save waits."""
    session = _session(tmp_path)
    session.flow_started("f1", lambda: None)
    taken = threading.Event()

    def finish() -> None:
        with session.finishing("f1") as mine:
            assert mine
            taken.set()
            time.sleep(0.3)  # writing, on a busy box
            session.record(WsClose(0, 1.0), flow=None)

    writer = threading.Thread(target=finish)
    writer.start()
    assert taken.wait(10)
    assert session.settle(timeout=0.01) == 0, "being written: not cut off"
    writer.join()
    assert [type(r) for r in session.records_to_save() or []] == [WsClose]


def test_a_writer_stuck_past_its_bound_fails_the_save_instead_of_dropping_it(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(session_module, "FINISHING_TIMEOUT_S", 0.05)
    session = _session(tmp_path)
    session.flow_started("f1", lambda: None)
    release = threading.Event()
    taken = threading.Event()

    def finish() -> None:
        with session.finishing("f1"):
            taken.set()
            release.wait(10)

    writer = threading.Thread(target=finish)
    writer.start()
    assert taken.wait(10)
    assert session.records_to_save() is None, "a partial recording is not saved"
    release.set()
    writer.join()
    (error,) = session.late_errors()
    assert "c.jsonl: 1 exchange(s) still being written by the proxy after 0 s: not saved" in error
