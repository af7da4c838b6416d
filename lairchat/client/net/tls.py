"""TLS for ``https://``, ``wss://`` and ``--tls``: one choice of trusted certificates.

Every transport verifies the server the same way, so that a user who trusts a CA for
the REST API trusts the same CA for the real-time connection, and nothing more:

- by default, the platform's CA store (Twisted's ``optionsForClientTLS``), host name
  checked by service-identity;
- ``--ca-file PATH``: only the CAs in that PEM bundle, host name still checked. That is
  what a self-hosted server with a private CA needs (the self-signed certificate of
  ``lairchat certs dev`` is its own CA, so it works too);
- ``--insecure``: nothing is verified, as in the original client.

The bundle is read once, at start, so a bad file stops the client there with one
line rather than failing later at the login.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from twisted.internet import ssl
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from lairchat.client.net.errors import UNTRUSTED, network_reason

__all__ = ["SYSTEM_TRUST", "Trust", "load_trust"]


@dataclass(frozen=True)
class Trust:
    """Which server certificates the client accepts, on every transport alike."""

    insecure: bool = False
    #: The PEM bundle the CAs came from ("" for the platform's store).
    ca_file: str = ""
    #: The CAs of ``ca_file`` (an ``IOpenSSLTrustRoot``), None for the platform's.
    roots: Any = field(default=None, compare=False, repr=False)

    def client_tls(self, hostname: str) -> Any:
        """Connection options for one TLS client connection to ``hostname``."""
        if self.insecure:
            return ssl.CertificateOptions(verify=False)
        return ssl.optionsForClientTLS(hostname, trustRoot=self.roots)

    def http_policy(self) -> IPolicyForHTTPS:
        """The same trust for treq's agent."""
        return _Policy(self)

    def reason(self, exc: BaseException) -> str:
        """:func:`network_reason`, naming the CAs that were trusted when they could
        not verify the server's certificate."""
        untrusted = (
            f"the server's TLS certificate cannot be verified against the CAs in {self.ca_file}"
            if self.ca_file
            else UNTRUSTED
        )
        return network_reason(exc, untrusted)


#: The default: the platform's CA store.
SYSTEM_TRUST = Trust()


@implementer(IPolicyForHTTPS)
class _Policy:
    """A ``BrowserLikePolicyForHTTPS`` that takes its trust from a :class:`Trust`."""

    def __init__(self, trust: Trust) -> None:
        self._trust = trust

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        return self._trust.client_tls(hostname.decode("ascii"))


def load_trust(*, insecure: bool = False, ca_file: str | None = None) -> Trust:
    """The trust the options ask for. Raises ``ValueError`` with one line for the user
    when ``ca_file`` cannot be read, holds no PEM certificate, or comes with
    ``insecure`` (verify against a CA, and verify nothing: one must give)."""
    if ca_file is None:
        return Trust(insecure=insecure)
    if insecure:
        raise ValueError(
            "--ca-file and --insecure contradict each other: "
            "verify the server against that CA, or verify nothing"
        )
    return Trust(ca_file=ca_file, roots=_read_roots(ca_file))


def _read_roots(path: str) -> Any:
    """Every certificate of a PEM bundle, as a Twisted trust root."""
    try:
        pem = Path(path).read_bytes()
    except OSError as e:
        raise ValueError(f"--ca-file: cannot read {path}: {e.strerror}") from None
    try:
        certificates = x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise ValueError(f"--ca-file: {path} holds no PEM certificate") from None
    return ssl.trustRootFromCertificates(
        [ssl.Certificate.loadPEM(c.public_bytes(Encoding.PEM)) for c in certificates]
    )
