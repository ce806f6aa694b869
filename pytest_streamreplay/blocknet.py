"""pytest-recording's ``--block-network``: no socket connects anywhere but where allowed.

Unlike ``--replay-strict``'s guard (``netguard``), this follows pytest-recording: loopback is
blocked too, Unix sockets as well, DNS still resolves, and the error is a ``RuntimeError``
starting "Network is disabled" (tests written for pytest-recording match on it). The proxy of
this plugin is always let through: replayed clients talk to it.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .netguard import guard_connects

__all__ = ["NetworkDisabledError", "blocked_network"]


class NetworkDisabledError(RuntimeError):
    """A connection attempted while the network is blocked (``--block-network``)."""


def _text(host: Any) -> str:
    if isinstance(host, bytes | bytearray):
        return bytes(host).decode("utf-8", "replace")
    return str(host)


def _private(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0]).is_private
    except ValueError:
        return False


@contextmanager
def blocked_network(
    allowed_hosts: Sequence[str] = (),
    *,
    allow_private_ips: bool = False,
    exempt: Callable[[str, int], bool] = lambda host, port: False,
) -> Iterator[None]:
    """Block ``socket.connect``/``connect_ex`` in this process for the duration of the block.

    ``allowed_hosts`` are regular expressions matched at the start of the address's host;
    ``exempt(host, port)`` lets one more address through (the proxy)."""
    pattern = re.compile("|".join(f"(?:{h})" for h in allowed_hosts)) if allowed_hosts else None

    def check(sock: socket.socket, address: Any) -> None:
        port = 0
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host, port = _text(address[0]), int(address[1])
        elif getattr(socket, "AF_UNIX", None) == sock.family:
            host = _text(address)
        else:
            return
        if exempt(host, port) or (pattern is not None and pattern.match(host)):
            return
        if allow_private_ips and _private(host):
            return
        allowed = [repr(h) for h in allowed_hosts] + (["private IPs"] if allow_private_ips else [])
        raise NetworkDisabledError(
            f"Network is disabled for host {host!r}"
            + (f" (allowed hosts: {', '.join(allowed)})" if allowed else "")
            + ": blocked by --block-network (pytest-streamreplay). Replay it from a cassette "
            "(@pytest.mark.vcr), allow it with --allowed-hosts, or record with "
            "--record-mode=once"
        )

    restore = guard_connects(check)
    try:
        yield
    finally:
        restore()
