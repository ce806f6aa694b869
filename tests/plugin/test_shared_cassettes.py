"""Tests that share one cassette (``@pytest.mark.streamreplay(cassette="shared.jsonl")``): every
test's interactions end up in it, whatever runs them at once (xdist workers, two pytest
processes), and --replay-strict judges "unused" once for the cassette, at the end of the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytester_helpers import cassette_lines

SHARED = """
import os, pathlib, time, httpx, pytest

def rendezvous(i):
    # Two pytest processes (PARTY a: even i, b: odd i) run their k-th tests at the same moment,
    # so both load the cassette before either saves it.
    party = os.environ.get("PARTY")
    if not party:
        return
    i //= 2
    out = pathlib.Path(os.environ["OUT"])
    if not (out / f"{party}-pid").exists():  # renamed into place: never read half-written
        (out / f".{party}-pid").write_text(str(os.getpid()))
        (out / f".{party}-pid").replace(out / f"{party}-pid")
    (out / f"{party}-{i}").write_text("1")
    other = "b" if party == "a" else "a"
    deadline = time.monotonic() + 150  # the other process may still be starting, on a busy box
    while not (out / f"{other}-{i}").exists():
        assert time.monotonic() < deadline, "the other process never got here"
        assert _alive(out / f"{other}-pid"), "the other process ended first (its output says why)"
        time.sleep(0.01)

def _alive(pid_file):
    try:
        os.kill(int(pid_file.read_text()), 0)
    except FileNotFoundError:
        return True  # not started its tests yet
    except ProcessLookupError:
        return False
    return True

@pytest.mark.parametrize("i", range(12))
@pytest.mark.streamreplay(cassette="shared.jsonl")
def test_x(i):
    rendezvous(i)
    if i in [int(s) for s in os.environ.get("SKIP_REQUEST", "").split(",") if s]:
        return
    assert httpx.get(os.environ["ORIGIN"] + f"/item/{i}").json()["path"] == f"/item/{i}"
"""


@pytest.fixture
def shared(inner, origin, monkeypatch):
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(test_a=SHARED)
    return inner


def _cassette(pytester: pytest.Pytester) -> Path:
    return pytester.path / "cassettes" / "test_a" / "shared.jsonl"


def _items(pytester: pytest.Pytester) -> list[int]:
    """The item numbers recorded in the shared cassette, checking ids are unique."""
    records = cassette_lines(_cassette(pytester))[1:]
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), f"duplicate ids {ids}"
    return sorted(int(r["request"]["url"].rsplit("/", 1)[1]) for r in records)


def test_all_keeps_every_test_of_a_shared_cassette(shared, origin) -> None:
    result = shared.runpytest("--record-mode=all")
    result.assert_outcomes(passed=12)
    assert _items(shared) == list(range(12))
    result.stdout.fnmatch_lines(["*cassettes: 1 recorded, 0 replayed, 12 interactions written*"])
    first = _cassette(shared).read_text()

    # The next run starts the cassette afresh (its first test replaces it), then adds to it.
    result = shared.runpytest("--record-mode=all", "-v", "-p", "no:randomly")
    result.assert_outcomes(passed=12)
    assert _items(shared) == list(range(12))
    result.stdout.fnmatch_lines(
        [
            "*recorded test_a.py::test_x[[]5] -> cassettes/test_a/shared.jsonl "
            "(6 http, 1 written, shared by 12 tests)"
        ]
    )
    assert _cassette(shared).read_text() != first, "all records again"
    assert len(origin.seen) == 24


def test_rewrite_drops_what_no_test_asks_for_any_more(shared, monkeypatch) -> None:
    shared.runpytest("--record-mode=once").assert_outcomes(passed=12)
    assert _items(shared) == list(range(12)), "once records every test of a new shared cassette"
    monkeypatch.setenv("SKIP_REQUEST", "3,4")
    shared.runpytest("--record-mode=rewrite").assert_outcomes(passed=12)
    assert _items(shared) == [i for i in range(12) if i not in (3, 4)]
    before = _cassette(shared).read_bytes()

    # Nothing new: nothing written, and the summary does not claim otherwise.
    result = shared.runpytest("--record-mode=new_episodes")
    result.assert_outcomes(passed=12)
    result.stdout.fnmatch_lines(["*cassettes: 0 recorded, 1 replayed, 0 unmatched*"])
    assert _cassette(shared).read_bytes() == before


def test_xdist_workers_add_to_a_shared_cassette(shared) -> None:
    result = shared.runpytest_subprocess("-n", "4", "--record-mode=new_episodes")
    result.assert_outcomes(passed=12)
    assert _items(shared) == list(range(12))
    result.stdout.fnmatch_lines(["*cassettes: 1 recorded, 0 replayed, 12 interactions written*"])


def test_two_pytest_processes_at_once_add_to_a_shared_cassette(shared) -> None:
    """Each process runs six of the twelve tests; test k of one runs while test k of the other
    does, so both have loaded the cassette before either saves."""
    env = {**os.environ}
    procs = []
    for party, numbers in (("a", range(0, 12, 2)), ("b", range(1, 12, 2))):
        args = [f"test_a.py::test_x[{i}]" for i in numbers]
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-p",
                    "no:randomly",
                    "--record-mode=new_episodes",
                    *args,
                ],
                cwd=shared.path,
                env={**env, "PARTY": party},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outs = [proc.communicate(timeout=250)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], "\n".join(outs)
    assert _items(shared) == list(range(12)), "\n".join(outs)
    assert not list(_cassette(shared).parent.glob(".*")), "no lock or temp file left behind"


def test_strict_replay_judges_a_shared_cassette_once_for_the_run(shared, origin, monkeypatch):
    shared.runpytest("--record-mode=once").assert_outcomes(passed=12)
    origin.stop()
    result = shared.runpytest("--replay-strict")
    result.assert_outcomes(passed=12)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["*cassettes: 0 recorded, 1 replayed, 0 unmatched requests, 0 unused*"]
    )

    # An interaction no test of the run asks for any more fails the run, once, by name.
    monkeypatch.setenv("SKIP_REQUEST", "7")
    result = shared.runpytest("--replay-strict")
    result.assert_outcomes(passed=12)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*1 unused interactions*",
            "*cassettes/test_a/shared.jsonl (shared by 12 tests): 1 recorded interaction(s) "
            "were never requested (--replay-strict)*",
            "*#7 GET http://127.0.0.1:*/item/7*",
        ]
    )
    assert result.stdout.str().count("/item/7") == 1

    # Not strict: reported, the run passes.
    result = shared.runpytest()
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*1 unused interactions*", "*#7 GET*/item/7*"])


def test_strict_with_xdist_aggregates_use_across_workers(shared, origin, monkeypatch):
    shared.runpytest("--record-mode=once").assert_outcomes(passed=12)
    origin.stop()
    result = shared.runpytest_subprocess("-n", "2", "--replay-strict")
    result.assert_outcomes(passed=12)
    assert result.ret == 0
    monkeypatch.setenv("SKIP_REQUEST", "5")
    result = shared.runpytest_subprocess("-n", "2", "--replay-strict")
    result.assert_outcomes(passed=12)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*shared.jsonl (shared by 12 tests)*never requested*", "*#5 GET*"])


def test_strict_run_of_some_sharing_tests_does_not_judge_unused(shared, origin):
    """Running three of the twelve tests cannot tell what the other nine would use."""
    shared.runpytest("--record-mode=once").assert_outcomes(passed=12)
    origin.stop()
    result = shared.runpytest("--replay-strict", "-k", "test_x[1] or test_x[2] or test_x[3]")
    result.assert_outcomes(passed=3)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["*shared.jsonl: unused interactions not judged: 3 of the 12 tests that share it ran*"]
    )


WS_SHARED = """
import os, json, pytest, websocket

@pytest.mark.parametrize("i", range(3))
@pytest.mark.streamreplay(cassette="ws_shared.jsonl")
def test_ws(i):
    if str(i) in os.environ.get("SKIP_WS", "").split(","):
        return
    ws = websocket.create_connection(os.environ["WS"] + f"/echo?i={i}", timeout=20)
    try:
        ws.send(json.dumps({"i": i}))
        assert json.loads(ws.recv()) == {"i": i}
    finally:
        ws.close()
"""


def test_websocket_connections_of_a_shared_cassette_keep_their_messages(inner, monkeypatch) -> None:
    from stream_servers import start_stream_origin

    server = start_stream_origin()
    monkeypatch.setenv("WS", server.ws_url)
    inner.makepyfile(test_a=WS_SHARED)
    try:
        inner.runpytest("--record-mode=all").assert_outcomes(passed=3)
    finally:
        server.stop()
    records = cassette_lines(inner.path / "cassettes" / "test_a" / "ws_shared.jsonl")[1:]
    conns = {r["id"]: r["url"] for r in records if r["kind"] == "ws"}
    assert len(conns) == 3 and sorted(conns.values()) == sorted(
        f"{server.ws_url}/echo?i={i}" for i in range(3)
    )
    for r in records:
        if r["kind"] == "ws_msg":  # each message sits under its own test's connection
            assert conns[r["conn"]].endswith(f"?i={r['json']['i']}")
    assert sum(r["kind"] == "ws_msg" for r in records) == 6

    inner.runpytest("--replay-strict").assert_outcomes(passed=3)
    monkeypatch.setenv("SKIP_WS", "1")
    result = inner.runpytest("--replay-strict")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*ws_shared.jsonl (shared by 3 tests): 1 recorded WebSocket connection(s) were "
            "never opened (--replay-strict)*",
            "*/echo?i=1",
        ]
    )
