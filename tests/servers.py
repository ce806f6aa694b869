"""Real origin servers on 127.0.0.1 for the tests: every answer carries a fresh uuid4, so a
replayed answer is provably not live."""

from __future__ import annotations

import datetime
import gzip
import json
import ssl
import threading
import uuid
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def _compress(name: str, data: bytes) -> bytes:
    if name == "br":
        import brotli

        return bytes(brotli.compress(data))
    return gzip.compress(data) if name == "gzip" else zlib.compress(data)


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if status not in (204, 304):  # they have no body, and 204 no Content-Length
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def _read_chunked(self) -> bytes:
        body = b""
        while size := int(self.rfile.readline().split(b";")[0], 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b""):  # trailers, then the blank line
            pass
        return body

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = self._read_chunked()
        self.server.seen.append((self.command, self.path, dict(self.headers), body))  # type: ignore[attr-defined]
        payload = {"uuid": str(uuid.uuid4()), "method": self.command, "path": self.path}
        if self.path.startswith("/secret"):
            payload["access_token"] = "server-secret-token-123"
            data = json.dumps(payload).encode()
            self._send(
                200,
                data,
                {
                    "Content-Type": "application/json",
                    "Set-Cookie": "session=server-cookie-456; HttpOnly",
                },
            )
        elif self.path.startswith("/gzip"):
            self._send(
                200,
                gzip.compress(json.dumps(payload).encode()),
                {"Content-Type": "application/json", "Content-Encoding": "gzip"},
            )
        elif self.path.startswith("/binary"):
            self._send(
                200,
                uuid.uuid4().bytes + bytes(range(256)),
                {"Content-Type": "application/octet-stream"},
            )
        elif self.path.startswith("/bytes/"):  # /bytes/N: N bytes with a Content-Length
            self._send(200, b"b" * int(self.path.rsplit("/", 1)[1]), {"Content-Type": "x/y"})
        elif self.path.startswith("/close"):  # the origin closes after this answer
            self._send(
                200,
                json.dumps(payload).encode(),
                {"Content-Type": "application/json", "Connection": "close"},
            )
        elif self.path.startswith("/trailers"):  # chunked, with a trailer field after it
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Checksum")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n0\r\nX-Checksum: 42\r\n\r\n" % (len(data), data))
        elif self.path.startswith("/enc/"):  # /enc/gzip|deflate|br, chunked with ?chunked
            name, _, query = self.path[len("/enc/") :].partition("?")
            data = _compress(name, json.dumps(payload).encode())
            headers = {"Content-Type": "application/json", "Content-Encoding": name}
            if query != "chunked":
                self._send(200, data, headers)
                return
            self.send_response(200)
            for k, v in {**headers, "Transfer-Encoding": "chunked"}.items():
                self.send_header(k, v)
            self.end_headers()
            half = len(data) // 2
            for part in (data[:half], data[half:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path.startswith("/early"):  # 103 Early Hints before the answer
            self.send_response_only(103)
            self.send_header("Link", "</style.css>; rel=preload")
            self.end_headers()
            self.wfile.flush()
            self._send(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        elif self.path.startswith("/status/"):
            code = int(self.path.rsplit("/", 1)[1])
            self._send(code, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        else:
            self._send(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _handle


@dataclass
class Origin:
    """A running origin; ``stop()`` takes it away so replay cannot reach it."""

    url: str
    server: ThreadingHTTPServer
    thread: threading.Thread
    seen: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def start_origin(tls_cert: Path | None = None, tls_key: Path | None = None) -> Origin:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    scheme = "http"
    if tls_cert is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls_cert, tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    seen: list[Any] = []
    server.seen = seen  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return Origin(f"{scheme}://127.0.0.1:{server.server_port}", server, thread, seen)


def make_self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, as a test origin would have."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "streamreplay test origin")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "origin-cert.pem", directory / "origin-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
