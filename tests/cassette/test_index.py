"""The replay index: offsets and lines instead of bodies, read back exactly, and safe against a
cassette that changes on disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_streamreplay.cassette import (
    CassetteError,
    HttpInteraction,
    HttpRequest,
    HttpResponse,
    WsClose,
    WsConnection,
    WsMessage,
    encode_body,
    iter_records,
    new_header,
    write_cassette,
)
from pytest_streamreplay.cassette import index as index_module
from pytest_streamreplay.cassette.index import CassetteIndex
from pytest_streamreplay.cassette.matching import resolve_matchers
from pytest_streamreplay.session import CassetteSession, ReplayError


def _http(i: int, path: str, body: bytes = b"", headers=()) -> HttpInteraction:
    return HttpInteraction(
        id=i,
        request=HttpRequest.build("POST", f"https://x.test{path}", list(headers), body),
        response=HttpResponse(200, "OK", body=encode_body(b'{"n": %d}' % i)),
    )


def _mixed(path: Path) -> Path:
    write_cassette(
        path,
        new_header(),
        [
            _http(0, "/a", b"zero"),
            WsConnection(1, "wss://x.test/ws"),
            WsMessage.build(1, "recv", 1.0, b'{"m":0}', False),
            _http(2, "/b", b"two", [("X-Kind", "b")]),
            WsMessage.build(1, "send", 2.0, b"hi", False),
            WsMessage.build(9, "recv", 2.0, b"orphan", False),
            WsMessage.build(1, "recv", 3.0, b"\x00\x01", True),
            WsClose(1, 4.0, 1000, "bye", "server"),
        ],
    )
    return path


def test_index_keeps_places_and_reads_records_back_exactly(tmp_path):
    path = _mixed(tmp_path / "c.jsonl")
    records = list(iter_records(path))
    index = CassetteIndex(path)
    try:
        assert [(e.id, e.line, e.method, e.url) for e in index.http] == [
            (0, 2, "POST", "https://x.test/a"),
            (2, 5, "POST", "https://x.test/b"),
        ]
        assert [index.interaction(e).to_json() for e in index.http] == [
            records[0].to_json(),
            records[3].to_json(),
        ]
        assert index.max_id == 2
        (ws,) = index.ws
        assert ws.line == 3 and ws.close is not None and ws.close.reason == "bye"
        messages = index.messages(ws)
        assert len(messages) == 3, "the orphan message (connection 9) is not this one's"
        assert [m.to_json() for m in messages[:]] == [
            r.to_json() for r in records if isinstance(r, WsMessage) and r.conn == 1
        ]
        assert messages[-1].content == b"\x00\x01"
        with pytest.raises(IndexError):
            messages[3]
    finally:
        index.close()


@pytest.mark.parametrize("budget", [0, 100, 1 << 30])
def test_messages_are_kept_while_they_fit_and_read_back_beyond(tmp_path, monkeypatch, budget):
    monkeypatch.setattr(index_module, "_KEEP_BUDGET", budget)
    path = tmp_path / "c.jsonl"
    sent = [WsMessage.build(1, "recv", float(i), b'{"i":%d}' % i, False) for i in range(5)]
    write_cassette(path, new_header(), [WsConnection(1, "wss://x.test/ws"), *sent])
    index = CassetteIndex(path)
    (ws,) = index.ws
    assert len(ws.kept) == {0: 0, 100: 2, 1 << 30: 5}[budget]  # lines of ~62 bytes
    messages = index.messages(ws)
    assert [m.to_json() for m in messages] == [m.to_json() for m in sent]
    assert messages[-1].to_json() == messages[4].to_json() == sent[4].to_json()
    assert [m.to_json() for m in messages[1:4]] == [m.to_json() for m in sent[1:4]]
    index.close()


def test_requests_over_the_budget_are_read_back_for_matching(tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "_KEEP_BUDGET", 0)
    path = _mixed(tmp_path / "c.jsonl")
    session = CassetteSession(
        path, matchers=resolve_matchers(["method", "path", "body", "headers[x-kind]"])
    )
    assert all(e.request is None for e in session._http), "nothing kept: all read back"
    live = HttpRequest.build("POST", "https://x.test/b", [("X-Kind", "b")], b"two")
    decision = session.decide(live)
    assert decision.action == "replay" and decision.line == 5
    assert decision.interaction is not None and decision.interaction.response.json == {"n": 2}
    assert session.decide(HttpRequest.build("POST", "https://x.test/b", [], b"x")).action == (
        "refuse"
    )
    report = session.unmatched[0].report
    assert "#2 POST https://x.test/b  -- body: b'x' != b'two'" in report
    session.close()


def test_a_raising_matcher_names_the_record_line(tmp_path):
    path = _mixed(tmp_path / "c.jsonl")

    def explode(live, recorded):
        raise RuntimeError("matcher bug")

    session = CassetteSession(path, matchers=resolve_matchers(["method", explode]))
    with pytest.raises(ReplayError) as info:
        session.decide(HttpRequest.build("POST", "https://x.test/a", [], b""))
    assert str(info.value).startswith(f"{path}:2: matching POST https://x.test/a against")
    assert "RuntimeError: matcher bug" in str(info.value)


def test_a_cassette_renamed_over_while_open_is_still_read_as_indexed(tmp_path):
    path = _mixed(tmp_path / "c.jsonl")
    index = CassetteIndex(path)
    first = index.interaction(index.http[1]).to_json()
    write_cassette(path, new_header(), [_http(7, "/other", b"x" * 100)] * 3)  # atomic rename
    assert index.interaction(index.http[1]).to_json() == first
    index.close()


def test_a_cassette_renamed_over_while_being_indexed_is_indexed_afresh(tmp_path, monkeypatch):
    """Another pytest process saving a shared cassette renames it over while this one indexes
    it (seen failing two processes at once: "changed on disk while being read; run again").
    Every save is atomic, so reading again gives a whole cassette: the index is of the new one."""
    path = _mixed(tmp_path / "c.jsonl")
    real = index_module._iter_objects
    saves = iter([lambda: write_cassette(path, new_header(), [_http(7, "/other", b"x")] * 2)])

    def racing(p):
        for n, item in enumerate(real(p)):
            if n == 1:
                next(saves, lambda: None)()  # the other process's save, once
            yield item

    monkeypatch.setattr(index_module, "_iter_objects", racing)
    index = CassetteIndex(path)
    assert [e.url for e in index.http] == ["https://x.test/other"] * 2 and not index.ws
    assert index.interaction(index.http[1]).request.url == "https://x.test/other"
    index.close()


def test_a_cassette_renamed_over_at_every_read_is_refused_with_its_name(tmp_path, monkeypatch):
    path = _mixed(tmp_path / "c.jsonl")
    real = index_module._iter_objects

    def always_racing(p):
        for n, item in enumerate(real(p)):
            if n == 1:
                write_cassette(path, new_header(), [_http(n, "/again", b"x")] * 2)
            yield item

    monkeypatch.setattr(index_module, "_iter_objects", always_racing)
    with pytest.raises(CassetteError, match=r"c\.jsonl: changed on disk while being read, 5 times"):
        CassetteIndex(path)


def test_a_cassette_changed_after_close_is_refused_not_misread(tmp_path):
    path = _mixed(tmp_path / "c.jsonl")
    index = CassetteIndex(path)
    index.close()
    assert index.interaction(index.http[0]).id == 0, "reads reopen the unchanged file"
    write_cassette(path, new_header(), [_http(7, "/other", b"x" * 100)] * 3)
    with pytest.raises(CassetteError, match=r"c\.jsonl:5: changed on disk"):
        index.interaction(index.http[1])


def _open_on(path: Path) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == str(path)
        except OSError:
            pass  # the listing's own descriptor, gone by now
    return count


def test_the_file_is_released_on_close(tmp_path):
    path = _mixed(tmp_path / "c.jsonl")
    sessions = [CassetteSession(path) for _ in range(20)]
    assert _open_on(path) == 20, "a session holds its cassette open while in use"
    for session in sessions:
        session.close()
    assert _open_on(path) == 0


def test_a_bad_line_fails_the_session_with_its_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = _http(0, "/a").to_json()
    bad = {**good, "response": {**good["response"], "body": {"base64": "abc"}}}
    write_cassette(path, new_header(), [good, bad])
    with pytest.raises(CassetteError, match=r"bad\.jsonl:3: bad record: response body"):
        CassetteSession(path)


def test_the_path_prefilter_never_hides_a_match(tmp_path):
    """Live paths are looked for in the recorded URLs as written: a query, a port, an
    encoded character or the root path still match exactly as the matchers say."""
    urls = [
        "http://x.test:80/a/b?q=1",
        "http://X.test/%7Euser/",
        "http://x.test",
        "http://x.test/a/b/c",
    ]
    path = tmp_path / "c.jsonl"
    write_cassette(
        path,
        new_header(),
        [
            HttpInteraction(
                i, HttpRequest("GET", u), HttpResponse(200, body=encode_body(b"%d" % i))
            )
            for i, u in enumerate(urls)
        ],
    )
    session = CassetteSession(path)
    for live, want in [
        ("http://x.test/a/b?q=1", 0),
        ("http://x.test/%7Euser/", 1),
        ("http://x.test/", 2),
        ("http://x.test/a/b/c", 3),
    ]:
        decision = session.decide(HttpRequest("GET", live))
        assert decision.interaction is not None and decision.interaction.id == want, live
    session.close()


def test_extra_cassettes_are_indexed_and_errors_name_their_own_file(tmp_path):
    main = _mixed(tmp_path / "main.jsonl")
    extra = tmp_path / "extra.jsonl"
    write_cassette(extra, new_header(), [_http(5, "/x", b"five")])
    session = CassetteSession(main, extra=[extra], matchers=resolve_matchers(["method", "path"]))
    decision = session.decide(HttpRequest.build("POST", "https://x.test/x", [], b""))
    assert decision.interaction is not None and decision.interaction.id == 5
    assert session.where(decision.line, decision.path) == f"{extra}:2"
    session.close()

    def explode(live, recorded):
        if recorded.url.endswith("/x"):
            raise RuntimeError("matcher bug")
        return "differs"

    session = CassetteSession(main, extra=[extra], matchers=resolve_matchers([explode]))
    with pytest.raises(ReplayError, match=rf"^{extra}:2: matching POST"):
        session.decide(HttpRequest.build("POST", "https://x.test/x", [], b""))
    session.close()
