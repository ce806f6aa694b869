"""A cassette write that fails half-way (full disk, file size limit) loses nothing and leaves
nothing behind: the old cassette stays, the temporary file goes, one error names the cassette."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from diskfull import free_bytes, small_tmpfs

from pytest_streamreplay.cassette import (
    CassetteWriteError,
    CassetteWriter,
    HttpInteraction,
    HttpRequest,
    HttpResponse,
    encode_body,
    new_header,
    read_cassette,
    write_cassette,
)


def _big(i: int) -> HttpInteraction:
    return HttpInteraction(
        id=i,
        request=HttpRequest.build("GET", f"https://example.test/big/{i}", [], b""),
        response=HttpResponse(200, "OK", body=encode_body(b"z" * 4000 + str(i).encode())),
    )


@pytest.fixture
def full_dir(tmp_path: Path):
    with small_tmpfs(tmp_path / "disk") as path:
        yield path


def test_rewrite_on_a_full_disk_keeps_the_old_cassette_and_frees_the_space(full_dir) -> None:
    cassette = full_dir / "shop.jsonl"
    write_cassette(cassette, new_header(test="old"), [_big(0)])
    old = cassette.read_bytes()
    free_before = free_bytes(full_dir)

    with pytest.raises(CassetteWriteError) as err:
        write_cassette(cassette, new_header(test="new"), [_big(i) for i in range(40)])

    assert str(cassette) in str(err.value)
    assert "No space left on device" in str(err.value)
    assert "old cassette is kept" in str(err.value)
    assert err.value.path == str(cassette)
    assert sorted(p.name for p in full_dir.iterdir()) == ["shop.jsonl"], "temp file left"
    assert cassette.read_bytes() == old
    assert free_bytes(full_dir) == free_before, "the disk must not stay full"


def test_a_first_recording_on_a_full_disk_leaves_no_file(full_dir) -> None:
    cassette = full_dir / "new.jsonl"
    with (
        pytest.raises(
            CassetteWriteError, match=r"new\.jsonl: not written: .*no cassette was created"
        ),
        CassetteWriter(cassette, new_header()) as writer,
    ):
        for i in range(40):
            writer.write(_big(i))
    assert list(full_dir.iterdir()) == []


def test_abort_removes_the_temp_file_even_when_closing_fails(full_dir) -> None:
    """The buffered tail cannot be written either: closing raises, the unlink still runs."""
    cassette = full_dir / "aborted.jsonl"
    writer = CassetteWriter(cassette, new_header())
    with pytest.raises(CassetteWriteError):
        for i in range(40):
            writer.write(_big(i))
    writer.abort()  # idempotent after the failure
    assert list(full_dir.iterdir()) == []


def test_file_size_limit_is_reported_the_same_way(tmp_path: Path) -> None:
    """RLIMIT_FSIZE (``ulimit -f``) is the fault of systems where mounting is not permitted:
    writes past it fail with EFBIG, in a child process so the limit stays there."""
    cassette = tmp_path / "limited.jsonl"
    script = textwrap.dedent(
        f"""
        import resource, signal
        from pytest_streamreplay.cassette import (
            HttpInteraction, HttpRequest, HttpResponse, encode_body, new_header, write_cassette
        )
        def _big(i):
            return HttpInteraction(
                i, HttpRequest("GET", f"https://example.test/{{i}}"),
                HttpResponse(200, body=encode_body(b"z" * 4000)),
            )
        from pytest_streamreplay.cassette.storage import CassetteWriteError
        write_cassette({str(cassette)!r}, new_header(test="old"), [_big(0)])
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (32768, 32768))
        try:
            write_cassette({str(cassette)!r}, new_header(), [_big(i) for i in range(40)])
        except CassetteWriteError as exc:
            print("ERROR", exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"ERROR {cassette}: not written"), done.stdout
    assert "File too large" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["limited.jsonl"]
    header, records = read_cassette(cassette)
    assert header.test == "old" and len(records) == 1


def test_mitmproxy_export_on_a_full_disk_names_the_file_and_cleans_up(full_dir) -> None:
    """The other writer of the package (``streamreplay convert --to mitm``) behaves the same."""
    from pytest_streamreplay.cassette.convert import to_mitm

    out = full_dir / "flows.mitm"
    with pytest.raises(CassetteWriteError, match=r"flows\.mitm: not written: No space left"):
        to_mitm([_big(i) for i in range(40)], out)
    assert list(full_dir.iterdir()) == []
