"""A pytest-recording project moves over: uninstall pytest-recording, ``streamreplay migrate``,
and its suite passes offline with its test files unchanged.

The project has what the three real projects had: ``@pytest.mark.vcr`` (plain, with an extra
cassette, on a class's method), ``default_cassette``, a module-scoped ``vcr_config``,
``--block-network`` in addopts, an aiohttp client, a gzip body and repeated POSTs. Its YAML
cassettes are either recorded by pytest-recording itself (pip-installed into a PYTHONPATH
folder; skipped without an index) or written with vcrpy's serializer for a host that does not
resolve (so replay is provably offline).

aiohttp's ClientSession uses ``trust_env=True`` here: without it aiohttp ignores the proxy
variables the plugin sets.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from vcr.request import Request
from vcr.serialize import serialize
from vcr.serializers import yamlserializer

SHOP = """
import asyncio, os, aiohttp

API = os.environ.get("SHOP_API", "https://api.shop.test")

def call(method, path, **kw):
    async def go():
        async with aiohttp.ClientSession(trust_env=True) as s:
            async with s.request(method, API + path, **kw) as r:
                return r.status, await r.json(content_type=None)
    return asyncio.run(go())
"""

CONFTEST = """
import pytest

@pytest.fixture(scope="module")
def vcr_config():
    return {
        "filter_headers": ["authorization"],
        "match_on": ["method", "scheme", "host", "port", "path", "query", "body"],
    }
"""

TESTS = """
import socket, pytest
from shop import call

@pytest.mark.vcr
def test_user():
    status, body = call("GET", "/users/1", headers={"Authorization": "Bearer sk-test-0123456"})
    assert status == 200 and body["path"] == "/users/1"

class TestOrders:
    @pytest.mark.vcr
    def test_repeat_post(self):
        first = call("POST", "/orders", json={"sku": "A1", "qty": 2})[1]
        second = call("POST", "/orders", json={"sku": "A1", "qty": 2})[1]
        assert first["uuid"] != second["uuid"], "each POST has its own recorded answer"

@pytest.mark.default_cassette("feed.yaml")
@pytest.mark.vcr
def test_gzip_feed():
    status, body = call("GET", "/gzip/feed")
    assert status == 200 and body["path"] == "/gzip/feed"

@pytest.mark.vcr("common/health.yaml")
def test_with_shared_cassette():
    assert call("GET", "/health")[1]["path"] == "/health"
    assert call("GET", "/stock")[1]["path"] == "/stock"

def test_network_is_blocked():
    with pytest.raises(RuntimeError, match="Network is disabled"):
        socket.create_connection(("192.0.2.10", 80), timeout=2)
"""


def _answer(path: str, method: str = "GET", *, gzipped: bool = False, n: int = 0) -> dict:
    body = json.dumps({"uuid": f"{path}-{n}", "method": method, "path": path}).encode()
    headers = {"Content-Type": ["application/json"]}
    if gzipped:
        body, headers["Content-Encoding"] = gzip.compress(body), ["gzip"]
    return {"status": {"code": 200, "message": "OK"}, "headers": headers, "body": {"string": body}}


def _vcr_yaml(path: Path, *pairs: tuple[Request, dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"requests": [p[0] for p in pairs], "responses": [p[1] for p in pairs]}
    path.write_text(serialize(data, yamlserializer))


def _write_committed_cassettes(folder: Path) -> None:
    """What a project keeps in git: pytest-recording's layout, a host that never resolves."""
    api = "https://api.shop.test"
    order = json.dumps({"sku": "A1", "qty": 2})
    post = {"Content-Type": "application/json"}
    _vcr_yaml(
        folder / "test_user.yaml", (Request("GET", f"{api}/users/1", None, {}), _answer("/users/1"))
    )
    _vcr_yaml(
        folder / "TestOrders.test_repeat_post.yaml",
        (Request("POST", f"{api}/orders", order, post), _answer("/orders", "POST", n=1)),
        (Request("POST", f"{api}/orders", order, post), _answer("/orders", "POST", n=2)),
    )
    _vcr_yaml(
        folder / "feed.yaml",
        (Request("GET", f"{api}/gzip/feed", None, {}), _answer("/gzip/feed", gzipped=True)),
    )
    _vcr_yaml(
        folder / "common" / "health.yaml",
        (Request("GET", f"{api}/health", None, {}), _answer("/health")),
    )
    _vcr_yaml(
        folder / "test_with_shared_cassette.yaml",
        (Request("GET", f"{api}/stock", None, {}), _answer("/stock")),
    )


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def _migrate(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_streamreplay.cli", "migrate"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )


@pytest.mark.parametrize("recorded_by", ["vcrpy", "pytest-recording"])
def test_pytest_recording_project_passes_after_migrate(
    inner: pytest.Pytester,
    origin,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    recorded_by: str,
) -> None:
    inner.makeini("[pytest]\naddopts = --block-network\n")
    tests = inner.mkdir("tests")
    (tests / "shop.py").write_text(SHOP)
    (tests / "conftest.py").write_text(CONFTEST)
    (tests / "test_shop.py").write_text(TESTS)
    folder = tests / "cassettes" / "test_shop"
    monkeypatch.delenv("PYTHONPATH", raising=False)

    if recorded_by == "pytest-recording":
        site = request.getfixturevalue("recording_site")
        with monkeypatch.context() as live:
            live.setenv("PYTHONPATH", str(site))
            live.setenv("SHOP_API", origin.url)
            recorded = inner.runpytest_subprocess("--record-mode=once", timeout=240)
        recorded.assert_outcomes(passed=5)
        recorded.stdout.fnmatch_lines(["streamreplay: pytest-recording 0.* is installed*"])
        monkeypatch.setenv("SHOP_API", origin.url)
        origin.stop()  # from here on, nothing answers
    else:
        _write_committed_cassettes(folder)
    yaml = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.yaml"))
    assert "TestOrders.test_repeat_post.yaml" in yaml and "feed.yaml" in yaml
    before = _digest(inner.path)

    # pytest-recording is gone (not on PYTHONPATH); the YAML alone is not replayed.
    unmigrated = inner.runpytest_subprocess(timeout=240)
    unmigrated.assert_outcomes(passed=1, failed=4)
    unmigrated.stdout.fnmatch_lines(["*no cassette at *test_user.jsonl (record mode none)*"])

    migrated = _migrate(inner.path)
    assert migrated.returncode == 0, migrated.stderr
    assert f"migrated {len(yaml)} cassettes" in migrated.stdout

    result = inner.runpytest_subprocess("-v", timeout=240)
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        [
            "streamreplay: @pytest.mark.streamreplay and pytest-recording's @pytest.mark.vcr*",
            "*cassettes: 0 recorded, 4 replayed, 0 unmatched requests, 0 unused interactions*",
        ],
        consecutive=False,
    )
    # CI's strict replay on top of --block-network: nothing left unused, nothing live.
    inner.runpytest_subprocess("--replay-strict", timeout=240).assert_outcomes(passed=5)
    assert _digest(inner.path) == before, "no test file was edited"
    assert "sk-test-0123456" not in "".join(p.read_text() for p in folder.rglob("*.jsonl"))
