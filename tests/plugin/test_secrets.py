"""Hostile input (issue 12): secrets of every shape in every place, over HTTP, server-sent
events and WebSocket, recorded through the real proxy; no file written holds one; the origin is
stopped and a client that sends the real secrets again replays under --replay-strict."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from pytester_helpers import cassette_files
from secret_servers import SERVER_SECRETS, SecretOrigin, start_secret_origin

# What the client sends: from the environment, so the inner test's source holds none of them.
CLIENT_SECRETS = {
    "C_JWT": (
        "eyJhbGciOiJFUzI1NiIsImtpZCI6ImNsaWVudCJ9.eyJzdWIiOiJob3N0aWxlLWNsaWVudCJ9"
        ".Y2xpZW50LXNpZ25hdHVyZS1ub3QtYS1yZWFsLW9uZQ"
    ),
    "C_PEM": (
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIClientPemBodyNotARealKeyAtAllJustTheShape0\n"
        "Y2xpZW50LXBlbS1zZWNvbmQtbGluZS1vZi1iYXNlNjQtZGF0YQ==\n-----END EC PRIVATE KEY-----"
    ),
    "C_MNEMONIC": "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",  # BIP39 test vector
    "C_AWS": "AKIACLIENTHOSTILE987",
    "C_API": "client-api-key-4b5c6d7e",
    "C_PASSWORD": "client-password-1a2b3c",
    "C_LISTEN": "clientListenKey9f8e7d6c5b4a3210",
    "WS_KEY": "PKCLIENTWSKEY4455667788",
    "WS_SECRET": "client-ws-secret-aa11bb22",
}

INNER = """
import json, os, pathlib, httpx, pytest, requests, websocket

E = os.environ
OUT = pathlib.Path(E["OUT"])
MATCH = ["method", "uri", "body", "headers[authorization,cookie,x-api-key,x-note]"]


def note(name, value):
    (OUT / f"{name}-{len(list(OUT.glob(name + '-*')))}.json").write_text(json.dumps(value))


@pytest.mark.streamreplay(match_on=MATCH)
def test_http_and_sse():
    base = E["ORIGIN"]
    s = requests.Session()
    r = s.post(
        base + "/login?listenKey=" + E["C_LISTEN"] + "&api_key=" + E["C_API"] + "&page=2",
        headers={"Authorization": "Bearer " + E["C_JWT"], "X-API-Key": E["C_API"],
                 "X-Note": E["C_MNEMONIC"]},
        json={"user": "ann", "password": E["C_PASSWORD"], "seedPhrase": E["C_MNEMONIC"],
              "privateKey": E["C_PEM"], "aws": E["C_AWS"], "note": "jwt " + E["C_JWT"]},
    )
    assert r.status_code == 200, r.text
    sid = r.cookies.get("sid")
    assert sid is not None, "the cookie keeps its name on replay"
    note("sid", sid.startswith("REDACTED-cookie-"))
    token = r.json()["access_token"]
    assert r.json()["wallet"]["seedPhrase"]
    r = s.post(base + "/echo", data={"password": E["C_PASSWORD"], "listenKey": E["C_LISTEN"],
                                     "phrase": E["C_MNEMONIC"], "n": "1"},
               headers={"Authorization": "Bearer " + token})
    assert r.status_code == 200 and "query=" in r.text
    r = s.post(base + "/echo", headers={"Content-Type": "text/plain"},
               data=("text " + E["C_MNEMONIC"] + " / " + E["C_JWT"] + "\\n" + E["C_PEM"]
                     + "\\n" + E["C_AWS"]).encode())
    assert r.status_code == 200
    with httpx.stream("GET", base + "/sse?listenKey=" + E["C_LISTEN"]) as resp:
        body = b"".join(resp.iter_bytes())
    assert body.count(b"data: ") == 4, body


@pytest.mark.streamreplay
def test_websocket():
    ws = websocket.create_connection(
        E["WS_URL"] + "?listenKey=" + E["C_LISTEN"],
        header=["Authorization: Bearer " + E["C_JWT"], "X-API-Key: " + E["C_API"]],
        timeout=10,
    )
    try:
        assert json.loads(ws.recv())["type"] == "hello"
        ws.send(json.dumps({"action": "auth", "key": E["WS_KEY"], "secret": E["WS_SECRET"]}))
        assert json.loads(ws.recv())["status"] == "authorized"
        ws.send("my seed is " + E["C_MNEMONIC"] + " and my token " + E["C_JWT"])
        assert ws.recv().startswith("echo: ")
        ws.send(json.dumps({"privateKey": E["C_PEM"], "aws": E["C_AWS"], "n": 1}))
        assert "echo" in json.loads(ws.recv())
    finally:
        ws.close()
"""


@pytest.fixture
def secret_origin() -> Iterator[SecretOrigin]:
    server = start_secret_origin()
    yield server
    server.stop()


def _forms(secret: str) -> set[str]:
    """Every way a secret can be written into a file: as is, JSON-escaped, URL-encoded, and
    each line of a multi-line one (a PEM body)."""
    forms = {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret)}
    forms |= {line for line in secret.splitlines() if len(line) >= 16 and "-----" not in line}
    return forms


def _leaks(root: Path, secrets: dict[str, str]) -> list[str]:
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for name, secret in secrets.items():
            for form in _forms(secret):
                if form.encode() in data:
                    found.append(f"{name} in {path.relative_to(root)} as {form[:40]!r}")
    return found


def test_every_secret_shape_in_every_place_is_redacted_and_replays(
    inner: pytest.Pytester, secret_origin: SecretOrigin, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in CLIENT_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ORIGIN", secret_origin.url)
    monkeypatch.setenv("WS_URL", secret_origin.url.replace("http://", "ws://") + "/ws")
    inner.makepyfile(test_hostile=INNER)
    inner.runpytest("--record-mode=once").assert_outcomes(passed=2)

    cassettes = sorted((inner.path / "cassettes").rglob("*.jsonl"))
    assert len(cassettes) == 2
    leaks = _leaks(inner.path, {**CLIENT_SECRETS, **SERVER_SECRETS})
    assert not leaks, "secrets written to disk:\n" + "\n".join(leaks)
    text = "".join(p.read_text() for p in cassettes)
    for kind in ("jwt", "pem", "mnemonic", "aws", "cookie", "secret"):
        assert f"REDACTED-{kind}-" in text, f"no {kind} placeholder: {kind} went undetected?"
    assert "page=2" in text and '"user":"ann"' in text, "ordinary values stay"

    secret_origin.stop()
    result = inner.runpytest("--replay-strict")
    result.assert_outcomes(passed=2)
    sids = [json.loads(p.read_text()) for p in sorted((inner.path / "out").glob("sid-*.json"))]
    assert sids == [False, True], "recorded with the real cookie, replayed with its placeholder"
    assert not _leaks(inner.path / "cassettes", {**CLIENT_SECRETS, **SERVER_SECRETS})


COOKIE_TEST = """
import os, requests, pytest

@pytest.mark.streamreplay(match_on=["method", "uri", "headers[cookie]"])
def test_login_keeps_its_cookie():
    s = requests.Session()
    r = s.get(os.environ["ORIGIN"] + "/secret")
    value = r.cookies.get("session")
    assert value is not None, "the cookie is missing under its name"
    assert value == "server-cookie-456" or value.startswith("REDACTED-cookie-")
    assert s.get(os.environ["ORIGIN"] + "/profile").status_code == 200  # sends it back
"""


def test_set_cookie_keeps_name_and_attributes_so_replayed_clients_find_it(
    inner: pytest.Pytester, origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(test_cookie=COOKIE_TEST)
    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    (cassette,) = sorted((inner.path / "cassettes").rglob("*.jsonl"))
    text = cassette.read_text()
    assert "server-cookie-456" not in text
    first = json.loads(text.splitlines()[1])
    assert dict(first["response"]["headers"])["Set-Cookie"] == (
        "session=REDACTED-cookie-1; HttpOnly"
    )
    origin.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)


# Variants a reviewer tries next (tests/cassette/test_redaction_variants.py has them one by one):
# sent by the client from its environment, echoed by the origin, recorded through the proxy,
# then replayed under --replay-strict with the same real values.
VARIANT_SECRETS = {
    "V_CF_KEY": "cf-legacy-key-0a1b2c3d4e",
    "V_GATE_KEY": "gate-key-5f6a7b8c9d",
    "V_GATE_SIGN": "gate-sign-1e2f3a4b5c6d",
    "V_YAML_PW": "yaml-password-77aa88bb",
    "V_DB_PW": "db-password-99cc00dd",
    "V_BYBIT_KEY": "bybitKeyXYZ1234567890",
    "V_BYBIT_SIG": "bybit-signature-abcdef0123",
    "V_BFX_SIG": "bfx-auth-sig-4455aa66bb",
}
PHRASE = "Letter advice cage absurd amount doctor acoustic avoid letter advice cage above"

VARIANTS = """
import json, os, requests, pytest, websocket

E = os.environ
PHRASE = E["V_PHRASE"]


@pytest.mark.streamreplay(match_on=["method", "uri", "body", "headers[x-auth-key,key,sign]"])
def test_http_variants():
    r = requests.post(
        E["ORIGIN"] + "/echo",
        headers={"X-Auth-Key": E["V_CF_KEY"], "KEY": E["V_GATE_KEY"], "SIGN": E["V_GATE_SIGN"],
                 "Content-Type": "text/plain"},
        data=("password: " + E["V_YAML_PW"] + "\\nbackup: " + PHRASE.upper() + "\\n"
              + "dsn: postgres://app:" + E["V_DB_PW"] + "@db.internal/app\\n"),
    )
    assert r.status_code == 200 and "body=password: " in r.text
    r = requests.post(E["ORIGIN"] + "/echo", json={"words": PHRASE.split(), "n": 1})
    assert r.status_code == 200


@pytest.mark.streamreplay
def test_websocket_logins():
    ws = websocket.create_connection(E["WS_URL"], timeout=10)
    try:
        ws.recv()
        ws.send(json.dumps({"op": "auth", "args": [E["V_BYBIT_KEY"], 1662350400000,
                                                   E["V_BYBIT_SIG"]]}))
        assert "echo" in json.loads(ws.recv())
        ws.send(json.dumps({"event": "auth", "apiKey": E["V_CF_KEY"], "authSig": E["V_BFX_SIG"]}))
        assert "echo" in json.loads(ws.recv())
        ws.send("my words: " + ", ".join(PHRASE.split()))
        assert ws.recv().startswith("echo: ")
    finally:
        ws.close()
"""


def test_variants_of_the_secrets_are_redacted_and_replay_with_the_real_values(
    inner: pytest.Pytester, secret_origin: SecretOrigin, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in VARIANT_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("V_PHRASE", PHRASE)
    monkeypatch.setenv("ORIGIN", secret_origin.url)
    monkeypatch.setenv("WS_URL", secret_origin.url.replace("http://", "ws://") + "/ws")
    inner.makepyfile(test_variants=VARIANTS)
    inner.runpytest("--record-mode=once").assert_outcomes(passed=2)

    secrets = {**VARIANT_SECRETS, "phrase": PHRASE.lower(), **SERVER_SECRETS}
    leaks = _leaks(inner.path, secrets)
    words = [w for w in ("sausage", "acoustic", "ACOUSTIC", "Acoustic")]
    text = "".join(p.read_text() for p in sorted((inner.path / "cassettes").rglob("*.jsonl")))
    leaks += [f"seed word {w!r}" for w in words if w in text]
    assert not leaks, "secrets written to disk:\n" + "\n".join(leaks)
    assert "postgres://app:REDACTED-password-" in text and "@db.internal/app" in text

    secret_origin.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=2)


COOKIE_CLIENTS = """
import asyncio, os, aiohttp, httpx, pytest, requests

ORIGIN = os.environ["ORIGIN"]
MATCH = ["method", "uri", "headers[cookie]"]


def check(value):
    assert value is not None, "the cookie is missing under its name"
    assert value == "server-cookie-456" or value.startswith("REDACTED-cookie-"), value


@pytest.mark.streamreplay(match_on=MATCH)
def test_httpx():
    with httpx.Client() as client:
        check(client.get(ORIGIN + "/secret").cookies.get("session"))
        check(client.cookies.get("session"))
        assert client.get(ORIGIN + "/profile").status_code == 200


@pytest.mark.streamreplay(match_on=MATCH)
def test_aiohttp():
    async def run():
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            async with s.get(ORIGIN + "/secret") as r:
                check(r.cookies["session"].value)
                assert r.cookies["session"]["httponly"]
            check({c.key: c.value for c in s.cookie_jar}.get("session"))
            async with s.get(ORIGIN + "/profile") as r:
                assert r.status == 200

    asyncio.run(run())


@pytest.mark.streamreplay(match_on=MATCH)
def test_requests_cookie_sent_back():
    s = requests.Session()
    check(s.get(ORIGIN + "/secret").cookies.get("session"))
    r = s.get(ORIGIN + "/profile")
    assert r.status_code == 200
    sent = r.request.headers["Cookie"]
    assert sent.startswith("session=") and len(sent) > len("session=")
"""


def test_every_clients_cookie_jar_finds_the_redacted_cookie_and_sends_it_back(
    inner: pytest.Pytester, origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(test_cookie_clients=COOKIE_CLIENTS)
    inner.runpytest("--record-mode=once").assert_outcomes(passed=3)
    text = "".join(p.read_text() for p in cassette_files(inner))
    assert "server-cookie-456" not in text
    assert text.count("session=REDACTED-cookie-1; HttpOnly") == 3
    assert text.count('"Cookie","session=REDACTED-cookie-1"') == 3
    origin.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=3)


SUBPROTOCOL = """
import json, os, pytest, websocket

@pytest.mark.streamreplay
def test_token_as_subprotocol():
    token = os.environ["C_JWT"]
    ws = websocket.create_connection(os.environ["WS_URL"], subprotocols=[token, "chat"], timeout=10)
    try:
        assert ws.getsubprotocol() == token.lower()  # websocket-client lower-cases it
        got = json.loads(ws.recv())["protocol"]
        assert got == token or got.startswith("REDACTED-jwt-"), got
    finally:
        ws.close()
"""


def test_a_token_sent_as_a_websocket_subprotocol_is_redacted_and_replays(
    inner: pytest.Pytester, secret_origin: SecretOrigin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handshake's subprotocol, offered and selected: redacted everywhere it is written, and
    the replayed handshake still selects the client's real token, as the origin did."""
    monkeypatch.setenv("C_JWT", CLIENT_SECRETS["C_JWT"])
    monkeypatch.setenv("WS_URL", secret_origin.url.replace("http://", "ws://") + "/ws-protocol")
    inner.makepyfile(test_subprotocol=SUBPROTOCOL)
    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    assert not _leaks(inner.path, {"C_JWT": CLIENT_SECRETS["C_JWT"]})
    (cassette,) = cassette_files(inner)
    assert '"subprotocol":"REDACTED-jwt-1"' in cassette.read_text()
    secret_origin.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)


GZIP_SSE = """
import os, httpx, pytest

@pytest.mark.streamreplay
def test_gzip_events():
    with httpx.stream("GET", os.environ["ORIGIN"] + "/sse-gzip") as resp:
        assert resp.headers["content-encoding"] == "gzip"
        body = b"".join(resp.iter_bytes()).decode()
    assert body.count("data: ") == 3 and '"n": 1' in body, body
"""


def test_a_compressed_event_stream_is_redacted_inside_its_compression(
    inner: pytest.Pytester, secret_origin: SecretOrigin, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import zlib

    monkeypatch.setenv("ORIGIN", secret_origin.url)
    inner.makepyfile(test_gzip=GZIP_SSE)
    inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
    (cassette,) = cassette_files(inner)
    (record,) = [json.loads(line) for line in cassette.read_text().splitlines()[1:]]
    chunks = record["response"]["chunks"]
    assert len(chunks) >= 3 and all("base64" in c for c in chunks if c.get("base64"))
    wire = b"".join(base64.b64decode(c["base64"]) for c in chunks if c.get("base64"))
    plain = zlib.decompressobj(47).decompress(wire).decode()
    assert plain.count("data: ") == 3
    for name in ("sse_token", "jwt", "mnemonic"):
        assert SERVER_SECRETS[name] not in plain, f"{name} kept inside the gzip stream"
    assert "REDACTED-jwt-" in plain and "REDACTED-mnemonic-" in plain
    secret_origin.stop()
    inner.runpytest("--replay-strict").assert_outcomes(passed=1)


OLD_RULES = """
import os, requests, pytest

@pytest.mark.streamreplay(match_on=["method", "uri", "body", "headers[x-auth-key]"])
def test_old():
    r = requests.post(os.environ["ORIGIN"] + "/login", headers={"X-Auth-Key": "cf-key-0123456789"},
                      data="password: old-rules-pw-123456\\nuser: ann")
    assert r.json() == {"ok": True}


@pytest.mark.streamreplay
def test_old_ws():
    import json, websocket
    ws = websocket.create_connection(os.environ["ORIGIN"].replace("http", "ws") + "/bot"
                                     + TELEGRAM + "/ws", timeout=10)
    ws.send(json.dumps({"op": "auth", "args": ["bybitOldKey123456", 1700000000000, "oldSig98765"]}))
    assert json.loads(ws.recv()) == {"success": True}
    ws.close()
"""


def test_a_cassette_recorded_under_older_rules_still_matches(inner: pytest.Pytester) -> None:
    """Rules grow (a header name, a text form): a request recorded before, its secret in clear,
    still matches the same live request, whose secret the new rules now find; both sides are
    compared as today's rules redact them. ``redact --check`` then reports the cassette."""
    from pytest_streamreplay.cassette import (
        HttpInteraction,
        HttpRequest,
        HttpResponse,
        WsClose,
        WsConnection,
        WsMessage,
        encode_body,
        new_header,
        write_cassette,
    )

    url = "http://127.0.0.1:9/login"
    request = HttpRequest(
        "POST",
        url,
        [("X-Auth-Key", "cf-key-0123456789"), ("Content-Type", "text/plain")],
        encode_body(b"password: old-rules-pw-123456\nuser: ann"),
    )
    response = HttpResponse(
        200, "OK", headers=[("Content-Type", "application/json")], body=encode_body(b'{"ok":true}')
    )
    path = inner.path / "cassettes" / "test_old_rules" / "test_old.jsonl"
    write_cassette(path, new_header(), [HttpInteraction(0, request, response)])
    telegram = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    auth = {"op": "auth", "args": ["bybitOldKey123456", 1700000000000, "oldSig98765"]}
    ws_url = f"ws://127.0.0.1:9/bot{telegram}/ws"
    write_cassette(
        path.with_name("test_old_ws.jsonl"),
        new_header(),
        [
            WsConnection(0, ws_url),
            WsMessage.build(0, "send", 1.0, json.dumps(auth).encode(), False),
            WsMessage.build(0, "recv", 2.0, b'{"success": true}', False),
            WsClose(0, 3.0, 1000, "", "client"),
        ],
    )
    source = OLD_RULES.replace('os.environ["ORIGIN"]', repr(url[:-6]))
    inner.makepyfile(test_old_rules=f"TELEGRAM = {telegram!r}\n" + source)
    inner.runpytest("--replay-strict").assert_outcomes(passed=2)
    check = inner.run(sys.executable, "-m", "pytest_streamreplay.cli", "redact", "--check", path)
    assert check.ret == 1 and "would change 1 record of 1" in check.stdout.str()
