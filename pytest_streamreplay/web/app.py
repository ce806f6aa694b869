"""The FastAPI application: JSON API under ``/api``, two pages, and static files.

Every expected failure becomes a JSON body ``{"error": ..., ...}`` with a 4xx status (a
corrupt cassette names its file and line); nothing sends a traceback. Cassette names are
paths relative to the served directory and go through ``CassetteRoot`` before any I/O.
``security.DashboardGuard`` wraps it all: Host check, write token, Content-Security-Policy.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import inspect
import os
from collections.abc import AsyncIterator, Callable, Sequence
from html import escape
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Query, Request
from fastapi import Path as Path_
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..cassette import CassetteError
from ..cassette.query import QUERY_FIELDS, QueryError, QueryField
from ..cassette.query import Query as RecordQuery
from . import service
from .paths import CassetteRoot, PathRefused
from .replay import MAX_SPEED, MIN_SPEED, ReplayError, ReplayManager
from .security import DashboardGuard, new_token
from .service import MAX_BINS, MAX_LIMIT

__all__ = ["create_app", "plotly_js_path"]

_STATIC = Path(str(importlib.resources.files(__package__) / "static"))
_STATIC_FILES = {"app.css", "common.js", "list.js", "cassette.js"}


def plotly_js_path() -> Path | None:
    """``plotly.min.js`` as shipped inside the installed ``plotly`` package, if any."""
    try:
        found = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
    except ModuleNotFoundError:
        return None
    path = Path(str(found))
    return path if path.is_file() else None


Num = Annotated[float | None, Query()]
_TIMES = ("t_from", "t_to")  # the messages page takes them; the timeline has start/end


def _value_type(spec: QueryField) -> Any:
    return (list[spec.type] if spec.many else spec.type) | None  # type: ignore[name-defined]


def _query_param(spec: QueryField) -> Any:
    return Annotated[_value_type(spec), Query(description=spec.help)]


def _selection(**options: Any) -> dict[str, Any]:
    """The filter parameters every message endpoint takes: the fields of the query language
    (``cassette.query``, where ``streamreplay filter`` gets its options too)."""
    return options


_selection.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        inspect.Parameter(
            spec.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=_query_param(spec)
        )
        for spec in QUERY_FIELDS
        if spec.name not in _TIMES
    ]
)


Selected = Annotated[dict[str, Any], Depends(_selection)]
_GRPC_HELP = {spec.name: spec.help for spec in QUERY_FIELDS if spec.name.startswith("grpc_")}

_BODY_FIELDS: dict[str, Any] = {
    spec.name: (_value_type(spec), Field(default=None, description=spec.help))
    for spec in QUERY_FIELDS
}
FilterBody = create_model(  # a selection (every query field) and where to write it
    "FilterBody",
    output=(str, Field(description="new cassette name, relative to the directory, *.jsonl")),
    overwrite=(bool, False),
    **_BODY_FIELDS,
)


class SpeedBody(BaseModel):
    speed: float = Field(gt=0, description=f"{MIN_SPEED:g} to {MAX_SPEED:g}; 1 is as recorded")


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _page(name: str, token: str) -> HTMLResponse:
    """A page with the write token in a meta tag (same-origin script can read it, others not)."""
    html = (_STATIC / name).read_text(encoding="utf-8")
    charset = '<meta charset="utf-8">'
    meta = f'{charset}\n  <meta name="streamreplay-token" content="{escape(token)}">'
    return HTMLResponse(html.replace(charset, meta, 1))


def create_app(
    directory: str | os.PathLike[str],
    *,
    token: str | None = None,
    allowed_hosts: Sequence[str] = (),
) -> FastAPI:
    """The dashboard over ``directory`` (every path the app touches stays inside it).

    ``token`` is what write requests must send (random unless given); ``allowed_hosts`` are
    host names besides the loopback ones that requests may address (see ``security``)."""
    token = token or new_token()
    root = CassetteRoot(directory)
    if not root.root.is_dir():
        raise NotADirectoryError(f"{directory}: not a directory")
    replays = ReplayManager()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        replays.close()

    app = FastAPI(
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load their scripts from a CDN: not here
        redoc_url=None,
        title="streamreplay dashboard",
        version=__version__,
        description="Browse, filter and replay the cassettes of one directory.",
    )
    app.state.root = root
    app.state.replays = replays
    app.state.token = token
    app.add_middleware(DashboardGuard, token=token, hosts=allowed_hosts)

    @app.exception_handler(CassetteError)
    async def _cassette_error(request: Request, exc: CassetteError) -> Response:
        text = service.error_text(root, exc)
        name = text.split(":", 1)[0]
        if request.url.path.startswith("/api/"):
            return _error(422, text, file=name, line=exc.line)
        return _error_page(422, "This cassette cannot be read", text)

    @app.exception_handler(PathRefused)
    async def _refused(request: Request, exc: PathRefused) -> Response:
        if request.url.path.startswith("/api/"):
            return _error(exc.status, exc.reason, name=exc.name)
        return _error_page(exc.status, "No such cassette", f"{exc.name}: {exc.reason}")

    @app.exception_handler(QueryError)
    async def _query_error(request: Request, exc: QueryError) -> Response:
        return _error(400, str(exc))

    @app.exception_handler(ReplayError)
    async def _replay_error(request: Request, exc: ReplayError) -> Response:
        return _error(exc.status, str(exc))

    @app.exception_handler(FileExistsError)
    async def _exists(request: Request, exc: FileExistsError) -> Response:
        return _error(409, f"{exc.args[0]} exists; choose another name or set overwrite")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return _error(400, f"invalid request: {problems}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/") or exc.status_code != 404:
            return _error(exc.status_code, str(exc.detail))
        return _error_page(404, "Not found", request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return _error(500, f"internal error ({type(exc).__name__}); see the server's log")

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> Response:
        return _error(500, f"cannot read or write: {exc.strerror or type(exc).__name__}")

    # -- API ------------------------------------------------------------------------------

    @app.get("/api/cassettes", tags=["cassettes"], summary="List cassettes")
    def list_cassettes(q: Annotated[str | None, Query(description="search")] = None) -> Any:
        return service.list_cassettes(root, q)

    @app.get("/api/cassettes/{name:path}/messages", tags=["cassettes"], summary="Page messages")
    def messages(
        name: str,
        selected: Selected,
        t_from: Num = None,
        t_to: Num = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        total: Annotated[bool, Query(description="count all matches")] = True,
    ) -> Any:
        query = RecordQuery.from_options({**selected, "t_from": t_from, "t_to": t_to})
        return service.page_messages(
            root, root.existing(name), query, offset=offset, limit=limit, count_total=total
        )

    @app.get("/api/cassettes/{name:path}/http", tags=["cassettes"], summary="Page HTTP calls")
    def http_calls(
        name: str,
        t_from: Num = None,
        t_to: Num = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        grpc_method: Annotated[str | None, Query(description=_GRPC_HELP["grpc_method"])] = None,
        grpc_status: Annotated[str | None, Query(description=_GRPC_HELP["grpc_status"])] = None,
    ) -> Any:
        return service.http_page(
            root,
            root.existing(name),
            offset=offset,
            limit=limit,
            t_from=t_from,
            t_to=t_to,
            grpc_method=grpc_method,
            grpc_status=grpc_status,
        )

    @app.get("/api/cassettes/{name:path}/records/{line}", tags=["cassettes"], summary="One record")
    def record(name: str, line: Annotated[int, Path_(ge=2)]) -> Any:
        return service.record_detail(root, root.existing(name), line)

    @app.get("/api/cassettes/{name:path}/timeline", tags=["cassettes"], summary="Binned counts")
    def timeline(
        name: str,
        selected: Selected,
        start: Num = None,
        end: Num = None,
        bins: Annotated[int, Query(ge=1, le=MAX_BINS)] = 200,
    ) -> Any:
        query = RecordQuery.from_options(selected)
        return service.timeline_bins(
            root, root.existing(name), query, start=start, end=end, bins=bins
        )

    @app.get("/api/cassettes/{name:path}/fields", tags=["cassettes"], summary="JSON paths seen")
    def fields(name: str) -> Any:
        return {"fields": service.fields_of(root.existing(name))}

    @app.post(
        "/api/cassettes/{name:path}/filter",
        tags=["cassettes"],
        summary="Write a filtered cassette",
        status_code=201,
    )
    def create_filtered(name: str, body: Annotated[FilterBody, Body()]) -> Any:  # type: ignore[valid-type]
        options = body.model_dump()  # type: ignore[attr-defined]
        output, overwrite = options.pop("output"), options.pop("overwrite")
        query = RecordQuery.from_options(options)
        return service.create_filtered(root, root.existing(name), output, query, overwrite)

    def _events_of(name: str) -> tuple[Path, int, float]:
        path = root.existing(name)
        summary = service.summary_of(root, path)
        return path, summary.kinds.get("event", 0), summary.duration_ms

    @app.post("/api/cassettes/{name:path}/replay/start", tags=["replay"], status_code=201)
    def replay_start(name: str, body: Annotated[SpeedBody | None, Body()] = None) -> Any:
        path, total, duration = _events_of(name)
        speed = body.speed if body is not None else 1.0
        return replays.start(name, path, total, duration, speed).status()

    def control(name: str, act: Callable[[Any], object]) -> Any:
        """Apply ``act`` to the cassette's running replay and answer with its status."""
        root.existing(name)
        session = replays.get(name)
        act(session)
        return session.status()

    @app.post("/api/cassettes/{name:path}/replay/pause", tags=["replay"])
    def replay_pause(name: str) -> Any:
        return control(name, lambda session: session.pause())

    @app.post("/api/cassettes/{name:path}/replay/resume", tags=["replay"])
    def replay_resume(name: str) -> Any:
        return control(name, lambda session: session.resume())

    @app.post("/api/cassettes/{name:path}/replay/stop", tags=["replay"])
    def replay_stop(name: str) -> Any:
        return control(name, lambda session: session.stop())

    @app.post("/api/cassettes/{name:path}/replay/speed", tags=["replay"])
    def replay_speed(name: str, body: SpeedBody) -> Any:
        return control(name, lambda session: session.set_speed(body.speed))

    @app.get("/api/cassettes/{name:path}/replay", tags=["replay"], summary="Replay status")
    def replay_status(name: str) -> Any:
        root.existing(name)
        return replays.status(name)

    @app.get(
        "/api/cassettes/{name:path}/grpc/{call_id}",
        tags=["cassettes"],
        summary="A gRPC call's messages",
    )
    def grpc_call(
        name: str,
        call_id: int,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    ) -> Any:
        try:
            return service.grpc_call(root, root.existing(name), call_id, offset=offset, limit=limit)
        except service.NotFound as exc:
            return _error(404, str(exc))

    @app.get("/api/cassettes/{name:path}", tags=["cassettes"], summary="Cassette details")
    def details(name: str) -> Any:
        return service.cassette_details(root, root.existing(name))

    @app.get("/api/{rest:path}", include_in_schema=False)
    def unknown(rest: str) -> Any:
        return _error(404, f"no API endpoint /api/{rest}")

    # -- pages and static files -----------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def index() -> Any:
        return _page("index.html", token)

    @app.get("/cassette/{name:path}", include_in_schema=False)
    def cassette_page(name: str) -> Any:
        service.summary_of(root, root.existing(name))  # a clear page now, not a broken one
        return _page("cassette.html", token)

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Any:
        path = plotly_js_path()
        if path is None:
            return _error(404, "plotly is not installed: install pytest-streamreplay[web]")
        return FileResponse(
            path, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
        )

    @app.get("/static/{filename}", include_in_schema=False)
    def static(filename: str) -> Any:
        if filename not in _STATIC_FILES:
            return _error(404, f"no static file {filename}")
        media = "text/css" if filename.endswith(".css") else "text/javascript"
        return FileResponse(_STATIC / filename, media_type=media)

    return app


def _error_page(status: int, title: str, detail: str) -> HTMLResponse:
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><link rel='stylesheet' href='/static/app.css'></head>"
        f"<body><header><a href='/'>streamreplay</a></header><main class='error-page'>"
        f"<h1>{escape(title)}</h1><p class='error'>{escape(detail)}</p>"
        "<p><a href='/'>Back to the cassette list</a></p></main></body></html>"
    )
    return HTMLResponse(body, status_code=status)
