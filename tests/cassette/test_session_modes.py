"""What each record mode decides, without a proxy: a hit, a miss, an unused recording, a missing
cassette, strict replay, and what a save writes. The end-to-end cases (tests/plugin/test_modes.py)
run the same rules through pytest and mitmproxy; these run in milliseconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_streamreplay.cassette import (
    HttpInteraction,
    HttpRequest,
    HttpResponse,
    encode_body,
    iter_records,
    new_header,
    write_cassette,
)
from pytest_streamreplay.cassette.matching import resolve_matchers
from pytest_streamreplay.session import CassetteSession, RecordMode

A = "https://api.test/v1/a"
B = "https://api.test/v1/b"


def _interaction(i: int, url: str) -> HttpInteraction:
    return HttpInteraction(
        id=i,
        request=HttpRequest.build("GET", url, [], b""),
        response=HttpResponse(200, "OK", body=encode_body(f'{{"n":{i}}}'.encode())),
    )


@pytest.fixture
def cassette(tmp_path: Path) -> Path:
    path = tmp_path / "c.jsonl"
    write_cassette(path, new_header(test="t"), [_interaction(0, A), _interaction(1, A)])
    return path


def _session(path: Path, mode: RecordMode, **kwargs: object) -> CassetteSession:
    return CassetteSession(
        path, record_mode=mode, matchers=resolve_matchers(("method", "uri")), **kwargs
    )


def _get(url: str) -> HttpRequest:
    return HttpRequest.build("GET", url, [], b"")


@pytest.mark.parametrize(
    ("mode", "hit", "miss"),
    [
        (RecordMode.NONE, "replay", "refuse"),
        (RecordMode.ONCE, "replay", "refuse"),  # the cassette exists: once only replays
        (RecordMode.NEW_EPISODES, "replay", "live"),
        (RecordMode.ALL, "live", "live"),
        (RecordMode.REWRITE, "live", "live"),
    ],
)
def test_a_hit_and_a_miss_in_each_mode(
    cassette: Path, mode: RecordMode, hit: str, miss: str
) -> None:
    session = _session(cassette, mode)
    assert session.decide(_get(A)).action == hit
    decision = session.decide(_get(B))
    assert decision.action == miss
    if miss == "refuse":
        assert "Unmatched request GET https://api.test/v1/b" in decision.report
        assert len(session.unmatched) == 1
    else:
        assert session.unmatched == []


def test_repeats_replay_in_order_then_the_last_one_again(cassette: Path) -> None:
    session = _session(cassette, RecordMode.NONE)
    ids = [session.decide(_get(A)).interaction.id for _ in range(3)]  # type: ignore[union-attr]
    assert ids == [0, 1, 1]
    strict_order = _session(cassette, RecordMode.NONE, allow_repeats=False)
    actions = [strict_order.decide(_get(A)).action for _ in range(3)]
    assert actions == ["replay", "replay", "refuse"]


def test_unused_recordings_fail_only_strict_replay(cassette: Path) -> None:
    relaxed = _session(cassette, RecordMode.NONE)
    relaxed.decide(_get(A))
    assert [i.id for i in relaxed.unused()] == [1]
    assert relaxed.problems() == []  # plain replay does not judge what was left
    strict = _session(cassette, RecordMode.ALL, strict=True)  # strict beats the record mode
    assert strict.effective_mode is RecordMode.NONE and not strict.can_record
    strict.decide(_get(A))
    (problem,) = strict.problems()
    assert "1 recorded interaction(s)" in problem and "were never requested" in problem
    assert "#1 GET https://api.test/v1/a" in problem


def test_a_missing_cassette_refuses_requests_but_is_no_failure_without_any(
    tmp_path: Path,
) -> None:
    quiet = _session(tmp_path / "absent.jsonl", RecordMode.NONE)
    assert quiet.missing and quiet.problems() == []
    asking = _session(tmp_path / "absent.jsonl", RecordMode.NONE)
    decision = asking.decide(_get(A))
    assert decision.action == "refuse" and "no cassette at" in decision.report
    assert asking.problems() != []
    once = _session(tmp_path / "absent.jsonl", RecordMode.ONCE)  # once records a new one
    assert once.decide(_get(A)).action == "live"


def test_what_a_save_writes_in_each_mode(cassette: Path, tmp_path: Path) -> None:
    def recorded(mode: RecordMode, path: Path) -> list[int]:
        session = _session(path, mode)
        if session.decide(_get(B)).action == "live":
            session.record(_interaction(session.next_id(), B))
        session.save()
        return [r.id for r in iter_records(path) if isinstance(r, HttpInteraction)]

    # new_episodes adds to what was there; rewrite starts afresh; none writes nothing
    assert recorded(RecordMode.NEW_EPISODES, cassette) == [0, 1, 2]
    fresh = tmp_path / "fresh.jsonl"
    write_cassette(fresh, new_header(), [_interaction(0, A)])
    assert recorded(RecordMode.REWRITE, fresh) == [0]
    untouched = tmp_path / "untouched.jsonl"
    write_cassette(untouched, new_header(), [_interaction(0, A)])
    before = untouched.read_bytes()
    assert recorded(RecordMode.NONE, untouched) == [0]
    assert untouched.read_bytes() == before
    # new_episodes with nothing new leaves the file as it was
    quiet = _session(cassette, RecordMode.NEW_EPISODES)
    quiet.decide(_get(A))
    assert quiet.save() is None
