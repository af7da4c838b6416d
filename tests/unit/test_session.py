"""The real-time session over TCP, in memory (PROTOCOL.md §2-§11, docs/protocols/TCP.md).

Every test drives real :class:`~lairchat.transports.tcp.LairTCPProtocol` instances
connected to ``StringTransport``s, on a whole core (synchronous SQLite store) and a
``task.Clock``: bytes in through ``dataReceived``, frames out of ``transport.value()``,
time moved by ``clock.advance``. No reactor, no sleeps.

Events caused by a command may be written before or after that command's response
(§6 allows either), so :meth:`Client.request` picks the response out of whatever
arrived and leaves the rest for the test to inspect.
"""

from __future__ import annotations

import base64
import dataclasses
import struct
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from twisted.internet import defer, task
from twisted.logger import capturedLogs, formatEvent

from lairchat.core import passwords
from lairchat.core.auth import SESSION_LIFETIME
from lairchat.core.invitations import INVITATION_LIFETIME
from lairchat.core.ratelimit import RateLimiter
from lairchat.realtime.crypto import KeyExchange
from lairchat.realtime.session import SessionSettings, State
from lairchat.testing import TEST_SECRET, MemoryTCPClient, MemoryTCPServer, result
from lairchat.transports.http.testing import CHEAP_HASHER
from lairchat.transports.tcp import CLOSE_GRACE

PASSWORD = "password1"
PREFIX = struct.Struct("!I")
NO_ROOM = "00000000-0000-4000-8000-000000000000"
NO_USER = "11111111-1111-4111-8111-111111111111"

# The error frames of the acceptance matrix (§3.1).
E0 = ("unauthorized", "Must complete handshake first")
E1 = ("unauthorized", "Must complete key exchange first")
E2 = ("unauthorized", "Must authenticate first")
E3 = ("invalid_state", "Already authenticated")
E4 = ("not_implemented", "Operation not yet implemented")


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same algorithm, minimal cost: these tests are about the protocol, not argon2."""
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)


# --------------------------------------------------------------------------- harness


class Client(MemoryTCPClient):
    """An in-memory connection (the shared harness), plus the session's state."""

    @property
    def state(self) -> State:
        return self.proto.session.state


class World(MemoryTCPServer):
    """A whole server core plus its TCP factory, on a fake clock."""

    client_class = Client


@pytest.fixture
def world() -> World:
    return World()


def room_target(room_id: str) -> dict[str, str]:
    return {"type": "room", "room_id": room_id}


def dm_target(user_id: str) -> dict[str, str]:
    return {"type": "dm", "recipient": user_id}


def make_room(owner: Client, name: str = "general", **settings: Any) -> str:
    fields: dict[str, Any] = {"name": name}
    if settings:
        fields["settings"] = settings
    return owner.ok("create_room", **fields)["room"]["id"]


def clear(*clients: Client) -> None:
    for c in clients:
        c.frames()


# --------------------------------------------------------------------------- handshake


def test_server_hello_is_sent_first_in_plaintext(world: World) -> None:
    client = Client(world.factory)
    (payload,) = client.raw_frames()
    assert payload == (
        b'{"type":"server_hello","version":"1.0","server_name":"Lair Chat",'
        b'"features":["encryption"],"encryption_required":false}'
    )
    assert client.state is State.AWAITING_HELLO


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.x", "1.", "1.99-beta"])
def test_accepted_versions_get_no_reply(world: World, version: str) -> None:
    client = world.connect()
    client.send({"type": "client_hello", "version": version, "client_name": "t"})
    client.silent()
    assert client.state is State.AWAITING_AUTH
    client.authenticate(world.account("alice"))


def test_errors_quote_at_most_40_characters_of_what_the_client_sent(world: World) -> None:
    """An error that grew with the client's input could be too large to send: a
    1 MiB type or version would be echoed back in a frame over the 1 MiB limit."""
    huge = "a" * (1_048_576 - 100)
    client = world.connect()
    client.send({"type": "client_hello", "version": "1.0", "client_name": "t"})
    client.send({"type": huge})
    assert client.error() == ("invalid_message", f"Invalid JSON: unknown variant `{'a' * 40}...`")
    client.authenticate(world.account("alice"))
    client.send({"type": "get_messages", "request_id": "r", "target": {"type": huge}})
    code, message = client.error()
    assert code == "invalid_message" and len(message) < 120, message
    other = world.connect()
    other.send({"type": "client_hello", "version": "2" + huge})
    assert other.error() == (
        "version_mismatch",
        f"Unsupported protocol version: 2{'a' * 39}.... Server supports: 1.0",
    )


@pytest.mark.parametrize("version", ["2.0", "1", "", "0.9", "10.0", " 1.0", "v1.0"])
def test_rejected_version_gets_version_mismatch_then_close(world: World, version: str) -> None:
    client = world.connect()
    client.send({"type": "client_hello", "version": version})
    assert client.error() == (
        "version_mismatch",
        f"Unsupported protocol version: {version}. Server supports: 1.0",
    )
    assert client.closed and not client.aborted
    assert client.state is State.CLOSING
    client.send({"type": "ping"})  # whatever still arrives is ignored
    client.silent()


def test_client_hello_fields_are_validated(world: World) -> None:
    client = world.connect()
    client.send({"type": "client_hello", "version": "1.0", "features": None})
    code, message = client.error()
    assert code == "invalid_message" and message.startswith("Invalid JSON: ")
    client.send({"type": "client_hello", "version": 1})
    assert client.error()[0] == "invalid_message"
    assert client.state is State.AWAITING_HELLO and not client.closed
    client.hello()
    assert client.state is State.AWAITING_AUTH


# --------------------------------------------------------------------------- §3.1 matrix


def _client_in(world: World, state: str) -> Client:
    if state == "authenticated":
        return world.login("alice")
    world.account("alice")
    client = world.connect()
    if state == "key_exchange":
        client.send({"type": "client_hello", "version": "1.0", "features": ["encryption"]})
    elif state == "auth":
        client.send({"type": "client_hello", "version": "1.0"})
    client.silent()
    return client


STATES = ["hello", "key_exchange", "auth", "authenticated"]
STATE_OF = {
    "hello": State.AWAITING_HELLO,
    "key_exchange": State.AWAITING_KEY_EXCHANGE,
    "auth": State.AWAITING_AUTH,
    "authenticated": State.AUTHENTICATED,
}


def _message(world: World, kind: str) -> dict[str, Any]:
    return {
        "client_hello": {"type": "client_hello", "version": "1.0"},
        "key_exchange": {"type": "key_exchange", "public_key": KeyExchange().public_key_b64},
        "authenticate": {"type": "authenticate", "token": world.accounts["alice"].token},
        "login": {"type": "login", "identifier": "alice", "password": PASSWORD},
        "register": {
            "type": "register",
            "username": "newcomer",
            "email": "newcomer@example.com",
            "password": PASSWORD,
        },
    }[kind]


HANDLED = "handled"
MATRIX = {
    "client_hello": {"hello": HANDLED, "key_exchange": E1, "auth": E2, "authenticated": E3},
    "key_exchange": {"hello": E0, "key_exchange": HANDLED, "auth": E2, "authenticated": E4},
    "authenticate": {"hello": E0, "key_exchange": E1, "auth": HANDLED, "authenticated": E3},
    "login": {"hello": E0, "key_exchange": E1, "auth": HANDLED, "authenticated": E3},
    "register": {"hello": E0, "key_exchange": E1, "auth": HANDLED, "authenticated": E3},
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("kind", list(MATRIX))
def test_acceptance_matrix_handshake_and_auth_types(world: World, state: str, kind: str) -> None:
    client = _client_in(world, state)
    client.send(_message(world, kind))
    expected = MATRIX[kind][state]
    if expected != HANDLED:
        assert client.error() == expected
        assert client.state is STATE_OF[state] and not client.closed
        client.ping()  # still usable
        return
    if kind == "client_hello":
        client.silent()
        assert client.state is State.AWAITING_AUTH
    elif kind == "key_exchange":
        reply = client.one()
        assert reply["type"] == "key_exchange_response" and len(reply["public_key"]) == 44
        assert client.state is State.AWAITING_AUTH
    else:
        (response,) = client.frames()
        assert response["type"] == f"{kind}_response" and response["success"] is True
        assert client.state is State.AUTHENTICATED


OTHER_TYPES = [
    {"type": "logout"},
    {"type": "get_current_user"},
    {"type": "send_message", "target": room_target(NO_ROOM), "content": "hi"},
    {"type": "typing", "target": room_target(NO_ROOM)},
    {"type": "join_room", "room_id": NO_ROOM},
    {"type": "list_rooms"},
    {"type": "list_users"},
    {"type": "mark_read", "target": dm_target(NO_USER)},
]


@pytest.mark.parametrize("state", ["hello", "key_exchange", "auth"])
@pytest.mark.parametrize("message", OTHER_TYPES, ids=lambda m: m["type"])
def test_acceptance_matrix_commands_before_auth(
    world: World, state: str, message: dict[str, Any]
) -> None:
    client = _client_in(world, state)
    client.send(message)
    assert client.error() == {"hello": E0, "key_exchange": E1, "auth": E2}[state]
    assert client.state is STATE_OF[state] and not client.closed


@pytest.mark.parametrize("state", STATES)
def test_acceptance_matrix_ping_and_garbage_in_every_state(world: World, state: str) -> None:
    client = _client_in(world, state)
    client.send({"type": "ping", "request_id": 5, "extra": [1]})  # extras are ignored
    (pong,) = client.frames()
    assert list(pong) == ["type", "server_time"] and pong["type"] == "pong"
    assert pong["server_time"] == "2023-11-14T22:13:20+00:00"  # make_core's clock
    client.send_payload(b"{nope")
    code, message = client.error()
    assert code == "invalid_message" and message.startswith("Invalid JSON: ")
    assert client.state is STATE_OF[state] and not client.closed


def test_acceptance_matrix_commands_when_authenticated(world: World) -> None:
    client = world.login("alice")
    for message in OTHER_TYPES:
        if message["type"] == "logout":
            continue
        client.send(message)
        frames = client.frames()
        if message["type"] == "typing":
            assert frames == []
        else:
            assert [f["type"] for f in frames] == [message["type"] + "_response"]


# --------------------------------------------------------------------------- authenticate


def test_authenticate_success(world: World) -> None:
    alice = world.account("alice")
    client = world.connect()
    client.hello()
    response = client.authenticate(alice)
    assert list(response) == ["type", "request_id", "success", "user", "session"]
    assert response["user"] == {
        "id": alice.user.id,
        "username": "alice",
        "email": "alice@example.com",
        "role": "user",
        "created_at": "2023-11-14T22:13:20Z",
        "updated_at": "2023-11-14T22:13:20Z",
        "last_seen_at": None,
    }
    assert response["session"] == {
        "id": alice.session.id,
        "expires_at": "2023-11-15T22:13:20+00:00",
    }
    assert client.state is State.AUTHENTICATED
    assert client.ok("get_current_user")["user"] == response["user"]


def test_get_current_user_answers_the_account_as_it_is_now(world: World) -> None:
    """A role (or email) changed while connected: the original answered the copy
    taken at authentication until the client reconnected."""
    alice = world.account("alice")
    client = world.connect()
    client.hello()
    client.authenticate(alice)
    result(world.core.users.set_role(alice.user.id, "admin"))
    assert client.ok("get_current_user")["user"]["role"] == "admin"


def test_authenticate_without_request_id_answers_null(world: World) -> None:
    client = world.connect()
    client.hello()
    client.send({"type": "authenticate", "token": world.account("alice").token})
    assert client.one()["request_id"] is None


def _auth_fails(client: Client, token: str, code: str, message: str) -> None:
    response = client.fails("authenticate", code, message, token=token)
    assert list(response) == ["type", "request_id", "success", "error"]
    assert client.state is State.AWAITING_AUTH and not client.closed


def test_authenticate_invalid_tokens_leave_the_state_for_a_retry(world: World) -> None:
    alice = world.account("alice")
    client = world.connect()
    client.hello()
    _auth_fails(client, "garbage", "invalid_token", "Invalid token: malformed token")
    forged = jwt.encode(
        jwt.decode(alice.token, options={"verify_signature": False}),
        "another-secret-another-secret-xx",
        algorithm="HS256",
    )
    _auth_fails(client, forged, "invalid_token", "Invalid token: invalid signature")
    client.authenticate(alice)


def test_authenticate_non_uuid_claims_is_invalid_token(world: World) -> None:
    alice = world.account("alice")
    now = int(world.clock.seconds())
    claims = {"sub": "nope", "sid": alice.session.id, "exp": now + 60, "iat": now}
    client = world.connect()
    client.hello()
    response = client.request("authenticate", token=jwt.encode(claims, TEST_SECRET, "HS256"))
    assert response["success"] is False
    assert response["error"]["code"] == "invalid_token"
    assert response["error"]["message"].startswith("Invalid token: ")


def test_authenticate_token_expired(world: World) -> None:
    alice = world.account("alice")
    world.clock.advance(SESSION_LIFETIME + 1)
    client = world.connect()
    client.hello()
    _auth_fails(client, alice.token, "token_expired", "Token expired")


def test_authenticate_after_logout_is_session_not_found(world: World) -> None:
    alice = world.account("alice")
    result(world.core.auth.logout(alice.session.id))
    client = world.connect()
    client.hello()
    _auth_fails(client, alice.token, "session_not_found", "Session not found or expired")


def test_authenticate_session_expired_deletes_the_session(world: World) -> None:
    alice = world.account("alice")
    now = int(world.clock.seconds())
    # A token that outlives its session: only the session check can refuse it.
    claims = {
        "sub": alice.user.id,
        "sid": alice.session.id,
        "username": "alice",
        "role": "user",
        "exp": now + 10 * SESSION_LIFETIME,
        "iat": now,
    }
    token = jwt.encode(claims, TEST_SECRET, algorithm="HS256")
    world.clock.advance(SESSION_LIFETIME + 1)
    client = world.connect()
    client.hello()
    _auth_fails(client, token, "session_expired", "Session expired")
    assert result(world.core.store.get_session(alice.session.id)) is None
    _auth_fails(client, token, "session_not_found", "Session not found or expired")


def test_legacy_register_and_login_create_sessions(world: World) -> None:
    client = world.connect()
    client.hello()
    reg = client.ok("register", username="alice", email="Alice@Example.com", password=PASSWORD)
    assert list(reg) == ["type", "request_id", "success", "user", "session", "token"]
    assert reg["user"]["username"] == "alice" and reg["user"]["email"] == "alice@example.com"
    assert client.state is State.AUTHENTICATED

    other = world.connect()
    other.hello()
    login = other.ok("login", identifier="alice@example.com", password=PASSWORD)
    assert list(login) == ["type", "request_id", "success", "user", "session", "token"]
    assert login["user"]["id"] == reg["user"]["id"]
    assert login["session"]["id"] != reg["session"]["id"]  # each creates a session

    third = world.connect()
    third.hello()
    assert (
        third.ok("authenticate", token=login["token"])["session"]["id"] == (login["session"]["id"])
    )


def test_legacy_register_and_login_errors(world: World) -> None:
    world.account("alice")
    client = world.connect()
    client.hello()
    client.fails(
        "login",
        "invalid_credentials",
        "Invalid credentials",
        identifier="alice",
        password="wrong-password",
    )
    client.fails("login", "invalid_credentials", identifier="nobody", password=PASSWORD)
    client.fails(
        "register",
        "username_taken",
        "Username already taken",
        username="ALICE",
        email="x@example.com",
        password=PASSWORD,
    )
    client.fails(
        "register",
        "email_taken",
        "Email already registered",
        username="bob",
        email="alice@example.com",
        password=PASSWORD,
    )
    client.fails(
        "register",
        "username_invalid",
        "Username invalid: value too short: minimum 3, got 2",
        username="ab",
        email="ab@example.com",
        password=PASSWORD,
    )
    client.fails(
        "register",
        "email_invalid",
        "Email invalid: invalid format: missing @ symbol",
        username="bob",
        email="bob.example.com",
        password=PASSWORD,
    )
    client.fails(
        "register",
        "password_too_weak",
        "Password too weak: password must be at least 8 characters",
        username="bob",
        email="bob@example.com",
        password="short",
    )
    assert client.state is State.AWAITING_AUTH and not client.closed
    client.ok("login", identifier="ALICE", password=PASSWORD)


# --------------------------------------------------------------------------- presence


def test_presence_is_counted_across_connections(world: World) -> None:
    bob = world.login("bob")
    waiting = world.connect()  # not authenticated: never gets events
    waiting.hello()
    world.account("alice")

    first = world.login("alice")
    online = bob.frames()
    assert online == [{"type": "user_online", "user_id": world.uid("alice"), "username": "alice"}]
    second = world.login("alice")
    bob.silent()
    first.silent()  # neither its own user_online nor one for the second connection

    first.drop()
    bob.silent()
    assert world.core.hub.is_online(world.uid("alice"))
    second.drop()
    assert bob.frames() == [
        {"type": "user_offline", "user_id": world.uid("alice"), "username": "alice"}
    ]
    waiting.silent()
    assert world.core.hub.online_user_ids() == [world.uid("bob")]


def test_server_side_close_also_announces_offline(world: World) -> None:
    bob = world.login("bob")
    alice = world.login("alice")
    bob.frames()
    alice.send({"type": "client_hello", "version": "2.0"})  # refused: E3, stays open
    assert alice.error() == E3
    alice.ok("logout")
    assert [f["type"] for f in bob.frames()] == ["user_offline"]


# --------------------------------------------------------------------------- session commands


def test_logout_replies_then_closes_every_connection_of_the_session(world: World) -> None:
    alice = world.account("alice")
    first = world.login("alice")
    second = world.login("alice")  # same token, same session
    other_session = world.connect()
    other_session.hello()
    other_session.ok("login", identifier="alice", password=PASSWORD)
    bob = world.login("bob")
    clear(first, second, other_session)

    response = first.request("logout")
    assert response == {"type": "logout_response", "request_id": "r2", "success": True}
    assert first.closed and not first.aborted
    assert second.closed and not other_session.closed and not bob.closed
    assert result(world.core.store.get_session(alice.session.id)) is None
    bob.silent()  # alice is still online through her other session
    first.send({"type": "ping"})
    first.silent()

    again = world.connect()
    again.hello()
    again.fails("authenticate", "session_not_found", token=alice.token)


def test_logout_over_http_closes_live_connections(world: World) -> None:
    alice = world.login("alice")
    bob = world.login("bob")
    bob.frames()
    result(world.core.auth.logout(world.accounts["alice"].session.id))
    assert alice.closed and not bob.closed
    assert [f["type"] for f in bob.frames()] == ["user_offline"]


def test_ban_closes_live_connections(world: World) -> None:
    admin = world.account("admin")
    result(world.core.store.set_role(admin.user.id, "admin"))
    alice = world.login("alice")
    bob = world.login("bob")
    alice.frames()
    token = world.account("alice").token
    result(world.core.admin.ban(admin.user, world.uid("alice"), "spam", None))
    assert alice.closed and not bob.closed
    # Told why first, and told again when its client reconnects with the old token.
    assert alice.frames() == [
        {"type": "error", "code": "account_banned", "message": "Account banned"}
    ]
    again = world.connect()
    again.send({"type": "client_hello", "version": "1.0"})
    response = again.request("authenticate", token=token)
    assert response["success"] is False and response["error"]["code"] == "account_banned"


def test_a_password_change_closes_the_users_other_sessions(world: World) -> None:
    kept = world.login("alice")
    other = world.connect()
    other.hello()
    other.authenticate(result(world.core.auth.login("alice", "password1")))
    other.frames()
    own = world.account("alice")
    result(world.core.auth.change_password(own.user, "password1", "password2", own.session.id))
    assert other.closed and not kept.closed
    assert other.frames() == [
        {
            "type": "error",
            "code": "session_not_found",
            "message": "Session ended: the password was changed",
        }
    ]


@pytest.mark.parametrize("how", ["password change", "ban"])
def test_a_session_ended_while_its_token_is_checked_is_refused(world: World, how: str) -> None:
    """The token's check reads the session, then the user: a session ended between the
    two used to attach anyway, after the hub had closed its connections, and stayed
    usable until the revocation check's next pass (5 s)."""
    own, other = world.account("alice"), result(world.core.auth.login("alice", "password1"))
    client = world.connect()
    client.hello()
    store = world.core.store
    read_user, held = store.get_user, defer.Deferred()
    store.get_user = lambda user_id: held
    client.send({"type": "authenticate", "request_id": "r", "token": other.token})
    store.get_user = read_user
    if how == "ban":
        result(world.core.store.set_role(world.account("admin").user.id, "admin"))
        admin = result(world.core.store.get_user(world.uid("admin")))
        result(world.core.admin.ban(admin, own.user.id, None, None))
        code = "account_banned"
    else:
        result(world.core.auth.change_password(own.user, "password1", "password2", own.session.id))
        code = "session_not_found"
    held.callback(own.user)
    response = client.of_type("authenticate_response")[0]
    assert response["success"] is False and response["error"]["code"] == code
    assert world.core.hub.connections_of(own.user.id) == set()


def test_get_current_user(world: World) -> None:
    alice = world.login("alice")
    response = alice.ok("get_current_user")
    assert list(response) == ["type", "request_id", "success", "user"]
    assert response["user"]["email"] == "alice@example.com"


def test_an_expired_session_closes_its_connection_and_events_stop() -> None:
    world = World(idle_timeout=10 * SESSION_LIFETIME)
    alice = world.login("alice")
    world.clock.advance(100)
    bob = world.login("bob")  # a session of his own, 100 s younger
    room = make_room(alice)
    bob.ok("join_room", room_id=room)
    clear(alice, bob)
    world.clock.advance(SESSION_LIFETIME - 100)  # alice's expires_at: still valid
    bob.ok("send_message", target=room_target(room), content="still there?")
    assert alice.types() == ["message_received"] and not alice.closed
    world.clock.advance(0.01)
    assert alice.frames() == [
        {"type": "error", "code": "session_expired", "message": "Session expired"}
    ]
    assert alice.closed
    alice.drop()
    bob.frames()
    bob.ok("send_message", target=room_target(room), content="gone")
    assert not bob.closed


def test_commands_on_a_session_past_its_expiry_fail() -> None:
    """Between the expiry and the timer that closes the connection, a command still
    finds the session expired, and only the commands the original allows without a
    valid session run."""
    world = World(idle_timeout=10 * SESSION_LIFETIME)
    alice = world.login("alice")
    bob = world.login("bob")
    room = make_room(alice)
    bob.ok("join_room", room_id=room)
    clear(alice, bob)
    session = alice.proto.session
    session.auth_session = dataclasses.replace(
        session.auth_session, expires_at=world.clock.seconds() - 1
    )
    expired = ("session_expired", "Session expired")
    alice.fails("send_message", *expired, target=room_target(room), content="hi")
    alice.fails("join_room", *expired, room_id=room)
    response = alice.fails("list_rooms", *expired, filter={"joined_only": True})
    assert response["has_more"] is False and response["total_count"] == 0
    response = alice.fails("get_messages", *expired, target=room_target(room))
    assert response["has_more"] is False and "messages" not in response
    alice.send({"type": "typing", "target": room_target(room)})  # silently dropped
    bob.silent()
    # These work without a valid session, as in the original.
    alice.ok("get_current_user")
    alice.ok("get_user", user_id=world.uid("bob"))
    alice.ok("list_users")
    alice.ok("get_room", room_id=room)
    alice.ok("list_rooms")
    # logout always succeeds and closes.
    assert list(alice.ok("logout")) == ["type", "request_id", "success"]
    assert alice.closed
    assert not bob.closed


# --------------------------------------------------------------------------- messages


def test_send_message_to_a_room_reaches_its_members_only(world: World) -> None:
    alice, bob, carol = world.login("alice"), world.login("bob"), world.login("carol")
    alice2 = world.login("alice")
    room = make_room(alice)
    bob.ok("join_room", room_id=room)
    clear(alice, bob, carol, alice2)

    response = alice.ok("send_message", target=room_target(room), content="héllo ✓")
    message = response["message"]
    assert list(response) == ["type", "request_id", "success", "message"]
    assert list(message) == ["id", "author", "target", "content", "edited", "created_at"]
    assert message["author"] == world.uid("alice")
    assert message["target"] == room_target(room)
    assert message["content"] == "héllo ✓" and message["edited"] is False
    event = {"type": "message_received", "message": message, "author_username": "alice"}
    assert alice.frames() == [event]  # the sender gets its own copy
    assert alice2.frames() == [event]
    assert bob.frames() == [event]
    carol.silent()


def test_send_message_errors(world: World) -> None:
    alice, bob = world.login("alice"), world.login("bob")
    room = make_room(bob)
    alice.fails(
        "send_message",
        "content_invalid",
        "Content invalid: value cannot be empty",
        target=room_target(room),
        content=" \n\t",
    )
    alice.fails(
        "send_message",
        "content_invalid",
        "Content invalid: value too long: maximum 4096, got 4097",
        target=room_target(room),
        content="x" * 4097,
    )
    alice.fails(
        "send_message",
        "not_room_member",
        "Not a member of this room",
        target=room_target(room),
        content="hi",
    )
    alice.fails("send_message", "not_room_member", target=room_target(NO_ROOM), content="hi")
    alice.fails(
        "send_message", "user_not_found", "User not found", target=dm_target(NO_USER), content="hi"
    )
    bob.ok("send_message", target=room_target(room), content="é" * 2048)  # 4096 bytes
    alice.frames()
    # An ill-typed target makes the whole frame invalid (§10.5).
    alice.send(
        {"type": "send_message", "target": {"type": "room", "room_id": "x"}, "content": "hi"}
    )
    assert alice.error()[0] == "invalid_message"
    alice.send(
        {"type": "send_message", "target": {"type": "channel", "room_id": room}, "content": "hi"}
    )
    assert alice.error()[0] == "invalid_message"


def test_direct_message_reaches_both_parties_on_every_connection(world: World) -> None:
    alice, bob, carol = world.login("alice"), world.login("bob"), world.login("carol")
    bob2 = world.login("bob")
    clear(alice, bob, carol, bob2)
    # "direct_message" is accepted as a DM target type; output is always "dm".
    target = {"type": "direct_message", "recipient": world.uid("bob")}
    message = alice.ok("send_message", target=target, content="psst")["message"]
    assert message["target"] == dm_target(world.uid("bob"))
    for client in (alice, bob, bob2):
        assert client.frames() == [
            {"type": "message_received", "message": message, "author_username": "alice"}
        ]
    carol.silent()


def test_typeless_room_target_is_accepted(world: World) -> None:
    """``{"room": id}``, the shape the original's WEBSOCKET.md documents."""
    alice = world.login("alice")
    room = make_room(alice)
    message = alice.ok("send_message", target={"room": room}, content="hi")["message"]
    assert message["target"] == room_target(room)


def test_direct_message_to_oneself_is_one_copy_per_connection(world: World) -> None:
    alice, alice2 = world.login("alice"), world.login("alice")
    alice.ok("send_message", target=dm_target(world.uid("alice")), content="note to self")
    assert [f["type"] for f in alice.frames()] == ["message_received"]
    assert [f["type"] for f in alice2.frames()] == ["message_received"]


def test_edit_message(world: World) -> None:
    alice, bob, carol = world.login("alice"), world.login("bob"), world.login("carol")
    room = make_room(alice)
    bob.ok("join_room", room_id=room)
    sent = alice.ok("send_message", target=room_target(room), content="teh")["message"]
    clear(alice, bob, carol)

    edited = alice.ok("edit_message", message_id=sent["id"], content="the")["message"]
    assert edited == {**sent, "content": "the", "edited": True}
    event = {"type": "message_edited", "message": edited, "previous_content": "teh"}
    assert alice.frames() == [event] and bob.frames() == [event]
    carol.silent()
    # Uppercase and unhyphenated ids are accepted.
    alice.ok("edit_message", message_id=sent["id"].upper().replace("-", ""), content="the!")

    alice.fails("edit_message", "invalid_id", "Invalid message ID", message_id="42", content="x")
    alice.fails(
        "edit_message", "message_not_found", "Message not found", message_id=NO_ROOM, content="x"
    )
    bob.fails(
        "edit_message",
        "not_message_author",
        "Not the author of this message",
        message_id=sent["id"],
        content="x",
    )
    alice.fails("edit_message", "content_invalid", message_id=sent["id"], content="")


def test_edit_direct_message_reaches_both_parties(world: World) -> None:
    alice, bob, carol = world.login("alice"), world.login("bob"), world.login("carol")
    sent = alice.ok("send_message", target=dm_target(world.uid("bob")), content="a")["message"]
    clear(alice, bob, carol)
    alice.ok("edit_message", message_id=sent["id"], content="b")
    assert [f["type"] for f in alice.frames()] == ["message_edited"]
    assert [f["type"] for f in bob.frames()] == ["message_edited"]
    carol.silent()


def test_delete_message(world: World) -> None:
    alice, bob, carol = world.login("alice"), world.login("bob"), world.login("carol")
    room = make_room(alice)
    bob.ok("join_room", room_id=room)
    carol.ok("join_room", room_id=room)
    by_bob = bob.ok("send_message", target=room_target(room), content="b")["message"]
    by_alice = alice.ok("send_message", target=room_target(room), content="a")["message"]
    clear(alice, bob, carol)

    carol.fails("delete_message", "permission_denied", "Permission denied", message_id=by_bob["id"])
    carol.fails("delete_message", "invalid_id", "Invalid message ID", message_id="nope")
    carol.fails("delete_message", "message_not_found", "Message not found", message_id=NO_ROOM)

    response = bob.ok("delete_message", message_id=by_bob["id"])
    assert list(response) == ["type", "request_id", "success"]
    event = {
        "type": "message_deleted",
        "message_id": by_bob["id"],
        "target": room_target(room),
        "deleted_by": world.uid("bob"),
    }
    for client in (alice, bob, carol):
        assert client.frames() == [event]
    bob.fails("delete_message", "message_not_found", message_id=by_bob["id"])
    # The room owner may delete someone else's message.
    alice.ok("delete_message", message_id=by_alice["id"])
    deleted = {f["message_id"] for f in carol.of_type("message_deleted")}
    assert deleted == {by_alice["id"]}


def test_get_messages_paging(world: World) -> None:
    alice, bob = world.login("alice"), world.login("bob")
    room = make_room(alice)
    bob.ok("join_room", room_id=room)
    sent = []
    for i in range(5):
        sent.append(alice.ok("send_message", target=room_target(room), content=f"m{i}")["message"])
        world.clock.advance(10)
    ids = [m["id"] for m in sent]

    response = bob.ok("get_messages", target=room_target(room), limit=2)
    assert list(response) == ["type", "request_id", "success", "messages", "has_more"]
    assert [m["id"] for m in response["messages"]] == [ids[4], ids[3]]  # newest first
    assert response["has_more"] is True
    older = bob.ok("get_messages", target=room_target(room), limit=2, before=ids[3])
    assert [m["id"] for m in older["messages"]] == [ids[2], ids[1]] and older["has_more"]
    oldest = bob.ok("get_messages", target=room_target(room), limit=2, before=ids[1])
    assert [m["id"] for m in oldest["messages"]] == [ids[0]] and not oldest["has_more"]
    newer = bob.ok("get_messages", target=room_target(room), limit=2, after=ids[0])
    assert [m["id"] for m in newer["messages"]] == [ids[2], ids[1]] and newer["has_more"]
    window = bob.ok("get_messages", target=room_target(room), before=ids[4], after=ids[1])
    assert [m["id"] for m in window["messages"]] == [ids[3], ids[2]]
    # RFC 3339 bounds; times read back from the store have whole seconds.
    by_time = bob.ok("get_messages", target=room_target(room), before=sent[2]["created_at"])
    assert [m["id"] for m in by_time["messages"]] == [ids[1], ids[0]]
    everything = bob.ok("get_messages", target=room_target(room), limit=1000)
    assert len(everything["messages"]) == 5 and not everything["has_more"]
    assert everything["messages"][0]["created_at"].endswith("Z")

    bob.fails("get_messages", "message_not_found", target=room_target(room), before=NO_ROOM)
    bob.fails("get_messages", "validation_failed", target=room_target(room), before="yesterday")


def _fill_with_escaped_messages(world: World, count: int = 50) -> tuple[Client, str, list[str]]:
    """A room whose ``count`` newest messages are each 4 KiB of control characters,
    which JSON escapes to 6 bytes each: a default page of them is about 1.2 MiB."""
    alice, bob = world.login("alice"), world.login("bob")
    room = make_room(alice)
    bob.ok("join_room", room_id=room)
    ids = []
    for _ in range(count):
        ids.append(alice.ok("send_message", target=room_target(room), content="\x01" * 4096))
        world.clock.advance(1)
    alice.frames()
    bob.frames()
    return bob, room, [r["message"]["id"] for r in ids]


def test_a_history_page_too_large_for_a_frame_is_cut_and_paged_on(world: World) -> None:
    bob, room, ids = _fill_with_escaped_messages(world)
    newest_first = ids[::-1]
    page = bob.ok("get_messages", target=room_target(room))
    got = [m["id"] for m in page["messages"]]
    assert 0 < len(got) < 50 and page["has_more"] is True
    assert got == newest_first[: len(got)]  # the oldest were cut
    # Every frame fits: the whole response was one frame under 1 MiB.
    assert len(orjson.dumps(page)) <= 1_048_576
    seen = list(got)
    while page["has_more"]:
        page = bob.ok("get_messages", target=room_target(room), before=seen[-1])
        seen += [m["id"] for m in page["messages"]]
    assert seen == newest_first
    # Paging forward, the newest end is cut: the page is the oldest after the cursor.
    forward = bob.ok("get_messages", target=room_target(room), after=ids[0], limit=100)
    got = [m["id"] for m in forward["messages"]]
    assert 0 < len(got) < 49 and forward["has_more"] is True
    assert got == ids[1 : 1 + len(got)][::-1]


def test_a_response_too_large_for_a_frame_is_answered_with_internal_error(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The safety net under any response: a failure the client can read, not silence."""
    from lairchat.realtime import commands

    bob, room, _ = _fill_with_escaped_messages(world)
    monkeypatch.setattr(commands, "HISTORY_BUDGET", 10 * 1_048_576)  # no cut
    with capturedLogs() as events:
        response = bob.fails("get_messages", "internal_error", target=room_target(room))
    assert response["has_more"] is False and "messages" not in response
    assert any("over 1 MiB" in formatEvent(e) for e in events)
    bob.ok("get_current_user")  # the connection goes on


def test_get_messages_errors_still_carry_has_more(world: World) -> None:
    alice, bob = world.login("alice"), world.login("bob")
    room = make_room(bob)
    for target, code in (
        (room_target(room), "not_room_member"),
        (room_target(NO_ROOM), "not_room_member"),
        (dm_target(NO_USER), "user_not_found"),
    ):
        response = alice.fails("get_messages", code, target=target)
        assert list(response) == ["type", "request_id", "success", "has_more", "error"]
        assert response["has_more"] is False


def test_get_messages_direct_conversation_both_directions(world: World) -> None:
    alice, bob = world.login("alice"), world.login("bob")
    world.login("carol")
    alice.ok("send_message", target=dm_target(world.uid("bob")), content="1")
    bob.ok("send_message", target=dm_target(world.uid("alice")), content="2")
    alice.ok("send_message", target=dm_target(world.uid("carol")), content="not this one")
    response = alice.ok("get_messages", target=dm_target(world.uid("bob")))
    assert [m["content"] for m in response["messages"]] == ["2", "1"]


def test_mark_read(world: World) -> None:
    alice, bob = world.login("alice"), world.login("bob")
    room = make_room(alice)
    bob.ok("join_room", room_id=room)
    first = alice.ok("send_message", target=room_target(room), content="1")["message"]
    alice.ok("send_message", target=room_target(room), content="2")
    alice.ok("send_message", target=room_target(room), content="3")

    response = bob.ok("mark_read", target=room_target(room), up_to=first["id"])
    assert list(response) == ["type", "request_id", "success", "unread_count", "mention_count"]
    assert response["unread_count"] == 2
    assert bob.ok("mark_read", target=room_target(room))["unread_count"] == 0
    # Own messages never count as unread.
    assert alice.ok("mark_read", target=room_target(room), up_to=first["id"])["unread_count"] == 0
    bob.fails("mark_read", "message_not_found", target=room_target(room), up_to=NO_ROOM)
    world.login("carol").fails("mark_read", "not_room_member", target=room_target(room))


# --------------------------------------------------------------------------- rooms


def test_create_room(world: World) -> None:
    alice = world.login("alice")
    response = alice.ok("create_room", name="  Lobby  ", description="chat here")
    assert list(response) == ["type", "request_id", "success", "room"]
    room = response["room"]
    assert list(room) == ["id", "name", "owner", "settings", "created_at"]
    assert room["name"] == "Lobby" and room["owner"] == world.uid("alice")
    assert room["settings"] == {
        "description": "chat here",
        "is_private": False,
        "max_members": None,
    }
    private = alice.ok(
        "create_room",
        name="secret",
        settings={"public": False, "max_members": 3, "moderated": True},
    )
    assert private["room"]["settings"] == {
        "description": None,
        "is_private": True,
        "max_members": 3,
    }

    alice.fails("create_room", "room_name_taken", "Room name already taken", name="LOBBY")
    alice.fails(
        "create_room", "room_name_invalid", "Room name invalid: value cannot be empty", name="   "
    )
    alice.fails("create_room", "room_name_invalid", name="x" * 65)


def test_get_room(world: World) -> None:
    alice, bob = world.login("alice"), world.login("bob")
    room = make_room(alice, "secret", public=False)

    mine = alice.ok("get_room", room_id=room)
    assert list(mine) == ["type", "request_id", "success", "room", "membership", "member_count"]
    assert mine["membership"]["role"] == "owner" and mine["member_count"] == 1
    theirs = bob.ok("get_room", room_id=room)  # private rooms are readable by anyone
    assert list(theirs) == ["type", "request_id", "success", "room", "member_count"]
    assert theirs["room"]["id"] == room

    for room_id, code, message in (
        ("not-a-uuid", "validation_failed", "Invalid room ID"),
        (NO_ROOM, "not_found", "Room not found"),
    ):
        response = bob.fails("get_room", code, message, room_id=room_id)
        assert list(response) == ["type", "request_id", "success", "member_count", "error"]
        assert response["member_count"] == 0


def test_list_rooms(world: World) -> None:
    alice, bob = world.login("alice"), world.login("bob")
    names = ["beta", "Alpha", "gamma"]
    ids = {name: make_room(alice, name) for name in names}
    secret = make_room(alice, "secret", public=False)
    bob.ok("join_room", room_id=ids["gamma"])

    response = bob.ok("list_rooms")
    assert list(response) == ["type", "request_id", "success", "rooms", "has_more", "total_count"]
    assert [r["room"]["name"] for r in response["rooms"]] == ["Alpha", "beta", "gamma"]
    assert [r["is_member"] for r in response["rooms"]] == [False, False, True]
    assert [r["member_count"] for r in response["rooms"]] == [1, 1, 2]
    assert response["has_more"] is False and response["total_count"] == 3

    page = bob.ok("list_rooms", limit=2, offset=1)
    assert [r["room"]["name"] for r in page["rooms"]] == ["beta", "gamma"]
    assert page["has_more"] is True and page["total_count"] == 2

    joined = alice.ok("list_rooms", filter={"joined_only": True}, limit=1)
    assert {r["room"]["id"] for r in joined["rooms"]} == {*ids.values(), secret}
    assert all(r["is_member"] for r in joined["rooms"])
    assert joined["has_more"] is False and joined["total_count"] == 4

    found = bob.ok("list_rooms", filter={"search": "ALP", "public_only": True})
    assert [r["room"]["name"] for r in found["rooms"]] == ["Alpha"]

    bob.frames()
    bob.send({"type": "list_rooms", "limit": -1})
    assert bob.error()[0] == "invalid_message"
    bob.send({"type": "list_rooms", "filter": {"joined_only": None}})
    assert bob.error()[0] == "invalid_message"


def test_join_room(world: World) -> None:
    alice, bob, carol = world.login("alice"), world.login("bob"), world.login("carol")
    room = make_room(alice)
    clear(alice, bob, carol)

    response = bob.ok("join_room", room_id=room.upper())
    assert list(response) == ["type", "request_id", "success", "room", "membership"]
    assert response["room"]["id"] == room
    membership = response["membership"]
    assert membership["room_id"] == room and membership["user_id"] == world.uid("bob")
    assert membership["role"] == "member"
    for client in (alice, bob):  # the joiner included
        (event,) = client.frames()
        assert event["type"] == "user_joined_room" and event["room_id"] == room
        assert event["user"]["id"] == world.uid("bob") and event["membership"] == membership
        assert event["user"]["email"] == ""  # other users' emails are never shown
    carol.silent()

    bob.fails("join_room", "already_member", "Already a member of this room", room_id=room)
    bob.fails("join_room", "validation_failed", "Invalid room ID", room_id="general")
    bob.fails("join_room", "room_not_found", "Room not found", room_id=NO_ROOM)
    secret = make_room(alice, "secret", public=False)
    bob.fails("join_room", "room_private", "Room requires invitation", room_id=secret)
    small = make_room(alice, "small", max_members=2)
    bob.ok("join_room", room_id=small)
    carol.fails("join_room", "room_full", "Room is full", room_id=small)


def test_leave_room(world: World) -> None:
    alice, bob, carol = world.login("alice"), world.login("bob"), world.login("carol")
    room = make_room(alice)
    bob.ok("join_room", room_id=room)
    clear(alice, bob, carol)

    response = bob.ok("leave_room", room_id=room)
    assert list(response) == ["type", "request_id", "success"]
    event = {
        "type": "user_left_room",
        "room_id": room,
        "user_id": world.uid("bob"),
        "reason": "left",
    }
    assert alice.frames() == [event] and bob.frames() == [event]  # the departed too
    carol.silent()
    alice.ok("send_message", target=room_target(room), content="after")
    bob.silent()  # no longer a member

    bob.fails("leave_room", "not_room_member", "Not a member of this room", room_id=room)
    bob.fails("leave_room", "validation_failed", "Invalid room ID", room_id="?")
    bob.fails("leave_room", "room_not_found", "Room not found", room_id=NO_ROOM)
    alice.fails("leave_room", "last_owner", "Cannot leave as only owner", room_id=room)


def test_kick_room_update_role_change_and_delete_events(world: World) -> None:
    alice, bob, carol = world.login("alice"), world.login("bob"), world.login("carol")
    outsider = world.login("dave")
    room = make_room(alice)
    bob.ok("join_room", room_id=room)
    carol.ok("join_room", room_id=room)
    clear(alice, bob, carol, outsider)
    users = {n: world.accounts[n].user for n in ("alice", "bob", "carol")}
    rooms = world.core.rooms

    result(rooms.change_role(users["alice"], room, world.uid("bob"), "moderator"))
    role = {
        "type": "member_role_changed",
        "room_id": room,
        "user_id": world.uid("bob"),
        "username": "bob",
        "old_role": "member",
        "new_role": "moderator",
        "changed_by": world.uid("alice"),
    }
    for client in (alice, bob, carol):
        assert client.frames() == [role]

    result(rooms.kick(users["bob"], room, world.uid("carol")))
    kicked = {
        "type": "user_left_room",
        "room_id": room,
        "user_id": world.uid("carol"),
        "reason": "kicked",
    }
    for client in (alice, bob, carol):
        assert client.frames() == [kicked]

    result(rooms.update(users["alice"], room, name="renamed"))
    for client in (alice, bob):
        (event,) = client.frames()
        assert event["type"] == "room_updated" and event["room"]["name"] == "renamed"
        assert event["changed_by"] == world.uid("alice")
    carol.silent()

    result(rooms.delete(users["alice"], room))
    deleted = {
        "type": "room_deleted",
        "room_id": room,
        "room_name": "renamed",
        "deleted_by": world.uid("alice"),
    }
    assert alice.frames() == [deleted] and bob.frames() == [deleted]
    carol.silent()
    outsider.silent()


# --------------------------------------------------------------------------- invitations


def test_invite_accept_and_decline(world: World) -> None:
    alice, bob, carol = world.login("alice"), world.login("bob"), world.login("carol")
    bob2 = world.login("bob")
    secret = make_room(alice, "secret", public=False)
    clear(alice, bob, carol, bob2)

    response = alice.ok(
        "invite_to_room", room_id=secret, user_id=world.uid("bob"), message="join us"
    )
    assert list(response) == ["type", "request_id", "success", "invitation"]
    invitation = response["invitation"]
    assert {
        k: invitation[k]
        for k in (
            "room_id",
            "room_name",
            "inviter_id",
            "inviter_name",
            "invitee_id",
            "invitee_name",
            "status",
            "message",
            "responded_at",
        )
    } == {
        "room_id": secret,
        "room_name": "secret",
        "inviter_id": world.uid("alice"),
        "inviter_name": "alice",
        "invitee_id": world.uid("bob"),
        "invitee_name": "bob",
        "status": "pending",
        "message": None,
        "responded_at": None,
    }
    received = {"type": "invitation_received", "invitation": invitation}
    assert bob.frames() == [received] and bob2.frames() == [received]
    alice.silent()
    carol.silent()

    listed = bob.ok("list_invitations")
    assert list(listed) == ["type", "request_id", "success", "invitations"]
    assert listed["invitations"] == [invitation]
    assert carol.ok("list_invitations")["invitations"] == []

    carol.fails(
        "accept_invitation", "not_invitee", "Not the invitee", invitation_id=invitation["id"]
    )
    carol.fails("decline_invitation", "not_invitee", invitation_id=invitation["id"])
    accepted = bob.ok("accept_invitation", invitation_id=invitation["id"])
    assert list(accepted) == ["type", "request_id", "success", "membership"]
    assert accepted["membership"]["room_id"] == secret
    assert [f["type"] for f in alice.frames()] == ["user_joined_room"]
    bob.fails(
        "accept_invitation",
        "invitation_expired",
        "Invitation expired",
        invitation_id=invitation["id"],
    )
    bob.fails("decline_invitation", "invitation_expired", invitation_id=invitation["id"])

    second = alice.ok("invite_to_room", room_id=secret, user_id=world.uid("carol"))["invitation"]
    alice.fails(
        "invite_to_room",
        "already_invited",
        "Invitation already sent",
        room_id=secret,
        user_id=world.uid("carol"),
    )
    declined = carol.ok("decline_invitation", invitation_id=second["id"])
    assert list(declined) == ["type", "request_id", "success"]
    carol.fails("accept_invitation", "invitation_expired", invitation_id=second["id"])
    carol.fails("join_room", "room_private", room_id=secret)


def test_invitation_errors(world: World) -> None:
    alice, bob, carol = world.login("alice"), world.login("bob"), world.login("carol")
    room = make_room(alice)
    bob.ok("join_room", room_id=room)

    alice.fails(
        "invite_to_room",
        "validation_failed",
        "Invalid room ID",
        room_id="x",
        user_id=world.uid("carol"),
    )
    alice.fails("invite_to_room", "validation_failed", "Invalid user ID", room_id=room, user_id="x")
    alice.fails("invite_to_room", "room_not_found", room_id=NO_ROOM, user_id=world.uid("carol"))
    carol.fails("invite_to_room", "not_room_member", room_id=room, user_id=world.uid("carol"))
    alice.fails("invite_to_room", "user_not_found", room_id=room, user_id=NO_USER)
    alice.fails("invite_to_room", "already_member", room_id=room, user_id=world.uid("bob"))
    # Any member may invite over TCP (not only owners and moderators).
    invitation = bob.ok("invite_to_room", room_id=room, user_id=world.uid("carol"))["invitation"]

    for kind in ("accept_invitation", "decline_invitation"):
        carol.fails(kind, "validation_failed", "Invalid invitation ID", invitation_id="x")
        carol.fails(kind, "invitation_not_found", "Invitation not found", invitation_id=NO_ROOM)

    # Joining with a pending invitation uses it up.
    carol.ok("join_room", room_id=room)
    carol.fails("accept_invitation", "invitation_expired", invitation_id=invitation["id"])


def test_revoke_invitation(world: World) -> None:
    """Our command, as HTTP's DELETE /api/v1/invitations/{id}: the inviter (or a room
    owner or moderator) withdraws it; nobody is sent an event."""
    alice, bob, carol = world.login("alice"), world.login("bob"), world.login("carol")
    secret = make_room(alice, "secret", public=False)
    invitation = alice.ok("invite_to_room", room_id=secret, user_id=world.uid("bob"))
    invitation_id = invitation["invitation"]["id"]
    clear(alice, bob, carol)

    bob.fails("revoke_invitation", "permission_denied", invitation_id=invitation_id)
    carol.fails(
        "revoke_invitation",
        "invitation_not_found",
        "Invitation not found",
        invitation_id=invitation_id,
    )
    carol.fails(
        "revoke_invitation", "validation_failed", "Invalid invitation ID", invitation_id="x"
    )
    revoked = alice.ok("revoke_invitation", invitation_id=invitation_id)
    assert list(revoked) == ["type", "request_id", "success"]
    for client in (alice, bob, carol):
        client.silent()
    assert bob.ok("list_invitations")["invitations"] == []
    bob.fails("accept_invitation", "invitation_expired", invitation_id=invitation_id)
    bob.fails("join_room", "room_private", room_id=secret)
    alice.fails("revoke_invitation", "invitation_expired", invitation_id=invitation_id)


def test_lairchat_events_go_only_to_clients_that_asked_for_them(world: World) -> None:
    """Our own event types, for what Lair Chat announces to no one (a new public
    room, a revoked invitation): sent only to connections whose client_hello asked
    for "lairchat-events", since an unknown type ends Lair Chat's TCP client."""
    alice, plain_bob = world.login("alice"), world.login("bob")
    bob, carol = world.login("bob", extended=True), world.login("carol", extended=True)
    clear(alice, plain_bob, bob)  # presence
    make_room(alice, "secret", public=False)
    lobby = make_room(alice, "lobby")
    assert alice.frames() == plain_bob.frames() == []
    for client in (bob, carol):
        (created,) = client.frames()
        assert created["type"] == "room_created" and created["created_by"] == world.uid("alice")
        assert (created["room"]["id"], created["room"]["name"]) == (lobby, "lobby")
    secret = make_room(alice, "hidden", public=False)
    invitation = alice.ok("invite_to_room", room_id=secret, user_id=world.uid("bob"))
    clear(alice, bob, plain_bob, carol)
    alice.ok("revoke_invitation", invitation_id=invitation["invitation"]["id"])
    assert bob.frames() == [
        {
            "type": "invitation_revoked",
            "invitation_id": invitation["invitation"]["id"],
            "room_id": secret,
            "revoked_by": world.uid("alice"),
        }
    ]
    assert alice.frames() == plain_bob.frames() == carol.frames() == []
    plain_bob.ping()  # its connection is as it was
    # Read on one device: the user's others that asked are told, with the counts.
    bob.ok("join_room", room_id=lobby)
    other_bob = world.login("bob", extended=True)
    alice.ok("send_message", target=room_target(lobby), content="hi @bob")
    clear(alice, bob, plain_bob, carol, other_bob)
    answer = bob.ok("mark_read", target=room_target(lobby))
    told = {
        "type": "messages_read",
        "target": room_target(lobby),
        "unread_count": 0,
        "mention_count": 0,
    }
    assert other_bob.frames() == [told] and bob.frames() == [told]
    assert (answer["unread_count"], answer["mention_count"]) == (0, 0)
    assert plain_bob.frames() == alice.frames() == carol.frames() == []


def test_invitation_expiry_and_room_full(world: World) -> None:
    alice, bob, carol = world.login("alice"), world.login("bob"), world.login("carol")
    small = make_room(alice, "small", public=False, max_members=2)
    to_bob = alice.ok("invite_to_room", room_id=small, user_id=world.uid("bob"))["invitation"]
    to_carol = alice.ok("invite_to_room", room_id=small, user_id=world.uid("carol"))
    bob.ok("accept_invitation", invitation_id=to_bob["id"])
    carol.fails(
        "accept_invitation", "room_full", "Room is full", invitation_id=to_carol["invitation"]["id"]
    )

    other = make_room(alice, "other", public=False)
    late = alice.ok("invite_to_room", room_id=other, user_id=world.uid("carol"))["invitation"]
    world.clock.advance(INVITATION_LIFETIME + 1)
    carol = world.connect()  # the old connection idled out, its session expired
    carol.hello()
    carol.ok("login", identifier="carol", password=PASSWORD)
    carol.fails("accept_invitation", "invitation_expired", invitation_id=late["id"])
    carol.fails("decline_invitation", "invitation_expired", invitation_id=late["id"])
    assert carol.ok("list_invitations")["invitations"] == []


# --------------------------------------------------------------------------- users


def test_get_user(world: World) -> None:
    alice = world.login("alice")
    world.account("bob")
    me = alice.ok("get_user", user_id=world.uid("alice"))
    assert list(me) == ["type", "request_id", "success", "user"]
    assert me["user"]["email"] == "alice@example.com"
    bob = alice.ok("get_user", user_id=world.uid("bob"))["user"]
    assert bob["username"] == "bob" and bob["email"] == ""  # other users' emails are hidden
    alice.fails("get_user", "validation_failed", "Invalid user ID", user_id="bob")
    alice.fails("get_user", "not_found", "User not found", user_id=NO_USER)


def test_list_users(world: World) -> None:
    alice = world.login("alice")
    for name in ("Carol", "bob", "dave"):
        world.account(name)
    world.login("bob")
    response = alice.ok("list_users", limit=2)
    assert list(response) == [
        "type",
        "request_id",
        "success",
        "users",
        "online_user_ids",
        "has_more",
        "total_count",
    ]
    assert [u["username"] for u in response["users"]] == ["alice", "bob"]
    assert [u["email"] for u in response["users"]] == ["alice@example.com", ""]
    assert set(response["online_user_ids"]) == {world.uid("alice"), world.uid("bob")}
    assert response["has_more"] is True and response["total_count"] == 2
    rest = alice.ok("list_users", offset=2, filter={"online_only": True})
    assert [u["username"] for u in rest["users"]] == ["Carol", "dave"]
    assert rest["has_more"] is False
    found = alice.ok("list_users", filter={"search": "car"})
    assert [u["username"] for u in found["users"]] == ["Carol"]


# --------------------------------------------------------------------------- typing


def test_typing_in_a_room_is_throttled_and_excludes_the_typer(world: World) -> None:
    alice, bob, carol = world.login("alice"), world.login("bob"), world.login("carol")
    bob2 = world.login("bob")
    room = make_room(alice)
    bob.ok("join_room", room_id=room)
    clear(alice, bob, carol, bob2)
    typing = {"type": "typing", "target": room_target(room)}
    event = {"type": "user_typing", "user_id": world.uid("alice"), "target": room_target(room)}

    alice.send(typing)
    alice.silent()  # no response, and not to the typer
    assert bob.frames() == [event] and bob2.frames() == [event]
    carol.silent()
    world.clock.advance(2.9)
    alice.send(typing)
    bob.silent()
    world.clock.advance(0.1)
    alice.send(typing)
    assert bob.frames() == [event]
    # Per user and target: bob typing is not throttled by alice.
    bob.send(typing)
    assert [f["user_id"] for f in alice.frames()] == [world.uid("bob")]
    # Non-members are dropped silently.
    carol.send(typing)
    carol.silent()
    alice.silent()
    bob.silent()


def test_typing_in_a_direct_conversation(world: World) -> None:
    alice, bob, carol = world.login("alice"), world.login("bob"), world.login("carol")
    clear(alice, bob, carol)
    alice.send({"type": "typing", "target": dm_target(world.uid("bob"))})
    assert bob.frames() == [
        {
            "type": "user_typing",
            "user_id": world.uid("alice"),
            "target": dm_target(world.uid("bob")),
        }
    ]
    alice.silent()
    carol.silent()
    alice.send({"type": "typing", "target": dm_target(NO_USER)})
    alice.silent()


# --------------------------------------------------------------------------- cleanup


def test_disconnect_stops_event_delivery(world: World) -> None:
    alice, bob = world.login("alice"), world.login("bob")
    room = make_room(alice)
    bob.ok("join_room", room_id=room)
    clear(alice, bob)
    session = bob.proto.session
    bob.drop()
    assert session.state is State.CLOSING
    assert world.core.hub.connections_of(world.uid("bob")) == frozenset()
    written = bob.transport.value()
    alice.ok("send_message", target=room_target(room), content="anyone?")
    world.core.admin.notice("hello everyone")
    assert bob.transport.value() == written
    assert [f["type"] for f in alice.frames()] == [
        "user_offline",
        "message_received",
        "server_notice",
    ]
    assert world.factory.open == {alice.proto}


def test_response_after_close_is_not_written(world: World) -> None:
    alice = world.login("alice")
    session = alice.proto.session
    session.close("test")
    assert alice.closed
    written = alice.transport.value()
    session.send({"type": "pong", "server_time": "x"})
    assert alice.transport.value() == written


# --------------------------------------------------------------------------- timeouts


@pytest.mark.parametrize(
    ("state", "limit"),
    [("hello", 30), ("key_exchange", 30), ("auth", 60), ("authenticated", 90)],
)
def test_each_state_times_out(world: World, state: str, limit: float) -> None:
    client = _client_in(world, state)
    client.frames()
    world.clock.advance(limit - 0.01)
    client.silent()
    assert not client.closed
    world.clock.advance(0.02)
    assert client.error() == ("timeout", "Connection timed out")
    assert client.closed and not client.aborted
    assert client.state is State.CLOSING
    # Left is only the abort of a close that does not finish (see the next test).
    [abort] = world.clock.getDelayedCalls()
    assert abort.getTime() == world.clock.seconds() + CLOSE_GRACE
    client.drop()  # the close completed
    assert world.clock.getDelayedCalls() == []


def test_a_close_that_does_not_finish_is_aborted(world: World) -> None:
    """A peer that never reads what is queued (or, under TLS, never does the
    handshake that the close waits for) would hold the connection open for good."""
    client = _client_in(world, "hello")
    world.clock.advance(30)
    assert client.closed and not client.aborted
    world.clock.advance(CLOSE_GRACE - 0.01)
    assert not client.aborted
    world.clock.advance(0.02)
    assert client.aborted


def test_timeouts_are_configurable() -> None:
    world = World(handshake_timeout=5, auth_timeout=7, idle_timeout=11)
    client = world.connect()
    world.clock.advance(5)
    assert client.error()[0] == "timeout"
    client = world.connect()
    client.hello()
    world.clock.advance(6.9)
    assert not client.closed
    world.clock.advance(0.1)
    assert client.error()[0] == "timeout"
    client = world.login("alice")
    world.clock.advance(10.9)
    assert not client.closed
    world.clock.advance(0.1)
    assert client.error()[0] == "timeout"


def test_every_frame_restarts_the_timer(world: World) -> None:
    client = world.connect()
    # Pinging keeps an unauthenticated connection open indefinitely (as the original).
    for _ in range(10):
        world.clock.advance(29)
        client.ping()
    client.hello()
    world.clock.advance(59)
    client.send_payload(b"not json")  # any frame counts, even an invalid one
    assert client.error()[0] == "invalid_message"
    world.clock.advance(59)
    client.authenticate(world.account("alice"))
    for _ in range(5):
        world.clock.advance(89)
        client.ping()
    world.clock.advance(89)
    client.ok("list_rooms")
    world.clock.advance(89.9)
    assert not client.closed
    world.clock.advance(0.2)
    assert client.error() == ("timeout", "Connection timed out")


def test_partial_frames_do_not_restart_the_timer(world: World) -> None:
    client = world.connect()
    world.clock.advance(20)
    client.send_raw(b"\x00\x00\x00\x0f{")  # the frame is not complete
    world.clock.advance(10)
    assert client.error()[0] == "timeout"


def test_idle_timeout_announces_offline(world: World) -> None:
    alice = world.login("alice")
    world.clock.advance(60)
    bob = world.login("bob")
    alice.frames()
    world.clock.advance(30)
    assert alice.error()[0] == "timeout"
    assert bob.frames() == [
        {"type": "user_offline", "user_id": world.uid("alice"), "username": "alice"}
    ]


# --------------------------------------------------------------------------- encryption


def test_encryption_wire_format_and_raw_shared_secret_as_key(world: World) -> None:
    alice = world.account("alice")
    client = world.connect()
    private = X25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    client.send({"type": "client_hello", "version": "1.0", "features": ["encryption"]})
    client.silent()
    assert client.state is State.AWAITING_KEY_EXCHANGE
    client.send({"type": "key_exchange", "public_key": base64.b64encode(public).decode()})

    (reply,) = client.raw_frames()  # plaintext
    decoded = orjson.loads(reply)
    assert list(decoded) == ["type", "public_key"]
    assert decoded["type"] == "key_exchange_response" and len(decoded["public_key"]) == 44
    server_public = base64.b64decode(decoded["public_key"], validate=True)
    secret = private.exchange(X25519PublicKey.from_public_bytes(server_public))
    aead = AESGCM(secret)  # no KDF: the raw X25519 secret is the key, both directions

    plaintext = orjson.dumps({"type": "authenticate", "token": alice.token, "request_id": "e"})
    nonce = bytes(range(12))
    sealed = nonce + aead.encrypt(nonce, plaintext, None)
    client.send_raw(PREFIX.pack(len(sealed)) + sealed)
    (frame,) = client.raw_frames()
    assert len(frame) == 12 + len(frame[12:-16]) + 16
    response = orjson.loads(aead.decrypt(frame[:12], frame[12:], None))
    assert response["type"] == "authenticate_response" and response["success"] is True
    assert response["request_id"] == "e"

    client.send_raw(PREFIX.pack(len(sealed)) + sealed)  # a replay is not detected
    (again,) = client.raw_frames()
    error = orjson.loads(aead.decrypt(again[:12], again[12:], None))
    assert error == {"type": "error", "code": "invalid_state", "message": "Already authenticated"}
    assert again[:12] != frame[:12]  # a fresh nonce per frame


def test_encrypted_client_chats_with_a_plaintext_one(world: World) -> None:
    alice = world.login("alice", encrypted=True)
    bob = world.login("bob")
    assert alice.proto.session.encrypted and not bob.proto.session.encrypted
    assert [f["type"] for f in alice.frames()] == ["user_online"]  # encrypted events
    room = make_room(alice)
    bob.ok("join_room", room_id=room)
    clear(alice, bob)

    bob.ok("send_message", target=room_target(room), content="plain to secret")
    bob.frames()
    (event,) = alice.frames()
    assert event["message"]["content"] == "plain to secret"
    alice.ok("send_message", target=room_target(room), content="secret to plain")
    assert [f["message"]["content"] for f in bob.of_type("message_received")] == ["secret to plain"]
    alice.frames()
    alice.ping()
    alice.send({"type": "key_exchange", "public_key": KeyExchange().public_key_b64})
    assert alice.error() == E4


def test_tampered_encrypted_frame_closes_silently(world: World) -> None:
    client = world.connect()
    client.hello(encrypted=True)
    sealed = bytearray(client.cipher.encrypt(b'{"type":"ping"}'))
    sealed[20] ^= 1
    client.send_raw(PREFIX.pack(len(sealed)) + bytes(sealed))
    assert client.raw_frames() == []
    assert client.closed


@pytest.mark.parametrize("size", [0, 1, 27])
def test_short_encrypted_frame_closes_silently(world: World, size: int) -> None:
    client = world.connect()
    client.hello(encrypted=True)
    client.send_raw(PREFIX.pack(size) + b"\x00" * size)
    assert client.raw_frames() == []
    assert client.closed


def test_plaintext_after_key_exchange_closes(world: World) -> None:
    client = world.connect()
    client.hello(encrypted=True)
    frame = b'{"type":"ping","padding":"0123456789abcdef"}'
    client.send_raw(PREFIX.pack(len(frame)) + frame)
    assert client.raw_frames() == []
    assert client.closed


def test_encrypted_non_utf8_closes_and_empty_plaintext_is_invalid(world: World) -> None:
    client = world.connect()
    client.hello(encrypted=True)
    client.send_payload(b"")  # 28 bytes on the wire: nonce + tag
    code, message = client.error()
    assert code == "invalid_message" and message.startswith("Invalid JSON: EOF")
    assert not client.closed
    client.send_payload(b'{"type":"ping","x":"\xff"}')
    assert client.raw_frames() == []
    assert client.closed


BAD_KEYS = [
    "",
    "abc",
    base64.b64encode(bytes(31)).decode(),  # wrong length
    base64.b64encode(bytes(33)).decode(),
    base64.b64encode(b"\x01" * 32).decode().rstrip("="),  # padding required
    base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode(),  # URL-safe alphabet
    base64.b64encode(bytes(32)).decode(),  # low-order point: all-zero secret
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_public_key_is_an_error_frame_and_the_state_stays(world: World, key: str) -> None:
    client = world.connect()
    client.send({"type": "client_hello", "version": "1.0", "features": ["encryption"]})
    client.send({"type": "key_exchange", "public_key": key})
    assert client.error() == ("invalid_message", "Invalid public key")
    assert client.state is State.AWAITING_KEY_EXCHANGE and not client.closed
    client.kx = KeyExchange()
    client.send({"type": "key_exchange", "public_key": client.kx.public_key_b64})
    assert client.one()["type"] == "key_exchange_response"
    client.authenticate(world.account("alice"))


def test_non_string_public_key_is_invalid_message(world: World) -> None:
    client = world.connect()
    client.send({"type": "client_hello", "version": "1.0", "features": ["encryption"]})
    client.send({"type": "key_exchange", "public_key": 42})
    code, message = client.error()
    assert code == "invalid_message" and message.startswith("Invalid JSON: ")
    assert client.state is State.AWAITING_KEY_EXCHANGE


def test_timeout_error_is_encrypted(world: World) -> None:
    client = world.connect()
    client.hello(encrypted=True)
    world.clock.advance(60)
    (frame,) = client.raw_frames()
    assert orjson.loads(client.cipher.decrypt(frame)) == {
        "type": "error",
        "code": "timeout",
        "message": "Connection timed out",
    }
    assert client.closed


def test_encryption_required() -> None:
    world = World(encryption_required=True)
    client = Client(world.factory)
    assert client.one()["encryption_required"] is True
    client.send({"type": "client_hello", "version": "1.0"})
    assert client.error() == ("encryption_required", "This server requires encryption")
    assert client.closed
    world.login("alice", encrypted=True).ok("get_current_user")


def test_websocket_settings_never_encrypt() -> None:
    """The session is shared with the WebSocket transport, where encryption is moot."""
    world = World(encryption_required=True)
    world.factory.settings = SessionSettings("ws", encryption_required=True)
    client = Client(world.factory)
    assert client.one()["encryption_required"] is False
    client.send({"type": "client_hello", "version": "1.0", "features": ["encryption"]})
    client.silent()
    assert client.state is State.AWAITING_AUTH
    client.authenticate(world.account("alice"))
    client.send({"type": "key_exchange", "public_key": KeyExchange().public_key_b64})
    assert client.error() == ("not_supported", "Key exchange not needed for WebSocket")


# --------------------------------------------------------------------------- rate limits


def _limited(world: World) -> None:
    world.core.limiter = RateLimiter(world.clock)


def test_commands_count_against_the_general_tier(world: World) -> None:
    _limited(world)
    alice = world.login("alice")
    for _ in range(100):
        alice.ok("get_current_user")
    response = alice.fails("list_users", "rate_limited", "Too many requests")
    assert response["error"]["details"] == {"retry_after": 60, "limit": 100}
    assert list(response) == ["type", "request_id", "success", "has_more", "total_count", "error"]
    alice.ping()  # pings are not counted
    assert not alice.closed
    world.login("bob").ok("get_current_user")  # per user
    world.clock.advance(60)
    alice.ok("get_current_user")


def test_message_commands_count_against_the_messaging_tier(world: World) -> None:
    _limited(world)
    alice = world.login("alice")
    bob = world.login("bob")
    for i in range(30):
        alice.ok("send_message", target=dm_target(world.uid("bob")), content=str(i))
    clear(alice, bob)
    alice.fails("send_message", "rate_limited", target=dm_target(world.uid("bob")), content="x")
    alice.fails("get_messages", "rate_limited", target=dm_target(world.uid("bob")))
    bob.silent()
    alice.ok("list_rooms")  # the general tier still has room
    alice.send({"type": "typing", "target": dm_target(world.uid("bob"))})
    assert [f["type"] for f in bob.frames()] == ["user_typing"]


def test_typing_is_dropped_when_rate_limited(world: World) -> None:
    _limited(world)
    alice, bob = world.login("alice"), world.login("bob")
    for _ in range(100):
        alice.ok("get_current_user")
    clear(alice, bob)
    alice.send({"type": "typing", "target": dm_target(world.uid("bob"))})
    alice.silent()
    bob.silent()


def test_logout_works_even_when_rate_limited(world: World) -> None:
    _limited(world)
    alice = world.login("alice")
    for _ in range(100):
        alice.ok("get_current_user")
    assert alice.request("logout")["success"] is True
    assert alice.closed


def test_legacy_login_and_register_are_limited_by_address(world: World) -> None:
    _limited(world)
    world.account("alice")
    client = world.connect()
    client.hello()
    for i in range(10):  # distinct identifiers: no account lockout
        client.fails("login", "invalid_credentials", identifier=f"nobody{i}", password=PASSWORD)
    response = client.fails("login", "rate_limited", identifier="alice", password=PASSWORD)
    assert response["error"]["details"]["limit"] == 10
    other = world.connect()  # same address (StringTransport's peer)
    other.hello()
    other.fails(
        "register", "rate_limited", username="bob", email="bob@example.com", password=PASSWORD
    )
    other.authenticate(world.accounts["alice"])  # token authentication is not limited
    world.clock.advance(59)
    client.ping()
    world.clock.advance(1)
    client.ok("login", identifier="alice", password=PASSWORD)


# --------------------------------------------------------------------------- pipelining


def _slow_authentication(world: World) -> None:
    """Authentication that completes a moment later, as on the threaded production store."""
    real = world.core.auth.authenticate

    def slow(token: str) -> Any:
        return task.deferLater(world.clock, 0.01, lambda: None).addCallback(lambda _: real(token))

    world.core.auth.authenticate = slow


def test_commands_pipelined_after_authenticate_are_handled_in_order(world: World) -> None:
    _slow_authentication(world)
    alice = world.account("alice")
    client = world.connect()
    client.send_raw(
        b"".join(
            PREFIX.pack(len(p)) + p
            for p in (
                orjson.dumps({"type": "client_hello", "version": "1.0"}),
                orjson.dumps({"type": "authenticate", "token": alice.token}),
                orjson.dumps({"type": "get_current_user"}),
                orjson.dumps({"type": "ping"}),
            )
        )
    )
    world.clock.advance(0.01)
    frames = client.frames()
    assert [f["type"] for f in frames] == [
        "authenticate_response",
        "get_current_user_response",
        "pong",
    ]


def test_a_pipelined_second_authenticate_is_already_authenticated(world: World) -> None:
    _slow_authentication(world)
    alice, bob = world.account("alice"), world.account("bob")
    client = world.connect()
    client.hello()
    client.send({"type": "authenticate", "token": alice.token})
    client.send({"type": "authenticate", "token": bob.token})
    world.clock.advance(0.01)
    first, second = client.frames()
    assert first["type"] == "authenticate_response" and first["success"] is True
    assert (second["type"], second.get("code")) == ("error", "invalid_state")
    assert client.proto.session.user_id == world.uid("alice")


def test_a_frame_over_1_mib_is_never_written_and_always_logged(world: World) -> None:
    """Whatever sends it: Session.send refuses it and says so (the reply queue then
    answers in its place; an immediate answer's stand-in is an error frame)."""
    from lairchat.realtime.session import _Reply

    client = world.login("alice")
    client.frames()
    with capturedLogs() as events:
        assert client.proto.session.send({"type": "x", "pad": "a" * 1_048_576}) is False
    client.silent()
    assert [formatEvent(e) for e in events if "over 1 MiB" in formatEvent(e)]
    assert _Reply({"type": "pong"}).too_large() == {
        "type": "error",
        "code": "internal_error",
        "message": "Response too large to send",
    }


def test_a_login_that_ends_after_its_connection_closed_leaves_no_session(
    world: World,
) -> None:
    """The legacy login's password check goes on when its client hangs up; the
    session it then made reached nobody, yet stayed valid for 24 hours. It is
    ended at once now."""
    from tests.unit.test_core_auth import HeldVerify

    world.account("alice")
    auth, store = world.core.auth, world.core.store
    auth.passwords = held = HeldVerify(auth.passwords)
    made, create = [], store.create_session
    store.create_session = lambda session, *a: made.append(session) or create(session, *a)
    client = world.connect()
    client.hello()
    client.send({"type": "login", "identifier": "alice", "password": PASSWORD})
    assert len(held.held) == 1
    client.drop()
    held.release()
    [session] = made
    assert result(store.get_session(session.id)) is None
