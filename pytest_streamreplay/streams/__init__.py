"""Stream tools: cassettes as Observables, collectors, marbles, step verification, parity."""

from __future__ import annotations

from .cassette_stream import CassetteObservable, cassette_stream
from .clock import MarketClock
from .collect import CollectTimeout, Notification, acollect, collect, collect_notifications
from .events import EventRecorder, EventReplayer, Replay, TimelineEntry, decode_event
from .marbles import (
    ColdObservable,
    HotObservable,
    MarbleAssertionError,
    Marbles,
    MarbleSyntaxError,
    Subscription,
    parse_marbles,
    parse_subscription,
)
from .parity import (
    Checkpoint,
    Divergence,
    ParityProof,
    ParityReport,
    ParityTracker,
    StreamHasher,
    canonical_json,
)
from .scheduling import VirtualScheduler
from .snapshot import StreamSnapshotExtension, render_timeline
from .verifier import StepVerifier, VerificationError, verify

__all__ = [
    "CassetteObservable",
    "Checkpoint",
    "ColdObservable",
    "CollectTimeout",
    "Divergence",
    "EventRecorder",
    "EventReplayer",
    "HotObservable",
    "MarbleAssertionError",
    "MarbleSyntaxError",
    "Marbles",
    "MarketClock",
    "Notification",
    "ParityProof",
    "ParityReport",
    "ParityTracker",
    "Replay",
    "StepVerifier",
    "StreamHasher",
    "StreamSnapshotExtension",
    "Subscription",
    "TimelineEntry",
    "VerificationError",
    "VirtualScheduler",
    "acollect",
    "canonical_json",
    "cassette_stream",
    "collect",
    "collect_notifications",
    "decode_event",
    "parse_marbles",
    "parse_subscription",
    "render_timeline",
    "verify",
]
