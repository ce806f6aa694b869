"""Every setting, declared once: the command-line options, ini keys, the marker's and
``use_cassette``'s keywords, the marker's help line and docs/configuration.md's table all come
from ``SETTINGS``, so they cannot drift apart.

pytest imports this module at start-up for every run: it imports nothing of the library. What a
value means (a record mode, a speed) is parsed by ``settings``, once a test uses the plugin.

Regenerate the docs table after changing ``SETTINGS``::

    python -m pytest_streamreplay.options --update docs/configuration.md
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "DEFAULT_MATCH_ON",
    "DOCS_END",
    "DOCS_START",
    "RECORD_MODES",
    "SETTINGS",
    "Found",
    "Setting",
    "add_options",
    "as_names",
    "as_paths",
    "by_name",
    "docs_section",
    "lookup",
    "markdown_table",
    "marker_help",
    "marker_keywords",
    "split_names",
    "update_docs",
    "use_cassette_keywords",
]

# session.RecordMode's values and cassette.matching.DEFAULT_MATCH_ON, spelled out so that
# start-up imports no library module (tests/test_settings_table.py checks they agree).
RECORD_MODES = ("once", "new_episodes", "none", "all", "rewrite")
DEFAULT_MATCH_ON = ("method", "scheme", "host", "port", "path", "query")

Kind = Literal["bool", "text", "list"]
Scope = Literal["test", "run", "proxy", "vcr"]


@dataclass(frozen=True)
class Setting:
    """One setting and every place it can be given.

    ``scope``: ``test`` may differ per test (a marker keyword), ``run`` is one value per pytest
    run, ``proxy`` configures the process's proxy, ``vcr`` is pytest-recording's interface.
    ``marker`` and ``use_cassette`` are the keyword names there, or None where it cannot be
    given (every entry states both). ``default`` is the effective default in the form the
    command line or ini takes it.
    """

    name: str
    kind: Kind
    default: str | bool | tuple[str, ...] | None
    help: str
    scope: Scope
    marker: str | None
    use_cassette: str | None
    option: str | None = None
    dest: str | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    ini: str | None = None
    #: The option is registered only while pytest-recording is not loaded (it has it too).
    shared_with_recording: bool = False
    #: ini values and marker values add up instead of the marker's replacing the ini's.
    adds_up: bool = False

    @property
    def option_dest(self) -> str:
        if self.dest is not None:
            return self.dest
        if self.option is None:
            raise ValueError(f"setting {self.name} has no command-line option")
        return self.option.lstrip("-").replace("-", "_")


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "cassette",
        "text",
        None,
        "the test's cassette: a name relative to its test file's cassette folder (marker; "
        "also positional), or use_cassette's path, used as given",
        "test",
        marker="cassette",
        use_cassette="path",
    ),
    Setting(
        "match_on",
        "list",
        DEFAULT_MATCH_ON,
        "request matchers (method scheme host port path query uri body json_body[paths] "
        "headers[names], or callables)",
        "test",
        marker="match_on",
        use_cassette="match_on",
        ini="streamreplay_match_on",
    ),
    Setting(
        "redact",
        "list",
        (),
        "more header, parameter and JSON field names to redact (the marker's add to the "
        "ini key's); False turns the built-in rules off",
        "test",
        marker="redact",
        use_cassette="redact",
        ini="streamreplay_redact",
        adds_up=True,
    ),
    Setting(
        "allow_repeats",
        "bool",
        True,
        "replay the last match again once a request's recordings run out",
        "test",
        marker="allow_repeats",
        use_cassette="allow_repeats",
        ini="streamreplay_allow_repeats",
    ),
    Setting(
        "record_mode",
        "text",
        "none",
        "once: record missing cassettes; new_episodes: also record new requests; "
        "none (default): replay only; all: always record; rewrite: record tests again",
        "test",
        marker="record_mode",
        use_cassette="record_mode",
        option="--record-mode",
        choices=RECORD_MODES,
        ini="streamreplay_record_mode",
        shared_with_recording=True,
    ),
    Setting(
        "speed",
        "text",
        "instant",
        "timing of replayed WebSocket messages and streamed bodies: instant (as fast as the "
        "client reads), recorded (the recorded offsets), or a factor (2.0 = twice as fast)",
        "test",
        marker="speed",
        use_cassette="speed",
        option="--replay-speed",
        metavar="SPEED",
        ini="streamreplay_replay_speed",
    ),
    Setting(
        "message_ignore",
        "list",
        (),
        "JSON paths ignored when comparing a client's WebSocket messages with the recording",
        "test",
        marker="message_ignore",
        use_cassette="message_ignore",
        ini="streamreplay_message_ignore",
    ),
    Setting(
        "extra_cassettes",
        "list",
        (),
        "more cassettes to replay from (relative to the cassette's folder), never written",
        "test",
        marker="extra_cassettes",
        use_cassette="extra_cassettes",
    ),
    Setting(
        "grpc_descriptors",
        "list",
        (),
        "protobuf _pb2 modules, FileDescriptorSet files (relative to the rootdir) and "
        "server-reflection: gRPC messages get a JSON form (docs/grpc.md)",
        "test",
        marker="grpc_descriptors",
        use_cassette="grpc_descriptors",
        ini="streamreplay_grpc_descriptors",
    ),
    Setting(
        "strict",
        "bool",
        False,
        "CI mode: replay only, no connection leaves the machine, every recorded "
        "interaction must be used",
        "run",
        marker=None,
        use_cassette="strict",
        option="--replay-strict",
        dest="replay_strict",
    ),
    Setting(
        "cassette_dir",
        "text",
        "cassettes",
        "where cassettes live: the option's path is relative to the invocation directory, "
        "the ini key's to the rootdir",
        "run",
        marker=None,
        use_cassette=None,
        option="--cassette-dir",
        metavar="PATH",
        ini="streamreplay_cassette_dir",
    ),
    Setting(
        "allow_cassette_outside",
        "bool",
        False,
        "let marker cassette names (../, absolute paths) resolve outside the cassette directory",
        "run",
        marker=None,
        use_cassette=None,
        ini="streamreplay_allow_cassette_outside",
    ),
    Setting(
        "record_on_failure",
        "bool",
        False,
        "save what a failing test recorded (default: keep the old cassette)",
        "run",
        marker=None,
        use_cassette=None,  # a use_cassette block that raises saves nothing
        option="--record-on-failure",
    ),
    Setting(
        "upstream_ca",
        "text",
        None,
        "while recording, trust this CA file for origins (self-signed servers); certifi's "
        "roots stay trusted",
        "proxy",
        marker=None,
        use_cassette="upstream_ca",
        option="--upstream-ca",
        metavar="FILE",
        ini="streamreplay_upstream_ca",
    ),
    Setting(
        "upstream_insecure",
        "bool",
        False,
        "while recording, do not verify origins' TLS certificates",
        "proxy",
        marker=None,
        use_cassette="upstream_insecure",
        option="--upstream-insecure",
    ),
    Setting(
        "share_tls_contexts",
        "bool",
        True,
        "share httpx's TLS contexts (all trust the same bundle) while a test is bound",
        "proxy",
        marker=None,
        use_cassette="share_tls_contexts",
        ini="streamreplay_share_tls_contexts",
    ),
    Setting(
        "block_network",
        "bool",
        False,
        "block sockets in tests, except this plugin's proxy and --allowed-hosts (not in "
        "@pytest.mark.vcr tests that may record)",
        "vcr",
        marker=None,
        use_cassette=None,
        option="--block-network",
        shared_with_recording=True,
    ),
    Setting(
        "allowed_hosts",
        "text",
        None,
        "comma-separated regular expressions of hosts --block-network lets through",
        "vcr",
        marker=None,
        use_cassette=None,
        option="--allowed-hosts",
        metavar="HOSTS",
        shared_with_recording=True,
    ),
    Setting(
        "allow_private_ips",
        "bool",
        False,
        "--block-network lets private addresses (loopback, LAN) through",
        "vcr",
        marker=None,
        use_cassette=None,
        option="--allow-private-ips",
        shared_with_recording=True,
    ),
    Setting(
        "disable_recording",
        "bool",
        False,
        "@pytest.mark.vcr does nothing: those tests use the real network",
        "vcr",
        marker=None,
        use_cassette=None,
        option="--disable-recording",
        shared_with_recording=True,
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def by_name(name: str) -> Setting:
    return _BY_NAME[name]


def marker_keywords() -> tuple[str, ...]:
    """``@pytest.mark.streamreplay``'s keywords, ``cassette`` (also positional) first."""
    return tuple(s.marker for s in SETTINGS if s.marker is not None)


def use_cassette_keywords() -> tuple[str, ...]:
    return tuple(s.use_cassette for s in SETTINGS if s.use_cassette is not None)


def marker_help() -> str:
    """The marker's line in ``pytest --markers``."""
    first, *rest = marker_keywords()
    keywords = ", ".join(f"{kw}=None" for kw in rest)
    return (
        f"streamreplay({first}=None, *, {keywords}): record or replay this test's HTTP, "
        "WebSocket and gRPC traffic through the pytest-streamreplay proxy "
        "(docs/configuration.md)"
    )


# -- values given as one string -----------------------------------------------------------


def split_names(text: str) -> tuple[str, ...]:
    """Names from one string, as the marker and ``use_cassette`` take a list: separated by
    spaces or commas, except inside brackets (``json_body[id,params.ts]`` stays one)."""
    names: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        if depth == 0 and (ch == "," or ch.isspace()):
            if current:
                names.append("".join(current))
                current = []
        else:
            current.append(ch)
    if current:
        names.append("".join(current))
    return tuple(names)


def as_names(value: Any) -> tuple[Any, ...]:
    """A list setting's value: None is empty, one string is split (``split_names``), any
    other iterable is taken item by item (matchers may be callables)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return split_names(value)
    return tuple(value)


def as_paths(value: Any) -> tuple[Any, ...]:
    """Cassette paths: one string or path is one path, not a list of its characters."""
    if value is None:
        return ()
    if isinstance(value, str) or hasattr(value, "__fspath__"):
        return (value,)
    return tuple(value)


# -- where a value comes from --------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """A setting's raw value and where it was given: ``option``, ``marker``, ``ini`` or
    ``default``; ``label`` names it for an error message."""

    value: Any
    source: Literal["option", "marker", "ini", "default"]
    label: str


def _given(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value is not False


def lookup(setting: Setting, config: Any, marker_kwargs: Mapping[str, Any]) -> Found:
    """Command line > marker > ini > default (``config`` is a pytest Config).

    An ini bool is returned as read, since it is registered with the table's default."""
    if setting.option is not None:
        value = config.getoption(setting.option_dest)
        if _given(value):
            return Found(value, "option", setting.option)
    if setting.marker is not None and marker_kwargs.get(setting.marker) is not None:
        label = f"@pytest.mark.streamreplay({setting.marker}=...)"
        return Found(marker_kwargs[setting.marker], "marker", label)
    if setting.ini is not None:
        value = config.getini(setting.ini)
        if setting.kind == "bool" or _given(value):
            return Found(value, "ini", f"ini {setting.ini}")
    return Found(setting.default, "default", f"{setting.name}'s default")


# -- pytest registration (the plugin's pytest_addoption calls these) -----------------------

GROUP = ("streamreplay", "streamreplay: record and replay HTTP and WebSocket traffic")
VCR_GROUP = ("recording", "pytest-recording's options (served by pytest-streamreplay)")


def add_options(parser: Any, *, shared: bool) -> None:
    """Register the table on a pytest Parser: the options pytest-recording has too
    (``shared``, registered only while it is not loaded), or all the others and every ini key
    (ini keys are this plugin's alone)."""
    for s in SETTINGS:
        if s.option is not None and s.shared_with_recording == shared:
            group = parser.getgroup(*(VCR_GROUP if s.scope == "vcr" else GROUP))
            kwargs: dict[str, Any] = {"dest": s.option_dest, "help": s.help}
            if s.kind == "bool":
                kwargs.update(action="store_true", default=False)
            else:
                kwargs.update(default=None)
                if s.metavar is not None:
                    kwargs["metavar"] = s.metavar
                if s.choices is not None:
                    kwargs["choices"] = s.choices
            group.addoption(s.option, **kwargs)
        if s.ini is not None and not shared:
            if s.kind == "bool":
                parser.addini(s.ini, s.help, type="bool", default=bool(s.default))
            elif s.kind == "list":  # empty: ``lookup`` falls back to the table's default
                parser.addini(s.ini, s.help, type="args", default=[])
            else:
                parser.addini(s.ini, s.help, default="")


# -- docs/configuration.md -----------------------------------------------------------------

DOCS_START = "<!-- settings-table:start (python -m pytest_streamreplay.options --update) -->"
DOCS_END = "<!-- settings-table:end -->"
_SCOPES = {
    "test": "test",
    "run": "run",
    "proxy": "run (the proxy)",
    "vcr": "run (pytest-recording's)",
}


def _code(text: str | None) -> str:
    return f"`{text}`" if text else "-"


def _default(s: Setting) -> str:
    if s.default is None or s.default == ():
        return "-"
    if isinstance(s.default, bool):
        return f"`{str(s.default).lower()}`"
    if isinstance(s.default, tuple):
        return f"`{' '.join(s.default)}`"
    return f"`{s.default}`"


def _option(s: Setting) -> str:
    if s.option is None:
        return "-"
    if s.choices is not None:
        return f"`{s.option}={{{','.join(s.choices)}}}`"
    if s.kind == "bool":
        return f"`{s.option}`"
    return f"`{s.option}={s.metavar or 'VALUE'}`"


def markdown_table(settings: Sequence[Setting] = SETTINGS) -> str:
    rows = [
        "| setting | command line | ini key | marker | `use_cassette` | default | scope "
        "| meaning |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in settings:
        meaning = s.help.replace("|", "\\|")
        if s.shared_with_recording:
            meaning += " (pytest-recording's option when it is installed)"
        rows.append(
            f"| {s.name} | {_option(s)} | {_code(s.ini)} | {_code(s.marker)} | "
            f"{_code(s.use_cassette)} | {_default(s)} | {_SCOPES[s.scope]} | {meaning} |"
        )
    return "\n".join(rows) + "\n"


def docs_section(text: str) -> str:
    """The generated part of a docs page, between the markers."""
    try:
        start = text.index(DOCS_START) + len(DOCS_START)
        end = text.index(DOCS_END, start)
    except ValueError:
        raise ValueError(f"no {DOCS_START} ... {DOCS_END} section") from None
    return text[start:end].strip("\n") + "\n"


def update_docs(path: Path) -> bool:
    """Rewrite ``path``'s section from ``SETTINGS``; True when it changed."""
    text = path.read_text(encoding="utf-8")
    docs_section(text)  # raises without the markers
    head, rest = text.split(DOCS_START, 1)
    _, tail = rest.split(DOCS_END, 1)
    new = f"{head}{DOCS_START}\n{markdown_table()}{DOCS_END}{tail}"
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


def main(argv: Sequence[str]) -> int:
    if list(argv) == ["--markdown"]:
        sys.stdout.write(markdown_table())
        return 0
    if len(argv) == 2 and argv[0] == "--update":
        changed = update_docs(Path(argv[1]))
        print(f"{argv[1]}: {'updated' if changed else 'up to date'}")
        return 0
    print("usage: python -m pytest_streamreplay.options (--markdown | --update FILE)")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
