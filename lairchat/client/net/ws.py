"""The WebSocket real-time transport (``--websocket``): ``ws(s)://<http host>/ws``.

Same protocol as TCP, one JSON object per text message, no length prefix and no
application-level encryption (``wss://`` is the encryption; PROTOCOL.md §12). Autobahn
does the framing; this module only adapts its callbacks to a ``Channel``, and says
why a ``wss://`` connection failed when TLS was the cause: Autobahn's own text for
that ("peer dropped the TCP connection") names nothing a user can act on.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.python.failure import Failure

from lairchat.client.net.codec import decode, encode
from lairchat.client.net.errors import network_code
from lairchat.client.net.link import ChannelHandlers, Opener
from lairchat.client.net.tls import SYSTEM_TRUST, Trust
from lairchat.realtime.crypto import FrameCipher

__all__ = ["WSChannel", "ws_opener"]

log = logging.getLogger(__name__)

MAX_MESSAGE = 1_048_576


class WSChannel(WebSocketClientProtocol):
    """One WebSocket connection carrying protocol frames (a ``Channel``)."""

    can_encrypt = False
    description = "WebSocket"
    #: Why TLS failed (certificate, host name), for :meth:`onClose`.
    _tls_failure: str | None = None

    def onOpen(self) -> None:
        self._opened = True
        self.factory.handlers.channel_open(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if isBinary:
            log.warning("ignoring a binary WebSocket message")
            return
        message = decode(payload)
        if message is not None:
            self.factory.handlers.frame_received(message)

    def connectionLost(self, reason: Failure) -> None:
        """Keep the reason of a TLS failure: Autobahn's ``onClose`` does not get it."""
        if network_code(reason.value) == "tls_error":
            self._tls_failure = self.factory.trust.reason(reason.value)
        super().connectionLost(reason)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if self._tls_failure:
            text = self._tls_failure
        elif reason:
            text = reason
        elif not wasClean and getattr(self, "wasNotCleanReason", None):
            text = str(self.wasNotCleanReason)
        elif code == 1000 or wasClean:
            text = "the server closed the connection"
        else:
            text = f"connection closed (code {code})"
        self.factory.handlers.channel_closed(text)

    # Channel

    def send(self, message: dict[str, Any]) -> None:
        self.sendMessage(encode(message), isBinary=False)

    def start_encryption(self, cipher: FrameCipher) -> None:
        raise NotImplementedError("WebSocket connections are encrypted by TLS (wss://)")

    def close(self) -> None:
        self.sendClose(1000)

    def abort(self) -> None:
        self.dropConnection(abort=True)


def ws_opener(
    reactor: Any, url: str, *, trust: Trust = SYSTEM_TRUST, timeout: float = 10.0
) -> Opener:
    """An opener for :class:`~lairchat.client.net.link.Link`."""
    parts = urlsplit(url)
    secure = parts.scheme == "wss"
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if secure else 80)

    def open_channel(handlers: ChannelHandlers) -> Deferred:
        factory = WebSocketClientFactory(url, reactor=reactor)
        factory.protocol = WSChannel
        factory.handlers = handlers
        factory.trust = trust
        factory.setProtocolOptions(
            openHandshakeTimeout=timeout,
            closeHandshakeTimeout=5,
            maxMessagePayloadSize=MAX_MESSAGE,
            maxFramePayloadSize=MAX_MESSAGE,
            autoPingInterval=0,
        )
        endpoint: Any = HostnameEndpoint(reactor, host, port, timeout=timeout)
        if secure:
            endpoint = wrapClientTLS(trust.client_tls(host), endpoint)
        return endpoint.connect(factory)

    return open_channel
