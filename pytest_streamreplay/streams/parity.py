"""Parity: prove two runs of a stream (live vs replay, run vs run) carried the same items.

Items are hashed through one canonical JSON form (sorted keys, no whitespace; Decimal as its
normalised plain string, datetimes as UTC ISO-8601, dataclasses and pydantic models as dicts,
tuples and sets as lists), so equal data hashes equal whatever container produced it.
Proofs are signed with HMAC-SHA256 using a key taken from an environment variable whose *name*
is stored in the proof; the key never is.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import hashlib
import hmac
import json
import os
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

__all__ = [
    "DEFAULT_KEY_ENV",
    "Checkpoint",
    "Divergence",
    "ParityProof",
    "ParityReport",
    "ParityTracker",
    "StreamHasher",
    "canonical_json",
    "normalize",
]

DEFAULT_KEY_ENV = "STREAMREPLAY_PARITY_KEY"


def normalize(obj: Any, *, exact_decimals: bool = False) -> Any:
    """The JSON-ready canonical value of ``obj`` (see the module docstring).

    ``exact_decimals`` keeps ``Decimal("1.50")`` as ``"1.50"`` (for storage, not hashing).
    """
    if exact_decimals:
        return _normalize(obj, lambda d: str(d))
    return _normalize(obj, _canonical_decimal)


def _canonical_decimal(d: Decimal) -> str:
    return format(d.normalize(), "f") if d.is_finite() else str(d)


def _normalize(obj: Any, dec: Any) -> Any:
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return obj
    if isinstance(obj, Decimal):
        return dec(obj)
    if isinstance(obj, enum.Enum):
        return _normalize(obj.value, dec)
    if isinstance(obj, datetime):
        return (obj.astimezone(UTC) if obj.tzinfo else obj).isoformat()
    if isinstance(obj, date | time):
        return obj.isoformat()
    if isinstance(obj, timedelta):
        return obj.total_seconds()
    if isinstance(obj, bytes | bytearray):
        return {"$base64": base64.b64encode(bytes(obj)).decode("ascii")}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _normalize(getattr(obj, f.name), dec) for f in dataclasses.fields(obj)}
    dump = getattr(obj, "model_dump", None)
    if callable(dump):  # pydantic v2
        return _normalize(dump(mode="json"), dec)
    if isinstance(obj, Mapping):
        return {str(k): _normalize(v, dec) for k, v in obj.items()}
    if isinstance(obj, set | frozenset):
        return sorted((_normalize(v, dec) for v in obj), key=canonical_json)
    if isinstance(obj, list | tuple | deque):
        return [_normalize(v, dec) for v in obj]
    raise TypeError(f"cannot hash {type(obj).__name__!r} canonically; convert it to plain data")


def canonical_json(obj: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept: the one text an item hashes as."""
    return json.dumps(normalize(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Checkpoint:
    """The running digest after ``count`` items."""

    count: int
    digest: str


class StreamHasher:
    """Incremental SHA-256 over canonical items, with a checkpoint every ``checkpoint_every``.

    Checkpoints let two long runs be compared without keeping either: the first differing
    checkpoint brackets the first differing item.
    """

    def __init__(self, checkpoint_every: int = 1000) -> None:
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        self.checkpoint_every = checkpoint_every
        self.count = 0
        self.checkpoints: list[Checkpoint] = []
        self._sha = hashlib.sha256()

    def update(self, item: Any) -> str:
        """Add one item; returns its canonical JSON."""
        text = canonical_json(item)
        self._sha.update(text.encode("utf-8"))
        self._sha.update(b"\n")
        self.count += 1
        if self.count % self.checkpoint_every == 0:
            self.checkpoints.append(Checkpoint(self.count, self._sha.hexdigest()))
        return text

    def update_all(self, items: Iterable[Any]) -> StreamHasher:
        for item in items:
            self.update(item)
        return self

    __call__ = update  # so ``observable.subscribe(hasher)`` works as an on_next

    @property
    def digest(self) -> str:
        return self._sha.hexdigest()

    def proof(self, *, label: str = "", key_env: str = DEFAULT_KEY_ENV) -> ParityProof:
        """A signed ``ParityProof`` of what was hashed so far."""
        return ParityProof.sign(self, label=label, key_env=key_env)


@dataclass(frozen=True)
class Divergence:
    index: int
    left: Any
    right: Any

    def __str__(self) -> str:
        return f"first divergence at item {self.index}: left={self.left!r} right={self.right!r}"


@dataclass(frozen=True)
class ParityReport:
    equal: bool
    left_count: int
    right_count: int
    left_digest: str
    right_digest: str
    divergence: Divergence | None

    def __str__(self) -> str:
        if self.equal:
            return f"streams equal: {self.left_count} items, sha256 {self.left_digest}"
        lines = [f"streams differ: left {self.left_count} items, right {self.right_count} items"]
        if self.divergence is not None:
            lines.append(str(self.divergence))
        return "\n".join(lines)


_MISSING = object()


class ParityTracker:
    """Compare two streams item by item as they arrive, in any interleaving.

    Feed ``left``/``right`` (each usable as an Observable's on_next); only items not yet
    matched by the other side are kept, so equal streams cost constant memory.
    """

    def __init__(self, checkpoint_every: int = 1000) -> None:
        self.left_hasher = StreamHasher(checkpoint_every)
        self.right_hasher = StreamHasher(checkpoint_every)
        self._left: deque[tuple[Any, str]] = deque()
        self._right: deque[tuple[Any, str]] = deque()
        self._matched = 0
        self.divergence: Divergence | None = None

    def left(self, item: Any) -> None:
        text = self.left_hasher.update(item)
        self._push(self._left, self._right, item, text, left_side=True)

    def right(self, item: Any) -> None:
        text = self.right_hasher.update(item)
        self._push(self._right, self._left, item, text, left_side=False)

    def _push(
        self,
        mine: deque[tuple[Any, str]],
        other: deque[tuple[Any, str]],
        item: Any,
        text: str,
        *,
        left_side: bool,
    ) -> None:
        if self.divergence is not None:
            return
        if not other:
            mine.append((item, text))
            return
        other_item, other_text = other.popleft()
        if other_text != text:
            left, right = (item, other_item) if left_side else (other_item, item)
            self.divergence = Divergence(self._matched, left, right)
            return
        self._matched += 1

    def compare(self, left: Iterable[Any], right: Iterable[Any]) -> ParityReport:
        """Feed two whole iterables (alternating) and report."""
        li, ri = iter(left), iter(right)
        while True:
            a = next(li, _MISSING)
            b = next(ri, _MISSING)
            if a is _MISSING and b is _MISSING:
                break
            if a is not _MISSING:
                self.left(a)
            if b is not _MISSING:
                self.right(b)
        return self.report()

    def report(self) -> ParityReport:
        divergence = self.divergence
        if divergence is None and (self._left or self._right):
            index = self._matched
            left = self._left[0][0] if self._left else "<end of stream>"
            right = self._right[0][0] if self._right else "<end of stream>"
            divergence = Divergence(index, left, right)
        equal = divergence is None and self.left_hasher.digest == self.right_hasher.digest
        return ParityReport(
            equal,
            self.left_hasher.count,
            self.right_hasher.count,
            self.left_hasher.digest,
            self.right_hasher.digest,
            divergence,
        )

    def assert_equal(self) -> ParityReport:
        report = self.report()
        if not report.equal:
            raise AssertionError(str(report))
        return report


def _key(key_env: str) -> bytes:
    value = os.environ.get(key_env)
    if not value:
        raise KeyError(f"set the environment variable {key_env} to the parity signing key")
    return value.encode("utf-8")


@dataclass(frozen=True)
class ParityProof:
    """A signed statement "this stream had ``count`` items with this digest"."""

    count: int
    digest: str
    checkpoint_every: int
    checkpoints: tuple[Checkpoint, ...] = ()
    label: str = ""
    created_at: str = ""
    key_env: str = DEFAULT_KEY_ENV
    algorithm: str = "HMAC-SHA256"
    signature: str = field(default="", compare=False)

    def _payload(self) -> bytes:
        body = {
            "algorithm": self.algorithm,
            "checkpoint_every": self.checkpoint_every,
            "checkpoints": [[c.count, c.digest] for c in self.checkpoints],
            "count": self.count,
            "created_at": self.created_at,
            "digest": self.digest,
            "key_env": self.key_env,
            "label": self.label,
        }
        return canonical_json(body).encode("utf-8")

    @classmethod
    def sign(
        cls, hasher: StreamHasher, *, label: str = "", key_env: str = DEFAULT_KEY_ENV
    ) -> ParityProof:
        unsigned = cls(
            count=hasher.count,
            digest=hasher.digest,
            checkpoint_every=hasher.checkpoint_every,
            checkpoints=tuple(hasher.checkpoints),
            label=label,
            created_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
            key_env=key_env,
        )
        mac = hmac.new(_key(key_env), unsigned._payload(), hashlib.sha256).hexdigest()
        return dataclasses.replace(unsigned, signature=mac)

    def verify(self, *, key_env: str | None = None) -> bool:
        """True when the signature matches under the key in ``key_env`` (default: the proof's)."""
        if self.algorithm != "HMAC-SHA256":
            return False
        mac = hmac.new(_key(key_env or self.key_env), self._payload(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(mac, self.signature)

    def matches(self, hasher: StreamHasher) -> bool:
        """True when ``hasher`` saw the same stream (count and digest)."""
        return hasher.count == self.count and hasher.digest == self.digest

    def to_json(self) -> str:
        obj = json.loads(self._payload())
        obj["signature"] = self.signature
        return json.dumps(obj, sort_keys=True, indent=2)

    @classmethod
    def from_json(cls, text: str) -> ParityProof:
        obj = json.loads(text)
        return cls(
            count=int(obj["count"]),
            digest=str(obj["digest"]),
            checkpoint_every=int(obj["checkpoint_every"]),
            checkpoints=tuple(Checkpoint(int(c), str(d)) for c, d in obj.get("checkpoints", [])),
            label=str(obj.get("label", "")),
            created_at=str(obj.get("created_at", "")),
            key_env=str(obj.get("key_env", DEFAULT_KEY_ENV)),
            algorithm=str(obj.get("algorithm", "HMAC-SHA256")),
            signature=str(obj.get("signature", "")),
        )
