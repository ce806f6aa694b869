"""One resolved settings object per test, from the table in ``options``: command line > marker >
ini > defaults; the ini's and the marker's ``redact`` names add up.

``--replay-strict`` beats everything: replay only, nothing live, nothing left unused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from . import options
from .options import Found, Setting
from .playback import Speed
from .session import RecordMode

__all__ = ["MARKER_KWARGS", "Settings", "SettingsError", "resolve_settings"]

MARKER_KWARGS = options.marker_keywords()


class SettingsError(ValueError):
    """A marker or option value that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    """The table's ``test`` and ``run`` settings, parsed (tests/test_settings_table.py checks
    the fields match the table); ``redact_defaults`` is ``redact=False``'s other half. No
    defaults here: ``resolve_settings`` fills every field from the table."""

    record_mode: RecordMode
    strict: bool
    cassette_dir: Path
    cassette: str | None
    match_on: tuple[Any, ...]
    redact: tuple[str, ...]
    redact_defaults: bool
    allow_repeats: bool
    record_on_failure: bool
    speed: Speed
    message_ignore: tuple[str, ...]
    extra_cassettes: tuple[str, ...]
    #: ``_pb2`` module names, FileDescriptorSet paths and ``server-reflection``.
    grpc_descriptors: tuple[str, ...]
    allow_cassette_outside: bool


#: Settings fields that no table entry has: they come from another entry's value.
DERIVED_FIELDS = {"redact_defaults": "redact"}


def _record_mode(found: Found, config: Any) -> RecordMode:
    try:
        return RecordMode(str(found.value))
    except ValueError:
        choices = ", ".join(m.value for m in RecordMode)
        raise SettingsError(
            f"{found.label}: unknown record mode {found.value!r} (choose from {choices})"
        ) from None


def _words(found: Found, config: Any) -> tuple[Any, ...]:
    return options.as_names(found.value)


def _flag(found: Found, config: Any) -> bool:
    # pytest parses options and ini bools; a marker's "false" would otherwise be true.
    if found.source == "marker" and not isinstance(found.value, bool):
        raise SettingsError(f"{found.label}: True or False, not {found.value!r}")
    return bool(found.value)


def _speed(found: Found, config: Any) -> Speed:
    try:
        return Speed.parse(found.value)
    except ValueError as exc:
        raise SettingsError(f"{found.label}: {exc}") from None


def _cassette_dir(found: Found, config: Any) -> Path:
    path = Path(found.value)
    if found.source == "option":
        return path if path.is_absolute() else Path(config.invocation_params.dir) / path
    return Path(config.rootpath) / path


def _cassette(found: Found, config: Any) -> str | None:
    return found.value


def _extra_cassettes(found: Found, config: Any) -> tuple[str, ...]:
    return tuple(str(p) for p in options.as_paths(found.value))


#: How each table entry that is a Settings field is read from its raw value.
PARSERS: dict[str, Callable[[Found, Any], Any]] = {
    "record_mode": _record_mode,
    "strict": _flag,
    "cassette": _cassette,
    "cassette_dir": _cassette_dir,
    "allow_cassette_outside": _flag,
    "extra_cassettes": _extra_cassettes,
    "match_on": _words,
    "allow_repeats": _flag,
    "speed": _speed,
    "message_ignore": _words,
    "record_on_failure": _flag,
    "grpc_descriptors": _words,
}


def _redact(setting: Setting, config: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The ini's names plus the marker's; the marker's ``False`` turns the built-in rules off."""
    value = kwargs.get("redact")
    ini = tuple(config.getini(setting.ini) or ()) if setting.ini else ()
    marker = options.as_names(value) if value is not False else ()
    return {"redact": ini + marker, "redact_defaults": value is not False}


def marker_kwargs(marker: Any | None) -> dict[str, Any]:
    """The marker's arguments by keyword; unknown ones raise ``SettingsError`` naming the
    known ones."""
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    if marker is not None and marker.args:
        if len(marker.args) > 1 or "cassette" in kwargs:
            raise SettingsError(
                "@pytest.mark.streamreplay takes one positional argument (cassette)"
            )
        kwargs["cassette"] = marker.args[0]
    unknown = sorted(set(kwargs) - set(MARKER_KWARGS))
    if unknown:
        raise SettingsError(
            f"@pytest.mark.streamreplay got unknown argument(s) {', '.join(unknown)}; "
            f"known: {', '.join(MARKER_KWARGS)}"
        )
    return kwargs


def resolve_settings(config: Any, marker: Any | None) -> Settings:
    """``config`` is a pytest Config; ``marker`` the test's ``streamreplay`` mark or None."""
    kwargs = marker_kwargs(marker)
    values: dict[str, Any] = {}
    for setting in options.SETTINGS:
        if setting.scope not in ("test", "run"):
            continue
        if setting.adds_up:
            values.update(_redact(setting, config, kwargs))
        else:
            found = options.lookup(setting, config, kwargs)
            values[setting.name] = PARSERS[setting.name](found, config)
    if values["strict"]:
        values["record_mode"] = RecordMode.NONE
    return Settings(**values)


def settings_fields() -> set[str]:
    return {f.name for f in fields(Settings)}
