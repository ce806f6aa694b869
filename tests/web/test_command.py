"""``streamreplay web``: registration, and one-line errors instead of tracebacks."""

from __future__ import annotations

import contextlib
import io
import socket
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_missing_fastapi_is_one_clear_line(tmp_path: Path) -> None:
    """In a fresh process, where nothing has imported the web package yet."""
    script = (
        "import sys; sys.modules['fastapi'] = None\n"
        "from pytest_streamreplay.cli import main\n"
        f"sys.exit(main(['web', {str(tmp_path)!r}, '--port', '0']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1, result.stdout
    assert result.stderr.strip().splitlines() == [
        "streamreplay: error: streamreplay web needs FastAPI, uvicorn and plotly (fastapi): "
        "install pytest-streamreplay[web]"
    ]


@pytest.mark.parametrize("module", ["uvicorn", "plotly"])
def test_missing_uvicorn_or_plotly_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    code, out, err = run_inline("web", str(tmp_path), "--port", "0")
    assert code == 1 and out == ""
    assert err.strip() == (
        f"streamreplay: error: streamreplay web needs FastAPI, uvicorn and plotly ({module}): "
        "install pytest-streamreplay[web]"
    )


def test_the_real_command_serves_the_api(tmp_path: Path) -> None:
    """``streamreplay web DIR --port 0`` prints its address and answers on it."""
    import httpx

    from pytest_streamreplay.cassette import new_header, write_cassette

    write_cassette(tmp_path / "one.jsonl", new_header(test="t::one"), [])
    script = Path(sys.executable).with_name("streamreplay")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "pytest_streamreplay.cli"]
    process = subprocess.Popen(
        [*cmd, "web", str(tmp_path), "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(f"serving {tmp_path.resolve()} at http://127.0.0.1:")
        url = line.rsplit(" at ", 1)[1].strip()
        body = httpx.get(url + "api/cassettes", timeout=30).json()
        assert [(c["name"], c["test"]) for c in body["cassettes"]] == [("one.jsonl", "t::one")]
        assert httpx.get(url + "openapi.json", timeout=30).json()["info"]["title"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_real_command_guards_hosts_and_writes(tmp_path: Path) -> None:
    """The served app checks Host (plus ``--allow-host``) and wants the printed token on POSTs."""
    import httpx

    from pytest_streamreplay.cassette import new_header, write_cassette

    write_cassette(tmp_path / "one.jsonl", new_header(test="t::one"), [])
    script = Path(sys.executable).with_name("streamreplay")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "pytest_streamreplay.cli"]
    args = ["web", str(tmp_path), "--port", "0", "--allow-host", "box.lan"]
    process = subprocess.Popen([*cmd, *args], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().rsplit(" at ", 1)[1].strip()
        token_line = process.stdout.readline()
        assert token_line.startswith("API write token (header X-StreamReplay-Token): ")
        token = token_line.rsplit(" ", 1)[1].strip()
        with httpx.Client(base_url=url, timeout=30, trust_env=False) as client:
            assert client.get("api/cassettes", headers={"Host": "evil.example"}).status_code == 421
            assert client.get("api/cassettes", headers={"Host": "box.lan:1"}).status_code == 200
            cut = {"output": "cut.jsonl"}
            assert client.post("api/cassettes/one.jsonl/filter", json=cut).status_code == 403
            assert not (tmp_path / "cut.jsonl").exists()
            headers = {"X-StreamReplay-Token": token}
            made = client.post("api/cassettes/one.jsonl/filter", json=cut, headers=headers)
            assert made.status_code == 201, made.text
            assert (tmp_path / "cut.jsonl").is_file()
    finally:
        process.terminate()
        process.wait(timeout=10)


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
