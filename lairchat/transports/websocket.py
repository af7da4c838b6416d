"""The WebSocket adapter: ``GET /ws`` on the HTTP site, one JSON object per text message.

Like :mod:`lairchat.transports.tcp`, this module only moves bytes: every message goes
to the same :class:`lairchat.realtime.session.Session` as TCP (``kind="ws"``: no
encryption, binary messages refused, ``?token=`` pre-authentication, PROTOCOL.md §12).
What it adds is what the open web needs: an Origin policy, explicit Autobahn limits
(its defaults accept 64 MiB messages from anyone), a bound on what a slow reader may
have queued, and proper close frames when the server ends a connection.

Mount :func:`make_ws_resource` at ``/ws`` in the twisted.web ``Site`` that serves the
REST API (plain or TLS alike).
"""

from __future__ import annotations

import contextlib
import io
import struct
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.protocol import WebSocketProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.internet import interfaces
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import IResource
from zope.interface import implementer

from lairchat.config import Config
from lairchat.core.events import Event
from lairchat.core.services import Core
from lairchat.domain.errors import LairError
from lairchat.outbox import sender
from lairchat.realtime.session import ISessionTransport, Session, SessionSettings
from lairchat.transports.backpressure import MAX_FRAME, OutboundBacklog
from lairchat.transports.caps import LIMIT_REACHED, Refusals
from lairchat.transports.http.errors import error_body
from lairchat.transports.proxies import ProxyPolicy, host_and_peer

#: Largest message (and frame) accepted or sent: the same 1 MiB as a TCP frame.
MAX_MESSAGE = MAX_FRAME
#: twisted.web has already parsed the upgrade request when Autobahn sees it, so the
#: opening handshake completes at once; this only bounds a stuck ``onConnect``.
OPEN_HANDSHAKE_TIMEOUT = 10.0
#: How long a client has to answer our close frame before the socket is dropped, and
#: how long the socket's close may then take before it is aborted.
CLOSE_HANDSHAKE_TIMEOUT = 5.0
#: Close code for every server-initiated close (logout, timeout, version mismatch, ban);
#: a client's close is answered with its own code (echoCloseCodeReason).
CLOSE_NORMAL = 1000

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


# -- origins --------------------------------------------------------------------------


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked text frame (RFC 6455 §5.2), as a server sends it:
    what Autobahn's ``sendMessage`` writes without compression (which we refuse),
    built without its per-message machinery."""
    size = len(payload)
    if size < 126:
        head = bytes((0x81, size))
    elif size < 65536:
        head = _FRAME16.pack(0x81, 126, size)
    else:
        head = _FRAME64.pack(0x81, 127, size)
    return head + payload


_FRAME16 = struct.Struct("!BBH")
_FRAME64 = struct.Struct("!BBQ")


def normalize_origin(text: str) -> str | None:
    """``scheme://host[:port]``, lower-cased, default port left out; ``None`` if ``text``
    is not such an origin. ``"null"`` (sandboxed pages, ``file:``) stays ``"null"``."""
    text = text.strip()
    if text.lower() == "null":
        return "null"
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not scheme or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    suffix = "" if port is None or port == _DEFAULT_PORTS.get(scheme) else f":{port}"
    return f"{scheme}://{host}{suffix}"


def same_origin(origin: str, host_header: str | None) -> bool:
    """Whether the Origin's host and port are the request's ``Host``. A ``Host`` without
    a port means the default port of the Origin's scheme (true behind a TLS proxy too)."""
    if not host_header:
        return False
    try:  # an unbalanced "[" in either is a ValueError, as is a bad port
        o = urlsplit(origin.strip())
        h = urlsplit("//" + host_header.strip())
        default = _DEFAULT_PORTS.get(o.scheme.lower())
        o_port, h_port = o.port or default, h.port or default
    except ValueError:
        return False
    return o.hostname is not None and o.hostname == h.hostname and o_port == h_port


class OriginPolicy:
    """``LAIR_WS_ALLOWED_ORIGINS`` applied to an upgrade request.

    A request without ``Origin`` is always allowed: browsers always send one, other
    clients (the TUI, scripts) do not, and any of those could forge it anyway. The
    header only protects browser users from pages on other sites. With no list, a
    browser page may connect only from the server's own origin (Origin host:port =
    Host); with a list, only from the origins listed; ``*`` allows every origin.
    """

    def __init__(self, allowed: Iterable[str]):
        allowed = tuple(allowed)
        self.any = "*" in allowed
        self.listed = bool(allowed)
        self.allowed = frozenset(
            o for o in (normalize_origin(a) for a in allowed if a != "*") if o is not None
        )

    def allows(self, origin: str | None, host_header: str | None) -> bool:
        if origin is None or self.any:
            return True
        if not self.listed:
            return same_origin(origin, host_header)
        return normalize_origin(origin) in self.allowed


# -- the protocol ---------------------------------------------------------------------


class _ClockTimer:
    """Autobahn's own timers (opening/closing handshake) on the injected clock.

    Autobahn schedules them on ``factory._batched_timer``, a txaio timer bound to the
    global reactor; replacing it keeps every timer on our ``IReactorTime`` (tests drive
    them with ``task.Clock``). Autobahn only calls ``call_later`` and ``cancel``.
    """

    def __init__(self, clock: Any):
        self.clock = clock

    def call_later(self, delay: float, func: Any, *args: Any, **kwargs: Any) -> _TimerCall:
        return _TimerCall(self.clock.callLater(delay, func, *args, **kwargs))


class _TimerCall:
    def __init__(self, call: Any):
        self.call = call

    def cancel(self) -> None:
        if self.call.active():
            self.call.cancel()


def _refuse_compression(offers: list) -> None:
    """permessage-deflate stays off: a prepared message is framed once for every
    recipient, but on a compressing connection Autobahn re-encodes it per connection
    (the compressor state is per connection), which is the cost broadcast avoids. Chat
    messages are small JSON, and compressing tokens in one stream with text that other
    users control invites CRIME/BREACH-style guessing."""
    return None


class _PeerFaultsAtInfo:
    """Autobahn's logger, with its warnings about a connection failed for the peer's
    protocol faults (an oversized message: 1009; a bad frame, an unmasked one, bad
    close codes: 1002; invalid UTF-8: 1007) and the drop that follows logged at info:
    any client can cause them at will, and the TCP adapter logs its own at info.
    Every other line passes unchanged."""

    _PEER_FAULTS = ("failing WebSocket connection", "dropping connection to peer")

    def __init__(self, log: Any):
        self._log = log

    def warn(self, fmt: str, *args: Any, **kwargs: Any) -> None:
        if fmt.startswith(self._PEER_FAULTS):
            self._log.info(fmt, *args, **kwargs)
        else:
            self._log.warn(fmt, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)


@implementer(ISessionTransport, interfaces.IPushProducer)
class LairWSProtocol(WebSocketServerProtocol):
    """One WebSocket connection: text messages to and from its :class:`Session`."""

    factory: LairWSFactory
    # Autobahn owns ``self.log`` (a txaio logger); ours has its own name.
    _log = Logger()
    #: Swapped in for Autobahn's logger while it refuses a handshake (see failHandshake).
    _quiet = Logger(observer=lambda event: None)

    def __init__(self) -> None:
        super().__init__()
        self.log = _PeerFaultsAtInfo(self.log)
        self.session: Session | None = None
        self._token: str | None = None
        self.backlog: OutboundBacklog | None = None  # needs the factory's clock
        self._lost = False
        #: The abort of a close that did not finish (see _closeConnection).
        self._drop: Any = None
        self._send: Any = None
        self.peer = self.host = "?"
        #: The upgrade request's ``User-Agent``, kept with a session a real-time
        #: ``login`` or ``register`` makes here (``GET /auth/sessions``).
        self.user_agent: str | None = None
        #: Why onConnect refused the handshake, for the log line (Autobahn's reason is
        #: the HTTP status text).
        self._refusal: str | None = None

    # -- Twisted protocol -----------------------------------------------------------

    def connectionMade(self) -> None:  # noqa: N802
        super().connectionMade()
        address = self.transport.getPeer()
        self.host, self.peer = host_and_peer(address)
        # The transport comes from twisted.web, whose HTTPChannel is still registered
        # as its producer: take its place so that we hear when the socket buffer fills.
        # (A transport with no producer at all raises RuntimeError in some fakes.)
        with contextlib.suppress(RuntimeError):
            self.transport.unregisterProducer()
        self.transport.registerProducer(self, True)
        self._send = sender(self.transport)
        self.outbox = self.factory.core.hub.outbox

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        if self._lost:  # once only: presence and Autobahn's connection count
            return
        self._lost = True
        super().connectionLost(reason)
        # Autobahn does not cancel this one when the peer drops the socket first.
        if self.closeHandshakeTimeoutCall is not None:
            self.closeHandshakeTimeoutCall.cancel()
            self.closeHandshakeTimeoutCall = None
        if self._drop is not None and self._drop.active():
            self._drop.cancel()
        self.factory.open.discard(self)
        if self.session is not None:
            self.session.connection_lost()
            self._log.info("ws connection closed from {peer}", peer=self.peer)

    def _closeConnection(self, abort: bool = False) -> None:  # noqa: N802
        # After a completed closing handshake Autobahn still aborts the socket, which
        # sends the client a TCP reset; nothing is left to say, so end it with a FIN.
        # Failures (slow consumer, handshake timeouts) still abort.
        abort = abort and not self.wasClean
        super()._closeConnection(abort)
        # A close the peer never lets finish is aborted: under TLS the close waits
        # for the peer's close_notify (Python's ssl clients never send one), and a
        # socket nobody reads never drains. Autobahn sets no timer past this point.
        if not abort and self._drop is None and not self._lost:
            self._drop = self.factory.clock.callLater(
                CLOSE_HANDSHAKE_TIMEOUT, self.transport.abortConnection
            )

    def failHandshake(  # noqa: N802
        self, reason: str, code: int = 400, responseHeaders: Any = None
    ) -> None:
        """Refuse the opening handshake with one info line. Autobahn would log each
        refusal twice, the second time as a warning ("dropping connection"), though
        answering a foreign Origin or a malformed upgrade with an HTTP error is the
        server working as meant, and any client can make it happen at will. A refusal
        at the connection cap (Autobahn's 503) is a cap's refusal like TCP's and
        HTTP's: windowed in the log, counted in the metrics."""
        if code == 503:
            self.factory.refusals.refused(self.transport.getPeer(), LIMIT_REACHED)
        else:
            self._log.info(
                "ws connection from {peer} refused: {code} {reason}",
                peer=self.peer,
                code=code,
                reason=self._refusal or reason,
            )
        loud, self.log = self.log, self._quiet
        try:
            super().failHandshake(reason, code, responseHeaders)
        finally:
            self.log = loud

    # -- Autobahn callbacks ---------------------------------------------------------

    def onConnect(self, request: Any) -> None:  # noqa: N802
        """Check the Origin and pick up ``?token=``; no subprotocol is negotiated."""
        headers = request.headers
        client = self.factory.proxies.client_of(self.host, headers.get)
        if client != self.host:  # behind a trusted proxy: the client it speaks for
            self.host = self.peer = client
        self.user_agent = headers.get("user-agent")
        origin = headers.get("origin")
        if not self.factory.origins.allows(origin, headers.get("host")):
            self._refusal = f"origin {origin!r} not allowed"
            raise ConnectionDeny(ConnectionDeny.FORBIDDEN, "Origin not allowed")
        # Autobahn's request.params drops blank values, but an empty ``?token=`` must
        # be attempted like any other (PROTOCOL.md §12.1), so read the raw query.
        query = urlsplit(self.http_request_uri).query
        self._token = next(
            (v for k, v in parse_qsl(query, keep_blank_values=True) if k == "token"), None
        )
        return None

    def onOpen(self) -> None:  # noqa: N802
        factory = self.factory
        factory.open.add(self)
        self._log.info("ws connection opened from {peer}", peer=self.peer)
        self.session = Session(factory.core, factory.settings, self, factory.clock)
        self.session.connected(self._token)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:  # noqa: N802, N803
        if self.session is None:
            return
        if isBinary:
            self.session.binary_received()
        else:
            self.session.frame_received(payload)

    def onPing(self, payload: bytes) -> None:  # noqa: N802
        if self.session is not None:
            self.session.activity()
        # The pong is counted like every frame we write: a client that pings and
        # never reads is a slow consumer, not a way to fill our memory with pongs.
        if self._may_send(len(payload)):
            super().onPing(payload)  # answers with a pong

    def onPong(self, payload: bytes) -> None:  # noqa: N802
        if self.session is not None:
            self.session.activity()

    # -- IPushProducer: the transport tells us when its buffer is full --------------

    def pauseProducing(self) -> None:  # noqa: N802
        self._outbound().pause()
        if self.session is not None:
            self.session.transport_blocked(True)

    def resumeProducing(self) -> None:  # noqa: N802
        self._outbound().resume()
        if self.session is not None:
            self.session.transport_blocked(False)

    def stopProducing(self) -> None:  # noqa: N802
        self.pauseProducing()

    def _outbound(self) -> OutboundBacklog:
        if self.backlog is None:
            self.backlog = OutboundBacklog(self.factory.clock)
        return self.backlog

    # -- ISessionTransport ----------------------------------------------------------

    def _may_send(self, size: int) -> bool:
        """Whether a message of ``size`` bytes may be written now; drops a slow reader."""
        if self.state != WebSocketProtocol.STATE_OPEN:
            return False
        if size > MAX_MESSAGE:
            self._log.error("ws {peer}: outgoing message over 1 MiB dropped", peer=self.peer)
            return False
        backlog = self._outbound()
        if backlog.admit(size):
            return True
        if self.wasNotCleanReason != "slow consumer":  # drop (and log) once
            self._log.warn(
                "ws {peer}: slow consumer dropped ({queued} bytes queued)",
                peer=self.peer,
                queued=backlog.queued,
            )
            self.wasNotCleanReason = "slow consumer"
            self.dropConnection(abort=True)
        return False

    def write_payload(self, payload: bytes) -> None:
        if self._may_send(len(payload)):
            self._out(text_frame(payload))

    def write_payloads(self, payloads: list[bytes]) -> None:
        for payload in payloads:
            self.write_payload(payload)

    def write_event(self, event: Event) -> None:
        """Send an event framed once for all recipients (the frame is cached on it)."""
        if self._may_send(len(event.json())):
            self._out(self.factory.frame_bytes(event))

    def _out(self, frame: bytes) -> None:
        # Through the hub's outbox, like TCP: one send per connection per batch.
        self.outbox.write(self._send, frame)

    def fast_path(self) -> tuple | None:
        """For the hub: the event's shared frame bytes, written straight to the socket
        (Autobahn's own ``sendPreparedMessage`` does the same without compression,
        which we refuse). Used only while the socket is not backlogged."""
        if self._perMessageCompress is not None:  # pragma: no cover - never negotiated
            return None
        return (self.factory.frame_bytes, self._write_frames)

    def _write_frames(self, data: bytes) -> None:
        # Nothing after a close frame: the connection may be closing under the session.
        if self.state == WebSocketProtocol.STATE_OPEN:
            self._out(data)

    def pause_reading(self) -> None:
        self.transport.pauseProducing()

    def resume_reading(self) -> None:
        self.transport.resumeProducing()

    def close(self) -> None:
        """Server-side close: a close frame after what is queued; the client answers
        and the socket is dropped (or dropped anyway after CLOSE_HANDSHAKE_TIMEOUT)."""
        if self.state == WebSocketProtocol.STATE_OPEN:
            self.outbox.flush(self._send)  # what the session wrote goes first
            self.sendClose(CLOSE_NORMAL)


class LairWSFactory(WebSocketServerFactory):
    """Builds :class:`LairWSProtocol`; holds the core, the policy and the limits."""

    protocol = LairWSProtocol

    def __init__(
        self,
        core: Core,
        settings: SessionSettings,
        clock: Any,
        allowed_origins: Iterable[str] = (),
        proxies: ProxyPolicy | None = None,
        max_connections: int = 0,
    ):
        # server=None: no "Server: AutobahnPython/<version>" header in the 101 reply.
        super().__init__(server=None, reactor=clock)
        self.core = core
        self.settings = settings
        self.clock = clock
        self.origins = OriginPolicy(allowed_origins)
        self.proxies = proxies or ProxyPolicy()
        self.open: set[LairWSProtocol] = set()
        self.refusals = Refusals("websocket", clock)
        self._batched_timer = _ClockTimer(clock)
        #: One bound method for every connection: the hub joins a run of events once
        #: per encoder, so every WebSocket recipient shares the same bytes.
        self.frame_bytes = self._frame_bytes
        # Every option that matters is spelled out: Autobahn's defaults are permissive.
        self.setProtocolOptions(
            webStatus=False,  # a plain GET /ws gets 426, not an Autobahn status page
            utf8validateIncoming=True,  # invalid UTF-8 text fails the connection (1007)
            requireMaskedClientFrames=True,
            maskServerFrames=False,
            maxFramePayloadSize=MAX_MESSAGE,  # larger: close 1009, like TCP's 1 MiB cap
            maxMessagePayloadSize=MAX_MESSAGE,
            autoFragmentSize=0,
            failByDrop=False,  # protocol errors get a close frame, then the drop
            openHandshakeTimeout=OPEN_HANDSHAKE_TIMEOUT,
            closeHandshakeTimeout=CLOSE_HANDSHAKE_TIMEOUT,
            # The answer to a client's close carries its code and reason (none if it
            # sent none), as RFC 6455 §5.5.1 says an endpoint typically does; closes
            # we start use our own code (close()).
            echoCloseCodeReason=True,
            tcpNoDelay=True,
            perMessageCompressionAccept=_refuse_compression,
            # The original never pings; the session's per-message timeouts apply, and
            # client pings count as activity.
            autoPingInterval=0,
            autoPingTimeout=0,
            serveFlashSocketPolicy=False,
            # Origins are checked in onConnect (OriginPolicy); Autobahn lets all through.
            allowedOrigins=["*"],
            allowNullOrigin=True,
            maxConnections=max_connections,
            trustXForwardedFor=0,  # see onConnect: only from trusted proxies
        )

    def prepared(self, event: Event) -> Any:
        """The event as one prepared (already framed) message, built once per event."""
        prepared = event.cache.get("ws")
        if prepared is None:
            # Prepared messages belong to one factory; a server has exactly one.
            prepared = event.cache["ws"] = self.prepareMessage(event.json(), isBinary=False)
        return prepared

    def _frame_bytes(self, event: Event) -> bytes:
        """The event's whole WebSocket frame; ``b""`` (nothing written, logged) for one
        over the 1 MiB message cap."""
        frame = event.cache.get("ws-frame")
        if frame is None:
            if len(event.json()) > MAX_MESSAGE:
                LairWSProtocol._log.error("ws: event {type} over 1 MiB dropped", type=event.type)
                frame = b""
            else:
                frame = self.prepared(event).payloadHybi
            event.cache["ws-frame"] = frame
        return frame


class LairWSResource(WebSocketResource):
    """Autobahn's resource, with its factory reachable (tests, shutdown, metrics)."""

    def __init__(self, factory: LairWSFactory):
        super().__init__(factory)
        self.factory = factory

    def render(self, request: Any) -> Any:
        """A request that does not ask for the upgrade gets 426 in the API's error
        envelope, with the headers every other answer has (CORS, rate limits), where
        Autobahn wrote a bare status line."""
        upgrade = request.getHeader("upgrade") or ""
        if "websocket" not in upgrade.lower():
            request.setHeader(b"Upgrade", b"websocket")
            return error_body(request, LairError("upgrade_required"))
        early = _take_early_bytes(request.channel)
        if early:
            # Autobahn replays the request, then its body, to the new protocol: frames
            # sent right behind the upgrade request follow it that way.
            request.content = io.BytesIO(request.content.read() + early)
        result = super().render(request)
        if early and request.channel.transport is not None:
            request.channel._buffer = early + request.channel._buffer  # not taken over
        return result


def _take_early_bytes(channel: Any) -> bytes:
    """What the client sent after the upgrade request, taken from the HTTP channel.

    A client that does not wait for the ``101`` (RFC 6455 says it must, some do not)
    sends its first frames in the same packet as the upgrade. Twisted's HTTP channel
    holds them as the start of a next request: in its line buffer while the request
    is rendered from within its read, or in its queue of data behind a request being
    handled. Once the connection is a WebSocket the channel never reads them again,
    so without this they were lost and never answered."""
    early = channel._buffer + b"".join(channel._dataBuffer)
    channel._buffer = b""
    channel._dataBuffer.clear()
    return early


def make_ws_factory(
    core: Core, config: Config, clock: Any, proxies: ProxyPolicy | None = None
) -> LairWSFactory:
    # The connection cap is LAIR_TCP_MAX_CONNECTIONS, counted apart from TCP's.
    return LairWSFactory(
        core,
        SessionSettings.from_config(config, "ws"),
        clock,
        allowed_origins=config.ws_allowed_origins,
        proxies=proxies or ProxyPolicy.from_config(config),
        max_connections=config.tcp_max_connections,
    )


def make_ws_resource(
    core: Core, config: Config, clock: Any, proxies: ProxyPolicy | None = None
) -> IResource:
    """The ``/ws`` resource: ``site_root.putChild(b"ws", make_ws_resource(...))``.
    ``proxies``: the server's one policy, so that ``/ws`` and the API read client
    addresses alike (else one is made from ``config``)."""
    return LairWSResource(make_ws_factory(core, config, clock, proxies))
