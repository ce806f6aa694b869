import pytest

from pytest_streamreplay.cassette import HttpRequest
from pytest_streamreplay.cassette.body import encode_body
from pytest_streamreplay.cassette.matching import (
    DEFAULT_MATCH_ON,
    MatcherSpecError,
    compare,
    resolve_matchers,
)


def req(url, body=b"", headers=()):
    return HttpRequest("GET", url, list(headers), encode_body(body))


def test_default_matchers_report_what_differs() -> None:
    m = resolve_matchers(DEFAULT_MATCH_ON)
    assert compare(req("https://a.test/x?b=2&a=1"), req("https://a.test/x?a=1&b=2"), m) == []
    assert compare(req("https://a.test/x"), req("http://a.test:8080/y"), m) == [
        ("scheme", "'https' != 'http'"),
        ("port", "443 != 8080"),
        ("path", "'/x' != '/y'"),
    ]


def test_json_body_ignores_paths() -> None:
    m = resolve_matchers(["json_body[id,params.*.ts]"])
    a = req("https://a.test/", b'{"id": 1, "params": [{"ts": 5, "v": 1}]}')
    b = req("https://a.test/", b'{"id": 2, "params": [{"ts": 9, "v": 1}]}')
    c = req("https://a.test/", b'{"id": 2, "params": [{"ts": 9, "v": 2}]}')
    assert compare(a, b, m) == []
    assert compare(a, c, m)[0][0] == "json_body[id,params.*.ts]"


def test_headers_matcher_with_names() -> None:
    m = resolve_matchers(["headers[accept]"])
    a = req("https://a.test/", headers=[("Accept", "a"), ("User-Agent", "x")])
    b = req("https://a.test/", headers=[("accept", "a"), ("User-Agent", "y")])
    assert compare(a, b, m) == []


def test_unknown_and_malformed_specs() -> None:
    with pytest.raises(MatcherSpecError, match="unknown matcher 'pth'"):
        resolve_matchers(["pth"])
    with pytest.raises(MatcherSpecError, match="malformed"):
        resolve_matchers(["json_body[id"])
