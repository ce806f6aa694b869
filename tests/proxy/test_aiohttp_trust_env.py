"""aiohttp's trust_env default while bound, for aiohttp imported before and inside the block."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
from pytest_streamreplay.proxy.compat import aiohttp_trusts_env

def default():
    return sys.modules["aiohttp"].ClientSession.__init__.__kwdefaults__["trust_env"]

if sys.argv[1] == "before":
    import aiohttp
with aiohttp_trusts_env():
    import aiohttp
    inside = default()
print(inside, default(), any(type(f).__name__ == "_PatchOnImport" for f in sys.meta_path))
"""


def _run(when: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", CODE, when], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_default_flips_for_an_already_imported_aiohttp_and_is_restored() -> None:
    assert _run("before") == "True False False"


def test_default_flips_when_aiohttp_is_first_imported_inside_the_block() -> None:
    assert _run("inside") == "True False False"
