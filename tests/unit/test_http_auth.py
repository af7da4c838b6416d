"""HTTP auth endpoints and the bearer extractor (HTTP.md §2.2, §5.1)."""

from __future__ import annotations

from types import SimpleNamespace

import jwt
import pytest

from lairchat.core.auth import LOCKOUT_THRESHOLD
from lairchat.testing import TEST_SECRET, result
from lairchat.transports.http.testing import ApiClient

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/users/me"


@pytest.fixture
def alice(client: ApiClient):
    return client.register("alice")


def signup(client: ApiClient, username: str, email: str, password: str = "password1"):
    return client.post(REGISTER, {"username": username, "email": email, "password": password})


# -- register -----------------------------------------------------------------------------


def test_register_returns_user_session_and_token(client: ApiClient) -> None:
    reply = signup(client, "Alice", "Alice@Example.COM")
    assert reply.status == 201
    assert reply.header("content-type") == "application/json"
    body = reply.json
    assert list(body) == ["user", "session", "token"]
    assert body["user"]["username"] == "Alice"
    assert body["user"]["email"] == "alice@example.com"
    assert body["user"]["role"] == "user"
    assert body["user"]["last_seen_at"] is None
    assert body["session"]["expires_at"].endswith("+00:00")
    claims = jwt.decode(
        body["token"], TEST_SECRET, algorithms=["HS256"], options={"verify_exp": False}
    )
    assert claims["sub"] == body["user"]["id"] and claims["sid"] == body["session"]["id"]


@pytest.mark.parametrize(
    ("username", "email", "password", "status", "code"),
    [
        ("ab", "x@example.com", "password1", 400, "username_invalid"),
        ("_alice", "x@example.com", "password1", 400, "username_invalid"),
        ("alice", "no-at-sign", "password1", 400, "email_invalid"),
        ("alice", "x@example.com", "short", 400, "password_too_weak"),
        # format checks come first: a bad username wins over a bad email and password
        ("a b", "bad", "x", 400, "username_invalid"),
        ("alice", "bad", "x", 400, "email_invalid"),
    ],
)
def test_register_validation(client, username, email, password, status, code) -> None:
    reply = signup(client, username, email, password)
    assert (reply.status, reply.code) == (status, code)


def test_register_message_names_the_rule(client: ApiClient) -> None:
    reply = signup(client, "ab", "x@example.com")
    assert reply.error["message"] == "Username invalid: value too short: minimum 3, got 2"


def test_register_uniqueness_after_format(client: ApiClient, alice) -> None:
    assert signup(client, "ALICE", "other@example.com").code == "username_taken"
    assert signup(client, "ALICE", "other@example.com").status == 409
    assert signup(client, "bob", "ALICE@example.com").code == "email_taken"
    # a format error is reported before the name is found taken
    assert signup(client, "alice", "bad").code == "email_invalid"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@b.co", "password": "password1"}, "username"),
        ({"username": "alice", "email": None, "password": "password1"}, "email"),
        ({"username": 5, "email": "a@b.co", "password": "password1"}, "username"),
        ({"username": "alice", "email": "a@b.co", "password": ["x"]}, "password"),
    ],
)
def test_register_wrong_shape_is_422_naming_the_field(client, body, field) -> None:
    reply = client.post(REGISTER, body)
    assert reply.status == 422
    assert reply.code == "validation_failed"
    assert reply.error["message"].startswith(f"Validation failed: {field} - ")


# -- login --------------------------------------------------------------------------------


def test_login_by_username_or_email_any_case(client: ApiClient, alice) -> None:
    for identifier in ("alice", "ALICE", "Alice@Example.com"):
        reply = client.post(LOGIN, {"identifier": identifier, "password": "password1"})
        assert reply.status == 200
        assert list(reply.json) == ["user", "session", "token"]
        assert reply.json["session"]["id"] != alice.session["id"]  # a new session each time


def test_login_failures_are_indistinguishable(client: ApiClient, alice) -> None:
    wrong = client.post(LOGIN, {"identifier": "alice", "password": "nope-nope"})
    unknown = client.post(LOGIN, {"identifier": "nobody", "password": "password1"})
    for reply in (wrong, unknown):
        assert reply.status == 401
        assert reply.error == {"code": "invalid_credentials", "message": "Invalid credentials"}


def test_lockout_counts_by_client_address_behind_a_trusted_proxy() -> None:
    """The lockout keys failures by the address the rate limiter sees (SECURITY.md)."""
    config = SimpleNamespace(trusted_proxies=("127.0.0.0/8", "::1/128"))
    client = ApiClient(config=config)
    client.register("alice")

    def login(password: str, address: str):
        body = {"identifier": "alice", "password": password}
        return client.post(LOGIN, body, headers={"X-Forwarded-For": address})

    for _ in range(LOCKOUT_THRESHOLD):
        assert login("nope-nope", "203.0.113.9").status == 401
    assert login("password1", "203.0.113.9").code == "account_locked"
    assert login("password1", "198.51.100.7").status == 200


def test_login_missing_field(client: ApiClient) -> None:
    reply = client.post(LOGIN, {"identifier": "alice"})
    assert (reply.status, reply.code) == (422, "validation_failed")
    assert "password" in reply.error["message"]


# -- logout and refresh -------------------------------------------------------------------


def test_logout_revokes_only_that_session(client: ApiClient, alice) -> None:
    other = client.login(alice)
    reply = client.post("/api/v1/auth/logout", token=alice.token)
    assert (reply.status, reply.json) == (200, {"success": True})
    again = client.post("/api/v1/auth/logout", token=alice.token)
    assert (again.status, again.code) == (401, "session_not_found")
    assert client.get(ME, token=alice.token).code == "session_not_found"
    assert client.get(ME, token=other.token).status == 200


def test_logout_ignores_any_body(client: ApiClient, alice) -> None:
    reply = client.post("/api/v1/auth/logout", data=b"not json", token=alice.token)
    assert reply.status == 200


def test_refresh_keeps_session_and_expiry(client: ApiClient, alice) -> None:
    client.core.clock.advance(60)
    reply = client.post("/api/v1/auth/refresh", token=alice.token)
    assert reply.status == 200
    assert list(reply.json) == ["token", "expires_at"]
    assert reply.json["expires_at"] == alice.session["expires_at"]
    old = jwt.decode(alice.token, TEST_SECRET, algorithms=["HS256"], options={"verify_exp": False})
    new = jwt.decode(
        reply.json["token"], TEST_SECRET, algorithms=["HS256"], options={"verify_exp": False}
    )
    assert (new["sid"], new["exp"]) == (old["sid"], old["exp"])
    assert new["iat"] == old["iat"] + 60
    assert client.get(ME, token=reply.json["token"]).status == 200
    client.post("/api/v1/auth/logout", token=alice.token)
    assert client.post("/api/v1/auth/refresh", token=alice.token).code == "session_not_found"


# -- the caller's sessions ----------------------------------------------------------------

SESSIONS = "/api/v1/auth/sessions"


def test_sessions_lists_the_callers_own_newest_first(client: ApiClient, alice) -> None:
    client.core.clock.advance(5)
    phone = client.login(alice)
    client.register("bob")
    reply = client.get(SESSIONS, token=phone.token)
    assert reply.status == 200
    assert list(reply.json) == ["sessions", "has_more"] and reply.json["has_more"] is False
    listed = reply.json["sessions"]
    assert [s["id"] for s in listed] == [phone.session["id"], alice.session["id"]]
    assert [s["current"] for s in listed] == [True, False]
    assert listed[1] == {
        "id": alice.session["id"],
        "protocol": "http",
        "created_at": "2023-11-14T22:13:20Z",
        "last_active_at": "2023-11-14T22:13:20Z",
        "expires_at": alice.session["expires_at"],
        "ip_address": "127.0.0.1",
        "user_agent": None,
        "current": False,
    }
    # The other token sees the same sessions, itself the current one.
    mine = client.get(SESSIONS, token=alice.token).json["sessions"]
    assert [(s["id"], s["current"]) for s in mine] == [
        (phone.session["id"], False),
        (alice.session["id"], True),
    ]


def test_a_session_is_listed_with_the_client_seen_where_it_was_made() -> None:
    """The address the server takes for the client's (behind a trusted proxy, the one
    it speaks for, as rate limits and the lockout see it) and its User-Agent, kept
    from the login or registration that made the session; both were always null."""
    client = ApiClient(config=SimpleNamespace(trusted_proxies=("127.0.0.0/8",)))
    laptop = {"X-Forwarded-For": "203.0.113.9", "User-Agent": "lairchat-web/1.0 (X11)"}
    body = {"username": "alice", "email": "a@example.com", "password": "password1"}
    alice = client.post(REGISTER, body, headers=laptop).json
    phone = client.post(
        LOGIN,
        {"identifier": "alice", "password": "password1"},
        headers={"X-Forwarded-For": "2001:db8::7", "User-Agent": "x" * 300},
    ).json
    listed = client.get(SESSIONS, token=alice["token"]).json["sessions"]
    seen = [(s["id"], s["ip_address"], s["user_agent"]) for s in listed]
    assert seen == [
        (phone["session"]["id"], "2001:db8::7", "x" * 256),
        (alice["session"]["id"], "203.0.113.9", "lairchat-web/1.0 (X11)"),
    ]


def test_last_active_at_is_renewed_by_use_at_most_once_a_minute(client: ApiClient, alice) -> None:
    """It said when the session was made, whatever its use since. Every request with
    its token renews it, but the stored time is written only when a minute old."""

    def last_active() -> str:
        return client.get(SESSIONS, token=other.token).json["sessions"][-1]["last_active_at"]

    other = client.login(alice)
    made = "2023-11-14T22:13:20Z"
    assert last_active() == made
    client.core.clock.advance(30)
    assert client.get(ME, token=alice.token).status == 200
    assert last_active() == made  # under a minute: nothing written
    client.core.clock.advance(31)
    assert client.get(ME, token=alice.token).status == 200
    assert last_active() == "2023-11-14T22:14:21Z"
    client.core.clock.advance(59)
    assert client.get(ME, token=alice.token).status == 200
    assert last_active() == "2023-11-14T22:14:21Z"
    stored = result(client.core.store.get_session(alice.session["id"]))
    assert stored.last_active_at == 1_700_000_061


def test_a_session_with_a_live_connection_is_active_now(client: ApiClient, alice) -> None:
    """A TCP or WebSocket connection renews nothing stored while it is open (its
    frames are not session checks): the listing says it is in use now."""
    other = client.login(alice)
    connection = client.connect(alice)
    client.core.clock.advance(3600)
    listed = client.get(SESSIONS, token=other.token).json["sessions"]
    assert [(s["current"], s["last_active_at"]) for s in listed] == [
        (True, "2023-11-14T23:13:20Z"),
        (False, "2023-11-14T23:13:20Z"),
    ]
    connection.close("test")
    client.core.hub.detach(connection)
    listed = client.get(SESSIONS, token=other.token).json["sessions"]
    assert listed[1]["last_active_at"] == "2023-11-14T22:13:20Z"


def test_ending_another_of_ones_sessions(client: ApiClient, alice) -> None:
    """The way to cut off a stolen token alone: it is refused, the caller's stays."""
    stolen = client.login(alice)
    connection = client.connect(stolen)
    reply = client.delete(f"{SESSIONS}/{stolen.session['id']}", token=alice.token)
    assert (reply.status, reply.json) == (200, {"success": True})
    assert connection.closed == ["logged out"] and connection.notices == [None]
    assert client.get(ME, token=stolen.token).code == "session_not_found"
    assert client.get(ME, token=alice.token).status == 200
    assert [s["id"] for s in client.get(SESSIONS, token=alice.token).json["sessions"]] == [
        alice.session["id"]
    ]


def test_ending_the_current_session_is_a_logout(client: ApiClient, alice) -> None:
    other = client.login(alice)
    reply = client.delete(f"{SESSIONS}/{alice.session['id'].upper()}", token=alice.token)
    assert (reply.status, reply.json) == (200, {"success": True})
    again = client.delete(f"{SESSIONS}/{alice.session['id']}", token=alice.token)
    assert (again.status, again.code) == (401, "session_not_found")
    assert client.get(ME, token=other.token).status == 200


@pytest.mark.parametrize("which", ["bobs", "unknown", "ended", "malformed"])
def test_a_session_not_the_callers_is_404(client: ApiClient, alice, which: str) -> None:
    """Another user's session looks exactly like one that does not exist."""
    bob = client.register("bob")
    ended = client.login(alice)
    client.post("/api/v1/auth/logout", token=ended.token)
    session_id = {
        "bobs": bob.session["id"],
        "unknown": "00000000-0000-4000-8000-000000000000",
        "ended": ended.session["id"],
        "malformed": "not-a-uuid",
    }[which]
    reply = client.delete(f"{SESSIONS}/{session_id}", token=alice.token)
    assert (reply.status, reply.json) == (
        404,
        {"error": {"code": "not_found", "message": "Session not found"}},
    )
    assert client.get(ME, token=bob.token).status == 200
    assert client.get(ME, token=alice.token).status == 200


def test_a_malformed_session_id_is_checked_before_the_session(client: ApiClient, alice) -> None:
    """HTTP.md's order: ids in the path (5) before the session (6)."""
    client.post("/api/v1/auth/logout", token=alice.token)
    assert client.delete(f"{SESSIONS}/nope", token=alice.token).status == 404
    assert client.delete(f"{SESSIONS}/{alice.session['id']}", token=alice.token).status == 401
    assert client.get(SESSIONS, token=alice.token).code == "session_not_found"


def test_sessions_need_a_token(client: ApiClient, alice) -> None:
    assert client.get(SESSIONS).code == "missing_token"
    reply = client.delete(f"{SESSIONS}/{alice.session['id']}")
    assert (reply.status, reply.code) == (401, "missing_token")


# -- change password ----------------------------------------------------------------------


def test_change_password(client: ApiClient, alice) -> None:
    path = "/api/v1/auth/change-password"
    body = {"current_password": "password1", "new_password": "password2"}
    reply = client.post(path, body, token=alice.token)
    assert (reply.status, reply.json) == (200, {"success": True})
    assert client.post(LOGIN, {"identifier": "alice", "password": "password1"}).status == 401
    assert client.post(LOGIN, {"identifier": "alice", "password": "password2"}).status == 200
    assert client.get(ME, token=alice.token).status == 200  # the caller's session stays


def test_change_password_ends_the_other_sessions(client: ApiClient, alice) -> None:
    """Changing a password after a compromise must lock the intruder out."""
    intruder = client.post(LOGIN, {"identifier": "alice", "password": "password1"}).json
    body = {"current_password": "password1", "new_password": "password2"}
    assert client.post("/api/v1/auth/change-password", body, token=alice.token).status == 200
    assert client.get(ME, token=intruder["token"]).code == "session_not_found"
    assert client.get(ME, token=alice.token).status == 200


def test_change_password_checks_current_before_strength(client: ApiClient, alice) -> None:
    path = "/api/v1/auth/change-password"
    wrong = client.post(path, {"current_password": "bad", "new_password": "x"}, token=alice.token)
    assert (wrong.status, wrong.code) == (400, "incorrect_password")
    weak = client.post(
        path, {"current_password": "password1", "new_password": "x"}, token=alice.token
    )
    assert (weak.status, weak.code) == (400, "password_too_weak")
    shape = client.post(path, {"current_password": "password1"}, token=alice.token)
    assert (shape.status, shape.code) == (422, "validation_failed")


# -- the bearer extractor -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "code", "message"),
    [
        (None, "missing_token", "Authorization header required"),
        ("bearer abc", "invalid_format", "Authorization header must be 'Bearer <token>'"),
        ("Basic abc", "invalid_format", "Authorization header must be 'Bearer <token>'"),
        ("Bearertoken", "invalid_format", "Authorization header must be 'Bearer <token>'"),
        ("Bearer abc", "invalid_token", "Invalid token: malformed token"),
        # HTTP strips the trailing space, so nothing follows "Bearer"
        ("Bearer ", "invalid_format", "Authorization header must be 'Bearer <token>'"),
    ],
)
def test_bearer_extractor(client: ApiClient, header, code, message) -> None:
    headers = {} if header is None else {"Authorization": header}
    reply = client.get(ME, headers=headers)
    assert reply.status == 401
    assert reply.error == {"code": code, "message": message}


def test_non_ascii_header_is_missing_token(client: ApiClient) -> None:
    reply = client.get(ME, headers={"Authorization": "Bearer caf\u00e9"})
    assert (reply.status, reply.code) == (401, "missing_token")


def test_token_with_two_spaces_is_not_trimmed(client: ApiClient, alice) -> None:
    reply = client.get(ME, headers={"Authorization": "Bearer  " + alice.token})
    assert reply.code == "invalid_token"


def test_bad_signature(client: ApiClient, alice) -> None:
    claims = jwt.decode(alice.token, options={"verify_signature": False})
    forged = jwt.encode(claims, "another-secret-another-secret-0123", algorithm="HS256")
    reply = client.get(ME, token=forged)
    assert reply.error == {"code": "invalid_token", "message": "Invalid token: invalid signature"}


def test_invalid_claims(client: ApiClient, alice) -> None:
    claims = jwt.decode(alice.token, options={"verify_signature": False})
    claims["sub"] = "not-a-uuid"
    token = jwt.encode(claims, TEST_SECRET, algorithm="HS256")
    reply = client.get(ME, token=token)
    assert (reply.status, reply.error) == (
        401,
        {"code": "invalid_claims", "message": "Token claims are invalid"},
    )


def test_token_expired_message(client: ApiClient, alice) -> None:
    client.core.clock.advance(24 * 3600 + 1)
    reply = client.get(ME, token=alice.token)
    assert (reply.status, reply.error) == (
        401,
        {"code": "token_expired", "message": "Token has expired, please login again"},
    )


def test_session_expired_is_reported_and_deleted(client: ApiClient, alice) -> None:
    # A session row that ends before its token (e.g. shortened by an operator).
    connection = client.core.store._writer.connection
    connection.execute("UPDATE sessions SET expires_at = expires_at - 7200")
    connection.commit()
    client.core.clock.advance(24 * 3600 - 3600)
    reply = client.get(ME, token=alice.token)
    assert (reply.status, reply.code) == (401, "session_expired")
    assert result(client.core.store.get_session(alice.session["id"])) is None


def test_token_is_checked_before_the_body(client: ApiClient) -> None:
    reply = client.post("/api/v1/rooms", data=b"{not json", headers={"Content-Type": "text/plain"})
    assert reply.code == "missing_token"


def test_sessions_are_paged_with_limit_and_offset(client: ApiClient, alice) -> None:
    # Found in review: the listing gave the newest 100 and has_more, with no way to
    # the others. It pages as GET /users does: limit (at most 100) and offset.
    for _ in range(2):
        client.core.clock.advance(1)
        client.login(alice)
    client.check_bounded_paging(SESSIONS, "sessions", alice.token)
