"""``streamreplay verify`` and ``streamreplay redact``."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_streamreplay.cassette import (
    HttpInteraction,
    HttpRequest,
    HttpResponse,
    WsConnection,
    WsMessage,
    encode_body,
    iter_records,
    new_header,
    write_cassette,
)


def _cassette(path: Path, price: str = "100.5") -> Path:
    return write_cassette(
        path,
        new_header(test="t"),
        [
            WsConnection(0, "wss://indexer.test/v4/ws"),
            WsMessage.build(0, "recv", 0.5, b'{"type":"connected"}', False),
            WsMessage.build(0, "send", 1.0, b'{"type":"subscribe","id":"BTC-USD"}', False),
            WsMessage.build(
                0, "recv", 2.0, b'{"type":"subscribed","price":"%s"}' % price.encode(), False
            ),
        ],
    )


def test_verify_prints_a_stable_digest_and_checks_it(run, tmp_path) -> None:
    a = _cassette(tmp_path / "a.jsonl")
    b = _cassette(tmp_path / "b.jsonl")  # same content, another header time: same digest
    c = _cassette(tmp_path / "c.jsonl", price="100.6")
    digests = [run("verify", str(p)).stdout.split()[1] for p in (a, b, c)]
    assert digests[0] == digests[1] != digests[2] and len(digests[0]) == 64
    assert run("verify", str(a), "--expect", digests[0]).returncode == 0
    bad = run("verify", str(c), "--expect", digests[0], process=True)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        f"streamreplay: error: {c}: digest {digests[2]} is not the expected {digests[0]}"
    ]
    recv = run("verify", str(a), "--direction", "recv", "--checkpoint", "1").stdout
    assert "(2 items)" in recv and "checkpoint 2:" in recv


def test_signed_proof_round_trip(run, tmp_path, monkeypatch) -> None:
    a = _cassette(tmp_path / "a.jsonl")
    missing = run("verify", str(a), "--sign", str(tmp_path / "p.json"))
    assert missing.returncode == 1 and "STREAMREPLAY_PARITY_KEY" in missing.stderr
    monkeypatch.setenv("STREAMREPLAY_PARITY_KEY", "k1-secret")
    assert run("verify", str(a), "--sign", str(tmp_path / "p.json")).returncode == 0
    proof = json.loads((tmp_path / "p.json").read_text())
    assert "k1-secret" not in json.dumps(proof) and proof["key_env"] == "STREAMREPLAY_PARITY_KEY"
    assert "proof verified" in run("verify", str(a), "--proof", str(tmp_path / "p.json")).stdout
    c = _cassette(tmp_path / "c.jsonl", price="1")
    assert (
        "does not match the proof"
        in run("verify", str(c), "--proof", str(tmp_path / "p.json")).stderr
    )
    monkeypatch.setenv("STREAMREPLAY_PARITY_KEY", "another-key")
    assert (
        "signature does not match"
        in run("verify", str(a), "--proof", str(tmp_path / "p.json")).stderr
    )


def test_redact_in_place_by_name_and_value(run, tmp_path) -> None:
    path = tmp_path / "old.jsonl"
    write_cassette(
        path,
        new_header(test="t"),
        [
            HttpInteraction(
                0,
                HttpRequest(
                    "GET",
                    "https://a.test/x?token=tok-123456",
                    [("Authorization", "Bearer abcdef-99")],
                ),
                HttpResponse(
                    200,
                    headers=[("Content-Type", "application/json")],
                    body=encode_body(b'{"echo":"tok-123456","user_id":"u-77777"}'),
                ),
            ),
        ],
    )
    check = run("redact", str(path), "--check", process=True)
    assert check.returncode == 1 and "would change 1 record of 1" in check.stdout
    assert "tok-123456" in path.read_text(), "--check writes nothing"
    assert run("redact", str(path), "--extra", "user_id").returncode == 0
    text = path.read_text()
    for secret in ("tok-123456", "abcdef-99", "u-77777"):
        assert secret not in text
    (record,) = iter_records(path)
    token = record.request.url.rsplit("=", 1)[1]
    assert token.startswith("REDACTED-secret-")
    assert record.response.json == {"echo": token, "user_id": "REDACTED-secret-3"}
    assert run("redact", str(path), "--check").returncode == 0
    assert [p.name for p in tmp_path.iterdir()] == ["old.jsonl"]


def test_corrupt_cassette_is_one_clear_line(run, tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind":"header","format":"streamreplay-cassette","version":1}\n{"kind":\n')
    for cmd in ("verify", "redact"):
        result = run(cmd, str(bad))
        assert result.returncode != 0
        assert result.stderr.strip().startswith(f"streamreplay: error: {bad}:2:")
        assert len(result.stderr.strip().splitlines()) == 1


def test_a_proof_on_a_full_disk_names_it_and_leaves_no_file(run, tmp_path, monkeypatch) -> None:
    from diskfull import small_tmpfs

    a = _cassette(tmp_path / "a.jsonl")
    monkeypatch.setenv("STREAMREPLAY_PARITY_KEY", "k1-secret")
    with small_tmpfs(tmp_path / "disk", "8k") as disk:
        proof = disk / "p.json"
        filler = disk / "filler"
        filler.write_bytes(b"x" * 8192)
        full = run("verify", str(a), "--sign", str(proof), process=True)
        assert full.returncode == 1
        assert full.stderr.strip().splitlines()[-1] == (
            f"streamreplay: error: {proof}: not written: No space left on device; "
            "no proof was created"
        )
        assert sorted(p.name for p in disk.iterdir()) == ["filler"], "no empty proof left"

        # An old proof stays whole when the new one cannot be written.
        filler.unlink()
        assert run("verify", str(a), "--sign", str(proof)).returncode == 0
        old = proof.read_bytes()
        filler.write_bytes(b"x" * 4096)
        full = run("verify", str(a), "--sign", str(proof), process=True)
        assert full.returncode == 1 and "the old proof is kept" in full.stderr
        assert proof.read_bytes() == old
        assert sorted(p.name for p in disk.iterdir()) == ["filler", "p.json"]
