"""Saving into a cassette others save into: merge, renumbering, fresh starts, the lock."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pytest_streamreplay.cassette import (
    CassetteError,
    CassetteWriteError,
    HttpInteraction,
    HttpRequest,
    HttpResponse,
    WsClose,
    WsConnection,
    WsMessage,
    encode_body,
    new_header,
    read_cassette,
    write_cassette,
)
from pytest_streamreplay.cassette.shared import cassette_lock, lock_path, save_merged


def _http(i: int, path: str) -> HttpInteraction:
    return HttpInteraction(
        i,
        HttpRequest("GET", f"https://example.test/{path}"),
        HttpResponse(200, body=encode_body(path.encode())),
    )


def _ws(conn: int, url: str) -> list:
    return [
        WsConnection(conn, url),
        WsMessage.build(conn, "recv", 1.0, url.encode(), binary=False),
        WsClose(conn, 2.0),
    ]


def _header(run: str | None, **extra):
    header = new_header(test="t", **extra)
    header.pytest_session = run
    return header


def test_merge_renumbers_ids_and_keeps_messages_with_their_connection(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    save_merged(cassette, _header("run1"), [_http(0, "a"), *_ws(1, "wss://x.test/one")])
    merged = save_merged(
        cassette, _header("run1"), [*_ws(0, "wss://x.test/two"), _http(1, "b")], fresh=True
    )
    assert [getattr(r, "id", None) for r in merged.added] == [2, None, None, 3]
    assert merged.http_total == 2
    _, records = read_cassette(cassette)
    ids = [r.id for r in records if isinstance(r, HttpInteraction | WsConnection)]
    assert ids == [0, 1, 2, 3]
    two = next(r for r in records if isinstance(r, WsConnection) and r.url.endswith("two"))
    mine = [r for r in records if isinstance(r, WsMessage | WsClose) and r.conn == two.id]
    assert [type(r).__name__ for r in mine] == ["WsMessage", "WsClose"]
    assert mine[0].text == "wss://x.test/two"


def test_fresh_replaces_another_runs_cassette_and_merges_its_own(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    save_merged(cassette, _header("old", speed=1), [_http(0, "old")])
    save_merged(cassette, _header("new", note_key=2), [_http(0, "a")], fresh=True)
    save_merged(cassette, _header("new"), [_http(0, "b")], fresh=True)
    header, records = read_cassette(cassette)
    assert [r.request.path for r in records] == ["/a", "/b"]
    assert header.pytest_session == "new" and header.extra == {"note_key": 2}
    assert not lock_path(cassette).exists()


def test_without_a_run_id_fresh_always_replaces(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    save_merged(cassette, _header(None), [_http(0, "a")], fresh=True)
    save_merged(cassette, _header(None), [_http(0, "b")], fresh=True)
    assert [r.request.path for r in read_cassette(cassette)[1]] == ["/b"]


def test_a_corrupt_cassette_is_not_merged_over(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    write_cassette(cassette, _header("run"), [_http(0, "a")])
    cassette.write_text(cassette.read_text() + "{not json\n")
    before = cassette.read_bytes()
    with pytest.raises(CassetteError, match=r"c\.jsonl:3: not valid JSON"):
        save_merged(cassette, _header("run"), [_http(0, "b")])
    assert cassette.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl"]


def test_threads_saving_at_once_lose_nothing(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def save(i: int) -> None:
        try:
            barrier.wait(10)
            save_merged(cassette, _header("run"), [_http(0, str(i))])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    _, records = read_cassette(cassette)
    assert sorted(r.request.path for r in records) == [f"/{i}" for i in range(8)]
    assert sorted(r.id for r in records) == list(range(8))


def test_lock_excludes_and_times_out_naming_the_lock_file(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    with cassette_lock(cassette):
        assert lock_path(cassette).exists()
        with (
            pytest.raises(CassetteError, match=r"\.c\.jsonl\.lock \(another test saving"),
            cassette_lock(cassette, timeout=0.2),
        ):
            pass
    assert not lock_path(cassette).exists()
    with cassette_lock(cassette):  # free again
        pass


def test_a_lock_that_cannot_be_created_is_a_write_error_naming_the_cassette(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cassette folder should be")
    cassette = blocker / "c.jsonl"
    with pytest.raises(CassetteWriteError, match=r"not-a-folder/c\.jsonl: not written: "):
        save_merged(cassette, _header("run"), [_http(0, "a")])
    assert blocker.read_text().startswith("a file")


def test_a_name_near_the_file_name_limit_still_saves(tmp_path: Path) -> None:
    cassette = tmp_path / ("x" * 244 + ".jsonl")  # 250 bytes: the lock's name must be shorter
    save_merged(cassette, _header("run"), [_http(0, "a")])
    save_merged(cassette, _header("run"), [_http(0, "b")])
    assert [r.request.path for r in read_cassette(cassette)[1]] == ["/a", "/b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [cassette.name]
