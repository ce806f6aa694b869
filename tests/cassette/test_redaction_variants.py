"""Hostile variants of issue 12's secrets that a reviewer tries next: a seed phrase written
another way (capitalised, upper case, comma-separated, numbered, a JSON list of words), other
exchanges' WebSocket logins, credential headers without a generic name, a token in a URL
fragment or a password in a URL, and secrets in text written as ``name: value``."""

from __future__ import annotations

import json

import pytest
from secret_samples import MNEMONIC, _gone

from pytest_streamreplay.cassette import HttpInteraction, HttpRequest, HttpResponse, WsMessage
from pytest_streamreplay.cassette.body import encode_body
from pytest_streamreplay.cassette.redaction import Redactor

WORDS = MNEMONIC.split()


def _text_message(text: str) -> WsMessage:
    return Redactor().record(WsMessage.build(0, "recv", 1.0, text.encode(), False))


@pytest.mark.parametrize(
    "phrase",
    [
        MNEMONIC.capitalize(),
        MNEMONIC.upper(),
        MNEMONIC.title(),
        ", ".join(WORDS),
        ",".join(WORDS),
        " ".join(f"{i}. {w}" for i, w in enumerate(WORDS, 1)),
        "\n".join(f"{i}) {w}" for i, w in enumerate(WORDS, 1)),
        "-".join(WORDS),
    ],
    ids=["capitalised", "upper", "title", "comma-space", "comma", "numbered", "lines", "dashes"],
)
def test_a_seed_phrase_written_another_way_is_still_found(phrase: str) -> None:
    msg = _text_message(f"backup: {phrase}.")
    _gone(msg, phrase)
    for word in ("winner", "sausage", "WINNER", "Sausage"):
        assert word not in msg.text, msg.text


def test_a_seed_phrase_as_a_json_list_of_words_is_found_and_keeps_its_length() -> None:
    r = Redactor()
    for words in (WORDS, [w.upper() for w in WORDS]):
        msg = r.record(
            WsMessage.build(0, "recv", 1.0, json.dumps({"words": words, "n": 1}).encode(), False)
        )
        assert "sausage" not in msg.text.lower(), msg.text
        assert len(msg.value["words"]) == 12 and msg.value["n"] == 1
        assert all(w.startswith("REDACTED-mnemonic-") for w in msg.value["words"])


def test_ordinary_word_lists_and_prose_stay() -> None:
    kept = [
        {"tags": ["apple", "banana", "cherry"]},
        {"markets": ["BTC-USD", "ETH-USD"] * 8},
        {"tags": ["the", "and", "of"] * 5},
    ]
    for value in kept:
        msg = _text_message(json.dumps(value))
        assert msg.value == value
    prose = "Price, volume, time, side, size, fee, order, market, status, type, account, total."
    assert _text_message(prose).text == prose, "a list of column names is no seed"


@pytest.mark.parametrize(
    ("message", "secrets"),
    [
        # Bybit: the key and the signature are positional in "args".
        (
            {"op": "auth", "args": ["bybitApiKeyXYZ123456", 1662350400000, "bybitSig0123456789"]},
            ["bybitApiKeyXYZ123456", "bybitSig0123456789"],
        ),
        # Bitfinex: apiKey, authSig, authPayload.
        (
            {"event": "auth", "apiKey": "bfxKey1234567", "authSig": "bfxSig0123456789abcdef"},
            ["bfxKey1234567", "bfxSig0123456789abcdef"],
        ),
        # Alpaca's older stream: key_id/secret_key under "data".
        (
            {
                "action": "authenticate",
                "data": {"key_id": "alpacaKeyId123", "secret_key": "s3cr3t1"},
            },
            ["alpacaKeyId123", "s3cr3t1"],
        ),
    ],
    ids=["bybit", "bitfinex", "alpaca-v1"],
)
def test_other_exchanges_websocket_logins(message: dict, secrets: list[str]) -> None:
    msg = Redactor().record(WsMessage.build(0, "send", 1.0, json.dumps(message).encode(), False))
    _gone(msg, *secrets)


def test_a_subscribe_args_list_is_data() -> None:
    data = {"op": "subscribe", "args": ["orderbook.50.BTCUSDT", "publicTrade.BTCUSDT"]}
    msg = Redactor().record(WsMessage.build(0, "send", 1.0, json.dumps(data).encode(), False))
    assert msg.value == data


@pytest.mark.parametrize(
    "name",
    ["X-Auth-Key", "KEY", "SIGN", "Ocp-Apim-Subscription-Key"],
)
def test_credential_headers_without_a_generic_name(name: str) -> None:
    secret = "hdr-credential-1234567"
    req = HttpRequest("GET", "https://a.test/x", [(name, secret)], None)
    rec = Redactor().record(HttpInteraction(0, req, HttpResponse(200, "OK", headers=[])))
    _gone(rec, secret)


def test_ordinary_headers_named_like_nothing_secret_stay() -> None:
    headers = [("Keep-Alive", "timeout=5, max=1000"), ("X-Request-Id", "req-1234567890")]
    req = HttpRequest("GET", "https://a.test/x", headers, None)
    rec = Redactor().record(HttpInteraction(0, req, HttpResponse(200, "OK", headers=[])))
    assert rec.request.headers == headers


def test_a_token_in_a_url_fragment_and_a_password_in_a_url() -> None:
    frag = "fragTokenValue1234567"
    location = f"https://app.test/cb#access_token={frag}&token_type=bearer&state=s1"
    dsn = "postgres://admin:hunter2secretpw@db.internal:5432/app"
    body = json.dumps({"next": location, "dsn": dsn, "log": f"connecting to {dsn} now"})
    resp = HttpResponse(
        302,
        "Found",
        headers=[("Location", location), ("Content-Type", "application/json")],
        body=encode_body(body.encode()),
    )
    rec = Redactor().record(
        HttpInteraction(0, HttpRequest("GET", "https://a.test/", [], None), resp)
    )
    text = _gone(rec, frag, "hunter2secretpw")
    assert "state=s1" in text and "postgres://admin:REDACTED" in text and "@db.internal" in text


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("password: yamlpw1234567\nuser: ann", "yamlpw1234567"),
        ("api_key: 'yamlkey1234567'", "yamlkey1234567"),
        (
            "[default]\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI",
        ),
        ("<login><password>xmlpw1234567</password></login>", "xmlpw1234567"),
        ("Authorization: Bearer opaquetoken1234567890", "opaquetoken1234567890"),
        ("{'password': 'pyreprpw123456', 'n': 1}", "pyreprpw123456"),
    ],
    ids=["yaml", "yaml-quoted", "ini-spaced", "xml", "header-in-text", "python-repr"],
)
def test_secrets_by_name_in_text_written_as_name_colon_value(text: str, secret: str) -> None:
    msg = _text_message(text)
    assert secret not in msg.text, msg.text


def test_ordinary_name_colon_value_text_stays() -> None:
    text = "status code: 500\nkey: BTC-USD\nsession: morning\nuser: ann\nreason: timeout"
    assert _text_message(text).text == text


def test_a_seed_phrase_list_written_as_text_is_found() -> None:
    for text in (json.dumps({"words": WORDS}), repr(WORDS), json.dumps(json.dumps(WORDS))):
        msg = _text_message(f"body={text}\n")
        assert "sausage" not in msg.text, msg.text


def test_a_multipart_form_field_by_name() -> None:
    boundary = "----b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="user"\r\n\r\nann\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="password"\r\n'
        "Content-Type: text/plain\r\n\r\nmultipart-pw-123456\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="api_key"\r\n\r\nmp-key-7890ab\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    req = HttpRequest(
        "POST",
        "https://a.test/login",
        [("Content-Type", f"multipart/form-data; boundary={boundary}")],
        encode_body(body),
    )
    rec = Redactor().record(HttpInteraction(0, req, HttpResponse(200, "OK", headers=[])))
    text = _gone(rec, "multipart-pw-123456", "mp-key-7890ab")
    assert "\\r\\n\\r\\nann\\r\\n" in text, "other fields stay"


def test_a_telegram_bot_token_in_a_url_path() -> None:
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    req = HttpRequest("GET", f"https://api.telegram.org/bot{token}/getMe", [], None)
    rec = Redactor().record(HttpInteraction(0, req, HttpResponse(200, "OK", headers=[])))
    _gone(rec, token, token.split(":")[1])
    assert rec.request.url.startswith("https://api.telegram.org/botREDACTED-token-")
    assert rec.request.url.endswith("/getMe")


def test_a_close_reason_and_a_status_reason_are_redacted() -> None:
    from secret_samples import JWT, WS_KEY

    from pytest_streamreplay.cassette import WsClose

    r = Redactor()
    auth = {"action": "auth", "key": WS_KEY, "secret": "s-123456"}
    r.record(WsMessage.build(0, "send", 1.0, json.dumps(auth).encode(), False))
    close = r.record(WsClose(0, 2.0, 4001, f"key {WS_KEY} refused; token {JWT}", "server"))
    _gone(close, WS_KEY, JWT)
    assert close.code == 4001 and close.reason.startswith("key REDACTED-secret-")
    resp = HttpResponse(401, f"Unauthorized {JWT}", headers=[])
    rec = r.record(HttpInteraction(1, HttpRequest("GET", "https://a.test/", [], None), resp))
    _gone(rec, JWT)


def _compress_stream(encoding: str, pieces: list[bytes]) -> list[bytes]:
    import zlib

    if encoding == "br":
        import brotli

        c = brotli.Compressor()
        out = [c.process(p) + c.flush() for p in pieces]
        out[-1] += c.finish()
        return out
    wbits = {"gzip": 31, "deflate": 15}[encoding]
    z = zlib.compressobj(6, zlib.DEFLATED, wbits)
    out = [z.compress(p) + z.flush(zlib.Z_SYNC_FLUSH) for p in pieces]
    return [*out, z.flush()]


def _decompress(encoding: str, data: bytes) -> bytes:
    import zlib

    if encoding == "br":
        import brotli

        return brotli.decompress(data)
    return zlib.decompressobj(47).decompress(data)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_a_compressed_stream_is_redacted_inside_its_compression(encoding: str) -> None:
    from secret_samples import JWT

    from pytest_streamreplay.cassette import Chunk

    events = (
        f'data: {{"token": "gz-token-123456", "n": 1}}\n\ndata: jwt {JWT}\n\ndata: {{"n": 3}}\n\n'
    ).encode()
    cut = events.index(JWT.encode()) + 10  # a secret split across two chunks
    wire = _compress_stream(encoding, [events[:cut], events[cut:]])
    resp = HttpResponse(
        200,
        "OK",
        headers=[("Content-Type", "text/event-stream"), ("Content-Encoding", encoding)],
    )
    resp.chunks = [Chunk(float(i), encode_body(c)) for i, c in enumerate(wire)]
    rec = Redactor().record(HttpInteraction(0, HttpRequest("GET", "https://a.test/sse"), resp))
    chunks = rec.response.chunks
    assert len(chunks) == len(wire) and [c.t for c in chunks] == [0.0, 1.0, 2.0][: len(wire)]
    plain = _decompress(encoding, b"".join(c.content for c in chunks)).decode()
    assert "gz-token-123456" not in plain and JWT[:30] not in plain and JWT[-20:] not in plain
    assert plain.count("data: ") == 3 and '"n": 3' in plain and "REDACTED-jwt-1" in plain
    # each chunk decodes on its own as it arrives: the client sees the events at their times
    first = _decompress_prefix(encoding, chunks[0].content)
    assert first.startswith(b'data: {"token": "REDACTED-secret-1"')


def _decompress_prefix(encoding: str, data: bytes) -> bytes:
    import zlib

    if encoding == "br":
        import brotli

        return brotli.Decompressor().process(data)
    return zlib.decompressobj(47).decompress(data)


def test_one_seed_phrase_written_three_ways_is_one_placeholder() -> None:
    r = Redactor()
    value = {"words": WORDS, "text": MNEMONIC.upper(), "csv": ", ".join(WORDS), "again": MNEMONIC}
    msg = r.record(WsMessage.build(0, "recv", 1.0, json.dumps(value).encode(), False))
    out = msg.value
    assert set(out["words"]) == {"REDACTED-mnemonic-1"}
    assert out["text"] == out["csv"] == out["again"] == "REDACTED-mnemonic-1", out


def test_a_base64_encoded_jwt_is_a_jwt() -> None:
    """Kubernetes takes a bearer token as a WebSocket subprotocol, base64url-encoded
    (``base64url.bearer.authorization.k8s.io.<token>``): a JWT's base64 starts ``ZXlK``."""
    import base64

    from secret_samples import JWT

    encoded = base64.urlsafe_b64encode(JWT.encode()).decode().rstrip("=")
    header = f"base64url.bearer.authorization.k8s.io.{encoded}, v4.channel.k8s.io"
    req = HttpRequest("GET", "https://k8s.test/exec", [("Sec-WebSocket-Protocol", header)], None)
    rec = Redactor().record(HttpInteraction(0, req, HttpResponse(101, "", headers=[])))
    _gone(rec, encoded, encoded[:40])
    assert rec.request.headers == [
        (
            "Sec-WebSocket-Protocol",
            "base64url.bearer.authorization.k8s.io.REDACTED-jwt-1, v4.channel.k8s.io",
        )
    ]


def test_a_name_colon_value_takes_the_whole_value_and_learns_no_word_of_it() -> None:
    r = Redactor()
    phrase = "correct horse battery staple"
    for text in (
        json.dumps({"password": phrase, "n": 1}),
        f"password: {phrase}\nuser: ann",
        f"{{'password': '{phrase}'}}",
        f"<password>{phrase}</password>",
    ):
        out = r.text(text)
        assert "horse" not in out and "staple" not in out, out
    later = "the answer is correct, the battery is fine"
    assert r.text(later) == later, "no word of a secret is searched for on its own"
