"""One query language over a cassette's records, for ``streamreplay filter`` and the dashboard.

A ``Query`` names what to keep; its fields are declared once, here, with the ``filter``
option and help text of each in the field's metadata, so the command line, the web API's
parameters and its JSON body are all derived from ``QUERY_FIELDS`` and cannot drift.

Records come in three families: HTTP interactions (gRPC calls among them), WebSocket
connections (a ``ws`` record, its messages and its close) and events. Fields that name a
family (``conn``, ``dir`` and ``url`` name WebSocket; ``url``, ``grpc_method`` and
``grpc_status`` HTTP; ``event`` events) keep only the families named; with none of them every
family stays. The content fields (``channel``, ``text``, ``path``/``value``, ``where``) and
the time range then test each interaction, message and event. A connection's ``ws`` and
``ws_close`` records stay with it, so a cut cassette replays like the original.
"""

from __future__ import annotations

import json
import os
import shlex
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .grpc import STATUS_NAMES, call_summary
from .records import Event, HttpInteraction, Record, WsClose, WsConnection, WsMessage
from .redaction import Redactor
from .storage import CassetteWriter, iter_records, read_header
from .where import QueryError, Where, WhereError

__all__ = [
    "MISSING",
    "QUERY_FIELDS",
    "Query",
    "QueryError",
    "QueryField",
    "Selection",
    "Where",
    "WhereError",
    "payload_of",
    "resolve_path",
    "write_filtered",
]


class _Missing:
    """What a JSON path finds in a record without a JSON payload."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class QueryField:
    """How one ``Query`` field is spelled outside Python."""

    name: str
    flag: str  # the ``filter`` option
    type: type
    many: bool
    choices: tuple[str, ...] | None
    metavar: str | None
    help: str


def _spec(
    flag: str,
    help: str,
    *,
    metavar: str | None = None,
    choices: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """A ``Query`` field's metadata: its ``filter`` option and help."""
    return {"flag": flag, "help": help, "metavar": metavar, "choices": choices}


@dataclass
class Query:
    """A selection of a cassette's records (see the module docstring for the families)."""

    conn: list[int] | None = field(
        default=None,
        metadata=_spec("--connection", "keep these WebSocket connections", metavar="ID"),
    )
    dir: str | None = field(
        default=None,
        metadata=_spec(
            "--direction", "keep only messages in this direction", choices=("send", "recv")
        ),
    )
    event: list[str] | None = field(
        default=None, metadata=_spec("--event", "keep events with these names", metavar="NAME")
    )
    url: str | None = field(
        default=None,
        metadata=_spec(
            "--url",
            "keep HTTP interactions and connections whose URL contains SUBSTR",
            metavar="SUBSTR",
        ),
    )
    grpc_method: str | None = field(
        default=None,
        metadata=_spec(
            "--grpc-method",
            "keep gRPC calls whose method (/package.Service/Method) contains SUBSTR",
            metavar="SUBSTR",
        ),
    )
    grpc_status: str | None = field(
        default=None,
        metadata=_spec(
            "--grpc-status",
            "keep gRPC calls that ended with this status (a name such as NOT_FOUND, or its number)",
            metavar="STATUS",
        ),
    )
    channel: str | None = field(
        default=None,
        metadata=_spec(
            "--channel", "keep records whose JSON `channel` field is NAME", metavar="NAME"
        ),
    )
    text: str | None = field(
        default=None,
        metadata=_spec(
            "--text", "keep records whose JSON contains TEXT (case-insensitive)", metavar="TEXT"
        ),
    )
    path: str | None = field(
        default=None,
        metadata=_spec(
            "--path",
            "keep records whose payload (message body, event data, response body) has this JSON "
            "path: a.b[0].c, a[].b",
            metavar="JSONPATH",
        ),
    )
    value: str | None = field(
        default=None,
        metadata=_spec(
            "--value",
            "with --path: keep only records where the path's value is VALUE",
            metavar="VALUE",
        ),
    )
    where: str | None = field(
        default=None,
        metadata=_spec("--where", "keep records whose JSON matches EXPR", metavar="EXPR"),
    )
    t_from: float | None = field(
        default=None,
        metadata=_spec(
            "--from", "keep records at or after this offset (ms, the cassette's axis)", metavar="MS"
        ),
    )
    t_to: float | None = field(
        default=None,
        metadata=_spec(
            "--to", "keep records at or before this offset (ms, the cassette's axis)", metavar="MS"
        ),
    )

    def __post_init__(self) -> None:
        if self.dir not in (None, "send", "recv"):
            raise QueryError(f"dir must be send or recv, not {self.dir!r}")
        if self.t_from is not None and self.t_to is not None and self.t_to < self.t_from:
            raise QueryError("t_to is before t_from")
        if self.value is not None and not self.path:
            raise QueryError("value needs a path")
        self._grpc_status = _grpc_status(self.grpc_status)
        self._where = Where(self.where) if self.where else None
        self._channel = Where(f"channel == {json.dumps(self.channel)}") if self.channel else None
        self._path = parse_path(self.path) if self.path else None
        self._text = self.text.lower() if self.text else None

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Query:
        """From a form or API body: an empty field means "no condition", not "match empty"."""
        return cls(**{k: (v if v not in ("", []) else None) for k, v in options.items()})

    def options(self) -> dict[str, Any]:
        """The conditions set, by field name."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in out.items() if v not in (None, "", [])}

    def description(self) -> str:
        """The query as ``filter`` options, for a cut cassette's header: the same whether the
        command line or the dashboard made it."""
        args: list[str] = []
        for spec in QUERY_FIELDS:
            value = getattr(self, spec.name)
            if value in (None, "", []):
                continue
            values = value if isinstance(value, list) else [value]
            args += [spec.flag, *(f"{v:g}" if isinstance(v, float) else str(v) for v in values)]
        return shlex.join(args)

    @property
    def structural(self) -> bool:
        """True when record kinds, connections, directions, event names, channels and times
        alone decide (an index can answer without reading bodies)."""
        return not (
            self.text
            or self.path
            or self.where
            or self.url
            or self.grpc_method is not None
            or self.grpc_status is not None
        )

    def selection(self) -> Selection:
        return Selection(self)


QUERY_FIELDS: tuple[QueryField, ...] = tuple(
    QueryField(
        name=f.name,
        flag=f.metadata["flag"],
        type={"conn": int, "t_from": float, "t_to": float}.get(f.name, str),
        many=f.name in ("conn", "event"),
        choices=f.metadata["choices"],
        metavar=f.metadata["metavar"],
        help=f.metadata["help"],
    )
    for f in fields(Query)
)
"""Every ``Query`` field with its command-line spelling, in declaration order."""


class Selection:
    """A query's decision for each record, in one streaming pass over a cassette.

    It also learns connection openings, to place messages on the cassette's time axis
    (a message's ``t`` counts from its connection's opening).
    """

    def __init__(self, query: Query) -> None:
        self.query = query
        q = query
        grpc = q.grpc_method is not None or q.grpc_status is not None
        scoped = q.conn or q.url is not None or q.dir or q.event or grpc
        self.keep_http = not scoped or q.url is not None or grpc
        self.keep_ws = not scoped or bool(q.conn or q.url is not None or q.dir)
        self.keep_events = not scoped or bool(q.event)
        self._conns = set(q.conn) if q.conn else None
        self._events = set(q.event) if q.event else None
        self._open: set[int] = set()
        self.opened: dict[int, float] = {}

    def time_of(self, record: Record) -> float:
        """``record``'s offset on the cassette's axis (connections' messages: opening + t)."""
        if isinstance(record, WsMessage | WsClose):
            return self.opened.get(record.conn, 0.0) + record.t
        return float(getattr(record, "t", 0.0))

    def __call__(self, record: Record) -> bool:
        q = self.query
        if isinstance(record, WsConnection):
            self.opened[record.id] = record.t
            keep = (
                self.keep_ws
                and (self._conns is None or record.id in self._conns)
                and (q.url is None or q.url in record.url)
            )
            if keep:
                self._open.add(record.id)
            return keep
        if isinstance(record, HttpInteraction):
            if not self.keep_http or (q.url is not None and q.url not in record.request.url):
                return False
            if q.grpc_method is not None or q.grpc_status is not None:
                call = call_summary(record)
                if call is None:
                    return False
                if q.grpc_method is not None and q.grpc_method not in call["method"]:
                    return False
                if q._grpc_status is not None and call["status"] != q._grpc_status:
                    return False
            return self._matches(record)
        if isinstance(record, WsMessage):
            if record.conn not in self._open:
                return False
            if q.dir is not None and record.dir != q.dir:
                return False
            return self._matches(record)
        if isinstance(record, WsClose):
            return record.conn in self._open
        if isinstance(record, Event):
            if not self.keep_events or (
                self._events is not None and record.name not in self._events
            ):
                return False
            return self._matches(record)
        return False

    def _matches(self, record: Record) -> bool:
        q = self.query
        if q.t_from is not None or q.t_to is not None:
            t = self.time_of(record)
            if (q.t_from is not None and t < q.t_from) or (q.t_to is not None and t > q.t_to):
                return False
        if q._channel is None and q._where is None and q._text is None and q._path is None:
            return True
        obj = record.to_json()
        if isinstance(record, HttpInteraction):
            call = call_summary(record)
            if call is not None:
                obj["grpc"] = call  # --where grpc.status_name == "NOT_FOUND"
        if q._channel is not None and not q._channel(obj):
            return False
        if q._where is not None and not q._where(obj):
            return False
        if q._text is not None and q._text not in json.dumps(obj, ensure_ascii=False).lower():
            return False
        if q._path is not None:
            payload = payload_of(record)
            if payload is MISSING:
                return False
            found = list(resolve_path(payload, q._path))
            if not found:
                return False
            if q.value is not None and not any(_scalar_text(v) == q.value for v in found):
                return False
        return True


def write_filtered(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    query: Query,
    records: Iterable[Record] | None = None,
    *,
    redactor: Redactor | bool | None = True,
) -> tuple[Counter[str], int]:
    """Write the records ``query`` keeps to ``out`` atomically; (kept by kind, total read).

    ``records`` defaults to ``iter_records(source)``. The header says where the cut came from
    and how (``filtered_from``, ``filter``). What is written is redacted (``redactor=True``:
    the default rules; a ``Redactor``; ``None`` or ``False``: not at all), after a first pass
    over the source learns every secret in it."""
    if redactor is True:
        redactor = Redactor()
    if isinstance(redactor, Redactor):
        redactor.prime(iter_records(source))
    else:
        redactor = None
    header = read_header(source)
    header.extra["filtered_from"] = Path(source).name
    header.extra["filter"] = query.description()
    selection = query.selection()
    kept: Counter[str] = Counter()
    total = 0
    with CassetteWriter(out, header) as writer:
        for record in iter_records(source) if records is None else records:
            total += 1
            if selection(record):
                if redactor is not None:
                    redactor.redact_record(record)
                obj = record.to_json()
                kept[obj["kind"]] += 1
                writer.write(obj)
    return kept, total


def _grpc_status(value: str | None) -> int | None:
    """A status code from its name (any case) or number; a clear error for anything else."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return int(text)
    name = text.upper()
    if name in STATUS_NAMES:
        return STATUS_NAMES.index(name)
    raise QueryError(
        f"grpc_status {value!r} is not a gRPC status; use a number or one of "
        f"{', '.join(STATUS_NAMES)}"
    )


# -- JSON paths ---------------------------------------------------------------------------


def parse_path(path: str) -> list[str | int | None]:
    """``a.b[0].c`` / ``a[].b`` into keys, indexes and None (any element)."""
    steps: list[str | int | None] = []
    text = path.strip()
    if text.startswith("$"):
        text = text[1:].lstrip(".")
    i = 0
    while i < len(text):
        if text[i] == ".":
            i += 1
            continue
        if text[i] == "[":
            end = text.find("]", i)
            if end < 0:
                raise QueryError(f"JSON path {path!r}: unclosed [")
            inner = text[i + 1 : end].strip()
            if inner in ("", "*"):
                steps.append(None)
            elif inner.lstrip("-").isdigit():
                steps.append(int(inner))
            else:
                steps.append(inner.strip("\"'"))
            i = end + 1
            continue
        j = i
        while j < len(text) and text[j] not in ".[":
            j += 1
        steps.append(text[i:j])
        i = j
    if not steps:
        raise QueryError(f"JSON path {path!r} is empty")
    return steps


def resolve_path(value: Any, steps: list[str | int | None]) -> Iterator[Any]:
    """Every value ``steps`` reach in ``value`` (``None`` steps fan out over lists)."""
    if not steps:
        yield value
        return
    step, rest = steps[0], steps[1:]
    if step is None:
        if isinstance(value, list):
            for item in value:
                yield from resolve_path(item, rest)
    elif isinstance(step, int):
        if isinstance(value, list) and -len(value) <= step < len(value):
            yield from resolve_path(value[step], rest)
    elif isinstance(value, dict) and step in value:
        yield from resolve_path(value[step], rest)


def payload_of(record: Record) -> Any:
    """The JSON a path is about: message body, event data, response body (else ``MISSING``)."""
    if isinstance(record, WsMessage):
        return record.body.get("json", MISSING) if record.body else MISSING
    if isinstance(record, Event):
        return record.data
    if isinstance(record, HttpInteraction):
        body = record.response.body
        return body.get("json", MISSING) if body else MISSING
    return MISSING


def _scalar_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
