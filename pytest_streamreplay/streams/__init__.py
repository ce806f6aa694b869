"""Stream tools: cassettes as Observables, collectors, marbles, step verification, parity.

Names load on first use (reactivex and syrupy are not cheap), so the pytest plugin can register
the stream fixtures without importing them.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_SOURCES = {
    "CassetteObservable": "cassette_stream",
    "Checkpoint": "parity",
    "ColdObservable": "marbles",
    "CollectTimeout": "collect",
    "Divergence": "parity",
    "EventRecorder": "events",
    "EventReplayer": "events",
    "HotObservable": "marbles",
    "MarbleAssertionError": "marbles",
    "MarbleSyntaxError": "marbles",
    "Marbles": "marbles",
    "MarketClock": "clock",
    "Notification": "collect",
    "ParityProof": "parity",
    "ParityReport": "parity",
    "ParityTracker": "parity",
    "Replay": "events",
    "StepVerifier": "verifier",
    "StreamHasher": "parity",
    "StreamSnapshotExtension": "snapshot",
    "Subscription": "marbles",
    "TimelineEntry": "events",
    "VerificationError": "verifier",
    "VirtualScheduler": "scheduling",
    "acollect": "collect",
    "canonical_json": "parity",
    "cassette_stream": "cassette_stream",
    "collect": "collect",
    "collect_notifications": "collect",
    "decode_event": "events",
    "parse_marbles": "marbles",
    "parse_subscription": "marbles",
    "render_timeline": "snapshot",
    "verify": "verifier",
}

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


class _StreamsPackage(types.ModuleType):
    """The import system binds each loaded submodule on its package; ``collect`` and
    ``cassette_stream`` are named like the function they define, which must win (as it did when
    this file imported them eagerly)."""

    def __setattr__(self, name: str, value: Any) -> None:
        submodule = isinstance(value, types.ModuleType) and value.__name__ == f"{__name__}.{name}"
        if submodule and name in _SOURCES:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _StreamsPackage


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{source}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
