"""The in-process proxy itself: where it listens, its CA, clean stops, and mitmproxy's
process-global context."""

from __future__ import annotations

import stat
import subprocess
import threading

import pytest
from servers import start_origin

from pytest_streamreplay.harness import runtime, use_cassette
from pytest_streamreplay.proxy.server import ProxyServer


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMREPLAY_CACHE_DIR", str(tmp_path / "cache"))
    yield tmp_path / "cache"
    runtime().stop()


def test_listens_on_loopback_only_and_keeps_the_ca_private(cache) -> None:
    proxy = ProxyServer().start()
    try:
        assert proxy.address.startswith("http://127.0.0.1:")
        assert proxy.url == proxy.address.replace("://", f"://{proxy.credentials.userinfo}@")
        key = cache / "ca" / "mitmproxy-ca.pem"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert stat.S_IMODE((cache / "ca").stat().st_mode) == 0o700
        bundle = proxy.ca_bundle.read_text()
        assert proxy.ca_cert.read_text().strip() in bundle
        assert bundle.count("BEGIN CERTIFICATE") > 50
    finally:
        proxy.stop()


def test_start_stop_cycles_leave_no_threads(cache) -> None:
    before = {t.name for t in threading.enumerate()}
    for _ in range(5):
        ProxyServer().start().stop()
    assert {t.name for t in threading.enumerate()} - before == set()


def _another_master() -> None:
    """Build a second mitmproxy Master in this process, as mitmproxy's test helpers or another
    embedding library would: it becomes mitmproxy's global ``ctx.master``."""
    import asyncio

    from mitmproxy import ctx, options
    from mitmproxy.master import Master

    loop = asyncio.new_event_loop()
    try:
        foreign = Master(options.Options(), event_loop=loop)
        assert ctx.master is foreign
    finally:
        loop.close()


def test_another_master_in_the_process_does_not_hijack_the_proxy(cache, tmp_path) -> None:
    origin = start_origin()
    try:
        with use_cassette(tmp_path / "a.jsonl", record_mode="all"):
            first = subprocess.run(
                ["curl", "-sS", "-m", "10", origin.url + "/a"], capture_output=True, check=False
            )
        _another_master()
        with use_cassette(tmp_path / "b.jsonl", record_mode="all"):
            second = subprocess.run(
                ["curl", "-sS", "-m", "10", origin.url + "/b"], capture_output=True, check=False
            )
    finally:
        origin.stop()
    assert (first.returncode, second.returncode) == (0, 0), second.stderr
    assert b'"path": "/b"' in second.stdout


def test_another_upstream_ca_in_the_same_process_is_trusted(cache, tmp_path) -> None:
    """mitmproxy caches its upstream TLS contexts by the CA file's path: a proxy started with
    another ``upstream_ca`` must not get the context made for the first one."""
    import httpx
    from servers import make_self_signed

    for n in range(2):
        (tmp_path / f"origin{n}").mkdir()
        cert, key = make_self_signed(tmp_path / f"origin{n}")
        origin = start_origin(cert, key)
        proxy = ProxyServer(upstream_ca=cert).start()
        try:
            with httpx.Client(proxy=proxy.url, verify=str(proxy.ca_bundle)) as client:
                reply = client.get(origin.url + "/a")
            assert reply.status_code == 200, f"origin {n}: {reply.status_code} {reply.text}"
        finally:
            proxy.stop()
            origin.stop()
