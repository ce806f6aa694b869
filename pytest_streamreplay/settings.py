"""One resolved settings object per test: command line > marker > ini > defaults.

``--replay-strict`` beats everything: replay only, nothing live, nothing left unused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cassette.matching import DEFAULT_MATCH_ON
from .playback import Speed
from .session import RecordMode

__all__ = ["MARKER_KWARGS", "Settings", "SettingsError", "resolve_settings"]

MARKER_KWARGS = (
    "cassette",
    "match_on",
    "redact",
    "allow_repeats",
    "record_mode",
    "speed",
    "message_ignore",
    "extra_cassettes",
)


class SettingsError(ValueError):
    """A marker or option value that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    record_mode: RecordMode
    strict: bool
    cassette_dir: Path
    cassette: str | None
    match_on: tuple[Any, ...]
    redact: tuple[str, ...]
    redact_defaults: bool
    allow_repeats: bool
    record_on_failure: bool
    speed: Speed = field(default_factory=Speed)
    message_ignore: tuple[str, ...] = ()
    extra_cassettes: tuple[str, ...] = ()


def _record_mode(value: Any, where: str) -> RecordMode:
    try:
        return RecordMode(str(value))
    except ValueError:
        choices = ", ".join(m.value for m in RecordMode)
        raise SettingsError(
            f"{where}: unknown record mode {value!r} (choose from {choices})"
        ) from None


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if isinstance(value, str):
        return tuple(v for v in value.replace(",", " ").split() if v)
    return tuple(value)


def resolve_settings(config: Any, marker: Any | None) -> Settings:
    """``config`` is a pytest Config; ``marker`` the test's ``streamreplay`` mark or None."""
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

    strict = bool(config.getoption("replay_strict"))
    cli_mode = config.getoption("record_mode")
    if cli_mode is not None:
        mode = _record_mode(cli_mode, "--record-mode")
    elif kwargs.get("record_mode") is not None:
        mode = _record_mode(kwargs["record_mode"], "@pytest.mark.streamreplay(record_mode=...)")
    else:
        mode = _record_mode(
            config.getini("streamreplay_record_mode") or "none", "ini streamreplay_record_mode"
        )
    if strict:
        mode = RecordMode.NONE

    cli_dir = config.getoption("cassette_dir")
    ini_dir = config.getini("streamreplay_cassette_dir")
    if cli_dir:
        cassette_dir = Path(cli_dir)
        if not cassette_dir.is_absolute():
            cassette_dir = Path(config.invocation_params.dir) / cassette_dir
    else:
        cassette_dir = Path(config.rootpath) / (ini_dir or "cassettes")

    match_on = kwargs.get("match_on")
    if match_on is None:
        match_on = config.getini("streamreplay_match_on") or DEFAULT_MATCH_ON
    redact_value = kwargs.get("redact")
    redact_defaults = redact_value is not False
    ini_redact = tuple(config.getini("streamreplay_redact") or ())
    extra_redact = ini_redact + (
        _as_tuple(redact_value) if redact_value not in (None, False) else ()
    )
    allow_repeats = kwargs.get("allow_repeats")
    if allow_repeats is None:
        allow_repeats = config.getini("streamreplay_allow_repeats")

    speed_value = config.getoption("replay_speed")
    where = "--replay-speed"
    if speed_value is None and kwargs.get("speed") is not None:
        speed_value, where = kwargs["speed"], "@pytest.mark.streamreplay(speed=...)"
    if speed_value is None:
        speed_value, where = config.getini("streamreplay_replay_speed") or "instant", "ini"
    try:
        speed = Speed.parse(speed_value)
    except ValueError as exc:
        raise SettingsError(f"{where}: {exc}") from None
    message_ignore = kwargs.get("message_ignore")
    if message_ignore is None:
        message_ignore = config.getini("streamreplay_message_ignore") or ()

    return Settings(
        speed=speed,
        message_ignore=_as_tuple(message_ignore),
        record_mode=mode,
        strict=strict,
        cassette_dir=cassette_dir,
        cassette=kwargs.get("cassette"),
        match_on=_as_tuple(match_on),
        redact=extra_redact,
        redact_defaults=redact_defaults,
        allow_repeats=bool(allow_repeats),
        record_on_failure=bool(config.getoption("record_on_failure")),
        extra_cassettes=tuple(str(p) for p in kwargs.get("extra_cassettes") or ()),
    )
