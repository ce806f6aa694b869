"""A syrupy extension that stores a stream as a readable timeline, one notification a line.

``assert collect_notifications(stream) == stream_snapshot`` writes (with ``--snapshot-update``)
and compares text like::

    0ms    on_next       {"price":"1.5","side":"buy"}
    12.5ms on_completed

so a review shows which message changed and when. syrupy's ``matcher=path_type(...)`` and
``exclude=props(...)``/``paths(...)``/``include=`` apply to the notification data before
rendering; paths are ``<index>.value.<key>...`` (e.g. ``"0.value.ts"``), the same shape as
syrupy's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from syrupy.extensions.amber import AmberSnapshotExtension

from .collect import Notification
from .marbles.render import format_ms
from .parity import normalize

__all__ = ["StreamSnapshotExtension", "render_timeline"]

Path = tuple[tuple[Any, Any], ...]


class _Raw:
    """A matcher's replacement (e.g. syrupy's ``Repr``): rendered as-is, unquoted."""

    def __init__(self, text: str) -> None:
        self.text = text


def _plain(note: Notification) -> dict[str, Any]:
    out: dict[str, Any] = {"time": note.time, "kind": note.kind}
    if note.kind == "on_next":
        out["value"] = note.value
    elif note.kind == "on_error" and note.error is not None:
        out["error"] = {"type": type(note.error).__name__, "args": list(note.error.args)}
    return out


def _walk(
    data: Any,
    path: Path,
    matcher: Callable[..., Any] | None,
    exclude: Callable[..., bool] | None,
    include: Callable[..., bool] | None,
) -> Any:
    if matcher is not None:
        replaced = matcher(data=data, path=path)
        if replaced is not data and type(replaced).__name__ == "Repr":
            return _Raw(repr(replaced))
        data = replaced
    if isinstance(data, Mapping):
        out = {}
        for key, value in data.items():
            if exclude is not None and exclude(prop=key, path=path):
                continue
            if include is not None and not include(prop=key, path=path):
                continue
            out[key] = _walk(value, (*path, (key, type(value))), matcher, exclude, include)
        return out
    if isinstance(data, list | tuple):
        return [
            _walk(v, (*path, (i, type(v))), matcher, exclude, include) for i, v in enumerate(data)
        ]
    return data


def _compact(value: Any) -> str:
    if isinstance(value, _Raw):
        return value.text
    if isinstance(value, Mapping):
        inner = ",".join(
            f"{json.dumps(str(k), ensure_ascii=False)}:{_compact(v)}"
            for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
        )
        return "{" + inner + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_compact(v) for v in value) + "]"
    try:
        return json.dumps(
            normalize(value), ensure_ascii=False, sort_keys=True, separators=(",", ":")
        )
    except TypeError:
        return repr(value)


def render_timeline(
    notes: list[Notification],
    *,
    matcher: Callable[..., Any] | None = None,
    exclude: Callable[..., bool] | None = None,
    include: Callable[..., bool] | None = None,
) -> str:
    """The timeline text (no trailing newline: Amber would add a blank line)."""
    rows = _walk([_plain(n) for n in notes], (), matcher, exclude, include)
    lines = []
    width = max((len(format_ms(n.time)) for n in notes), default=1) + 2
    for row in rows:
        time = row.get("time")
        stamp = (
            (time.text if isinstance(time, _Raw) else f"{format_ms(time)}ms")
            if (time is not None)
            else "-"
        )
        kind = row.get("kind", "?")
        if "value" in row:
            detail = _compact(row["value"])
        elif "error" in row:
            err = row["error"]
            if isinstance(err, Mapping):
                detail = f"{err.get('type', '?')}{_compact(err.get('args', []))}"
            else:
                detail = _compact(err)
        else:
            detail = ""
        lines.append(f"{stamp.ljust(width)} {kind:<12} {detail}".rstrip())
    return "\n".join(lines) if lines else "(no notifications)"


class StreamSnapshotExtension(AmberSnapshotExtension):
    """Amber snapshots whose lists of ``Notification`` render as timelines.

    Anything else (plain values) falls back to syrupy's Amber serializer unchanged.
    """

    def serialize(self, data: Any, **kwargs: Any) -> str:
        if isinstance(data, list | tuple) and all(isinstance(n, Notification) for n in data):
            return render_timeline(
                list(data),
                matcher=kwargs.get("matcher"),
                exclude=kwargs.get("exclude"),
                include=kwargs.get("include"),
            )
        return super().serialize(data, **kwargs)
