from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

# pytester's inline runs drop the modules an inner run imported; a later import then makes
# second copies whose classes fail identity checks (cryptography's hash registry, requests'
# CookieJar, mitmproxy's global context). Importing them here keeps one copy for all runs.
import aiohttp  # noqa: F401
import cryptography.hazmat.primitives.hashes
import cryptography.x509  # noqa: F401
import httpx  # noqa: F401
import pytest
import requests  # noqa: F401
import websocket  # noqa: F401
import websockets.asyncio.client
import websockets.asyncio.server  # noqa: F401
import yaml  # noqa: F401  a second copy's events fail its C emitter's checks (EmitterError)

with contextlib.suppress(ImportError):  # grpcio comes with the bot's extra
    # its channel classes, which the plugin patches when a test is bound: one copy for all runs
    import grpc._channel
    import grpc.aio._channel  # noqa: F401

    # and the guard that patches them: a second copy would find them patched by the first,
    # whose list of bound tests stays empty (its checks would pass every call)
    import pytest_streamreplay.proxy.grpc_channels  # noqa: F401
from pytester_helpers import prepare_inner
from servers import Origin, make_self_signed, start_origin

from pytest_streamreplay.proxy.mitm_imports import import_proxy_modules

# mitmproxy as the proxy imports it (master, proxyserver, the HTTP layers...), without the
# default addons it does not run: importing ``mitmproxy.addons.*`` plainly would load them all,
# ldap3 with them, whose pyasn1 deprecation warnings then filled this suite's summary.
import_proxy_modules()


@pytest.fixture(scope="session")
def origin_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_self_signed(tmp_path_factory.mktemp("origin-tls"))


@pytest.fixture
def origin() -> Iterator[Origin]:
    server = start_origin()
    yield server
    server.stop()


@pytest.fixture
def tls_origin(origin_cert: tuple[Path, Path]) -> Iterator[Origin]:
    server = start_origin(*origin_cert)
    yield server
    server.stop()


@pytest.fixture
def inner(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ca_cache: Path
) -> pytest.Pytester:
    """A pytester whose inner tests find ``OUT`` (a folder for what they saw)."""
    return prepare_inner(pytester, monkeypatch, ca_cache)


def _pip_target(tmp_path_factory: pytest.TempPathFactory, name: str, *requirements: str) -> Path:
    """Install ``requirements`` (without dependencies) into a folder for PYTHONPATH, so one test
    can have a package the rest of the suite must not see; skips when pip cannot get them."""
    import subprocess
    import sys

    target = tmp_path_factory.mktemp(name)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
    done = subprocess.run(
        [*pip, *requirements],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        pytest.skip(f"pip could not install {' '.join(requirements)}: {done.stderr[-300:]}")
    return target


@pytest.fixture(scope="session")
def recording_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest-recording (its vcrpy dependency is ours too), for PYTHONPATH in subprocess runs."""
    return _pip_target(tmp_path_factory, "pytest-recording", "pytest-recording")


@pytest.fixture(scope="session")
def old_pytest_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest 8, whose option conflicts surface differently from pytest 9's."""
    return _pip_target(tmp_path_factory, "pytest8", "pytest>=8.4,<9")
