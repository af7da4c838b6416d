"""The client's transports: the real-time session, TCP framing and encryption, the
reconnecting link, the REST client and the command line (lairchat/client/net, config).

The last tests connect the client's TCP channel to lairchat's own TCP protocol in
memory (``twisted.test.iosim``), plain and encrypted, to show the two halves agree on
the wire.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest
from argon2 import PasswordHasher, Type
from OpenSSL import SSL
from twisted.internet import defer, task
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.test.iosim import connect, makeFakeClient, makeFakeServer
from twisted.web.client import ResponseDone
from twisted.web.iweb import UNKNOWN_LENGTH

from lairchat.client.config import (
    ClientConfig,
    derive_http_url,
    http_url_from_ws,
    parse_args,
    parse_server,
    ws_url_from_http,
)
from lairchat.client.net.errors import ServerError, network_code, network_reason
from lairchat.client.net.http import HttpApi
from lairchat.client.net.link import Backoff, Link
from lairchat.client.net.session import ClientSession
from lairchat.client.net.tcp import TCPChannel
from lairchat.client.net.tls import SYSTEM_TRUST
from lairchat.core import passwords
from lairchat.realtime.crypto import FrameCipher, KeyExchange
from lairchat.realtime.session import SessionSettings
from lairchat.testing import make_core, result
from lairchat.transports.tcp import LairTCPFactory

HELLO = {
    "type": "server_hello",
    "version": "1.0",
    "server_name": "Lair Chat",
    "features": ["encryption"],
    "encryption_required": False,
}
USER = {"id": "u1", "username": "alice"}


class FakeChannel:
    def __init__(self, can_encrypt: bool = True) -> None:
        self.can_encrypt = can_encrypt
        self.description = "fake"
        self.sent: list[dict[str, Any]] = []
        self.cipher: FrameCipher | None = None
        self.closed = False
        self.aborted = False

    def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def start_encryption(self, cipher: FrameCipher) -> None:
        self.cipher = cipher

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def types(self) -> list[str]:
        return [m["type"] for m in self.sent]


class Listener:
    def __init__(self) -> None:
        self.ready: list[tuple[dict[str, Any], bool]] = []
        self.failed: list[ServerError] = []
        self.events: list[dict[str, Any]] = []

    def session_ready(self, user: dict[str, Any], encrypted: bool) -> None:
        self.ready.append((user, encrypted))

    def session_failed(self, error: ServerError) -> None:
        self.failed.append(error)

    def session_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)


def session(
    encrypt: bool = False, can_encrypt: bool = True
) -> tuple[ClientSession, FakeChannel, Listener, task.Clock]:
    channel, listener, clock = FakeChannel(can_encrypt), Listener(), task.Clock()
    return ClientSession(channel, "jwt", listener, clock, encrypt=encrypt), channel, listener, clock


def ready_session() -> tuple[ClientSession, FakeChannel, Listener, task.Clock]:
    s, channel, listener, clock = session()
    s.frame_received(HELLO)
    s.frame_received(
        {"type": "authenticate_response", "request_id": "auth", "success": True, "user": USER}
    )
    channel.sent.clear()
    return s, channel, listener, clock


def outcome(d: defer.Deferred) -> Any:
    box: list[Any] = []
    d.addBoth(box.append)
    assert box, "Deferred has not fired"
    return box[0]


# -- the session ---------------------------------------------------------------------------


def test_plain_handshake() -> None:
    s, channel, listener, _ = session()
    assert channel.sent == []
    s.frame_received(HELLO)
    assert channel.sent == [
        {
            "type": "client_hello",
            "version": "1.0",
            "client_name": "lairchat-client",
            "features": ["lairchat-events"],
        },
        {"type": "authenticate", "token": "jwt", "request_id": "auth"},
    ]
    s.frame_received(
        {"type": "authenticate_response", "request_id": "auth", "success": True, "user": USER}
    )
    assert listener.ready == [(USER, False)]
    assert s.state == "ready"


def test_encrypted_handshake_switches_after_the_key_exchange_response() -> None:
    s, channel, listener, _ = session(encrypt=True)
    s.frame_received(HELLO)
    assert channel.types() == ["client_hello", "key_exchange"]
    assert channel.sent[0]["features"] == ["encryption", "lairchat-events"]
    server = KeyExchange()
    client_key = channel.sent[1]["public_key"]
    s.frame_received({"type": "key_exchange_response", "public_key": server.public_key_b64})
    assert channel.cipher is not None
    assert channel.types()[-1] == "authenticate"
    # both ends hold the same key
    server_cipher = server.agree(client_key)
    assert server_cipher is not None
    assert server_cipher.decrypt(channel.cipher.encrypt(b"x")) == b"x"
    s.frame_received(
        {"type": "authenticate_response", "request_id": "auth", "success": True, "user": USER}
    )
    assert listener.ready == [(USER, True)]


def test_websocket_ignores_encrypt_since_tls_covers_it() -> None:
    s, channel, listener, _ = session(encrypt=True, can_encrypt=False)
    s.frame_received(HELLO)
    assert channel.types() == ["client_hello", "authenticate"]
    assert channel.sent[0]["features"] == ["lairchat-events"]  # no encryption asked


def test_encryption_asked_but_not_offered() -> None:
    s, channel, listener, _ = session(encrypt=True)
    s.frame_received({**HELLO, "features": []})
    assert [e.code for e in listener.failed] == ["encryption_unavailable"]


def test_bad_server_key_fails_the_handshake() -> None:
    s, channel, listener, _ = session(encrypt=True)
    s.frame_received(HELLO)
    s.frame_received({"type": "key_exchange_response", "public_key": "not a key"})
    assert [e.code for e in listener.failed] == ["key_exchange_failed"]


def test_refused_token_and_error_frames_fail_the_handshake() -> None:
    s, channel, listener, _ = session()
    s.frame_received(HELLO)
    s.frame_received(
        {
            "type": "authenticate_response",
            "request_id": "auth",
            "success": False,
            "error": {"code": "token_expired", "message": "Token expired"},
        }
    )
    assert [(e.code, e.session_lost) for e in listener.failed] == [("token_expired", True)]
    s2, _, listener2, _ = session()
    s2.frame_received({"type": "error", "code": "version_mismatch", "message": "Unsupported"})
    assert [e.code for e in listener2.failed] == ["version_mismatch"]


def test_a_silent_server_fails_the_handshake_in_time() -> None:
    """A TLS port reached without --tls never says server_hello: no endless wait."""
    s, channel, listener, clock = session()
    clock.advance(14.9)
    assert listener.failed == []
    clock.advance(0.1)
    assert [(e.code, str(e)) for e in listener.failed] == [
        ("no_greeting", "The server sent no greeting within 15 s")
    ]
    s2, _, listener2, clock2 = session()
    s2.frame_received(HELLO)  # greeted, but authenticate goes unanswered
    clock2.advance(15)
    assert [e.code for e in listener2.failed] == ["timeout"]


def test_the_handshake_deadline_ends_with_the_handshake() -> None:
    s, _, listener, clock = ready_session()
    clock.advance(60)
    assert listener.failed == [] and s.state == "ready"
    s2, _, listener2, clock2 = session()
    s2.connection_lost()
    clock2.advance(60)
    assert listener2.failed == []


def test_requests_match_by_echoed_request_id() -> None:
    s, channel, _, _ = ready_session()
    d1 = s.request({"type": "join_room", "room_id": "r1"})
    d2 = s.request({"type": "join_room", "room_id": "r2"})
    ids = [m["request_id"] for m in channel.sent]
    assert len(set(ids)) == 2
    s.frame_received({"type": "join_room_response", "request_id": ids[1], "success": True, "n": 2})
    s.frame_received({"type": "join_room_response", "request_id": ids[0], "success": True, "n": 1})
    assert outcome(d1)["n"] == 1 and outcome(d2)["n"] == 2


def test_requests_match_in_order_when_the_server_does_not_echo() -> None:
    s, _, _, _ = ready_session()
    d1 = s.request({"type": "send_message", "content": "a"})
    d2 = s.request({"type": "send_message", "content": "b"})
    s.frame_received({"type": "send_message_response", "request_id": None, "success": True, "n": 1})
    s.frame_received(
        {
            "type": "send_message_response",
            "request_id": None,
            "success": False,
            "error": {"code": "content_invalid", "message": "Content invalid: empty"},
        }
    )
    assert outcome(d1)["n"] == 1
    failure = outcome(d2)
    assert isinstance(failure, Failure) and failure.value.code == "content_invalid"


def test_requests_time_out_and_fail_when_the_connection_goes() -> None:
    s, _, _, clock = ready_session()
    d1 = s.request({"type": "send_message"})
    clock.advance(15)
    assert outcome(d1).value.code == "timeout"
    d2 = s.request({"type": "send_message"})
    s.connection_lost()
    assert outcome(d2).value.code == "disconnected"
    assert outcome(s.request({"type": "send_message"})).value.code == "offline"


def test_events_go_to_the_listener_and_pongs_do_not() -> None:
    s, _, listener, _ = ready_session()
    s.frame_received({"type": "pong", "server_time": "2025-01-21T12:00:00+00:00"})
    s.frame_received({"type": "user_online", "user_id": "u2", "username": "bob"})
    s.frame_received({"type": "error", "code": "invalid_message", "message": "x"})
    assert [e["type"] for e in listener.events] == ["user_online", "error"]


# -- TCP framing ---------------------------------------------------------------------------


class Handlers:
    def __init__(self) -> None:
        self.opened: list[Any] = []
        self.frames: list[dict[str, Any]] = []
        self.closed: list[str] = []

    def channel_open(self, channel: Any) -> None:
        self.opened.append(channel)

    def frame_received(self, message: dict[str, Any]) -> None:
        self.frames.append(message)

    def channel_closed(self, reason: str) -> None:
        self.closed.append(reason)


def frame(payload: bytes) -> bytes:
    return struct.pack("!I", len(payload)) + payload


def tcp_channel() -> tuple[TCPChannel, StringTransport, Handlers]:
    handlers = Handlers()
    channel = TCPChannel(handlers)
    transport = StringTransport()
    channel.makeConnection(transport)
    return channel, transport, handlers


def test_tcp_frames_are_length_prefixed_json() -> None:
    channel, transport, handlers = tcp_channel()
    assert handlers.opened == [channel]
    channel.send({"type": "ping"})
    assert transport.value() == frame(b'{"type":"ping"}')
    channel.dataReceived(frame(json.dumps(HELLO).encode())[:7])
    channel.dataReceived(frame(json.dumps(HELLO).encode())[7:] + frame(b"[1]") + frame(b"{bad"))
    assert handlers.frames == [HELLO]  # non-objects and bad JSON are dropped
    channel.connectionLost(Failure(ConnectionDone()))
    assert handlers.closed == ["the server closed the connection"]


def test_tcp_encryption_both_ways() -> None:
    channel, transport, handlers = tcp_channel()
    key = bytes(range(32))
    channel.start_encryption(FrameCipher(key))
    peer = FrameCipher(key)
    channel.send({"type": "ping"})
    (size,) = struct.unpack("!I", transport.value()[:4])
    assert peer.decrypt(transport.value()[4 : 4 + size]) == b'{"type":"ping"}'
    channel.dataReceived(frame(peer.encrypt(b'{"type":"pong"}')))
    assert handlers.frames == [{"type": "pong"}]
    channel.dataReceived(frame(b"\x00" * 40))  # fails authentication
    assert transport.disconnecting


def test_tcp_oversized_frame_drops_the_connection() -> None:
    channel, transport, _ = tcp_channel()
    channel.dataReceived(struct.pack("!I", 2_000_000))
    assert transport.disconnecting


# -- the reconnecting link -----------------------------------------------------------------


class LinkListener:
    def __init__(self) -> None:
        self.states: list[tuple[str, str]] = []
        self.ready: list[bool] = []
        self.failed: list[str] = []
        self.events: list[dict[str, Any]] = []

    def link_state(self, state: str, detail: str) -> None:
        self.states.append((state, detail))

    def link_ready(self, user: dict[str, Any], encrypted: bool, reconnected: bool) -> None:
        self.ready.append(reconnected)

    def link_failed(self, error: ServerError) -> None:
        self.failed.append(error.code)

    def link_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)


class Opener:
    """Each call is one connection attempt the test drives by hand."""

    def __init__(self) -> None:
        self.attempts: list[tuple[Any, defer.Deferred]] = []

    def __call__(self, handlers: Any) -> defer.Deferred:
        d: defer.Deferred = defer.Deferred()
        self.attempts.append((handlers, d))
        return d

    def accept(self, index: int = -1, auth_ok: bool = True) -> FakeChannel:
        handlers, d = self.attempts[index]
        channel = FakeChannel()
        handlers.channel_open(channel)
        d.callback(channel)
        handlers.frame_received(HELLO)
        handlers.frame_received(
            {"type": "authenticate_response", "request_id": "auth", "success": True, "user": USER}
            if auth_ok
            else {
                "type": "authenticate_response",
                "request_id": "auth",
                "success": False,
                "error": {"code": "session_not_found", "message": "Session not found"},
            }
        )
        return channel

    def refuse(self, index: int = -1) -> None:
        self.attempts[index][1].errback(ConnectionRefusedError())


def make_link() -> tuple[Link, Opener, LinkListener, task.Clock]:
    clock, opener, listener = task.Clock(), Opener(), LinkListener()
    link = Link(clock, opener, "jwt", listener, backoff=Backoff(jitter=0))
    return link, opener, listener, clock


def test_backoff_doubles_up_to_a_cap() -> None:
    backoff = Backoff(jitter=0)
    assert [backoff.next() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    backoff.reset()
    assert backoff.next() == 1
    jittery = Backoff(rand=lambda: 1.0)
    assert jittery.next() == pytest.approx(1.2)


def test_first_connection_failure_is_reported_not_retried() -> None:
    link, opener, listener, clock = make_link()
    link.start()
    opener.refuse()
    assert listener.failed == ["unreachable"]
    assert listener.states[-1] == ("offline", "connection refused")
    clock.advance(60)
    assert len(opener.attempts) == 1


def test_lost_link_reconnects_with_backoff_and_reauthenticates() -> None:
    link, opener, listener, clock = make_link()
    link.start()
    first = opener.accept()
    assert listener.ready == [False] and link.online
    opener.attempts[0][0].channel_closed("connection lost")
    assert listener.states[-1] == ("waiting", "connection lost")
    assert link.retry_in == 1
    clock.advance(1)
    assert len(opener.attempts) == 2
    opener.refuse()
    assert link.retry_in == 2
    clock.advance(2)
    second = opener.accept()
    assert listener.ready == [False, True]
    assert second.sent[-1] == {"type": "authenticate", "token": "jwt", "request_id": "auth"}
    assert first is not second


def test_refused_session_on_reconnect_stops_for_good() -> None:
    link, opener, listener, clock = make_link()
    link.start()
    opener.accept()
    opener.attempts[0][0].channel_closed("gone")
    clock.advance(1)
    opener.accept(auth_ok=False)
    assert listener.failed == ["session_not_found"]
    clock.advance(100)
    assert len(opener.attempts) == 2


def test_a_session_the_server_ends_is_reported_with_its_reason() -> None:
    """A ban (or a logout elsewhere) arrives as an error frame, then the close. The
    link reconnected, was refused with session_not_found, and the user read only
    "your session has ended"; it now stops at the frame and reports the ban."""
    link, opener, listener, clock = make_link()
    link.start()
    opener.accept()
    handlers = opener.attempts[0][0]
    handlers.frame_received({"type": "error", "code": "account_banned", "message": "Banned: spam"})
    handlers.channel_closed("closed by the server")
    assert listener.failed == ["account_banned"]
    assert listener.events == []
    assert listener.states[-1] == ("offline", "Banned: spam")
    clock.advance(100)
    assert len(opener.attempts) == 1  # no reconnection


def test_other_error_frames_are_events() -> None:
    link, opener, listener, _ = make_link()
    link.start()
    opener.accept()
    frame = {"type": "error", "code": "invalid_message", "message": "Unknown type"}
    opener.attempts[0][0].frame_received(frame)
    assert listener.events == [frame] and listener.failed == [] and link.online


def test_keepalive_pings_and_silence_drops_the_link() -> None:
    link, opener, listener, clock = make_link()
    link.start()
    channel = opener.accept()
    channel.sent.clear()
    clock.advance(30)
    assert channel.sent == [{"type": "ping"}]
    handlers = opener.attempts[0][0]
    handlers.frame_received({"type": "pong"})
    clock.advance(30)
    clock.advance(30)
    assert not channel.aborted
    clock.advance(30)  # 90 s without a frame
    assert channel.aborted


def test_reconnect_now_and_stop() -> None:
    link, opener, listener, clock = make_link()
    link.start()
    channel = opener.accept()
    link.reconnect_now()
    assert channel.aborted and len(opener.attempts) == 2
    opener.accept()
    assert listener.ready == [False, True]
    link.stop()
    assert link.state == "stopped"
    assert not link.send({"type": "ping"})
    assert outcome(link.request({"type": "x"})).value.code == "offline"


def test_events_reach_the_listener() -> None:
    link, opener, listener, _ = make_link()
    link.start()
    opener.accept()
    opener.attempts[0][0].frame_received({"type": "user_online", "user_id": "u2", "username": "b"})
    assert listener.events == [{"type": "user_online", "user_id": "u2", "username": "b"}]


# -- the REST client -------------------------------------------------------------------------


class Headers:
    def __init__(self, raw: dict[bytes, list[bytes]]) -> None:
        self.raw = raw

    def getRawHeaders(self, name: bytes) -> list[bytes] | None:  # noqa: N802
        return self.raw.get(name)


class Response:
    """An answer (an ``IResponse``): its body is delivered in 64 KiB pieces, then
    the end, unless ``stall`` (a server that never finishes)."""

    def __init__(
        self,
        code: int,
        body: bytes,
        headers: dict[bytes, list[bytes]] | None = None,
        stall: bool = False,
    ):
        self.code = code
        self.body = body
        self.headers = Headers(headers or {})
        self.length = len(body) if not stall else UNKNOWN_LENGTH
        self.stall = stall

    def deliverBody(self, protocol: Any) -> None:  # noqa: N802
        for at in range(0, len(self.body), 1 << 16):
            protocol.dataReceived(self.body[at : at + (1 << 16)])
        if not self.stall:
            protocol.connectionLost(Failure(ResponseDone()))


class StubClient:
    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> defer.Deferred:
        self.requests.append((method, url, kwargs))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            return defer.fail(answer)
        if isinstance(answer, defer.Deferred):  # an answer the test gives later
            return answer
        return defer.succeed(answer)


def api(*answers: Any) -> tuple[HttpApi, StubClient]:
    client = StubClient(*answers)
    return HttpApi("http://chat.test:8082/", task.Clock(), client=client), client


def run(coro: Any) -> Any:
    return outcome(defer.ensureDeferred(coro))


def test_login_keeps_the_token_for_later_requests() -> None:
    http, client = api(
        Response(200, b'{"user":{},"session":{},"token":"T"}'),
        Response(200, b'{"rooms":[],"has_more":false,"total_count":0}'),
    )
    assert run(http.login("alice", "pw"))["token"] == "T"
    method, url, kwargs = client.requests[0]
    assert (method, url) == ("POST", "http://chat.test:8082/api/v1/auth/login")
    assert kwargs["json"] == {"identifier": "alice", "password": "pw"}
    assert "Authorization" not in kwargs["headers"]
    assert run(http.my_rooms()) == []
    _, url, kwargs = client.requests[1]
    assert kwargs["headers"]["Authorization"] == ["Bearer T"]
    assert kwargs["params"] == {"joined_only": "true", "limit": 100, "offset": 0}


def test_history_paging_parameters() -> None:
    http, client = api(Response(200, b'{"messages":[{"id":"m1"}],"has_more":true}'))
    page, more = run(http.history("dm", "u2", limit=50, before="m9"))
    assert page == [{"id": "m1"}] and more
    assert client.requests[0][2]["params"] == {
        "target_type": "direct_message",
        "target_id": "u2",
        "limit": 50,
        "before": "m9",
    }


def test_error_envelopes_become_server_errors() -> None:
    body = b'{"error":{"code":"invalid_credentials","message":"Invalid credentials"}}'
    http, _ = api(Response(401, body))
    failure = run(http.login("alice", "bad"))
    assert isinstance(failure.value, ServerError)
    assert (failure.value.code, failure.value.status) == ("invalid_credentials", 401)
    assert failure.value.describe() == "Invalid credentials"


def test_rate_limit_says_when_to_retry() -> None:
    body = json.dumps(
        {
            "error": {
                "code": "rate_limited",
                "message": "Too many requests",
                "details": {"retry_after": 42, "limit": 10},
            }
        }
    ).encode()
    http, _ = api(Response(429, body), Response(429, b"slow down", {b"retry-after": [b"7"]}))
    first = run(http.rooms()).value
    assert first.describe() == "Rate limited by the server: try again in 42 s"
    second = run(http.rooms()).value
    assert (second.code, second.retry_after) == ("rate_limited", 7)


def test_token_expiry_and_plain_text_errors() -> None:
    expired = (
        b'{"error":{"code":"token_expired","message":"Token has expired, please login again"}}'
    )
    http, _ = api(Response(401, expired), Response(502, b"Bad gateway"))
    error = run(http.invitations()).value
    assert (
        error.session_lost and error.describe() == "Your session has expired: please log in again"
    )
    error = run(http.invitations()).value
    assert (error.code, error.message) == ("http_502", "HTTP 502: Bad gateway")


def test_network_failures_have_codes() -> None:
    http, _ = api(ConnectionRefusedError(), defer.CancelledError())
    error = run(http.login("a", "b")).value
    assert error.code == "unreachable"
    assert error.message == "Cannot reach the server at http://chat.test:8082 (connection refused)"
    error = run(http.login("a", "b")).value
    assert error.code == "timeout"


def test_tls_failures_say_what_to_change() -> None:
    unverified = SSL.Error([("SSL routines", "", "certificate verify failed")])
    assert network_reason(unverified).endswith(
        "use --insecure for a self-signed development certificate"
    )
    not_tls = SSL.Error([("SSL routines", "", "wrong version number")])
    assert network_reason(not_tls) == "the server does not speak TLS on that port"
    assert network_code(not_tls) == "tls_error"


# -- options ---------------------------------------------------------------------------------


def test_default_options_match_the_original() -> None:
    config = parse_args([])
    assert (config.host, config.port, config.http_url) == (
        "127.0.0.1",
        8080,
        "http://127.0.0.1:8082",
    )
    assert config.transport_name == "TCP"
    assert not (config.websocket or config.encrypt)
    assert config.trust == SYSTEM_TRUST


def test_options() -> None:
    config = parse_args(
        [
            "--server",
            "chat.example:9000",
            "--websocket",
            "--insecure",
            "--http-url",
            "https://chat.example/",
        ]
    )
    assert config.http_url == "https://chat.example"
    assert config.transport_name == "WSS"
    assert config.trust.insecure
    assert ws_url_from_http(config.http_url) == "wss://chat.example/ws"
    assert ws_url_from_http("http://127.0.0.1:8082") == "ws://127.0.0.1:8082/ws"
    assert parse_args(["-s", "10.0.0.1:7000", "--encrypt"]).http_url == "http://10.0.0.1:7002"


def test_server_addresses() -> None:
    assert parse_server("[::1]:8080") == ("::1", 8080)
    assert derive_http_url("::1", 8080) == "http://[::1]:8082"
    for bad in ["localhost", ":80", "host:0", "host:x", "[::1]8080"]:
        with pytest.raises(ValueError):
            parse_server(bad)
    with pytest.raises(SystemExit):
        parse_args(["--server", "nonsense"])
    with pytest.raises(SystemExit):
        parse_args(["--http-url", "ftp://x"])


def test_encrypt_over_websocket_is_refused_not_ignored(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["--websocket", "--encrypt"])
    assert exited.value.code == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error == (
        "lairchat-client: error: --encrypt is for TCP; over WebSocket use --tls (wss://) instead"
    )
    with pytest.raises(ValueError, match="--encrypt is for TCP"):
        ClientConfig(websocket=True, encrypt=True)


def test_tls_option() -> None:
    config = parse_args(["-s", "chat.example:9000", "--tls"])
    assert (config.tls, config.http_url) == (True, "https://chat.example:9002")
    assert config.transport_name == "TCP+TLS"
    assert config.with_server("other.example:7000").http_url == "https://other.example:7002"
    # a server with TLS on its TCP port only: the REST URL may stay http://
    plain_rest = parse_args(["--tls", "--encrypt", "--http-url", "http://127.0.0.1:8082"])
    assert (plain_rest.tls, plain_rest.encrypt, plain_rest.http_url) == (
        True,
        True,
        "http://127.0.0.1:8082",
    )
    ws = parse_args(["-s", "chat.example:9000", "--tls", "--websocket"])
    assert (ws.transport_name, ws.ws_url) == ("WSS", "wss://chat.example:9002/ws")
    with pytest.raises(SystemExit):
        parse_args(["--tls", "--websocket", "--http-url", "http://chat.example:9002"])


def test_websocket_address_is_its_url() -> None:
    """What the login screen shows and edits: the address that mode connects to."""
    tcp = ClientConfig()
    assert tcp.address == "127.0.0.1:8080"
    assert tcp.with_address("10.0.0.1:9000").http_url == "http://10.0.0.1:9002"
    ws = ClientConfig(websocket=True, http_url="http://127.0.0.1:8082")
    assert ws.address == "ws://127.0.0.1:8082/ws"
    assert ws.with_address(" ws://127.0.0.1:8082/ws ") is ws
    moved = ws.with_address("wss://chat.example/lair/ws")
    assert (moved.http_url, moved.transport_name) == ("https://chat.example/lair", "WSS")
    assert moved.with_address("ws://10.0.0.1:9000").address == "ws://10.0.0.1:9000/ws"
    assert http_url_from_ws("ws://[::1]:8082/ws") == "http://[::1]:8082"
    for bad in ["127.0.0.1:8082", "http://h:8082/ws", "ws://:8082/ws", "ws://h:99999/ws"]:
        with pytest.raises(ValueError):
            ws.with_address(bad)


def test_editing_the_server_derives_a_new_http_url() -> None:
    config = ClientConfig(server="127.0.0.1:8080", http_url="http://127.0.0.1:9999")
    assert config.with_server("127.0.0.1:8080") is config
    moved = config.with_server("10.1.1.1:5000")
    assert (moved.host, moved.port, moved.http_url) == ("10.1.1.1", 5000, "http://10.1.1.1:5002")


# -- against lairchat's own TCP protocol, in memory ----------------------------------------


@pytest.fixture
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        passwords,
        "HASHER",
        PasswordHasher(
            time_cost=1, memory_cost=8, parallelism=1, hash_len=16, salt_len=16, type=Type.ID
        ),
    )


class Wire:
    """A lairchat core with its TCP factory, and client links connected in memory."""

    def __init__(self) -> None:
        self.clock = task.Clock()
        self.core = make_core(clock=self.clock)
        self.factory = LairTCPFactory(self.core, SessionSettings("tcp"), self.clock, 0)
        self.pumps: list[Any] = []

    def opener(self, handlers: Any) -> defer.Deferred:
        server = self.factory.buildProtocol(
            IPv4Address("TCP", "127.0.0.1", 40000 + len(self.pumps))
        )
        client = TCPChannel(handlers)
        self.pumps.append(connect(server, makeFakeServer(server), client, makeFakeClient(client)))
        return defer.succeed(client)

    def flush(self) -> None:
        """Pump every connection until none moves (one's event feeds another)."""
        while any([pump.pump() for pump in self.pumps]):
            pass


@pytest.mark.parametrize("encrypt", [False, True])
def test_client_and_server_agree_on_the_wire(cheap_hashing: None, encrypt: bool) -> None:
    wire = Wire()
    alice = result(wire.core.auth.register("alice", "alice@example.com", "password1"))
    bob = result(wire.core.auth.register("bob", "bob@example.com", "password1"))
    room = result(wire.core.rooms.create(alice.user, "general", None, None))
    result(wire.core.rooms.join(bob.user, room.id))

    links = {}
    listeners = {}
    for name, auth in (("alice", alice), ("bob", bob)):
        listeners[name] = LinkListener()
        links[name] = Link(wire.clock, wire.opener, auth.token, listeners[name], encrypt=encrypt)
        links[name].start()
    wire.flush()
    assert listeners["alice"].ready == [False] and listeners["bob"].ready == [False]
    assert links["alice"].encrypted is encrypt

    target = {"type": "room", "room_id": room.id}
    d = links["bob"].request({"type": "send_message", "target": target, "content": "hi alice"})
    wire.flush()
    response = outcome(d)
    assert response["success"] and response["message"]["content"] == "hi alice"
    got = [e for e in listeners["alice"].events if e["type"] == "message_received"]
    assert [(e["author_username"], e["message"]["content"]) for e in got] == [("bob", "hi alice")]

    links["bob"].send({"type": "typing", "target": target})
    wire.flush()
    assert [e["type"] for e in listeners["alice"].events][-1] == "user_typing"

    wire.clock.advance(30)  # keepalive ping, answered by a pong the session swallows
    wire.flush()
    assert links["alice"].online


def test_a_user_is_searched_by_name_in_one_request() -> None:
    http, client = api(
        Response(200, b'{"users":[{"user":{"id":"u1","username":"zed"},"online":true}]}')
    )
    assert run(http.search_users("zed")) == [
        {"user": {"id": "u1", "username": "zed"}, "online": True}
    ]
    method, url, kwargs = client.requests[0]
    assert (method, url) == ("GET", "http://chat.test:8082/api/v1/users")
    assert kwargs["params"] == {"search": "zed", "limit": 100}


def test_a_server_that_drops_each_connection_at_once_is_retried_ever_later() -> None:
    """The backoff started again at every successful authentication, so a server
    that accepted and then dropped each connection at once (overloaded, or a broken
    proxy) was reconnected to every second, each time with every list fetched
    again. It now starts again only after a connection that lasted (30 s)."""
    link, opener, listener, clock = make_link()
    link.start()
    waits = []
    for _ in range(5):
        opener.accept()
        opener.attempts[-1][0].channel_closed("connection lost")
        waits.append(link.retry_in)
        clock.advance(link.retry_in)
    assert waits == [1, 2, 4, 8, 16]
    opener.accept()
    clock.advance(31)
    opener.attempts[-1][0].channel_closed("connection lost")
    assert link.retry_in == 1


def test_a_request_over_the_frame_limit_fails_at_once() -> None:
    """A message over the TCP frame limit (a paste of a megabyte) raised from the
    channel's send after the request was registered: the caller never got its
    Deferred, its line stayed "sending…", and 15 s later an unhandled error was
    logged. It now fails at once with the reason, and nothing waits for it."""
    handlers = Handlers()
    channel = TCPChannel(handlers)
    channel.makeConnection(StringTransport())
    clock = task.Clock()
    s = ClientSession(channel, "jwt", Listener(), clock)
    s.frame_received(HELLO)
    s.frame_received(
        {"type": "authenticate_response", "request_id": "auth", "success": True, "user": USER}
    )
    error = outcome(s.request({"type": "send_message", "content": "x" * 1_100_000})).value
    assert (error.code, error.describe()) == (
        "too_large",
        "Too large to send (over the 1 MiB frame limit)",
    )
    assert s._pending == {}
    assert not clock.getDelayedCalls()
