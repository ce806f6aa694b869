"""The proxy's CA: an elliptic-curve key made once per user, which mitmproxy loads without the
RSA key check that cost every proxy start ~40 ms; a CA made by an earlier version is kept."""

from __future__ import annotations

import stat
import subprocess

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from servers import make_self_signed, start_origin

from pytest_streamreplay.harness import runtime, use_cassette
from pytest_streamreplay.proxy.ca import CA_BASENAME, ensure_ca


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMREPLAY_CACHE_DIR", str(tmp_path / "cache"))
    runtime().stop()  # the next proxy() starts with this cache's CA
    yield tmp_path / "cache"
    runtime().stop()


def _key_and_cert(confdir):
    raw = (confdir / f"{CA_BASENAME}-ca.pem").read_bytes()
    key = serialization.load_pem_private_key(raw, None)
    cert = x509.load_pem_x509_certificate(raw)
    return key, cert


def test_a_new_ca_is_a_p256_signing_authority_kept_private(tmp_path) -> None:
    confdir = ensure_ca(tmp_path / "ca")
    key, cert = _key_and_cert(confdir)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert cert.public_key() == key.public_key()
    assert (confdir / f"{CA_BASENAME}-ca-cert.pem").read_bytes() == cert.public_bytes(
        serialization.Encoding.PEM
    )
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert constraints.critical and constraints.value.ca
    assert usage.key_cert_sign and usage.crl_sign
    assert cert.subject == cert.issuer  # self-signed: clients trust it through the bundle
    assert stat.S_IMODE((confdir / f"{CA_BASENAME}-ca.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE(confdir.stat().st_mode) == 0o700
    assert ensure_ca(confdir) == confdir and _key_and_cert(confdir)[1] == cert  # made once


def test_an_existing_rsa_ca_is_kept(tmp_path) -> None:
    """Users may have installed the old CA somewhere: it is not replaced behind their back."""
    from mitmproxy.certs import CertStore

    confdir = tmp_path / "ca"
    CertStore.create_store(confdir, CA_BASENAME, 2048)
    before = (confdir / f"{CA_BASENAME}-ca.pem").read_bytes()
    ensure_ca(confdir)
    assert (confdir / f"{CA_BASENAME}-ca.pem").read_bytes() == before
    assert isinstance(_key_and_cert(confdir)[0], rsa.RSAPrivateKey)


def test_tls_clients_accept_the_certificates_the_ec_ca_signs(cache, tmp_path) -> None:
    """mitmproxy signs each host's certificate with the CA's key: httpx (Python's ssl) and curl
    (its own TLS library) both verify the chain through the bundle they are given."""
    cert, key = make_self_signed(tmp_path)
    origin = start_origin(cert, key)
    try:
        with use_cassette(tmp_path / "c.jsonl", record_mode="all", upstream_ca=cert) as handle:
            assert httpx.get(origin.url + "/httpx").status_code == 200
            curl = subprocess.run(
                ["curl", "-sS", "-m", "10", origin.url + "/curl"],
                capture_output=True,
                check=False,
            )
    finally:
        origin.stop()
    assert curl.returncode == 0, curl.stderr
    assert isinstance(_key_and_cert(cache / "ca")[0], ec.EllipticCurvePrivateKey)
    assert [i.request.url.rsplit("/", 1)[1] for i in handle.interactions] == ["httpx", "curl"]
