"""What every test directory shares: the ``slow`` mark.

A test is slow when it runs pytest inside pytest (``pytester``: each inner run starts the
plugin's proxy and real clients, ~1-3 s) or drives a browser; ``pytest -m "not slow"`` leaves
the fast loop (the library's own tests: cassette, matching, session, streams, CLI, bot
layers), ``pytest -m slow`` the end-to-end half. Marked here, by what a test uses, so a new
test is sorted without anyone remembering to mark it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_SLOW_FIXTURES = frozenset({"pytester", "testdir"})
_SLOW_MODULES = (
    "test_browser.py",
    "test_hostile.py",
    "test_layout.py",
    "test_grpc_browser.py",
    "test_parity_e2e.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & _SLOW_FIXTURES or item.path.name in _SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def ca_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One proxy CA for all inner runs (pytester gives each test its own HOME), shared by every
    directory: grpcio reads its TLS roots (``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``) once per
    process, so a second CA would not be trusted by gRPC over TLS in later inner runs."""
    return tmp_path_factory.mktemp("streamreplay-cache")


@pytest.fixture(scope="session")
def grpc_cassette(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cassette of real gRPC calls (see grpc_protos.record_shop_calls), with JSON forms."""
    pytest.importorskip("grpc", reason="grpcio is not installed (the dev group brings it)")
    pytest.importorskip(
        "grpc_tools", reason="grpcio-tools is not installed (the dev group brings it)"
    )
    from grpc_protos import compile_shop, record_shop_calls

    folder = tmp_path_factory.mktemp("grpc_cassette")
    protos = compile_shop(folder / "protos")
    return record_shop_calls(folder / "shop.jsonl", protos)
