"""Request matching: which recorded interaction answers a live request, and why not.

A matcher compares a live request with a recorded one and returns None when they agree, or a
short description of the difference (``"/x != /"``), which the unmatched-request report shows.
Matchers are named in ``match_on``; some take arguments in brackets: ``json_body[id,params.ts]``
ignores those JSON paths, ``headers[accept,x-version]`` compares only those headers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .grpc import is_grpc, messages_differ
from .records import HttpRequest

__all__ = [
    "DEFAULT_MATCH_ON",
    "Matcher",
    "MatcherSpecError",
    "NamedMatcher",
    "compare",
    "matcher_names",
    "resolve_matchers",
]

DEFAULT_MATCH_ON: tuple[str, ...] = ("method", "scheme", "host", "port", "path", "query")

# Headers that differ between any two runs of the same request, never compared.
_VOLATILE_HEADERS = frozenset(
    {"content-length", "connection", "proxy-connection", "keep-alive", "transfer-encoding"}
)


class MatcherSpecError(ValueError):
    """An unknown matcher name or a malformed ``name[args]`` spec."""


class Matcher(Protocol):
    def __call__(self, live: HttpRequest, recorded: HttpRequest) -> str | None: ...


@dataclass(frozen=True)
class NamedMatcher:
    name: str
    fn: Matcher
    #: A built-in matcher that reads only the method and the URL: a cassette's index can
    #: answer it without reading headers and bodies back from the file.
    url_only: bool = False

    def __call__(self, live: HttpRequest, recorded: HttpRequest) -> str | None:
        return self.fn(live, recorded)


def _diff(a: Any, b: Any) -> str | None:
    return None if a == b else f"{a!r} != {b!r}"


def _query(req: HttpRequest) -> list[tuple[str, str]]:
    return sorted(req.query)


def _headers(req: HttpRequest, only: frozenset[str] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in req.headers:
        key = k.lower()
        if key in _VOLATILE_HEADERS or (only is not None and key not in only):
            continue
        out.setdefault(key, []).append(v)
    return out


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


def _json_body(ignore: tuple[str, ...]) -> Matcher:
    def match(live: HttpRequest, recorded: HttpRequest) -> str | None:
        a, b = live.json, recorded.json
        if a is None or b is None:
            return _diff(live.content, recorded.content)
        return _diff(without_paths(a, ignore), without_paths(b, ignore))

    return match


_URL_ONLY = frozenset({"method", "scheme", "host", "port", "path", "query", "uri"})


def _builtin(name: str, args: tuple[str, ...]) -> Matcher:
    simple: dict[str, Callable[[HttpRequest], Any]] = {
        "method": lambda r: r.method.upper(),
        "scheme": lambda r: r.scheme,
        "host": lambda r: r.host,
        "port": lambda r: r.port,
        "path": lambda r: r.path,
        "query": _query,
        "uri": lambda r: r.url,
        "body": lambda r: r.content,
    }
    if name in simple:
        if args:
            raise MatcherSpecError(f"matcher {name!r} takes no arguments")
        get = simple[name]
        return lambda live, recorded: _diff(get(live), get(recorded))
    if name == "json_body":
        return _json_body(args)
    if name == "headers":
        only = frozenset(a.lower() for a in args) if args else None
        return lambda live, recorded: _diff(_headers(live, only), _headers(recorded, only))
    raise MatcherSpecError(name)


def matcher_names() -> list[str]:
    return [
        "method",
        "scheme",
        "host",
        "port",
        "path",
        "query",
        "uri",
        "body",
        "json_body",
        "headers",
    ]


def _parse_spec(spec: str) -> tuple[str, tuple[str, ...]]:
    spec = spec.strip()
    if "[" not in spec:
        return spec, ()
    if not spec.endswith("]"):
        raise MatcherSpecError(f"malformed matcher {spec!r}: expected name[arg,arg]")
    name, _, inner = spec[:-1].partition("[")
    return name.strip(), tuple(a.strip() for a in inner.split(",") if a.strip())


def resolve_matchers(
    specs: Iterable[str | Matcher], custom: dict[str, Matcher] | None = None
) -> list[NamedMatcher]:
    """Turn ``match_on`` entries (names, ``name[args]`` or callables) into matchers."""
    custom = custom or {}
    out: list[NamedMatcher] = []
    for spec in specs:
        if callable(spec):
            out.append(NamedMatcher(getattr(spec, "__name__", "custom"), spec))
            continue
        name, args = _parse_spec(spec)
        if name in custom and not args:
            out.append(NamedMatcher(name, custom[name]))
            continue
        try:
            out.append(NamedMatcher(spec, _builtin(name, args), name in _URL_ONLY))
        except MatcherSpecError as exc:
            if str(exc) != name:
                raise
            known = ", ".join([*matcher_names(), *sorted(custom)])
            raise MatcherSpecError(
                f"unknown matcher {name!r} in match_on; known matchers: {known}"
            ) from None
    return out


def compare(
    live: HttpRequest,
    recorded: HttpRequest,
    matchers: Sequence[NamedMatcher],
    *,
    partial: bool = False,
) -> list[tuple[str, str]]:
    """The failing matchers as ``(name, difference)``; empty when the requests match.

    Two gRPC calls also compare their request messages (a method's calls differ by them),
    unless the matchers already look at the body; ``partial``: the live request is still
    arriving, compare its first message only."""
    failures = []
    for m in matchers:
        diff = m(live, recorded)
        if diff is not None:
            failures.append((m.name, diff))
    if (
        is_grpc(live.headers)
        and is_grpc(recorded.headers)
        and not any(m.name.split("[")[0] in _BODY_MATCHERS for m in matchers)
    ):
        diff = messages_differ(live, recorded, first_only=partial)
        if diff is not None:
            failures.append(("grpc messages", diff))
    return failures


_BODY_MATCHERS = frozenset({"body", "json_body"})
