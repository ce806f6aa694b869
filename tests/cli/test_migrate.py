"""``streamreplay migrate``: a pytest-recording tree of vcrpy cassettes in one command."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from vcr.request import Request
from vcr.serialize import serialize
from vcr.serializers import yamlserializer

from pytest_streamreplay.cassette import HttpInteraction, read_cassette

from .conftest import Run


def write_vcr(path: Path, *pairs: tuple[Request, dict]) -> Path:
    """A cassette as vcrpy itself writes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"requests": [p[0] for p in pairs], "responses": [p[1] for p in pairs]}
    path.write_text(serialize(data, yamlserializer))
    return path


def response(body: bytes, headers: dict[str, list[str]] | None = None, code: int = 200) -> dict:
    return {
        "status": {"code": code, "message": "OK"},
        "headers": headers or {"Content-Type": ["application/json"]},
        "body": {"string": body},
    }


def project(root: Path) -> dict[str, Path]:
    """pytest-recording's default layout, a vcr_cassette_dir override, and things to leave."""
    token = json.dumps({"access_token": "tok-0123456789", "user": "ada"}).encode()
    files = {
        "default": write_vcr(
            root / "tests" / "cassettes" / "test_users" / "test_login.yaml",
            (
                Request(
                    "POST",
                    "https://api.test/login",
                    '{"password": "hunter2-long"}',
                    {
                        "Authorization": "Bearer sk-live-abcdef123456",
                        "Content-Type": "application/json",
                    },
                ),
                response(token),
            ),
            (
                Request("GET", "https://api.test/feed?page=1", None, {}),
                response(
                    gzip.compress(b'{"items": [1, 2, 3]}'),
                    {"Content-Type": ["application/json"], "Content-Encoding": ["gzip"]},
                ),
            ),
        ),
        "class": write_vcr(
            root / "tests" / "api" / "cassettes" / "test_items" / "TestItems.test_list.yaml",
            (Request("GET", "https://api.test/items", None, {}), response(b"[]")),
            (Request("GET", "https://api.test/items", None, {}), response(b"[1]")),
        ),
        "override": write_vcr(
            root / "tests" / "recorded" / "shared.yml",
            (Request("DELETE", "https://api.test/items/1", None, {}), response(b"", code=204)),
        ),
    }
    (root / "tests" / "cassettes" / "notes.yaml").write_text("title: not a cassette\n")
    write_vcr(
        root / ".venv" / "lib" / "site-packages" / "pkg" / "cassettes" / "x" / "t.yaml",
        (Request("GET", "https://api.test/", None, {}), response(b"{}")),
    )
    return files


def _jsonl(path: Path) -> Path:
    stem = path.name.rsplit(".", 1)[0]
    return path.with_name(stem + ".jsonl")


def test_check_lists_then_migrate_converts_redacts_and_is_idempotent(
    run: Run, tmp_path: Path
) -> None:
    files = project(tmp_path)
    check = run("migrate", "--check")
    assert check.returncode == 1, check.stderr
    for path in files.values():
        assert str(path.relative_to(tmp_path)) in check.stdout
        assert not _jsonl(path).exists()
    assert "3 cassettes to migrate" in check.stdout
    assert ".venv" not in check.stdout and "notes" not in check.stdout

    result = run("migrate", process=True)
    assert result.returncode == 0, result.stderr
    assert "migrated 3 cassettes (5 HTTP interactions)" in result.stdout
    expected = {
        "default": "tests/cassettes/test_users/test_login.jsonl",
        "class": "tests/api/cassettes/test_items/TestItems.test_list.jsonl",
        "override": "tests/recorded/shared.jsonl",
    }
    for key, target in expected.items():
        assert (tmp_path / target).exists(), key
        assert f"{files[key].relative_to(tmp_path)} -> {target}" in result.stdout
    assert "secrets redacted in 1 interaction" in result.stdout

    login_cassette = tmp_path / expected["default"]
    text = login_cassette.read_text()
    for secret in ("sk-live-abcdef123456", "tok-0123456789", "hunter2-long"):
        assert secret not in text
    login, feed = read_cassette(login_cassette)[1]
    assert isinstance(login, HttpInteraction) and isinstance(feed, HttpInteraction)
    assert login.response.json["access_token"].startswith("REDACTED")
    assert login.response.json["user"] == "ada"
    assert feed.response.json == {"items": [1, 2, 3]}, "gzip body decoded"
    assert feed.response.header("content-encoding") == "gzip"
    header = json.loads(text.splitlines()[0])
    assert header["source"] == {"format": "vcr", "file": "test_login.yaml"}

    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.jsonl")}
    again = run("migrate")
    assert again.returncode == 0 and "3 already migrated" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.jsonl")} == before
    assert run("migrate", "--check").returncode == 0


def test_bad_cassettes_are_named_and_the_rest_converted(run: Run, tmp_path: Path) -> None:
    files = project(tmp_path)
    broken = tmp_path / "tests" / "cassettes" / "test_users" / "test_broken.yaml"
    broken.write_text("interactions:\n- request: [\n")
    result = run("migrate", "tests")
    assert result.returncode == 1
    assert "migrated 3 cassettes" in result.stdout
    assert (
        f"{Path('tests/cassettes/test_users/test_broken.yaml')}: not valid vcrpy YAML at line"
        in (result.stderr)
    )
    assert not _jsonl(broken).exists()
    assert all(_jsonl(p).exists() for p in files.values())


def test_remove_and_force(run: Run, tmp_path: Path) -> None:
    files = project(tmp_path)
    assert run("migrate").returncode == 0
    target = _jsonl(files["class"])
    target.write_text("stale")
    result = run("migrate", "--force", "--remove-yaml")
    assert result.returncode == 0, result.stderr
    assert read_cassette(target)[1], "--force converts again"
    assert not any(p.exists() for p in files.values()), "--remove-yaml deletes the sources"
    assert (tmp_path / "tests" / "cassettes" / "notes.yaml").exists()


def test_nothing_to_migrate_says_where_it_looked(run: Run, tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    result = run("migrate", "tests")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "streamreplay: error: no vcrpy cassettes (.yaml, .yml, .json with an 'interactions' "
        f"list) under {Path('tests')}"
    )


def test_aiohttp_json_bodies_recorded_by_vcrpy_become_json(run: Run, tmp_path: Path) -> None:
    """vcrpy's aiohttp patch stores ``json=`` as a YAML mapping (keys sorted, no Content-Type
    header); it was imported as Python's repr and never matched the live JSON body again."""
    import asyncio

    import aiohttp
    import vcr
    from servers import start_origin

    origin = start_origin()
    source = tmp_path / "cassettes" / "test_orders" / "test_post.yaml"

    async def post() -> None:
        async with aiohttp.ClientSession() as session:
            for body in ({"sku": "A1", "qty": 2}, [1, {"b": None}]):
                async with session.post(origin.url + "/orders", json=body) as answer:
                    await answer.read()

    try:
        with vcr.use_cassette(str(source), record_mode="all"):
            asyncio.run(post())
    finally:
        origin.stop()
    assert "qty: 2" in source.read_text(), "vcrpy wrote the body as a mapping"
    assert run("migrate").returncode == 0
    first, second = read_cassette(source.with_suffix(".jsonl"))[1]
    assert isinstance(first, HttpInteraction) and isinstance(second, HttpInteraction)
    assert first.request.json == {"sku": "A1", "qty": 2}
    assert second.request.json == [1, {"b": None}]
