"""pytest-recording's interface without pytest-recording: marks, fixtures, options, meanings."""

from __future__ import annotations

import json

import pytest
from pytester_helpers import cassette_lines

GET = """
import os, httpx, pytest

def get(path, **kw):
    return httpx.get(os.environ["ORIGIN"] + path, **kw)
"""


@pytest.fixture
def api(inner, origin, monkeypatch):
    monkeypatch.setenv("ORIGIN", origin.url)
    return inner


def _uuids(response_lines: list[str]) -> list[str]:
    return [json.loads(line)["uuid"] for line in response_lines]


def test_vcr_mark_records_beside_the_test_and_replays_offline(api, origin) -> None:
    api.makepyfile(
        test_users=GET
        + """
@pytest.mark.vcr
def test_list(vcr):
    assert vcr.cassette_path.name == "test_list.jsonl"
    assert get("/users").status_code == 200
    assert get("/users?page=2").status_code == 200
    replaying = vcr.mode == "replay"
    assert vcr.play_count == (2 if replaying else 0)
    assert vcr.all_played or not replaying

class TestProfile:
    @pytest.mark.vcr
    def test_get(self):
        assert get("/profile").status_code == 200

@pytest.mark.default_cassette("shared.yaml")
@pytest.mark.vcr
def test_named():
    get("/named")

def test_unmarked_is_untouched(request):
    assert request.getfixturevalue("vcr") is None
"""
    )
    api.runpytest("--record-mode=once").assert_outcomes(passed=4)
    folder = api.path / "cassettes" / "test_users"
    assert sorted(p.name for p in folder.iterdir()) == [
        "TestProfile.test_get.jsonl",
        "shared.jsonl",
        "test_list.jsonl",
    ]
    assert len(origin.seen) == 4
    origin.stop()
    result = api.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*cassettes: 0 recorded, 3 replayed, 0 unmatched*"])


def test_vcr_mark_defaults_to_mode_none_and_fails_only_on_a_request(api, origin) -> None:
    api.makepyfile(
        test_a=GET
        + """
@pytest.mark.vcr
def test_quiet():
    pass

@pytest.mark.vcr
def test_asks():
    get("/a")
"""
    )
    result = api.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*no cassette at *cassettes/test_a/test_asks.jsonl (record mode none)*"]
    )
    assert origin.seen == []


def test_vcr_config_and_marks_translate(api, origin) -> None:
    api.makeconftest(
        """
import pytest

@pytest.fixture(scope="module")
def vcr_config():
    return {
        "filter_headers": ["x-team-secret", ("authorization", "XXX")],
        "filter_query_parameters": ["api_sig"],
        "match_on": ["method", "path"],
        "before_record_request": drop_telemetry,
        "before_record_response": mark_response,
        "ignore_localhost": True,
        "record_mode": "once",
    }

def drop_telemetry(request):
    return None if request.path == "/telemetry" else request

def mark_response(response):
    response["headers"]["X-Scrubbed"] = ["yes"]
    return response
"""
    )
    api.makepyfile(
        test_cfg=GET
        + """
@pytest.mark.vcr
def test_filters():
    get("/a?api_sig=abcdefgh1234&page=1", headers={"X-Team-Secret": "s3cret-value-9"})
    get("/telemetry")

@pytest.mark.vcr
def test_repeats_off_by_default():
    get("/poll")
    assert get("/poll").status_code == 200

@pytest.mark.vcr(allow_playback_repeats=True, record_mode="none")
def test_mark_beats_config():
    get("/poll")
    get("/poll")
"""
    )
    first = api.runpytest("-W", "always")
    # vcr_config's record_mode=once records the first two; the mark's "none" has no cassette.
    first.assert_outcomes(passed=2, failed=1)
    first.stdout.fnmatch_lines(
        [
            "*VcrConfigWarning: vcr_config 'ignore_localhost' is ignored: every request goes "
            "through the proxy*"
        ]
    )
    folder = api.path / "cassettes" / "test_cfg"
    recorded = cassette_lines(folder / "test_filters.jsonl")[1:]
    assert len(recorded) == 1, [r["request"]["url"] for r in recorded]
    (filters,) = recorded
    headers = dict((k.lower(), v) for k, v in filters["request"]["headers"])
    assert headers["x-team-secret"].startswith("REDACTED")
    assert "api_sig=REDACTED" in filters["request"]["url"]
    assert "abcdefgh1234" not in (folder / "test_filters.jsonl").read_text()
    assert ["X-Scrubbed", "yes"] in filters["response"]["headers"], "before_record_response ran"
    # before_record_request returned None for /telemetry: left out, as vcrpy does.
    # match_on method+path: the query no longer has to match.
    api.makepyfile(
        test_cfg=GET
        + """
@pytest.mark.vcr
def test_filters():
    get("/a?api_sig=other-value-77&page=2")

@pytest.mark.vcr
def test_repeats_off_by_default():
    get("/poll")
    get("/poll")
    get("/poll")
"""
    )
    origin.stop()
    second = api.runpytest()
    second.assert_outcomes(passed=1, failed=1)
    second.stdout.fnmatch_lines(
        ["*Unmatched request GET http://127.0.0.1:*/poll*", "*already played 1 time(s)*"]
    )


def test_extra_cassettes_and_cassette_dir_override(api, origin) -> None:
    api.makepyfile(
        test_base=GET
        + """
@pytest.mark.vcr
def test_seed():
    get("/seed")
"""
    )
    api.runpytest("--record-mode=once").assert_outcomes(passed=1)
    seed = api.path / "cassettes" / "test_base" / "test_seed.jsonl"
    assert seed.exists()
    api.makeconftest(
        """
import os, pytest

@pytest.fixture(scope="module")
def vcr_cassette_dir(request):
    return os.path.join(os.path.dirname(str(request.node.path)), "recorded", "here")
"""
    )
    api.makepyfile(
        test_more=GET
        + f"""
@pytest.mark.vcr({str(seed.with_suffix(".yaml"))!r})
def test_uses_extra():
    get("/seed")

@pytest.mark.vcr
def test_own():
    get("/own")

@pytest.mark.vcr("not-there.yaml")
def test_missing_extra():
    get("/gone")
"""
    )
    seen = len(origin.seen)
    api.runpytest("test_more.py", "--record-mode=once", "-k", "not missing").assert_outcomes(
        passed=2
    )
    assert len(origin.seen) == seen + 1, "/seed comes from the extra cassette, not the network"
    result = api.runpytest("test_more.py", "-k", "missing")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*refused: GET http://127.0.0.1:*/gone", "*extra cassette not found: *not-there.jsonl"]
    )
    assert (api.path / "recorded" / "here" / "test_own.jsonl").exists()
    assert not (api.path / "recorded" / "here" / "test_uses_extra.jsonl").exists(), (
        "once mode with an existing (extra) cassette replays and records nothing"
    )


def test_block_network_follows_pytest_recording(api, origin) -> None:
    api.makepyfile(
        test_net=GET
        + """
import socket

def test_unmarked_is_blocked():
    with pytest.raises(RuntimeError, match="Network is disabled for host '127.0.0.1'"):
        get("/x")

@pytest.mark.block_network(allowed_hosts=["127\\\\.0\\\\.0\\\\.1"])
def test_allowed_by_mark():
    assert get("/y").status_code == 200

@pytest.mark.vcr
def test_vcr_replays_through_the_proxy():
    assert get("/z").status_code == 200
"""
    )
    # Recording: vcr tests are not blocked (pytest-recording's rule), others are.
    api.runpytest("--block-network", "--record-mode=once").assert_outcomes(passed=3)
    seen = len(origin.seen)
    # Replay (mode none): blocked, except the proxy the replaying client talks to.
    result = api.runpytest("--block-network")
    result.assert_outcomes(passed=3)
    assert len(origin.seen) == seen + 1, "only the allowed host went live"
    # --allowed-hosts on the command line lets everything through.
    result = api.runpytest("--block-network", "--allowed-hosts=127.0.0.1,localhost")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_unmarked_is_blocked*DID NOT RAISE*"])
    # So does --allow-private-ips (loopback is private).
    result = api.runpytest("--block-network", "--allow-private-ips")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_unmarked_is_blocked*DID NOT RAISE*"])


def test_disable_recording_goes_live(api, origin) -> None:
    api.makepyfile(
        test_live=GET
        + """
@pytest.mark.vcr
def test_live(vcr):
    assert vcr is None
    assert get("/live").status_code == 200
"""
    )
    api.runpytest("--disable-recording").assert_outcomes(passed=1)
    assert len(origin.seen) == 1
    assert not (api.path / "cassettes").exists()


def test_header_names_the_plugin_that_handles_vcr_only_when_asked(api) -> None:
    """Without pytest-recording installed the line tells a plain run nothing: it shows with -v
    (with pytest-recording beside, always: tests/plugin/test_vcr_coexistence.py)."""
    api.makepyfile(test_h="def test_h():\n    pass\n")
    line = "streamreplay: @pytest.mark.streamreplay and pytest-recording's @pytest.mark.vcr*"
    api.runpytest().stdout.no_fnmatch_line(line)
    api.runpytest("-v").stdout.fnmatch_lines([line])


def test_unknown_matcher_is_a_clear_failure(api) -> None:
    api.makepyfile(
        test_m=GET
        + """
@pytest.mark.vcr(match_on=["method", "json_rpc_id"])
def test_m():
    pass
"""
    )
    result = api.runpytest()
    result.assert_outcomes(errors=1)  # at setup, as pytest-recording reports a bad vcr_config
    result.stdout.fnmatch_lines(
        ["pytest-streamreplay: vcr_config match_on: vcrpy matcher 'json_rpc_id' has no *"]
    )
    assert "Traceback" not in result.stdout.str()


def test_long_test_names_are_shortened_as_pytest_recording_does(api, origin) -> None:
    """pytest-recording cuts a name past 255 bytes to ``prefix...md5`` + ``.yaml``; the .jsonl
    twin of such a file (one byte longer) must still fit, and ``migrate`` must agree."""
    import hashlib
    import subprocess
    import sys

    from vcr.request import Request
    from vcr.serialize import serialize
    from vcr.serializers import yamlserializer

    param = "p" * 300
    api.makepyfile(
        test_long=GET
        + f"""
@pytest.mark.parametrize("x", [1], ids=[{param!r}])
@pytest.mark.vcr
def test_x(x, vcr):
    assert len(vcr.cassette_path.name.encode()) <= 255
    assert get("/long").status_code == 200
"""
    )
    api.runpytest("--record-mode=once").assert_outcomes(passed=1)
    (recorded,) = (api.path / "cassettes" / "test_long").iterdir()
    assert "..." in recorded.name and len(recorded.name) <= 255

    # The file pytest-recording wrote for the same test, migrated: the same .jsonl name.
    name = f"test_x[{param}]"
    yaml_name = f"{name[: 255 - 5 - 32 - 3]}...{hashlib.md5(name.encode()).hexdigest()}.yaml"
    assert len(yaml_name) == 255
    folder = api.path / "from_yaml" / "cassettes" / "test_long"
    folder.mkdir(parents=True)
    data = {
        "requests": [Request("GET", f"{origin.url}/long", None, {})],
        "responses": [
            {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": b"{}"}}
        ],
    }
    (folder / yaml_name).write_text(serialize(data, yamlserializer))
    done = subprocess.run(
        [sys.executable, "-m", "pytest_streamreplay.cli", "migrate", "from_yaml"],
        cwd=api.path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == sorted([yaml_name, recorded.name])


def test_before_record_request_still_applies_to_an_answer_written_after_the_test_returned(
    api, origin
) -> None:
    """An answer is written when the proxy has it whole or the client has left it, which can
    be after the test returned (the client reads as bytes arrive). The vcr fixture's teardown
    dropped the test's callbacks before the cassette waited for such writes, so a request
    before_record_request leaves out was written (seen under load in
    test_vcr_config_and_marks_translate: /telemetry recorded). Here the client leaves a 3 MB
    answer after its headers and the test returns at once."""
    api.makeconftest(
        """
import pytest

@pytest.fixture(scope="module")
def vcr_config():
    return {"before_record_request": drop_bytes, "before_record_response": mark}

def drop_bytes(request):
    return None if request.path.startswith("/bytes/") else request

def mark(response):
    response["headers"]["X-Scrubbed"] = ["yes"]
    return response
"""
    )
    api.makepyfile(
        test_late=GET
        + """
@pytest.mark.vcr
def test_late():
    assert get("/a").status_code == 200
    with httpx.stream("GET", os.environ["ORIGIN"] + "/bytes/3000000") as r:
        assert r.status_code == 200  # the body is left unread
"""
    )
    api.runpytest("--record-mode=once").assert_outcomes(passed=1)
    recorded = cassette_lines(api.path / "cassettes" / "test_late" / "test_late.jsonl")[1:]
    assert [r["request"]["url"].rsplit("/", 1)[1] for r in recorded] == ["a"]
    assert ["X-Scrubbed", "yes"] in recorded[0]["response"]["headers"]
