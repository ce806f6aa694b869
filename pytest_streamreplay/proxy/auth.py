"""Proxy credentials: only the test's own clients may use the proxy.

Without them the proxy on 127.0.0.1 is an open proxy while a test runs: any local process
could send requests that land in that test's cassette, or take its replayed answers. Each
proxy start draws a random password; the plugin hands it out inside the proxy URL of the
test's environment, and every common client sends it as ``Proxy-Authorization: Basic``
(on CONNECT for tunnels, on each request for plain HTTP).

An own addon rather than mitmproxy's ``proxyauth`` option: that addon imports ldap3 (~0.2 s
measured) and compares passwords with ``==``; the hooks used here are the same in mitmproxy 11
and 12. It must come before the record/replay addons, which leave a flow alone once it has a
response.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import weakref
from dataclasses import dataclass, field
from typing import Any

__all__ = ["USERNAME", "ProxyAuthGuard", "ProxyCredentials"]

USERNAME = "streamreplay"
_HEADER = "Proxy-Authorization"


@dataclass(frozen=True)
class ProxyCredentials:
    """A user name and a random password, as a proxy URL's user info."""

    username: str = USERNAME
    password: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def userinfo(self) -> str:
        return f"{self.username}:{self.password}"  # token_urlsafe needs no quoting in a URL

    def accepts(self, header: str) -> bool:
        """Whether a ``Proxy-Authorization`` value carries these credentials (Basic)."""
        scheme, _, encoded = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, self.userinfo.encode())


def _refusal() -> Any:
    from mitmproxy import http

    return http.Response.make(
        407,
        "pytest-streamreplay: proxy authentication required. Only the running test's clients "
        "may use this proxy: they find its URL, with credentials, in HTTP_PROXY/HTTPS_PROXY.\n",
        {
            "Proxy-Authenticate": 'Basic realm="pytest-streamreplay"',
            "Content-Type": "text/plain; charset=utf-8",
            "Connection": "close",
        },
    )


class ProxyAuthGuard:
    """Answers 407 to every CONNECT and plain request without the credentials.

    A CONNECT that authenticated makes its client connection trusted: the requests inside the
    tunnel carry no proxy header. The header is removed before anything is recorded or sent.
    """

    def __init__(self, credentials: ProxyCredentials) -> None:
        self.credentials = credentials
        self._trusted: weakref.WeakSet[Any] = weakref.WeakSet()

    def _check(self, flow: Any) -> bool:
        header = flow.request.headers.get(_HEADER, "")
        if header:
            del flow.request.headers[_HEADER]
        if self.credentials.accepts(header):
            return True
        flow.response = _refusal()
        flow.metadata["streamreplay.refused"] = "proxy authentication"
        return False

    def http_connect(self, flow: Any) -> None:
        if self._check(flow):
            self._trusted.add(flow.client_conn)

    def requestheaders(self, flow: Any) -> None:
        if flow.client_conn in self._trusted:
            flow.request.headers.pop(_HEADER, None)
            return
        self._check(flow)
