"""The client side of the real-time protocol over one connection, whatever carries it.

TCP and WebSocket only move JSON objects; this class holds the conversation the
protocol prescribes (PROTOCOL.md §2–§6): wait for ``server_hello``, answer
``client_hello`` (plus ``key_exchange`` when encrypting), ``authenticate`` with the JWT
from the HTTP login, then route every frame either to the request it answers or to
the listener as an event.

Responses are matched to requests by ``request_id`` (lairchat echoes it everywhere);
the original echoes it in only three responses, so an unmatched response goes to the
oldest outstanding request of the same type (the server answers one connection's
requests in order). An event may arrive before the response to the command that
caused it; nothing here depends on that order.

The handshake has the same deadline as a request: a server that never says
``server_hello`` (a TLS port reached without ``--tls`` waits for a TLS handshake
that never comes) or never answers ``authenticate`` fails the attempt instead of
leaving the user at "signing in".
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Protocol

from twisted.internet.defer import Deferred

from lairchat.client.net.errors import ServerError
from lairchat.realtime.crypto import FrameCipher, KeyExchange

__all__ = ["PROTOCOL_VERSION", "Channel", "ClientSession", "SessionListener"]

log = logging.getLogger(__name__)

PROTOCOL_VERSION = "1.0"
#: The hello feature asking for lairchat's own events (room_created,
#: invitation_revoked, messages_read; docs/protocols/TCP.md), which Lair Chat's
#: server never sends.
LAIRCHAT_EVENTS = "lairchat-events"
CLIENT_NAME = "lairchat-client"
REQUEST_TIMEOUT = 15.0


class Channel(Protocol):
    """One open connection that carries JSON objects (TCP or WebSocket)."""

    can_encrypt: bool
    description: str

    def send(self, message: dict[str, Any]) -> None: ...

    def start_encryption(self, cipher: FrameCipher) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class SessionListener(Protocol):
    def session_ready(self, user: dict[str, Any], encrypted: bool) -> None: ...

    def session_failed(self, error: ServerError) -> None: ...

    def session_event(self, event: dict[str, Any]) -> None: ...


def refusal(msg: dict[str, Any], code: str, message: str) -> ServerError:
    """The error a ``success: false`` answer carries (``{"code", "message"}``), or
    ``code`` and ``message`` when it carries none. A server sending the error as a
    bare string, or anything else, is still a refusal with its words: taken as an
    object, it raised out of the frame handler and the connection was dropped."""
    error = msg.get("error")
    if isinstance(error, dict):
        details = error.get("details")
        return ServerError(
            str(error.get("code", code)),
            str(error.get("message", message)),
            details=details if isinstance(details, dict) else None,
        )
    if isinstance(error, str) and error:
        return ServerError(code, error)
    return ServerError(code, message)


class ClientSession:
    """Handshake, authentication, request/response matching and event routing."""

    def __init__(
        self,
        channel: Channel,
        token: str,
        listener: SessionListener,
        clock: Any,
        *,
        encrypt: bool = False,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self.channel = channel
        self.listener = listener
        self.clock = clock
        self.state = "hello"
        self.encrypted = False
        self._token = token
        self._encrypt = encrypt
        self._kx: KeyExchange | None = None
        self._ids = itertools.count(1)
        self._timeout = request_timeout
        #: request_id → (response type, Deferred, timer), in the order sent.
        self._pending: dict[str, tuple[str, Deferred, Any]] = {}
        self._handshake_timer = clock.callLater(request_timeout, self._handshake_timed_out)

    # -- frames in --------------------------------------------------------------------

    def frame_received(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if self.state == "closed":
            return
        if kind == "error" and self.state != "ready":
            self._fail(ServerError(str(msg.get("code")), str(msg.get("message", ""))))
            return
        if self.state == "hello":
            if kind == "server_hello":
                self._hello(msg)
            return
        if self.state == "key_exchange":
            if kind == "key_exchange_response":
                self._key_exchange(msg)
            return
        if self.state == "auth":
            if kind == "authenticate_response":
                self._authenticated(msg)
            return
        if kind == "pong":
            return
        if isinstance(kind, str) and kind.endswith("_response"):
            self._response(msg)
            return
        self.listener.session_event(msg)

    def _hello(self, msg: dict[str, Any]) -> None:
        features = msg.get("features")
        features = features if isinstance(features, list) else []
        hello: dict[str, Any] = {
            "type": "client_hello",
            "version": PROTOCOL_VERSION,
            "client_name": CLIENT_NAME,
            # lairchat's own events (TCP.md); a server that does not know it ignores it.
            "features": [LAIRCHAT_EVENTS],
        }
        if self._encrypt:
            if not self.channel.can_encrypt:
                pass  # WebSocket: TLS (wss://) is its encryption
            elif "encryption" not in features:
                self._fail(ServerError("encryption_unavailable", "Server offers no encryption"))
                return
            else:
                self._kx = KeyExchange()
                hello["features"] = ["encryption", LAIRCHAT_EVENTS]
                self.channel.send(hello)
                self.channel.send({"type": "key_exchange", "public_key": self._kx.public_key_b64})
                self.state = "key_exchange"
                return
        elif msg.get("encryption_required") and self.channel.can_encrypt:
            self._fail(ServerError("encryption_required", "The server requires --encrypt on TCP"))
            return
        self.channel.send(hello)
        self._authenticate()

    def _key_exchange(self, msg: dict[str, Any]) -> None:
        assert self._kx is not None
        cipher = self._kx.agree(msg.get("public_key"))  # type: ignore[arg-type]
        if cipher is None:
            self._fail(ServerError("key_exchange_failed", "The server sent an unusable key"))
            return
        self.channel.start_encryption(cipher)
        self.encrypted = True
        self._authenticate()

    def _authenticate(self) -> None:
        self.state = "auth"
        self.channel.send({"type": "authenticate", "token": self._token, "request_id": "auth"})

    def _authenticated(self, msg: dict[str, Any]) -> None:
        if not msg.get("success"):
            self._fail(refusal(msg, "auth_failed", "Authentication failed"))
            return
        self.state = "ready"
        self._stop_handshake_timer()
        user = msg.get("user")
        self.listener.session_ready(user if isinstance(user, dict) else {}, self.encrypted)

    def _handshake_timed_out(self) -> None:
        if self.state == "hello":
            error = ServerError(
                "no_greeting", f"The server sent no greeting within {self._timeout:.0f} s"
            )
        else:
            error = ServerError("timeout", "The server did not answer in time")
        self._fail(error)

    def _stop_handshake_timer(self) -> None:
        if self._handshake_timer.active():
            self._handshake_timer.cancel()

    def _fail(self, error: ServerError) -> None:
        if self.state == "closed":
            return
        self.state = "closed"
        self._stop_handshake_timer()
        self._fail_pending(error)
        self.listener.session_failed(error)

    # -- requests -----------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        """Fire and forget (``typing``, ``ping``)."""
        if self.state == "ready":
            self.channel.send(message)

    def request(self, message: dict[str, Any]) -> Deferred:
        """Send a command; the Deferred fires with its successful ``*_response`` or
        fails with :class:`ServerError` (refusal, timeout, lost connection)."""
        d: Deferred = Deferred()
        if self.state != "ready":
            d.errback(ServerError("offline", "Not connected to the server"))
            return d
        request_id = f"r{next(self._ids)}"
        expected = f"{message['type']}_response"
        try:
            self.channel.send({**message, "request_id": request_id})
        except ValueError:  # over the frame limit (tcp.py): nothing was sent
            d.errback(ServerError("too_large", "Too large to send (over the 1 MiB frame limit)"))
            return d
        timer = self.clock.callLater(self._timeout, self._timed_out, request_id)
        self._pending[request_id] = (expected, d, timer)
        return d

    def _timed_out(self, request_id: str) -> None:
        entry = self._pending.pop(request_id, None)
        if entry is not None:
            entry[1].errback(ServerError("timeout", "The server did not answer in time"))

    def _response(self, msg: dict[str, Any]) -> None:
        request_id = msg.get("request_id")
        entry = self._pending.pop(request_id, None) if isinstance(request_id, str) else None
        if entry is None or entry[0] != msg.get("type"):
            if entry is not None:  # an id we know with another type: put it back
                self._pending[request_id] = entry  # type: ignore[index]
            entry = None
            for rid, candidate in self._pending.items():
                if candidate[0] == msg.get("type"):
                    entry = self._pending.pop(rid)
                    break
        if entry is None:
            log.debug("unmatched response %s", msg.get("type"))
            return
        _, d, timer = entry
        if timer.active():
            timer.cancel()
        if msg.get("success", True):
            d.callback(msg)
        else:
            d.errback(refusal(msg, "error", ""))

    def _fail_pending(self, error: ServerError) -> None:
        pending, self._pending = self._pending, {}
        for _, d, timer in pending.values():
            if timer.active():
                timer.cancel()
            d.errback(error)

    def connection_lost(self) -> None:
        """The channel is gone: every outstanding request fails."""
        self.state = "closed"
        self._stop_handshake_timer()
        self._fail_pending(ServerError("disconnected", "The connection to the server was lost"))
