"""One rule for judging replayed timing in tests, so a loaded machine cannot fail them.

Precision is measured in bench/ (docs/benchmarks.md); a test checks only what a loaded box
cannot change."""

from __future__ import annotations

from collections.abc import Sequence

SPREAD_MS = 150.0
"""A gross margin: waits that add up (a gap slept after each delivery instead of up to an
anchored due time) or a doubled wait spread the messages' lateness wider than this."""


def assert_on_recorded_offsets(got: Sequence[float], want: Sequence[float]) -> None:
    """Replayed messages (ms from the first) keep their recorded offsets: the lateness of each
    against its offset varies by less than a gross margin (no drift), and the stream is not
    squeezed (a replay that ignored the timing delivers it all at once).

    Offsets count from the first message, whose own delay is unknown (it may come late, which
    makes the others look early), so only the spread of the lateness is judged."""
    assert len(got) == len(want), (got, want)
    lateness = [g - w for g, w in zip(got, want, strict=True)]
    spread = max(lateness) - min(lateness)
    assert spread <= SPREAD_MS, f"lateness varies by {spread:.1f} ms: got {got}, want {want}"
    assert got[-1] >= want[-1] / 2, f"the stream was squeezed: got {got}, want {want}"


def assert_did_not_wait(span_ms: float, recorded_span_ms: float) -> None:
    """Instant replay delivered the whole stream in well under its recorded span."""
    assert span_ms < recorded_span_ms / 2, (
        f"instant replay took {span_ms:.1f} ms for a stream recorded over {recorded_span_ms:.1f} ms"
    )
