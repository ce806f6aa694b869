from pytest_streamreplay.cassette import HttpInteraction, HttpRequest, HttpResponse, WsMessage
from pytest_streamreplay.cassette.body import encode_body
from pytest_streamreplay.cassette.redaction import REDACTED, Redactor


def _interaction(url, req_headers, req_body, resp_headers, resp_body) -> HttpInteraction:
    return HttpInteraction(
        0,
        HttpRequest("POST", url, req_headers, encode_body(req_body)),
        HttpResponse(
            200,
            "OK",
            headers=resp_headers,
            body=encode_body(resp_body),
            encoded={"base64": "c2VjcmV0"},
        ),
    )


def test_by_name_on_both_sides_and_by_value_wherever_echoed() -> None:
    r = Redactor()
    rec = r.record(
        _interaction(
            "https://api.test/login?api_key=abcdef123456&page=2",
            [("Authorization", "Bearer tok-999999"), ("Accept", "application/json")],
            b'{"user":"ann","password":"hunter2hunter2"}',
            [("Set-Cookie", "sid=cookie-777777; Path=/"), ("Content-Type", "application/json")],
            b'{"echo":"tok-999999 and abcdef123456","note":"pw hunter2hunter2",'
            b'"sid":"cookie-777777"}',
        )
    )
    text = str(rec.to_json())
    for secret in ("abcdef123456", "tok-999999", "hunter2hunter2", "cookie-777777"):
        assert secret not in text
    # Each secret has its own placeholder, the same wherever that secret recurs.
    token, key = "REDACTED-secret-1", "REDACTED-secret-2"
    assert dict(rec.request.headers)["Authorization"] == f"Bearer {token}"
    assert rec.request.url == f"https://api.test/login?api_key={key}&page=2"
    assert ("Accept", "application/json") in rec.request.headers
    assert dict(rec.response.headers)["Set-Cookie"] == "sid=REDACTED-cookie-1; Path=/"
    assert rec.response.json == {
        "echo": f"{token} and {key}",
        "note": "pw REDACTED-secret-3",
        "sid": "REDACTED-cookie-1",
    }
    assert rec.response.encoded is None, "raw wire bytes with the secret must go"


def test_unchanged_bodies_keep_their_exact_bytes_and_encoding() -> None:
    rec = Redactor().record(_interaction("https://a.test/x", [], b"", [], b'{"price": "1.5"}'))
    assert rec.response.content == b'{"price": "1.5"}'
    assert rec.response.encoded == {"base64": "c2VjcmV0"}


def test_live_requests_match_redacted_recordings_without_learning_values() -> None:
    r = Redactor()
    live = HttpRequest("GET", "https://a.test/x?token=live-value-1", [("X-API-Key", "k-123456")])
    redacted = r.request(live)
    assert redacted.url == "https://a.test/x?token=REDACTED"
    assert redacted.headers == [("X-API-Key", REDACTED)]
    assert live.url.endswith("live-value-1"), "the live request itself is left alone"
    assert r.scrub("live-value-1") == "live-value-1"
    recorded = r.record(HttpInteraction(0, live, HttpResponse(200))).request
    assert recorded.headers == [("X-API-Key", "REDACTED-secret-1")], "live numbered nothing"


def test_extra_names_and_defaults_off() -> None:
    assert Redactor(extra=["customer-id"]).json({"customer_id": "c1", "n": 1})[0] == {
        "customer_id": "REDACTED-secret-1",
        "n": 1,
    }
    assert Redactor(defaults=False).json({"password": "x"})[0] == {"password": "x"}


def test_websocket_json_messages() -> None:
    msg = WsMessage.build(0, "send", 1.0, b'{"type":"auth","signature":"sig-abcdef"}', False)
    Redactor().record(msg)
    assert msg.value == {"type": "auth", "signature": "REDACTED-secret-1"}
