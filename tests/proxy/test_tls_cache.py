"""httpx TLS contexts are shared inside a bound test, and only there."""

from __future__ import annotations

import ssl

import httpx
import httpx._transports.default as transports
import pytest

from pytest_streamreplay.harness import runtime, use_cassette


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMREPLAY_CACHE_DIR", str(tmp_path / "cache"))
    yield
    runtime().stop()
    runtime().share_tls_contexts = True


def test_shared_while_bound_and_restored_after(tmp_path) -> None:
    original = transports.create_ssl_context
    with use_cassette(tmp_path / "a.jsonl", record_mode="all"):
        a = httpx.Client()
        b = httpx.Client()
        ctx_a = a._transport._pool._ssl_context
        assert ctx_a is b._transport._pool._ssl_context
        assert all(m._pool._ssl_context is ctx_a for m in a._mounts.values() if m is not None)
        mine = ssl.create_default_context()
        assert httpx.Client(verify=mine)._transport._pool._ssl_context is mine
        a.close(), b.close()
    assert transports.create_ssl_context is original
    assert httpx.Client()._transport._pool._ssl_context is not ctx_a


def test_opt_out(tmp_path) -> None:
    with use_cassette(tmp_path / "a.jsonl", record_mode="all", share_tls_contexts=False):
        assert runtime().share_tls_contexts is False
        assert (
            httpx.Client()._transport._pool._ssl_context
            is not httpx.Client()._transport._pool._ssl_context
        )
    assert runtime().share_tls_contexts is True, "the block's choice does not outlive it"
