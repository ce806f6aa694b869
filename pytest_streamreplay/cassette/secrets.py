"""What a secret looks like: names that hold one, and values recognisable by their shape.

Names decide for headers, query and form parameters and JSON fields; shapes find secrets that sit
anywhere else (a token in a text body, a mnemonic in a chat message, a key in a URL path). Both
are pure functions of their input so the recording and a replaying client agree on them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache

__all__ = [
    "AUTH_OP_KEYS",
    "MIN_SHAPE_LEN",
    "auth_operation",
    "canonical_mnemonic",
    "find_shapes",
    "might_hold_shape",
    "mnemonic_words",
    "norm_name",
    "secret_field_name",
    "secret_header_name",
    "secret_param_name",
    "secret_text_name",
]

# -- names -------------------------------------------------------------------------------------


def norm_name(name: str) -> str:
    """``X-API-Key``, ``api_key`` and ``apiKey`` are one name: ``apikey``."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


_HEADERS = frozenset(
    {
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "xapikey",
        "apikey",
        "xauthtoken",
        "xaccesstoken",
        "xcsrftoken",
        "xamzsecuritytoken",
        "xauthkey",  # Cloudflare's legacy key (with X-Auth-Email)
        "key",  # Gate.io's KEY and SIGN
        "sign",
    }
)
# Exchange-style credential headers: X-MBX-APIKEY, OK-ACCESS-KEY/-SIGN/-PASSPHRASE,
# CB-ACCESS-KEY/-SIGN, X-BAPI-API-KEY/-SIGN.
_HEADER_RE = re.compile(
    r"(signature|secret|token|api[-_]?key|access[-_]?key|auth[-_]?key|subscription[-_]?key"
    r"|passphrase|session|[-_]sign$)",
    re.I,
)

_PARAMS = frozenset(
    {
        "key",
        "sig",
        "sign",
        "code",
        "auth",
        "apikey",
        "password",
        "pass",
        "passwd",
        "session",
        "listenkey",
        "accesskey",
        "accesskeyid",
        "secretkey",
        "privatekey",
        "mnemonic",
        "seed",
        "seedphrase",
        "recoveryphrase",
        "phrase",
        "passphrase",
    }
)
_PARAM_RE = re.compile(r"(token|secret|signature|password|apikey|credential)")
# In free text ``code=42`` or ``key=BTC`` is ordinary: there only unambiguous names count.
_GENERIC_PARAMS = frozenset(
    {"key", "sig", "sign", "code", "auth", "pass", "session", "seed", "phrase"}
)

_FIELDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "mnemonic",
        "seed",
        "seedphrase",
        "recoveryphrase",
        "phrase",
        "privatekey",
        "secretkey",
        "apikey",
        "apisecret",
        "signature",
        "passphrase",
        "listenkey",
        "accesskey",
        "accesskeyid",
        "clientsecret",
        "authorization",
        "auth",
        "credential",
        "credentials",
        "cookie",
    }
)
_FIELD_RE = re.compile(
    r"(password|passwd|secret|mnemonic|privatekey|apikey|signature|passphrase|seedphrase"
    r"|recoveryphrase|listenkey|^accesskey$"
    r"|(access|refresh|auth|session|csrf|xsrf|bearer|api|jwt|oauth|login|security|sso|identity"
    r"|device|user|client|id|secret|private)token$)"
)
# Inside an authentication message (``{"action": "auth", ...}``, ``{"op": "login", ...}``) these
# name credentials too; elsewhere they are ordinary data (a ``key`` of a map, JSON-RPC
# ``params``, a subscription's ``args``). Bybit's login is ``{"op":"auth","args":[key, expires,
# signature]}``, Bitfinex's carries ``authSig``, Alpaca's older one ``data.key_id``.
_AUTH_FIELDS = frozenset(
    {"key", "sign", "sig", "params", "pass", "userkey", "args", "keyid", "authsig"}
)
#: Keys whose value names what a message does.
AUTH_OP_KEYS = frozenset({"action", "op", "type", "event", "method", "cmd", "command", "e"})
_AUTH_OP_RE = re.compile(r"auth|login|logon|sign_?in", re.I)


@lru_cache(maxsize=4096)
def secret_header_name(name: str) -> bool:
    return norm_name(name) in _HEADERS or bool(_HEADER_RE.search(name))


@lru_cache(maxsize=4096)
def secret_param_name(name: str, *, in_text: bool = False) -> bool:
    norm = norm_name(name)
    if in_text and norm in _GENERIC_PARAMS:
        return False
    return norm in _PARAMS or bool(_PARAM_RE.search(norm))


@lru_cache(maxsize=16384)
def secret_field_name(name: str, in_auth: bool = False) -> bool:
    norm = norm_name(name)
    if norm in _FIELDS or _FIELD_RE.search(norm):
        return True
    return in_auth and norm in _AUTH_FIELDS


@lru_cache(maxsize=4096)
def secret_text_name(name: str) -> bool:
    """A name that holds a secret in free text written as ``name: value`` (YAML, INI, XML, a
    logged header): a parameter or field name, but not a generic one (``key: BTC-USD``)."""
    if norm_name(name) in _GENERIC_PARAMS:
        return False
    return secret_param_name(name) or secret_field_name(name)


def auth_operation(obj: dict[str, object]) -> bool:
    """Whether a JSON object is an authentication message, or carries credentials beside a
    ``key`` (Alpaca's ``{"action":"auth","key":..,"secret":..}``, Coinbase's subscribe with
    ``key``/``signature``/``passphrase``)."""
    for k in AUTH_OP_KEYS.intersection(obj):
        v = obj[k]
        if isinstance(v, str) and _auth_word(v):
            return True
    return "key" in obj and any(
        secret_field_name(k) for k in obj if k != "key" and isinstance(k, str)
    )


@lru_cache(maxsize=4096)
def _auth_word(value: str) -> bool:
    return _AUTH_OP_RE.search(value) is not None


# -- shapes ------------------------------------------------------------------------------------

#: Shorter strings cannot hold any shape below: skipped without a regex.
MIN_SHAPE_LEN = 18

_SHAPES = re.compile(
    # A JWT (or JWS/JWE): base64url JSON header and payload, both starting with '{"'.
    r"(?P<jwt>(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{6,}\.eyJ[A-Za-z0-9_\-]{6,}"
    r"(?:\.[A-Za-z0-9_\-]*){1,3}"
    # ... and base64-encoded whole (Kubernetes' bearer subprotocol): its 'eyJ' encodes as 'ZXlK'.
    r"|(?<![A-Za-z0-9+/_\-])ZXlK[A-Za-z0-9+/_\-]{40,}={0,2})"
    # A PEM private key, whole, or up to where its base64 stops when the END line is missing.
    r"|(?P<pem>-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY-----"
    r"(?:[\s\S]{0,20000}?-----END[A-Z0-9 ]{0,40}PRIVATE KEY-----|[A-Za-z0-9+/=\s\\:,-]*))"
    # AWS access key ids (long-term AKIA, temporary ASIA).
    r"|(?P<aws>(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9]))"
    # Provider tokens with a recognisable prefix: GitHub, Slack, Stripe, Google, OpenAI-style.
    r"|(?P<token>(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}"
    r"|xox[abposr]-[A-Za-z0-9\-]{10,250}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,247}"
    r"|AIza[0-9A-Za-z_\-]{35}|sk-(?:proj|ant|svcacct)-[A-Za-z0-9_\-]{20,})"
    # Telegram bot tokens (``bot<id>:<secret>`` in a URL path).
    r"|(?<![0-9])[0-9]{8,10}:AA[0-9A-Za-z_\-]{30,40}(?![0-9A-Za-z_\-]))"
)
# The password of a URL's user info (``postgres://admin:PASSWORD@db/app``): the user name and
# host stay.
_URL_PASSWORD = re.compile(
    r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s/?#:@\"'<>\\]{1,128}"
    r":([^\s/?#@\"'<>\\]{1,256})@"
)
# Candidates for a mnemonic: at least 12 words of 3-8 letters (any case: a phrase is written
# capitalised or in capitals too) separated by blanks, commas, dashes, list numbers ("1. ",
# "2) "), the quotes of a list written as text ('["legal", "winner", ...]') or '+' / '%20' in a
# URL; each word is then looked up in the BIP39 English list.
_WORD_SEP = r"(?:[\s,;+\-\"'\\]|%20|%2C|\d{1,2}[.):])+"
_WORD_RUN = re.compile(
    r"(?<![A-Za-z])[A-Za-z]{3,8}(?:" + _WORD_SEP + r"[A-Za-z]{3,8}){11,}(?![A-Za-z])"
)
_WORD = re.compile(r"[A-Za-z]+")
_MNEMONIC_MIN_WORDS = 12
_LENGTHS = (12, 15, 18, 21, 24)


@lru_cache(maxsize=1)
def _bip39() -> tuple[frozenset[str], Callable[[str], bool]]:
    from mnemonic import Mnemonic

    english = Mnemonic("english")
    return frozenset(english.wordlist), english.check


def _trim(text: str, run: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """The mnemonics inside a run of list words ("my seed is" may precede one: "seed" is a list
    word): every window of a BIP39 length whose checksum holds; the whole run when none does
    (Electrum seeds use the same list without BIP39's checksum). A window of neighbouring words
    may pass the checksum by chance (1 in 16 for 12 words): all are redacted, never fewer."""
    _, check = _bip39()
    found = False
    for size in (n for n in _LENGTHS if n <= len(run)):
        for i in range(len(run) - size + 1):
            window = run[i : i + size]
            if check(" ".join(text[s:e].lower() for s, e in window)):
                found = True
                yield window[0][0], window[-1][1]
    if not found:
        yield run[0][0], run[-1][1]


def _mnemonics(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Runs of at least 12 consecutive BIP39 words inside ``text[start:end]``."""
    words, _ = _bip39()
    run: list[tuple[int, int]] = []
    for m in _WORD.finditer(text, start, end):
        if m.group().lower() in words:
            run.append(m.span())
            continue
        if len(run) >= _MNEMONIC_MIN_WORDS:
            yield from _trim(text, run)
        run = []
    if len(run) >= _MNEMONIC_MIN_WORDS:
        yield from _trim(text, run)


# Every shape above contains one of these: a text with none of them skips the regexes (most
# recorded strings are prices, ids and timestamps).
_SHAPE_MARKS = re.compile(
    r"eyJ|ZXlK|-----BEGIN|AKIA|ASIA|gh[pousr]_|github_pat_|xox|k_live_|k_test_|AIza|sk-|:AA"
)


def might_hold_shape(text: str) -> bool:
    """A cheap test that ``find_shapes`` may find something (never a false negative)."""
    if len(text) < MIN_SHAPE_LEN:
        return False
    blanks = text.count(" ") + text.count("+") + text.count("\n") + text.count("\t")
    blanks += text.count(",") + text.count("-") + text.count(";")
    if blanks >= _MNEMONIC_MIN_WORDS - 1:
        return True
    if "%20" in text or ("://" in text and "@" in text):
        return True
    return _SHAPE_MARKS.search(text) is not None


def canonical_mnemonic(text: str) -> str:
    """A seed phrase as its words, lower case, one space apart: the one phrase however it was
    written (capitals, commas, numbers, a list) gets one placeholder."""
    return " ".join(w.lower() for w in _WORD.findall(text))


def mnemonic_words(items: list[object]) -> bool:
    """A JSON list that is a seed phrase word by word (``["legal", "winner", ...]``): 12 to 24
    strings, each a BIP39 English word."""
    if not _MNEMONIC_MIN_WORDS <= len(items) <= _LENGTHS[-1]:
        return False
    words, _ = _bip39()
    return all(isinstance(w, str) and w.lower() in words for w in items)


def find_shapes(text: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, kind)`` of every secret recognisable by its shape, in order of start."""
    if not might_hold_shape(text):
        return
    found = [(m.start(), m.end(), m.lastgroup or "secret") for m in _SHAPES.finditer(text)]
    if "://" in text and "@" in text:
        found += [(m.start(1), m.end(1), "password") for m in _URL_PASSWORD.finditer(text)]
    for m in _WORD_RUN.finditer(text):
        found += [(s, e, "mnemonic") for s, e in _mnemonics(text, m.start(), m.end())]
    yield from sorted(found)
