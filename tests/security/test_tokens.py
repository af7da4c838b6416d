"""Tokens: only ours, only while their session lives, on every transport.

A token is accepted only if it is an HS256 JWT signed with our secret, unexpired,
with well-formed claims, naming a session that still exists (not logged out, not
ended by a ban). Each forged or stale token below is offered three ways:

- HTTP: ``Authorization: Bearer <token>`` on ``GET /api/v1/users/me`` (and, for the
  forgeries, on every authenticated route);
- TCP: the ``authenticate`` command;
- WebSocket: ``/ws?token=<token>``, at the session layer in memory.

Then: a logout or a ban closes the live connections it revokes, at once.
"""

from __future__ import annotations

import base64
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from lairchat.core.auth import SESSION_LIFETIME
from lairchat.realtime.session import SessionSettings, State
from lairchat.testing import TEST_SECRET, result
from lairchat.transports.http.openapi import openapi_document
from lairchat.transports.http.testing import PASSWORD
from lairchat.transports.tcp import LairTCPFactory

# --------------------------------------------------------------------------- forging


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return orjson.loads(unb64(header)), orjson.loads(unb64(payload)), signature


def assemble(header: dict[str, Any], payload: dict[str, Any], signature: str) -> str:
    return ".".join((b64(orjson.dumps(header)), b64(orjson.dumps(payload)), signature))


def claims(w: Any, **changes: Any) -> dict[str, Any]:
    """The claims of ``member``'s real token, with ``changes``."""
    _, payload, _ = parts(w.token("member"))
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not DROP}


DROP: Any = object()


def tampered(w: Any, **changes: Any) -> str:
    """``member``'s real token with claims changed and the original signature kept."""
    header, _, signature = parts(w.token("member"))
    return assemble(header, claims(w, **changes), signature)


def signed(w: Any, key: Any = TEST_SECRET, algorithm: str = "HS256", **changes: Any) -> str:
    with warnings.catch_warnings():
        # Our test secret is short for HS384/HS512; these tokens must fail anyway.
        warnings.simplefilter("ignore")
        return jwt.encode(claims(w, **changes), key, algorithm=algorithm)


def unsigned(w: Any, alg: str) -> str:
    return assemble({"alg": alg, "typ": "JWT"}, claims(w), "")


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)

Forge = Callable[[Any], str]

#: name -> (how to make the token, HTTP refusal, real-time refusal code)
REFUSED: dict[str, tuple[Forge, tuple[int, str], str]] = {
    "alg-none": (lambda w: unsigned(w, "none"), (401, "invalid_token"), "invalid_token"),
    "alg-None": (lambda w: unsigned(w, "None"), (401, "invalid_token"), "invalid_token"),
    "alg-none-with-signature": (
        lambda w: assemble({"alg": "none"}, claims(w), parts(w.token("member"))[2]),
        (401, "invalid_token"),
        "invalid_token",
    ),
    "rs256": (
        lambda w: signed(w, RSA_KEY, "RS256"),
        (401, "invalid_token"),
        "invalid_token",
    ),
    # The key-confusion shape: an RS256 header over an HMAC made with our secret.
    "rs256-header-hmac-signature": (
        lambda w: assemble({"alg": "RS256", "typ": "JWT"}, claims(w), parts(signed(w))[2]),
        (401, "invalid_token"),
        "invalid_token",
    ),
    "hs512-our-secret": (
        lambda w: signed(w, algorithm="HS512"),
        (401, "invalid_token"),
        "invalid_token",
    ),
    "hs384-our-secret": (
        lambda w: signed(w, algorithm="HS384"),
        (401, "invalid_token"),
        "invalid_token",
    ),
    "another-key": (
        lambda w: signed(w, "another-secret-of-32-characters-at-least"),
        (401, "invalid_token"),
        "invalid_token",
    ),
    "embedded-jwk": (
        lambda w: jwt.encode(
            claims(w),
            "attacker-key-attacker-key-attacker-key",
            algorithm="HS256",
            headers={"jwk": {"kty": "oct", "k": b64(b"attacker-key-attacker-key-attacker-key")}},
        ),
        (401, "invalid_token"),
        "invalid_token",
    ),
    "tampered-sub": (
        lambda w: tampered(w, sub=w.id("admin")),
        (401, "invalid_token"),
        "invalid_token",
    ),
    "tampered-sid": (
        lambda w: tampered(w, sid=w.account("admin").session["id"]),
        (401, "invalid_token"),
        "invalid_token",
    ),
    "tampered-role": (lambda w: tampered(w, role="admin"), (401, "invalid_token"), "invalid_token"),
    "tampered-exp": (
        lambda w: tampered(w, exp=claims(w)["exp"] + 365 * 86400),
        (401, "invalid_token"),
        "invalid_token",
    ),
    "expired": (
        lambda w: signed(w, exp=int(w.clock.seconds()) - 1),
        (401, "token_expired"),
        "token_expired",
    ),
    "unknown-session": (
        lambda w: signed(w, sid=str(uuid.uuid4())),
        (401, "session_not_found"),
        "session_not_found",
    ),
    # Over HTTP the extractor's own code; the real-time wire has no invalid_claims.
    "sub-not-a-uuid": (lambda w: signed(w, sub="admin"), (401, "invalid_claims"), "invalid_token"),
    "sid-not-a-uuid": (lambda w: signed(w, sid="1"), (401, "invalid_claims"), "invalid_token"),
    "missing-sid": (lambda w: signed(w, sid=DROP), (401, "invalid_token"), "invalid_token"),
    "missing-exp": (lambda w: signed(w, exp=DROP), (401, "invalid_token"), "invalid_token"),
    "exp-not-an-integer": (
        lambda w: signed(w, exp=str(claims(w)["exp"])),
        (401, "invalid_token"),
        "invalid_token",
    ),
    "iat-not-an-integer": (
        lambda w: signed(w, iat=1.5),
        (401, "invalid_token"),
        "invalid_token",
    ),
    "garbage": (lambda w: "not.a.jwt", (401, "invalid_token"), "invalid_token"),
    # "Bearer " with nothing after it reaches the server as "Bearer" (trailing space
    # trimmed): no token at all.
    "empty": (lambda w: "", (401, "invalid_format"), "invalid_token"),
    "logged-out": (lambda w: logged_out(w), (401, "session_not_found"), "session_not_found"),
    # Real-time authenticate tells a banned user why (a reconnecting client shows it).
    "banned": (lambda w: w.token("banned"), (401, "session_not_found"), "account_banned"),
    "session-expired": (
        lambda w: expire_everything(w),
        (401, "token_expired"),
        "token_expired",
    ),
}


def logged_out(w: Any) -> str:
    reply = w.api.post("/api/v1/auth/logout", token=w.token("member"))
    assert reply.status == 200, reply
    return w.token("member")


def expire_everything(w: Any) -> str:
    """The token's session (and so the token: ``exp`` is the session's end) is over."""
    w.clock.advance(SESSION_LIFETIME + 1)
    return w.token("member")


# --------------------------------------------------------------------------- presenting


def over_http(w: Any, token: str, path: str = "/api/v1/users/me") -> tuple[int, str | None]:
    reply = w.api.get(path, token=token)
    assert reply.status < 500, reply
    return reply.status, (reply.code if reply.status >= 400 else None)


def over_tcp(w: Any, token: str) -> str | None:
    client = w.tcp()
    reply = client.authenticate(token)
    if reply["success"]:
        assert client.state is State.AUTHENTICATED
        return None
    assert set(reply) == {"type", "request_id", "success", "error"}, reply
    # Still unauthenticated: commands are refused by the state machine.
    assert client.state is State.AWAITING_AUTH
    assert client.request("get_current_user")["code"] == "unauthorized"
    return reply["error"]["code"]


def over_ws(w: Any, token: str) -> str | None:
    client = w.ws(token)
    hello, reply = client.frames()
    assert hello["type"] == "server_hello"
    assert reply["type"] == "authenticate_response" and reply["request_id"] is None, reply
    if reply["success"]:
        assert client.state is State.AUTHENTICATED
        return None
    assert client.state is State.AWAITING_HELLO
    return reply["error"]["code"]


# --------------------------------------------------------------------------- tests


def test_our_tokens_are_accepted_everywhere(world: Any) -> None:
    w = world
    token = w.token("member")
    assert over_http(w, token) == (200, None)
    assert over_tcp(w, token) is None
    assert over_ws(w, token) is None
    header, payload, _ = parts(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert set(payload) == {"sub", "sid", "username", "role", "exp", "iat"}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_tokens(world: Any, name: str) -> None:
    forge, http_refusal, realtime_code = REFUSED[name]
    token = forge(world)
    assert over_http(world, token) == http_refusal
    assert over_tcp(world, token) == realtime_code
    assert over_ws(world, token) == realtime_code


#: Forgeries tried on every route that needs a token.
FORGERIES = ("alg-none", "another-key", "tampered-role", "hs512-our-secret", "expired")
AUTHENTICATED_ROUTES = sorted(
    (method.upper(), path)
    for path, operations in openapi_document()["paths"].items()
    for method, operation in operations.items()
    if operation["security"]
)


@pytest.mark.parametrize("name", FORGERIES)
def test_every_authenticated_route_refuses_forgeries(world: Any, name: str) -> None:
    forge, (status, code), _ = REFUSED[name]
    token = forge(world)
    ids = {
        "room_id": world.room_id("public"),
        "user_id": world.id("bystander"),
        "message_id": world.messages["public"],
        "invitation_id": str(uuid.uuid4()),
        "session_id": world.account("bystander").session["id"],
        "emoji": "%F0%9F%91%8D",
        "code_id": str(uuid.uuid4()),
        "code": "not-a-code",
    }
    assert len(AUTHENTICATED_ROUTES) == 54
    for method, template in AUTHENTICATED_ROUTES:
        path = template.format(**ids)
        reply = world.api.request(method, path, {"content": "x"}, token=token)
        assert (reply.status, reply.code) == (status, code), (method, path, reply)
    # Nothing happened: the public room and its message are still there.
    assert result(world.core.store.get_message(world.messages["public"])) is not None


def test_the_role_claim_is_never_trusted(world: Any) -> None:
    """A token minted while its user was an admin stops opening the admin endpoints
    as soon as the stored role changes."""
    w = world
    token = w.token("admin")
    assert parts(token)[1]["role"] == "admin"
    admin_reads = ("/api/v1/admin/stats", "/api/v1/admin/audit")
    assert [w.api.get(path, token=token).status for path in admin_reads] == [200, 200]
    result(w.core.store.set_role(w.id("admin"), "user"))
    for path in admin_reads:
        reply = w.api.get(path, token=token)
        assert (reply.status, reply.code) == (403, "permission_denied")


def test_refreshed_tokens_die_with_their_session(world: Any) -> None:
    w = world
    fresh = w.api.post("/api/v1/auth/refresh", token=w.token("member")).json["token"]
    assert parts(fresh)[1]["sid"] == parts(w.token("member"))[1]["sid"]
    assert parts(fresh)[1]["exp"] == parts(w.token("member"))[1]["exp"]  # nothing extended
    logged_out(w)
    for token in (fresh, w.token("member")):
        assert over_http(w, token) == (401, "session_not_found")
        assert over_tcp(w, token) == "session_not_found"


def test_an_expired_session_closes_its_live_connections(world: Any) -> None:
    """A token stolen with its connection must not outlive the session's 24 hours: at
    expiry every connection on the session gets ``session_expired`` and is closed,
    however busy it keeps (SECURITY.md), on TCP and WebSocket alike."""
    w = world
    # The idle timeout out of the way: these clients ping, but rarely.
    idle = 2 * SESSION_LIFETIME
    w.factory = LairTCPFactory(w.core, SessionSettings("tcp", idle_timeout=idle), w.clock, 0)
    tcp = w.tcp("member")
    ws = w.ws(w.token("member"), SessionSettings("ws", idle_timeout=idle))
    assert ws.frames()[1]["success"] is True
    for _ in range(23):  # an hour at a time, with activity on both
        w.clock.advance(3600)
        tcp.ping()
        ws.session.activity()
    w.clock.advance(3600 - 1)
    assert not tcp.closed and not ws.closed  # still valid up to expires_at itself
    tcp.frames(), ws.frames()
    w.clock.advance(1.01)
    expired = {"type": "error", "code": "session_expired", "message": "Session expired"}
    assert tcp.frames()[-1] == expired and tcp.closed
    assert ws.frames()[-1] == expired and ws.closed


# --------------------------------------------------------------------------- revocation


def connections_of(w: Any, name: str, session_token: str) -> tuple[Any, Any]:
    """A TCP and a WebSocket connection authenticated with ``session_token``."""
    tcp = w.tcp()
    assert tcp.authenticate(session_token)["success"] is True
    ws = w.ws(session_token)
    assert ws.frames()[1]["success"] is True
    return tcp, ws


def second_session(w: Any, name: str) -> str:
    reply = w.api.post("/api/v1/auth/login", {"identifier": name, "password": PASSWORD})
    assert reply.status == 200, reply
    return reply.json["token"]


def test_a_ban_closes_every_connection_and_refuses_every_door(world: Any) -> None:
    w = world
    first = connections_of(w, "bystander", w.token("bystander"))
    other = second_session(w, "bystander")
    second = connections_of(w, "bystander", other)
    watcher = w.tcp("member")
    assert w.core.hub.is_online(w.id("bystander"))

    reply = w.api.post(f"/api/v1/admin/users/{w.id('bystander')}/ban", {}, token=w.token("admin"))
    assert reply.status == 200, reply
    assert reply.json == {"success": True, "expires_at": None}

    for connection in (*first, *second):
        assert connection.closed
        assert connection.state is State.CLOSING
    assert not w.core.hub.is_online(w.id("bystander"))
    offline = watcher.of_type("user_offline")
    assert [e["user_id"] for e in offline] == [w.id("bystander")]
    for token in (w.token("bystander"), other):
        assert over_http(w, token) == (401, "session_not_found")
        assert over_tcp(w, token) == "account_banned"
        assert over_ws(w, token) == "account_banned"
    login = w.api.post("/api/v1/auth/login", {"identifier": "bystander", "password": PASSWORD})
    assert (login.status, login.code) == (403, "account_banned")
    legacy = w.tcp().request("login", identifier="bystander", password=PASSWORD)
    assert legacy["error"]["code"] == "account_banned"
    # Events stop too: the room goes on without them.
    w.say("member", "public", "after the ban")
    assert all(c.closed for c in (*first, *second))


def test_a_timed_ban_ends_and_old_tokens_stay_dead(world: Any) -> None:
    w = world
    reply = w.api.post(
        f"/api/v1/admin/users/{w.id('bystander')}/ban",
        {"duration_hours": 1},
        token=w.token("admin"),
    )
    assert reply.status == 200, reply
    w.clock.advance(3600 + 1)
    assert second_session(w, "bystander")
    assert over_http(w, w.token("bystander")) == (401, "session_not_found")


def test_http_logout_closes_that_sessions_connections_only(world: Any) -> None:
    w = world
    doomed = connections_of(w, "member", w.token("member"))
    other = second_session(w, "member")
    kept = connections_of(w, "member", other)

    assert w.api.post("/api/v1/auth/logout", token=w.token("member")).status == 200

    assert all(c.closed for c in doomed)
    assert not any(c.closed for c in kept)
    assert kept[0].request("list_invitations")["success"] is True
    assert over_http(w, other) == (200, None)
    assert over_http(w, w.token("member")) == (401, "session_not_found")
    again = w.api.post("/api/v1/auth/logout", token=w.token("member"))
    assert (again.status, again.code) == (401, "session_not_found")


def test_realtime_logout_closes_every_connection_of_the_session(world: Any) -> None:
    w = world
    tcp, ws = connections_of(w, "member", w.token("member"))
    other = w.tcp("member")  # the same session, another connection
    reply = tcp.request("logout")
    assert reply == {"type": "logout_response", "request_id": reply["request_id"], "success": True}
    assert tcp.closed and ws.closed and other.closed
    assert over_http(w, w.token("member")) == (401, "session_not_found")
    assert over_tcp(w, w.token("member")) == "session_not_found"


@pytest.mark.parametrize("revoke", ["logout", "password-change", "ban"])
def test_a_revoked_token_exports_nothing_even_with_the_password(world: Any, revoke: str) -> None:
    """The data export asks for the password besides the token; a token whose session
    ended (logged out, every session ended by a password change, a ban) gets the
    session's 401 before the password is looked at, and no byte of the data."""
    w = world
    actor = "banned" if revoke == "ban" else "member"
    token = w.token(actor)
    if revoke == "logout":
        logged_out(w)
    elif revoke == "password-change":
        change = {"current_password": PASSWORD, "new_password": "password2"}
        other = second_session(w, actor)
        assert w.api.post("/api/v1/auth/change-password", change, token=other).status == 200
    reply = w.api.post("/api/v1/users/me/export", {"password": PASSWORD}, token=token)
    assert (reply.status, reply.code) == (401, "session_not_found")
    assert w.id(actor).encode() not in reply.body
