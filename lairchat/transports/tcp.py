"""The TCP adapter: 4-byte big-endian length-prefixed frames, nothing more.

Everything a frame means is decided by :class:`lairchat.realtime.session.Session`.
This module frames bytes, caps what a slow reader may have queued, and limits the
number of open connections.
"""

from __future__ import annotations

import struct
from typing import Any

from twisted.internet import interfaces, protocol
from twisted.logger import Logger
from twisted.protocols.basic import Int32StringReceiver
from zope.interface import implementer

from lairchat.core.events import Event
from lairchat.core.services import Core
from lairchat.outbox import sender
from lairchat.realtime.session import ISessionTransport, Session, SessionSettings
from lairchat.transports import CLOSE_GRACE
from lairchat.transports.backpressure import MAX_FRAME, OutboundBacklog
from lairchat.transports.caps import PerAddress, Refusals, Refused, admit
from lairchat.transports.proxies import host_and_peer

_PREFIX = struct.Struct("!I")
_log = Logger()


def tcp_frame(event: Event) -> bytes:
    """The event's whole TCP frame, built once and shared by every plaintext recipient.
    An event too large for a frame becomes ``b""`` (nothing is written) and is logged."""
    frame = event.cache.get("tcp")
    if frame is None:
        payload = event.json()
        if len(payload) > MAX_FRAME:
            _log.error("event {type} over 1 MiB dropped", type=event.type)
            frame = b""
        else:
            frame = _PREFIX.pack(len(payload)) + payload
        event.cache["tcp"] = frame
    return frame


@implementer(ISessionTransport, interfaces.IPushProducer)
class LairTCPProtocol(Int32StringReceiver):
    MAX_LENGTH = MAX_FRAME
    log = Logger()

    def __init__(self, factory: LairTCPFactory, address: Any = None):
        self.factory = factory
        #: The peer address the factory counted this connection under.
        self.address = address
        self.session: Session | None = None
        self.peer = self.host = "?"
        self.backlog = OutboundBacklog(factory.clock)
        self._dropping = False
        self._send: Any = None
        self.outbox = factory.core.hub.outbox
        self._abort: Any = None  # the call that ends a close that did not finish

    # -- Twisted protocol -----------------------------------------------------------

    def connectionMade(self) -> None:  # noqa: N802
        address = self.transport.getPeer()
        self.host, self.peer = host_and_peer(address)
        if hasattr(self.transport, "setTcpNoDelay"):
            self.transport.setTcpNoDelay(True)
        self.transport.registerProducer(self, True)
        self._send = sender(self.transport)
        self.log.info("tcp connection opened from {peer}", peer=self.peer)
        self.session = Session(self.factory.core, self.factory.settings, self, self.factory.clock)
        self.session.connected()

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        """Split frames and hand each to the session. Int32StringReceiver's own loop,
        less what we never use (its pause flag and the ``recvd`` compatibility
        attribute): this runs once per frame. The replies to every frame of one
        read leave in one send."""
        buffer = self._unprocessed + data if self._unprocessed else data
        end, offset, limit, length = len(buffer), 0, self.MAX_LENGTH, 0
        frames = []
        while end - offset >= 4:
            (length,) = _PREFIX.unpack_from(buffer, offset)
            if length > limit:
                break
            stop = offset + 4 + length
            if stop > end:
                break
            frames.append(buffer[offset + 4 : stop])
            offset = stop
        self._unprocessed = buffer[offset:] if offset else buffer
        if frames:
            with self.outbox:
                self.session.frames_received(frames)
        if length > limit:  # nothing after it is read
            self.lengthLimitExceeded(length)

    def lengthLimitExceeded(self, length: int) -> None:  # noqa: N802
        self.log.info("tcp {peer}: frame of {length} bytes refused", peer=self.peer, length=length)
        self.transport.abortConnection()

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802
        if self._abort is not None and self._abort.active():
            self._abort.cancel()
        self.factory.connection_closed(self)
        if self.session is not None:
            self.session.connection_lost()
        self.log.info("tcp connection closed from {peer}", peer=self.peer)

    # -- IPushProducer: the transport tells us when its buffer is full --------------

    def pauseProducing(self) -> None:  # noqa: N802
        self.backlog.pause()
        if self.session is not None:
            self.session.transport_blocked(True)

    def resumeProducing(self) -> None:  # noqa: N802
        self.backlog.resume()
        if self.session is not None:
            self.session.transport_blocked(False)

    def stopProducing(self) -> None:  # noqa: N802
        self.pauseProducing()

    # -- ISessionTransport ----------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self.backlog.admit(len(data)):
            self.outbox.write(self._send, data)
        elif not self.transport.disconnecting and not self._dropping:
            self._dropping = True
            self.log.warn(
                "tcp {peer}: slow consumer dropped ({queued} bytes queued)",
                peer=self.peer,
                queued=self.backlog.queued,
            )
            self.transport.abortConnection()

    def write_payload(self, payload: bytes) -> None:
        if len(payload) > MAX_FRAME:
            self.log.error("tcp {peer}: outgoing frame over 1 MiB dropped", peer=self.peer)
            return
        self._write(_PREFIX.pack(len(payload)) + payload)

    def write_payloads(self, payloads: list[bytes]) -> None:
        pack = _PREFIX.pack
        self._write(b"".join([pack(len(payload)) + payload for payload in payloads]))

    def fast_path(self) -> tuple:
        """For the hub: the shared frame of an event, written straight to the socket
        (used only while the socket is not backlogged; see Session.fast)."""
        return (tcp_frame, self._emit)

    def _emit(self, data: bytes) -> None:
        self.outbox.write(self._send, data)

    def write_event(self, event: Event) -> None:
        frame = tcp_frame(event)
        if frame:
            self._write(frame)

    def pause_reading(self) -> None:
        self.transport.pauseProducing()

    def resume_reading(self) -> None:
        self.transport.resumeProducing()

    def close(self) -> None:
        if self._abort is not None:
            return
        self.outbox.flush(self._send)  # what the session wrote goes first
        self.transport.loseConnection()
        # Nothing more is produced. Under TLS this also starts the TLS close at once:
        # while a producer is registered, Twisted's TLS defers close_notify and the
        # socket's close, and every server-side close waited for CLOSE_GRACE's abort.
        self.transport.unregisterProducer()
        self._abort = self.factory.clock.callLater(CLOSE_GRACE, self.transport.abortConnection)


class LairTCPFactory(protocol.ServerFactory):
    """Builds one protocol per connection, up to ``max_connections`` (0 = unlimited)
    in all and ``per_address.cap`` from one address."""

    def __init__(
        self,
        core: Core,
        settings: SessionSettings,
        clock: Any,
        max_connections: int,
        per_address: PerAddress | None = None,
    ):
        self.core = core
        self.settings = settings
        self.clock = clock
        self.max_connections = max_connections
        self.per_address = per_address or PerAddress()
        self.refusals = Refusals("tcp", clock)
        self.open: set[LairTCPProtocol] = set()

    def buildProtocol(self, addr: Any) -> LairTCPProtocol | Refused:  # noqa: N802
        if not admit(addr, len(self.open), self.max_connections, self.per_address, self.refusals):
            return Refused()
        proto = LairTCPProtocol(self, addr)
        self.open.add(proto)
        return proto

    def connection_closed(self, proto: LairTCPProtocol) -> None:
        if proto in self.open:
            self.open.discard(proto)
            self.per_address.release(proto.address)
