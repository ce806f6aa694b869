"""pytest glue: options, markers, fixtures, reporting. Everything else lives in the library."""

from __future__ import annotations

from .streams.fixtures import *  # noqa: F403  (marbles, stream_snapshot, ...)
