"""The PROXY protocol (v1 and v2) in front of a listener: the client's real address
from a TCP proxy such as nginx's ``stream`` module (``proxy_protocol on``) or HAProxy
(``send-proxy``, ``send-proxy-v2``).

``LAIR_TCP_ENDPOINT=haproxy:tcp:9080:interface=127.0.0.1`` selects it (the prefix is
Twisted's own syntax). Twisted's wrapper for that prefix connects the protocol before
the header has arrived, so a protocol that speaks first and notes its peer on
connecting, as the TCP real-time protocol does (log line, rate-limit key,
``server_hello``), would see the proxy's address. Here the protocol is built and
connected only once the header is read; a connection whose header is missing, bad or
late (:data:`HEADER_TIMEOUT`) is dropped without reaching it. Every connection to such
a port must come through the proxy: bind it to loopback.

The spec: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Any

from twisted.internet import interfaces
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper
from zope.interface import implementer

PREFIX = "haproxy:"
#: Seconds a new connection has to deliver its PROXY header.
HEADER_TIMEOUT = 10.0
V1_START = b"PROXY "
V1_MAX = 107  # the longest v1 line, CRLF included
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
_V2_HEAD = struct.Struct("!12sBBH")
_PORTS = struct.Struct("!HH")


class BadHeader(ValueError):
    """Not a PROXY protocol header we accept."""


def parse(data: bytes) -> tuple[Any, bytes] | None:
    """``(source address or None, the bytes after the header)``, or None while the
    header is incomplete. ``None`` as address: the proxy says "use the connection's
    own" (v1 ``UNKNOWN``, v2 ``LOCAL`` or a family we do not map). Raises BadHeader."""
    if len(data) < len(V2_SIGNATURE) and V2_SIGNATURE.startswith(data):
        return None
    if data.startswith(V2_SIGNATURE):
        return _parse_v2(data)
    if len(data) < len(V1_START) and V1_START.startswith(data):
        return None
    if data.startswith(V1_START):
        return _parse_v1(data)
    raise BadHeader("no PROXY protocol header")


def _parse_v1(data: bytes) -> tuple[Any, bytes] | None:
    end = data.find(b"\r\n")
    if end < 0:
        if len(data) >= V1_MAX:
            raise BadHeader("v1 header too long")
        return None
    if end + 2 > V1_MAX:
        raise BadHeader("v1 header too long")
    line, rest = data[:end].decode("ascii", "replace"), data[end + 2 :]
    fields = line.split(" ")
    if len(fields) >= 2 and fields[1] == "UNKNOWN":
        return None, rest
    if len(fields) != 6 or fields[1] not in ("TCP4", "TCP6"):
        raise BadHeader(f"bad v1 header {line[:40]!r}")
    _, family, source, _destination, source_port, _destination_port = fields
    try:
        ip = ipaddress.ip_address(source)
        port = int(source_port)
    except ValueError:
        raise BadHeader(f"bad v1 address in {line[:60]!r}") from None
    if ip.version != (4 if family == "TCP4" else 6) or not 0 <= port <= 65535:
        raise BadHeader(f"bad v1 address in {line[:60]!r}")
    return _address(ip, port), rest


def _parse_v2(data: bytes) -> tuple[Any, bytes] | None:
    if len(data) < _V2_HEAD.size:
        return None
    _, version_command, family, length = _V2_HEAD.unpack_from(data)
    if version_command >> 4 != 2:
        raise BadHeader("PROXY v2 header of an unknown version")
    end = _V2_HEAD.size + length
    if len(data) < end:
        return None
    body, rest = data[_V2_HEAD.size : end], data[end:]
    command = version_command & 0x0F
    if command == 0x0:  # LOCAL: the proxy's own connection (health checks)
        return None, rest
    if command != 0x1:
        raise BadHeader("PROXY v2 header with an unknown command")
    if family == 0x11 and len(body) >= 12:  # TCP over IPv4
        ip: Any = ipaddress.IPv4Address(body[:4])
        (port, _) = _PORTS.unpack_from(body, 8)
    elif family == 0x21 and len(body) >= 36:  # TCP over IPv6
        ip = ipaddress.IPv6Address(body[:16])
        (port, _) = _PORTS.unpack_from(body, 32)
    else:
        return None, rest  # UDP, Unix, unspecified: keep the connection's own
    return _address(ip, port), rest


def _address(ip: Any, port: int) -> Any:
    if ip.version == 4:
        return IPv4Address("TCP", str(ip), port)
    return IPv6Address("TCP", str(ip), port)


class ProxyHeaderProtocol(ProtocolWrapper):
    """Reads the header, then builds the real protocol with the client's address and
    connects it to this wrapper (whose ``getPeer`` answers that address)."""

    log = Logger()

    def __init__(self, factory: ProxyHeaderFactory, address: Any):
        super().__init__(factory, None)
        self.address = address
        self._buffer = b""
        self._peer: Any = None
        self._timeout: Any = None
        self._refused = False

    def makeConnection(self, transport: Any) -> None:  # noqa: N802
        Protocol.makeConnection(self, transport)
        self.factory.registerProtocol(self)
        self._timeout = self.factory.clock.callLater(
            self.factory.header_timeout, self._refuse, "no PROXY header in time"
        )

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        if self.wrappedProtocol is not None:
            self.wrappedProtocol.dataReceived(data)
            return
        if self._refused:
            return
        self._buffer += data
        try:
            parsed = parse(self._buffer)
        except BadHeader as e:
            self._refuse(str(e))
            return
        if parsed is None:
            return
        self._cancel_timeout()
        source, rest = parsed
        self._buffer = b""
        self._peer = source
        protocol = self.factory.wrappedFactory.buildProtocol(self.getPeer())
        if protocol is None:
            self.transport.loseConnection()
            return
        self.wrappedProtocol = protocol
        protocol.makeConnection(self)
        if rest:
            protocol.dataReceived(rest)

    def getPeer(self) -> Any:  # noqa: N802
        return self._peer if self._peer is not None else self.transport.getPeer()

    def _refuse(self, reason: str) -> None:
        self._cancel_timeout()
        self._refused = True
        self.log.info(
            "connection from {peer} dropped: {reason}",
            peer=self.transport.getPeer(),
            reason=reason,
        )
        self.transport.abortConnection()

    def _cancel_timeout(self) -> None:
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
        self._timeout = None

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802
        self._cancel_timeout()
        self.factory.unregisterProtocol(self)
        if self.wrappedProtocol is not None:
            self.wrappedProtocol.connectionLost(reason)
            self.wrappedProtocol = None


class ProxyHeaderFactory(Factory):
    """Wraps ``wrappedFactory``: its protocols see the proxied client as their peer."""

    protocol = ProxyHeaderProtocol

    def __init__(self, wrappedFactory: Any, clock: Any, header_timeout: float = HEADER_TIMEOUT):  # noqa: N803
        self.wrappedFactory = wrappedFactory
        self.clock = clock
        self.header_timeout = header_timeout
        self.protocols: set[ProxyHeaderProtocol] = set()

    def buildProtocol(self, addr: Any) -> ProxyHeaderProtocol:  # noqa: N802
        return self.protocol(self, addr)

    def registerProtocol(self, protocol: ProxyHeaderProtocol) -> None:  # noqa: N802
        self.protocols.add(protocol)

    def unregisterProtocol(self, protocol: ProxyHeaderProtocol) -> None:  # noqa: N802
        self.protocols.discard(protocol)

    def doStart(self) -> None:  # noqa: N802
        self.wrappedFactory.doStart()
        super().doStart()

    def doStop(self) -> None:  # noqa: N802
        self.wrappedFactory.doStop()
        super().doStop()

    def logPrefix(self) -> str:  # noqa: N802
        inner = self.wrappedFactory
        name = inner.logPrefix() if hasattr(inner, "logPrefix") else type(inner).__name__
        return f"{name} (PROXY)"


@implementer(interfaces.IStreamServerEndpoint)
class ProxyHeaderEndpoint:
    """``endpoint``, every connection of which starts with a PROXY header."""

    def __init__(self, endpoint: Any, clock: Any, header_timeout: float = HEADER_TIMEOUT):
        self.endpoint = endpoint
        self.clock = clock
        self.header_timeout = header_timeout

    def listen(self, factory: Any) -> Any:
        return self.endpoint.listen(ProxyHeaderFactory(factory, self.clock, self.header_timeout))
