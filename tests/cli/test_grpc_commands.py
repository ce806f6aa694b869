"""``timeline``, ``filter`` and ``export``/``import`` on a cassette of real gRPC calls (a real
grpcio server and client through the proxy, messages with JSON forms)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pytest_streamreplay.cassette import HttpInteraction, read_cassette

from .conftest import Run, one_error_line


def test_timeline_shows_each_call_as_its_messages(run: Run, grpc_cassette: Path) -> None:
    result = run("timeline", str(grpc_cassette), "--width", "120", process=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    watch = lines.index(next(line for line in lines if line.startswith("grpc call 1  ")))
    block = lines[watch : lines.index("", watch)]
    assert block[0].startswith("grpc call 1  /shop.Orders/Watch  http://localhost:")
    assert "4 messages (1 sent, 3 received) over" in block[1]
    rows = [line for line in block if re.match(r"\s+\+\d", line)]
    assert re.search(r"→ +\d+ B  shop\.OrderQuery \{\"id\":\"42\",\"limit\":3\}", rows[0])
    assert [re.search(r'"status":"(step \d)"', r).group(1) for r in rows[1:]] == [
        "step 0",
        "step 1",
        "step 2",
    ]
    assert all("← " in r and "shop.Order {" in r for r in rows[1:])
    assert block[-1] == "  status: OK"

    # a bidirectional call reads as the conversation it was: each answer after its order
    trade = lines.index(next(line for line in lines if line.startswith("grpc call 2  ")))
    rows = [line for line in lines[trade : lines.index("", trade)] if re.match(r"\s+\+", line)]
    arrows = [("→" if "→" in r else "←", re.search(r'"id":"(\w)"', r).group(1)) for r in rows]
    assert arrows == [("→", "a"), ("←", "a"), ("→", "b"), ("←", "b")]

    failed = lines.index(next(line for line in lines if line.startswith("grpc call 3  ")))
    block = lines[failed:]
    assert "  status: NOT_FOUND: no order missing" in block
    assert not any(line.startswith("http  ") for line in lines)  # no plain HTTP in it

    # one call alone
    result = run("timeline", str(grpc_cassette), "--connection", "2")
    assert [line for line in result.stdout.splitlines() if line.startswith("grpc call")] == [
        next(line for line in lines if line.startswith("grpc call 2  "))
    ]
    assert one_error_line(run("timeline", str(grpc_cassette), "--connection", "9")) == (
        f"streamreplay: error: {grpc_cassette}: no WebSocket connection or gRPC call 9"
    )


def test_filter_by_grpc_method_and_status(run: Run, grpc_cassette: Path, tmp_path: Path) -> None:
    out = tmp_path / "gets.jsonl"
    result = run("filter", str(grpc_cassette), "-o", str(out), "--grpc-method", "Orders/Get")
    assert result.returncode == 0, result.stderr
    calls = [r for r in read_cassette(out)[1] if isinstance(r, HttpInteraction)]
    assert [c.request.path for c in calls] == ["/shop.Orders/Get", "/shop.Orders/Get"]
    assert read_cassette(out)[0].extra["filter"] == "--grpc-method Orders/Get"

    for status in ("NOT_FOUND", "not_found", "5"):
        result = run("filter", str(grpc_cassette), "-o", str(out), "--grpc-status", status)
        assert result.returncode == 0, result.stderr
        (call,) = read_cassette(out)[1]
        assert isinstance(call, HttpInteraction) and call.request.path == "/shop.Orders/Get"
        assert call.request.messages == [{"type": "shop.OrderQuery", "json": {"id": "missing"}}]

    # --where sees a call's gRPC summary and its messages' JSON forms
    where = 'grpc.status_name == "OK" and grpc.response_messages > 1'
    assert run("filter", str(grpc_cassette), "-o", str(out), "--where", where).returncode == 0
    paths = [r.request.path for r in read_cassette(out)[1] if isinstance(r, HttpInteraction)]
    assert paths == ["/shop.Orders/Watch", "/shop.Orders/Trade"]
    where = 'request.messages[0].json.id == "a"'
    assert run("filter", str(grpc_cassette), "-o", str(out), "--where", where).returncode == 0
    (call,) = read_cassette(out)[1]
    assert isinstance(call, HttpInteraction) and call.request.path == "/shop.Orders/Trade"

    assert one_error_line(
        run("filter", str(grpc_cassette), "-o", str(out), "--grpc-status", "LOST")
    ).startswith("streamreplay: error: grpc_status 'LOST' is not a gRPC status; use a number")


def test_export_to_mitm_and_back_keeps_the_calls(
    run: Run, grpc_cassette: Path, tmp_path: Path
) -> None:
    flows, back = tmp_path / "shop.mitm", tmp_path / "back.jsonl"
    result = run("export", str(grpc_cassette), "-o", str(flows), "--no-redact")
    assert result.returncode == 0, result.stderr
    assert run("import", str(flows), "-o", str(back), "--no-redact").returncode == 0

    def lines(path: Path) -> list[str]:
        return [json.dumps(r.to_json(), sort_keys=True) for r in read_cassette(path)[1]]

    assert lines(back) == lines(grpc_cassette)  # status, trailers, messages, offsets, JSON
    digests = [run("verify", str(p)).stdout.split()[1] for p in (grpc_cassette, back)]
    assert digests[0] == digests[1]

    from mitmproxy import io as mitmio

    with open(flows, "rb") as fh:
        loaded = list(mitmio.FlowReader(fh).stream())
    watch = loaded[1]
    # what mitmproxy's own tools see: the status in the trailers, the messages as the body
    assert watch.response.trailers["grpc-status"] == "0"
    assert watch.response.content.count(b"step ") == 3


def test_a_grpc_flow_from_mitmproxy_itself_is_imported_one_chunk_per_message(
    run: Run, grpc_cassette: Path, tmp_path: Path
) -> None:
    """A flow mitmproxy captured has no streamreplay metadata: the answer is cut into its
    messages (without offsets), its status stays in the trailers, its bodies stay base64."""
    from mitmproxy import io as mitmio

    flows, bare, back = tmp_path / "shop.mitm", tmp_path / "bare.mitm", tmp_path / "b.jsonl"
    assert run("export", str(grpc_cassette), "-o", str(flows), "--no-redact").returncode == 0
    with open(flows, "rb") as fh:
        loaded = list(mitmio.FlowReader(fh).stream())
    with open(bare, "wb") as fh:
        writer = mitmio.FlowWriter(fh)
        for flow in loaded:
            flow.metadata.clear()
            writer.add(flow)
    assert run("import", str(bare), "-o", str(back), "--no-redact").returncode == 0
    calls = [r for r in read_cassette(back)[1] if isinstance(r, HttpInteraction)]
    watch = next(c for c in calls if c.request.path == "/shop.Orders/Watch")
    assert watch.response.trailers == [("grpc-status", "0"), ("grpc-message", "")]
    assert watch.response.chunks is not None and len(watch.response.chunks) == 3
    assert all(c.t == 0.0 and c.after is None for c in watch.response.chunks)
    assert watch.request.body is not None and "base64" in watch.request.body
    original = next(
        r
        for r in read_cassette(grpc_cassette)[1]
        if isinstance(r, HttpInteraction) and r.request.path == "/shop.Orders/Watch"
    )
    assert [c.content for c in watch.response.chunks] == [
        c.content for c in original.response.chunks
    ]
