"""Without an optional dependency the bot's commands stop with one line naming the extra.

Each command runs in a subprocess where the modules of the bot's extras cannot be imported
(``sys.modules[name] = None`` makes ``import name`` raise ModuleNotFoundError, as in an
environment that lacks them), so what a user sees is what is checked: exit code and stderr.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CASSETTE = REPO / "cassettes" / "dydx" / "book_trades_candles.jsonl"

EXTRA_MODULES = ["aiohttp", "dydx_v4_client", "websocket", "httpx", "fastapi", "uvicorn"]


RUN_ARGV = [
    "run",
    "--rest-url",
    "http://127.0.0.1:9",
    "--ws-url",
    "ws://127.0.0.1:9/v4/ws",
    "--market",
    "BTC-USD",
    "--headless",
    "--duration",
    "1",
    "--paper",
]


def _run_without_extras(*argv: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        f"for name in {EXTRA_MODULES!r}:\n"
        "    sys.modules[name] = None\n"
        "from tradingbot.cli import main\n"
        f"sys.exit(main({list(argv)!r}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO
    )


@pytest.mark.parametrize(
    ("argv", "extra", "module"),
    [
        (["simulate", "--port", "0"], "simulator", "aiohttp"),
        (["replay", str(CASSETTE), "--headless", "--serve", "0"], "serve", "fastapi"),
    ],
)
def test_a_missing_extra_is_one_line_naming_it(argv: list[str], extra: str, module: str) -> None:
    out = _run_without_extras(*argv)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr  # no traceback
    assert f"'{extra}' extra" in lines[0] and module in lines[0]
    assert f"pip install 'streamreplay-tradingbot[{extra}]'" in lines[0]


def test_replay_needs_no_extra() -> None:
    out = _run_without_extras("replay", str(CASSETTE), "--headless")
    assert out.returncode == 0, out.stderr
    assert '"bars_confirmed"' in out.stdout


def test_without_dydx_the_message_says_how_to_get_it_on_this_python() -> None:
    """dydx-v4-client does not install on 3.13 (the ``live`` extra leaves it out there), so
    "pip install the extra" would send a 3.13 user round in a circle."""
    out = _run_without_extras(*RUN_ARGV)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr  # no traceback
    line = lines[0]
    assert "'live' extra" in line and "dydx_v4_client" in line, line
    if sys.version_info >= (3, 13):
        assert "Python 3.11 or 3.12" in line and "pip install" not in line, line
    else:
        assert "pip install 'streamreplay-tradingbot[live]'" in line, line
