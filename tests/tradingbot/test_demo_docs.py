"""``make demo`` and the page that quotes it run the same command."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_documented_demo_command_is_the_makefiles() -> None:
    make = (REPO / "Makefile").read_text()
    recipe = re.search(r"^demo:.*\n\t(.+)$", make, re.MULTILINE)
    assert recipe is not None
    made = shlex.split(recipe.group(1))
    made = made[made.index("replay") :]  # after `$(BIN)/python -m tradingbot.cli`
    docs = (REPO / "docs" / "cassettes.md").read_text()
    (quoted,) = [ln for ln in docs.splitlines() if "# = make demo" in ln]
    documented = shlex.split(quoted.split("#")[0])
    assert documented[0] == "tradingbot"
    assert documented[1:] == made
