"""pytest-recording's interface, understood: which plugin owns it, and what its settings mean here.

When pytest-recording is not installed, ``@pytest.mark.vcr``, ``default_cassette``,
``block_network``, the ``vcr_config`` and ``vcr_cassette_dir`` fixtures and the options
``--block-network``, ``--allowed-hosts``, ``--allow-private-ips`` and ``--disable-recording`` are
served by pytest-streamreplay (see ``vcr_plugin``). When it is installed, it keeps them and this
plugin handles ``@pytest.mark.streamreplay`` only; ``--record-mode`` is then pytest-recording's
option (same values, same meaning) and both read it.

Both plugins register ``--record-mode``; pytest refuses a second registration. Which plugin
loads first depends on entry-point order and ``-p``, so the shared options are added only once
every plugin named on the command line or by an entry point is loaded: in
``pytest_load_initial_conftests``, before the full command-line parse.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from . import options

RECORD_MODES = options.RECORD_MODES

__all__ = [
    "HONOURED_KEYS",
    "IGNORED_KEYS",
    "VcrSettings",
    "apply_before_record",
    "cassette_file",
    "recording_plugin",
    "setup",
    "translate_vcr_config",
]

HONOURED_KEYS: dict[str, str] = {
    "record_mode": "record mode (--record-mode on the command line still wins)",
    "match_on": "request matchers (vcrpy's names; raw_body and body compare the body)",
    "filter_headers": "redacted (a REDACTED placeholder, in requests and responses)",
    "filter_query_parameters": "redacted (a REDACTED placeholder)",
    "filter_post_data_parameters": "redacted (form fields and JSON body fields)",
    "allow_playback_repeats": "allow_repeats (default False, as in vcrpy)",
    "allowed_hosts": "hosts --block-network lets through",
    "allow_private_ips": "private addresses --block-network lets through",
    "decode_compressed_response": "always on: cassettes keep bodies decoded",
    "serializer": "only chooses pytest-recording's file suffix; cassettes are JSON Lines",
    "before_record_request": "called on each HTTP request recorded (None leaves it out)",
    "before_record_response": "called on each HTTP response recorded (None leaves it out)",
    "before_record": "vcrpy's old name of before_record_request",
}
"""vcr_config keys that have an effect (or need none), and what they become."""

IGNORED_KEYS: dict[str, str] = {
    "ignore_localhost": "every request goes through the proxy and is recorded",
    "ignore_hosts": "every request goes through the proxy and is recorded",
    "cassette_library_dir": "use the vcr_cassette_dir fixture",
    "path_transformer": "cassette paths come from vcr_cassette_dir and default_cassette_name",
    "func_path_generator": "cassette paths come from vcr_cassette_dir and default_cassette_name",
    "custom_patches": "clients are not patched; they are routed through the proxy",
    "persister": "cassettes are JSON Lines files",
}
"""vcr_config keys with no effect here, and why; a test using one gets a warning naming it."""

_MATCHERS = {
    "method": "method",
    "scheme": "scheme",
    "host": "host",
    "port": "port",
    "path": "path",
    "query": "query",
    "uri": "uri",
    "url": "uri",
    "headers": "headers",
    "raw_body": "body",
    "body": "json_body",  # vcrpy decodes JSON and form bodies before comparing
}


@dataclass(frozen=True)
class VcrSettings:
    """A vcr_config (merged with the marks' keyword arguments) in this plugin's terms."""

    marker_kwargs: dict[str, Any]
    """Keyword arguments for ``@pytest.mark.streamreplay`` (record_mode, match_on, ...)."""
    ignored: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    allow_private_ips: bool = False
    unknown: tuple[str, ...] = field(default=())


def _names(value: Any) -> list[str]:
    """Names from vcrpy's filter lists: ``"name"`` or ``("name", replacement)``."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    out = []
    for item in value:
        out.append(str(item[0]) if isinstance(item, list | tuple) else str(item))
    return out


def _matchers(value: Iterable[Any]) -> tuple[Any, ...]:
    out: list[Any] = []
    for name in value:
        if callable(name):
            out.append(name)
            continue
        mapped = _MATCHERS.get(str(name))
        if mapped is None:
            from .settings import SettingsError

            raise SettingsError(
                f"vcr_config match_on: vcrpy matcher {name!r} has no counterpart here "
                f"(known: {', '.join(sorted(_MATCHERS))}); register a matcher with the "
                "pytest_streamreplay_matchers hook and name it in @pytest.mark.streamreplay"
            )
        if mapped not in out:
            out.append(mapped)
    return tuple(out)


def translate_vcr_config(config: Mapping[str, Any]) -> VcrSettings:
    """Translate a vcr_config dict (already merged with the marks' kwargs).

    Raises ``SettingsError`` for a value that cannot mean what the user asked (an unknown
    record mode or matcher)."""
    kwargs: dict[str, Any] = {}
    if config.get("record_mode") is not None:
        mode = str(getattr(config["record_mode"], "value", config["record_mode"]))
        if mode not in RECORD_MODES:
            from .settings import SettingsError

            raise SettingsError(
                f"vcr_config record_mode: unknown record mode {mode!r} "
                f"(choose from {', '.join(RECORD_MODES)})"
            )
        kwargs["record_mode"] = mode
    if config.get("match_on") is not None:
        kwargs["match_on"] = _matchers(config["match_on"])
    redact = [
        *_names(config.get("filter_headers")),
        *_names(config.get("filter_query_parameters")),
        *_names(config.get("filter_post_data_parameters")),
    ]
    if redact:
        kwargs["redact"] = tuple(dict.fromkeys(redact))
    kwargs["allow_repeats"] = bool(config.get("allow_playback_repeats", False))
    hosts = config.get("allowed_hosts")
    if isinstance(hosts, str):
        hosts = hosts.split(",")
    return VcrSettings(
        marker_kwargs=kwargs,
        ignored=tuple(k for k in config if k in IGNORED_KEYS),
        unknown=tuple(k for k in config if k not in IGNORED_KEYS and k not in HONOURED_KEYS),
        allowed_hosts=tuple(hosts or ()),
        allow_private_ips=bool(config.get("allow_private_ips", False)),
    )


def _vcr_headers(headers: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in headers:
        out.setdefault(name, []).append(value)
    return out


def _pairs(headers: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = []
    for name, values in headers.items():
        for value in values if isinstance(values, list | tuple) else [values]:
            out.append((str(name), value.decode() if isinstance(value, bytes) else str(value)))
    return out


def apply_before_record(
    record: Any, before_request: Any | None, before_response: Any | None
) -> bool:
    """Run vcrpy's ``before_record_request``/``before_record_response`` on a recorded
    ``HttpInteraction`` in place, through vcrpy's own shapes (a ``vcr.request.Request``; a
    response dict with ``status``, ``headers`` and ``body.string``). False: a callable returned
    None, and vcrpy would not record the interaction."""
    from .cassette.body import encode_body
    from .cassette.records import HttpInteraction

    if not isinstance(record, HttpInteraction):
        return True
    if before_request is not None:
        from vcr.request import Request

        req = record.request
        live = Request(req.method, req.url, req.content, {k: v for k, v in req.headers})
        changed = before_request(live)
        if changed is None:
            return False
        req.method, req.url = str(changed.method), str(changed.uri)
        req.headers = _pairs(changed.headers)
        body = changed.body
        req.body = encode_body(body.encode() if isinstance(body, str) else bytes(body or b""))
    if before_response is not None:
        resp = record.response
        content = resp.content
        given = {
            "status": {"code": resp.status, "message": resp.reason},
            "headers": _vcr_headers(resp.headers),
            "body": {"string": content},
        }
        changed_resp = before_response(given)
        if changed_resp is None:
            return False
        status = changed_resp.get("status") or {}
        resp.status = int(status.get("code", resp.status))
        resp.reason = str(status.get("message", resp.reason))
        resp.headers = _pairs(changed_resp.get("headers") or {})
        new_body = (changed_resp.get("body") or {}).get("string", content)
        if isinstance(new_body, str):
            new_body = new_body.encode()
        if new_body != content and resp.chunks is None:
            resp.body, resp.encoded = encode_body(new_body), None
        elif new_body != content and resp.chunks is not None:
            resp.chunks = _rechunked(resp.chunks, new_body)
    return True


def _rechunked(chunks: list[Any], body: bytes) -> list[Any]:
    """``body`` (what ``before_record_response`` made of a response recorded in chunks) as
    chunks: the recorded ones it begins with unchanged, with their offsets, and the rest as one
    chunk at the offset of the first one it changed. Dropping the change would write what the
    callable scrubbed."""
    from .cassette.body import encode_body, is_utf8
    from .cassette.records import Chunk

    kept: list[Any] = []
    offset = 0
    for chunk in chunks:
        data = chunk.content
        if body[offset : offset + len(data)] != data:
            break
        kept.append(chunk)
        offset += len(data)
    rest = body[offset:]
    if rest:
        at = chunks[len(kept)] if len(kept) < len(chunks) else chunks[-1]
        kept.append(Chunk(at.t, encode_body(rest, binary=not is_utf8(rest)), at.after))
    return kept


def cassette_file(directory: str | Path, name: str) -> Path:
    """Where pytest-recording's cassette ``name`` in ``directory`` lives after migration:
    the file pytest-recording would use (``x.yaml``, ``TestC.test_x.yaml``, long names cut as
    it cuts them) with ``.jsonl`` for its suffix, as ``streamreplay migrate`` writes it."""
    from .cassette.convert.vcr_tree import migrated_path, recording_cassette_name

    if name.endswith(".jsonl"):
        return Path(directory) / name
    return migrated_path(Path(directory) / recording_cassette_name(name))


# -- which plugin owns pytest-recording's interface ------------------------------------------

_RECORDING_NAMES = ("recording", "pytest_recording.plugin")
_COMPAT_NAME = "streamreplay-vcr"
_OWNER = pytest.StashKey[str]()


def recording_plugin(pluginmanager: pytest.PytestPluginManager) -> Any | None:
    """pytest-recording's plugin module when it is loaded in this run, else None."""
    for name in _RECORDING_NAMES:
        plugin = pluginmanager.get_plugin(name)
        if plugin is not None:
            return plugin
    return None


def _add_shared_options(parser: pytest.Parser) -> None:
    options.add_options(parser, shared=True)


def _take_over(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Serve pytest-recording's interface, or leave it to pytest-recording when it is loaded."""
    if pluginmanager.get_plugin(_COMPAT_NAME) is not None:
        return
    owner = recording_plugin(pluginmanager)
    if owner is None:
        from . import vcr_plugin

        _add_shared_options(parser)
        pluginmanager.register(vcr_plugin, _COMPAT_NAME)


class _LateSetup:
    """Decides after every ``-p`` and entry-point plugin is loaded (see the module docstring)."""

    def __init__(self) -> None:
        self.done = False

    @pytest.hookimpl(wrapper=True)
    def pytest_load_initial_conftests(
        self, early_config: pytest.Config, parser: pytest.Parser
    ) -> Generator[None, None, None]:
        # A root conftest's ``pytest_plugins`` may load pytest-recording too: decide after it.
        try:
            return (yield)
        finally:
            if not self.done:
                self.done = True
                _take_over(parser, early_config.pluginmanager)


class _Header:
    @staticmethod
    def pytest_report_header(config: pytest.Config) -> str | None:
        """Which plugin serves pytest-recording's interface: always when pytest-recording is
        installed (both could), else only with -v (nothing else could)."""
        owner = recording_plugin(config.pluginmanager)
        if owner is None:
            if not config.get_verbosity() and importlib.util.find_spec("pytest_recording") is None:
                return None
            return (
                "streamreplay: @pytest.mark.streamreplay and pytest-recording's @pytest.mark.vcr, "
                "vcr_config and --block-network are handled by pytest-streamreplay"
            )
        from importlib.metadata import PackageNotFoundError, version

        try:
            which = f"pytest-recording {version('pytest-recording')}"
        except PackageNotFoundError:
            which = "pytest-recording"
        return (
            f"streamreplay: {which} is installed and handles @pytest.mark.vcr, vcr_config and "
            "--block-network (through vcrpy); pytest-streamreplay handles "
            "@pytest.mark.streamreplay; uninstall pytest-recording and run "
            "`streamreplay migrate` to move"
        )


def _loaded_by_a_conftest(pluginmanager: pytest.PytestPluginManager) -> bool:
    """Whether conftest files are being loaded (a conftest's ``pytest_plugins`` named this
    plugin): every ``-p`` and entry-point plugin is loaded by then, and the hook ``_LateSetup``
    waits for has already begun, so it would never run."""
    return any(
        str(getattr(plugin, "__file__", None) or "").endswith("conftest.py")
        for plugin in pluginmanager.get_plugins()
    )


def setup(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Called from the plugin's ``pytest_addoption``."""
    pluginmanager.register(_Header(), "streamreplay-vcr-header")
    if recording_plugin(pluginmanager) is not None:
        return  # loaded before us: it owns --record-mode and the rest
    if importlib.util.find_spec("pytest_recording") is None or _loaded_by_a_conftest(pluginmanager):
        _take_over(parser, pluginmanager)  # cannot be loaded later in this run
        return
    pluginmanager.register(_LateSetup(), "streamreplay-vcr-late")
