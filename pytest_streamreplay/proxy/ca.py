"""The proxy's certificate authority: made once per user, kept outside any repository.

The CA lives in a per-user cache directory (mode 0700, key 0600). Clients trust it through a
bundle file holding certifi's roots plus the CA, so proxied and direct TLS both keep working.
Creation is serialised with a file lock: parallel xdist workers must not race to write it.
"""

from __future__ import annotations

import contextlib
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
            from mitmproxy.certs import CertStore

            confdir.mkdir(parents=True, exist_ok=True)
            os.chmod(confdir, 0o700)
            CertStore.create_store(confdir, CA_BASENAME, 2048)
            for key_file in confdir.glob(f"{CA_BASENAME}-ca.*"):
                os.chmod(key_file, 0o600)
    return confdir


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
