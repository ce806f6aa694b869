"""Recording onto a full disk: one clear error naming the cassette, the old cassette kept, no
temporary file left filling the disk."""

from __future__ import annotations

import pytest
from diskfull import free_bytes, small_tmpfs
from pytester_helpers import cassette_lines

BIG_POST = """
import os, httpx, pytest

@pytest.mark.streamreplay
def test_x():
    size = int(os.environ["BODY_SIZE"])
    assert httpx.post(os.environ["ORIGIN"] + "/upload", content=b"x" * size).status_code == 200
"""


def test_rewrite_on_a_full_disk_fails_naming_the_cassette(inner, origin, monkeypatch) -> None:
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(test_a=BIG_POST)
    with small_tmpfs(inner.path / "cassettes") as disk:
        monkeypatch.setenv("BODY_SIZE", "10")
        inner.runpytest("--record-mode=once").assert_outcomes(passed=1)
        cassette = disk / "test_a" / "test_x.jsonl"
        old = cassette.read_bytes()
        free = free_bytes(disk)

        monkeypatch.setenv("BODY_SIZE", "200000")  # three times the disk
        result = inner.runpytest("--record-mode=rewrite")
        result.assert_outcomes(passed=1, errors=1)
        result.stdout.fnmatch_lines(
            [
                "*pytest-streamreplay: cassettes/test_a/test_x.jsonl not written: "
                "No space left on device; the old cassette is kept*",
                "*cassettes: 0 recorded, 0 replayed, 1 error*",
            ]
        )
        assert "OSError" not in result.stdout.str()
        assert cassette.read_bytes() == old
        assert sorted(p.name for p in cassette.parent.iterdir()) == ["test_x.jsonl"]
        assert free_bytes(disk) == free


@pytest.mark.parametrize("mode", ["new_episodes", "all"])
def test_merge_into_a_shared_cassette_on_a_full_disk_keeps_it(inner, origin, monkeypatch, mode):
    """The same for a cassette other tests add to: what they wrote stays."""
    monkeypatch.setenv("ORIGIN", origin.url)
    inner.makepyfile(
        test_a="""
import os, httpx, pytest

@pytest.mark.parametrize("size", [10, 20, 200000])
@pytest.mark.streamreplay(cassette="shared.jsonl")
def test_x(size):
    httpx.post(os.environ["ORIGIN"] + f"/upload/{size}", content=b"x" * size)
"""
    )
    with small_tmpfs(inner.path / "cassettes") as disk:
        result = inner.runpytest(f"--record-mode={mode}", "-p", "no:randomly")
        result.assert_outcomes(passed=3, errors=1)
        result.stdout.fnmatch_lines(
            ["*cassettes/test_a/shared.jsonl not written: No space left on device*"]
        )
        cassette = disk / "test_a" / "shared.jsonl"
        urls = [r["request"]["url"] for r in cassette_lines(cassette)[1:]]
        assert [u.rsplit("/", 1)[1] for u in urls] == ["10", "20"]
        assert sorted(p.name for p in cassette.parent.iterdir()) == ["shared.jsonl"]
