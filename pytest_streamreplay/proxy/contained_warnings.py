"""mitmproxy's warnings stay inside the proxy, whatever the project's warning filters say.

Importing and running mitmproxy emits third-party DeprecationWarnings (ldap3 through pyasn1's
``tagMap``/``typeMap`` on import, more at run time). Under ``filterwarnings = error`` or
``-W error`` they became exceptions inside the proxy (it failed to start, or dropped TLS
connections); otherwise they filled the user's warnings summary. Warning filters are global,
and pytest puts its own in front of any a plugin adds, so filters cannot exempt one thread:
instead ``warnings.warn`` and ``warnings.warn_explicit`` are wrapped, and a warning raised in a
contained thread (the proxy's loop thread, or a block under ``contained()``) goes to the debug
log of ``pytest_streamreplay.proxy`` instead. Every other thread's warnings pass through
unchanged, with their original stack level.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Iterator
from typing import Any

__all__ = ["contained", "install", "is_contained", "uninstall"]

_log = logging.getLogger("pytest_streamreplay.proxy")
_local = threading.local()
_originals: dict[str, Any] = {}
_install_lock = threading.Lock()


def is_contained() -> bool:
    return getattr(_local, "depth", 0) > 0


def _drop(message: Any, category: Any) -> None:
    kind = getattr(category, "__name__", None) or type(message).__name__
    _log.debug("contained warning: %s: %s", kind, message)


def _warn(
    message: Any, category: Any = None, stacklevel: int = 1, source: Any = None, **kwargs: Any
) -> None:
    if is_contained():
        _drop(message, category)
        return
    _originals["warn"](message, category, stacklevel + 1, source, **kwargs)


def _warn_explicit(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    if is_contained():
        _drop(message, category)
        return
    _originals["warn_explicit"](message, category, *args, **kwargs)


def install() -> None:
    """Wrap the two functions (idempotent; cheap for threads that are not contained)."""
    with _install_lock:
        if _originals:
            return
        _originals["warn"] = warnings.warn
        _originals["warn_explicit"] = warnings.warn_explicit
        warnings.warn = _warn
        warnings.warn_explicit = _warn_explicit


def uninstall() -> None:
    """Restore the originals, unless something wrapped them after us."""
    with _install_lock:
        if not _originals:
            return
        if warnings.warn is _warn:
            warnings.warn = _originals["warn"]
        if warnings.warn_explicit is _warn_explicit:
            warnings.warn_explicit = _originals["warn_explicit"]
        _originals.clear()


@contextlib.contextmanager
def contained() -> Iterator[None]:
    """Contain the warnings of this thread for the block (nests)."""
    install()
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1
