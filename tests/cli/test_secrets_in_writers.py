"""Every writer redacts by default: ``import`` (vcrpy, mitmproxy, HAR), ``filter``, an
export-then-import round trip; ``redact --check`` finds every shape (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy import io as mitmio
from mitmproxy.test import tflow

from pytest_streamreplay.cassette import (
    HttpInteraction,
    HttpRequest,
    HttpResponse,
    WsConnection,
    WsMessage,
    encode_body,
    new_header,
    read_cassette,
    write_cassette,
)

from .conftest import Run

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJpbXBvcnQtdGVzdCJ9"
    ".aW1wb3J0LXRlc3Qtc2lnbmF0dXJlLW5vdC1yZWFs"
)
MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"
SECRETS = {
    "authorization": "auth-bearer-111111",
    "cookie": "cookie-value-222222",
    "set_cookie": "set-cookie-333333",
    "password": "pass-word-444444",
    "access_token": "access-token-555555",
    "api_key": "api-key-666666",
    "listen_key": "listenkey0123456789abcdef",
    "jwt": JWT,
    "mnemonic": MNEMONIC,
}


def _assert_clean(path: Path) -> str:
    text = path.read_text()
    for name, secret in SECRETS.items():
        assert secret not in text, f"{name} leaked into {path.name}"
    return text


def _vcr_yaml() -> str:
    s = SECRETS
    return f"""\
interactions:
- request:
    body: '{{"user": "ann", "password": "{s["password"]}", "note": "{s["mnemonic"]}"}}'
    headers:
      Authorization:
      - Bearer {s["authorization"]}
      Cookie:
      - sid={s["cookie"]}
      Content-Type:
      - application/json
    method: POST
    uri: https://api.test/v1/login?api_key={s["api_key"]}&listenKey={s["listen_key"]}
  response:
    body:
      string: '{{"access_token": "{s["access_token"]}", "id_token": "{s["jwt"]}"}}'
    headers:
      Content-Type:
      - application/json
      Set-Cookie:
      - sid={s["set_cookie"]}; Path=/; HttpOnly
    status:
      code: 200
      message: OK
version: 1
"""


def _flow() -> http.HTTPFlow:
    s = SECRETS
    flow = tflow.tflow(resp=True)
    flow.request.url = (
        f"https://api.test/v1/login?api_key={s['api_key']}&listenKey={s['listen_key']}"
    )
    flow.request.method = "POST"
    flow.request.headers["Authorization"] = f"Bearer {s['authorization']}"
    flow.request.headers["Cookie"] = f"sid={s['cookie']}"
    flow.request.headers["Content-Type"] = "application/json"
    flow.request.content = json.dumps(
        {"user": "ann", "password": s["password"], "note": s["mnemonic"]}
    ).encode()
    flow.response.headers["Set-Cookie"] = f"sid={s['set_cookie']}; Path=/; HttpOnly"
    flow.response.headers["Content-Type"] = "application/json"
    flow.response.content = json.dumps(
        {"access_token": s["access_token"], "id_token": s["jwt"]}
    ).encode()
    return flow


def _har() -> str:
    s = SECRETS
    body = json.dumps({"access_token": s["access_token"], "id_token": s["jwt"]})
    entry = {
        "startedDateTime": "2026-01-01T00:00:00.000Z",
        "time": 5,
        "request": {
            "method": "POST",
            "url": f"https://api.test/v1/login?api_key={s['api_key']}&listenKey={s['listen_key']}",
            "httpVersion": "HTTP/1.1",
            "headers": [
                {"name": "Authorization", "value": f"Bearer {s['authorization']}"},
                {"name": "Cookie", "value": f"sid={s['cookie']}"},
                {"name": "Content-Type", "value": "application/json"},
            ],
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": -1,
            "postData": {
                "mimeType": "application/json",
                "text": json.dumps({"password": s["password"], "note": s["mnemonic"]}),
            },
        },
        "response": {
            "status": 200,
            "statusText": "OK",
            "httpVersion": "HTTP/1.1",
            "headers": [
                {"name": "Content-Type", "value": "application/json"},
                {"name": "Set-Cookie", "value": f"sid={s['set_cookie']}; Path=/; HttpOnly"},
            ],
            "cookies": [],
            "content": {"size": len(body), "mimeType": "application/json", "text": body},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": {"send": 0, "wait": 5, "receive": 0},
    }
    return json.dumps(
        {"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": [entry]}}
    )


def _write_source(kind: str, tmp_path: Path) -> Path:
    if kind == "vcr":
        path = tmp_path / "login.yaml"
        path.write_text(_vcr_yaml())
    elif kind == "har":
        path = tmp_path / "login.har"
        path.write_text(_har())
    else:
        path = tmp_path / "login.mitm"
        with open(path, "wb") as fh:
            mitmio.FlowWriter(fh).add(_flow())
    return path


@pytest.mark.parametrize("kind", ["vcr", "mitm", "har"])
def test_import_redacts_by_default(run: Run, tmp_path: Path, kind: str) -> None:
    source = _write_source(kind, tmp_path)
    out = tmp_path / "out.jsonl"
    result = run("import", str(source), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "redacted" in result.stdout, result.stdout
    _assert_clean(out)
    (record,) = read_cassette(out)[1]
    assert isinstance(record, HttpInteraction)
    set_cookie = dict(record.response.headers)["Set-Cookie"]
    assert set_cookie.startswith("sid=REDACTED-cookie-") and set_cookie.endswith(
        "; Path=/; HttpOnly"
    )
    assert record.request.json["user" if kind != "har" else "password"] is not None


@pytest.mark.parametrize("kind", ["vcr", "mitm", "har"])
def test_import_no_redact_keeps_secrets_and_says_so(run: Run, tmp_path: Path, kind: str) -> None:
    source = _write_source(kind, tmp_path)
    out = tmp_path / "out.jsonl"
    result = run("import", str(source), "-o", str(out), "--no-redact")
    assert result.returncode == 0, result.stderr
    assert "not redacted (--no-redact)" in result.stdout + result.stderr
    text = out.read_text()
    assert SECRETS["password"] in text and SECRETS["authorization"] in text


def _cassette_with_secrets(path: Path) -> Path:
    s = SECRETS
    records = [
        HttpInteraction(
            0,
            HttpRequest(
                "POST",
                f"https://api.test/login?api_key={s['api_key']}",
                [
                    ("Authorization", f"Bearer {s['authorization']}"),
                    ("Cookie", f"sid={s['cookie']}"),
                ],
                encode_body(json.dumps({"password": s["password"]}).encode()),
            ),
            HttpResponse(
                200,
                "OK",
                headers=[("Set-Cookie", f"sid={s['set_cookie']}; Path=/")],
                body=encode_body(json.dumps({"access_token": s["access_token"]}).encode()),
            ),
        ),
        WsConnection(1, f"wss://stream.test/ws/{s['listen_key']}?listenKey={s['listen_key']}"),
        WsMessage.build(
            1,
            "send",
            1.0,
            json.dumps(
                {"action": "auth", "key": "PKKEY1234567890", "secret": "ws-secret-777777"}
            ).encode(),
            False,
        ),
        WsMessage.build(1, "recv", 2.0, f"welcome {JWT}; seed {MNEMONIC}".encode(), False),
    ]
    write_cassette(path, new_header(), records)
    return path


def test_redact_check_finds_every_shape_and_redact_fixes_it(run: Run, tmp_path: Path) -> None:
    cassette = _cassette_with_secrets(tmp_path / "leaky.jsonl")
    result = run("redact", str(cassette), "--check")
    assert result.returncode == 1
    assert "would change 4 records of 4" in result.stdout
    assert run("redact", str(cassette)).returncode == 0
    text = _assert_clean(cassette)
    assert "PKKEY1234567890" not in text and "ws-secret-777777" not in text
    again = run("redact", str(cassette), "--check")
    assert again.returncode == 0 and "would change 0 records" in again.stdout


def test_export_then_import_redacts(run: Run, tmp_path: Path) -> None:
    cassette = _cassette_with_secrets(tmp_path / "leaky.jsonl")
    flows = tmp_path / "leaky.mitm"
    assert run("export", str(cassette), "-o", str(flows)).returncode == 0
    back = tmp_path / "back.jsonl"
    assert run("import", str(flows), "-o", str(back)).returncode == 0
    _assert_clean(back)


def test_filter_redacts_by_default(run: Run, tmp_path: Path) -> None:
    cassette = _cassette_with_secrets(tmp_path / "leaky.jsonl")
    out = tmp_path / "cut.jsonl"
    result = run("filter", str(cassette), "-o", str(out), "--connection", "1")
    assert result.returncode == 0, result.stderr
    text = _assert_clean(out)
    assert "ws-secret-777777" not in text
    kept = tmp_path / "kept.jsonl"
    result = run("filter", str(cassette), "-o", str(kept), "--connection", "1", "--no-redact")
    assert result.returncode == 0, result.stderr
    assert "not redacted (--no-redact)" in result.stdout + result.stderr
    assert "ws-secret-777777" in kept.read_text()


def test_redact_check_says_where_and_what_it_found_without_the_values(
    run: Run, tmp_path: Path
) -> None:
    cassette = _cassette_with_secrets(tmp_path / "leaky.jsonl")
    result = run("redact", str(cassette), "--check")
    assert result.returncode == 1
    out = result.stdout
    for secret in [*SECRETS.values(), "PKKEY1234567890", "ws-secret-777777"]:
        assert secret not in out, "the report shows no secret"
    lines = {line.split(":", 1)[0].strip(): line for line in out.splitlines()[1:]}
    assert set(lines) == {"line 2", "line 3", "line 4", "line 5"}, out
    http_line = lines["line 2"]
    for place in ("request.url", "request.headers", "request.body", "response.headers"):
        assert place in http_line, http_line
    assert "cookie" in http_line and "secret" in http_line
    assert "message" in lines["line 4"] and "secret" in lines["line 4"]
    assert "jwt" in lines["line 5"] and "mnemonic" in lines["line 5"]


def test_redact_check_takes_several_cassettes(run: Run, tmp_path: Path) -> None:
    leaky = _cassette_with_secrets(tmp_path / "leaky.jsonl")
    clean = tmp_path / "clean.jsonl"
    write_cassette(clean, new_header(), [WsConnection(0, "wss://stream.test/ws")])
    result = run("redact", "--check", str(clean), str(leaky))
    assert result.returncode == 1
    assert f"{clean}: would change 0 records of 1" in result.stdout
    assert f"{leaky}: would change 4 records of 4" in result.stdout
    assert run("redact", "--check", str(clean)).returncode == 0
