"""The TCP real-time transport: 4-byte big-endian length, then the JSON payload.

After a successful key exchange every frame in both directions is sealed with the
shared :class:`~lairchat.realtime.crypto.FrameCipher` (``nonce || ciphertext || tag``,
PROTOCOL.md §5); the session switches this on right after ``key_exchange_response``.
A frame that fails to decrypt ends the connection, as the server does.

With ``--tls`` the connection is TLS first (a server with ``LAIR_TCP_TLS``), verified
like ``https://`` and ``wss://`` (one :class:`~lairchat.client.net.tls.Trust`); the
frames inside are the same.
"""

from __future__ import annotations

import logging
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.protocols.basic import Int32StringReceiver
from twisted.python.failure import Failure

from lairchat.client.net.codec import decode, encode
from lairchat.client.net.link import ChannelHandlers, Opener
from lairchat.client.net.tls import SYSTEM_TRUST, Trust
from lairchat.realtime.crypto import DecryptError, FrameCipher

__all__ = ["MAX_FRAME", "TCPChannel", "tcp_opener"]

log = logging.getLogger(__name__)

MAX_FRAME = 1_048_576


class TCPChannel(Int32StringReceiver):
    """One TCP connection carrying protocol frames (a ``Channel``)."""

    MAX_LENGTH = MAX_FRAME
    can_encrypt = True

    def __init__(
        self, handlers: ChannelHandlers, description: str = "TCP", trust: Trust = SYSTEM_TRUST
    ) -> None:
        """``trust`` names, when TLS fails, the CAs that were trusted."""
        self.handlers = handlers
        self.description = description
        self._trust = trust
        self._cipher: FrameCipher | None = None
        #: Why we dropped the connection ourselves, said instead of "connection lost".
        self._dropped: str | None = None

    def connectionMade(self) -> None:
        self.handlers.channel_open(self)

    def stringReceived(self, data: bytes) -> None:
        if self._cipher is not None:
            try:
                data = self._cipher.decrypt(data)
            except DecryptError as exc:
                log.warning("closing: undecryptable frame (%s)", exc)
                self._drop("the server sent a frame that does not decrypt")
                return
        message = decode(data)
        if message is not None:
            self.handlers.frame_received(message)

    def lengthLimitExceeded(self, length: int) -> None:
        log.warning("closing: frame of %d bytes is over the limit", length)
        # What another service says first (an SSH or HTTP banner) reads as a length
        # of hundreds of megabytes: name the likely cause, not a lost connection.
        self._drop(
            f"it sent a frame of {length} bytes, over the {MAX_FRAME >> 20} MiB limit: "
            "is that the lairchat TCP port?"
        )

    def _drop(self, why: str) -> None:
        self._dropped = why
        self.transport.abortConnection()

    def connectionLost(self, reason: Failure) -> None:
        self.handlers.channel_closed(self._dropped or self._trust.reason(reason.value))

    # Channel

    def send(self, message: dict[str, Any]) -> None:
        data = encode(message)
        if self._cipher is not None:
            data = self._cipher.encrypt(data)
        if len(data) > MAX_FRAME:
            raise ValueError("frame too large")
        self.sendString(data)

    def start_encryption(self, cipher: FrameCipher) -> None:
        self._cipher = cipher

    def close(self) -> None:
        if self.transport is not None:
            self.transport.loseConnection()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abortConnection()


def tcp_opener(
    reactor: Any,
    host: str,
    port: int,
    *,
    tls: bool = False,
    trust: Trust = SYSTEM_TRUST,
    timeout: float = 10.0,
) -> Opener:
    """An opener for :class:`~lairchat.client.net.link.Link`."""

    def open_channel(handlers: ChannelHandlers) -> Deferred:
        endpoint: Any = HostnameEndpoint(reactor, host, port, timeout=timeout)
        if tls:
            endpoint = wrapClientTLS(trust.client_tls(host), endpoint)
        return connectProtocol(endpoint, TCPChannel(handlers, trust=trust))

    return open_channel
