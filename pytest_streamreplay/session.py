"""One cassette in use by one test: record modes, replay order, and what went wrong.

The proxy's addons ask the session what to do with each request (replay, go live, refuse) and
hand it what they record; the test harness asks it afterwards what was unmatched or unused and
tells it to save. It knows nothing of pytest or mitmproxy.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .cassette.grpc import is_grpc, messages_differ
from .cassette.grpc_types import DESCRIPTOR_SET_KEY, GrpcTypes
from .cassette.index import CassetteIndex, IndexedHttp
from .cassette.matching import NamedMatcher, compare, grpc_fields_matcher
from .cassette.records import (
    HttpInteraction,
    HttpRequest,
    Record,
    WsConnection,
)
from .cassette.redaction import REDACTED, Redactor, normalize_placeholders
from .cassette.shared import save_merged
from .cassette.storage import CassetteError, new_header, read_header
from .playback import ConversationReport, Speed, WsScript

__all__ = [
    "SETTLE_TIMEOUT_S",
    "CassetteMissingError",
    "CassetteSession",
    "Decision",
    "RecordMode",
    "ReplayError",
    "Unmatched",
]


log = logging.getLogger("pytest_streamreplay")

#: How long teardown waits for live flows the test started to finish before cutting them off.
SETTLE_TIMEOUT_S = 2.0
#: How long teardown waits, past that, for exchanges already being written.
FINISHING_TIMEOUT_S = 30.0


class RecordMode(StrEnum):
    """vcrpy's record modes, plus pytest-recording's ``rewrite``."""

    ONCE = "once"
    NEW_EPISODES = "new_episodes"
    NONE = "none"
    ALL = "all"
    REWRITE = "rewrite"


class CassetteMissingError(Exception):
    """Replay was asked for and there is nothing to replay.

    No longer raised when a session opens (vcrpy's mode ``none`` fails each request, not the
    test): a missing cassette is reported per refused request, see ``CassetteSession.missing``.
    Kept so code catching it still imports."""


class ReplayError(CassetteError):
    """Replaying a record failed (a matcher raised, say): names the cassette file and line."""


@dataclass(frozen=True)
class Decision:
    """What to do with a live request: ``replay`` a recorded interaction, go ``live``, or
    ``refuse`` it with an explanation."""

    action: str
    interaction: HttpInteraction | None = None
    report: str = ""
    script: WsScript | None = None
    line: int | None = None  # the cassette line of the record that is replayed
    path: Path | None = None  # its cassette (this test's, or an extra one)


@dataclass
class Unmatched:
    request: HttpRequest
    report: str


@dataclass
class CassetteSession:
    """State of one cassette for the duration of one test."""

    path: Path
    record_mode: RecordMode = RecordMode.NONE
    matchers: Sequence[NamedMatcher] = ()
    allow_repeats: bool = True
    redactor: Redactor = field(default_factory=Redactor)
    strict: bool = False
    test_id: str | None = None
    #: Runs on each recorded record after the built-in redaction; False leaves it out.
    extra_redact: Callable[[Record], bool | None] | None = None
    speed: Speed = field(default_factory=Speed)
    message_ignore: tuple[str, ...] = ()
    routes: list[tuple[str, str]] = field(default_factory=list)
    #: More cassettes to replay from (never written): pytest-recording's ``vcr("extra.yaml")``.
    extra: Sequence[Path] = ()
    #: The pytest run this test belongs to (one id for all its xdist workers); see ``save``.
    pytest_session: str | None = None
    #: Other tests use this cassette too: "unused" is judged for the run, not by this test.
    shared: bool = False
    #: Protobuf types (``grpc_descriptors``): gRPC messages get a JSON form when recorded and
    #: when matched.
    grpc_types: GrpcTypes | None = None

    existed: bool = field(init=False, default=False)
    can_replay: bool = field(init=False, default=False)
    can_record: bool = field(init=False, default=False)
    new_records: list[Record] = field(init=False, default_factory=list)
    seen: list[HttpInteraction] = field(init=False, default_factory=list)
    unmatched: list[Unmatched] = field(init=False, default_factory=list)
    #: What the last ``save`` added to the cassette (None: nothing written).
    written: list[Record] | None = field(init=False, default=None)
    #: HTTP interactions in the cassette after that save (other tests' and earlier ones too).
    cassette_http: int = field(init=False, default=0)
    #: Connections and requests that reached the proxy while bound; 0 after a test that made
    #: requests means its client ignored the proxy settings.
    traffic: int = field(init=False, default=0)
    #: Failures inside the proxy while serving this test (always fail it): see ``add_error``.
    errors: list[str] = field(init=False, default_factory=list)
    #: ``_types``'s answer once worked out (False: not yet).
    _replay_types: GrpcTypes | bool | None = field(init=False, default=False, repr=False)
    #: Requests whose origin could not be reached while recording (``METHOD url: why``).
    origin_failures: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.record_mode = RecordMode(self.record_mode)
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._next_id = 0
        self.existed = self.path.exists()
        self.extra = [Path(p) for p in self.extra]
        found_extra = [p for p in self.extra if p.exists()]
        self.missing_extra = [p for p in self.extra if not p.exists()]
        has_recordings = self.existed or bool(found_extra)
        mode = self.record_mode
        if self.strict:
            mode = RecordMode.NONE
        if mode in (RecordMode.ALL, RecordMode.REWRITE):
            self.can_record = True
        elif mode is RecordMode.NEW_EPISODES:
            self.can_record = True
            self.can_replay = has_recordings
        elif mode is RecordMode.ONCE:
            # A cassette this run started is still being recorded by the tests sharing it.
            new = not has_recordings or self._started_by_this_run()
            self.can_replay = not new
            self.can_record = new
        else:
            # A missing cassette fails each request or connection, not the test: a test that
            # makes none passes, as with vcrpy's mode none.
            self.can_replay = has_recordings
        self.effective_mode = mode
        # Replay reads indexes (offsets, methods, URLs), never every body: see cassette/index.
        # The test's cassette first, then extra cassettes (replayed, never written).
        self._index: CassetteIndex | None = None
        self._indexes: list[CassetteIndex] = []
        if self.can_replay:
            if self.existed:
                self._index = CassetteIndex(self.path)
                self._next_id = self._index.max_id + 1
                self._indexes.append(self._index)
            self._indexes += [CassetteIndex(p) for p in found_extra]
        self._http: list[IndexedHttp] = []
        self._http_source: list[CassetteIndex] = []  # the index each entry comes from
        self._ws_scripts: list[WsScript] = []
        self._ws_where: list[tuple[Path, int]] = []
        for index in self._indexes:
            self._http += index.http
            self._http_source += [index] * len(index.http)
            self._ws_scripts += [WsScript(w.conn, index.messages(w), w.close) for w in index.ws]
            self._ws_where += [(index.path, w.line) for w in index.ws]
        self._plays = [0] * len(self._http)
        self._summaries: dict[int, tuple[int, HttpRequest]] = {}
        self._url_only = all(m.url_only for m in self.matchers)
        self._by_path = any(m.url_only and m.name == "path" for m in self.matchers)
        if self.can_record and self._index is not None:  # new_episodes: number after them
            self.redactor.reserve(self.path.read_text(encoding="utf-8"))
        self.ws_reports: list[ConversationReport] = []
        self._active = 0
        self._idle = threading.Condition(self._lock)
        # Live flows (HTTP exchanges, WebSocket connections) being recorded, by flow id: each
        # maps to what writes it from what was delivered if it is still open at teardown.
        self._live: dict[str, Callable[[], None]] = {}
        self._finishing = 0  # flows that ended and are being written (see ``finishing``)
        self._errors_told = 0  # how many of ``errors`` ``problems`` has reported

    # -- routes ----------------------------------------------------------------------------
    def add_route(self, original: str, target: str) -> None:
        """While recording, send requests under ``original`` to ``target`` instead; the cassette
        keeps the original URLs, so replay needs neither."""
        self.routes.append((_http_form(original).rstrip("/"), _http_form(target).rstrip("/")))

    def route(self, url: str) -> str | None:
        """The stand-in URL for a live request (the longest matching prefix wins), or None."""
        url = _http_form(url)
        for original, target in sorted(self.routes, key=lambda r: -len(r[0])):
            if url == original or url.startswith(original + "/") or url.startswith(original + "?"):
                return target + url[len(original) :]
        return None

    # -- facts -----------------------------------------------------------------------------
    @property
    def missing(self) -> bool:
        """Replay only, and no cassette to replay: every request is refused."""
        return not self.can_replay and not self.can_record

    def _missing_report(self, what: str) -> str:
        return (
            f"no cassette at {self.path} (record mode {self.effective_mode.value}"
            f"{', --replay-strict' if self.strict else ''}); record it with "
            "`pytest --record-mode=once` against the real services\n"
            f"  refused: {what}{self._missing_extra_note()}"
        )

    def _missing_extra_note(self) -> str:
        return "".join(f"\n  extra cassette not found: {p}" for p in self.missing_extra)

    @property
    def mode(self) -> str:
        """``"record"`` when this session may write the cassette, else ``"replay"``."""
        return "record" if self.can_record else "replay"

    def start_clock(self) -> None:
        """Put the cassette's time origin here: recording offsets count from the moment the
        test is bound to a running proxy, not from before the proxy's start-up."""
        self._start = time.monotonic()

    @property
    def clock_origin(self) -> float:
        """``time.monotonic()`` at the cassette's time origin."""
        return self._start

    @property
    def cassette_records(self) -> list[Record]:
        """The replayed cassette's records, read from the file now (saving in new_episodes
        mode needs them; replay itself never holds them all)."""
        return list(self._index.records()) if self._index is not None else []

    def where(self, line: int | None = None, path: Path | None = None) -> str:
        """``path:line`` of a cassette record (in this test's cassette unless ``path`` names
        an extra one), for messages."""
        path = path or self.path
        return f"{path}:{line}" if line is not None else str(path)

    def add_error(self, report: str) -> None:
        """Something failed inside the proxy while serving this test: the test fails with it."""
        with self._lock:
            self.errors.append(report)

    def close(self) -> None:
        """Release the cassette file (reads after this reopen it)."""
        for index in self._indexes:
            index.close()

    def elapsed_ms(self) -> float:
        return (time.monotonic() - self._start) * 1000.0

    def next_id(self) -> int:
        with self._lock:
            value = self._next_id
            self._next_id += 1
            return value

    @property
    def interactions(self) -> list[HttpInteraction]:
        """HTTP interactions replayed or recorded so far, in the order they happened."""
        with self._lock:
            return list(self.seen)

    @property
    def play_count(self) -> int:
        """Answers given from the cassette so far, repeats included (vcrpy's ``play_count``)."""
        with self._lock:
            return sum(self._plays)

    def unused(self) -> list[HttpInteraction]:
        """Recorded interactions that no request asked for (only meaningful when replaying);
        read back from the cassette, so prefer ``unused_count`` when a number will do."""
        with self._lock:
            unplayed = [i for i, plays in enumerate(self._plays) if not plays]
        return [self._http_source[i].interaction(self._http[i]) for i in unplayed]

    def unused_count(self) -> int:
        with self._lock:
            return self._plays.count(0)

    def unused_connections(self) -> list[WsConnection]:
        with self._lock:
            return [s.conn for s in self._ws_scripts if not s.used]

    def problems(self) -> list[str]:
        """Reasons this test fails: unmatched requests and connections always; under
        --replay-strict also mismatched client messages, undelivered tails and anything unused.
        Non-strict replay logs mismatches and carries on."""
        self.wait_idle()
        with self._lock:
            out = [*self.errors, *(u.report for u in self.unmatched)]
            self._errors_told = len(self.errors)
        if not self.strict:
            return out
        with self._lock:
            reports = list(self.ws_reports)
        for report in reports:
            out += report.mismatches + report.extra
            if report.tail:
                out.append(report.tail)
        if not self.shared:  # a shared cassette is judged once for the run (plugin, report)
            out += _unused_problems(str(self.path), *self.unused_lines())
        return out

    def unused_lines(self) -> tuple[list[str], list[str]]:
        """The recorded interactions and WebSocket connections this test did not use, one line
        each (``#id METHOD url``, ``#id url``): what strict replay reports."""
        with self._lock:
            unused = [
                f"#{e.id} {e.method} {e.url}"
                for e, plays in zip(self._http, self._plays, strict=True)
                if not plays
            ]
        idle = [f"#{c.id} {c.url}" for c in self.unused_connections()]
        return unused, idle

    def _started_by_this_run(self) -> bool:
        if self.pytest_session is None:
            return False
        try:
            return read_header(self.path).pytest_session == self.pytest_session
        except CassetteError:
            return False  # replaying it reports what is wrong with it

    def origin_failed(self, what: str) -> None:
        """A request went live and never got an answer from its origin (refused, no such
        host, TLS failure): the summary says so, beside "not saved"."""
        with self._lock:
            self.origin_failures.append(what)

    def note_traffic(self) -> None:
        """A client connection or request reached the proxy for this session."""
        with self._lock:
            self.traffic += 1

    # -- connections in flight -------------------------------------------------------------
    def opened(self) -> None:
        with self._lock:
            self._active += 1

    def closed(self, report: ConversationReport | None = None) -> None:
        with self._lock:
            self._active -= 1
            if report is not None:
                self.ws_reports.append(report)
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 2.0) -> bool:
        """Give connections the test just closed a moment to finish before judging them, and
        exchanges being written a moment to be written (or to fail)."""
        with self._lock:
            return self._idle.wait_for(lambda: self._active <= 0 and not self._finishing, timeout)

    def late_errors(self) -> list[str]:
        """Failures inside the proxy that came after ``problems`` was asked (a live exchange
        the proxy wrote only after the test returned: its client had the whole answer); each
        is returned once. Nothing was saved with them (see ``records_to_save``)."""
        with self._lock:
            late = self.errors[self._errors_told :]
            self._errors_told = len(self.errors)
            return late

    # -- live flows being recorded ---------------------------------------------------------
    def flow_started(self, key: str, cut: Callable[[], None]) -> None:
        """A live flow began; ``cut`` records what it delivered if teardown has to cut it off."""
        with self._lock:
            self._live[key] = cut

    def flow_finished(self, key: str) -> bool:
        """The flow ended on its own, with nothing to write. False when it was already cut off
        at teardown (or never tracked)."""
        with self._lock:
            found = self._live.pop(key, None) is not None
            self._idle.notify_all()
            return found

    @contextlib.contextmanager
    def finishing(self, key: str) -> Iterator[bool]:
        """The flow ended on its own: yields whether it is still this session's to write (False
        when teardown already cut it off: what it would write now is too late). Teardown's
        ``settle`` waits until the block is done, so a client that had its whole answer before
        the proxy wrote it (a body with a Content-Length) cannot have its test saved without it.
        """
        with self._lock:
            mine = self._live.pop(key, None) is not None
            self._finishing += mine
        try:
            yield mine
        finally:
            if mine:
                with self._lock:
                    self._finishing -= 1
                    self._idle.notify_all()

    def settle(self, timeout: float = SETTLE_TIMEOUT_S) -> int:
        """Wait (bounded) for every flow the test started, then cut off the ones still open so
        they are written with what they delivered; returns how many were cut. Flows being
        written when the wait ends are waited for (a short, CPU-bound step; bounded too)."""
        with self._lock:
            self._idle.wait_for(
                lambda: not self._live and not self._finishing and self._active <= 0, timeout
            )
            cuts = list(self._live.values())
            self._live.clear()
            if not self._idle.wait_for(lambda: not self._finishing, FINISHING_TIMEOUT_S):
                # The recording would be partial: it is not saved and the test fails with this.
                self.errors.append(
                    f"pytest-streamreplay: {self.path}: {self._finishing} exchange(s) still "
                    f"being written by the proxy after {FINISHING_TIMEOUT_S:.0f} s: not saved"
                )
        for cut in cuts:
            try:
                cut()
            except Exception:  # one broken flow must not lose the others
                log.exception("pytest-streamreplay: could not write a flow cut off at teardown")
        return len(cuts)

    # -- WebSocket -------------------------------------------------------------------------
    def decide_ws(self, url: str) -> Decision:
        """Match a WebSocket opening by URL and order: the k-th connection to a URL replays the
        k-th recorded connection to it."""
        live = _ws_key(self.redactor.request(HttpRequest("GET", url)).url)
        with self._lock:
            self.traffic += 1
            if self.can_replay:
                for script, (path, line) in zip(self._ws_scripts, self._ws_where, strict=True):
                    if not script.used and self._recorded_ws_key(script.conn.url) == live:
                        script.used = True
                        return Decision("replay", script=script, line=line, path=path)
            if self.can_record:
                return Decision("live")
            if self.missing:
                report = self._missing_report(f"WebSocket connection to {url}")
                self.unmatched.append(Unmatched(HttpRequest("GET", url), report))
                return Decision("refuse", report=report)
            recorded = [s for s in self._ws_scripts if self._recorded_ws_key(s.conn.url) == live]
            lines = [
                f"Unexpected WebSocket connection to {url}",
                f"  cassette: {self.path} (record mode {self.effective_mode.value}"
                f"{', --replay-strict' if self.strict else ''})",
            ]
            if recorded:
                lines.append(
                    f"  the recording has {len(recorded)} connection(s) to this URL, "
                    "all already used by this test"
                )
            else:
                known = sorted({s.conn.url for s in self._ws_scripts})
                lines.append("  recorded connections: " + (", ".join(known) or "none"))
            lines.append("  to record it: run pytest with --record-mode=new_episodes or rewrite")
            report = "\n".join(lines)
            self.unmatched.append(Unmatched(HttpRequest("GET", url), report))
            return Decision("refuse", report=report)

    def redact_live_json(self, value: object) -> object:
        """Redact a live client message (JSON value or text) by the recording's rules, so it
        compares with the redacted recording."""
        return self.redactor.live_json(value)

    # -- HTTP ------------------------------------------------------------------------------
    def decide(
        self,
        live: HttpRequest,
        *,
        partial: bool = False,
        exclude: Collection[tuple[int | None, Path | None]] = (),
    ) -> Decision:
        """Choose how to answer a live request (already in cassette form, not yet redacted).

        ``partial``: the request body is still arriving (a streamed gRPC call, matched on its
        first message). ``exclude``: recordings (cassette line and path) already found not to
        be this call (given back, see ``give_back``)."""
        live = self.redactor.request(self._with_forms(live))
        with self._lock:
            self.traffic += 1
            if self.can_replay:
                # The path matcher compares paths exactly, and a URL holds its path as written:
                # a URL without the live path cannot match (a big cassette is not compared
                # record by record).
                needle = live.path if self._by_path and REDACTED not in live.path else ""
                matching = [
                    i
                    for i, e in enumerate(self._http)
                    if needle in e.url
                    and (e.line, self._http_source[i].path) not in exclude
                    and not self._compare(live, i, partial)
                ]
                fresh = next((i for i in matching if not self._plays[i]), None)
                if fresh is None and matching and self.allow_repeats:
                    fresh = matching[-1]
                if fresh is not None:
                    entry, source = self._http[fresh], self._http_source[fresh]
                    interaction = source.interaction(entry)
                    self._plays[fresh] += 1
                    self.seen.append(interaction)
                    return Decision("replay", interaction, line=entry.line, path=source.path)
            if self.can_record:
                return Decision("live")
            if self.missing:
                report = self._missing_report(f"{live.method} {live.url}")
            else:
                report = self._unmatched_report(live)
            self.unmatched.append(Unmatched(live, report))
            return Decision("refuse", report=report)

    def _with_forms(self, request: HttpRequest) -> HttpRequest:
        """A gRPC request with the JSON forms of its messages, when the types know its method
        and it has none yet (a live call, or one recorded without descriptors)."""
        types = self._types() if request.messages is None else None
        if types is None:
            return request
        forms = types.request_forms(request)
        if forms is None:
            return request
        return HttpRequest(request.method, request.url, request.headers, request.body, forms)

    def grpc_messages_differ(self, live: HttpRequest, recorded: HttpRequest) -> str | None:
        """How a streamed call's whole request differs from the recorded one it was matched
        to on its first message (None: the same), judged as matching judges it: the live one
        redacted by the recording's rules, fields ignored as ``match_on`` says. The recorded one
        is redacted by today's rules too, as ``_compare`` does for the first message."""
        mine = self.redactor.request(self._with_forms(live))
        theirs = self.redactor.request(self._with_forms(recorded))
        by_fields = grpc_fields_matcher(self.matchers)
        ignore = None if by_fields is None else by_fields.grpc_ignore
        return messages_differ(mine, theirs, ignore=ignore)

    def give_back(self, decision: Decision) -> None:
        """Undo a ``replay`` decision nothing was sent for (a streamed call found to be a new
        episode before its first answer): its recording counts as unplayed again."""
        with self._lock:
            for i, entry in enumerate(self._http):
                if entry.line == decision.line and self._http_source[i].path == decision.path:
                    if self._plays[i]:
                        self._plays[i] -= 1
                    break
            if decision.interaction is not None:
                for k in range(len(self.seen) - 1, -1, -1):
                    if self.seen[k] is decision.interaction:
                        del self.seen[k]
                        break

    def report_unmatched(self, live: HttpRequest, report: str) -> None:
        """A request found not to match after its answer began (a streamed call's later
        messages): the test fails with ``report``, as for an unmatched request."""
        with self._lock:
            self.unmatched.append(Unmatched(live, report))

    def _recorded_ws_key(self, url: str) -> Any:
        """A recorded WebSocket URL as today's rules redact it (see ``_recorded_summary``)."""
        return _ws_key(self.redactor.request(HttpRequest("GET", url)).url)

    def _recorded_summary(self, i: int) -> HttpRequest:
        """Recorded request ``i``'s method, URL and headers as today's rules redact them (a
        cassette recorded under older rules may hold in clear what a live request now has
        redacted), placeholders normalised; kept while no new secret value was learned."""
        generation = self.redactor.live_generation
        cached = self._summaries.get(i)
        if cached is None or cached[0] != generation:
            cached = (generation, self.redactor.request(self._http[i].summary()))
            self._summaries[i] = cached
        return cached[1]

    def _compare(self, live: HttpRequest, i: int, partial: bool = False) -> list[tuple[str, str]]:
        """The failing matchers for recorded request ``i``; a matcher's own error is raised as
        a ``ReplayError`` naming the record's file and line."""
        entry, source = self._http[i], self._http_source[i]
        try:
            # gRPC calls also compare their messages (see ``compare``): those need the body.
            # The recorded side as matching sees it: placeholders compare whatever their number.
            summary = self._recorded_summary(i)
            if self._url_only and not is_grpc(live.headers):
                return compare(live, summary, self.matchers)
            url_matchers = [m for m in self.matchers if m.url_only]
            if url_matchers and (failures := compare(live, summary, url_matchers)):
                return failures  # differs already on method or URL: no need to read it back
            recorded = self.redactor.request(self._with_forms(source.request(entry)))
            return compare(live, recorded, self.matchers, partial=partial)
        except CassetteError:
            raise
        except Exception as exc:
            raise ReplayError(
                source.path,
                entry.line,
                f"matching {live.method} {live.url} against this record raised "
                f"{type(exc).__name__}: {exc}",
            ) from exc

    def _unmatched_report(self, live: HttpRequest) -> str:
        lines = [
            f"Unmatched request {live.method} {live.url}",
            f"  cassette: {self.path} (record mode {self.effective_mode.value}"
            f"{', --replay-strict' if self.strict else ''})",
        ]
        # Nearest first: a recorded call to the same method and URL (a gRPC call whose message
        # changed) before calls elsewhere, then by how many matchers fail.
        url_only = {m.name for m in self.matchers if m.url_only}
        scored = []
        for i in range(len(self._http)):
            failures = self._compare(live, i)
            elsewhere = sum(name in url_only for name, _ in failures)
            scored.append(((elsewhere, len(failures)), i, failures))
        scored.sort(key=lambda s: s[0])
        if not scored:
            lines.append("  the cassette has no HTTP interactions")
        else:
            lines.append("  nearest recorded requests:")
            for _, i, failures in scored[:3]:
                entry = self._http[i]
                if failures:
                    why = "; ".join(f"{name}: {diff}" for name, diff in failures)
                else:
                    why = (
                        f"matches, but was already played {self._plays[i]} time(s) "
                        "(allow_repeats off)"
                    )
                lines.append(f"    #{entry.id} {entry.method} {entry.url}  -- {why}")
        lines.append(
            "  to record it: run pytest with --record-mode=new_episodes (adds it) or "
            "--record-mode=rewrite (records the test again)"
        )
        return "\n".join(lines) + self._missing_extra_note()

    def record(self, record: Record, flow: str | None = None) -> Record:
        """Redact a freshly recorded record and keep it for saving; with ``flow``, only while
        that flow is live (a message arriving after teardown cut its connection is dropped)."""
        types = self.grpc_types
        # before redaction, so the JSON forms are redacted; a service the descriptors do not
        # know is asked of its server now, while it is up (see ``records_to_save``)
        if (
            types is not None
            and isinstance(record, HttpInteraction)
            and not types.annotate(record)
            and types.reflection is not None
            and is_grpc(record.request.headers)
        ):
            url = self.route(record.request.url) or record.request.url
            types.reflection.ask(url, record.request.path)
        self.redactor.record(record)
        if types is not None and isinstance(record, HttpInteraction):
            types.sync_bytes(record)  # a secret redacted in a JSON form leaves the bytes too
        if self.extra_redact is not None and self.extra_redact(record) is False:
            return record  # left out of the cassette, as a hook asked
        with self._lock:
            if flow is not None and flow not in self._live:
                return record
            self.new_records.append(record)
            if isinstance(record, HttpInteraction):
                self.seen.append(record)
        return record

    # -- saving ----------------------------------------------------------------------------
    def records_to_save(self) -> list[Record] | None:
        """What this test adds to the cassette, or None when nothing should be written."""
        if not self.can_record:
            return None
        self.settle()  # flows the test started are finished or cut off, then written
        self._learn_by_reflection()
        with self._lock:
            if self.errors:  # the proxy failed on some of the traffic: the recording is partial
                return None
            nothing_new = not self.new_records and self.existed
            if nothing_new and self.effective_mode is RecordMode.NEW_EPISODES:
                return None
            return list(self.new_records)

    def _learn_by_reflection(self) -> None:
        """Give the calls recorded before their servers described them their JSON forms."""
        types = self.grpc_types
        if types is None or types.reflection is None:
            return
        types.reflection.wait()
        with self._lock:
            records = list(self.new_records)
        for record in records:
            if (
                isinstance(record, HttpInteraction)
                and record.request.messages is None
                and types.annotate(record)
            ):
                self.redactor.redact_record(record)  # its new JSON forms too
                types.sync_bytes(record)
        for problem in types.reflection.problems:
            log.warning("pytest-streamreplay: gRPC server reflection: %s", problem)

    def _types(self) -> GrpcTypes | None:
        """The types to decode live calls with: the test's, and those the cassette's header
        keeps (learned by server reflection when it was recorded)."""
        if self._replay_types is not False:
            return self._replay_types  # type: ignore[return-value]
        types = self.grpc_types
        stored = None
        if self.existed:
            with contextlib.suppress(CassetteError, OSError):
                stored = read_header(self.path).extra.get(DESCRIPTOR_SET_KEY)
        if isinstance(stored, str):
            try:
                loaded = GrpcTypes() if types is None else types
                loaded.add_descriptor_set(base64.b64decode(stored), f"{self.path} header")
                types = loaded
            except Exception as exc:  # a header we cannot use: decode with what we have
                log.warning(
                    "pytest-streamreplay: %s: %s not used: %s", self.path, DESCRIPTOR_SET_KEY, exc
                )
        self._replay_types = types
        return types

    def save(
        self, note: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> Path | None:
        """Write what this test recorded into the cassette, under its lock and merged with what
        other tests sharing it saved (see ``cassette.shared``). ``all`` and ``rewrite`` start
        the cassette afresh unless this pytest run (``pytest_session``) already wrote it.
        Sets ``written`` (the records added, with their ids in the cassette) and
        ``cassette_http``."""
        records = self.records_to_save()
        if records is None:
            return None
        self.redactor.finish(records)  # secrets learned late, out of records made before
        metadata = dict(metadata or {})
        types = self.grpc_types
        if types is not None:
            for record in records:
                if isinstance(record, HttpInteraction):
                    types.sync_bytes(record)
        if types is not None and types.reflection is not None:
            learned = types.descriptor_set()  # what servers said: replay decodes with it
            if learned is not None:
                metadata[DESCRIPTOR_SET_KEY] = base64.b64encode(learned).decode("ascii")
        header = new_header(test=self.test_id, note=note, **metadata)
        header.pytest_session = self.pytest_session
        fresh = self.effective_mode in (RecordMode.ALL, RecordMode.REWRITE)
        merged = save_merged(self.path, header, records, fresh=fresh, scrub=self.redactor.finish)
        self.written, self.cassette_http = merged.added, merged.http_total
        return self.path


def _unused_problems(where: str, unused: list[str], idle: list[str]) -> list[str]:
    """--replay-strict's complaints about recordings nothing used, one per kind."""
    out = []
    for items, what, verb in (
        (unused, "interaction(s)", "requested"),
        (idle, "WebSocket connection(s)", "opened"),
    ):
        if items:
            out.append(
                f"{len(items)} recorded {what} in {where} were never {verb} "
                "(--replay-strict):\n" + "\n".join(f"  {line}" for line in items)
            )
    return out


def _ws_key(url: str) -> tuple[str, str, int, str, tuple[tuple[str, str], ...]]:
    parts = urlsplit(normalize_placeholders(url))
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    port = parts.port or (443 if scheme == "wss" else 80)
    query = tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return scheme, parts.hostname or "", port, parts.path or "/", query


def _http_form(url: str) -> str:
    """ws:// and wss:// as the proxy sees them: http:// and https://."""
    if url.startswith("wss://"):
        return "https://" + url[6:]
    if url.startswith("ws://"):
        return "http://" + url[5:]
    return url
