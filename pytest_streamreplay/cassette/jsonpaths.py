"""Dotted JSON paths (``params.ts``, ``items.*.id``): the fields a comparison leaves out, as
``json_body[...]``, WebSocket ``message_ignore`` and gRPC ``grpc_message[...]`` name them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["without_paths"]


def _drop_path(value: Any, path: Sequence[str]) -> None:
    """Remove one dotted path (``params.ts``, ``items.*.id``) from a JSON value in place."""
    if not path:
        return
    head, rest = path[0], path[1:]
    targets: list[Any]
    if isinstance(value, dict):
        if head == "*":
            targets = list(value.values())
        elif not rest:
            value.pop(head, None)
            return
        else:
            targets = [value[head]] if head in value else []
    elif isinstance(value, list):
        if head == "*":
            targets = value
        elif head.isdigit() and int(head) < len(value):
            if not rest:
                value[int(head)] = None
                return
            targets = [value[int(head)]]
        else:
            targets = []
    else:
        return
    for target in targets:
        if rest:
            _drop_path(target, rest)
        elif isinstance(value, dict):
            value.clear()


def without_paths(value: Any, paths: Iterable[str]) -> Any:
    """A copy of ``value`` with the given dotted paths removed."""
    copied = json.loads(json.dumps(value))
    for path in paths:
        _drop_path(copied, [p for p in path.strip().lstrip("$").strip(".").split(".") if p])
    return copied
