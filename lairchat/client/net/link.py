"""One logical real-time link: connect, handshake, keepalive, and reconnect.

The interface wants "a connection to the server" that survives network trouble; the
wire offers connections that die. A :class:`Link` opens a channel with an *opener*
(TCP or WebSocket, see ``tcp.py``/``ws.py``), runs a :class:`ClientSession` on it,
pings every 30 s (the server drops connections silent for 90 s), and after a loss
reconnects with exponential backoff, authenticating again with the same token.

A first connection that fails is reported and not retried (the user is still on the
login screen and should see why); once the link has been up, it keeps trying until
stopped or until the server says the token is no longer valid.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from lairchat.client.net.errors import SESSION_LOST_CODES, ServerError, network_reason
from lairchat.client.net.session import Channel, ClientSession

__all__ = ["Backoff", "ChannelHandlers", "Link", "LinkListener", "Opener"]

log = logging.getLogger(__name__)

KEEPALIVE = 30.0
#: A connection up this long (seconds) was a working one: losing it starts the
#: backoff again from its first delay.
STABLE = KEEPALIVE
#: Silence (no frame at all, not even a pong) after which the link is presumed dead.
DEAD_AFTER = 2.5 * KEEPALIVE


class ChannelHandlers(Protocol):
    """What a transport protocol calls; one object per connection attempt."""

    def channel_open(self, channel: Channel) -> None: ...

    def frame_received(self, message: dict[str, Any]) -> None: ...

    def channel_closed(self, reason: str) -> None: ...


#: Start one connection; the Deferred fails if it cannot be made.
Opener = Callable[[ChannelHandlers], Deferred]


class LinkListener(Protocol):
    def link_state(self, state: str, detail: str) -> None: ...

    def link_ready(self, user: dict[str, Any], encrypted: bool, reconnected: bool) -> None: ...

    def link_failed(self, error: ServerError) -> None: ...

    def link_event(self, event: dict[str, Any]) -> None: ...


class Backoff:
    """Exponential delays with jitter: 1, 2, 4, … capped at 30 s (±20 %)."""

    def __init__(
        self,
        base: float = 1.0,
        cap: float = 30.0,
        factor: float = 2.0,
        jitter: float = 0.2,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.base, self.cap, self.factor, self.jitter = base, cap, factor, jitter
        self._rand = rand
        self.attempts = 0

    def next(self) -> float:
        raw = min(self.cap, self.base * self.factor**self.attempts)
        self.attempts += 1
        return raw * (1 + self.jitter * (2 * self._rand() - 1))

    def reset(self) -> None:
        self.attempts = 0


def failure_text(reason: Failure | BaseException | str) -> str:
    if isinstance(reason, str):
        return reason
    return network_reason(reason.value if isinstance(reason, Failure) else reason)


class _Attempt:
    """Callbacks of one connection attempt; stale attempts are ignored."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.channel: Channel | None = None
        self.session: ClientSession | None = None
        self.done = False
        #: When the session was ready (authenticated), if it was.
        self.ready_at: float | None = None

    # channel handlers

    def channel_open(self, channel: Channel) -> None:
        if self.done or self.link._attempt is not self:
            channel.abort()
            return
        self.channel = channel
        self.session = ClientSession(
            channel, self.link.token, self, self.link.clock, encrypt=self.link.encrypt
        )
        self.link._set_state("handshaking", "")

    def frame_received(self, message: dict[str, Any]) -> None:
        if self.done or self.session is None:
            return
        self.link.last_frame = self.link.clock.seconds()
        self.session.frame_received(message)

    def channel_closed(self, reason: str) -> None:
        if self.done:
            return
        self.done = True
        if self.session is not None:
            self.session.connection_lost()
        self.link._lost(self, reason)

    # session listener

    def session_ready(self, user: dict[str, Any], encrypted: bool) -> None:
        self.link._ready(self, user, encrypted)

    def session_failed(self, error: ServerError) -> None:
        if self.done:
            return
        self.done = True
        if self.channel is not None:
            self.channel.close()
        self.link._handshake_failed(self, error)

    def session_event(self, event: dict[str, Any]) -> None:
        if self.done:
            return
        code = event.get("code")
        if event.get("type") == "error" and code in SESSION_LOST_CODES:
            # The server ended the session (a ban, a logout elsewhere, expiry) and
            # closes next: that is the reason to show. Reconnecting would only be
            # refused with session_not_found, which said the ban was no more than
            # "your session has ended".
            self.session_failed(ServerError(code, str(event.get("message", ""))))
            return
        self.link.listener.link_event(event)


class Link:
    """A reconnecting, authenticated real-time link."""

    def __init__(
        self,
        clock: Any,
        opener: Opener,
        token: str,
        listener: LinkListener,
        *,
        encrypt: bool = False,
        backoff: Backoff | None = None,
        keepalive: float = KEEPALIVE,
    ) -> None:
        self.clock = clock
        self.opener = opener
        self.token = token
        self.listener = listener
        self.encrypt = encrypt
        self.backoff = backoff or Backoff()
        self.state = "idle"
        self.last_frame = 0.0
        self.was_online = False
        self.encrypted = False
        #: Seconds until the next attempt (meaningful in state "waiting").
        self.retry_in = 0.0
        self._attempt: _Attempt | None = None
        self._retry: Any = None
        self._keepalive = LoopingCall(self._tick)
        self._keepalive.clock = clock
        self._interval = keepalive

    # -- the controller's side --------------------------------------------------------

    @property
    def online(self) -> bool:
        return self.state == "online"

    def start(self) -> None:
        if self.state == "idle":
            self._connect()

    def request(self, message: dict[str, Any]) -> Deferred:
        attempt = self._attempt
        if not self.online or attempt is None or attempt.session is None:
            d: Deferred = Deferred()
            d.errback(ServerError("offline", "Not connected to the server"))
            return d
        return attempt.session.request(message)

    def send(self, message: dict[str, Any]) -> bool:
        attempt = self._attempt
        if self.online and attempt is not None and attempt.session is not None:
            attempt.session.send(message)
            return True
        return False

    def retry_left(self) -> float:
        """Seconds until the next attempt (0 when none is waiting)."""
        if self._retry is None or not self._retry.active():
            return 0.0
        return max(0.0, self._retry.getTime() - self.clock.seconds())

    def reconnect_now(self) -> None:
        """The user pressed ``R``: drop whatever we have and connect at once."""
        if self.state == "stopped":
            return
        self._cancel_retry()
        self.backoff.reset()
        attempt, self._attempt = self._attempt, None
        if attempt is not None and not attempt.done:
            attempt.done = True
            if attempt.session is not None:
                attempt.session.connection_lost()
            if attempt.channel is not None:
                attempt.channel.abort()
        self._stop_keepalive()
        self.was_online = True  # an explicit reconnect keeps retrying
        self._connect()

    def stop(self) -> None:
        """Close for good (quit, logout, session lost)."""
        self.state = "stopped"
        self._cancel_retry()
        self._stop_keepalive()
        attempt, self._attempt = self._attempt, None
        if attempt is not None and not attempt.done:
            attempt.done = True
            if attempt.session is not None:
                attempt.session.connection_lost()
            if attempt.channel is not None:
                attempt.channel.close()

    # -- internals ----------------------------------------------------------------------

    def _set_state(self, state: str, detail: str) -> None:
        self.state = state
        self.listener.link_state(state, detail)

    def _connect(self) -> None:
        self._retry = None
        attempt = self._attempt = _Attempt(self)
        self._set_state("connecting", "")
        try:
            d = self.opener(attempt)
        except Exception as exc:  # a bad address, for example
            attempt.channel_closed(failure_text(exc))
            return
        d.addErrback(lambda f: attempt.channel_closed(failure_text(f)))

    def _ready(self, attempt: _Attempt, user: dict[str, Any], encrypted: bool) -> None:
        if attempt is not self._attempt or attempt.done:
            return
        reconnected = self.was_online
        self.was_online = True
        self.encrypted = encrypted
        attempt.ready_at = self.last_frame = self.clock.seconds()
        self._set_state("online", "")
        if not self._keepalive.running:
            self._keepalive.start(self._interval, now=False)
        self.listener.link_ready(user, encrypted, reconnected)

    def _lost(self, attempt: _Attempt, reason: str) -> None:
        if attempt is not self._attempt or self.state == "stopped":
            return
        self._stop_keepalive()
        if not self.was_online:
            self._set_state("offline", reason)
            self.listener.link_failed(ServerError("unreachable", reason))
            return
        if attempt.ready_at is not None and self.clock.seconds() - attempt.ready_at >= STABLE:
            # The backoff starts again only after a connection that worked for a while:
            # reset at every authentication, a server that accepts and then drops
            # at once was reconnected to (and all lists fetched again) every second.
            self.backoff.reset()
        delay = self.backoff.next()
        self.retry_in = delay
        self._retry = self.clock.callLater(delay, self._connect)
        self._set_state("waiting", reason)  # the listener may ask for retry_left()

    def _handshake_failed(self, attempt: _Attempt, error: ServerError) -> None:
        if attempt is not self._attempt or self.state == "stopped":
            return
        if error.session_lost or not self.was_online:
            self.stop()
            self.state = "offline"
            self.listener.link_state("offline", error.describe())
            self.listener.link_failed(error)
            return
        self._lost(attempt, error.describe())

    def _tick(self) -> None:
        attempt = self._attempt
        if not self.online or attempt is None or attempt.session is None:
            return
        if self.clock.seconds() - self.last_frame > DEAD_AFTER:
            log.info("no frame for %.0f s: dropping the connection", DEAD_AFTER)
            if attempt.channel is not None:
                attempt.channel.abort()
            return
        attempt.session.send({"type": "ping"})

    def _stop_keepalive(self) -> None:
        if self._keepalive.running:
            self._keepalive.stop()

    def _cancel_retry(self) -> None:
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None
