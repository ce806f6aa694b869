"""The dashboard's API refuses what a hostile web page in the user's browser could send: a
rebound host name (DNS rebinding), write requests without the same-origin token or from
another origin; every answer carries the Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pytest_streamreplay.web import create_app
from pytest_streamreplay.web.security import CONTENT_SECURITY_POLICY, TOKEN_HEADER

from .conftest import TOKEN

FEED = "/api/cassettes/feed/test_book.jsonl"
WRITE = {"output": "stolen.jsonl", "overwrite": True}


@pytest.fixture
def bare(cassette_dir: Path) -> TestClient:
    """A client with no token, addressing the server as 127.0.0.1."""
    return TestClient(create_app(cassette_dir, token=TOKEN), base_url="http://127.0.0.1:8765")


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.nip.io"])
def test_a_foreign_host_header_is_refused(bare: TestClient, host: str) -> None:
    for response in (
        bare.get("/api/cassettes", headers={"Host": host}),
        bare.get("/", headers={"Host": host}),
        bare.post(f"{FEED}/filter", json=WRITE, headers={"Host": host, TOKEN_HEADER: TOKEN}),
    ):
        assert response.status_code == 421, response.text
        assert "not this dashboard" in response.json()["error"]


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "LOCALHOST"])
def test_loopback_names_are_served(bare: TestClient, host: str) -> None:
    assert bare.get("/api/cassettes", headers={"Host": host}).status_code == 200


def test_a_host_the_server_was_started_for_is_served(cassette_dir: Path) -> None:
    app = create_app(cassette_dir, allowed_hosts=["box.lan"])
    client = TestClient(app, base_url="http://box.lan:8765")
    assert client.get("/api/cassettes").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {TOKEN_HEADER: "guess"}, {TOKEN_HEADER: ""}],
    ids=["none", "wrong", "empty"],
)
def test_writes_without_the_token_are_refused(bare: TestClient, cassette_dir, headers) -> None:
    for path, body in (
        (f"{FEED}/filter", WRITE),
        ("/api/cassettes/bot/session.jsonl/replay/start", {"speed": 1.0}),
        ("/api/cassettes/bot/session.jsonl/replay/stop", {}),
    ):
        response = bare.post(path, json=body, headers=headers)
        assert response.status_code == 403, (path, response.text)
        assert TOKEN_HEADER in response.json()["error"]
    assert not (cassette_dir / "stolen.jsonl").exists()


def test_writes_from_another_origin_are_refused_even_with_the_token(bare: TestClient) -> None:
    headers = {TOKEN_HEADER: TOKEN, "Origin": "http://evil.example"}
    assert bare.post(f"{FEED}/filter", json=WRITE, headers=headers).status_code == 403
    headers["Origin"] = "null"
    assert bare.post(f"{FEED}/filter", json=WRITE, headers=headers).status_code == 403


def test_the_token_in_the_page_is_what_writes_need(bare: TestClient, cassette_dir) -> None:
    page = bare.get("/").text
    assert f'<meta name="streamreplay-token" content="{TOKEN}">' in page
    headers = {TOKEN_HEADER: TOKEN, "Origin": "http://127.0.0.1:8765"}
    response = bare.post(f"{FEED}/filter", json=WRITE, headers=headers)
    assert response.status_code == 201, response.text
    assert (cassette_dir / "stolen.jsonl").is_file()


def test_each_app_draws_its_own_token(cassette_dir: Path) -> None:
    tokens = {create_app(cassette_dir).state.token for _ in range(3)}
    assert len(tokens) == 3 and all(len(t) >= 32 for t in tokens)


@pytest.mark.parametrize("path", ["/", "/api/cassettes", "/static/common.js", "/api/nope"])
def test_every_answer_carries_the_policy(bare: TestClient, path: str) -> None:
    response = bare.get(path)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY + ";"
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY.split("script-src")[1].split(";")[0]
    assert response.headers["x-content-type-options"] == "nosniff"


def _write_routes(app) -> list[tuple[str, str]]:
    """Every route of the app that is not a safe method, from the app itself (a new write
    endpoint cannot be forgotten by this test)."""
    out = []
    for route in app.routes:
        for method in sorted(getattr(route, "methods", None) or ()):
            if method not in ("GET", "HEAD", "OPTIONS"):
                out.append((method, route.path))
    return out


def test_every_write_endpoint_is_refused_without_the_token_or_from_elsewhere(
    cassette_dir: Path,
) -> None:
    app = create_app(cassette_dir, token=TOKEN)
    routes = _write_routes(app)
    assert len(routes) >= 6, routes  # filter and the five replay controls
    client = TestClient(app, base_url="http://127.0.0.1:8765")
    before = sorted(p.relative_to(cassette_dir) for p in cassette_dir.rglob("*"))
    for method, template in routes:
        path = template.replace("{name:path}", "feed/test_book.jsonl")
        attempts = {
            "no token": ({}, 403),
            "wrong token": ({TOKEN_HEADER: TOKEN[:-1] + "x"}, 403),
            "foreign origin": ({TOKEN_HEADER: TOKEN, "Origin": "http://evil.example"}, 403),
            "rebound host": ({TOKEN_HEADER: TOKEN, "Host": "evil.example:8765"}, 421),
        }
        for what, (headers, status) in attempts.items():
            response = client.request(method, path, json=WRITE, headers=headers)
            assert response.status_code == status, (method, path, what, response.text)
    assert sorted(p.relative_to(cassette_dir) for p in cassette_dir.rglob("*")) == before


@pytest.mark.parametrize(
    "output", ["../stolen.jsonl", "/tmp/stolen.jsonl", "evil_module.py", "sub/../../x.jsonl"]
)
def test_a_filtered_cassette_is_written_only_as_a_cassette_in_the_directory(
    bare: TestClient, cassette_dir: Path, output: str
) -> None:
    headers = {TOKEN_HEADER: TOKEN}
    response = bare.post(f"{FEED}/filter", json={"output": output}, headers=headers)
    assert response.status_code == 400, response.text
    assert not (cassette_dir.parent / "stolen.jsonl").exists()
    assert not Path("/tmp/stolen.jsonl").exists() and not (cassette_dir / "evil_module.py").exists()
