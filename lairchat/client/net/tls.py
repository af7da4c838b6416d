"""TLS for ``https://`` and ``wss://``: verified by default, or not at all on request.

Verification uses Twisted's ``optionsForClientTLS`` (platform trust store, host name
checked by service-identity). ``--insecure`` exists, as in the original client, for
servers with self-signed development certificates (``lairchat certs dev``).
"""

from __future__ import annotations

from typing import Any

from twisted.internet import ssl
from twisted.web.client import BrowserLikePolicyForHTTPS
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

__all__ = ["client_tls", "http_tls_policy"]


def client_tls(hostname: str, insecure: bool) -> Any:
    """Connection options for one TLS client connection to ``hostname``."""
    if insecure:
        return ssl.CertificateOptions(verify=False)
    return ssl.optionsForClientTLS(hostname)


@implementer(IPolicyForHTTPS)
class _InsecurePolicy:
    """Accept any certificate (the user asked for it with ``--insecure``)."""

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        return ssl.CertificateOptions(verify=False)


def http_tls_policy(insecure: bool) -> IPolicyForHTTPS:
    """The policy for treq's agent."""
    return _InsecurePolicy() if insecure else BrowserLikePolicyForHTTPS()
