"""``web``: serve the cassette dashboard (``pytest_streamreplay.web``) on localhost.

FastAPI, uvicorn and plotly come with the ``web`` extra; without them the command says so in
one line instead of failing on an import. The socket is bound before the server starts so
``--port 0`` can print the port it got.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import CommandError

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["DEFAULT_PORT", "register", "run_web"]

DEFAULT_PORT = 8765
_MISSING = (
    "streamreplay web needs FastAPI, uvicorn and plotly ({}): install pytest-streamreplay[web]"
)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "web",
        help="browse, filter and replay cassettes in a local web dashboard",
        description="Serve a dashboard over the cassettes in DIR: list, timeline chart, "
        "message filters, filtered cassettes and event replay. REST API under /api "
        "(schema at /openapi.json).",
    )
    parser.add_argument("directory", nargs="?", default="cassettes", metavar="DIR")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0 picks one"
    )
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (only this machine)")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests addressed to NAME (a host name other machines use for this "
        "one); loopback names and --host are always answered",
    )
    parser.set_defaults(run=run_web)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_web(args: argparse.Namespace, console: Console) -> int:
    try:
        import uvicorn

        from ..web import create_app
    except ImportError as exc:
        raise CommandError(_MISSING.format(exc.name or "missing module")) from None
    if plotly_missing():
        raise CommandError(_MISSING.format("plotly"))
    directory = Path(args.directory)
    if not directory.is_dir():
        raise CommandError(f"{directory}: no such directory")
    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port {args.port}: not a port number", code=2)
    app = create_app(directory, allowed_hosts=[args.host, *args.allow_host])
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
        # Listen before printing the address: a client that reads it and connects at once must
        # wait in the backlog for uvicorn, not be refused.
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    if not _loopback(args.host):
        print(
            f"streamreplay: warning: serving on {args.host}, reachable from other machines",
            file=sys.stderr,
        )
    print(f"serving {directory.resolve()} at http://{shown}:{port}/", flush=True)
    print(f"API write token (header X-StreamReplay-Token): {app.state.token}", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


def plotly_missing() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("plotly") is None
    except ValueError:  # sys.modules["plotly"] is None: treated as absent
        return True
