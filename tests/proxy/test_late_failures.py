"""``use_cassette`` (the library) when the proxy fails writing an exchange after the block has
its answer (a body with a Content-Length is whole at its last byte, before the proxy's response
hook runs): the block raises and nothing is saved, as the plugin fails the test."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from servers import start_origin

from pytest_streamreplay.harness import ReplayProblemsError, runtime, use_cassette
from pytest_streamreplay.proxy import http_addon


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMREPLAY_CACHE_DIR", str(tmp_path / "cache"))
    yield
    runtime().stop()


def test_a_failure_after_the_block_had_its_answer_raises_and_saves_nothing(tmp_path, monkeypatch):
    origin = start_origin()
    real_response = http_addon.HttpRecordReplay.response

    async def late(self, flow):
        await asyncio.sleep(0.5)  # the proxy's loop meanwhile passes the body's last bytes on
        real_response(self, flow)

    def broken(flow, meta, end):
        raise RuntimeError("writer bug")

    monkeypatch.setattr(http_addon.HttpRecordReplay, "response", late)
    monkeypatch.setattr(http_addon, "_record_live", broken)
    path = tmp_path / "c.jsonl"
    try:
        with (
            pytest.raises(ReplayProblemsError, match=r"c\.jsonl: RuntimeError: writer bug"),
            use_cassette(path, record_mode="all"),
        ):
            assert len(httpx.get(origin.url + "/bytes/2000000").content) == 2000000
    finally:
        origin.stop()
    assert not path.exists()
