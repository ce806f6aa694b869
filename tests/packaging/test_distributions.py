"""The repository builds two distributions: the plugin alone, and the bot beside it.

``pip install pytest-streamreplay`` must not bring a ``tradingbot`` package or command (a
generic name that is not ours on the index, and a command that cannot run without the bot's
extras). Both wheels are built here as a release would build them (hatchling through ``pip
wheel``, offline: no build isolation, hatchling comes from the dev group) and their file lists
and metadata are read back.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytest.importorskip("hatchling", reason="hatchling (the dev group) builds the wheels")


def _build(tmp: Path, project: Path) -> zipfile.ZipFile:
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    out = subprocess.run(
        [*pip, "--no-index", "-w", str(tmp), str(project)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp.glob("*.whl")
    return zipfile.ZipFile(wheel)


def _meta(wheel: zipfile.ZipFile, name: str) -> str:
    (path,) = [n for n in wheel.namelist() if n.endswith(f".dist-info/{name}")]
    return wheel.read(path).decode()


@pytest.fixture(scope="module")
def plugin_wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    return _build(tmp_path_factory.mktemp("plugin"), REPO)


@pytest.fixture(scope="module")
def bot_wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    return _build(tmp_path_factory.mktemp("bot"), REPO / "tradingbot")


def test_the_plugin_wheel_holds_the_plugin_alone(plugin_wheel: zipfile.ZipFile) -> None:
    names = plugin_wheel.namelist()
    assert "pytest_streamreplay/plugin.py" in names
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"pytest_streamreplay"}, tops
    assert not [n for n in names if "tradingbot" in n]


def test_the_plugin_wheel_publishes_no_bot_command_and_no_dev_extra(
    plugin_wheel: zipfile.ZipFile,
) -> None:
    entry_points = _meta(plugin_wheel, "entry_points.txt")
    assert "streamreplay = pytest_streamreplay.cli:main" in entry_points
    assert "streamreplay = pytest_streamreplay.plugin" in entry_points  # the pytest11 hook
    assert "tradingbot" not in entry_points
    meta = Parser().parsestr(_meta(plugin_wheel, "METADATA"))
    assert meta["Name"] == "pytest-streamreplay"
    assert meta.get_all("Provides-Extra") == ["web"]
    requires = " ".join(meta.get_all("Requires-Dist") or [])
    for absent in ("dydx", "aiohttp", "websocket-client", "ruff", "mypy", "tox", "playwright"):
        assert absent not in requires


def test_the_bot_wheel_is_the_tradingbot_package_on_top_of_the_plugin(
    bot_wheel: zipfile.ZipFile,
) -> None:
    names = set(bot_wheel.namelist())
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"tradingbot"}, tops
    shipped = {n for n in names if n.startswith("tradingbot/")}
    source = REPO / "tradingbot"
    expected = {
        f"tradingbot/{p.relative_to(source).as_posix()}"
        for p in [*source.rglob("*.py"), source / "py.typed"]
        if "__pycache__" not in p.parts
    }
    assert shipped == expected  # every module, py.typed, and not this folder's pyproject.toml
    meta = Parser().parsestr(_meta(bot_wheel, "METADATA"))
    assert meta["Name"] == "streamreplay-tradingbot"  # `tradingbot` is taken on PyPI
    requires = meta.get_all("Requires-Dist") or []
    assert any(r.startswith("pytest-streamreplay") and "extra" not in r for r in requires)
    assert set(meta.get_all("Provides-Extra") or []) == {"live", "simulator", "serve", "all"}
    assert "tradingbot = tradingbot.cli:main" in _meta(bot_wheel, "entry_points.txt")
