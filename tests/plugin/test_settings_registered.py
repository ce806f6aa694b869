"""What pytest really registers for the plugin (options, ini keys, the marker) is what the
settings table declares and docs/configuration.md lists: an option added by hand elsewhere
fails here. And the table's precedence holds on a real pytest Config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_streamreplay import options
from pytest_streamreplay.playback import Speed
from pytest_streamreplay.session import RecordMode
from pytest_streamreplay.settings import SettingsError, resolve_settings

DOCS = Path(__file__).parents[2] / "docs" / "configuration.md"


def _registered(pytester: pytest.Pytester, *args: str) -> tuple[set[str], set[str], list[str]]:
    config = pytester.parseconfigure(*args)
    parser = config._parser
    flags = {
        name
        for group in [*parser._groups, parser._anonymous]
        for option in group.options
        for name in option.names()
        if name.startswith("--")
    }
    return flags, set(parser._inidict), list(config.getini("markers"))


def test_every_registered_option_ini_key_and_marker_keyword_is_in_the_table_and_docs(
    pytester: pytest.Pytester,
) -> None:
    flags, ini, markers = _registered(pytester)
    without_flags, without_ini, _ = _registered(pytester, "-p", "no:streamreplay")
    ours_flags, ours_ini = flags - without_flags, ini - without_ini
    assert "--replay-strict" in ours_flags and "streamreplay_record_mode" in ours_ini
    [marker] = [m for m in markers if m.startswith("streamreplay(")]
    keywords = re.findall(r"(\w+)=", marker.split(":")[0])

    # pytest-recording is not installed here: its options are ours to register, all of them.
    assert ours_flags == {s.option for s in options.SETTINGS if s.option}
    assert ours_ini == {s.ini for s in options.SETTINGS if s.ini}
    assert tuple(keywords) == options.marker_keywords()

    docs = DOCS.read_text(encoding="utf-8")
    undocumented = sorted(
        name for name in ours_flags | ours_ini if f"`{name}" not in docs
    ) + sorted(f"marker {kw}=" for kw in keywords if f"`{kw}`" not in docs)
    assert undocumented == [], f"not in docs/configuration.md: {undocumented}"


def test_defaults_ini_marker_and_command_line_in_that_order(pytester: pytest.Pytester) -> None:
    defaults = resolve_settings(pytester.parseconfig(), None)
    assert defaults.record_mode is RecordMode.NONE and defaults.speed == Speed()
    assert defaults.match_on == options.DEFAULT_MATCH_ON and defaults.allow_repeats is True
    assert defaults.cassette_dir == pytester.path / "cassettes"
    assert (defaults.strict, defaults.record_on_failure, defaults.allow_cassette_outside) == (
        False,
        False,
        False,
    )
    assert (defaults.redact, defaults.redact_defaults, defaults.extra_cassettes) == ((), True, ())

    pytester.makeini(
        "[pytest]\n"
        "streamreplay_record_mode = once\n"
        "streamreplay_replay_speed = recorded\n"
        "streamreplay_match_on = method path\n"
        "streamreplay_redact = x-ini\n"
        "streamreplay_allow_repeats = false\n"
        "streamreplay_message_ignore = nonce\n"
        "streamreplay_cassette_dir = tapes\n"
        "streamreplay_allow_cassette_outside = true\n"
    )
    ini = resolve_settings(pytester.parseconfig(), None)
    assert (ini.record_mode, ini.speed, ini.match_on) == ("once", Speed(1.0), ("method", "path"))
    assert (ini.redact, ini.allow_repeats, ini.message_ignore) == (("x-ini",), False, ("nonce",))
    assert ini.cassette_dir == pytester.path / "tapes" and ini.allow_cassette_outside is True

    marker = pytest.mark.streamreplay(
        "name",
        record_mode="all",
        speed="2",
        match_on=["uri"],
        redact=["x-mark"],
        allow_repeats=True,
        message_ignore=["id"],
        extra_cassettes=["more"],
    ).mark
    marked = resolve_settings(pytester.parseconfig(), marker)
    assert (marked.cassette, marked.record_mode, marked.speed) == ("name", "all", Speed(2.0))
    assert (marked.match_on, marked.redact, marked.allow_repeats) == (
        ("uri",),
        ("x-ini", "x-mark"),  # added to the ini's
        True,
    )
    assert (marked.message_ignore, marked.extra_cassettes) == (("id",), ("more",))

    cli = resolve_settings(
        pytester.parseconfig("--record-mode=rewrite", "--replay-speed=instant", "--cassette-dir=c"),
        marker,
    )
    assert (cli.record_mode, cli.speed) == ("rewrite", Speed())
    assert cli.cassette_dir == Path.cwd() / "c"
    strict = resolve_settings(pytester.parseconfig("--replay-strict"), marker)
    assert (strict.strict, strict.record_mode) == (True, RecordMode.NONE)
    one = pytest.mark.streamreplay(
        extra_cassettes="login.jsonl", message_ignore="a, b", match_on="method, json_body[id,ts]"
    ).mark
    single = resolve_settings(pytester.parseconfig(), one)
    assert (single.extra_cassettes, single.message_ignore) == (("login.jsonl",), ("a", "b"))
    assert single.match_on == ("method", "json_body[id,ts]")
    off = resolve_settings(pytester.parseconfig(), pytest.mark.streamreplay(redact=False).mark)
    assert (off.redact, off.redact_defaults) == (("x-ini",), False)


def test_bad_values_and_unknown_marker_keywords_name_where(pytester: pytest.Pytester) -> None:
    config = pytester.parseconfig("--replay-speed=fast")
    with pytest.raises(SettingsError, match=r"^--replay-speed: replay speed must be"):
        resolve_settings(config, None)
    text = pytest.mark.streamreplay(allow_repeats="false").mark
    with pytest.raises(SettingsError, match=r"allow_repeats=...\): True or False, not 'false'"):
        resolve_settings(pytester.parseconfig(), text)
    pytester.makeini("[pytest]\nstreamreplay_record_mode = sometimes\n")
    with pytest.raises(SettingsError, match=r"^ini streamreplay_record_mode: unknown record mode"):
        resolve_settings(pytester.parseconfig(), None)
    bogus = pytest.mark.streamreplay(speeed="recorded").mark
    with pytest.raises(SettingsError, match=r"unknown argument\(s\) speeed; known: cassette, "):
        resolve_settings(pytester.parseconfig(), bogus)
    two = pytest.mark.streamreplay("a", "b").mark
    with pytest.raises(SettingsError, match="one positional argument"):
        resolve_settings(pytester.parseconfig(), two)
