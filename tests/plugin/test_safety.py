"""Secrets never reach a cassette, interrupted recordings leave nothing half-written, hooks,
xdist and pytest-asyncio."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from pytester_helpers import cassette_files, cassette_lines

SECRETS = (
    "client-bearer-789",
    "client-cookie-000",
    "qp-token-111",
    "body-password-222",
    "mnemonic words here",
    "server-secret-token-123",
    "server-cookie-456",
    "x-key-333",
)


def test_secrets_from_client_and_server_never_reach_the_cassette(inner, origin, monkeypatch):
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(
        test_a="""
import os, httpx, pytest

@pytest.mark.streamreplay
def test_login():
    base = os.environ["ORIGIN"]
    r = httpx.post(base + "/secret?access_token=qp-token-111&page=2",
                   headers={"Authorization": "Bearer client-bearer-789",
                            "Cookie": "sid=client-cookie-000", "X-API-Key": "x-key-333"},
                   json={"user": "ann", "password": "body-password-222",
                         "wallet": {"mnemonic": "mnemonic words here"}})
    assert r.json()["access_token"] in ("server-secret-token-123", "REDACTED-secret-6")
"""
    )
    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    (cassette,) = cassette_files(inner)
    text = cassette.read_text()
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into the cassette"
    (record,) = cassette_lines(cassette)[1:]
    assert "page=2" in record["request"]["url"], "harmless parameters stay"
    body = record["request"]["body"]["json"]
    assert body["user"] == "ann"
    assert body["password"].startswith("REDACTED-secret-")
    assert body["wallet"]["mnemonic"].startswith("REDACTED-secret-")
    assert body["password"] != body["wallet"]["mnemonic"], "one placeholder per secret"
    origin.stop()
    # Redacted values still match on replay, whatever the live secret is.
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)


def test_redact_option_and_hook(inner, origin, monkeypatch):
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makeconftest("""
def pytest_streamreplay_redact(record, test_id):
    if hasattr(record, "response"):
        record.response.headers = [(k, v) for k, v in record.response.headers if k != "Date"]
""")
    inner.makepyfile(
        test_a="""
import os, httpx, pytest

@pytest.mark.streamreplay(redact=["customer_id"])
def test_x():
    httpx.post(os.environ["ORIGIN"] + "/a", json={"customer_id": "cust-42", "n": 1})
"""
    )
    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    (record,) = cassette_lines(cassette_files(inner)[0])[1:]
    assert record["request"]["body"]["json"] == {"customer_id": "REDACTED-secret-1", "n": 1}
    assert "Date" not in dict(record["response"]["headers"])


def test_custom_matcher_and_cassette_path_hooks(inner, origin, monkeypatch):
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makeconftest("""
from pathlib import Path

def pytest_streamreplay_matchers():
    def path_prefix(live, recorded):
        a, b = live.path.split("/")[1], recorded.path.split("/")[1]
        return None if a == b else f"{a} != {b}"
    return {"path_prefix": path_prefix}

def pytest_streamreplay_cassette_path(item, cassette_dir):
    return cassette_dir / "flat" / (item.name + ".jsonl")
""")
    inner.makepyfile(
        test_a="""
import os, httpx, pytest

@pytest.mark.streamreplay(match_on=["method", "path_prefix"])
def test_x():
    url = os.environ["ORIGIN"] + "/v4/" + os.environ.get("SUFFIX", "a")
    assert httpx.get(url).status_code == 200
"""
    )
    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    assert (inner.path / "cassettes" / "flat" / "test_x.jsonl").exists()
    monkeypatch.setenv("SUFFIX", "other")
    origin.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)


def test_unknown_matcher_is_a_clear_failure(inner):
    inner.makepyfile(
        test_a="""
import pytest

@pytest.mark.streamreplay(match_on=["method", "pathh"], record_mode="once")
def test_x():
    pass
"""
    )
    result = inner.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*unknown matcher 'pathh' in match_on; known matchers: method*"])


@pytest.mark.parametrize("had_old", [False, True])
def test_killed_recording_leaves_no_partial_cassette(inner, origin, monkeypatch, had_old):
    monkeypatch.setenv("ORIGIN", origin.url)
    body = """
import os, pathlib, time, httpx, pytest

@pytest.mark.streamreplay
def test_x():
    httpx.get(os.environ["ORIGIN"] + "/a")
    if os.environ.get("HANG"):
        pathlib.Path(os.environ["OUT"], "started").write_text("1")
        time.sleep(60)
"""
    inner.makepyfile(test_a=body)
    cassette = inner.path / "cassettes" / "test_a" / "test_x.jsonl"
    if had_old:
        inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
        old = cassette.read_bytes()
    env = {**os.environ, "HANG": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--record-mode=all",
            "test_a.py",
        ],
        cwd=inner.path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (inner.path / "out" / "started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "inner run never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    leftovers = [p.name for p in inner.path.rglob("*.tmp")]
    assert leftovers == []
    if had_old:
        assert cassette.read_bytes() == old
    else:
        assert not cassette.exists()


def test_xdist_workers_record_and_replay(inner, origin, monkeypatch):
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(
        test_a="""
import os, httpx, pytest

@pytest.mark.parametrize("n", range(6))
@pytest.mark.streamreplay
def test_x(n):
    assert httpx.get(os.environ["ORIGIN"] + f"/item/{n}").json()["path"] == f"/item/{n}"
"""
    )
    result = inner.runpytest_subprocess("-n", "2", "--record-mode=once")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*cassettes: 6 recorded, 0 replayed*"])
    assert sorted(p.name for p in cassette_files(inner)) == [f"test_x[{n}].jsonl" for n in range(6)]
    origin.stop()
    result = inner.runpytest_subprocess("-n", "2", "--replay-strict")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*cassettes: 0 recorded, 6 replayed, 0 unmatched*"])


def test_pytest_asyncio_tests(inner, origin, monkeypatch):
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(
        test_a="""
import os, httpx, pytest

@pytest.mark.asyncio
@pytest.mark.streamreplay
async def test_async():
    async with httpx.AsyncClient() as client:
        r = await client.get(os.environ["ORIGIN"] + "/async")
    assert r.json()["path"] == "/async"
"""
    )
    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    origin.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)


def test_self_signed_origin_needs_an_explicit_option(inner, tls_origin, monkeypatch):
    monkeypatch.setenv("ORIGIN", tls_origin.url)
    inner.makepyfile(
        test_a="""
import os, httpx, pytest

@pytest.mark.streamreplay
def test_x():
    r = httpx.get(os.environ["ORIGIN"] + "/a")
    assert r.status_code == 200, r.text
"""
    )
    result = inner.runpytest("--record-mode=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*502*", "*ertificate*"])
    assert cassette_files(inner) == []
    inner.runpytest("--record-mode=once", "--upstream-insecure").assert_outcomes(passed=1)
