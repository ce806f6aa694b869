"""Record modes, strict replay, failure handling: the way users run pytest."""

from __future__ import annotations

import pytest
from pytester_helpers import cassette_files, cassette_lines

FETCH = """
import os, httpx, pytest

def get(path):
    return httpx.get(os.environ["ORIGIN"] + path)
"""


@pytest.fixture
def api(inner, origin, monkeypatch):
    monkeypatch.setenv("ORIGIN", origin.url)
    return inner


def _paths(cassette) -> list[str]:
    return [r["request"]["url"].split("/", 3)[3] for r in cassette_lines(cassette)[1:]]


def test_missing_cassette_fails_and_says_how_to_record(api) -> None:
    api.makepyfile(test_a=FETCH + "@pytest.mark.streamreplay\ndef test_x():\n    get('/a')\n")
    result = api.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*no cassette at*test_a*test_x.jsonl (record mode none); record it with "
            "`pytest --record-mode=once`*"
        ]
    )
    assert cassette_files(api) == []


def test_missing_cassette_fails_only_when_a_request_is_made(api) -> None:
    """vcrpy's mode none: no cassette is an error for each request, not for the test."""
    api.makepyfile(
        test_a=FETCH
        + """
import asyncio, websockets

@pytest.mark.streamreplay
def test_no_request():
    assert 1 + 1 == 2

@pytest.mark.streamreplay
def test_request(streamreplay):
    assert streamreplay.mode == "replay"
    get('/a')

@pytest.mark.streamreplay
def test_ws():
    async def main():
        async with websockets.connect("ws://127.0.0.1:9/feed", open_timeout=10):
            pass
    asyncio.run(main())
"""
    )
    for args in ((), ("--replay-strict",)):
        result = api.runpytest("-v", *args)
        result.assert_outcomes(passed=1, failed=2)
        result.stdout.fnmatch_lines(["*test_no_request PASSED*"], consecutive=False)
        result.stdout.re_match_lines(
            [
                r".*no cassette at .*test_a.test_request\.jsonl \(record mode none.*\); "
                "record it with `pytest --record-mode=once`.*",
                r" *refused: GET http://127.0.0.1:.*/a",
                r".*no cassette at .*test_a.test_ws\.jsonl \(record mode none.*\); "
                "record it with `pytest --record-mode=once`.*",
                r" *refused: WebSocket connection to ws://127.0.0.1:9/feed",
            ],
            consecutive=False,
        )
    assert cassette_files(api) == []


def test_once_records_then_replays_and_new_request_fails(api, origin) -> None:
    api.makepyfile(
        test_a=FETCH + "@pytest.mark.streamreplay\ndef test_x():\n"
        "    assert get('/a').status_code == 200\n"
    )
    api.runpytest("--record-mode=once").assert_outcomes(passed=1)
    api.runpytest("--record-mode=once").assert_outcomes(passed=1)
    assert len(origin.seen) == 1, "once must replay an existing cassette, not go live"

    api.makepyfile(
        test_a=FETCH + "@pytest.mark.streamreplay\ndef test_x():\n"
        "    get('/a')\n    assert get('/b').status_code == 200\n"
    )
    result = api.runpytest("--record-mode=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*Unmatched request GET http://127.0.0.1:*/b*",
            "*nearest recorded requests:*",
            "*#0 GET http://127.0.0.1:*/a*path: '/b' != '/a'*",
            "*--record-mode=new_episodes*",
        ]
    )


def test_new_episodes_appends_and_keeps_old(api, origin) -> None:
    api.makepyfile(test_a=FETCH + "@pytest.mark.streamreplay\ndef test_x():\n    get('/a')\n")
    api.runpytest("--record-mode=once").assert_outcomes(passed=1)
    (cassette,) = cassette_files(api)
    first = cassette_lines(cassette)[1]
    api.makepyfile(
        test_a=FETCH + "@pytest.mark.streamreplay\ndef test_x():\n    get('/a')\n    get('/b')\n"
    )
    api.runpytest("--record-mode=new_episodes").assert_outcomes(passed=1)
    lines = cassette_lines(cassette)
    assert _paths(cassette) == ["a", "b"]
    assert lines[1] == first, "the recorded interaction is kept as it was"
    assert [r["id"] for r in lines[1:]] == [0, 1]
    assert len(origin.seen) == 2


def test_summary_counts_what_was_written(api) -> None:
    """new_episodes with nothing new writes nothing: it replayed; what it does write is counted
    from the file, old interactions included."""
    api.makepyfile(test_a=FETCH + "@pytest.mark.streamreplay\ndef test_x():\n    get('/a')\n")
    api.runpytest("--record-mode=once").assert_outcomes(passed=1)
    (cassette,) = cassette_files(api)
    before = cassette.stat().st_mtime_ns
    result = api.runpytest("--record-mode=new_episodes", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*cassettes: 0 recorded, 1 replayed*", "*replayed*test_x*"])
    assert cassette.stat().st_mtime_ns == before
    api.makepyfile(
        test_a=FETCH + "@pytest.mark.streamreplay\ndef test_x():\n    get('/a')\n    get('/b')\n"
    )
    result = api.runpytest("--record-mode=new_episodes", "-v")
    result.stdout.fnmatch_lines(
        ["*cassettes: 1 recorded, 0 replayed*", "*recorded*(2 http, 1 written)*"]
    )
    assert len(cassette_lines(cassette)) == 3


def test_all_and_rewrite_record_again(api, origin) -> None:
    api.makepyfile(test_a=FETCH + "@pytest.mark.streamreplay\ndef test_x():\n    get('/a')\n")
    api.runpytest("--record-mode=once").assert_outcomes(passed=1)
    (cassette,) = cassette_files(api)
    before = cassette_lines(cassette)[1]["response"]["body"]["json"]["uuid"]
    api.runpytest("--record-mode=all").assert_outcomes(passed=1)
    after_all = cassette_lines(cassette)[1]["response"]["body"]["json"]["uuid"]
    api.makepyfile(test_a=FETCH + "@pytest.mark.streamreplay\ndef test_x():\n    get('/c')\n")
    api.runpytest("--record-mode=rewrite").assert_outcomes(passed=1)
    assert before != after_all
    assert _paths(cassette) == ["c"], "rewrite drops what the test no longer asks for"
    assert len(origin.seen) == 3


def test_strict_fails_on_unused_interactions(api) -> None:
    api.makepyfile(
        test_a=FETCH + "@pytest.mark.streamreplay\ndef test_x():\n    get('/a')\n    get('/b')\n"
    )
    api.runpytest("--record-mode=once").assert_outcomes(passed=1)
    api.makepyfile(test_a=FETCH + "@pytest.mark.streamreplay\ndef test_x():\n    get('/a')\n")
    api.runpytest().assert_outcomes(passed=1)  # not strict: unused is only reported
    result = api.runpytest("--replay-strict")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*1 recorded interaction(s) in*were never requested*", "*#1 GET http://127.0.0.1:*/b*"]
    )


def test_strict_beats_record_mode_and_blocks_the_network(api) -> None:
    api.makepyfile(
        test_a="""
import socket, pytest

def test_dns():
    with pytest.raises(socket.gaierror, match="replay-strict blocked a DNS look-up"):
        socket.getaddrinfo("indexer.dydx.trade", 443)

def test_connect():
    s = socket.socket()
    with pytest.raises(OSError, match="blocked a connection to 192.0.2.1:443"):
        s.connect(("192.0.2.1", 443))
    s.close()

def test_loopback_still_works():
    assert socket.getaddrinfo("localhost", 80)

@pytest.mark.streamreplay
def test_never_recorded():
    import os, httpx
    httpx.get(os.environ["ORIGIN"] + "/a")
"""
    )
    result = api.runpytest("--replay-strict", "--record-mode=all")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*no cassette at*record mode none, --replay-strict*"])
    assert cassette_files(api) == []


def test_repeats_replay_in_order_then_reuse_last(api, origin) -> None:
    api.makepyfile(
        test_a=FETCH
        + """
@pytest.mark.streamreplay
def test_x():
    ids = [get('/poll').json()["uuid"] for _ in range(3)]
    out = __import__("pathlib").Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.bin").write_text(",".join(ids))
"""
    )
    api.runpytest("--record-mode=once").assert_outcomes(passed=1)
    api.makepyfile(
        test_a=FETCH
        + """
@pytest.mark.streamreplay
def test_x():
    ids = [get('/poll').json()["uuid"] for _ in range(5)]
    out = __import__("pathlib").Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.bin").write_text(",".join(ids))

@pytest.mark.streamreplay(cassette="test_x", allow_repeats=False)
def test_no_repeats():
    for _ in range(3):
        get('/poll')
    assert get('/poll').status_code == 599
"""
    )
    result = api.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*matches, but was already played 1 time(s)*allow_repeats off*"])
    recorded, replayed = ((api.path / "out" / f"run{i}.bin").read_text().split(",") for i in (0, 1))
    assert replayed == recorded + [recorded[-1]] * 2
    assert len(set(recorded)) == 3


def test_failing_test_keeps_old_cassette_unless_asked(api) -> None:
    api.makepyfile(
        test_a=FETCH + "@pytest.mark.streamreplay\ndef test_x():\n"
        "    get('/a')\n    assert False, 'boom'\n"
    )
    api.runpytest("--record-mode=once").assert_outcomes(failed=1)
    assert cassette_files(api) == []
    result = api.runpytest("--record-mode=once", "--record-on-failure")
    result.assert_outcomes(failed=1)
    assert len(cassette_files(api)) == 1
    result.stdout.fnmatch_lines(["*cassettes: 1 recorded, 0 replayed*"])


def test_marker_and_ini_precedence(api) -> None:
    api.makeini("[pytest]\nstreamreplay_cassette_dir = tapes\nstreamreplay_record_mode = none\n")
    api.makepyfile(
        test_a=FETCH
        + """
@pytest.mark.streamreplay(record_mode="once")
def test_marker_beats_ini():
    get('/a')

@pytest.mark.streamreplay(bogus=1)
def test_unknown_marker_argument():
    pass
"""
    )
    result = api.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*unknown argument(s) bogus; known: cassette, match_on*"])
    assert (api.path / "tapes" / "test_a" / "test_marker_beats_ini.jsonl").exists()
    result = api.runpytest("--record-mode=none", "-k", "marker_beats")
    result.assert_outcomes(passed=1)  # replays what the marker recorded


def test_fixture_reports_mode_paths_env_and_interactions(api, monkeypatch) -> None:
    api.makepyfile(
        test_a=FETCH
        + """
import subprocess, sys

def test_x(streamreplay):
    assert streamreplay.mode == "record"
    assert streamreplay.proxy_url.startswith("http://streamreplay:")
    assert "@127.0.0.1:" in streamreplay.proxy_url
    assert streamreplay.cassette_path.name == "test_x.jsonl"
    assert os.environ["HTTPS_PROXY"] == streamreplay.proxy_url == os.environ["wss_proxy"]
    assert os.environ["SSL_CERT_FILE"] == str(streamreplay.ca_bundle)
    assert "NO_PROXY" not in os.environ and "no_proxy" not in os.environ
    bundle = streamreplay.ca_bundle.read_text()
    assert bundle.count("BEGIN CERTIFICATE") > 50  # certifi's roots plus the proxy CA
    get('/a')
    child = subprocess.run([sys.executable, "-c", "import os; print(os.environ['HTTP_PROXY'])"],
                           capture_output=True, text=True, check=True)
    assert child.stdout.strip() == streamreplay.proxy_url
    assert [i.request.path for i in streamreplay.interactions] == ["/a"]
"""
    )
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")  # must not let the test bypass us
    api.runpytest("--record-mode=once").assert_outcomes(passed=1)


def test_note_and_metadata_go_into_the_header_when_recording(api) -> None:
    api.makepyfile(
        test_a=FETCH
        + """
def test_x(streamreplay):
    streamreplay.note = "from the staging stand-in"
    streamreplay.metadata["market_speed"] = 20.0
    get('/a')

def test_reserved(streamreplay):
    streamreplay.metadata["version"] = 9
    get('/a')
"""
    )
    result = api.runpytest("--record-mode=once")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.re_match_lines(
        [r".*test_reserved.jsonl not written: cassette header keys \['version'\] are reserved"]
    )
    header = cassette_lines(api.path / "cassettes" / "test_a" / "test_x.jsonl")[0]
    assert header["note"] == "from the staging stand-in"
    assert header["market_speed"] == 20.0 and header["version"] == 1
    assert not (api.path / "cassettes" / "test_a" / "test_reserved.jsonl").exists()
    # Replaying does not rewrite the file, so the header stays as recorded.
    api.runpytest("--replay-strict", "-k", "test_x").assert_outcomes(passed=1)


def test_verbose_summary_lists_each_test(api) -> None:
    api.makepyfile(
        test_a=FETCH + "@pytest.mark.streamreplay\ndef test_x():\n    get('/a')\n"
        "@pytest.mark.streamreplay\ndef test_y():\n    get('/b')\n"
    )
    api.runpytest("--record-mode=once").stdout.fnmatch_lines(
        ["*cassettes: 2 recorded, 0 replayed*"]
    )
    result = api.runpytest("-v")
    result.stdout.fnmatch_lines(
        [
            "*streamreplay*",
            "*cassettes: 0 recorded, 2 replayed*",
            "*replayed*test_a.py::test_x -> cassettes/test_a/test_x.jsonl (1 http)",
        ]
    )


def test_a_recording_whose_origin_is_unreachable_says_so(inner, monkeypatch) -> None:
    """The summary used to say only "not saved (test failed)"; it names the request and why."""
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("ORIGIN", f"http://127.0.0.1:{port}")
    inner.makepyfile(
        test_down="""
import os, httpx, pytest

@pytest.mark.streamreplay
def test_down():
    httpx.get(os.environ["ORIGIN"] + "/v4/markets").raise_for_status()
"""
    )
    result = inner.runpytest("--record-mode=once")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "1 not saved (test failed)" in text
    assert "could not reach an origin while recording" in text
    assert f"GET http://127.0.0.1:{port}/v4/markets: " in text
