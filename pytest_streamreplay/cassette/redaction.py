"""Redaction: secrets never reach a cassette.

One pass covers every place a record can hold a secret: request and response headers (cookies
keep their names and attributes), URLs, query, form, JSON and text bodies, each chunk of a
streamed response (read as one text, so a secret split across chunks is still found), WebSocket
handshakes and messages. A secret is found by its name (``secrets.py``), by its shape (JWT, PEM
private key, BIP39 mnemonic, AWS key id, provider tokens) or because the same value was already
found by name elsewhere in the cassette.

Each distinct secret becomes one placeholder, ``REDACTED-<kind>-<n>``, numbered in order of
discovery: the same secret gives the same placeholder everywhere in a cassette, two secrets
differ, and nothing of the value (not even a hash) is stored. Matching ignores the number: a live
request or client message is redacted by the same rules, and every placeholder compares as
``REDACTED``, so a replaying client that sends the real secret (or the placeholder it was given)
matches the recording.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

from .body import decode_body, encode_body
from .records import (
    Chunk,
    HttpInteraction,
    HttpRequest,
    Record,
    WsClose,
    WsConnection,
    WsMessage,
)
from .secrets import (
    AUTH_OP_KEYS,
    MIN_SHAPE_LEN,
    auth_operation,
    canonical_mnemonic,
    find_shapes,
    might_hold_shape,
    mnemonic_words,
    norm_name,
    secret_field_name,
    secret_header_name,
    secret_param_name,
    secret_text_name,
)
from .stream_coding import decode_chunks
from .wire_fields import field_spans

__all__ = [
    "PLACEHOLDER",
    "REDACTED",
    "Redactor",
    "framed",
    "is_placeholder",
    "matchable_bytes",
    "matchable_value",
    "normalize_placeholders",
    "redact_file_records",
    "redact_records",
]

REDACTED = "REDACTED"
#: Any placeholder this module writes (bare ``REDACTED`` is what older cassettes hold).
PLACEHOLDER = re.compile(r"REDACTED(?:-[a-z]+-\d+)?")
_NUMBERED = re.compile(r"REDACTED-[a-z]+-\d+")
# Values found by name are also scrubbed wherever they recur; shorter or purely numeric short
# values ("1", "true", "123456") would scrub innocent data such as prices.
_MIN_VALUE_LEN = 6
_MIN_DIGITS_LEN = 10
# Each remembered secret is one more alternative in the regex every string is searched with: a
# session keeps the first 64 (credentials: a handful). Per-request values (signatures, nonces)
# are never remembered: they differ in every message and nobody echoes them.
_MAX_VALUES = 64
log = logging.getLogger("pytest_streamreplay")

# "name": "value" or "name": 123 inside any text (JSON that is stored as text, SSE data lines,
# NDJSON chunks, log lines).
_JSON_PAIR = re.compile(
    r'"((?:[^"\\\n]|\\.){1,100})"\s*:\s*(?:"((?:[^"\\\n]|\\.)*)"|(-?\d[\d.eE+\-]*))'
)
_AUTH_IN_TEXT = re.compile(
    r'"(?:' + "|".join(sorted(AUTH_OP_KEYS)) + r')"\s*:\s*"[^"]*(?:auth|login|logon|sign_?in)',
    re.I,
)
# name=value in URLs, form bodies and free text; group 1 says which (see ``_param_spans``).
_PARAM = re.compile(r"(^|[?&;\s/#])([A-Za-z_][A-Za-z0-9_.\-\[\]]{0,63})=([^&\s\"'#;,<>\\]+)")
# Parameters of a URL's query or fragment (OAuth's ``#access_token=``) or a form body.
_PARAM_STARTS = frozenset({"", "?", "&", "#"})
# name: value, name = value, 'name': 'value', <name>value</name> in free text (YAML, INI, XML, a
# logged header, a Python repr); an Authorization's scheme is kept. The value is the whole quoted
# string, else the rest of the line up to a separator (YAML and INI values hold blanks).
# See ``secret_text_name``.
_TEXT_PAIR = re.compile(
    r"(?:^|(?<=[\s{,;(<'\"]))([A-Za-z_][A-Za-z0-9_.\-]{0,63})['\"]?(?:[ \t]*[:=][ \t]*|>)"
    r"(?:(?:Bearer|Basic|Token|Digest|Bot)[ \t]+)?"
    r"(?:\"((?:[^\"\\\n]|\\.){1,4096})\"|'([^'\n]{1,4096})'|([^\s'\",;<>&][^\r\n'\",;<>&]{0,4095}))"
)
# A multipart/form-data field: its name in the part's headers, its value the first line after
# the blank line.
_MULTIPART_FIELD = re.compile(
    r'form-data;[^\r\n]*?\bname="([^"\r\n]{1,100})"[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*?\r?\n'
    r"([^\r\n]{1,8192})"
)
# What a text needs for ``_TEXT_PAIR`` to match: a name's last letter before ':', '=' or '>'
# (a timestamp's "T00:00" or a price has none, so market data skips the regex).
_TEXT_PAIR_HINT = re.compile(r"[A-Za-z_]['\"]?(?:[ \t]*[:=]|>)")
_AUTH_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9\-]*)(\s+)(\S.*)", re.S)
_COOKIE_PAIR = re.compile(r"(^|;)(\s*[^=;\s][^=;]*=)([^;]*)")

Span = tuple[int, int, str]
# Shapes also searched for by value: a PEM (URL-encoding or re-wrapping hides it from its
# regex) and a URL's password (it is sent elsewhere without its URL).
_BY_VALUE = frozenset({"pem", "password"})


def is_placeholder(value: str) -> bool:
    return PLACEHOLDER.fullmatch(value) is not None


def normalize_placeholders(text: str) -> str:
    """Every placeholder as bare ``REDACTED``: what matching compares."""
    return _NUMBERED.sub(REDACTED, text) if "REDACTED-" in text else text


def matchable_value(value: Any) -> Any:
    """A JSON value or text with its placeholders normalised (see ``normalize_placeholders``)."""
    if isinstance(value, str):
        return normalize_placeholders(value)
    if isinstance(value, dict):
        return {k: matchable_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [matchable_value(v) for v in value]
    return value


def _scrubbable(value: str) -> bool:
    if len(value) < _MIN_VALUE_LEN or is_placeholder(value):
        return False
    return len(value) >= _MIN_DIGITS_LEN or not value.replace(".", "").isdigit()


def _json_unescape(raw: str) -> str:
    if "\\" not in raw:
        return raw
    try:
        value = json.loads(f'"{raw}"')
    except ValueError:
        return raw
    return value if isinstance(value, str) else raw


def _merge(spans: list[Span]) -> list[Span]:
    """Sorted, non-overlapping spans; overlapping ones join under the first placeholder."""
    spans.sort(key=lambda s: (s[0], -s[1]))
    out: list[Span] = []
    for s, e, ph in spans:
        if out and s < out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e, out[-1][2])
            continue
        out.append((s, e, ph))
    return out


def _apply(text: str, spans: list[Span]) -> str:
    parts, pos = [], 0
    for s, e, ph in spans:
        parts += [text[pos:s], ph]
        pos = e
    parts.append(text[pos:])
    return "".join(parts)


def _fit(ph: str, size: int) -> str:
    """A placeholder exactly ``size`` bytes long, for bytes whose lengths are part of their
    format: padded with ``_``, or bare (or only ``_``) when the secret is shorter."""
    if len(ph) > size:
        ph = REDACTED if size >= len(REDACTED) else ""
    return ph + "_" * (size - len(ph))


def _apply_fitted(text: str, spans: list[Span]) -> str:
    return _apply(text, [(s, e, _fit(ph, e - s)) for s, e, ph in spans])


_PRINTABLE_RUN = re.compile(r"[\x20-\x7e\t\r\n]{" + str(MIN_SHAPE_LEN) + ",}")
_FITTED = re.compile(rb"REDACTED(?:-[a-z]+-\d+)?_*")


def matchable_bytes(data: bytes) -> bytes:
    """Bytes with their (fitted) placeholders normalised, keeping every length: a numbered
    placeholder and the bare one a live twin writes compare equal, and gRPC frames and
    protobuf fields still parse."""
    if b"REDACTED" not in data:
        return data
    return _FITTED.sub(lambda m: REDACTED.encode() + b"_" * (len(m.group()) - 8), data)


def framed(content_type: str | None, body: dict[str, Any] | None) -> bool:
    """Whether a body's bytes carry their own lengths (gRPC frames, protobuf, msgpack, any
    binary format): such a body keeps its length when a secret in it is replaced."""
    if body and "base64" in body:
        return True
    return content_type is not None and not _textual(content_type)


class Redactor:
    """The redaction rules in force and what they found so far in one cassette.

    ``extra`` names more headers, parameters and JSON fields; ``headers``, ``params`` and
    ``fields`` add names for one place only (what vcrpy's ``filter_headers``,
    ``filter_query_parameters`` and ``filter_post_data_parameters`` mean). ``defaults=False``
    turns the built-in names and shapes off (only the extra names apply): a deliberate,
    documented choice for cassettes that must keep a credential-looking value.
    """

    def __init__(
        self,
        extra: Iterable[str] = (),
        defaults: bool = True,
        *,
        headers: Iterable[str] = (),
        params: Iterable[str] = (),
        fields: Iterable[str] = (),
        numbered: bool = True,
    ) -> None:
        self.extra = tuple(extra)
        self.defaults = defaults
        self.extra_headers = tuple(headers)
        self.extra_params = tuple(params)
        self.extra_fields = tuple(fields)
        common = {norm_name(n) for n in self.extra}
        self._headers = frozenset(common | {norm_name(n) for n in self.extra_headers})
        self._params = frozenset(common | {norm_name(n) for n in self.extra_params})
        self._fields = frozenset(common | {norm_name(n) for n in self.extra_fields})
        self._numbered = numbered
        self._memo: dict[str, str] = {}  # secret -> its placeholder
        self._counts: dict[str, int] = {}
        self._values: dict[str, str] = {}  # every written form of a secret -> placeholder
        self._scrub_re: re.Pattern[str] | None = None
        self._scrub_latin1: tuple[re.Pattern[str], dict[str, str]] | None = None
        self._field_cache: dict[tuple[str, bool], bool] = {}
        self._plain_fields: dict[Any, bool] = {}
        self._auth_fields: dict[Any, bool] = {}
        self._gen_of: dict[int, int] = {}
        #: Grows whenever a new secret value is learned (records redacted before may hold it).
        self.generation = 0
        self._live_twin: Redactor | None = None
        self._memo_learned: set[str] = set()
        self._warned = False

    # -- what counts as secret -------------------------------------------------------------
    def secret_header(self, name: str) -> bool:
        if norm_name(name) in self._headers:
            return True
        return self.defaults and secret_header_name(name)

    def secret_param(self, name: str, *, in_text: bool = False) -> bool:
        if norm_name(name) in self._params:
            return True
        return self.defaults and secret_param_name(name, in_text=in_text)

    def secret_text(self, name: str) -> bool:
        norm = norm_name(name)
        if norm in self._params or norm in self._fields:
            return True
        return self.defaults and secret_text_name(name)

    def secret_field(self, name: str, in_auth: bool = False) -> bool:
        key = (name, in_auth)
        cached = self._field_cache.get(key)
        if cached is None:
            cached = norm_name(name) in self._fields or (
                self.defaults and secret_field_name(name, in_auth)
            )
            if len(self._field_cache) < 10_000:  # streams repeat the same few keys
                self._field_cache[key] = cached
        return cached

    # -- placeholders ----------------------------------------------------------------------
    def _placeholder(self, value: str, kind: str, remember: bool = True) -> str:
        ph = self._memo.get(value)
        if ph is None:
            if self._numbered:
                n = self._counts.get(kind, 0) + 1
                self._counts[kind] = n
                ph = f"{REDACTED}-{kind}-{n}"
            else:
                ph = REDACTED
            self._memo[value] = ph
        if remember and _scrubbable(value) and value not in self._values:
            if len(self._memo_learned) < _MAX_VALUES:
                self._memo_learned.add(value)
                self._learn(value, ph)
            elif not self._warned:
                self._warned = True
                log.warning(
                    "pytest-streamreplay: more than %d distinct secrets in one cassette; later "
                    "ones are redacted where found by name or shape but no longer searched for "
                    "elsewhere",
                    _MAX_VALUES,
                )
        return ph

    def _learn(self, value: str, ph: str) -> None:
        forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
        forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
        for form in forms:
            self._values.setdefault(form, ph)
        self._scrub_re = self._scrub_latin1 = None
        self.generation += 1

    def reserve(self, text: str) -> None:
        """Number new placeholders after those already in ``text`` (an existing cassette)."""
        for m in re.finditer(r"REDACTED-([a-z]+)-(\d+)", text):
            kind, n = m.group(1), int(m.group(2))
            if n > self._counts.get(kind, 0):
                self._counts[kind] = n

    # -- text ------------------------------------------------------------------------------
    def _value_spans(self, text: str, latin1: bool) -> list[Span]:
        if not self._values:
            return []
        if latin1:
            if self._scrub_latin1 is None:
                forms = {v.encode().decode("latin-1"): ph for v, ph in self._values.items()}
                self._scrub_latin1 = (_literal_alternation(forms), forms)
            pattern, table = self._scrub_latin1
        else:
            if self._scrub_re is None:
                self._scrub_re = _literal_alternation(self._values)
            pattern, table = self._scrub_re, self._values
        return [(m.start(), m.end(), table[m.group()]) for m in pattern.finditer(text)]

    def _pair_spans(self, text: str, decode: Callable[[str], str]) -> list[Span]:
        matches = list(_JSON_PAIR.finditer(text))
        if not matches:
            return []
        names = [_json_unescape(m.group(1)) for m in matches]
        auth = bool(_AUTH_IN_TEXT.search(text)) or any(self.secret_field(n) for n in names)
        spans = []
        for m, name in zip(matches, names, strict=True):
            if not self.secret_field(name, auth):
                continue
            group = 2 if m.group(2) is not None else 3
            raw = m.group(group)
            if not raw or is_placeholder(raw):
                continue
            value = decode(_json_unescape(raw))
            ph = self._placeholder(value, "secret", not _one_off(name))
            spans.append((m.start(group), m.end(group), ph))
        return spans

    def _param_spans(self, text: str, decode: Callable[[str], str]) -> list[Span]:
        spans = []
        for m in _PARAM.finditer(text):
            before, name, raw = m.groups()
            # After '?' or '&', or at the start (a form body), it is a query or form parameter;
            # after a blank, '/' or ';' it is free text, where generic names do not count.
            if not self.secret_param(name, in_text=before not in _PARAM_STARTS):
                continue
            if is_placeholder(raw):
                continue
            value = decode(unquote_plus(raw))
            ph = self._placeholder(value, "secret", not _one_off(name))
            if raw != value and _scrubbable(raw):
                self._values.setdefault(raw, ph)
            spans.append((m.start(3), m.end(3), ph))
        return spans

    def _spans(self, text: str, latin1: bool = False) -> list[Span]:
        decode = _from_latin1 if latin1 else _same
        spans: list[Span] = []
        if '"' in text:
            spans += self._pair_spans(text, decode)
        if "=" in text:
            spans += self._param_spans(text, decode)
        if (":" in text or ">" in text or "=" in text) and _TEXT_PAIR_HINT.search(text):
            spans += self._text_pair_spans(text, decode)
        if "form-data" in text:
            spans += self._multipart_spans(text, decode)
        if self.defaults and len(text) >= MIN_SHAPE_LEN:
            spans += [
                # A PEM inside JSON text has its newlines escaped: the same secret all the same.
                # Shapes are found wherever they recur; only a PEM (which URL-encoding or
                # re-wrapping hides from its regex) is also remembered by value.
                (
                    s,
                    e,
                    self._placeholder(
                        self._shape_key(text[s:e], kind, decode), kind, kind in _BY_VALUE
                    ),
                )
                for s, e, kind in find_shapes(text)
            ]
        if len(text) >= _MIN_VALUE_LEN:
            spans += self._value_spans(text, latin1)
        return _merge(spans) if spans else spans

    @staticmethod
    def _shape_key(found: str, kind: str, decode: Callable[[str], str]) -> str:
        value = decode(_json_unescape(found))
        return canonical_mnemonic(value) if kind == "mnemonic" else value

    def _text_pair_spans(self, text: str, decode: Callable[[str], str]) -> list[Span]:
        spans = []
        for m in _TEXT_PAIR.finditer(text):
            group = next(g for g in (2, 3, 4) if m.group(g) is not None)
            start, raw = m.start(group), m.group(group).rstrip()
            if is_placeholder(raw) or not self.secret_text(m.group(1)):
                continue
            value = decode(_json_unescape(raw))
            ph = self._placeholder(value, "secret", not _one_off(m.group(1)))
            spans.append((start, start + len(raw), ph))
        return spans

    def _multipart_spans(self, text: str, decode: Callable[[str], str]) -> list[Span]:
        spans = []
        for m in _MULTIPART_FIELD.finditer(text):
            name, raw = m.groups()
            if raw and not is_placeholder(raw) and self.secret_param(name):
                ph = self._placeholder(decode(raw), "secret", not _one_off(name))
                spans.append((m.start(2), m.end(2), ph))
        return spans

    def text(self, text: str) -> str:
        """``text`` with every secret in it replaced (names inside, shapes, known values)."""
        if not self._worth_scanning(text):
            return text
        spans = self._spans(text)
        return _apply(text, spans) if spans else text

    # -- parts -----------------------------------------------------------------------------
    def _header_value(self, name: str, value: str) -> str:
        if not value or is_placeholder(value):
            return value
        low = name.lower()
        if low in ("authorization", "proxy-authorization"):
            m = _AUTH_SCHEME.fullmatch(value)
            if m and not is_placeholder(m.group(3)):
                return m.group(1) + m.group(2) + self._placeholder(m.group(3), "secret")
            return value if m else self._placeholder(value, "secret")
        if low in ("cookie", "set-cookie"):
            return self._cookie(value, first_only=low == "set-cookie")
        return self._placeholder(value, "secret", not _one_off(name))

    def _cookie(self, value: str, first_only: bool) -> str:
        """Values only: names and attributes (Path, HttpOnly, Max-Age) stay, so a replayed
        client still finds its cookie under its name."""

        def one(m: re.Match[str]) -> str:
            raw = m.group(3)
            if not raw.strip() or is_placeholder(raw.strip().strip('"')):
                return m.group(0)
            quoted = raw.strip().startswith('"')
            ph = self._placeholder(raw.strip().strip('"'), "cookie")
            return m.group(1) + m.group(2) + (f'"{ph}"' if quoted else ph)

        return _COOKIE_PAIR.sub(one, value, count=1 if first_only else 0)

    def headers(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        out = []
        changed = False
        for k, v in headers:
            new = self._header_value(k, v) if self.secret_header(k) else self.text(v)
            changed = changed or new != v
            out.append((k, new))
        return out if changed else headers

    def url(self, url: str) -> str:
        return self.text(url)

    def json(self, value: Any) -> tuple[Any, bool]:
        """A redacted copy of a JSON value, and whether anything changed."""
        new = self._json(value, False)
        return new, new is not value

    def _json(self, value: Any, auth: bool) -> Any:
        # The hot path of recording a stream: scalars are handled in the loop, not by a call.
        if isinstance(value, dict):
            if not auth and ("key" in value or not AUTH_OP_KEYS.isdisjoint(value)):
                auth = auth_operation(value)
            cache = self._auth_fields if auth else self._plain_fields
            out = None
            for k, v in value.items():
                secret = cache.get(k)
                if secret is None:
                    secret = self.secret_field(k, auth) if isinstance(k, str) else False
                    if len(cache) < 10_000:  # streams repeat the same few keys
                        cache[k] = secret
                if secret:
                    remember = not isinstance(v, list | dict) and not _one_off(k)
                    new = self._leaves(v, remember)
                elif isinstance(v, str):
                    new = self.text(v) if self._worth_scanning(v) else v
                elif isinstance(v, dict | list):
                    new = self._json(v, auth)
                else:
                    continue
                if new is not v:
                    if out is None:
                        out = dict(value)
                    out[k] = new
            return value if out is None else out
        if isinstance(value, list):
            if self.defaults and len(value) >= 12 and mnemonic_words(value):
                ph = self._placeholder(canonical_mnemonic(" ".join(value)), "mnemonic", False)
                return [ph] * len(value)  # a seed phrase word by word keeps its length
            items = None
            for i, v in enumerate(value):
                if isinstance(v, str):
                    new = self.text(v) if self._worth_scanning(v) else v
                elif isinstance(v, dict | list):
                    new = self._json(v, auth)
                else:
                    continue
                if new is not v:
                    if items is None:
                        items = list(value)
                    items[i] = new
            return value if items is None else items
        if isinstance(value, str):
            return self.text(value)
        return value

    def _worth_scanning(self, text: str) -> bool:
        """Whether a string can hold anything ``text`` replaces (a cheap, safe test)."""
        n = len(text)
        if n < _MIN_VALUE_LEN:
            return '"' in text or "=" in text
        if self._values or '"' in text or "=" in text:
            return True
        if (":" in text or ">" in text) and _TEXT_PAIR_HINT.search(text):
            return True
        return self.defaults and might_hold_shape(text)

    def _leaves(self, value: Any, remember: bool) -> Any:
        """Everything under a secret name: every scalar, structure kept."""
        if isinstance(value, str):
            if not value or is_placeholder(value):
                return value
            return self._placeholder(value, "secret", remember)
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int | float):
            return self._placeholder(str(value), "secret", remember)
        if isinstance(value, dict):
            new = {k: self._leaves(v, remember) for k, v in value.items()}
            return value if all(new[k] is value[k] for k in value) else new
        if isinstance(value, list):
            items = [self._leaves(v, remember) for v in value]
            return value if all(a is b for a, b in zip(items, value, strict=True)) else items
        return value

    def body(
        self, body: dict[str, Any] | None, content_type: str | None = None
    ) -> dict[str, Any] | None:
        """A body in cassette form, redacted; a framed body (see ``framed``) keeps its length,
        media whose bytes are compressed (images, audio, video, archives) are left as they
        are: no secret can be read in them."""
        if not body:
            return body
        if framed(content_type, body):
            return self._framed_body(body, content_type)
        if "json" in body:
            new = self._json(body["json"], False)
            return body if new is body["json"] else {**body, "json": new}
        text = str(body.get("text", ""))
        new_text = self.text(text)
        return body if new_text is text or new_text == text else {"text": new_text}

    def _framed_body(self, body: dict[str, Any], content_type: str | None) -> dict[str, Any] | None:
        if _compressed_media(content_type):
            return body
        data = decode_body(body)
        spans = self._framed_spans(data, content_type)
        if not spans:
            return body
        text = _apply_fitted(data.decode("latin-1"), spans)
        return encode_body(text.encode("latin-1"), binary="base64" in body)

    def _framed_spans(self, data: bytes, content_type: str | None) -> list[Span]:
        """Secrets in bytes scanned whole, field by field (see ``wire_fields``), and in each
        run of printable bytes without its first one or two: a length byte or a format's
        marker just before a string may be a letter, and shapes must not start mid-word."""
        text = data.decode("latin-1")
        if not self._worth_scanning(text):
            return []
        spans = self._spans(text, latin1=True)
        grpc = content_type is not None and "grpc" in content_type.lower()
        segments = field_spans(data, grpc=grpc)
        for run in _PRINTABLE_RUN.finditer(text):
            start = run.start()
            for skip in (1, 2):
                if not text[start + skip - 1].isalnum():
                    break
                segments.append((start + skip, run.end()))
        for start, end in segments:
            if end - start >= _MIN_VALUE_LEN:
                found = self._spans(text[start:end], latin1=True)
                spans += [(s + start, e + start, ph) for s, e, ph in found]
        return _merge(spans) if spans else spans

    def _framed_chunks(self, chunks: list[Any], content_type: str) -> None:
        """A framed stream's chunks (a gRPC answer) read as one body; a placeholder keeps its
        secret's length, so each chunk keeps its own."""
        contents = [c.content for c in chunks]
        raw = b"".join(contents)
        spans = self._framed_spans(raw, content_type)
        if not spans:
            return
        whole = _apply_fitted(raw.decode("latin-1"), spans).encode("latin-1")
        pos = 0
        for chunk, old in zip(chunks, contents, strict=True):
            data = whole[pos : pos + len(old)]
            pos += len(old)
            if data != old:
                chunk.body = encode_body(data, binary="base64" in (chunk.body or {}))

    def _chunks(self, chunks: list[Any]) -> None:
        """Streamed chunks as one text (latin-1, so offsets are bytes): a secret split across
        two chunks is found; its placeholder goes where it started."""
        contents = [c.content for c in chunks]
        joined = b"".join(contents).decode("latin-1")
        spans = self._spans(joined, latin1=True)
        if not spans:
            return
        ends, total = [], 0
        for data in contents:
            total += len(data)
            ends.append(total)
        parts: list[list[str]] = [[] for _ in chunks]
        pos = ci = 0

        def copy_to(upto: int) -> None:
            nonlocal pos, ci
            while pos < upto:
                while ends[ci] <= pos:
                    ci += 1
                end = min(upto, ends[ci])
                parts[ci].append(joined[pos:end])
                pos = end

        for s, e, ph in spans:
            copy_to(s)
            while ci < len(ends) - 1 and ends[ci] <= s:
                ci += 1
            parts[ci].append(ph)
            pos = e
        copy_to(len(joined))
        for chunk, old, new in zip(chunks, contents, parts, strict=True):
            data = "".join(new).encode("latin-1")
            if data != old:
                chunk.body = encode_body(data)

    def _stream_chunks(self, chunks: list[Any], ctype: str | None) -> None:
        if _textual(ctype) or (
            ctype is None and all(not c.body or "base64" not in c.body for c in chunks)
        ):
            self._chunks(chunks)
        elif not _compressed_media(ctype):
            self._framed_chunks(chunks, ctype or "")

    def _compressed_chunks(self, chunks: list[Any], coding: str, ctype: str | None) -> None:
        """A compressed stream (see ``stream_coding``): redacted decoded, compressed again
        chunk for chunk when anything changed. One this cannot decode is left as recorded."""
        contents = [c.content for c in chunks]
        decoded = decode_chunks(coding, contents)
        if decoded is None:
            return
        pieces, codec = decoded
        plain = [Chunk(c.t, encode_body(p)) for c, p in zip(chunks, pieces, strict=True)]
        self._stream_chunks(plain, ctype)
        new = [c.content for c in plain]
        if new == pieces:
            return
        for chunk, data in zip(chunks, codec.encode(new), strict=True):
            chunk.body = encode_body(data, binary=True)

    # -- records ---------------------------------------------------------------------------
    def _redact(self, record: Record) -> None:
        if isinstance(record, HttpInteraction):
            req, resp = record.request, record.response
            self._request(req)
            resp.headers = self.headers(resp.headers)
            if resp.reason:  # a status line's text is the origin's to write
                resp.reason = self.text(resp.reason)
            if resp.trailers is not None:
                resp.trailers = self.headers(resp.trailers)
            ctype = resp.header("content-type")
            if resp.chunks is not None:
                for chunk in resp.chunks:
                    chunk.message = self._message_form(chunk.message)
                coding = resp.header("content-encoding")
                if coding and coding.strip().lower() != "identity":
                    self._compressed_chunks(resp.chunks, coding, ctype)
                else:
                    self._stream_chunks(resp.chunks, ctype)
            else:
                body = self.body(resp.body, ctype)
                if body is not resp.body:
                    resp.body, resp.encoded = body, None  # the raw bytes hold the secret
        elif isinstance(record, WsConnection):
            record.url = self.url(record.url)
            record.headers = self.headers(record.headers)
            record.response_headers = self.headers(record.response_headers)
            if record.subprotocol:  # a token offered as a subprotocol, selected by the origin
                record.subprotocol = self.text(record.subprotocol)
        elif isinstance(record, WsMessage):
            record.body = self.body(record.body)
        elif isinstance(record, WsClose):
            record.reason = self.text(record.reason) if record.reason else record.reason

    def _request(self, req: HttpRequest) -> None:
        req.headers = self.headers(req.headers)  # names first: they teach values to scrub
        req.url = self.url(req.url)
        req.body = self.body(req.body, req.header("content-type"))
        if req.messages is not None:
            req.messages = [self._message_form(f) or f for f in req.messages]

    def _message_form(self, form: dict[str, Any] | None) -> dict[str, Any] | None:
        """A gRPC message's JSON form, redacted like a JSON body."""
        if not form or "json" not in form:
            return form
        new = self._json(form["json"], False)
        return form if new is form["json"] else {**form, "json": new}

    def redact_record(self, record: Record) -> Record:
        """Redact one record in place and return it; a secret first learned inside it is
        scrubbed from all of it."""
        generation = self.generation
        self._redact(record)
        if self.generation != generation:
            self._redact(record)
        return record

    def record(self, record: Record) -> Record:
        """``redact_record`` for a recording session, which ``finish`` completes at save."""
        self.redact_record(record)
        self._gen_of[id(record)] = self.generation
        return record

    def finish(self, records: Iterable[Record]) -> None:
        """Scrub secrets learned late from records redacted before they were known."""
        for record in records:
            if self._gen_of.get(id(record), -1) != self.generation:
                self.redact_record(record)
                self._gen_of[id(record)] = self.generation

    def prime(self, records: Iterable[Record]) -> None:
        """Learn every secret of a cassette (and number them) before rewriting it in a second
        pass, so the first record already knows a value found by name in the last."""
        for record in records:
            self.redact_record(record)

    # -- live traffic (matching) -----------------------------------------------------------
    @property
    def _live(self) -> Redactor:
        # Live traffic is redacted by a twin with the same rules whose placeholders are bare:
        # it never numbers (nor learns into) the recording's secrets.
        if self._live_twin is None:
            self._live_twin = Redactor(
                self.extra,
                self.defaults,
                headers=self.extra_headers,
                params=self.extra_params,
                fields=self.extra_fields,
                numbered=False,
            )
        return self._live_twin

    @property
    def live_generation(self) -> int:
        """Grows whenever live redaction learns a secret value (see ``generation``)."""
        return self._live.generation

    def request(self, req: HttpRequest) -> HttpRequest:
        """A live request redacted by the same rules and ready to compare (``matchable``)."""
        copy = HttpRequest(req.method, req.url, list(req.headers), req.body, req.messages)
        live = self._live
        generation = live.generation
        live._request(copy)
        if live.generation != generation:
            live._request(copy)
        return self.matchable(copy)

    def live_bytes(self, data: bytes) -> bytes:
        """A live binary WebSocket client message, redacted and normalised."""
        live = self._live
        generation = live.generation
        body = live.body(encode_body(data, binary=True))
        if live.generation != generation:
            body = live.body(body)
        return matchable_bytes(decode_body(body))

    def live_json(self, value: Any) -> Any:
        """A live WebSocket client message (JSON value, text or bytes), redacted and
        normalised."""
        if isinstance(value, bytes):
            return self.live_bytes(value)
        live = self._live
        generation = live.generation
        out = live._json(value, False)
        if live.generation != generation:
            out = live._json(out, False)
        return matchable_value(out)

    @staticmethod
    def matchable(req: HttpRequest) -> HttpRequest:
        """A (recorded or redacted live) request with its placeholders normalised."""
        body = req.body
        if framed(req.header("content-type"), body):
            data = decode_body(body)
            fitted = matchable_bytes(data)
            if fitted is not data:
                body = encode_body(fitted, binary=True)
        elif body and "json" in body:
            body = {**body, "json": matchable_value(body["json"])}
        elif body and "text" in body:
            body = {"text": normalize_placeholders(str(body["text"]))}
        return HttpRequest(
            req.method,
            normalize_placeholders(req.url),
            [(k, normalize_placeholders(v)) for k, v in req.headers],
            body,
            None
            if req.messages is None
            else [
                {**f, "json": matchable_value(f["json"])} if "json" in f else f
                for f in req.messages
            ],
        )

    matchable_value = staticmethod(matchable_value)
    matchable_bytes = staticmethod(matchable_bytes)

    # -- compatibility ---------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        """Replace the secrets learned so far wherever they appear in ``text``."""
        spans = self._value_spans(text, False)
        return _apply(text, _merge(spans)) if spans else text


_TEXT_TYPES = ("text/", "json", "xml", "javascript", "event-stream", "ndjson", "jsonl", "form")


def _textual(content_type: str | None) -> bool:
    return content_type is not None and any(t in content_type.lower() for t in _TEXT_TYPES)


_COMPRESSED_MEDIA = ("image/", "audio/", "video/", "font/", "zip", "gzip", "x-7z", "x-xz")


def _compressed_media(content_type: str | None) -> bool:
    return content_type is not None and any(t in content_type.lower() for t in _COMPRESSED_MEDIA)


def _one_off(name: str) -> bool:
    """Names of per-request values (a request's signature or nonce)."""
    norm = norm_name(name)
    return "signature" in norm or norm.endswith(("sig", "sign")) or norm == "nonce"


def _same(value: str) -> str:
    return value


def _from_latin1(value: str) -> str:
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def _literal_alternation(values: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))


def redact_records(records: Iterable[Record], redactor: Redactor | None = None) -> list[Record]:
    """Redact the records of one cassette, as every writer does before writing them.

    Two passes over the records: a value found by name in the last record is scrubbed from the
    first too. Pass a ``Redactor`` with extra names, or ``Redactor(defaults=False)`` for none.
    """
    redactor = redactor or Redactor()
    items = list(records)
    for record in items:
        redactor.record(record)
    redactor.finish(items)
    return items


def redact_file_records(
    read: Callable[[], Iterable[Record]], redactor: Redactor | None = None
) -> Iterator[Record]:
    """The records of a cassette too large to hold, redacted in two streaming passes: ``read()``
    is called twice (the first pass learns and numbers every secret, the second rewrites)."""
    redactor = redactor or Redactor()
    redactor.prime(read())
    for record in read():
        yield redactor.redact_record(record)
