"""The TCP adapter (PROTOCOL.md §1): framing, size limits, flow control, connection cap.

Protocols are driven in memory over ``StringTransport`` with a ``task.Clock``; the
session behind them is the real one on a whole core (see ``test_session.py`` for
what the frames mean).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import orjson
import pytest
from twisted.internet import protocol, ssl
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.testing import StringTransport
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.test.iosim import connectedServerAndClient

from lairchat.core import passwords
from lairchat.realtime.session import State
from lairchat.testing import MemoryTCPClient, MemoryTCPServer, split_frames
from lairchat.tls import server_context, write_dev_certificate
from lairchat.transports.backpressure import HARD_BACKLOG, MAX_BACKLOG, MAX_FRAME, SLOW_GRACE
from lairchat.transports.caps import PerAddress, Refused
from lairchat.transports.http.testing import CHEAP_HASHER
from lairchat.transports.proxies import peer_host
from lairchat.transports.tcp import LairTCPProtocol

PREFIX = struct.Struct("!I")
PASSWORD = "password1"


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)


def frame(payload: bytes) -> bytes:
    return PREFIX.pack(len(payload)) + payload


def jframe(obj: dict[str, Any]) -> bytes:
    return frame(orjson.dumps(obj))


# The shared in-memory harness: a core and TCP factory on a fake clock, and
# client-side connections that read (and decrypt) what the server writes.
Server = MemoryTCPServer
Conn = MemoryTCPClient


@pytest.fixture
def server() -> Server:
    return Server()


HELLO = jframe({"type": "client_hello", "version": "1.0"})


# --------------------------------------------------------------------------- framing


def test_connection_setup(server: Server) -> None:
    conn = server.connect()
    # The peer as the transport reports it (MemoryTCPClient numbers its ports).
    host, port = conn.transport.getPeer().host, conn.transport.getPeer().port
    assert host == "127.0.0.1" and conn.proto.peer == f"127.0.0.1:{port}"
    assert conn.transport.producer is conn.proto and conn.transport.streaming is True
    assert server.factory.open == {conn.proto}
    conn.drop()
    assert server.factory.open == set()


def test_a_unix_socket_peer_has_the_address_http_gives_it(server: Server) -> None:
    """Behind a proxy on a Unix socket, the rate limits and the login lockout key a
    client as HTTP does ("unix"), so that one window is shared, not one per transport."""
    address = UNIXAddress(None)
    proto = server.factory.buildProtocol(address)
    proto.makeConnection(StringTransport(peerAddress=address))
    assert (proto.host, proto.peer) == (peer_host(address), "unix")


def test_frames_delivered_one_byte_at_a_time(server: Server) -> None:
    conn = server.connect()
    data = HELLO + jframe({"type": "authenticate", "token": server.account("alice").token})
    data += jframe({"type": "ping"})
    for i in range(len(data) - 1):
        conn.send_raw(data[i : i + 1])
        if i < len(data) - 2:
            # Nothing is answered before a frame is complete (the last one is the ping).
            assert conn.types() in ([], ["authenticate_response"])
    assert conn.types() == []
    conn.send_raw(data[-1:])
    assert conn.types() == ["pong"]
    assert conn.proto.session.state is State.AUTHENTICATED


def test_coalesced_frames_are_handled_in_order(server: Server) -> None:
    conn = server.connect()
    data = b"".join(
        [
            HELLO,
            jframe({"type": "authenticate", "token": server.account("alice").token}),
            jframe({"type": "ping"}),
            frame(b"[]"),
            jframe({"type": "list_rooms", "request_id": "x"}),
            jframe({"type": "get_current_user"})[:7],  # and the start of the next one
        ]
    )
    conn.send_raw(data)
    assert conn.types() == ["authenticate_response", "pong", "error", "list_rooms_response"]
    conn.send_raw(jframe({"type": "get_current_user"})[7:])
    assert conn.types() == ["get_current_user_response"]


def test_frames_after_a_close_in_the_same_chunk_are_ignored(server: Server) -> None:
    conn = server.connect()
    conn.send_raw(jframe({"type": "client_hello", "version": "2.0"}) + jframe({"type": "ping"}))
    assert [(f["type"], f.get("code")) for f in conn.frames()] == [("error", "version_mismatch")]
    assert conn.closed


@pytest.mark.parametrize("length", [MAX_FRAME + 1, 2**31, 2**32 - 1])
def test_oversized_length_prefix_aborts_without_a_frame(server: Server, length: int) -> None:
    conn = server.connect()
    conn.send_raw(HELLO)
    conn.send_raw(PREFIX.pack(length) + b"{}")
    assert conn.aborted
    assert conn.raw_frames() == []
    conn.send_raw(jframe({"type": "ping"}))
    assert conn.raw_frames() == []


def test_a_frame_of_exactly_one_mebibyte_is_accepted(server: Server) -> None:
    conn = server.connect()
    payload = b'{"type":"ping"}'
    conn.send_raw(frame(payload + b" " * (MAX_FRAME - len(payload))))
    assert conn.types() == ["pong"]
    assert not conn.closed


def test_invalid_utf8_closes_without_an_error_frame(server: Server) -> None:
    bob = server.login("bob")
    alice = server.login("alice")
    bob.frames()
    alice.send_raw(frame(b'{"type":"ping","x":"\xc3\x28"}'))
    assert alice.raw_frames() == []
    assert alice.closed and not alice.aborted
    assert alice.proto.session.state is State.CLOSING
    assert bob.types() == ["user_offline"]


INVALID = [
    (b"", "Invalid JSON: EOF while parsing a value at line 1 column 0"),
    (b"{", None),
    (b"{'type': 'ping'}", None),
    (b"[]", "Invalid JSON: invalid type: a sequence, expected a JSON object"),
    (b'"ping"', None),
    (b"null", None),
    (b"42", None),
    (b'{"type":"nope"}', "Invalid JSON: unknown variant `nope`"),
    (b'{"version":"1.0"}', "Invalid JSON: missing field `type`"),
    (b'{"type":5}', None),
    (b'{"type":"client_hello"}', "Invalid JSON: missing field `version`"),
    (b'{"type":"client_hello","version":1}', None),
    (b'{"type":"client_hello","version":"1.0","features":"encryption"}', None),
    (b"[" * 100_000 + b"]" * 100_000, None),
    (b'{"a":' * 64 + b"1" + b"}" * 64, None),
    (b'{"type":"ping"}{"type":"ping"}', None),
]


@pytest.mark.parametrize(("payload", "message"), INVALID, ids=range(len(INVALID)))
def test_invalid_frames_get_invalid_message_and_the_connection_stays(
    server: Server, payload: bytes, message: str | None
) -> None:
    conn = server.connect()
    conn.send_raw(frame(payload))
    (error,) = conn.frames()
    assert list(error) == ["type", "code", "message"]
    assert error["type"] == "error" and error["code"] == "invalid_message"
    assert error["message"].startswith("Invalid JSON: ")
    if message is not None:
        assert error["message"] == message
    assert not conn.closed
    assert conn.proto.session.state is State.AWAITING_HELLO
    conn.send_raw(HELLO)
    assert conn.types() == []
    conn.ping()


def test_invalid_frames_when_authenticated(server: Server) -> None:
    conn = server.login("alice")
    for payload in (b"nope", b'{"type":"send_message","content":"x"}', b'{"type":"join_room"}'):
        conn.send_raw(frame(payload))
        assert [(f["type"], f["code"]) for f in conn.frames()] == [("error", "invalid_message")]
    conn.send({"type": "join_room", "room_id": 7})
    assert conn.frames()[0]["code"] == "invalid_message"
    conn.ping()


def test_eof_in_the_middle_of_a_frame_cleans_up(server: Server) -> None:
    bob = server.login("bob")
    alice = server.login("alice")
    bob.frames()
    alice.send_raw(PREFIX.pack(100) + b'{"type":')
    alice.drop()
    assert bob.types() == ["user_offline"]
    assert server.factory.open == {bob.proto}
    assert server.core.hub.connections_of(server.accounts["alice"].user.id) == frozenset()


class _TLSPeer(protocol.Protocol):
    """The client inside TLS: what it read, and whether its connection ended."""

    data = b""
    lost = False

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        self.data += data

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802
        self.lost = True


def test_a_server_side_close_under_tls_ends_the_connection_at_once(
    server: Server, tmp_path: Path
) -> None:
    # Found on a LAIR_TCP_TLS server: logout, version mismatch and timeouts left the
    # socket open until CLOSE_GRACE aborted it, 5 s later (Twisted's TLS does not
    # start its close while a producer is registered, and the protocol is one).
    cert, key = write_dev_certificate(str(tmp_path))
    clock = server.clock
    tls_server = TLSMemoryBIOFactory(
        server_context(str(cert), str(key)), False, server.factory, clock
    )
    peer = _TLSPeer()
    tls_client = TLSMemoryBIOFactory(
        ssl.CertificateOptions(verify=False),
        True,
        protocol.Factory.forProtocol(lambda: peer),
        clock,
    )
    address = IPv4Address("TCP", "127.0.0.1", 40000)
    _, _, pump = connectedServerAndClient(
        lambda: tls_server.buildProtocol(address),
        lambda: tls_client.buildProtocol(address),
        clock=clock,
    )
    pump.flush()
    peer.transport.write(jframe({"type": "client_hello", "version": "2.0"}))
    pump.flush()
    payloads = [orjson.loads(p) for p in split_frames(peer.data)[0]]
    assert [p["type"] for p in payloads] == ["server_hello", "error"]
    assert peer.lost  # a clean TLS close, with no time passing
    assert server.factory.open == set()


# --------------------------------------------------------------------------- limits


def refused(proto: Any) -> bool:
    """Whether ``proto`` closes its connection at once, writing nothing (a protocol,
    not None: a TLS listener's wrapping factory cannot take None)."""
    transport = StringTransport()
    proto.makeConnection(transport)
    return isinstance(proto, Refused) and transport.value() == b"" and transport.disconnecting


def test_max_connections() -> None:
    server = Server(max_connections=2)
    first, second = server.connect(), server.connect()
    assert refused(server.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1)))
    assert len(server.factory.open) == 2
    first.drop()
    third = server.connect()
    assert refused(server.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 2)))
    second.drop()
    third.drop()
    assert server.factory.open == set()


def test_unauthenticated_connections_count_too() -> None:
    server = Server(max_connections=1)
    server.connect()  # never says hello
    assert refused(server.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1)))


def test_zero_means_unlimited() -> None:
    server = Server(max_connections=0)
    conns = [server.connect() for _ in range(200)]
    assert len(server.factory.open) == 200
    for conn in conns:
        conn.drop()
    assert server.factory.open == set()


def test_per_address_cap() -> None:
    server = Server(max_connections=0)
    server.factory.per_address = PerAddress(2, exempt=lambda host: host == "10.0.0.9")
    first, second = server.connect(), server.connect()  # both from 127.0.0.1
    assert refused(server.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1)))
    other = server.factory.buildProtocol(IPv4Address("TCP", "10.0.0.1", 1))
    assert isinstance(other, LairTCPProtocol)
    proxy = [server.factory.buildProtocol(IPv4Address("TCP", "10.0.0.9", n)) for n in range(5)]
    assert all(isinstance(p, LairTCPProtocol) for p in proxy)  # trusted: not limited
    first.drop()
    third = server.connect()  # the slot came back
    assert refused(server.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 2)))
    second.drop()
    third.drop()
    assert server.factory.per_address._open == {"ip:10.0.0.1": 1}


def test_per_address_cap_counts_an_ipv6_client_by_its_slash_64() -> None:
    caps = PerAddress(2)
    same_block = [IPv6Address("TCP", f"2001:db8:1:2::{n:x}", 1) for n in (1, 2, 3)]
    assert caps.take(same_block[0]) and caps.take(same_block[1])
    assert not caps.take(same_block[2])  # another address, the same subscriber
    assert caps.take(IPv6Address("TCP", "2001:db8:1:3::1", 1))  # the next /64
    caps.release(same_block[0])
    assert caps.take(same_block[2])
    # An IPv4 client on a dual-stack socket counts as its IPv4 address.
    assert caps.take(IPv4Address("TCP", "192.0.2.7", 1))
    assert caps.take(IPv6Address("TCP", "::ffff:192.0.2.7", 1))
    assert not caps.take(IPv4Address("TCP", "192.0.2.7", 2))


def test_per_address_counts_only_addresses_with_a_host() -> None:
    caps = PerAddress(1)
    assert caps.take(UNIXAddress(b"/run/lairchat.sock"))
    assert caps.take(UNIXAddress(b"/run/lairchat.sock"))
    assert caps.take(IPv6Address("TCP", "::1", 1))
    assert not caps.take(IPv6Address("TCP", "::1", 2))
    caps.release(IPv6Address("TCP", "::1", 1))
    assert caps.take(IPv6Address("TCP", "::1", 3))
    unlimited = PerAddress(0)
    assert all(unlimited.take(IPv4Address("TCP", "127.0.0.1", n)) for n in range(100))


def test_outgoing_frame_over_one_mebibyte_is_dropped(server: Server) -> None:
    alice = server.login("alice")
    alice_encrypted = server.login("alice", encrypted=True)
    server.core.admin.notice("x" * MAX_FRAME)
    assert alice.raw_frames() == [] and alice_encrypted.raw_frames() == []
    assert not alice.closed and not alice_encrypted.closed
    server.core.admin.notice("x" * (MAX_FRAME - 200))  # fits, with and without sealing
    (notice,) = alice.frames()
    assert notice["type"] == "server_notice" and len(notice["message"]) == MAX_FRAME - 200
    assert alice_encrypted.types() == ["server_notice"]
    alice.ping()


# --------------------------------------------------------------------------- slow consumers


def _notice(server: Server, size: int) -> None:
    server.core.admin.notice("n" * size)


@pytest.mark.parametrize("encrypted", [False, True])
def test_slow_consumer_is_aborted(server: Server, encrypted: bool) -> None:
    slow = server.login("slow", encrypted=encrypted)
    fast = server.login("fast")
    slow.frames()
    slow.proto.pauseProducing()  # the socket buffer is full
    chunk = 600_000
    for _ in range(MAX_BACKLOG // chunk + 1):
        _notice(server, chunk)
    assert not slow.aborted  # a burst over 4 MiB is not slowness yet
    server.clock.advance(SLOW_GRACE)  # ... but still full after the grace period is
    _notice(server, chunk)
    assert slow.aborted
    assert not fast.aborted
    assert len(fast.frames()) == MAX_BACKLOG // chunk + 2
    slow.drop()
    assert fast.types() == ["user_offline"]


def test_a_reader_past_the_hard_cap_is_dropped_at_once(server: Server) -> None:
    slow = server.login("slow")
    slow.proto.pauseProducing()
    chunk = 900_000
    for _ in range(HARD_BACKLOG // chunk):
        _notice(server, chunk)
    assert not slow.aborted
    _notice(server, chunk)
    assert slow.aborted


def test_resume_resets_the_backlog(server: Server) -> None:
    conn = server.login("alice")
    for _ in range(3):
        conn.proto.pauseProducing()
        for _ in range(5):
            _notice(server, 600_000)  # 3 MB while paused
        assert not conn.aborted
        conn.proto.resumeProducing()
    assert len(conn.frames()) == 15
    conn.ping()


def test_writes_while_not_paused_are_unbounded(server: Server) -> None:
    conn = server.login("alice")
    for _ in range(10):
        _notice(server, 600_000)
    assert not conn.aborted
    assert len(conn.raw_frames()) == 10


def test_stop_producing_counts_as_paused(server: Server) -> None:
    conn = server.login("alice")
    conn.proto.stopProducing()
    for _ in range(8):
        _notice(server, 600_000)
    server.clock.advance(SLOW_GRACE)
    _notice(server, 600_000)
    assert conn.aborted


def test_a_dropped_reader_is_logged_and_aborted_once(server: Server, monkeypatch) -> None:
    slow = server.login("slow")
    warnings: list[str] = []

    class Log:  # twisted.logger.Logger is a descriptor: replace it on the class
        def warn(self, fmt: str, **kw: object) -> None:
            warnings.append(fmt)

        def info(self, fmt: str, **kw: object) -> None:
            pass

    monkeypatch.setattr(LairTCPProtocol, "log", Log())
    aborts = []
    monkeypatch.setattr(slow.proto.transport, "abortConnection", lambda: aborts.append(1))
    slow.proto.pauseProducing()
    for _ in range(HARD_BACKLOG // 900_000 + 20):
        _notice(server, 900_000)
    assert len(warnings) == 1 and len(aborts) == 1
