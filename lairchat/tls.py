"""TLS for the listeners: certificates loaded and checked at start, TLS 1.2 or newer.

A missing, unreadable or mismatched certificate or key stops the start with one
line naming the file; the server never falls back to plaintext.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL
from twisted.internet import ssl

from lairchat.config import ConfigError


def _read(path: str, setting: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"{setting}: cannot read {path}: {e.strerror}") from None


def server_context(
    cert_path: str,
    key_path: str,
    cert_setting: str = "LAIR_TLS_CERT_PATH",
    key_setting: str = "LAIR_TLS_KEY_PATH",
) -> ssl.CertificateOptions:
    """Certificate options for a TLS listener, checked now rather than at first handshake.
    Errors name ``cert_setting``/``key_setting``: where the paths came from."""
    cert_pem = _read(cert_path, cert_setting)
    key_pem = _read(key_path, key_setting)
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError as e:
        raise ConfigError(f"{cert_setting}: {cert_path} is not a PEM certificate ({e})") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{key_setting}: {key_path} is not a PEM private key ({e})") from None
    check = SSL.Context(SSL.TLS_SERVER_METHOD)
    check.use_certificate(chain[0])
    try:
        # OpenSSL 3 already refuses a mismatched key here, older ones in the check.
        check.use_privatekey(key)
        check.check_privatekey()
    except SSL.Error:
        raise ConfigError(
            f"{key_setting}: {key_path} does not match the certificate in {cert_path}"
        ) from None
    return ssl.CertificateOptions(
        privateKey=key,
        certificate=chain[0],
        extraCertChain=chain[1:],
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
    )


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
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
