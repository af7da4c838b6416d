"""The per-connection state machine shared by every real-time transport.

A transport hands whole frame payloads to :meth:`Session.frame_received` and writes
whatever the session gives it back; it knows nothing of states, commands or events.
States: awaiting hello → (TCP: optional key exchange) → awaiting auth → authenticated
→ closing (PROTOCOL.md §3). Timeouts are per received frame, as in the original.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Attribute, Interface, implementer

from lairchat.core.auth import Seen
from lairchat.core.events import LAIRCHAT_EVENTS, Event
from lairchat.core.hub import ISubscriber
from lairchat.core.ratelimit import address_key
from lairchat.core.services import Core
from lairchat.domain.errors import LairError
from lairchat.domain.timefmt import ts_plus
from lairchat.domain.types import Session as AuthSession
from lairchat.domain.types import User
from lairchat.realtime import codec
from lairchat.realtime.commands import dispatch, send_run
from lairchat.realtime.crypto import DecryptError, FrameCipher, KeyExchange

PROTOCOL_VERSION = "1.0"
SERVER_NAME = "Lair Chat"


#: Commands that may overlap each other: independent appends (group-committed
#: together) and instant ones. Any other command waits for those in flight, and
#: holds back the frames after it, so each connection sees its own writes.
CONCURRENT = frozenset({"send_message", "ping", "typing"})
#: Frames the session answers itself rather than the command handlers.
_SESSION_LEVEL = frozenset(
    {"ping", "client_hello", "key_exchange", "authenticate", "login", "register"}
)
#: Frames, and their bytes, a client may have queued behind commands in flight before
#: it is dropped: without the byte bound, 1024 frames of 1 MiB could pin a gigabyte.
MAX_PIPELINE = 1024
MAX_PIPELINE_BYTES = 4 * 1024 * 1024
#: Answers one connection is owed (frames read, not yet answered: commands in flight,
#: for send_message waiting for its commit, and the answers waiting behind them, such
#: as pongs) at which the connection is no longer read, until half of them are
#: written. Concurrent commands do not queue, so without this bound a
#: client sending faster than the disk commits had all it sent read into memory:
#: one group commit then held tens of thousands of its messages, and their fan-out
#: put tens of MiB in every reader's queue at once (seen as readers shed as slow
#: consumers in test_backpressure_live.py). TCP flow control keeps the rest in the
#: client's socket. Far above what any client keeps in flight to wait for answers
#: (the benchmark's 16).
MAX_IN_FLIGHT = 256
#: How long after its ``expires_at`` a session's connections are closed: a session is
#: valid up to that instant, so the timer aims just past it.
EXPIRY_MARGIN = 0.001


#: The error that stands in for a response too large for one frame.
TOO_LARGE = LairError("internal_error", "Response too large to send")


class _Reply:
    """A response slot: ``message`` is None until the command has finished;
    ``number`` counts the slots reserved for commands (0: an immediate answer)."""

    __slots__ = ("message", "number")
    #: Answers the slot stands for (a run of send_message frames: one per frame).
    count = 1

    def __init__(self, message: dict[str, Any] | None):
        self.message = message
        self.number = 0  # a command's slot is numbered when reserved

    def too_large(self) -> dict[str, Any]:
        """What is sent instead of ``message`` when it would not fit in one frame."""
        return error_frame(TOO_LARGE.code, TOO_LARGE.message)


class _Reserved(_Reply):
    """A slot reserved for work in flight: the session's next number, counted as
    running and owed until :meth:`_fill` puts the response in."""

    __slots__ = ("session",)

    def _reserve(self, session: Session) -> None:
        self.message = None
        self.session = session
        session._reserved = self.number = session._reserved + 1
        session.fast = None
        session._running += 1
        session._owe(self)

    def _fill(self, message: Any) -> None:
        """The work is done: write what may be written, and let what waited on it go on."""
        session = self.session
        session._running -= 1
        self.message = message
        session._flush_replies()
        if not session._running:
            session._barrier = False
            session._pump()


class _CommandReply(_Reserved):
    """The slot of a command in flight, and its ``finish``: called with the outcome
    (a dict of success fields, or a Failure), it fills itself with the response and
    lets what waited on the command go on. ``shape``, when given, builds the response
    instead of the standard ``{type, request_id, success, ...}``. One object per
    command where there were two closures and their cells (every send_message)."""

    __slots__ = ("response_type", "request_id", "on_failure", "shape")

    def __init__(
        self,
        session: Session,
        response_type: str,
        request_id: Any,
        on_failure: dict[str, Any] | None = None,
        shape: Callable[[Any], dict[str, Any]] | None = None,
    ):
        self.response_type = response_type
        self.request_id = request_id
        self.on_failure = on_failure
        self.shape = shape
        self._reserve(session)  # the session's next response slot: the command starts now

    def __call__(self, outcome: Any) -> None:
        if self.shape is not None:
            self._fill(self.shape(outcome))
        else:
            self._fill(
                answer(
                    self.response_type, self.request_id, outcome, self.on_failure, self.session.log
                )
            )

    def too_large(self) -> dict[str, Any]:
        """This response as a failure, for when it would not fit in one frame."""
        return answer(
            self.response_type,
            self.request_id,
            Failure(TOO_LARGE),
            self.on_failure,
            self.session.log,
        )


class _RunReply(_Reserved):
    """The slot of a run of ``send_message`` frames from one read (see
    :meth:`Session.frames_received`): one slot, one number and one ``finish`` for
    the run. ``finish(outcomes)`` takes each frame's outcome in order (its success
    fields, or a Failure), and the slot then holds their responses. A run is never
    encrypted, and its responses are far below a frame's limit (a message's content
    is at most 4 KiB as UTF-8): they are written joined, unchecked."""

    __slots__ = ("response_type", "request_ids", "count")

    def __init__(self, session: Session, response_type: str, request_ids: list[Any]):
        self.response_type = response_type
        self.request_ids = request_ids
        self.count = len(request_ids)
        self._reserve(session)

    def __call__(self, outcomes: list[Any]) -> None:
        log, response_type = self.session.log, self.response_type
        self._fill(
            [
                answer(response_type, request_id, outcome, None, log)
                for request_id, outcome in zip(self.request_ids, outcomes, strict=True)
            ]
        )


class State(Enum):
    AWAITING_HELLO = "awaiting_hello"
    AWAITING_KEY_EXCHANGE = "awaiting_key_exchange"
    AWAITING_AUTH = "awaiting_auth"
    AUTHENTICATED = "authenticated"
    CLOSING = "closing"


class ISessionTransport(Interface):
    """What a session needs from its transport: write frames, close."""

    peer = Attribute("The client's address (host:port, or a forwarded host), for logs.")
    host = Attribute("The client's host, without a port: its key for rate limits.")

    def write_payload(payload):
        """Write one frame carrying ``payload`` (bytes, already encrypted if need be)."""

    def write_payloads(payloads):
        """Write one frame for each of ``payloads`` (plaintext, each under a frame's
        limit), together."""

    def write_event(event):
        """Write one plaintext event frame; may reuse encodings cached on the event."""

    def pause_reading():
        """Stop reading the client's frames until :meth:`resume_reading`."""

    def resume_reading():
        """Read the client's frames again."""

    def close():
        """Flush what is queued, then close."""


@dataclass(frozen=True, slots=True)
class SessionSettings:
    kind: str  # "tcp" or "ws"
    handshake_timeout: float = 30.0
    auth_timeout: float = 60.0
    idle_timeout: float = 90.0
    encryption_required: bool = False

    @classmethod
    def from_config(cls, config: Any, kind: str) -> SessionSettings:
        return cls(
            kind=kind,
            handshake_timeout=config.handshake_timeout,
            auth_timeout=config.auth_timeout,
            idle_timeout=config.idle_timeout,
            encryption_required=config.encryption_required,
        )

    @property
    def encryption_offered(self) -> bool:
        return self.kind == "tcp"


def error_frame(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


@implementer(ISubscriber)
class Session:
    log = Logger()

    def __init__(self, core: Core, settings: SessionSettings, transport: Any, clock: Any):
        self.core = core
        self.settings = settings
        self.transport = transport
        self.clock = clock
        self.state = State.AWAITING_HELLO
        self.user: User | None = None
        self.auth_session: AuthSession | None = None
        self._kx: KeyExchange | None = None
        self._cipher: FrameCipher | None = None
        self._timer: Any = None
        #: Response slots reserved for commands so far, and the number of the last
        #: one written (see _answered_cause).
        self._reserved = self._answered = 0
        #: When the last frame arrived (kept once authenticated; see _timed_out).
        self._last_frame = 0.0
        #: Responses owed, in the order their frames arrived; events are held back
        #: while any is owed, so a command's response precedes the events it caused.
        self._replies: deque[_Reply] = deque()
        #: Answers owed: the slots' counts summed (a run's slot stands for several).
        self._owed = 0
        self._after_replies: list[Callable[[], Any]] = []
        self._held: list[Event] | None = None
        self._release_call: Any = None
        #: Decoded frames (or error frames owed) waiting their turn, commands in
        #: flight, and whether one of those must finish before anything else starts.
        self._pending: deque[tuple[dict[str, Any], int]] = deque()
        self._pending_bytes = 0
        self._running = 0
        self._barrier = False
        #: Reading is paused by the hub (a congested room), and paused at all (that,
        #: or MAX_IN_FLIGHT answers owed).
        self._room_paused = self._reading_paused = False
        #: The hub's fast path (see ISubscriber.fast): the transport's, while this
        #: connection is authenticated, plaintext, owes no responses and is not
        #: backlogged; None otherwise.
        self.fast: tuple[Callable, Callable] | None = None
        self._transport_fast: tuple[Callable, Callable] | None = None
        #: The transport's buffer is full (ISubscriber.backlogged).
        self.backlogged = False
        #: The client asked for lairchat's own events (ISubscriber.extended).
        self.extended = False

    # -- ISubscriber ----------------------------------------------------------------

    @property
    def user_id(self) -> str | None:
        return self.user.id if self.user else None

    @property
    def session_id(self) -> str | None:
        return self.auth_session.id if self.auth_session else None

    @property
    def encrypted(self) -> bool:
        return self._cipher is not None

    def send_event(self, event: Event) -> None:
        if self.state is not State.AUTHENTICATED:
            return
        if self._replies and (self._held is not None or not self._answered_cause(event.cause)):
            if self._held is None:
                self._held = []
                # Unrelated events wait at most one reactor turn, however long the
                # command takes.
                self._release_call = self.clock.callLater(0, self._release_events)
            self._held.append(event)
            return
        self._write_event(event)

    def _answered_cause(self, cause: _CommandReply | None) -> bool:
        """Whether the event cannot be caused by a command whose response is still
        owed: it came from another connection, or from one of ours already answered
        (then it goes out at once, in the same write as that response, rather than
        a reactor turn later). An event of unknown cause waits. A cause is the
        response slot of the command that published the event (a handler that
        finishes by itself passes its ``finish``)."""
        if cause is None:
            return False
        return cause.session is not self or cause.number <= self._answered

    def _refresh_fast(self) -> None:
        ready = (
            self.state is State.AUTHENTICATED
            and not self._replies
            and self._cipher is None
            and not self.backlogged
        )
        self.fast = self._transport_fast if ready else None

    def transport_blocked(self, blocked: bool) -> None:
        """The transport's buffer is full (or drained): events take the slow path,
        where the transport accounts for what a slow reader has queued, and the hub
        counts this reader in its rooms' back-pressure."""
        if blocked == self.backlogged:
            return
        self.backlogged = blocked
        self._refresh_fast()
        if self.state is State.AUTHENTICATED:
            self.core.hub.set_backlogged(self)

    def pause_reading(self) -> None:
        self._room_paused = True
        self._update_reading()

    def resume_reading(self) -> None:
        self._room_paused = False
        self._update_reading()

    def _update_reading(self) -> None:
        """Pause or resume reading the transport: paused while the hub says so or
        while MAX_IN_FLIGHT answers are owed (resumed at half that)."""
        limit = MAX_IN_FLIGHT // 2 if self._reading_paused else MAX_IN_FLIGHT
        paused = self._room_paused or self._owed >= limit
        if paused == self._reading_paused:
            return
        self._reading_paused = paused
        if paused:
            self.transport.pause_reading()
        else:
            # The time we were not read does not count as idle.
            self._last_frame = self.clock.seconds()
            self.transport.resume_reading()

    def _release_events(self) -> None:
        held, self._held = self._held, None
        if self._release_call is not None and self._release_call.active():
            self._release_call.cancel()
        self._release_call = None
        if held:
            with self.core.hub.outbox.held():
                for event in held:
                    self._write_event(event)

    def _write_event(self, event: Event) -> None:
        if self.state is not State.AUTHENTICATED:
            return
        if self._cipher is not None:
            self.transport.write_payload(self._cipher.encrypt(event.json()))
        else:
            self.transport.write_event(event)

    def close(self, reason: str, notice: LairError | None = None) -> None:
        """Close from the server side (logout, ban, timeout, shutdown); ``notice`` is
        sent first as an ``error`` frame (a ban: ``account_banned``), so the client
        can say why."""
        if self.state is State.CLOSING:
            return
        if notice is not None:
            self.send(error_frame(notice.code, notice.message))
        self.log.info("closing {peer}: {reason}", peer=self.transport.peer, reason=reason)
        self._leave()
        self.state = State.CLOSING
        self.fast = None
        self.transport.close()

    # -- transport callbacks --------------------------------------------------------

    def connected(self, token: str | None = None) -> None:
        """Send ``server_hello``; with ``token`` (WebSocket ``?token=``), authenticate
        at once and send ``authenticate_response`` (PROTOCOL.md §12.1)."""
        self.send(
            {
                "type": "server_hello",
                "version": PROTOCOL_VERSION,
                "server_name": SERVER_NAME,
                "features": ["encryption"],
                "encryption_required": self.settings.encryption_required
                and self.settings.encryption_offered,
            }
        )
        self._arm(self.settings.handshake_timeout)
        if token is not None:
            self._authenticate(token, None)
            self._barrier = self._running > 0  # frames wait for the verdict

    def frame_received(self, payload: bytes) -> None:
        if self.state is State.CLOSING:
            return
        if (
            len(self._pending) >= MAX_PIPELINE
            or self._pending_bytes + len(payload) > MAX_PIPELINE_BYTES
        ):
            self.close("too many frames pipelined")
            return
        if self._cipher is not None:
            try:
                payload = self._cipher.decrypt(payload)
            except DecryptError:
                self.close("frame failed to decrypt")
                return
        if self.state is State.AUTHENTICATED:
            # The idle timer is not moved per frame: it looks at this when it fires.
            self._last_frame = self.clock.seconds()
        else:
            self._arm(self._timeout())
        try:
            message = codec.decode(payload)
        except codec.UndecodableFrame:
            self.close("frame is not UTF-8")
            return
        except codec.InvalidMessage as e:
            message = {"type": "error", "reply": error_frame("invalid_message", e.message)}
        if self._pending or self._barrier or (self._running and message["type"] not in CONCURRENT):
            self._pending.append((message, len(payload)))
            self._pending_bytes += len(payload)
            self._pump()
        else:  # nothing to wait for: no queue to go through
            self._handle(message)

    def frames_received(self, payloads: list[bytes]) -> None:
        """The frames of one read, in order. A run of plaintext ``send_message``
        frames to rooms, on an authenticated connection with nothing queued, is
        handled as one (:func:`commands.send_run`); any other frame, and every frame while
        anything is queued, goes through :meth:`frame_received` as it would alone."""
        if (
            self.state is not State.AUTHENTICATED
            or self._cipher is not None
            or self._pending
            or self._barrier
            or len(payloads) < 2
        ):
            for payload in payloads:
                self.frame_received(payload)
            return
        self._last_frame = self.clock.seconds()
        decode = codec.decode_send_to_room
        run: list[tuple[Any, Any, str]] = []
        for i, payload in enumerate(payloads):
            sent = decode(payload)
            if sent is not None:
                run.append(sent)
                continue
            if run:
                send_run(self, run)
                run = []
            self.frame_received(payload)
            if self.state is not State.AUTHENTICATED or self._pending or self._barrier:
                for rest in payloads[i + 1 :]:
                    self.frame_received(rest)
                return
        if run:
            send_run(self, run)

    def run_reply(self, response_type: str, request_ids: list[Any]) -> Callable[[list], None]:
        """:meth:`command_reply` for a run of frames of one command (see
        :meth:`frames_received`): one slot for them all, in their place; returns
        ``finish(outcomes)``, to be called with each frame's outcome in order."""
        return _RunReply(self, response_type, request_ids)

    def _pump(self) -> None:
        """Handle waiting frames in arrival order, as far as the rules allow."""
        pending = self._pending
        while pending and not self._barrier and self.state is not State.CLOSING:
            message, size = pending[0]
            if message["type"] not in CONCURRENT and self._running:
                return  # wait for the commands in flight
            pending.popleft()
            self._pending_bytes -= size
            self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "error":  # a frame that could not be decoded
            self.respond(message["reply"])
            return
        if self.state is State.AUTHENTICATED and kind not in _SESSION_LEVEL:
            dispatch(self, message)  # a command (the acceptance matrix allows them all)
        else:
            self._session_frame(kind, message)
        # An exclusive command still running blocks everything after it. Only ever
        # raised here (the last reply to finish lowers it): a command that finished at
        # once may have started the frames behind it, an exclusive one among them,
        # whose barrier must stand.
        if kind not in CONCURRENT and self._running:
            self._barrier = True

    def binary_received(self) -> None:
        """WebSocket binary messages are refused; the connection stays open."""
        self._arm(self._timeout())
        self.respond(error_frame("unsupported", "Binary messages not supported"))

    def activity(self) -> None:
        """Transport-level activity (e.g. WebSocket pings) counts for the timeouts."""
        if self.state is not State.CLOSING:
            self._arm(self._timeout())

    def connection_lost(self) -> None:
        self._leave()
        self.state = State.CLOSING
        self.fast = None

    # -- output ---------------------------------------------------------------------

    def respond(self, message: dict[str, Any]) -> None:
        """Answer the frame being handled: at once, or after the responses still owed
        to earlier frames (responses keep the order of the requests)."""
        if self._replies:
            self._owe(_Reply(message))
        else:
            self.send(message)

    def _owe(self, reply: _Reply) -> None:
        """Queue an answer behind those still owed; enough of them stop the reading
        (a client pinging behind a slow write would otherwise fill memory)."""
        self._replies.append(reply)
        self._owed += reply.count
        if self._owed >= MAX_IN_FLIGHT and not self._reading_paused:
            self._update_reading()

    def after_replies(self, action: Callable[[], Any]) -> None:
        """Run ``action`` once every response owed so far has been written."""
        self._after_replies.append(action)
        if not self._replies:
            self._flush_replies()

    def _reply_later(self, start: Callable[[], Any], finish: _CommandReply) -> defer.Deferred:
        """Run ``start`` (the work, once ``finish`` has reserved its slot) and fill the
        slot with its result or failure when it is done."""
        return defer.maybeDeferred(start).addBoth(finish).addErrback(self._unexpected)

    def _flush_replies(self) -> None:
        replies = self._replies
        while replies and replies[0].message is not None:
            slot = replies.popleft()
            self._owed -= slot.count
            if slot.number:
                self._answered = slot.number
            if type(slot) is _RunReply:
                if self.state is not State.CLOSING:
                    self.transport.write_payloads([codec.encode(m) for m in slot.message])
            elif not self.send(slot.message):
                self.send(slot.too_large())
        if self._reading_paused:
            self._update_reading()
        if not replies:
            self._release_events()
            self._refresh_fast()
            actions, self._after_replies = self._after_replies, []
            for action in actions:
                action()

    def send(self, message: dict[str, Any]) -> bool:
        """Write ``message`` as one frame; False, and nothing written, if it is larger
        than a frame may be."""
        if self.state is State.CLOSING:
            return True
        payload = codec.encode(message)
        if self._cipher is not None:
            payload = self._cipher.encrypt(payload)
        if len(payload) > codec.MAX_FRAME:
            self.log.warn(
                "{peer}: {type} of {size} bytes not sent: over 1 MiB",
                peer=self.transport.peer,
                type=message.get("type"),
                size=len(payload),
            )
            return False
        self.transport.write_payload(payload)
        return True

    # -- state machine --------------------------------------------------------------

    def _timeout(self) -> float:
        if self.state in (State.AWAITING_HELLO, State.AWAITING_KEY_EXCHANGE):
            return self.settings.handshake_timeout
        if self.state is State.AWAITING_AUTH:
            return self.settings.auth_timeout
        return min(self.settings.idle_timeout, self._until_expiry())

    def _until_expiry(self) -> float:
        """Seconds until the session has expired (it is valid up to ``expires_at``
        itself), so that the timer closes the connection then."""
        if self.auth_session is None:
            return float("inf")
        return self.auth_session.expires_at - self.clock.seconds() + EXPIRY_MARGIN

    def _arm(self, seconds: float) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.reset(seconds)
        else:
            self._timer = self.clock.callLater(seconds, self._timed_out)

    def _timed_out(self) -> None:
        self._timer = None
        if self.state is State.AUTHENTICATED:
            expired = self.session_error()
            if expired is not None:
                # The session's 24 hours are over: no more events or reads on it (a
                # stolen token must not outlive them). The client logs in again.
                self.send(error_frame(expired.code, expired.message))
                self.close("session expired")
                return
            left = self._last_frame + self.settings.idle_timeout - self.clock.seconds()
            if left > 0:  # a frame came since the timer was set
                self._timer = self.clock.callLater(min(left, self._until_expiry()), self._timed_out)
                return
        self.send(error_frame("timeout", "Connection timed out"))
        self.close("timed out")

    def _leave(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if self._release_call is not None and self._release_call.active():
            self._release_call.cancel()
        self._held = self._release_call = None
        if self.state is State.AUTHENTICATED:
            self.core.hub.detach(self)

    def _session_frame(self, kind: str, message: dict[str, Any]) -> None:
        """A frame the session answers itself, or any frame before authentication."""
        if kind == "ping":
            self.respond({"type": "pong", "server_time": ts_plus(self.clock.seconds())})
            return
        refusal = self._refusal(kind)
        if refusal is not None:
            self.respond(refusal)
            return
        if kind == "client_hello":
            self._hello(message)
        elif kind == "key_exchange":
            self._key_exchange(message)
        elif kind in ("authenticate", "login", "register"):
            self._authenticate(message.get("token"), message)
        else:
            dispatch(self, message)

    def _refusal(self, kind: str) -> dict[str, Any] | None:
        """The acceptance matrix of PROTOCOL.md §3.1."""
        state = self.state
        if state is State.AWAITING_HELLO:
            if kind != "client_hello":
                return error_frame("unauthorized", "Must complete handshake first")
        elif state is State.AWAITING_KEY_EXCHANGE:
            if kind != "key_exchange":
                return error_frame("unauthorized", "Must complete key exchange first")
        elif state is State.AWAITING_AUTH:
            if kind not in ("authenticate", "login", "register"):
                return error_frame("unauthorized", "Must authenticate first")
        elif state is State.AUTHENTICATED:
            if kind in ("client_hello", "authenticate", "login", "register"):
                return error_frame("invalid_state", "Already authenticated")
            if kind == "key_exchange":
                if self.settings.encryption_offered:
                    return error_frame("not_implemented", "Operation not yet implemented")
                return error_frame("not_supported", "Key exchange not needed for WebSocket")
        return None

    def _hello(self, message: dict[str, Any]) -> None:
        version = message["version"]
        if not version.startswith("1."):
            self.send(
                error_frame(
                    "version_mismatch",
                    f"Unsupported protocol version: {codec.clip(version)}. "
                    f"Server supports: {PROTOCOL_VERSION}",
                )
            )
            self.close("version mismatch")
            return
        self.extended = LAIRCHAT_EVENTS in message["features"]
        wants_encryption = "encryption" in message["features"]
        if self.settings.encryption_offered and wants_encryption:
            self._kx = KeyExchange()
            self.state = State.AWAITING_KEY_EXCHANGE
        elif self.settings.encryption_offered and self.settings.encryption_required:
            self.send(error_frame("encryption_required", "This server requires encryption"))
            self.close("client refused encryption")
        else:
            self.state = State.AWAITING_AUTH
            self._arm(self.settings.auth_timeout)

    def _key_exchange(self, message: dict[str, Any]) -> None:
        cipher = self._kx.agree(message["public_key"])
        if cipher is None:
            self.respond(error_frame("invalid_message", "Invalid public key"))
            return
        # Deterministic switch-over: this reply is plaintext, everything after it is not.
        self.send({"type": "key_exchange_response", "public_key": self._kx.public_key_b64})
        self._cipher, self._kx = cipher, None
        self.state = State.AWAITING_AUTH
        self._arm(self.settings.auth_timeout)

    def _authenticate(self, token: Any, message: dict[str, Any] | None) -> None:
        """``authenticate`` (or ``?token=``), and the deprecated ``login``/``register``.
        Frames arriving meanwhile wait, and are handled once it is decided."""
        kind = message["type"] if message else "authenticate"
        request_id = message.get("request_id") if message else None
        response = {"type": f"{kind}_response", "request_id": request_id}
        auth = self.core.auth
        source = address_key(self.transport.host)
        if kind in ("login", "register"):
            decision = self.core.limiter.hit("auth", source)
            if not decision.allowed:
                details = {"retry_after": decision.retry_after, "limit": decision.limit}
                error = LairError("rate_limited", details=details)
                self.respond({**response, "success": False, "error": error.to_wire()})
                return
        # The client a session made here is listed with; only a WebSocket upgrade
        # carries a User-Agent (the attribute is optional for transports).
        seen = Seen.of(self.transport.host, getattr(self.transport, "user_agent", None))
        if kind == "login":
            d = auth.login(
                message["identifier"], message["password"], source, seen, message["totp"]
            )
        elif kind == "register":
            d = auth.register(message["username"], message["email"], message["password"], seen)
        else:
            d = auth.authenticate(token if isinstance(token, str) else "")

        def decided(outcome: Any) -> dict[str, Any]:
            if isinstance(outcome, Failure):
                return {**response, "success": False, "error": error_info(outcome, self.log)}
            if kind == "authenticate":
                user, session = outcome
                body = {"user": user.to_wire(), "session": session.to_wire()}
            else:
                user, session = outcome.user, outcome.session
                body = outcome.to_wire()
            ended = self.core.hub.ended(session.id)  # while it was being checked
            if ended is not None:
                return {**response, "success": False, "error": ended.to_wire()}
            if self.state is not State.CLOSING:
                self._become_authenticated(user, session)
            elif kind != "authenticate":
                # Made for a connection gone meanwhile: nobody has its token.
                auth.logout(session.id).addErrback(self._unexpected)
            return {**response, "success": True, **body}

        self._reply_later(lambda: d, _CommandReply(self, "", None, shape=decided))

    def _become_authenticated(self, user: User, session: AuthSession) -> None:
        self.user, self.auth_session = user, session
        # Presence first (so this connection does not get its own user_online), then
        # the subscription: the hub does both in attach().
        self.state = State.AUTHENTICATED
        fast_path = getattr(self.transport, "fast_path", None)
        self._transport_fast = fast_path() if fast_path is not None else None
        self._refresh_fast()
        self.core.hub.attach(self)
        self._last_frame = self.clock.seconds()
        self._arm(self._timeout())

    def _unexpected(self, failure: Failure) -> None:
        self.log.failure("unexpected error on {peer}", failure, peer=self.transport.peer)

    # -- helpers for command handlers -----------------------------------------------

    def session_error(self) -> LairError | None:
        """Commands run against the session held by the connection: a revoked session
        closes the connection (see the hub), an expired one fails every command."""
        if self.auth_session is None:
            return LairError("session_not_found")
        if self.clock.seconds() > self.auth_session.expires_at:
            return LairError("session_expired")
        return None

    def run_command(
        self,
        response_type: str,
        request_id: Any,
        call: Callable[[], Any],
        on_failure: dict[str, Any] | None = None,
    ) -> defer.Deferred:
        """Run ``call`` (a handler returning a dict of success fields, or a Deferred of
        one) and answer ``{type, request_id, success, ...}``, or the error object plus
        ``on_failure`` fields, in request order. Commands run concurrently (clients
        may pipeline); their responses still come back in the order sent."""

        return self._reply_later(call, self.command_reply(response_type, request_id, on_failure))

    def command_reply(
        self, response_type: str, request_id: Any, on_failure: dict[str, Any] | None = None
    ) -> Callable[[Any], None]:
        """:meth:`run_command` for a handler that finishes by itself: reserve the
        response slot now and return ``finish(fields or failure)``."""
        return _CommandReply(self, response_type, request_id, on_failure)


def answer(
    response_type: str,
    request_id: Any,
    outcome: Any,
    on_failure: dict[str, Any] | None,
    log: Logger,
) -> dict[str, Any]:
    """A command's response: ``{type, request_id, success: true, **fields}`` for its
    success fields, or ``{type, request_id, success: false, **on_failure, error}``
    for a Failure."""
    if isinstance(outcome, Failure):
        return {
            "type": response_type,
            "request_id": request_id,
            "success": False,
            **(on_failure or {}),
            "error": error_info(outcome, log),
        }
    return {"type": response_type, "request_id": request_id, "success": True, **outcome}


def error_info(failure: Failure, log: Logger) -> dict[str, Any]:
    """A failure as the ``{"code","message"}`` wire object; unexpected ones are logged
    and answered with ``internal_error`` (never leaked)."""
    if failure.check(LairError):
        return failure.value.to_wire()
    log.failure("unexpected error in a command", failure)
    return LairError("internal_error").to_wire()
