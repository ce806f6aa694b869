"""Which way the imports point: the session (which decides) knows nothing of the proxy (which
plays), and the proxy's addons share flow code through ``proxy/flows.py``, not each other."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_streamreplay"


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add("." * node.level + node.module)
    return names


def test_the_session_imports_nothing_of_the_proxy() -> None:
    code = (
        "import sys, pytest_streamreplay.session\n"
        "print([m for m in sys.modules if m.startswith('pytest_streamreplay.proxy')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
    assert not any("proxy" in m for m in _imported_modules(PACKAGE / "session.py"))


def test_the_addons_do_not_import_each_other() -> None:
    http = _imported_modules(PACKAGE / "proxy" / "http_addon.py")
    ws = _imported_modules(PACKAGE / "proxy" / "ws_addon.py")
    assert ".ws_addon" not in http and ".http_addon" not in ws
    assert ".flows" in http and ".flows" in ws
