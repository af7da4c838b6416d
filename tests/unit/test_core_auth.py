"""AuthService and Tokens: register, login, lockout, bans, token decoding, sessions,
logout, refresh, change password (DOMAIN.md §2-§6, HTTP.md §5.1)."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from twisted.internet import defer

from lairchat.core import auth
from lairchat.core.auth import (
    LOCKOUT_DURATION,
    LOCKOUT_THRESHOLD,
    LOCKOUT_THRESHOLD_ALL,
    SESSION_LIFETIME,
)
from lairchat.domain.errors import LairError
from lairchat.domain.ids import new_id
from lairchat.domain.types import Ban, Session, User
from lairchat.testing import TEST_SECRET, make_core, result

T0 = 1_700_000_000
PASSWORD = "password1"


@pytest.fixture
def w(core_world):
    return core_world


@pytest.fixture
def alice(w):
    return w.register("alice", "Alice@Example.com")


def claims_of(token: str) -> dict:
    return jwt.decode(token, TEST_SECRET, algorithms=["HS256"], options={"verify_exp": False})


def forge(claims: dict, key: str = TEST_SECRET, **kw) -> str:
    return jwt.encode(claims, key, algorithm="HS256", **kw)


# -- register -------------------------------------------------------------------------


def test_register_creates_user_session_and_token(w):
    res = w.register("Alice", "Alice@Example.COM")
    assert res.user.username == "Alice"  # case preserved
    assert res.user.email == "alice@example.com"  # stored lowercased
    assert res.user.role == "user"
    assert res.user.created_at == res.user.updated_at == T0
    assert res.session.user_id == res.user.id
    assert res.session.expires_at == T0 + SESSION_LIFETIME
    assert res.to_wire()["session"] == {
        "id": res.session.id,
        "expires_at": "2023-11-15T22:13:20+00:00",
    }
    assert list(res.to_wire()) == ["user", "session", "token"]
    assert claims_of(res.token) == {
        "sub": res.user.id,
        "sid": res.session.id,
        "username": "Alice",
        "role": "user",
        "exp": T0 + SESSION_LIFETIME,
        "iat": T0,
    }
    assert jwt.get_unverified_header(res.token) == {"alg": "HS256", "typ": "JWT"}
    stored = result(w.core.store.get_user(res.user.id))
    assert stored.email == "alice@example.com"
    assert result(w.core.store.get_session(res.session.id)).protocol == "http"
    assert w.hub.username(res.user.id) == "Alice"  # the directory knows the new user


def test_register_stores_an_original_compatible_argon2id_hash():
    core = make_core()  # the real hasher, once
    res = result(core.auth.register("alice", "a@x.io", PASSWORD))
    stored = result(core.store.get_user(res.user.id)).password_hash
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    salt, digest = stored.split("$")[-2:]
    assert len(base64.b64decode(salt + "==")) == 16
    assert len(base64.b64decode(digest + "==")) == 32
    assert result(core.auth.login("alice", PASSWORD)).user.id == res.user.id


# (username, email, password, expected code): the first failing rule wins, in the
# order username format, email format, password length, username taken, email taken.
REGISTER_ORDER = [
    ("a", "bad", "short", "username_invalid"),
    ("_alice", "bad", "short", "username_invalid"),
    ("ALICE", "bad", "short", "email_invalid"),
    ("ALICE", "alice@example.com", "short", "password_too_weak"),
    ("ALICE", "ALICE@example.com", PASSWORD, "username_taken"),
    ("bob", "ALICE@EXAMPLE.COM", PASSWORD, "email_taken"),
]


@pytest.mark.parametrize(("username", "email", "password", "code"), REGISTER_ORDER)
def test_register_check_order(w, alice, username, email, password, code):
    w.fails(w.core.auth.register(username, email, password), code)


def test_register_messages(w):
    error = w.fails(w.core.auth.register("ab", "a@x.io", PASSWORD), "username_invalid")
    assert error.message == "Username invalid: value too short: minimum 3, got 2"
    error = w.fails(w.core.auth.register("abc", "a@x", PASSWORD), "email_invalid")
    assert error.message == "Email invalid: invalid format: domain must contain a dot"


def test_register_non_ascii_case_variant_is_taken(w):
    """Lair Chat folds ASCII case only, so ``émile`` beside ``Émile`` was a second
    account; they look alike ignoring case (lairchat.domain.lookalike), and ``Alice``
    beside ``alice`` is already one account: the second is refused as taken."""
    w.register("Émile", "e1@x.io")
    w.fails(w.core.auth.register("émile", "e2@x.io", PASSWORD), "username_taken")


# -- login ----------------------------------------------------------------------------


@pytest.mark.parametrize("identifier", ["alice", "ALICE", "alice@example.com", "ALICE@example.COM"])
def test_login_by_username_or_email_case_insensitively(w, alice, identifier):
    res = w.ok(w.core.auth.login(identifier, PASSWORD))
    assert res.user.id == alice.user.id
    assert res.user.email == "alice@example.com"
    assert res.session.id != alice.session.id  # a new session every time
    assert claims_of(res.token)["sid"] == res.session.id


def test_every_login_creates_another_session(w, alice):
    ids = {w.ok(w.core.auth.login("alice", PASSWORD)).session.id for _ in range(3)}
    assert len(ids) == 3
    for sid in ids | {alice.session.id}:
        assert result(w.core.store.get_session(sid)) is not None


@pytest.mark.parametrize(("identifier", "password"), [("nobody", PASSWORD), ("alice", "wrong-pw")])
def test_unknown_user_and_wrong_password_look_the_same(w, alice, identifier, password):
    error = w.fails(w.core.auth.login(identifier, password), "invalid_credentials")
    assert (error.status, error.message) == (401, "Invalid credentials")


# -- lockout (our addition) -----------------------------------------------------------


def fail_logins(w, identifier: str, n: int, source: str = "") -> None:
    for _ in range(n):
        w.fails(w.core.auth.login(identifier, "wrong-pw", source), "invalid_credentials")


def test_lockout_after_five_failures_then_clears(w, alice):
    fail_logins(w, "alice", LOCKOUT_THRESHOLD)
    error = w.fails(w.core.auth.login("alice", PASSWORD), "account_locked")
    assert error.message == "Account locked: too many failed login attempts"
    w.fails(w.core.auth.login("ALICE", PASSWORD), "account_locked")  # same key, any case
    w.ok(w.core.auth.login("alice@example.com", PASSWORD))  # other identifier: not locked
    w.clock.advance(LOCKOUT_DURATION - 1)
    w.fails(w.core.auth.login("alice", PASSWORD), "account_locked")
    w.clock.advance(1)
    assert w.ok(w.core.auth.login("alice", PASSWORD)).user.id == alice.user.id


def test_four_failures_do_not_lock(w, alice):
    fail_logins(w, "alice", LOCKOUT_THRESHOLD - 1)
    w.ok(w.core.auth.login("alice", PASSWORD))


def test_success_resets_the_failure_count(w, alice):
    fail_logins(w, "alice", LOCKOUT_THRESHOLD - 1)
    w.ok(w.core.auth.login("alice", PASSWORD))
    fail_logins(w, "alice", LOCKOUT_THRESHOLD - 1)
    w.ok(w.core.auth.login("alice", PASSWORD))


def test_old_failures_leave_the_window(w, alice):
    fail_logins(w, "alice", LOCKOUT_THRESHOLD - 1)
    w.clock.advance(15 * 60)
    fail_logins(w, "alice", LOCKOUT_THRESHOLD - 1)
    w.ok(w.core.auth.login("alice", PASSWORD))


def test_unknown_identifiers_are_locked_too(w):
    fail_logins(w, "ghost", LOCKOUT_THRESHOLD)
    w.fails(w.core.auth.login("ghost", PASSWORD), "account_locked")


def test_failures_lock_out_only_the_address_they_come_from(w, alice):
    """Anyone can fail five times for a known name: that must not lock its owner out."""
    fail_logins(w, "alice", LOCKOUT_THRESHOLD, "ip:203.0.113.9")
    w.fails(w.core.auth.login("alice", PASSWORD, "ip:203.0.113.9"), "account_locked")
    assert w.ok(w.core.auth.login("alice", PASSWORD, "ip:198.51.100.7")).user.id == alice.user.id


def test_success_forgets_only_its_own_address_failures(w, alice):
    fail_logins(w, "alice", LOCKOUT_THRESHOLD - 1, "ip:203.0.113.9")
    w.ok(w.core.auth.login("alice", PASSWORD, "ip:198.51.100.7"))
    fail_logins(w, "alice", 1, "ip:203.0.113.9")
    w.fails(w.core.auth.login("alice", PASSWORD, "ip:203.0.113.9"), "account_locked")


def test_guessing_spread_over_addresses_locks_the_identifier_for_everyone(w, alice):
    per_address = LOCKOUT_THRESHOLD - 1  # each address stays under its own lock
    for i in range(LOCKOUT_THRESHOLD_ALL):
        fail_logins(w, "alice", 1, f"ip:203.0.113.{i // per_address}")
    w.fails(w.core.auth.login("alice", PASSWORD, "ip:198.51.100.7"), "account_locked")
    w.ok(w.core.auth.login("alice@example.com", PASSWORD, "ip:198.51.100.7"))
    w.clock.advance(LOCKOUT_DURATION)
    w.ok(w.core.auth.login("alice", PASSWORD, "ip:198.51.100.7"))


def test_locks_are_bounded_the_oldest_forgotten_first(w, monkeypatch):
    """Unknown identifiers are locked too, so an attacker could mint locks at will:
    the table of locks is bounded like the table of failures."""
    monkeypatch.setattr(auth, "LOCKOUT_TRACKED_MAX", 3)
    for name in ("ghost0", "ghost1", "ghost2", "ghost3"):
        fail_logins(w, name, LOCKOUT_THRESHOLD)
    assert len(w.core.auth.lockout._locked_until) == 3
    w.fails(w.core.auth.login("ghost0", PASSWORD), "invalid_credentials")  # forgotten
    for name in ("ghost1", "ghost2", "ghost3"):
        w.fails(w.core.auth.login(name, PASSWORD), "account_locked")


# -- bans (our addition) --------------------------------------------------------------


def ban(w, user_id: str, expires_at: float | None = None) -> None:
    result(w.core.store.put_ban(Ban(user_id, "spam", None, w.clock.seconds(), expires_at)))


def test_banned_user_cannot_log_in(w, alice):
    ban(w, alice.user.id)
    error = w.fails(w.core.auth.login("alice", PASSWORD), "account_banned")
    assert error.status == 403
    # the password is checked first: a wrong one reveals nothing
    w.fails(w.core.auth.login("alice", "wrong-pw"), "invalid_credentials")


def test_a_ban_landing_while_the_login_runs_leaves_it_no_session(w, alice):
    """A ban lands while the login's password is being checked (it ends the sessions
    there are, not the one made next): the session's insert checks for a ban itself,
    so the login is refused as banned and stores nothing. (When the login read the
    ban in a step of its own before the insert, a ban between the two left the
    banned user a session good for a day.)"""
    passwords = w.core.auth.passwords
    held = w.core.auth.passwords = HeldVerify(passwords)
    login = w.core.auth.login("alice", PASSWORD, "ip:203.0.113.9")
    w.core.auth.passwords = passwords
    ban(w, alice.user.id)
    held.release()
    w.fails(login, "account_banned")
    assert result(w.core.store.delete_user_sessions(alice.user.id, keep=alice.session.id)) == []


def test_a_login_reads_the_database_three_times(w, alice):
    """The user, the second factor, the session's insert: a ban and a second factor
    turned on meanwhile are checked by the insert, not by reads of their own (five
    round trips to the database's threads before, on the reactor's time)."""
    store, calls = w.core.store, []
    for name in ("find_user_by_login", "totp_of", "get_ban", "create_session", "get_user"):
        original = getattr(store, name)

        def counted(*args, _name=name, _original=original, **kw):
            calls.append(_name)
            return _original(*args, **kw)

        setattr(store, name, counted)
    w.ok(w.core.auth.login("alice", PASSWORD, "ip:203.0.113.9"))
    assert calls == ["find_user_by_login", "totp_of", "create_session"]


def made_elsewhere(w, username: str) -> User:
    """An account as ``lairchat admin create-user`` writes it while the server runs:
    straight into the database, from another process."""
    user = User(new_id(), username, f"{username}@example.com", "user", T0, T0)
    user.password_hash = result(w.core.auth.passwords.hash(PASSWORD))
    result(w.core.store.create_user(user))
    return user


def test_an_account_made_elsewhere_is_named_once_it_logs_in_or_authenticates(w):
    """The hub had no name for such an account, and its first user_online named it
    by its id (helper-40's finding)."""
    erin, frank = made_elsewhere(w, "erin"), made_elsewhere(w, "frank")
    assert w.core.hub.username(erin.id) is None
    w.ok(w.core.auth.login("erin", PASSWORD))
    assert w.core.hub.username(erin.id) == "erin"
    # A session made by another server process: only its token reaches this one.
    session = Session(new_id(), frank.id, T0, T0 + 3600)
    result(w.core.store.create_session(session))
    w.ok(w.core.auth.authenticate(w.core.auth.tokens.issue(frank, session)))
    assert w.core.hub.username(frank.id) == "frank"


def test_temporary_ban_expires(w, alice):
    ban(w, alice.user.id, expires_at=T0 + 3600)
    w.fails(w.core.auth.login("alice", PASSWORD), "account_banned")
    w.clock.advance(3600)
    w.ok(w.core.auth.login("alice", PASSWORD))


# -- tokens ---------------------------------------------------------------------------


def test_decode_valid_token(w, alice):
    claims = w.core.auth.tokens.decode(alice.token)
    assert (claims.user_id, claims.session_id, claims.username, claims.role) == (
        alice.user.id,
        alice.session.id,
        "alice",
        "user",
    )
    assert (claims.exp, claims.iat) == (T0 + SESSION_LIFETIME, T0)


def good_claims(alice) -> dict:
    return {
        "sub": alice.user.id,
        "sid": alice.session.id,
        "username": "alice",
        "role": "user",
        "exp": T0 + 60,
        "iat": T0,
    }


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def alg_none(claims: dict) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda a: tampered(a.token), "Invalid token: invalid signature"),
        (
            lambda a: forge(good_claims(a), key="another-key-of-at-least-32-bytes!"),
            "Invalid token: invalid signature",
        ),
        (lambda a: alg_none(good_claims(a)), None),
        (
            lambda a: forge(good_claims(a), key=TEST_SECRET + "x"),
            "Invalid token: invalid signature",
        ),
        (lambda a: "not.a.token", "Invalid token: malformed token"),
        (lambda a: "", "Invalid token: malformed token"),
        (
            lambda a: forge({k: v for k, v in good_claims(a).items() if k != "sid"}),
            "Invalid token: missing claim sid",
        ),
        (
            lambda a: forge({k: v for k, v in good_claims(a).items() if k != "exp"}),
            "Invalid token: missing claim exp",
        ),
        (lambda a: forge({**good_claims(a), "exp": "soon"}), "Invalid token: invalid exp claim"),
        (lambda a: forge({**good_claims(a), "iat": "abc"}), "Invalid token: invalid iat claim"),
        (lambda a: forge({**good_claims(a), "iat": [1]}), "Invalid token: invalid iat claim"),
        (lambda a: forge({**good_claims(a), "sub": 5}), None),  # not even a string
    ],
    ids=[
        "tampered",
        "other-key",
        "alg-none",
        "longer-key",
        "malformed",
        "empty",
        "no-sid",
        "no-exp",
        "exp-not-int",
        "iat-not-a-number",
        "iat-a-list",
        "sub-not-string",
    ],
)
def test_decode_rejects_invalid_tokens(w, alice, make, message):
    error = w.fails(w.core.auth.authenticate(make(alice)), "invalid_token")
    assert error.status == 401
    assert error.message.startswith("Invalid token")
    if message is not None:
        assert error.message == message


def test_decode_rejects_another_algorithm(w, alice):
    token = jwt.encode(good_claims(alice), TEST_SECRET * 2, algorithm="HS512")
    w.fails(w.core.auth.authenticate(token), "invalid_token")


@pytest.mark.parametrize(("field", "value"), [("sub", "alice"), ("sid", "12"), ("sid", "")])
def test_non_uuid_subjects(w, alice, field, value):
    """The HTTP extractor's ``invalid_claims``; the real-time ``authenticate`` has no such
    code and answers ``invalid_token`` (PROTOCOL.md §7.1)."""
    token = forge({**good_claims(alice), field: value})
    with pytest.raises(LairError) as info:
        w.core.auth.tokens.decode(token)
    assert (info.value.code, info.value.message) == ("invalid_claims", "Token claims are invalid")
    error = w.fails(w.core.auth.authenticate(token), "invalid_token")
    assert error.message.startswith("Invalid token: ")


def test_decode_accepts_other_uuid_spellings(w, alice):
    claims = {**good_claims(alice), "sub": alice.user.id.upper().replace("-", "")}
    decoded = w.core.auth.tokens.decode(forge(claims))
    assert decoded.user_id == alice.user.id


def test_token_expiry_has_zero_leeway(w, alice):
    w.clock.advance(SESSION_LIFETIME)  # now == exp: still valid
    user, _ = w.ok(w.core.auth.authenticate(alice.token))
    assert user.id == alice.user.id
    w.clock.advance(1)
    error = w.fails(w.core.auth.authenticate(alice.token), "token_expired")
    assert error.message == "Token expired"


# -- sessions -------------------------------------------------------------------------


def test_authenticate_reads_user_and_session_from_the_database(w, alice):
    user, session = w.ok(w.core.auth.authenticate(alice.token))
    assert user.id == alice.user.id and user.email == "alice@example.com"
    assert session.id == alice.session.id
    assert session.expires_at == T0 + SESSION_LIFETIME


def test_expired_session_is_reported_and_deleted(w, alice):
    claims = w.core.auth.tokens.decode(alice.token)
    w.clock.advance(SESSION_LIFETIME)
    w.ok(w.core.auth.validate(claims))  # now == expires_at: still valid
    w.clock.advance(1)
    w.fails(w.core.auth.validate(claims), "session_expired")
    assert result(w.core.store.get_session(alice.session.id)) is None
    w.fails(w.core.auth.validate(claims), "session_not_found")


def test_unknown_session(w, alice):
    token = forge({**good_claims(alice), "sid": new_id()})
    error = w.fails(w.core.auth.authenticate(token), "session_not_found")
    assert error.message == "Session not found or expired"


def test_logout_revokes_the_session_and_closes_its_connections(w, alice):
    other = w.ok(w.core.auth.login("alice", PASSWORD))
    same1 = w.connect(alice.user, alice.session.id)
    same2 = w.connect(alice.user, alice.session.id)
    elsewhere = w.connect(alice.user, other.session.id)
    assert w.ok(w.core.auth.logout(alice.session.id)) is True
    assert same1.closed == same2.closed == ["logged out"]
    assert elsewhere.closed == []
    w.fails(w.core.auth.authenticate(alice.token), "session_not_found")
    w.ok(w.core.auth.authenticate(other.token))  # other sessions are untouched
    assert w.ok(w.core.auth.logout(alice.session.id)) is False


# -- the user's sessions --------------------------------------------------------------


def test_sessions_lists_the_users_live_sessions_newest_first(w, alice):
    w.clock.advance(10)
    later = w.ok(w.core.auth.login("alice", PASSWORD))
    same_second = w.ok(w.core.auth.login("alice", PASSWORD))  # made after: listed before
    w.register("bob")
    found, more = w.ok(w.core.auth.sessions(alice.user))
    assert [s.id for s in found] == [same_second.session.id, later.session.id, alice.session.id]
    assert more is False
    first = found[-1]
    assert (first.user_id, first.protocol) == (alice.user.id, "http")
    assert first.created_at == first.last_active_at == T0
    assert first.expires_at == T0 + SESSION_LIFETIME
    assert (first.ip_address, first.user_agent) == (None, None)


def test_sessions_leaves_out_the_expired_and_the_ended(w, alice):
    w.clock.advance(10)
    other = w.ok(w.core.auth.login("alice", PASSWORD))
    ended = w.ok(w.core.auth.login("alice", PASSWORD))
    w.ok(w.core.auth.logout(ended.session.id))
    w.clock.advance(SESSION_LIFETIME - 10)  # now == alice's expiry: live, as validate says
    assert [s.id for s in w.ok(w.core.auth.sessions(alice.user))[0]] == [
        other.session.id,
        alice.session.id,
    ]
    w.clock.advance(1)
    assert [s.id for s in w.ok(w.core.auth.sessions(alice.user))[0]] == [other.session.id]


def test_sessions_are_listed_up_to_a_bound_the_newest_kept(w, alice, monkeypatch):
    """Logins are unlimited: the listing is bounded, and says whether it left some out."""
    monkeypatch.setattr(auth, "SESSIONS_LISTED_MAX", 2)
    newest = [w.ok(w.core.auth.login("alice", PASSWORD)).session.id for _ in range(2)]
    found, more = w.ok(w.core.auth.sessions(alice.user))
    assert ([s.id for s in found], more) == (newest[::-1], True)
    w.ok(w.core.auth.logout(alice.session.id))
    assert w.ok(w.core.auth.sessions(alice.user))[1] is False


def test_ending_a_session_is_its_logout(w, alice):
    """Its tokens are refused and its connections closed as a logout closes them; the
    caller's and every other session stay."""
    stolen = w.ok(w.core.auth.login("alice", PASSWORD))
    third = w.ok(w.core.auth.login("alice", PASSWORD))
    theirs = w.connect(alice.user, stolen.session.id)
    mine = w.connect(alice.user, alice.session.id)
    w.ok(w.core.auth.end_session(alice.user, stolen.session.id))
    assert theirs.closed == ["logged out"] and mine.closed == []
    w.fails(w.core.auth.authenticate(stolen.token), "session_not_found")
    w.ok(w.core.auth.authenticate(alice.token))
    w.ok(w.core.auth.authenticate(third.token))
    # Ending one's own session is allowed: a logout.
    w.ok(w.core.auth.end_session(alice.user, alice.session.id))
    assert mine.closed == ["logged out"]
    w.fails(w.core.auth.authenticate(alice.token), "session_not_found")


def test_a_session_not_the_callers_is_unknown_to_them(w, alice):
    """Another user's session, an unknown id, an ended or an expired session: the same
    404, and another user's session is left alone."""
    bob = w.register("bob")
    bobs = w.connect(bob.user, bob.session.id)
    ended = w.ok(w.core.auth.login("alice", PASSWORD))
    w.ok(w.core.auth.logout(ended.session.id))
    for session_id in (bob.session.id, new_id(), ended.session.id):
        error = w.fails(w.core.auth.end_session(alice.user, session_id), "not_found")
        assert (error.status, error.message) == (404, "Session not found")
    assert bobs.closed == []
    w.ok(w.core.auth.authenticate(bob.token))
    w.clock.advance(SESSION_LIFETIME + 1)
    other = w.ok(w.core.auth.login("alice", PASSWORD))
    error = w.fails(w.core.auth.end_session(other.user, alice.session.id), "not_found")
    assert error.status == 404


def test_a_session_ended_meanwhile_is_unknown(w, alice, monkeypatch):
    """Read, then ended by another request before this one deletes it: 404, as it
    would be a moment later."""
    other = w.ok(w.core.auth.login("alice", PASSWORD))
    read = w.core.store.get_session

    def read_then_end(session_id):
        found = read(session_id)
        w.ok(w.core.store.delete_session(session_id))
        return found

    monkeypatch.setattr(w.core.store, "get_session", read_then_end)
    error = w.fails(w.core.auth.end_session(alice.user, other.session.id), "not_found")
    assert error.status == 404


def test_refresh_keeps_the_session_and_its_expiry(w, alice):
    w.clock.advance(3600)
    user, session = w.ok(w.core.auth.authenticate(alice.token))
    out = w.core.auth.refresh(user, session)
    assert out["expires_at"] == "2023-11-15T22:13:20+00:00"
    old, new = claims_of(alice.token), claims_of(out["token"])
    assert new["exp"] == old["exp"] == T0 + SESSION_LIFETIME
    assert new["sid"] == old["sid"]
    assert new["iat"] == T0 + 3600
    assert w.ok(w.core.auth.authenticate(out["token"]))[1].id == alice.session.id


# -- change password ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "new", "code"),
    [
        ("wrong-pw", "new-password", "incorrect_password"),
        ("wrong-pw", "short", "incorrect_password"),  # current is checked first
        ("", "new-password", "incorrect_password"),
        (PASSWORD, "short", "password_too_weak"),
    ],
)
def test_change_password_refused(w, alice, current, new, code):
    w.fails(w.core.auth.change_password(alice.user, current, new), code)
    w.ok(w.core.auth.login("alice", PASSWORD))


def test_wrong_current_passwords_lock_password_changes_from_that_session(w, alice):
    """A stolen token must not be a way to guess the password at leisure."""
    other = w.ok(w.core.auth.login("alice", PASSWORD))
    change = w.core.auth.change_password
    for _ in range(LOCKOUT_THRESHOLD):
        w.fails(
            change(other.user, "guess-guess", "new-password", other.session.id),
            "incorrect_password",
        )
    error = w.fails(
        change(other.user, PASSWORD, "new-password", other.session.id), "account_locked"
    )
    assert error.message == "Password change locked: too many wrong current passwords"
    w.ok(w.core.auth.login("alice", PASSWORD))  # logins are not locked by it
    w.ok(change(alice.user, PASSWORD, "new-password", alice.session.id))  # nor other sessions


def test_change_password_keeps_only_the_callers_session(w, alice):
    w.clock.advance(10)
    other = w.ok(w.core.auth.login("alice", PASSWORD))
    w.ok(w.core.auth.change_password(alice.user, PASSWORD, "new-password", alice.session.id))
    w.fails(w.core.auth.login("alice", PASSWORD), "invalid_credentials")
    w.ok(w.core.auth.login("alice", "new-password"))
    w.ok(w.core.auth.authenticate(alice.token))  # the caller's: kept
    w.fails(w.core.auth.authenticate(other.token), "session_not_found")
    assert result(w.core.store.get_user(alice.user.id)).updated_at == T0 + 10


class HeldVerify:
    """The password check of the next login held until :meth:`release`: a login whose
    hashing is still running while something else happens."""

    def __init__(self, passwords):
        self.passwords = passwords
        self.held: list[tuple[defer.Deferred, defer.Deferred]] = []

    def hash(self, password):
        return self.passwords.hash(password)

    def verify(self, stored, password):
        outcome, held = self.passwords.verify(stored, password), defer.Deferred()
        self.held.append((outcome, held))
        return held

    def release(self) -> None:
        for outcome, held in self.held:
            outcome.chainDeferred(held)
        self.held.clear()


def test_a_login_checked_against_the_old_password_gets_no_session_after_a_change(w, alice):
    """A login with the old password whose check was running while the password was
    changed must not end with a new session: that is the intruder the change was
    meant to lock out, and the change's end of sessions has already run."""
    passwords = w.core.auth.passwords
    held = w.core.auth.passwords = HeldVerify(passwords)
    intruder = w.core.auth.login("alice", PASSWORD, "ip:203.0.113.9")
    w.core.auth.passwords = passwords  # the change's own checks run at once
    w.ok(w.core.auth.change_password(alice.user, PASSWORD, "new-password", alice.session.id))
    held.release()
    w.fails(intruder, "invalid_credentials")
    sessions = result(w.core.store.delete_user_sessions(alice.user.id, keep=alice.session.id))
    assert sessions == []


def test_logins_checked_at_the_same_time_count_against_the_lockout(w, alice):
    """Attempts whose password checks run at once (many connections, each sending a
    login) were all let through before the first failure was counted: a guesser got
    as many guesses as it could send together, past both thresholds."""
    passwords = w.core.auth.passwords
    held = w.core.auth.passwords = HeldVerify(passwords)
    login = w.core.auth.login
    here = [login("alice", f"guess{i}", "ip:203.0.113.9") for i in range(2 * LOCKOUT_THRESHOLD)]
    spread = [login("alice", "guess", f"ip:198.51.100.{i}") for i in range(LOCKOUT_THRESHOLD_ALL)]
    assert len(held.held) == LOCKOUT_THRESHOLD_ALL  # only these are checked
    held.release()
    codes = [failure_code(d) for d in here + spread]
    assert codes.count("invalid_credentials") == LOCKOUT_THRESHOLD_ALL
    assert codes.count("account_locked") == len(codes) - LOCKOUT_THRESHOLD_ALL
    assert codes[:LOCKOUT_THRESHOLD] == ["invalid_credentials"] * LOCKOUT_THRESHOLD
    w.core.auth.passwords = passwords
    w.fails(login("alice", PASSWORD, "ip:192.0.2.1"), "account_locked")


def failure_code(d: defer.Deferred) -> str:
    with pytest.raises(LairError) as info:
        result(d)
    return info.value.code


def test_an_attempt_that_errs_leaves_nothing_counted(w, alice):
    def broken(identifier):
        return defer.fail(RuntimeError("database gone"))

    find = w.core.store.find_user_by_login
    w.core.store.find_user_by_login = broken
    for _ in range(LOCKOUT_THRESHOLD_ALL):
        with pytest.raises(RuntimeError):
            result(w.core.auth.login("alice", PASSWORD, "ip:203.0.113.9"))
    w.core.store.find_user_by_login = find
    w.ok(w.core.auth.login("alice", PASSWORD, "ip:203.0.113.9"))


def test_a_password_change_that_cannot_end_the_sessions_changes_nothing(w, alice):
    """The new hash and the end of the other sessions were two transactions: a
    failure in the second (a storage fault, a lock held too long) answered an error
    with the password changed and the intruder's session still open."""
    other = w.ok(w.core.auth.login("alice", PASSWORD))
    conn = w.core.store._writer.connection
    conn.execute(
        "CREATE TEMP TRIGGER fail BEFORE DELETE ON sessions BEGIN "
        "SELECT RAISE(ABORT, 'disk I/O error'); END"
    )
    with pytest.raises(Exception, match="disk I/O error|storage"):
        result(w.core.auth.change_password(alice.user, PASSWORD, "new-password", alice.session.id))
    conn.execute("DROP TRIGGER fail")
    w.ok(w.core.auth.login("alice", PASSWORD))  # unchanged, as the error said
    w.ok(w.core.auth.authenticate(other.token))


def test_a_change_checked_against_the_old_password_loses_to_a_change_made_meanwhile(w, alice):
    """Two changes at once: the intruder's (they know the old password, from a
    stolen session), checked first, and the owner's, landing while the intruder's
    ran on. The intruder's was stored over the owner's: it ended the owner's session
    and left the account with the intruder's password."""
    intruder = w.ok(w.core.auth.login("alice", PASSWORD, "ip:203.0.113.9"))
    passwords = w.core.auth.passwords
    held = w.core.auth.passwords = HeldVerify(passwords)
    theirs = w.core.auth.change_password(
        intruder.user, PASSWORD, "intruders-pw", intruder.session.id
    )
    w.core.auth.passwords = passwords
    w.ok(w.core.auth.change_password(alice.user, PASSWORD, "owners-new-pw", alice.session.id))
    held.release()
    w.fails(theirs, "incorrect_password")
    w.ok(w.core.auth.authenticate(alice.token))
    w.fails(w.core.auth.login("alice", "intruders-pw"), "invalid_credentials")
    w.ok(w.core.auth.login("alice", "owners-new-pw"))


def test_an_unknown_users_stand_in_hash_is_made_in_the_hashing_thread(monkeypatch) -> None:
    """The first login for an unknown identifier needs a hash to verify against, so
    that it costs what a known one does. It was made on the caller's thread (the
    reactor's), stopping the server for a whole hash; it is made by the hashing
    pool's work now, like every other hash."""
    import lairchat.core.passwords as passwords
    from lairchat.transports.http.testing import CHEAP_HASHER

    made = []

    class Counting:
        def hash(self, password: str) -> str:
            made.append(password)
            return CHEAP_HASHER.hash(password)

        def verify(self, stored: str, password: str) -> bool:
            return CHEAP_HASHER.verify(stored, password)

    monkeypatch.setattr(passwords, "HASHER", Counting())
    monkeypatch.setattr(passwords, "_dummy", [])  # made once per process, not per test
    queued: list = []

    def later(operation, *args):  # a pool whose work runs when the test says
        d = defer.Deferred()
        queued.append((operation, args, d))
        return d

    checker = passwords.Passwords(later)
    verdict = checker.verify(None, "guess")
    assert made == [] and len(queued) == 1  # nothing hashed by the caller
    operation, args, d = queued.pop()
    d.callback(passwords.perform(operation, *args))
    assert result(verdict) is False
    assert len(made) == 1
    second = checker.verify(None, "guess")
    operation, args, d = queued.pop()
    d.callback(passwords.perform(operation, *args))
    assert result(second) is False and len(made) == 1  # made once, then kept


@pytest.mark.parametrize(
    ("address", "user_agent", "kept"),
    [
        ("203.0.113.9", b"curl/8.5.0", ("203.0.113.9", "curl/8.5.0")),
        # An escape sequence would act in a terminal showing the listing.
        ("::1", "evil\x1b[2J\x07 agent\x7f", ("::1", "evil[2J agent")),
        ("10.0.0.1", b"caf\xc3\xa9 \xff", ("10.0.0.1", "café \ufffd")),
        ("10.0.0.1", "é" * 300, ("10.0.0.1", "é" * auth.USER_AGENT_MAX)),
        ("", " \t", (None, None)),
        ("10.0.0.1", None, ("10.0.0.1", None)),
    ],
    ids=["bytes", "controls", "undecodable", "long", "empty", "none"],
)
def test_the_client_seen_is_kept_printable_and_bounded(address, user_agent, kept) -> None:
    seen = auth.Seen.of(address, user_agent)
    assert (seen.address, seen.user_agent) == kept


def test_a_session_made_remembers_the_client_seen() -> None:
    core = make_core()
    result(core.auth.register("alice", "a@example.com", "password1"))
    seen = auth.Seen.of("198.51.100.4", "lairchat-tui/0.1")
    made = result(core.auth.login("alice", "password1", seen=seen)).session
    alice = result(core.store.find_user_by_login("alice"))
    listed = result(core.auth.sessions(alice))[0]
    assert [(s.id, s.ip_address, s.user_agent) for s in listed] == [
        (made.id, "198.51.100.4", "lairchat-tui/0.1"),
        (listed[1].id, None, None),
    ]


def test_touching_a_session_writes_once_a_minute_whoever_read_the_old_time() -> None:
    """Requests at once on one session each read the old time and each ask for a
    write: the store writes the first and not the others, nor one going back."""
    core = make_core()
    session = result(core.auth.register("alice", "a@example.com", "password1")).session
    made = int(session.created_at)
    store = core.store
    result(store.touch_session(session.id, made + 61, auth.LAST_ACTIVE_EVERY))
    result(store.touch_session(session.id, made + 62, auth.LAST_ACTIVE_EVERY))
    result(store.touch_session(session.id, made + 30, auth.LAST_ACTIVE_EVERY))
    assert result(store.get_session(session.id)).last_active_at == made + 61
    result(store.touch_session(session.id, made + 121, auth.LAST_ACTIVE_EVERY))
    assert result(store.get_session(session.id)).last_active_at == made + 121
