"""pytest glue: options, marker, fixtures, reporting. Everything else lives in the library.

Importing this module must stay cheap (a run where no test uses the plugin pays < 50 ms, see
docs/benchmarks.md): the library is imported when a test first uses it, and mitmproxy's import
starts on a background thread as soon as collection finds a test that will need the proxy.
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import options, vcr_compat
from .netguard import NetworkGuard
from .report import (
    NO_TRAFFIC,
    NO_TRAFFIC_CLIENTS,
    CassetteOutcome,
    judge_shared,
    render_summary,
)
from .streams.fixtures import *  # noqa: F403  (marbles, stream_snapshot, ...)

if TYPE_CHECKING:
    from .harness import ProxyRuntime, StreamReplayHandle
    from .session import CassetteSession
    from .settings import Settings

__all__ = ["streamreplay"]


class _PluginState:
    def __init__(self, run_id: str) -> None:
        self.outcomes: list[CassetteOutcome] = []
        self.guard = NetworkGuard(advice=_bypass_advice)
        #: One id for the whole run (xdist workers get the controller's): see ``save_merged``.
        self.run_id = run_id
        #: How many collected tests use each cassette (absolute paths); 2+: shared.
        self.users: Counter[Path] = Counter()
        self.upstream_ca: Path | None = None
        self.upstream_insecure = False
        self.share_tls_contexts = True
        self.warming: threading.Thread | None = None


def _runtime(config: pytest.Config) -> ProxyRuntime:
    """The library's proxy runtime, imported on first use and set up from this run's options."""
    from .harness import runtime

    state = config.stash[_STATE]
    rt = runtime()
    rt.configure(upstream_ca=state.upstream_ca, upstream_insecure=state.upstream_insecure)
    rt.share_tls_contexts = state.share_tls_contexts
    return rt


def _bypass_advice() -> str | None:
    """Under --replay-strict a bound test's cassette exists and every proxied client connects
    to loopback: a blocked attempt then comes from a client that ignored the proxy."""
    # Never import it here; the warm-up thread may be importing it right now (then it has no
    # ``runtime`` yet, and no test is bound).
    runtime = getattr(sys.modules.get(f"{__package__}.harness"), "runtime", None)
    session = runtime().binding.session if runtime is not None else None
    if session is None or not session.existed:
        return None
    return (
        f"The cassette {session.path} exists and this test is bound to the proxy: this "
        f"connection bypassed it ({NO_TRAFFIC}; known: {NO_TRAFFIC_CLIENTS}). "
        "Make the client use the proxy (docs/configuration.md, 'Clients that bypass the "
        "proxy'), then record again with --record-mode=rewrite."
    )


_STATE = pytest.StashKey[_PluginState]()
_HANDLE = pytest.StashKey["StreamReplayHandle"]()
_CALL_FAILED = pytest.StashKey[bool]()
_SETUP_PROBLEM = pytest.StashKey[str]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # --record-mode and pytest-recording's interface: shared with pytest-recording when it is
    # installed too, which of the two registers them is decided there.
    vcr_compat.setup(parser, pluginmanager)
    options.add_options(parser, shared=False)


def _run_setting(config: pytest.Config, name: str) -> Any:
    """A setting that no marker changes (the proxy's), from the command line, ini or default."""
    return options.lookup(options.by_name(name), config, {}).value


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", options.marker_help())
    workerinput = getattr(config, "workerinput", None) or {}
    state = _PluginState(workerinput.get("streamreplay_session") or uuid.uuid4().hex)
    config.stash[_STATE] = state
    upstream_ca = _run_setting(config, "upstream_ca")
    state.upstream_ca = Path(upstream_ca).resolve() if upstream_ca else None
    state.upstream_insecure = bool(_run_setting(config, "upstream_insecure"))
    state.share_tls_contexts = bool(_run_setting(config, "share_tls_contexts"))
    if config.getoption("replay_strict"):
        state.guard.install()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: its workers are one pytest run for shared cassettes."""
    state = node.config.stash.get(_STATE, None)
    if state is not None:
        node.workerinput["streamreplay_session"] = state.run_id


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Count the tests using each cassette, before -k/-m deselect any: a cassette several
    tests share is judged "unused" for the run, and only when all of them ran."""
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    for item in items:
        marker = item.get_closest_marker("streamreplay")
        if marker is None and "streamreplay" not in getattr(item, "fixturenames", ()):
            continue
        from .settings import resolve_settings  # only once a test uses the plugin

        try:
            path = _cassette_path(item, resolve_settings(config, marker))
        except Exception:  # the test reports its bad settings when it runs
            continue
        state.users[_key(path)] += 1


def _key(path: Path) -> Path:
    return Path(os.path.abspath(path))


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        state.guard.uninstall()
        if state.warming is not None:
            state.warming.join()  # it may be starting the proxy: let it finish, then stop it
    runtime = getattr(sys.modules.get(f"{__package__}.harness"), "runtime", None)
    if runtime is not None:
        runtime().stop()
        runtime().configure()  # this session's upstream settings must not outlive it


def _uses_proxy(item: pytest.Item) -> bool:
    if item.get_closest_marker("streamreplay") is not None:
        return True
    return "streamreplay" in getattr(item, "fixturenames", ())


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the proxy (mitmproxy's import is most of it) on a background thread as soon as
    collection shows a test will need it, so the first such test does not wait for all of it."""
    config = session.config
    state = config.stash.get(_STATE, None)
    if state is None or state.warming is not None or config.option.collectonly:
        return
    if not any(_uses_proxy(item) for item in session.items):
        return

    def warm() -> None:
        try:
            _runtime(config).proxy()
        except Exception:  # the first test starts it again and reports the error
            pass

    state.warming = threading.Thread(target=warm, name="streamreplay-warm-up", daemon=True)
    state.warming.start()


def _cassette_path(item: pytest.Item, settings: Settings) -> Path:
    from .paths import cassette_path_for

    hooked = item.config.hook.pytest_streamreplay_cassette_path(
        item=item, cassette_dir=settings.cassette_dir
    )
    if hooked is not None:
        return Path(hooked)
    cls = getattr(item, "cls", None)
    return cassette_path_for(
        Path(item.path),
        Path(item.config.rootpath),
        settings.cassette_dir,
        getattr(item, "name", "test"),
        cls.__name__ if cls is not None else None,
        explicit=settings.cassette,
        allow_outside=settings.allow_cassette_outside,
    )


def _custom_matchers(config: pytest.Config) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for result in config.hook.pytest_streamreplay_matchers():
        merged.update(result or {})
    return merged


def _open_session(item: pytest.Item, state: _PluginState) -> tuple[CassetteSession, Settings]:
    from .cassette.matching import resolve_matchers
    from .cassette.redaction import Redactor
    from .session import CassetteSession
    from .settings import resolve_settings

    config = item.config
    settings = resolve_settings(config, item.get_closest_marker("streamreplay"))
    path = _cassette_path(item, settings)

    def extra_redact(record: Any) -> bool:
        results = config.hook.pytest_streamreplay_redact(record=record, test_id=item.nodeid)
        return False not in results

    session = CassetteSession(
        path,
        record_mode=settings.record_mode,
        matchers=resolve_matchers(settings.match_on, _custom_matchers(config)),
        allow_repeats=settings.allow_repeats,
        redactor=Redactor(extra=settings.redact, defaults=settings.redact_defaults),
        strict=settings.strict,
        test_id=item.nodeid,
        extra_redact=extra_redact,
        speed=settings.speed,
        message_ignore=settings.message_ignore,
        extra=[path.parent / extra for extra in settings.extra_cassettes],
        pytest_session=state.run_id,
        shared=state.users[_key(path)] > 1,
        grpc_types=_grpc_types(settings, config),
    )
    return session, settings


def _grpc_types(settings: Settings, config: pytest.Config) -> Any:
    if not settings.grpc_descriptors:
        return None
    from .cassette.grpc_types import GrpcTypes, GrpcTypesError
    from .settings import SettingsError

    try:
        return GrpcTypes.load(settings.grpc_descriptors, Path(config.rootpath))
    except GrpcTypesError as exc:
        raise SettingsError(str(exc)) from None


def _display(path: Path, config: pytest.Config) -> str:
    try:
        return str(path.relative_to(config.rootpath))
    except ValueError:
        return str(path)


@pytest.fixture
def streamreplay(request: pytest.FixtureRequest) -> Iterator[StreamReplayHandle | None]:
    """Bind this test's cassette to the proxy and route every client through it."""
    from .cassette.matching import MatcherSpecError
    from .cassette.records import HttpInteraction, WsConnection
    from .cassette.storage import CassetteError
    from .harness import bound
    from .paths import CassetteNameError
    from .settings import SettingsError

    item = request.node
    state = request.config.stash[_STATE]
    try:
        session, settings = _open_session(item, state)
    except (SettingsError, MatcherSpecError, CassetteError, CassetteNameError) as exc:
        # Reported as the test's failure (not a setup error), before its body runs.
        state.outcomes.append(CassetteOutcome(item.nodeid, "", "error"))
        item.stash[_SETUP_PROBLEM] = f"pytest-streamreplay: {exc}"
        yield None
        return

    with bound(session, _runtime(request.config)) as handle:
        item.stash[_HANDLE] = handle
        yield handle

    failed = item.stash.get(_CALL_FAILED, False)
    path = _display(session.path, request.config)
    action = "replayed"
    interactions = len(session.interactions)
    if session.missing:  # no cassette: each request was refused; a test without any passes
        action = "missing" if session.unmatched else "absent"
    if session.can_record:
        if failed and not settings.record_on_failure:
            action = "kept"
        else:
            try:
                saved = session.save(note=handle.note, metadata=handle.metadata)
            except (ValueError, CassetteError) as exc:
                # ValueError: metadata a test set that cannot go into a header.
                state.outcomes.append(CassetteOutcome(item.nodeid, path, "error"))
                pytest.fail(_not_written(path, exc), pytrace=False)
            if saved is not None:
                # Count what is on disk, not what passed the proxy.
                action = "recorded"
                interactions = session.cassette_http
    if late := session.late_errors():  # the proxy failed after the test's own check
        state.outcomes.append(CassetteOutcome(item.nodeid, path, "error"))
        pytest.fail("\n\n".join(late), pytrace=False)
    users = state.users[_key(session.path)]
    judged_for_the_run = users > 1 and session.can_replay and not session.can_record
    unused_http, unused_ws = session.unused_lines() if judged_for_the_run else (None, None)
    state.outcomes.append(
        CassetteOutcome(
            test=item.nodeid,
            path=path,
            action=action,
            interactions=interactions,
            unmatched=len(session.unmatched),
            unused=session.unused_count() if session.can_replay and users < 2 else 0,
            written=sum(
                isinstance(r, HttpInteraction | WsConnection) for r in session.written or ()
            ),
            shared=users,
            unused_http=unused_http,
            unused_ws=unused_ws,
            reached_proxy=session.traffic > 0,
            origin_failures=list(session.origin_failures),
        )
    )


def _not_written(path: str, exc: Exception) -> str:
    from .cassette.storage import CassetteError, CassetteWriteError

    if isinstance(exc, CassetteWriteError):
        return f"pytest-streamreplay: {path} not written: {exc.reason}; {exc.kept}"
    if isinstance(exc, CassetteError):  # what is on disk cannot be read back to add to it
        return f"pytest-streamreplay: {exc}; not written"
    return f"pytest-streamreplay: {path} not written: {exc}"


@pytest.fixture(autouse=True)
def _streamreplay_marker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("streamreplay") is not None:
        request.getfixturevalue("streamreplay")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    problem = item.stash.get(_SETUP_PROBLEM, None)
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    try:
        result = yield
    except BaseException:
        handle = item.stash.get(_HANDLE, None)
        if handle is not None and (problems := handle.session.problems()):
            item.add_report_section("call", "streamreplay", "\n\n".join(problems))
        raise
    handle = item.stash.get(_HANDLE, None)
    if handle is not None and (problems := handle.session.problems()):
        pytest.fail("\n\n".join(problems), pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report: Any = yield
    if report.when == "call" and report.failed:
        item.stash[_CALL_FAILED] = True
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Iterator[None]:
    """After every test (and xdist worker) is done: recorded interactions of a shared cassette
    that no test of the run used fail a --replay-strict run (the summary names them)."""
    result = yield
    state = session.config.stash.get(_STATE, None)
    if state is None or hasattr(session.config, "workerinput"):
        return result
    if session.config.getoption("replay_strict") and any(
        v.unused for v in judge_shared(state.outcomes)
    ):
        session.testsfailed += 1
    return result


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    state = session.config.stash.get(_STATE, None)
    if workeroutput is not None and state is not None:
        workeroutput["streamreplay"] = [o.to_json() for o in state.outcomes]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    state = node.config.stash.get(_STATE, None)
    output = getattr(node, "workeroutput", None) or {}
    if state is not None:
        state.outcomes.extend(CassetteOutcome.from_json(o) for o in output.get("streamreplay", []))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or not state.outcomes or hasattr(config, "workeroutput"):
        return
    terminalreporter.write_sep("-", "streamreplay")
    terminalreporter.write(
        render_summary(
            state.outcomes,
            verbose=config.get_verbosity() > 0,
            color=bool(getattr(terminalreporter, "hasmarkup", False)),
            width=terminalreporter._tw.fullwidth,
            strict=bool(config.getoption("replay_strict")),
        )
    )
