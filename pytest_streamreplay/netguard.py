"""Strict replay's network guard: nothing leaves the machine, and it says so clearly.

Patches ``socket.socket.connect``/``connect_ex`` and ``socket.getaddrinfo`` in this process.
Loopback addresses and Unix sockets pass (the proxy and local test servers live there).
Subprocesses are not patched; they reach the network only through the proxy, which in strict
replay never goes live.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

__all__ = ["NetworkBlockedError", "NetworkGuard", "guard_connects"]

_HINT = "record a cassette with `pytest --record-mode=once`, or run without --replay-strict"


class NetworkBlockedError(OSError):
    """A connection or DNS look-up was attempted under ``--replay-strict``."""


def _is_local_host(host: Any) -> bool:
    if host is None or host == "":
        return True
    if isinstance(host, bytes):
        host = host.decode("idna", "replace")
    host = str(host).strip("[]").split("%")[0]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_numeric(host: Any) -> bool:
    try:
        ipaddress.ip_address(str(host).strip("[]").split("%")[0])
        return True
    except ValueError:
        return False


def guard_connects(check: Callable[[socket.socket, Any], None]) -> Callable[[], None]:
    """Make every ``socket.connect``/``connect_ex`` in this process call ``check(sock, address)``
    first (it raises to refuse); returns the function that puts the originals back. Shared by
    this guard and ``--block-network`` (``blocknet``)."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    def restore() -> None:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    return restore


class NetworkGuard:
    """``advice`` says what to do about a blocked attempt at the moment it happens (None: the
    default advice to record); the plugin names a proxy-ignoring client while a test is bound."""

    def __init__(self, advice: Callable[[], str | None] | None = None) -> None:
        self._saved: dict[str, Callable[..., Any]] = {}
        self._advice = advice

    def _hint(self) -> str:
        return (self._advice() if self._advice is not None else None) or _HINT

    @property
    def active(self) -> bool:
        return bool(self._saved)

    def install(self) -> None:
        if self._saved:
            return
        real_getaddrinfo = socket.getaddrinfo

        def check(sock: socket.socket, address: Any) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local_host(address[0]):
                raise NetworkBlockedError(
                    f"pytest-streamreplay --replay-strict blocked a connection to "
                    f"{address[0]}:{address[1]}; only loopback is allowed. {self._hint()}"
                )

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if not _is_local_host(host) and not _is_numeric(host):
                raise socket.gaierror(
                    socket.EAI_NONAME,
                    "pytest-streamreplay --replay-strict blocked a DNS look-up of "
                    f"{host!r}. {self._hint()}",
                )
            return real_getaddrinfo(host, *args, **kwargs)

        self._saved = {"connects": guard_connects(check), "getaddrinfo": real_getaddrinfo}
        socket.getaddrinfo = getaddrinfo

    def uninstall(self) -> None:
        if not self._saved:
            return
        self._saved["connects"]()
        socket.getaddrinfo = self._saved["getaddrinfo"]
        self._saved = {}
