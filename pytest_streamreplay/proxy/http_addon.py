"""The mitmproxy addon that answers HTTP from a cassette or records what the origin sends."""

from __future__ import annotations

import time
from typing import Any

from ..cassette.body import encode_body
from ..cassette.encoding import apply_encoding, describe_encoding
from ..cassette.records import HttpInteraction, HttpRequest, HttpResponse
from .binding import SessionBinding

__all__ = ["UNMATCHED_STATUS", "HttpRecordReplay", "request_from_flow"]

# A status no origin sends, so a refused request is never mistaken for a recorded one.
UNMATCHED_STATUS = 599
_META = "streamreplay"
# Framing is the transport's business: replay sets Content-Length from the body it sends.
_FRAMING_HEADERS = frozenset({"transfer-encoding", "content-length"})


def request_from_flow(flow: Any) -> HttpRequest:
    req = flow.request
    return HttpRequest.build(
        req.method,
        req.url,
        list(req.headers.items(multi=True)),
        req.get_content(strict=False) or b"",
    )


def _response_from_flow(flow: Any) -> HttpResponse:
    resp = flow.response
    decoded = resp.get_content(strict=False) or b""
    return HttpResponse(
        status=resp.status_code,
        reason=resp.reason or "",
        http_version=resp.http_version,
        headers=list(resp.headers.items(multi=True)),
        body=encode_body(decoded),
        encoded=describe_encoding(resp.headers.get("content-encoding"), resp.raw_content, decoded),
    )


def _response_to_flow(recorded: HttpResponse, http_version: str) -> Any:
    from mitmproxy import http

    headers = [
        (k.encode(), v.encode()) for k, v in recorded.headers if k.lower() not in _FRAMING_HEADERS
    ]
    response = http.Response.make(recorded.status, b"", headers)
    response.http_version = http_version
    if recorded.reason and not http_version.startswith("HTTP/2"):
        response.reason = recorded.reason
    if recorded.encoded is not None:
        response.raw_content = apply_encoding(recorded.encoded, recorded.content)
        response.headers["content-length"] = str(len(response.raw_content))
    else:
        response.set_content(recorded.content)  # encodes per the recorded Content-Encoding
    return response


class HttpRecordReplay:
    """Asks the bound session about each request: replay it, let it through, or refuse it."""

    def __init__(self, binding: SessionBinding) -> None:
        self.binding = binding

    def request(self, flow: Any) -> None:
        session = self.binding.session
        if session is None:
            flow.response = _text_response(
                "pytest-streamreplay: a request reached the proxy while no test was bound to it"
            )
            return
        decision = session.decide(request_from_flow(flow))
        if decision.action == "replay":
            assert decision.interaction is not None
            flow.response = _response_to_flow(
                decision.interaction.response, flow.request.http_version
            )
            flow.metadata[_META] = "replayed"
        elif decision.action == "live":
            flow.metadata[_META] = ("live", session, session.elapsed_ms(), time.monotonic())
        else:
            flow.response = _text_response(decision.report)
            flow.metadata[_META] = "refused"

    def response(self, flow: Any) -> None:
        meta = flow.metadata.get(_META)
        if not (isinstance(meta, tuple) and meta[0] == "live"):
            return
        _, session, t, started = meta
        session.record(
            HttpInteraction(
                id=session.next_id(),
                request=request_from_flow(flow),
                response=_response_from_flow(flow),
                t=t,
                duration_ms=(time.monotonic() - started) * 1000.0,
            )
        )


def _text_response(text: str) -> Any:
    from mitmproxy import http

    return http.Response.make(
        UNMATCHED_STATUS,
        text.encode(),
        {"Content-Type": "text/plain; charset=utf-8", "X-Streamreplay": "unmatched"},
    )
