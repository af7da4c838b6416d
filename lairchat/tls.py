"""TLS for the listeners: certificates loaded and checked at start, TLS 1.2 or newer.

A missing, unreadable or mismatched certificate or key stops the start with one
line naming the file; the server never falls back to plaintext. Renewed files are
picked up while the server runs by :mod:`lairchat.tlsreload`, with the same checks.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL
from twisted.internet import ssl

from lairchat.config import ConfigError


def _read(path: str, setting: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"{setting}: cannot read {path}: {e.strerror}") from None


@dataclass(frozen=True)
class CertificatePair:
    """A certificate chain and its private key, read and checked together: what one
    TLS listener serves. The PEM text is kept so that a reload can tell a file that
    was only touched (same text) from a renewal."""

    cert_pem: bytes
    key_pem: bytes
    certificate: x509.Certificate  # the leaf, first in the chain
    options: ssl.CertificateOptions

    @property
    def not_after(self) -> datetime.datetime:
        return self.certificate.not_valid_after_utc

    def describe(self) -> str:
        """What a log line names: the subject and the expiry, which tell an operator
        at a glance whether the renewed certificate is the one served."""
        expiry = self.not_after.strftime("%Y-%m-%d %H:%M UTC")
        return f"{self.certificate.subject.rfc4514_string() or 'no subject'} (expires {expiry})"


def load_pair(
    cert_path: str,
    key_path: str,
    cert_setting: str = "LAIR_TLS_CERT_PATH",
    key_setting: str = "LAIR_TLS_KEY_PATH",
    now: datetime.datetime | None = None,
) -> CertificatePair:
    """Read and check a certificate chain and its key; the OpenSSL context is built
    here, so a key that does not match fails now rather than at the first handshake.
    Errors are :class:`ConfigError` naming ``cert_setting``/``key_setting`` (where the
    paths came from). With ``now``, a certificate expired by then, or not valid yet,
    is refused too (a reload keeps the one in use rather than serve one clients
    refuse; at the start there is nothing else to serve, and the expiry warning says
    so). Blocking: a reload runs it in a
    thread."""
    cert_pem = _read(cert_path, cert_setting)
    key_pem = _read(key_path, key_setting)
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError as e:
        raise ConfigError(f"{cert_setting}: {cert_path} is not a PEM certificate ({e})") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise ConfigError(f"{key_setting}: {key_path} is not a PEM private key ({e})") from None
    if now is not None and chain[0].not_valid_after_utc <= now:
        expired = chain[0].not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
        raise ConfigError(f"{cert_setting}: the certificate in {cert_path} expired on {expired}")
    if now is not None and chain[0].not_valid_before_utc > now:
        start = chain[0].not_valid_before_utc.strftime("%Y-%m-%d %H:%M UTC")
        raise ConfigError(
            f"{cert_setting}: the certificate in {cert_path} is not valid before {start} "
            "(is this machine's clock, or the issuer's, wrong?)"
        )
    options = ssl.CertificateOptions(
        privateKey=key,
        certificate=chain[0],
        extraCertChain=chain[1:],
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
    )
    try:
        # OpenSSL 3 already refuses a mismatched key as it is set, older ones in
        # the check that follows.
        options.getContext()
    except SSL.Error:
        raise ConfigError(
            f"{key_setting}: {key_path} does not match the certificate in {cert_path}"
        ) from None
    return CertificatePair(cert_pem, key_pem, chain[0], options)


def server_context(
    cert_path: str,
    key_path: str,
    cert_setting: str = "LAIR_TLS_CERT_PATH",
    key_setting: str = "LAIR_TLS_KEY_PATH",
) -> ssl.CertificateOptions:
    """Certificate options for a TLS listener that never reloads (:func:`load_pair`)."""
    return load_pair(cert_path, key_path, cert_setting, key_setting).options


def write_dev_certificate(folder: str, days: int = 365) -> tuple[Path, Path]:
    """A self-signed certificate and key for localhost and 127.0.0.1 (development only)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out / "dev-cert.pem", out / "dev-key.pem"
    write_pem(cert, key, cert_path, key_path)
    return cert_path, key_path


def write_pem(cert: x509.Certificate, key: Any, cert_path: Path, key_path: Path) -> None:
    """Write ``cert`` and its private ``key`` as PEM files, the key readable by its
    owner only."""
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
