"""Clients that do not go through the proxy: made to where possible, reported where not.

A client that ignores the proxy variables records an empty cassette; without these checks the
run says "recorded" and the replay later fails with advice to record, which cannot help.
"""

from __future__ import annotations

import shutil

import aiohttp  # noqa: F401  one copy of the client for the inline runs
import pytest
from pytester_helpers import cassette_files, cassette_lines, outputs

NO_TRAFFIC = "*no traffic reached the proxy: a client may ignore proxy settings*"

AIOHTTP_DEFAULT = """
import asyncio, os, pathlib, aiohttp, pytest

@pytest.mark.streamreplay
def test_fetch():
    async def go():
        async with aiohttp.ClientSession() as s:  # trust_env left at aiohttp's default
            async with s.get(os.environ["ORIGIN"] + "/a?x=1") as r:
                return await r.read()
    body = asyncio.run(go())
    assert b"uuid" in body
    out = pathlib.Path(os.environ["OUT"])
    (out / f"run{len(list(out.iterdir()))}.bin").write_bytes(body)
"""


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_aiohttp_default_session_records_and_replays(
    inner, origin, tls_origin, origin_cert, monkeypatch, scheme
) -> None:
    server = tls_origin if scheme == "https" else origin
    monkeypatch.setenv("ORIGIN", server.url)
    inner.makepyfile(test_api=AIOHTTP_DEFAULT)

    recorded = inner.runpytest("--record-mode=once", f"--upstream-ca={origin_cert[0]}")
    recorded.assert_outcomes(passed=1)
    (cassette,) = cassette_files(inner)
    assert [r["kind"] for r in cassette_lines(cassette)[1:]] == ["http"]
    server.stop()

    replayed = inner.runpytest("--replay-strict")
    replayed.assert_outcomes(passed=1)
    first, second = outputs(inner)
    assert first == second
    assert "no traffic reached the proxy" not in replayed.stdout.str()


def test_aiohttp_explicit_trust_env_false_is_respected(inner, origin, monkeypatch) -> None:
    """The default changes, not an explicit choice: such a session bypasses the proxy."""
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(
        test_api=AIOHTTP_DEFAULT.replace("ClientSession()", "ClientSession(trust_env=False)")
    )
    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    assert len(origin.seen) == 1, "it went straight to the origin"
    (cassette,) = cassette_files(inner)
    assert len(cassette_lines(cassette)) == 1, "only the header: nothing reached the proxy"


BYPASS = """
import os, httpx, pytest

@pytest.mark.streamreplay
def test_bypass():
    # told explicitly to ignore the proxy variables
    assert httpx.get(os.environ["ORIGIN"] + "/a", trust_env=False).status_code == 200

@pytest.mark.streamreplay
def test_proxied():
    assert httpx.get(os.environ["ORIGIN"] + "/a").status_code == 200
"""


def test_no_traffic_is_reported_in_the_summary(inner, origin, monkeypatch) -> None:
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(test_api=BYPASS)
    result = inner.runpytest("--record-mode=once")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*cassettes: 2 recorded*",
            NO_TRAFFIC[:-1] + " (known: aiohttp*trust_env*Node*fetch*ws*",
            "*test_api.py::test_bypass*",
        ]
    )
    assert "test_api.py::test_proxied" not in result.stdout.str().split("no traffic")[1]

    # Replay, origin still up: the bypassing client reaches it directly; still reported.
    result = inner.runpytest()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([NO_TRAFFIC, "*test_api.py::test_bypass*"])


@pytest.mark.parametrize(
    "target", ["http://streamreplay-origin.invalid", "http://192.0.2.1:9"], ids=["dns", "connect"]
)
def test_strict_replay_blocked_connection_names_the_bypass(inner, origin, monkeypatch, target):
    """The cassette exists (recorded empty), so "record a cassette" is the wrong advice."""
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(test_api=BYPASS.replace("test_proxied", "_unused"))
    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    assert len(cassette_files(inner)) == 1

    # Replay against an origin the guard blocks before any packet leaves.
    monkeypatch.setenv("ORIGIN", target)
    result = inner.runpytest("--replay-strict")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "replay-strict blocked" in out
    assert "no traffic reached the proxy: a client may ignore proxy settings" in out
    assert "record a cassette with" not in out


def test_strict_replay_blocked_outside_a_bound_test_keeps_its_advice(inner, monkeypatch):
    inner.makepyfile(
        test_api="""
import socket, pytest

def test_unmarked():
    with pytest.raises(socket.gaierror) as info:
        socket.getaddrinfo("streamreplay-origin.invalid", 80)
    assert "record a cassette" in str(info.value)
    assert "no traffic reached the proxy" not in str(info.value)
"""
    )
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)


NODE_FETCH = """
import os, subprocess, pytest

@pytest.mark.streamreplay
def test_node():
    js = "fetch(process.env.ORIGIN + '/a').then(r => r.text()).then(t => console.log(t.length))"
    subprocess.run(["node", "-e", js], check=True, timeout=60)
"""


def test_node_fetch_is_reported_when_it_ignores_the_proxy(inner, origin, monkeypatch) -> None:
    """Node's fetch honours NODE_USE_ENV_PROXY (set by the plugin) only from Node 24 on."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(test_api=NODE_FETCH)
    result = inner.runpytest("--record-mode=once")
    result.assert_outcomes(passed=1)
    (cassette,) = cassette_files(inner)
    records = cassette_lines(cassette)[1:]
    if records:  # a Node that honours NODE_USE_ENV_PROXY: it went through the proxy
        assert [r["kind"] for r in records] == ["http"]
        assert "no traffic reached the proxy" not in result.stdout.str()
    else:
        assert len(origin.seen) == 1
        result.stdout.fnmatch_lines([NO_TRAFFIC, "*test_api.py::test_node*"])


def test_node_variables_are_set_while_bound(inner) -> None:
    inner.makepyfile(
        test_api="""
import os, pytest

@pytest.mark.streamreplay(record_mode="all")
def test_env(streamreplay):
    assert os.environ["NODE_USE_ENV_PROXY"] == "1"
    assert os.environ["NODE_EXTRA_CA_CERTS"] == str(streamreplay.ca_bundle)
    assert os.environ["HTTPS_PROXY"] == streamreplay.proxy_url

def test_after():
    assert "NODE_USE_ENV_PROXY" not in os.environ
"""
    )
    inner.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_strict_advice_while_the_library_is_still_being_imported(monkeypatch) -> None:
    """The warm-up thread may be importing the harness when the guard blocks something: the
    advice must not touch the half-made module (it raised AttributeError in a test's DNS call)."""
    import sys
    import types

    from pytest_streamreplay import plugin

    half = types.ModuleType("pytest_streamreplay.harness")  # no ``runtime`` yet
    monkeypatch.setitem(sys.modules, "pytest_streamreplay.harness", half)
    assert plugin._bypass_advice() is None
