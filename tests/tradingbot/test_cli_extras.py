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
        (
            [
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
            ],
            "live",
            "dydx_v4_client",
        ),
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
