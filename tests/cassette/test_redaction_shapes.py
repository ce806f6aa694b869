"""Secrets found by shape and by name in every place a record can hold one (issue 12)."""

from __future__ import annotations

import json
import re

import pytest
from secret_samples import (
    AWS_ID,
    AWS_SECRET,
    JWT,
    LISTEN_KEY,
    MNEMONIC,
    MNEMONIC24,
    PEM,
    SHAPED,
    WS_KEY,
    WS_SECRET,
    _gone,
)

from pytest_streamreplay.cassette import (
    Chunk,
    HttpInteraction,
    HttpRequest,
    HttpResponse,
    WsConnection,
    WsMessage,
)
from pytest_streamreplay.cassette.body import encode_body
from pytest_streamreplay.cassette.redaction import Redactor


def _http(
    url="https://a.test/x",
    headers=(),
    body=b"",
    resp_headers=(),
    resp_body=b"",
    chunks=None,
    ctype="application/json",
) -> HttpInteraction:
    resp = HttpResponse(200, "OK", headers=[("Content-Type", ctype), *resp_headers])
    if chunks is None:
        resp.body = encode_body(resp_body)
    else:
        resp.chunks = [Chunk(float(i), encode_body(c)) for i, c in enumerate(chunks)]
    return HttpInteraction(0, HttpRequest("POST", url, list(headers), encode_body(body)), resp)


@pytest.mark.parametrize("kind", sorted(SHAPED))
def test_shapes_in_text_bodies_and_json_values(kind: str) -> None:
    secret = SHAPED[kind]
    rec = Redactor().record(
        _http(
            body=json.dumps({"note": f"mine: {secret} ok", "n": 1}).encode(),
            resp_body=f"here it is:\n{secret}\nbye".encode(),
            ctype="text/plain",
        )
    )
    _gone(rec, secret)
    assert rec.request.json["n"] == 1 and rec.request.json["note"].startswith("mine: ")
    assert rec.response.content.startswith(b"here it is:\n")


@pytest.mark.parametrize("kind", sorted(SHAPED))
def test_shapes_in_headers_urls_and_websocket_text(kind: str) -> None:
    secret = SHAPED[kind]
    r = Redactor()
    one_line = secret.replace("\n", " ")
    rec = r.record(_http(url="https://a.test/p/" + AWS_ID + "?q=1", headers=[("X-Note", one_line)]))
    _gone(rec, one_line, AWS_ID)
    msg = r.record(WsMessage.build(0, "recv", 1.0, f"frame: {secret}; end".encode(), False))
    _gone(msg, secret)
    assert msg.text.startswith("frame: REDACTED-") and msg.text.endswith("; end")


def test_names_added_by_the_issue() -> None:
    r = Redactor()
    rec = r.record(
        _http(
            url=f"https://api.test/api/v3/userDataStream?listenKey={LISTEN_KEY}&symbol=BTC",
            body=json.dumps(
                {
                    "seedPhrase": "x y z",
                    "recoveryPhrase": "a b c",
                    "phrase": "p q r",
                    "privateKey": "0x" + "ab" * 32,
                    "secretKey": "sk-value-1234",
                }
            ).encode(),
            resp_body=json.dumps({"listenKey": LISTEN_KEY}).encode(),
        )
    )
    text = _gone(rec, LISTEN_KEY, "x y z", "a b c", "p q r", "ab" * 32, "sk-value-1234")
    assert "symbol=BTC" in text
    ws = r.record(WsConnection(1, f"wss://stream.test/ws/{LISTEN_KEY}"))
    _gone(ws, LISTEN_KEY)


def test_websocket_auth_message_key_and_secret() -> None:
    r = Redactor()
    auth = {"action": "auth", "key": WS_KEY, "secret": WS_SECRET}
    msg = r.record(WsMessage.build(0, "send", 1.0, json.dumps(auth).encode(), False))
    _gone(msg, WS_KEY, WS_SECRET)
    assert msg.value["action"] == "auth"
    # OKX-style login: credentials one level down, signature under "sign".
    okx = {
        "op": "login",
        "args": [{"apiKey": "k-123456", "passphrase": "pp-1", "sign": "s-98765432"}],
    }
    msg = r.record(WsMessage.build(0, "send", 2.0, json.dumps(okx).encode(), False))
    _gone(msg, "k-123456", "pp-1", "s-98765432")
    # A "key" in ordinary data stays.
    data = {"type": "update", "key": "BTC-USD", "price": "100"}
    msg = r.record(WsMessage.build(0, "recv", 3.0, json.dumps(data).encode(), False))
    assert msg.value == data


def test_sse_chunks_json_and_text_even_split_across_chunks() -> None:
    events = (
        f'data: {{"token":"tok-sse-123456","n":1}}\n\n'
        f"event: note\ndata: your seed is {MNEMONIC}\n\n"
        f"data: {JWT}\n\n"
    ).encode()
    chunks = [events[:40], events[40:95], events[95:170], events[170:]]
    rec = Redactor().record(_http(chunks=chunks, ctype="text/event-stream"))
    _gone(rec, "tok-sse-123456", MNEMONIC, JWT)
    for part in (JWT[:20], JWT[-20:], "legal winner thank"):
        assert part not in json.dumps(rec.to_json())
    content = rec.response.content.decode()
    assert content.count("data: ") == 3 and content.startswith('data: {"token":"REDACTED')
    assert len(rec.response.chunks) == 4


def test_mnemonics_by_length_and_in_prose() -> None:
    r = Redactor()
    for phrase in (MNEMONIC, MNEMONIC24):
        msg = r.record(WsMessage.build(0, "recv", 1.0, f"seed: {phrase}.".encode(), False))
        _gone(msg, phrase)
    prose = (
        "All the things that matter about this plan: you have what you can use, "
        "and when they arrive there will be more time for other people to find it."
    )
    msg = r.record(WsMessage.build(0, "recv", 1.0, prose.encode(), False))
    assert msg.text == prose
    eleven = " ".join(MNEMONIC.split()[:11])
    msg = r.record(WsMessage.build(0, "recv", 1.0, f"x {eleven} x".encode(), False))
    assert msg.text == f"x {eleven} x"


def test_aws_secret_key_by_name_and_jwt_in_json_everywhere() -> None:
    rec = Redactor().record(
        _http(
            body=json.dumps({"aws_secret_access_key": AWS_SECRET, "cfg": {"id": AWS_ID}}).encode(),
            resp_body=json.dumps({"items": [{"jwt_here": JWT}], "AccessKeyId": AWS_ID}).encode(),
        )
    )
    _gone(rec, AWS_SECRET, AWS_ID, JWT)


def test_same_secret_same_placeholder_different_secrets_differ() -> None:
    r = Redactor()
    a = r.record(
        _http(
            headers=[("Authorization", f"Bearer {JWT}")],
            resp_body=json.dumps({"again": JWT, "other": JWT[:-4] + "AAAA"}).encode(),
        )
    )
    auth = dict(a.request.headers)["Authorization"]
    assert auth.startswith("Bearer REDACTED")
    placeholder = auth.split(" ", 1)[1]
    assert a.response.json["again"] == placeholder
    assert (
        a.response.json["other"].startswith("REDACTED") and a.response.json["other"] != placeholder
    )
    again = Redactor().record(_http(headers=[("Authorization", f"Bearer {JWT}")]))
    assert dict(again.request.headers)["Authorization"] == auth, "deterministic per cassette"


def test_cookies_keep_names_and_attributes() -> None:
    rec = Redactor().record(
        _http(
            headers=[("Cookie", "sid=cookie-client-111111; theme=dark")],
            resp_headers=[("Set-Cookie", "sid=cookie-server-222222; Path=/; HttpOnly; Max-Age=60")],
        )
    )
    _gone(rec, "cookie-client-111111", "cookie-server-222222")
    cookie = dict(rec.request.headers)["Cookie"]
    assert re.fullmatch(r"sid=REDACTED[\w-]*; theme=REDACTED[\w-]*", cookie), cookie
    set_cookie = dict(rec.response.headers)["Set-Cookie"]
    assert re.fullmatch(r"sid=REDACTED[\w-]*; Path=/; HttpOnly; Max-Age=60", set_cookie), set_cookie


def test_live_request_with_the_real_secrets_matches_the_recording() -> None:
    from pytest_streamreplay.cassette.matching import compare, resolve_matchers

    def request() -> HttpRequest:
        return HttpRequest(
            "POST",
            f"https://a.test/v1/{AWS_ID}?listenKey={LISTEN_KEY}&n=1",
            [
                ("Authorization", f"Bearer {JWT}"),
                ("Cookie", "sid=cookie-client-111111"),
                ("X-Note", MNEMONIC),
            ],
            encode_body(
                json.dumps({"seedPhrase": MNEMONIC, "note": f"jwt {JWT}", "pem": PEM}).encode()
            ),
        )

    r = Redactor()
    recorded = r.record(HttpInteraction(0, request(), HttpResponse(200))).request
    live = r.request(request())
    matchers = resolve_matchers(["method", "uri", "headers", "body", "json_body"])
    assert compare(live, r.matchable(recorded), matchers) == []


def test_live_websocket_messages_compare_with_the_recording() -> None:
    r = Redactor()
    auth = {"action": "auth", "key": WS_KEY, "secret": WS_SECRET}
    recorded = r.record(WsMessage.build(0, "send", 1.0, json.dumps(auth).encode(), False))
    assert r.live_json(auth) == r.matchable_value(recorded.value)
    text = f"login {JWT}"
    recorded = r.record(WsMessage.build(0, "send", 1.0, text.encode(), False))
    assert r.live_json(text) == r.matchable_value(recorded.value)


def test_already_redacted_records_stay_as_they_are() -> None:
    r = Redactor()
    rec = r.record(
        _http(
            headers=[("Authorization", f"Bearer {JWT}")],
            resp_body=json.dumps({"token": "t-1234567"}).encode(),
        )
    )
    before = rec.to_json()
    assert Redactor().record(HttpInteraction.from_json(before)).to_json() == before


def test_trailers_are_headers_too() -> None:
    rec = _http()
    rec.response.trailers = [("grpc-status", "0"), ("x-session-token", "trailer-token-123456")]
    Redactor().record(rec)
    _gone(rec, "trailer-token-123456")
    assert rec.response.trailers[0] == ("grpc-status", "0")


def test_names_per_place_and_the_one_entry_point_for_writers() -> None:
    """What ``streamreplay migrate`` maps vcrpy's filter_headers / filter_query_parameters /
    filter_post_data_parameters onto: names for one place only."""
    from pytest_streamreplay.cassette.redaction import redact_records

    r = Redactor(headers=["X-Customer"], params=["acct"], fields=["account"])
    first = _http(
        url="https://a.test/x?acct=acct-123456&account=keep-me",
        headers=[("X-Customer", "cust-987654"), ("account", "header-stays")],
        body=json.dumps({"account": "acc-555555", "acct": "field-stays"}).encode(),
    )
    # The customer id was learned from a header in the second record: scrubbed from the first.
    second = _http(headers=[("X-Customer", "cust-late-000111")])
    first.response.body = encode_body(b'{"echo":"cust-late-000111"}')
    records = redact_records([first, second], r)
    text = _gone(records[0], "acct-123456", "cust-987654", "acc-555555", "cust-late-000111")
    assert "account=keep-me" in text and "header-stays" in text and "field-stays" in text


def test_ndjson_chunks_stored_as_json_are_redacted_and_stay_json() -> None:
    lines = [json.dumps({"n": i, "token": f"nd-token-{i}00000"}) + "\n" for i in range(3)]
    rec = Redactor().record(
        _http(chunks=[line.encode() for line in lines], ctype="application/x-ndjson")
    )
    _gone(rec, "nd-token-000000", "nd-token-100000", "nd-token-200000")
    assert [c.body and "json" in c.body for c in rec.response.chunks] == [True] * 3
    assert [json.loads(c.content)["n"] for c in rec.response.chunks] == [0, 1, 2]


def test_new_episodes_number_after_the_cassettes_placeholders(tmp_path) -> None:
    from pytest_streamreplay.cassette import new_header, write_cassette
    from pytest_streamreplay.session import CassetteSession

    path = tmp_path / "c.jsonl"
    old = Redactor().record(_http(headers=[("Authorization", "Bearer old-token-123456")]))
    write_cassette(path, new_header(), [old])
    session = CassetteSession(path, record_mode="new_episodes")
    new = session.record(_http(headers=[("Authorization", "Bearer new-token-654321")]))
    assert dict(new.request.headers)["Authorization"] == "Bearer REDACTED-secret-2"


def test_per_message_signatures_do_not_pile_up_and_credentials_still_scrub() -> None:
    r = Redactor()
    for i in range(500):
        order = {"op": "order", "signature": f"{i:064x}", "nonce": f"n-{i:08d}"}
        msg = r.record(WsMessage.build(0, "send", float(i), json.dumps(order).encode(), False))
        assert msg.value["signature"].startswith("REDACTED-secret-")
    assert r.generation == 0, "signatures and nonces are not searched for elsewhere"
    r.record(WsMessage.build(0, "send", 600.0, b'{"apiKey":"late-key-abcdef123"}', False))
    echo = r.record(WsMessage.build(0, "recv", 601.0, b"welcome late-key-abcdef123", False))
    _gone(echo, "late-key-abcdef123")
