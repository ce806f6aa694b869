"""``use_cassette`` takes every setting the plugin lets a test choose (docs/configuration.md's
table says which), so code without pytest can record what a marked test can."""

from __future__ import annotations

import httpx
import pytest
from servers import make_self_signed, start_origin

from pytest_streamreplay.cassette import iter_records
from pytest_streamreplay.cassette.records import HttpInteraction
from pytest_streamreplay.harness import runtime, use_cassette


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMREPLAY_CACHE_DIR", str(tmp_path / "cache"))
    yield
    runtime().stop()
    runtime().configure()


@pytest.fixture
def tls_origin(tmp_path):
    cert, key = make_self_signed(tmp_path)
    server = start_origin(cert, key)
    yield server, cert
    server.stop()


def _http(path) -> list[HttpInteraction]:
    return [r for r in iter_records(path) if isinstance(r, HttpInteraction)]


def test_upstream_ca_records_a_self_signed_origin(tmp_path, tls_origin) -> None:
    origin, cert = tls_origin
    path = tmp_path / "c.jsonl"
    with use_cassette(path, record_mode="all", upstream_ca=cert):
        assert httpx.get(origin.url + "/ca").status_code == 200
    [recorded] = _http(path)
    assert recorded.response.status == 200 and recorded.request.url.endswith("/ca")


def test_a_blocks_upstream_trust_does_not_outlive_it(tmp_path, tls_origin) -> None:
    origin, cert = tls_origin
    with use_cassette(tmp_path / "c.jsonl", record_mode="all", upstream_ca=cert):
        assert httpx.get(origin.url + "/first").status_code == 200
    path = tmp_path / "d.jsonl"
    with use_cassette(path, record_mode="all") as sr:
        refused = httpx.get(origin.url + "/untrusted")
    assert refused.status_code == 502 and "Certificate verify failed" in refused.text
    assert [f.split(":")[0] for f in sr.session.origin_failures] == ["GET https"]
    assert _http(path) == []
    assert runtime().upstream == (None, False)


def test_upstream_insecure_records_a_self_signed_origin(tmp_path, tls_origin) -> None:
    origin, _ = tls_origin
    path = tmp_path / "c.jsonl"
    with use_cassette(path, record_mode="all", upstream_insecure=True):
        assert httpx.get(origin.url + "/insecure").status_code == 200
    assert [r.request.url.rsplit("/", 1)[1] for r in _http(path)] == ["insecure"]


def test_an_unknown_keyword_names_the_known_ones(tmp_path) -> None:
    with pytest.raises(TypeError) as raised:
        use_cassette(tmp_path / "c.jsonl", record_mod="all")  # a typo
    message = str(raised.value)
    assert "record_mod" in message
    assert "record_mode" in message and "upstream_ca" in message and "match_on" in message


def test_extra_cassettes_replay_beside_the_cassette_and_are_not_written(tmp_path) -> None:
    origin = start_origin()
    try:
        with use_cassette(tmp_path / "login.jsonl", record_mode="all"):
            assert httpx.get(origin.url + "/login").status_code == 200
    finally:
        origin.stop()  # replay below is offline
    before = (tmp_path / "login.jsonl").read_bytes()
    with use_cassette(
        tmp_path / "test.jsonl", record_mode="new_episodes", extra_cassettes=["login.jsonl"]
    ) as sr:
        replayed = httpx.get(origin.url + "/login")
    assert replayed.status_code == 200 and replayed.json()["path"] == "/login"
    assert sr.session.play_count == 1
    assert (tmp_path / "login.jsonl").read_bytes() == before


def test_redact_false_turns_the_built_in_rules_off_and_names_add(tmp_path) -> None:
    origin = start_origin()
    headers = {"Authorization": "Bearer fake-token-for-test", "X-Custom": "custom-value"}
    try:
        with use_cassette(tmp_path / "default.jsonl", record_mode="all", redact=["x-custom"]):
            httpx.get(origin.url + "/a", headers=headers)
        with use_cassette(tmp_path / "off.jsonl", record_mode="all", redact=False):
            httpx.get(origin.url + "/a", headers=headers)
    finally:
        origin.stop()
    [default] = _http(tmp_path / "default.jsonl")
    [off] = _http(tmp_path / "off.jsonl")
    sent = {k.lower(): v for k, v in default.request.headers}
    assert "fake-token-for-test" not in sent["authorization"]
    assert "custom-value" not in sent["x-custom"]
    kept = {k.lower(): v for k, v in off.request.headers}
    assert kept["authorization"] == "Bearer fake-token-for-test"
    assert kept["x-custom"] == "custom-value"


def test_a_string_where_names_are_expected_is_read_as_the_marker_reads_it(tmp_path) -> None:
    """``redact="x-custom"`` is one name, not eight one-letter names; word lists split on
    spaces and commas as in the ini and the marker; one extra cassette is one path."""
    with use_cassette(
        tmp_path / "c.jsonl",
        record_mode="all",
        redact="x-custom",
        match_on="method, json_body[id,params.ts]",
        message_ignore="nonce",
        extra_cassettes="login.jsonl",
    ) as sr:
        session = sr.session
    assert session.redactor.extra == ("x-custom",)
    assert [m.name for m in session.matchers] == ["method", "json_body[id,params.ts]"]
    assert session.message_ignore == ("nonce",)
    assert session.extra == [tmp_path / "login.jsonl"]


def test_a_bad_record_mode_or_speed_names_the_keyword_and_the_choices(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"record_mode.*'sometimes'.*once, new_episodes, none"):
        use_cassette(tmp_path / "c.jsonl", record_mode="sometimes")
    with pytest.raises(ValueError, match=r"speed.*instant, recorded or a positive number"):
        use_cassette(tmp_path / "c.jsonl", speed="fast")
    assert not (tmp_path / "c.jsonl").exists()
