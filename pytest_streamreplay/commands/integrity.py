"""``verify`` (a cassette's parity hash, signed proofs) and ``redact`` (today's rules, in place).

Both stream the cassette: a large one costs no more memory than a small one (``redact`` writes
a temporary file beside it and renames it over the original only when complete).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import CommandError, plural

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    verify = subparsers.add_parser(
        "verify",
        help="parity hash of a cassette; check or sign it",
        description="Hash a cassette's records (or only its WebSocket messages) as canonical "
        "JSON with SHA-256, with checkpoints; compare with an expected digest, write a signed "
        "proof (HMAC, key from the environment, never stored), or check one.",
    )
    verify.add_argument("cassette", metavar="CASSETTE")
    verify.add_argument(
        "--direction",
        choices=["recv", "send", "both"],
        help="hash only WebSocket message values in this direction",
    )
    verify.add_argument("--connection", type=int, metavar="N", help="only connection N")
    verify.add_argument(
        "--checkpoint",
        type=int,
        default=1000,
        metavar="N",
        help="a checkpoint every N items (default 1000)",
    )
    verify.add_argument("--expect", metavar="SHA256", help="fail unless the digest is this")
    verify.add_argument("--sign", metavar="FILE", help="write a signed parity proof to FILE")
    verify.add_argument("--proof", metavar="FILE", help="check a signed parity proof")
    verify.add_argument(
        "--key-env",
        default=None,
        metavar="NAME",
        help="environment variable holding the signing key",
    )
    verify.set_defaults(run=run_verify)

    redact = subparsers.add_parser(
        "redact",
        help="apply the current redaction rules to a cassette, in place",
        description="Redact secrets by name (headers, query and form parameters, JSON fields), "
        "by shape (JWTs, PEM private keys, BIP39 seed phrases, AWS key ids, provider tokens) "
        "and then by value wherever they recur, in every header, URL, body, streamed chunk "
        "and WebSocket message, as recording does; rewrite the cassette atomically.",
    )
    redact.add_argument("cassettes", metavar="CASSETTE", nargs="+")
    redact.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="NAME",
        help="another header, parameter or JSON field name to redact",
    )
    redact.add_argument(
        "--check",
        action="store_true",
        help="only report what would change (each record's line, the places and the kinds of "
        "secret found, never their values); exit 1 if anything would",
    )
    redact.set_defaults(run=run_redact)


def _items(path: Path, direction: str | None, connection: int | None) -> Iterator[Any]:
    from ..cassette import WsMessage, iter_records

    for record in iter_records(path):
        if direction is None and connection is None:
            yield record.to_json()
            continue
        if not isinstance(record, WsMessage):
            continue
        if connection is not None and record.conn != connection:
            continue
        if direction in (None, "both") or record.dir == direction:
            value = record.value
            yield {"binary": value.hex()} if isinstance(value, bytes) else value


def run_verify(args: argparse.Namespace, console: Console) -> int:
    from ..cassette.storage import write_atomically
    from ..streams.parity import DEFAULT_KEY_ENV, ParityProof, StreamHasher

    path = Path(args.cassette)
    if args.checkpoint < 1:
        raise CommandError("--checkpoint must be at least 1")
    hasher = StreamHasher(checkpoint_every=args.checkpoint)
    hasher.update_all(_items(path, args.direction, args.connection))
    console.print(f"sha256 {hasher.digest}  ({plural(hasher.count, 'item')}) {path}")
    for cp in hasher.checkpoints[-5:]:
        console.print(f"  checkpoint {cp.count}: {cp.digest}")
    key_env = args.key_env or DEFAULT_KEY_ENV
    if args.sign:
        try:
            proof = hasher.proof(label=str(path), key_env=key_env)
        except KeyError as exc:
            raise CommandError(str(exc).strip("'\"")) from None
        text = (proof.to_json() + "\n").encode()
        write_atomically(args.sign, lambda fh: fh.write(text), "proof")
        console.print(f"signed proof written to {args.sign} (key from ${key_env})")
    if args.proof:
        try:
            proof = ParityProof.from_json(Path(args.proof).read_text())
            valid = proof.verify(key_env=args.key_env)
        except FileNotFoundError:
            raise CommandError(f"{args.proof}: no such proof file") from None
        except (KeyError, ValueError) as exc:
            raise CommandError(f"{args.proof}: {str(exc).strip(chr(39))}") from None
        if not valid:
            raise CommandError(f"{args.proof}: the signature does not match (wrong key or edited)")
        if not proof.matches(hasher):
            raise CommandError(
                f"{path}: does not match the proof ({proof.count} items, {proof.digest})"
            )
        console.print(f"proof verified: {args.proof}")
    if args.expect and args.expect.lower() != hasher.digest:
        raise CommandError(f"{path}: digest {hasher.digest} is not the expected {args.expect}")
    return 0


def run_redact(args: argparse.Namespace, console: Console) -> int:
    changed = False
    for cassette in args.cassettes:
        changed = _redact_one(Path(cassette), args, console) or changed
    return 1 if args.check and changed else 0


def _redact_one(path: Path, args: argparse.Namespace, console: Console) -> bool:
    from ..cassette import CassetteWriter, iter_records, read_header
    from ..cassette.redaction import Redactor
    from ..cassette.storage import iter_numbered_records

    header = read_header(path)
    redactor = Redactor(extra=args.extra)
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:  # new placeholders are numbered after those already there
            if "REDACTED-" in line:
                redactor.reserve(line)
    # First pass: learn every secret (a value found by name in the last record is then
    # scrubbed from the first); second pass: rewrite.
    redactor.prime(iter_records(path))
    changed = total = 0
    found: list[str] = []
    writer = None if args.check else CassetteWriter(path, header)
    try:
        for lineno, record in iter_numbered_records(path):
            before = record.to_json()
            after = redactor.redact_record(record).to_json()
            total += 1
            if after != before:
                changed += 1
                if args.check:
                    found.append(f"  line {lineno}: {redaction_finding(before, after)}")
            if writer is not None:
                writer.write(after)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is not None:
        writer.close()
    verb = "would change" if args.check else "redacted"
    console.print(f"{path}: {verb} {plural(changed, 'record')} of {total}")
    for line in found:
        console.print(line)
    return bool(changed)


_PLACEHOLDER_KIND = re.compile(r"REDACTED-([a-z]+)-\d+")
_WHAT = {"http": "HTTP", "ws": "WebSocket", "ws_msg": "WebSocket message", "ws_close": "close"}


def redaction_finding(before: dict[str, Any], after: dict[str, Any]) -> str:
    """One changed record as the redacted form shows it: what it is, the places that change
    and the kinds of secret (placeholders' kinds), never a value."""
    places = sorted(_changed_places(before, after, ""))
    kinds = Counter(_PLACEHOLDER_KIND.findall(json.dumps(after)))
    kinds.subtract(Counter(_PLACEHOLDER_KIND.findall(json.dumps(before))))
    found = sorted(k for k, n in kinds.items() if n > 0) or ["secret"]
    what = _WHAT.get(str(after.get("kind")), str(after.get("kind")))
    if after.get("kind") == "http":
        request = after.get("request", {})
        what += f" {request.get('method', '')} {request.get('url', '')}"
    elif after.get("kind") == "ws":
        what += f" {after.get('url', '')}"
    elif after.get("kind") == "ws_msg":
        what += f" ({after.get('dir')}, connection {after.get('conn')})"
    return f"{what} -- {', '.join(places)} ({', '.join(found)})"


def _changed_places(before: Any, after: Any, where: str, depth: int = 0) -> set[str]:
    """Dotted paths (two levels: ``request.headers``) where ``after`` differs from ``before``."""
    if before == after:
        return set()
    if depth < 2 and isinstance(before, dict) and isinstance(after, dict):
        out: set[str] = set()
        for key in before.keys() | after.keys():
            sub = f"{where}.{key}" if where else str(key)
            out |= _changed_places(before.get(key), after.get(key), sub, depth + 1)
        return out
    if where in ("json", "text", "data"):  # a message's payload
        return {"message"}
    return {where or "record"}
