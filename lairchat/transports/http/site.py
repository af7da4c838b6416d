"""The HTTP server factory, with requests bounded while they arrive.

Twisted buffers a whole body before any resource sees it. :class:`BoundedRequest`
refuses an oversized body as soon as it is known to be one — at once from
``Content-Length``, or when a chunked body crosses the limit — with a JSON 413 and
a closed connection, so nothing beyond the limit is ever stored. The channel does
the same for a request line or headers over Twisted's limits (414, 431) and for a
request Twisted cannot parse (400): every refusal made before a resource sees the
request carries the API's JSON error body, as every other answer that is not 2xx.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from twisted.web import http, server
from twisted.web.resource import IResource

from lairchat.domain.errors import LairError, validation_failed
from lairchat.transports import CLOSE_GRACE
from lairchat.transports.caps import PerAddress, Refusals, Refused, admit
from lairchat.transports.http.bodies import MAX_BODY_BYTES
from lairchat.transports.http.responses import API_HEADERS, JSON_CONTENT_TYPE


def _refusal(error: LairError) -> bytes:
    """A whole answer, written straight to the transport: for refusals made while the
    request is still arriving, before there is a request object to answer through."""
    body = orjson.dumps({"error": error.to_wire()})
    status = HTTPStatus(error.status)
    headers = [
        (b"Content-Type", JSON_CONTENT_TYPE),
        (b"Content-Length", str(len(body)).encode("ascii")),
        (b"Connection", b"close"),
        *API_HEADERS,
    ]
    head = f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode("ascii") + b"".join(
        name + b": " + value + b"\r\n" for name, value in headers
    )
    return head + b"\r\n" + body


class BoundedRequest(server.Request):
    max_body = MAX_BODY_BYTES
    _received = 0
    _refused = False

    def gotLength(self, length: int | None) -> None:  # noqa: N802 (Twisted's name)
        if length is not None and length > self.max_body:
            self._refuse()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:  # noqa: N802
        if self._refused:
            return
        self._received += len(data)
        if self._received > self.max_body:
            self._refuse()
            return
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:  # noqa: N802
        if self._refused:
            return  # already answered; the connection is closing
        super().requestReceived(command, path, version)

    def _refuse(self) -> None:
        self._refused = True
        content = getattr(self, "content", None)
        if content is not None:
            content.close()
        self.content = None
        self.channel.transport.write(_refusal(LairError("payload_too_large")))
        self.channel.loseConnection()


#: The refusal of a request whose request line is still unread when a limit is met
#: (its URI is too long) and of one whose headers are (they are too large).
_LONG_REQUEST_LINE = "uri_too_long"
_LARGE_HEADERS = "headers_too_large"


class _Channel(http.HTTPChannel):
    _closing: Any = None
    #: Set once a refusal is written: whatever else arrives on the connection is
    #: dropped unread (under TLS it still arrives while the close completes).
    _refused = False

    def _refuse(self, error: LairError) -> None:
        if not self._refused:
            self._refused = True
            self.transport.write(_refusal(error))
            self.loseConnection()

    def _refuse_head(self) -> None:
        """414 while the request line is being read (nothing of this request counted
        yet), 431 once it has been: the request line alone is at most 16 KiB, so only
        a header can push the whole past the 16 KiB Twisted allows."""
        self._refuse(LairError(_LARGE_HEADERS if self._receivedHeaderSize else _LONG_REQUEST_LINE))

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted's name)
        if not self._refused:
            super().dataReceived(data)

    def lineReceived(self, line: bytes) -> None:  # noqa: N802
        """Twisted answers request line and headers over ``totalHeadersSize`` in all
        with a bare 400, as it does a malformed request: this says which it was."""
        if self._receivedHeaderSize + len(line) > self.totalHeadersSize:
            self._refuse_head()
        else:
            super().lineReceived(line)

    def headerReceived(self, line: bytes) -> bool:  # noqa: N802
        """More than ``maxHeaders`` header fields is a 431 too (Twisted: a bare 400)."""
        if self._receivedHeaderCount >= self.maxHeaders:
            self._refuse(LairError(_LARGE_HEADERS))
            return False
        return super().headerReceived(line)

    def lineLengthExceeded(self, line: bytes) -> None:  # noqa: N802
        """One line over 16 KiB: Twisted alone closed the connection without a word."""
        self._refuse_head()

    def _respondToBadRequestAndDisconnect(self) -> None:  # noqa: N802
        """A request Twisted cannot parse (a malformed request line or header, a bad
        ``Content-Length`` or chunk): Twisted's bare ``400 Bad Request`` with the
        API's error body."""
        self._refuse(validation_failed("request", "malformed HTTP request"))

    def loseConnection(self) -> None:  # noqa: N802
        """Close, and abort if that has not happened within :data:`CLOSE_GRACE`. Under
        TLS a close waits for the client's ``close_notify``, and the channel's idle
        timeout is off by then: a client that read its ``Connection: close`` answer and
        never sent one held its socket, and its place under the connection caps, for
        good (seen still open after 120 s)."""
        super().loseConnection()
        if self._closing is None:
            self._closing = self.callLater(CLOSE_GRACE, self.transport.abortConnection)

    def connectionLost(self, reason: Any) -> None:  # noqa: N802
        if self._closing is not None and self._closing.active():
            self._closing.cancel()
        super().connectionLost(reason)


def _channel(site: server.Site) -> Any:
    """Site.protocol: Twisted's own (``_genericHTTPChannelProtocolFactory``) with
    our channel."""
    return http._GenericHTTPChannelProtocol(_Channel())


class BoundedSite(server.Site):
    """A Site with at most ``max_connections`` open connections (0 = unlimited) in
    all and ``per_address.cap`` from one address, REST and WebSocket alike: past
    either, a new connection is closed at once."""

    protocol = _channel

    def __init__(
        self,
        root: IResource,
        max_connections: int = 0,
        per_address: PerAddress | None = None,
        **kwargs: Any,
    ):
        # Bodies are read by the API alone, as JSON, after its own checks (rate limit,
        # 415). Twisted would otherwise parse a form or multipart POST body into
        # request.args before any of that: a 2 MiB multipart body held the reactor
        # for 0.6 s, and 1,000 nested parts hit a RecursionError (a traceback, and a
        # connection closed with no answer).
        super().__init__(
            root, requestFactory=BoundedRequest, parsePOSTFormSubmission=False, **kwargs
        )
        self.max_connections = max_connections
        self.per_address = per_address or PerAddress()
        self.refusals = Refusals("http", self.reactor)
        self.open_connections = 0

    def buildProtocol(self, addr: Any) -> Any:  # noqa: N802
        if not admit(
            addr, self.open_connections, self.max_connections, self.per_address, self.refusals
        ):
            return Refused()
        channel = super().buildProtocol(addr)
        self.open_connections += 1
        # Twisted's HTTP channel has no close hook for its factory: count down in its
        # connectionLost (the one call every connection ends with).
        lost = channel.connectionLost

        def connection_lost(reason: Any) -> None:
            self.open_connections -= 1
            self.per_address.release(addr)
            lost(reason)

        channel.connectionLost = connection_lost
        return channel


def make_site(
    root: IResource,
    reactor: Any = None,
    max_connections: int = 0,
    per_address: PerAddress | None = None,
) -> BoundedSite:
    kwargs = {} if reactor is None else {"reactor": reactor}
    site = BoundedSite(root, max_connections, per_address, **kwargs)
    site.displayTracebacks = False
    return site
