"""One cassette in use by one test: record modes, replay order, and what went wrong.

The proxy's addons ask the session what to do with each request (replay, go live, refuse) and
hand it what they record; the test harness asks it afterwards what was unmatched or unused and
tells it to save. It knows nothing of pytest or mitmproxy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .cassette.matching import NamedMatcher, compare
from .cassette.records import (
    HttpInteraction,
    HttpRequest,
    Record,
    WsClose,
    WsConnection,
    WsMessage,
)
from .cassette.redaction import Redactor, normalize_placeholders
from .cassette.shared import save_merged
from .cassette.storage import CassetteError, new_header, read_cassette, read_header
from .proxy.conversation import ConversationReport, Speed, WsScript

__all__ = [
    "SETTLE_TIMEOUT_S",
    "CassetteMissingError",
    "CassetteSession",
    "Decision",
    "RecordMode",
    "Unmatched",
]


log = logging.getLogger("pytest_streamreplay")

#: How long teardown waits for live flows the test started to finish before cutting them off.
SETTLE_TIMEOUT_S = 2.0


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


@dataclass(frozen=True)
class Decision:
    """What to do with a live request: ``replay`` a recorded interaction, go ``live``, or
    ``refuse`` it with an explanation."""

    action: str
    interaction: HttpInteraction | None = None
    report: str = ""
    script: WsScript | None = None


@dataclass
class Unmatched:
    request: HttpRequest
    report: str


@dataclass
class _Replayable:
    interaction: HttpInteraction
    plays: int = 0
    # The recorded request as matching sees it: placeholders compare whatever their number.
    request: HttpRequest = field(init=False)

    def __post_init__(self) -> None:
        self.request = Redactor.matchable(self.interaction.request)


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

    existed: bool = field(init=False, default=False)
    can_replay: bool = field(init=False, default=False)
    can_record: bool = field(init=False, default=False)
    cassette_records: list[Record] = field(init=False, default_factory=list)
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
        extra_records: list[Record] = []
        if self.can_replay:
            if self.existed:
                _, self.cassette_records = read_cassette(self.path)
            for p in found_extra:
                extra_records += read_cassette(p)[1]
            ids = [
                r.id for r in self.cassette_records if isinstance(r, HttpInteraction | WsConnection)
            ]
            self._next_id = max(ids, default=-1) + 1
        if self.can_record and self.cassette_records:  # new_episodes: number after them
            self.redactor.reserve(str([r.to_json() for r in self.cassette_records]))
        pool = [*self.cassette_records, *extra_records]
        self._replayable = [_Replayable(r) for r in pool if isinstance(r, HttpInteraction)]
        self._ws_scripts = _scripts(self.cassette_records) + _scripts(extra_records)
        self.ws_reports: list[ConversationReport] = []
        self._active = 0
        self._idle = threading.Condition(self._lock)
        # Live flows (HTTP exchanges, WebSocket connections) being recorded, by flow id: each
        # maps to what writes it from what was delivered if it is still open at teardown.
        self._live: dict[str, Callable[[], None]] = {}

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
            return sum(r.plays for r in self._replayable)

    def unused(self) -> list[HttpInteraction]:
        """Recorded interactions that no request asked for (only meaningful when replaying)."""
        with self._lock:
            return [r.interaction for r in self._replayable if r.plays == 0]

    def unused_connections(self) -> list[WsConnection]:
        with self._lock:
            return [s.conn for s in self._ws_scripts if not s.used]

    def problems(self) -> list[str]:
        """Reasons this test fails: unmatched requests and connections always; under
        --replay-strict also mismatched client messages, undelivered tails and anything unused.
        Non-strict replay logs mismatches and carries on."""
        self.wait_idle()
        out = [u.report for u in self.unmatched]
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
        unused = [f"#{i.id} {i.request.method} {i.request.url}" for i in self.unused()]
        idle = [f"#{c.id} {c.url}" for c in self.unused_connections()]
        return unused, idle

    def _started_by_this_run(self) -> bool:
        if self.pytest_session is None:
            return False
        try:
            return read_header(self.path).pytest_session == self.pytest_session
        except CassetteError:
            return False  # replaying it reports what is wrong with it

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
        """Give connections the test just closed a moment to finish before judging them."""
        with self._lock:
            return self._idle.wait_for(lambda: self._active <= 0, timeout)

    # -- live flows being recorded ---------------------------------------------------------
    def flow_started(self, key: str, cut: Callable[[], None]) -> None:
        """A live flow began; ``cut`` records what it delivered if teardown has to cut it off."""
        with self._lock:
            self._live[key] = cut

    def flow_finished(self, key: str) -> bool:
        """The flow ended on its own. False when it was already cut off at teardown (or never
        tracked): then whatever it would record now is too late and must be dropped."""
        with self._lock:
            found = self._live.pop(key, None) is not None
            self._idle.notify_all()
            return found

    def settle(self, timeout: float = SETTLE_TIMEOUT_S) -> int:
        """Wait (bounded) for every flow the test started, then cut off the ones still open so
        they are written with what they delivered; returns how many were cut."""
        with self._lock:
            self._idle.wait_for(lambda: not self._live and self._active <= 0, timeout)
            cuts = list(self._live.values())
            self._live.clear()
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
                for script in self._ws_scripts:
                    if not script.used and _ws_key(script.conn.url) == live:
                        script.used = True
                        return Decision("replay", script=script)
            if self.can_record:
                return Decision("live")
            if self.missing:
                report = self._missing_report(f"WebSocket connection to {url}")
                self.unmatched.append(Unmatched(HttpRequest("GET", url), report))
                return Decision("refuse", report=report)
            recorded = [s for s in self._ws_scripts if _ws_key(s.conn.url) == live]
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
    def decide(self, live: HttpRequest, *, partial: bool = False) -> Decision:
        """Choose how to answer a live request (already in cassette form, not yet redacted).

        ``partial``: the request body is still arriving (a streamed gRPC call, matched on its
        first message)."""
        live = self.redactor.request(live)
        with self._lock:
            self.traffic += 1
            if self.can_replay:
                matching = [
                    r
                    for r in self._replayable
                    if not compare(live, r.request, self.matchers, partial=partial)
                ]
                fresh = next((r for r in matching if r.plays == 0), None)
                chosen = fresh or (matching[-1] if matching and self.allow_repeats else None)
                if chosen is not None:
                    chosen.plays += 1
                    self.seen.append(chosen.interaction)
                    return Decision("replay", chosen.interaction)
            if self.can_record:
                return Decision("live")
            if self.missing:
                report = self._missing_report(f"{live.method} {live.url}")
            else:
                report = self._unmatched_report(live)
            self.unmatched.append(Unmatched(live, report))
            return Decision("refuse", report=report)

    def report_unmatched(self, live: HttpRequest, report: str) -> None:
        """A request found not to match after its answer began (a streamed call's later
        messages): the test fails with ``report``, as for an unmatched request."""
        with self._lock:
            self.unmatched.append(Unmatched(live, report))

    def _unmatched_report(self, live: HttpRequest) -> str:
        lines = [
            f"Unmatched request {live.method} {live.url}",
            f"  cassette: {self.path} (record mode {self.effective_mode.value}"
            f"{', --replay-strict' if self.strict else ''})",
        ]
        scored = []
        for r in self._replayable:
            failures = compare(live, r.request, self.matchers)
            scored.append((len(failures), r, failures))
        scored.sort(key=lambda s: s[0])
        if not scored:
            lines.append("  the cassette has no HTTP interactions")
        else:
            lines.append("  nearest recorded requests:")
            for _, r, failures in scored[:3]:
                req = r.interaction.request
                if failures:
                    why = "; ".join(f"{name}: {diff}" for name, diff in failures)
                else:
                    why = f"matches, but was already played {r.plays} time(s) (allow_repeats off)"
                lines.append(f"    #{r.interaction.id} {req.method} {req.url}  -- {why}")
        lines.append(
            "  to record it: run pytest with --record-mode=new_episodes (adds it) or "
            "--record-mode=rewrite (records the test again)"
        )
        return "\n".join(lines) + self._missing_extra_note()

    def record(self, record: Record, flow: str | None = None) -> Record:
        """Redact a freshly recorded record and keep it for saving; with ``flow``, only while
        that flow is live (a message arriving after teardown cut its connection is dropped)."""
        self.redactor.record(record)
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
        with self._lock:
            nothing_new = not self.new_records and self.existed
            if nothing_new and self.effective_mode is RecordMode.NEW_EPISODES:
                return None
            return list(self.new_records)

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
        header = new_header(test=self.test_id, note=note, **(metadata or {}))
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


def _scripts(records: list[Record]) -> list[WsScript]:
    scripts: dict[int, WsScript] = {}
    for r in records:
        if isinstance(r, WsConnection):
            scripts[r.id] = WsScript(r)
        elif isinstance(r, WsMessage) and r.conn in scripts:
            scripts[r.conn].messages.append(r)
        elif isinstance(r, WsClose) and r.conn in scripts:
            scripts[r.conn].close = r
    return list(scripts.values())


def _http_form(url: str) -> str:
    """ws:// and wss:// as the proxy sees them: http:// and https://."""
    if url.startswith("wss://"):
        return "https://" + url[6:]
    if url.startswith("ws://"):
        return "http://" + url[5:]
    return url
