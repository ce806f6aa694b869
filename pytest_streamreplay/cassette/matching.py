"""Request matching: which recorded interaction answers a live request, and why not.

A matcher compares a live request with a recorded one and returns None when they agree, or a
short description of the difference (``"/x != /"``), which the unmatched-request report shows.
Matchers are named in ``match_on``; some take arguments in brackets: ``json_body[id,params.ts]``
ignores those JSON paths, ``headers[accept,x-version]`` compares only those headers,
``grpc_message[at,items.*.ts]`` compares gRPC request messages by their JSON forms without
those fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .grpc import is_grpc, messages_differ
from .jsonpaths import without_paths
from .records import HttpRequest

__all__ = [
    "DEFAULT_MATCH_ON",
    "Matcher",
    "MatcherSpecError",
    "NamedMatcher",
    "compare",
    "grpc_fields_matcher",
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
    #: ``grpc_message[paths]``: gRPC request messages compare by their JSON forms without
    #: these fields (see ``compare``).
    grpc_ignore: tuple[str, ...] | None = None

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
        "grpc_message",
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
        if name == "grpc_message":
            out.append(NamedMatcher(spec, _no_opinion, grpc_ignore=args))
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


def _no_opinion(live: HttpRequest, recorded: HttpRequest) -> str | None:
    return None  # compared in ``compare``, which knows whether the request is still arriving


def compare(
    live: HttpRequest,
    recorded: HttpRequest,
    matchers: Sequence[NamedMatcher],
    *,
    partial: bool = False,
) -> list[tuple[str, str]]:
    """The failing matchers as ``(name, difference)``; empty when the requests match.

    Two gRPC calls also compare their request messages (a method's calls differ by them):
    as bytes, or by their JSON forms without some fields when ``match_on`` has
    ``grpc_message[paths]``; not at all when the matchers already look at the body.
    ``partial``: the live request is still arriving, compare its first message only."""
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
        by_fields = grpc_fields_matcher(matchers)
        ignore = None if by_fields is None else by_fields.grpc_ignore
        diff = messages_differ(live, recorded, first_only=partial, ignore=ignore)
        if diff is not None:
            failures.append((by_fields.name if by_fields else "grpc messages", diff))
    return failures


_BODY_MATCHERS = frozenset({"body", "json_body"})


def grpc_fields_matcher(matchers: Sequence[NamedMatcher]) -> NamedMatcher | None:
    """The ``grpc_message[paths]`` matcher among ``matchers``: gRPC messages compare by their
    JSON forms without those paths (None: as bytes)."""
    return next((m for m in matchers if m.grpc_ignore is not None), None)
