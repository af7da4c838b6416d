"""The PROXY protocol header in front of a listener (``haproxy:`` endpoints)."""

from __future__ import annotations

import socket
import struct
from typing import Any

import pytest
from twisted.internet import protocol, task
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.testing import StringTransport

from lairchat.proxyprotocol import (
    V2_SIGNATURE,
    BadHeader,
    ProxyHeaderEndpoint,
    ProxyHeaderFactory,
    parse,
)

V1 = b"PROXY TCP4 198.51.100.7 192.0.2.1 40000 8080\r\n"


def v2(command: int = 1, family: int = 0x11, body: bytes | None = None) -> bytes:
    if body is None:
        body = socket.inet_aton("198.51.100.7") + socket.inet_aton("192.0.2.1")
        body += struct.pack("!HH", 40000, 8080)
    return V2_SIGNATURE + struct.pack("!BBH", 0x20 | command, family, len(body)) + body


# -- parsing ------------------------------------------------------------------------------


def test_v1_tcp4() -> None:
    assert parse(V1 + b"rest") == (IPv4Address("TCP", "198.51.100.7", 40000), b"rest")


def test_v1_tcp6() -> None:
    line = b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 8080\r\n"
    assert parse(line) == (IPv6Address("TCP", "2001:db8::7", 40000), b"")


def test_v1_unknown_keeps_the_connections_address() -> None:
    assert parse(b"PROXY UNKNOWN\r\nhello") == (None, b"hello")


def test_v2_tcp4_and_tcp6() -> None:
    assert parse(v2() + b"x") == (IPv4Address("TCP", "198.51.100.7", 40000), b"x")
    body = socket.inet_pton(socket.AF_INET6, "2001:db8::7")
    body += socket.inet_pton(socket.AF_INET6, "2001:db8::1") + struct.pack("!HH", 5, 6)
    assert parse(v2(family=0x21, body=body)) == (IPv6Address("TCP", "2001:db8::7", 5), b"")


def test_v2_local_and_other_families_keep_the_connections_address() -> None:
    assert parse(v2(command=0, body=b"")) == (None, b"")
    assert parse(v2(family=0x31, body=b"\0" * 216)) == (None, b"")  # AF_UNIX


@pytest.mark.parametrize("header", [V1, v2()])
def test_incomplete_headers_wait(header: bytes) -> None:
    for size in range(len(header)):
        assert parse(header[:size]) is None


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\n",
        b"PROXY TCP4 198.51.100.7 192.0.2.1 40000\r\n",
        b"PROXY TCP4 2001:db8::7 192.0.2.1 40000 8080\r\n",
        b"PROXY TCP4 198.51.100.7 192.0.2.1 99999 8080\r\n",
        b"PROXY TCP4 " + b"1" * 120,
        V2_SIGNATURE + bytes([0x31, 0x11, 0, 0]),  # version 3
        V2_SIGNATURE + bytes([0x22, 0x11, 0, 0]),  # command 2
    ],
)
def test_bad_headers(data: bytes) -> None:
    with pytest.raises(BadHeader):
        parse(data)


# -- the wrapper ----------------------------------------------------------------------------


class Recorder(protocol.Protocol):
    def __init__(self, factory: Any):
        self.factory = factory
        self.peer: Any = None
        self.data = b""
        self.lost = False

    def connectionMade(self) -> None:  # noqa: N802
        self.peer = self.transport.getPeer()
        self.transport.write(b"hello")  # speaks first, like server_hello

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        self.data += data

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802
        self.lost = True


class RecorderFactory(protocol.Factory):
    def __init__(self, refuse: bool = False):
        self.built: list[Recorder] = []
        self.addresses: list[Any] = []
        self.refuse = refuse

    def buildProtocol(self, addr: Any) -> Recorder | None:  # noqa: N802
        self.addresses.append(addr)
        if self.refuse:
            return None
        built = Recorder(self)
        self.built.append(built)
        return built


def connect(inner: RecorderFactory, clock: task.Clock) -> tuple[Any, StringTransport]:
    factory = ProxyHeaderFactory(inner, clock, header_timeout=10)
    proxy_address = IPv4Address("TCP", "127.0.0.1", 55555)
    wrapper = factory.buildProtocol(proxy_address)
    transport = StringTransport(peerAddress=proxy_address)
    wrapper.makeConnection(transport)
    return wrapper, transport


def test_the_protocol_starts_only_after_the_header() -> None:
    inner, clock = RecorderFactory(), task.Clock()
    wrapper, transport = connect(inner, clock)
    assert inner.built == [] and transport.value() == b""
    wrapper.dataReceived(V1[:10])
    assert inner.built == []
    wrapper.dataReceived(V1[10:] + b"first frame")
    [recorder] = inner.built
    client = IPv4Address("TCP", "198.51.100.7", 40000)
    assert inner.addresses == [client]
    assert recorder.peer == client
    assert recorder.data == b"first frame"
    assert transport.value() == b"hello"
    wrapper.dataReceived(b" more")
    assert recorder.data == b"first frame more"
    assert not clock.getDelayedCalls()
    wrapper.connectionLost(None)
    assert recorder.lost


def test_a_missing_header_times_out() -> None:
    inner, clock = RecorderFactory(), task.Clock()
    wrapper, transport = connect(inner, clock)
    clock.advance(10)
    assert transport.disconnecting or getattr(transport, "disconnected", False)
    assert inner.built == []


def test_a_bad_header_drops_the_connection() -> None:
    inner, clock = RecorderFactory(), task.Clock()
    wrapper, transport = connect(inner, clock)
    wrapper.dataReceived(b"GET / HTTP/1.1\r\n\r\n")
    assert transport.disconnecting or getattr(transport, "disconnected", False)
    assert inner.built == []
    assert not clock.getDelayedCalls()


def test_lost_before_the_header() -> None:
    inner, clock = RecorderFactory(), task.Clock()
    wrapper, _ = connect(inner, clock)
    wrapper.connectionLost(None)
    assert inner.built == [] and not clock.getDelayedCalls()


def test_a_refusing_factory_closes_the_connection() -> None:
    inner, clock = RecorderFactory(refuse=True), task.Clock()
    wrapper, transport = connect(inner, clock)
    wrapper.dataReceived(V1)
    assert transport.disconnecting


def test_endpoint_wraps_the_factory() -> None:
    listened: list[Any] = []

    class Endpoint:
        def listen(self, factory: Any) -> Any:
            listened.append(factory)
            return "port"

    inner = RecorderFactory()
    assert ProxyHeaderEndpoint(Endpoint(), task.Clock()).listen(inner) == "port"
    assert isinstance(listened[0], ProxyHeaderFactory)
    assert listened[0].wrappedFactory is inner
