"""Canonical hashing, divergence reports and signed proofs."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from pytest_streamreplay.streams import ParityProof, ParityTracker, StreamHasher, canonical_json


@dataclasses.dataclass
class Trade:
    price: Decimal
    at: datetime


def test_canonical_json_normalises_containers_and_types() -> None:
    a = {
        "b": Decimal("1.50"),
        "a": (1, 2),
        "t": datetime(2024, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
    }
    b = {"a": [1, 2], "t": datetime(2024, 1, 1, tzinfo=UTC), "b": Decimal("1.5")}
    assert (
        canonical_json(a)
        == canonical_json(b)
        == '{"a":[1,2],"b":"1.5","t":"2024-01-01T00:00:00+00:00"}'
    )
    assert canonical_json(Trade(Decimal("2.0"), datetime(2024, 1, 1, tzinfo=UTC))) == (
        '{"at":"2024-01-01T00:00:00+00:00","price":"2"}'
    )
    with pytest.raises(TypeError, match="cannot hash"):
        canonical_json(object())


def test_hasher_is_incremental_with_checkpoints() -> None:
    whole = StreamHasher(checkpoint_every=2).update_all(range(5))
    parts = StreamHasher(checkpoint_every=2)
    for i in range(5):
        parts.update(i)
    assert whole.digest == parts.digest and whole.count == 5
    assert [c.count for c in whole.checkpoints] == [2, 4]
    other = StreamHasher(checkpoint_every=2).update_all([0, 1, 2, 9, 4])
    assert other.checkpoints[0] == whole.checkpoints[0]
    assert other.checkpoints[1] != whole.checkpoints[1]  # brackets the divergence


def test_tracker_reports_first_divergence_in_any_interleaving() -> None:
    t = ParityTracker()
    for item in [{"p": 1}, {"p": 2}, {"p": 3}]:
        t.left(item)
    t.right({"p": 1})
    t.right({"p": 2.5})
    report = t.report()
    assert not report.equal
    assert report.divergence is not None and report.divergence.index == 1
    assert (report.divergence.left, report.divergence.right) == ({"p": 2}, {"p": 2.5})
    with pytest.raises(AssertionError, match="first divergence at item 1"):
        t.assert_equal()


def test_tracker_reports_a_shorter_stream() -> None:
    report = ParityTracker().compare([1, 2, 3], [1, 2])
    assert not report.equal and report.divergence is not None
    assert report.divergence.index == 2 and report.divergence.right == "<end of stream>"
    assert ParityTracker().compare([{"a": 1, "b": 2}], [{"b": 2, "a": 1}]).equal


def test_signed_proof_round_trips_and_detects_tampering(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_PARITY_KEY", "s3cret-key")
    hasher = StreamHasher(checkpoint_every=2).update_all(["a", "b", "c"])
    proof = hasher.proof(label="replay of market.jsonl", key_env="MY_PARITY_KEY")
    text = proof.to_json()
    assert "s3cret-key" not in text and '"key_env": "MY_PARITY_KEY"' in text
    loaded = ParityProof.from_json(text)
    assert loaded == proof and loaded.verify() and loaded.matches(hasher)
    forged = ParityProof.from_json(text.replace(proof.digest, "0" * 64))
    assert not forged.verify()
    monkeypatch.setenv("MY_PARITY_KEY", "another-key")
    assert not loaded.verify()
    monkeypatch.delenv("MY_PARITY_KEY")
    with pytest.raises(KeyError, match="MY_PARITY_KEY"):
        loaded.verify()
