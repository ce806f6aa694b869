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


# Each layer of docs/architecture.md and the layers it must not import (upward or sideways).
LAYERS = {
    "cassette": {"proxy", "session", "harness", "plugin", "commands", "web", "streams", "settings"},
    "proxy": {"plugin", "harness", "commands", "web", "streams", "vcr_plugin", "vcr_compat"},
    "session": {"proxy", "plugin", "harness", "commands", "web"},
    "commands": {"proxy", "plugin", "harness", "session"},
    "web": {"proxy", "plugin", "harness", "session"},
    "options": {"cassette", "proxy", "session", "harness", "plugin", "settings"},
}


def _package_imports(path: Path) -> set[str]:
    """The top-level package modules a file imports, absolute or relative (lazily too)."""
    rel = path.relative_to(PACKAGE)
    depth = len(rel.parts) - 1  # folders below the package
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                up = node.level - 1
                base = list(rel.parts[:-1])[: depth - up] if up <= depth else []
                parts = base + (node.module.split(".") if node.module else [])
                if not parts and node.level - 1 == depth:  # `from .. import x`
                    parts = [alias.name for alias in node.names]
                if parts:
                    found.add(parts[0])
            elif node.module and node.module.startswith("pytest_streamreplay."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("pytest_streamreplay."):
                    found.add(alias.name.split(".")[1])
    return found


def test_every_layer_imports_only_downward() -> None:
    wrong = []
    for layer, forbidden in LAYERS.items():
        folder = PACKAGE / layer
        files = sorted(folder.rglob("*.py")) if folder.is_dir() else [PACKAGE / f"{layer}.py"]
        for path in files:
            bad = (_package_imports(path) - {layer}) & forbidden
            if bad:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {sorted(bad)}")
    assert wrong == []
