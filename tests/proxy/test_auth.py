"""Proxy credentials and the replay origins' tokens: nothing a local process can guess."""

from __future__ import annotations

import base64

import pytest

from pytest_streamreplay.proxy.auth import ProxyCredentials
from pytest_streamreplay.proxy.origins import ROUTE_PREFIX, ReplayOrigins


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def test_each_server_gets_its_own_random_password() -> None:
    first, second = ProxyCredentials(), ProxyCredentials()
    assert first.password != second.password and len(first.password) >= 32
    assert first.accepts(_basic(first.userinfo))
    assert first.accepts("basic  " + base64.b64encode(first.userinfo.encode()).decode())


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Basic",
        "Basic !!!not-base64!!!",
        "Bearer abc",
        _basic("streamreplay:wrong"),
        _basic("someone:PASSWORD"),
        _basic("streamreplay:"),
    ],
)
def test_anything_else_is_refused(header: str) -> None:
    creds = ProxyCredentials(password="PASSWORD")
    assert not creds.accepts(header.replace("PASSWORD", creds.password))


def test_replay_origin_tokens_are_unguessable() -> None:
    origins = ReplayOrigins()
    paths = [origins.add_ws(object()) for _ in range(50)]  # type: ignore[arg-type]
    paths += [origins.add_stream(object()) for _ in range(50)]  # type: ignore[arg-type]
    assert len(set(paths)) == 100
    tokens = [p[len(ROUTE_PREFIX) :] for p in paths]
    assert all(len(t) >= 20 for t in tokens), tokens[:3]
    assert "ws1" not in tokens and "http2" not in tokens
