"""Which address a request comes from, believing proxy headers only from trusted proxies.

Shared by the HTTP rate limiter and the WebSocket adapter, so a client address is
derived one way everywhere (logs and rate-limit keys agree).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

#: The host of every Unix socket peer; in LAIR_TRUSTED_PROXIES, trusts them.
UNIX_PEER = "unix"


def peer_host(address: Any) -> str:
    """The host of a transport address; ``unix`` for a Unix socket peer."""
    host = getattr(address, "host", None)
    return host if isinstance(host, str) else UNIX_PEER


def host_and_peer(address: Any) -> tuple[str, str]:
    """A socket peer's host (the rate-limit key), as :func:`peer_host` gives it to
    HTTP, and ``host:port`` (for logs; ``unix`` alone for a Unix socket peer)."""
    host = peer_host(address)
    port = getattr(address, "port", None)
    return host, host if port is None else f"{host}:{port}"


def without_port(hop: str) -> str:
    """A forwarded address without the port some proxies write after it
    (``192.0.2.7:4711``, ``[2001:db8::7]:4711``): counted with it, a client would have
    a rate-limit and lockout key of its own per connection."""
    if hop.startswith("["):
        end = hop.find("]")
        return hop[1:end] if end > 0 else hop
    if hop.count(":") == 1:
        return hop.partition(":")[0]
    return hop


#: The headers a trusted proxy may name its client in (``LAIR_FORWARDED_HEADER``).
FORWARDED_FOR = "x-forwarded-for"
REAL_IP = "x-real-ip"
FORWARDED_HEADERS = (FORWARDED_FOR, REAL_IP)


class ProxyPolicy:
    """Which peers are trusted proxies, and which of their headers names the client.

    ``header`` None (the default) reads ``X-Forwarded-For`` and, only when a request
    has none, ``X-Real-IP``. Naming one header reads that one alone: a proxy that
    sets ``X-Real-IP`` but passes the client's own ``X-Forwarded-For`` through
    unchanged would otherwise let every client choose its rate-limit and lockout key
    (or frame another address) by writing the header it likes."""

    def __init__(self, trusted: Iterable[str] = (), header: str | None = None):
        if header not in (None, *FORWARDED_HEADERS):
            raise ValueError(f"header must be one of {', '.join(FORWARDED_HEADERS)}")
        self.header = header
        trusted = tuple(trusted)
        #: Whether a proxy on a Unix socket is trusted (``unix`` in the list): every
        #: client behind it would otherwise be one client, ``unix``.
        self.unix = UNIX_PEER in trusted
        networks = (p for p in trusted if p != UNIX_PEER)
        self.trusted = tuple(ipaddress.ip_network(p, strict=False) for p in networks)

    def is_trusted(self, address: str) -> bool:
        """Whether ``address`` is in a trusted network (``unix``: a Unix socket peer,
        if trusted); an IPv4-mapped IPv6 address (``::ffff:127.0.0.1``: how a listener
        on ``::`` sees an IPv4 peer) as its IPv4 address, as ``address_key`` counts
        it."""
        if address == UNIX_PEER:
            return self.unix
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        mapped = getattr(ip, "ipv4_mapped", None)
        if mapped is not None:
            ip = mapped
        return any(ip in network for network in self.trusted)

    def client_host(
        self, peer_host: str, forwarded_for: str | None, real_ip: str | None = None
    ) -> str:
        """``peer_host``, or, when the peer is a trusted proxy, the nearest untrusted
        hop of ``X-Forwarded-For`` (else ``X-Real-IP``). Headers from anyone else are
        ignored: they are trivially forged."""
        if not (self.trusted or self.unix) or not self.is_trusted(peer_host):
            return peer_host
        hops = [without_port(h.strip()) for h in (forwarded_for or "").split(",") if h.strip()]
        for hop in reversed(hops):
            if not self.is_trusted(hop):
                return hop
        if hops:
            return hops[0]
        # One address; sent on several lines, the last (as for one HTTP header).
        return without_port((real_ip or "").rsplit(",", 1)[-1].strip()) or peer_host

    @classmethod
    def from_config(cls, config: Any) -> ProxyPolicy:
        """The policy ``config`` asks for (``trusted_proxies``, ``forwarded_header``),
        with the defaults for what it lacks."""
        header = getattr(config, "forwarded_header", None)
        return cls(getattr(config, "trusted_proxies", ()), header)

    def client_of(self, peer_host: str, header: Callable[[str], str | None]) -> str:
        """:meth:`client_host` of a request whose headers ``header(name)`` reads (by
        lowercase name): the one way every transport reads the proxy headers."""
        forwarded = header(FORWARDED_FOR) if self.header != REAL_IP else None
        real_ip = header(REAL_IP) if self.header != FORWARDED_FOR else None
        return self.client_host(peer_host, forwarded, real_ip)

    def client_of_request(self, request: Any) -> str:
        """The client's address for an HTTP request: for logs, rate limits and the
        login lockout alike. A header sent on several lines counts whole, as one
        list (``getHeader`` would give its last line only; Autobahn joins them)."""
        headers = request.requestHeaders

        def header(name: str) -> str | None:
            lines = headers.getRawHeaders(name)
            return ", ".join(lines) if lines else None

        return self.client_of(peer_host(request.getClientAddress()), header)
