"""The proxy's certificate authority: made once per user, kept outside any repository.

The CA lives in a per-user cache directory (mode 0700, key 0600). Clients trust it through a
bundle file holding certifi's roots plus the CA, so proxied and direct TLS both keep working.
Creation is serialised with a file lock: parallel xdist workers must not race to write it.

The key is ECDSA P-256 rather than mitmproxy's RSA-2048: cryptography checks an RSA key each
time it is loaded (~40 ms of every proxy start, measured) and generating one costs more again
on a fresh CI cache; an EC key loads in microseconds. mitmproxy signs each host's certificate
with the CA's own key, so clients then see ECDSA certificates, which every current TLS library
accepts. A CA made by an earlier version (RSA) is kept: users may have installed it elsewhere.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["CA_BASENAME", "bundle_with", "cache_dir", "ensure_ca"]

CA_BASENAME = "mitmproxy"


def cache_dir() -> Path:
    """``$STREAMREPLAY_CACHE_DIR``, else ``$XDG_CACHE_HOME/pytest-streamreplay``, else
    ``~/.cache/pytest-streamreplay``."""
    explicit = os.environ.get("STREAMREPLAY_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pytest-streamreplay"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no concurrent workers to guard
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_ca(confdir: Path | None = None) -> Path:
    """Create the CA in ``confdir`` if missing; return the confdir."""
    confdir = confdir or cache_dir() / "ca"
    cert = confdir / f"{CA_BASENAME}-ca-cert.pem"
    if cert.exists():
        return confdir
    with _locked(confdir.parent / ".ca.lock"):
        if not cert.exists():
            confdir.mkdir(parents=True, exist_ok=True)
            os.chmod(confdir, 0o700)
            _write_ca(confdir)
    return confdir


def _write_ca(confdir: Path) -> None:
    """The files mitmproxy's cert store reads: ``<base>-ca.pem`` (key, then certificate) and
    ``<base>-ca-cert.pem`` (certificate only, what clients trust)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "pytest-streamreplay proxy CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pytest-streamreplay"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    no_usage = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=2))  # client clocks that lag behind
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(key_cert_sign=True, crl_sign=True, **no_usage), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(confdir / f"{CA_BASENAME}-ca.pem", key_pem + cert_pem)
    _write_private(confdir / f"{CA_BASENAME}-ca-cert.pem", cert_pem)  # last: marks it complete


def _write_private(path: Path, content: bytes) -> None:
    """Atomically, readable by the user alone from the first byte."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
    os.replace(tmp, path)


def bundle_with(extra_pem: Path, out: Path) -> Path:
    """Write certifi's bundle plus ``extra_pem`` to ``out`` (atomically, only when it changes)."""
    import certifi

    content = Path(certifi.where()).read_bytes().rstrip(b"\n") + b"\n" + extra_pem.read_bytes()
    if out.exists() and out.read_bytes() == content:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, out)
    return out
