"""``streamreplay web``: registration, and one-line errors instead of tracebacks."""

from __future__ import annotations

import contextlib
import io
import socket
import subprocess
import sys
from pathlib import Path

from pytest_streamreplay.cli import main


def run_inline(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def test_web_is_listed_in_help() -> None:
    code, out, _ = run_inline("--help")
    assert code == 0 and "web" in out
    code, out, _ = run_inline("web", "--help")
    assert code == 0 and "--port" in out and "127.0.0.1" in out and "/openapi.json" in out


def test_missing_web_extra_is_one_clear_line(tmp_path: Path) -> None:
    for module in ("fastapi", "uvicorn", "plotly"):
        script = (
            f"import sys; sys.modules[{module!r}] = None\n"
            "from pytest_streamreplay.cli import main\n"
            f"sys.exit(main(['web', {str(tmp_path)!r}, '--port', '0']))\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 1, result.stdout
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("streamreplay: error: streamreplay web needs FastAPI")
        assert lines[0].endswith("install pytest-streamreplay[web]")
        assert module in lines[0]


def test_missing_directory_is_one_line(tmp_path: Path) -> None:
    code, _, err = run_inline("web", str(tmp_path / "nope"))
    assert code == 1
    assert err.strip() == f"streamreplay: error: {tmp_path / 'nope'}: no such directory"


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run_inline("web", str(tmp_path), "--port", str(port))
    assert code == 1
    assert err.startswith(f"streamreplay: error: cannot listen on 127.0.0.1:{port}:")
    assert "Traceback" not in err
