"""pytest-recording's marks and fixtures, served by this plugin (registered by ``vcr_compat``
only when pytest-recording is not loaded).

``@pytest.mark.vcr`` becomes ``@pytest.mark.streamreplay`` with the cassette pytest-recording
would use (``<vcr_cassette_dir>/<default_cassette_name>``, ``.yaml`` read as ``.jsonl``) and
the ``vcr_config`` keys translated; everything else (proxy, replay, saving, the summary) is the
``streamreplay`` fixture's. Names and meanings follow pytest-recording's documentation.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import options
from .blocknet import blocked_network
from .vcr_compat import (
    HONOURED_KEYS,
    IGNORED_KEYS,
    apply_before_record,
    cassette_file,
    translate_vcr_config,
)

__all__ = ["VcrConfigWarning", "VcrHandle"]

_MARKERS = (
    "vcr(*extra_cassettes, **vcr_config): replay (or record) this test's HTTP traffic "
    "through pytest-streamreplay, pytest-recording style",
    "block_network(allowed_hosts=None, allow_private_ips=False): block network access "
    "except this plugin's proxy",
    "default_cassette(name): the cassette name for @pytest.mark.vcr",
    "allowed_hosts: hosts --block-network lets through (see block_network)",
)
_UNSAFE = r"<>?%*:|\"'/\\"
_WARNED = pytest.StashKey[set[str]]()
_CASSETTE = pytest.StashKey[Path]()


class VcrConfigWarning(UserWarning):
    """A vcr_config key this plugin cannot honour (the warning says why)."""


class VcrHandle:
    """What the ``vcr`` fixture gives a test: the ``streamreplay`` handle, plus the parts of
    vcrpy's ``Cassette`` that tests assert on (``play_count``, ``all_played``)."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    @property
    def play_count(self) -> int:
        return int(self._handle.session.play_count)

    @property
    def all_played(self) -> bool:
        """Every interaction of the cassette was replayed (while recording: always True)."""
        return not self._handle.unused()


# vcrpy's before_record_request/_response of the tests running now, by test id.
_BEFORE_RECORD: dict[str, tuple[Any, Any]] = {}


def pytest_streamreplay_redact(record: Any, test_id: str) -> bool | None:
    callbacks = _BEFORE_RECORD.get(test_id)
    if callbacks is None:
        return None
    return None if apply_before_record(record, *callbacks) else False


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    """The test's callbacks stay until every fixture is torn down: this fixture is torn down
    before the cassette's, whose save waits for answers the proxy writes after the test
    returned (a client that left an answer, or read it before the proxy had it whole)."""
    try:
        return (yield)
    finally:
        _BEFORE_RECORD.pop(item.nodeid, None)


def pytest_configure(config: pytest.Config) -> None:
    for line in _MARKERS:
        config.addinivalue_line("markers", line)
    config.stash[_WARNED] = set()


def pytest_streamreplay_cassette_path(item: pytest.Item, cassette_dir: Path) -> Path | None:
    """A @pytest.mark.vcr test's cassette is where pytest-recording keeps it (the project's
    ``vcr_cassette_dir``), which need not be inside the streamreplay cassette directory; a
    ``conftest.py`` implementation of this hook still wins."""
    return item.stash.get(_CASSETTE, None)


def _merged_config(request: pytest.FixtureRequest, markers: list[pytest.Mark]) -> dict[str, Any]:
    """vcr_config updated by the marks' kwargs, the closest mark last (pytest-recording's
    order)."""
    merged = dict(request.getfixturevalue("vcr_config") or {})
    for mark in reversed(markers):
        merged.update(mark.kwargs)
    return merged


@pytest.fixture(scope="session")
def record_mode(request: pytest.FixtureRequest) -> str:
    """The record mode of @pytest.mark.vcr tests when neither vcr_config nor the mark set one."""
    return str(options.lookup(options.by_name("record_mode"), request.config, {}).value)


@pytest.fixture(scope="session")
def disable_recording(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("disable_recording"))


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """Override in conftest.py (any scope) to configure every @pytest.mark.vcr test."""
    return {}


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """``<test file's folder>/cassettes/<test module name>``, as pytest-recording."""
    path = Path(request.node.path)
    return str(path.parent / "cassettes" / path.stem)


@pytest.fixture
def default_cassette_name(request: pytest.FixtureRequest) -> str:
    mark = request.node.get_closest_marker("default_cassette")
    if mark is not None:
        if not mark.args:
            raise pytest.UsageError(
                f"{request.node.nodeid}: @pytest.mark.default_cassette needs the cassette name"
            )
        return str(mark.args[0])
    cls = request.cls
    name = f"{cls.__name__}.{request.node.name}" if cls is not None else request.node.name
    for ch in _UNSAFE:
        name = name.replace(ch, "-")
    return name


@pytest.fixture
def vcr_markers(request: pytest.FixtureRequest) -> list[pytest.Mark]:
    return list(request.node.iter_markers(name="vcr"))


@pytest.fixture
def allowed_hosts(request: pytest.FixtureRequest) -> list[str] | None:
    mark = request.node.get_closest_marker("block_network")
    hosts = (
        (mark.kwargs.get("allowed_hosts") if mark is not None else None)
        or request.config.getoption("allowed_hosts")
        or request.getfixturevalue("vcr_config").get("allowed_hosts")
    )
    if isinstance(hosts, str):
        hosts = hosts.split(",")
    return list(hosts) if hosts else None


@pytest.fixture
def allow_private_ips(request: pytest.FixtureRequest) -> bool:
    mark = request.node.get_closest_marker("block_network")
    return bool(
        (mark.kwargs.get("allow_private_ips") if mark is not None else False)
        or request.config.getoption("allow_private_ips")
        or request.getfixturevalue("vcr_config").get("allow_private_ips")
    )


def _is_proxy(host: str, port: int) -> bool:
    # Not imported here: a run loads the library only once a test uses it (no proxy before).
    runtime = getattr(sys.modules.get(f"{__package__}.harness"), "runtime", None)
    address = runtime().address if runtime is not None else None
    if address is None or port != address[1]:
        return False
    return host in (address[0], "127.0.0.1", "::1", "localhost")


def _effective_mode(
    request: pytest.FixtureRequest, record_mode: str, markers: list[pytest.Mark]
) -> str:
    if request.config.getoption("replay_strict"):
        return "none"
    cli = request.config.getoption("record_mode")
    if cli is not None:
        return str(cli)
    mode = _merged_config(request, markers).get("record_mode")
    return str(getattr(mode, "value", mode)) if mode is not None else record_mode


# The two autouse fixtures below ask for the fixtures they depend on only when the test needs
# them: each fixture set up costs every test of a run, marked or not (docs/benchmarks.md).


@pytest.fixture(autouse=True)
def block_network(request: pytest.FixtureRequest) -> Iterator[None]:
    """With ``--block-network`` or the mark, sockets connect only to this plugin's proxy and the
    allowed hosts; a @pytest.mark.vcr test that may record (mode other than none) is exempt."""
    mark = request.node.get_closest_marker("block_network")
    if mark is None and not request.config.getoption("block_network"):
        yield
        return
    vcr_markers = request.getfixturevalue("vcr_markers")
    if vcr_markers:
        record_mode = request.getfixturevalue("record_mode")
        if _effective_mode(request, record_mode, vcr_markers) != "none":
            yield
            return
    hosts = request.getfixturevalue("allowed_hosts") or ()
    private = request.getfixturevalue("allow_private_ips")
    with blocked_network(hosts, allow_private_ips=private, exempt=_is_proxy):
        yield


def _warn_once(config: pytest.Config, key: str, message: str) -> None:
    warned = config.stash[_WARNED]
    if key not in warned:
        warned.add(key)
        warnings.warn(VcrConfigWarning(message), stacklevel=2)


@pytest.fixture(autouse=True)
def vcr(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The test's ``streamreplay`` handle when it is marked ``vcr``, else None."""
    if request.node.get_closest_marker("vcr") is None:
        yield None
        return
    vcr_markers: list[pytest.Mark] = request.getfixturevalue("vcr_markers")
    if request.getfixturevalue("disable_recording") or not vcr_markers:
        yield None
        return
    vcr_cassette_dir: str = request.getfixturevalue("vcr_cassette_dir")
    record_mode: str = request.getfixturevalue("record_mode")
    from .settings import SettingsError

    config = request.config
    merged = _merged_config(request, vcr_markers)
    try:
        settings = translate_vcr_config(merged)
    except SettingsError as exc:
        pytest.fail(f"pytest-streamreplay: {exc}", pytrace=False)
    for key in settings.ignored:
        _warn_once(config, key, f"vcr_config {key!r} is ignored: {IGNORED_KEYS[key]}")
    for key in settings.unknown:
        _warn_once(
            config,
            key,
            f"vcr_config {key!r} is ignored: not a key pytest-streamreplay knows "
            f"(honoured: {', '.join(sorted(HONOURED_KEYS))})",
        )
    directory = Path(vcr_cassette_dir)
    if not directory.is_absolute():
        directory = Path(config.invocation_params.dir) / directory
    name = request.getfixturevalue("default_cassette_name")
    kwargs = dict(settings.marker_kwargs)
    kwargs.setdefault("record_mode", record_mode)
    from .paths import CassetteNameError, confined

    allow_outside = options.lookup(options.by_name("allow_cassette_outside"), config, {}).value
    try:
        path = confined(
            cassette_file(directory, name), directory, name, allow_outside=allow_outside
        )
    except CassetteNameError as exc:
        pytest.fail(f"pytest-streamreplay: {exc}", pytrace=False)
    request.node.stash[_CASSETTE] = path
    kwargs["extra_cassettes"] = tuple(
        os.fspath(cassette_file(directory, str(extra)))
        for mark in vcr_markers
        for extra in mark.args
    )
    request.node.add_marker(pytest.mark.streamreplay(**kwargs))
    before = (
        merged.get("before_record_request") or merged.get("before_record"),
        merged.get("before_record_response"),
    )
    if any(before):
        _BEFORE_RECORD[request.node.nodeid] = before
    handle = request.getfixturevalue("streamreplay")
    yield VcrHandle(handle) if handle is not None else None
