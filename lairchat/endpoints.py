"""The listening endpoints, from the settings: a Twisted endpoint description
(``tcp:``, ``ssl:``, ``unix:``, ``systemd:``, optionally behind ``haproxy:``) or port
plus interface, with TLS from the LAIR_TLS_* settings around any of them."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.internet.endpoints import SSL4ServerEndpoint, serverFromString
from twisted.internet.interfaces import IStreamServerEndpoint
from twisted.protocols.tls import TLSMemoryBIOFactory
from zope.interface import implementer

from lairchat import proxyprotocol
from lairchat.config import Config
from lairchat.lifecycle import StartupError
from lairchat.tlsreload import ReloadingCertificate


def endpoint(explicit: str | None, port: int, interface: str) -> str:
    if explicit:
        return explicit
    return f"tcp:{port}:interface={interface}"


def listener(
    config: Config,
    reactor: Any,
    tls: bool,
    explicit: str | None,
    port: int,
    setting: str,
    certificates: ReloadingCertificate | None = None,
) -> Any:
    """A listening endpoint: an explicit endpoint description, or TCP on ``port`` at
    the configured interface; wrapped in TLS when ``tls`` (the LAIR_TLS_* settings),
    serving ``certificates`` (when not given, made from the settings and read once:
    only a started :func:`certificates_from` checks for renewals).

    An explicit ``haproxy:`` prefix reads a PROXY protocol header first (see
    :mod:`lairchat.proxyprotocol`); with TLS on, the header comes before the handshake.
    """
    if tls and explicit is None:
        certificates = certificates or certificates_from(config, reactor)
        return SSL4ServerEndpoint(reactor, port, certificates, interface=config.interface)
    description = endpoint(explicit, port, config.interface)
    proxied = description.startswith(proxyprotocol.PREFIX)
    if proxied:
        description = description[len(proxyprotocol.PREFIX) :]
    if tls and description.startswith("ssl:"):
        raise StartupError(
            f"{setting}: an ssl: endpoint does TLS itself; use a plain endpoint with the"
            " LAIR_TLS_* settings, or the ssl: endpoint without them"
        )
    result = serverFromString(reactor, description)
    if proxied:
        # Ours, not Twisted's wrapper for the same prefix: see lairchat.proxyprotocol.
        result = proxyprotocol.ProxyHeaderEndpoint(result, reactor)
    if tls:
        # Any endpoint (a systemd socket, a Unix socket, ...) can carry TLS.
        result = TLSEndpoint(result, certificates or certificates_from(config, reactor))
    return result


def certificates_from(config: Config, reactor: Any) -> ReloadingCertificate:
    """The listeners' certificate, read now and checked for renewals while it runs
    as a service; an error names where the file's path came from."""
    return ReloadingCertificate(
        config.tls_cert_path,
        config.tls_key_path,
        reactor,
        config.tls_reload_interval,
        config.source("tls_cert_path"),
        config.source("tls_key_path"),
    )


@implementer(IStreamServerEndpoint)
class TLSEndpoint:
    """``endpoint`` with TLS on every connection, from ``context`` (a connection
    creator: :class:`ReloadingCertificate` serves renewed certificates)."""

    def __init__(self, endpoint: Any, context: Any):
        self.endpoint = endpoint
        self.context = context

    def listen(self, factory: Any) -> defer.Deferred:
        return self.endpoint.listen(TLSMemoryBIOFactory(self.context, False, factory))


def http_listener(
    config: Config, reactor: Any, certificates: ReloadingCertificate | None = None
) -> Any:
    """The HTTP port: HTTPS (and so WSS) when TLS is enabled."""
    return listener(
        config,
        reactor,
        config.tls_enabled,
        config.http_endpoint,
        config.http_port,
        "LAIR_HTTP_ENDPOINT",
        certificates,
    )


def tcp_listener(
    config: Config, reactor: Any, certificates: ReloadingCertificate | None = None
) -> Any:
    """The real-time TCP port: TLS only with LAIR_TCP_TLS (the original never had it)."""
    return listener(
        config,
        reactor,
        config.tcp_tls,
        config.tcp_endpoint,
        config.tcp_port,
        "LAIR_TCP_ENDPOINT",
        certificates,
    )
