"""Two-factor sign-in asked beyond the login: new recovery codes (``POST
/users/me/2fa/recovery-codes``), and the code an account with it on gives to delete
itself or export its data (docs/protocols/HTTP.md, "Two-factor sign-in (TOTP)";
docs/SECURITY.md, "Two-factor sign-in"), over an in-memory core."""

from __future__ import annotations

import pytest

from lairchat.core.auth import LOCKOUT_THRESHOLD
from lairchat.transports.http.ratelimit import tier_of
from lairchat.transports.http.testing import PASSWORD, ApiClient, result
from tests.unit.test_two_factor import (
    ME,
    SETUP,
    code_now,
    deletions_done,
    login,
    next_step,
    turn_on,
)

CODES = f"{ME}/2fa/recovery-codes"
EXPORT = f"{ME}/export"


def test_new_recovery_codes_replace_the_unused_ones(client: ApiClient) -> None:
    alice = client.register("alice")
    secret, old = turn_on(client, alice)
    other = login(client, "alice", totp=old[0])  # 9 left
    assert other.status == 200
    next_step(client)
    body = {"password": PASSWORD, "code": code_now(client, secret)}
    reply = client.post(CODES, body, token=alice.token)
    assert reply.status == 200, reply
    new = reply.json["recovery_codes"]
    assert list(reply.json) == ["recovery_codes"]
    assert len(set(new)) == 10 and not set(new) & set(old)
    me = client.get(ME, token=alice.token).json
    assert me["two_factor"] == {"enabled": True, "recovery_codes_left": 10}
    # The old ones stopped working; the new ones sign in, once.
    for code in old[1:4]:
        assert login(client, "alice", totp=code).code == "invalid_totp"
    next_step(client)
    assert login(client, "alice", totp=new[0]).status == 200
    assert login(client, "alice", totp=new[0]).code == "invalid_totp"
    # No session ended: only the codes changed.
    assert client.get(ME, token=other.json["token"]).status == 200


def test_a_recovery_code_asks_for_new_ones_and_is_used_up(client: ApiClient) -> None:
    alice = client.register("alice")
    _, old = turn_on(client, alice)
    reply = client.post(CODES, {"password": PASSWORD, "code": old[5]}, token=alice.token)
    assert reply.status == 200
    new = reply.json["recovery_codes"]
    again = client.post(CODES, {"password": PASSWORD, "code": old[5]}, token=alice.token)
    assert (again.status, again.code) == (401, "invalid_totp")
    reply = client.post(CODES, {"password": PASSWORD, "code": new[1]}, token=alice.token)
    assert reply.status == 200
    me = client.get(ME, token=alice.token).json
    assert me["two_factor"]["recovery_codes_left"] == 10


def test_new_recovery_codes_are_refused_as_disable_is(client: ApiClient) -> None:
    alice = client.register("alice")
    off = client.post(CODES, {"password": PASSWORD, "code": "123456"}, token=alice.token)
    assert (off.status, off.code) == (409, "totp_not_enabled")
    wrong = client.post(CODES, {"password": "not-it-at-all", "code": "1"}, token=alice.token)
    assert (wrong.status, wrong.code) == (401, "invalid_credentials")
    # Set up but not on: not on.
    assert client.post(SETUP, {"password": PASSWORD}, token=alice.token).status == 200
    pending = client.post(CODES, {"password": PASSWORD, "code": "1"}, token=alice.token)
    assert pending.code == "totp_not_enabled"
    assert client.post(CODES, {}, token=alice.token).code == "invalid_credentials"
    assert tier_of(CODES.encode(), b"POST") == "auth"


def test_wrong_codes_for_new_recovery_codes_count_as_failed_logins(client: ApiClient) -> None:
    alice = client.register("alice")
    secret, codes = turn_on(client, alice)
    next_step(client)
    for body in ({"password": PASSWORD}, {"password": PASSWORD, "code": "000000"}):
        reply = client.post(CODES, body, token=alice.token)
        assert (reply.status, reply.code) == (401, "invalid_totp")
    for _ in range(LOCKOUT_THRESHOLD - 2):
        assert login(client, "alice", totp="000000").code == "invalid_totp"
    reply = client.post(CODES, {"password": PASSWORD, "code": codes[0]}, token=alice.token)
    assert (reply.status, reply.code) == (403, "account_locked")
    assert login(client, "alice", totp=code_now(client, secret)).code == "account_locked"


# -- deleting the account and exporting its data ------------------------------------


def delete_me(client: ApiClient, account, **body):
    return client.delete(ME, {"password": PASSWORD, **body}, token=account.token)


def export_me(client: ApiClient, account, **body):
    return client.post(EXPORT, {"password": PASSWORD, **body}, token=account.token)


@pytest.mark.parametrize("ask", [delete_me, export_me])
def test_with_it_on_the_password_alone_is_refused_as_a_login_is(client: ApiClient, ask) -> None:
    alice = client.register("alice")
    secret, codes = turn_on(client, alice)
    next_step(client)
    for extra in ({}, {"totp": ""}, {"totp": "   "}):
        reply = ask(client, alice, **extra)
        assert (reply.status, reply.code) == (401, "totp_required"), extra
    # A wrong password is said first, whatever the code, as a login says it.
    wrong = ask(client, alice, password="not-the-password", totp=codes[0])
    assert (wrong.status, wrong.code) == (401, "invalid_credentials")
    for code in ("000000", "zzzz-zzzz-zzzz"):
        reply = ask(client, alice, totp=code)
        assert (reply.status, reply.code) == (401, "invalid_totp")
    assert result(client.core.store.get_user(alice.id)) is not None
    reply = ask(client, alice, totp=code_now(client, secret))
    assert reply.status == 200, reply


@pytest.mark.parametrize("ask", [delete_me, export_me])
def test_wrong_codes_there_count_against_the_logins_limit(client: ApiClient, ask) -> None:
    alice = client.register("alice")
    secret, codes = turn_on(client, alice)
    next_step(client)
    # totp_required is not counted, as at a login.
    for _ in range(LOCKOUT_THRESHOLD + 1):
        assert ask(client, alice).code == "totp_required"
    for _ in range(LOCKOUT_THRESHOLD):
        assert ask(client, alice, totp="000000").code == "invalid_totp"
    reply = ask(client, alice, totp=codes[0])
    assert (reply.status, reply.code) == (403, "account_locked")
    assert login(client, "alice", totp=code_now(client, secret)).code == "account_locked"


def test_a_recovery_code_deletes_the_account_once(client: ApiClient) -> None:
    alice = client.register("alice")
    _, codes = turn_on(client, alice)
    reply = delete_me(client, alice, totp=codes[2])
    assert reply.status == 200
    deletions_done(client)
    assert result(client.core.store.get_user(alice.id)) is None


def test_without_it_the_password_alone_still_does_and_a_code_is_ignored(
    client: ApiClient,
) -> None:
    alice = client.register("alice")
    assert export_me(client, alice).status == 200
    assert export_me(client, alice, totp="000000").status == 200
    assert delete_me(client, alice, totp="000000").status == 200


def test_an_export_whose_session_ends_during_its_check_is_refused_not_cut(
    client: ApiClient,
) -> None:
    """The owner deletes the account (with a code) while an export's password and code
    are being checked: the deletion ends the session, and the export is answered 401
    ``session_not_found``. Before, it began, and its first piece found the session
    gone: the connection closed without an answer (on a real server, an export and a
    deletion sent at once with the same recovery code: 2 in 12)."""
    alice = client.register("alice")
    _, codes = turn_on(client, alice)
    auth = client.core.auth
    checked = auth.confirm_signed_in

    def racing(user, password, code, source=""):
        done = checked(user, password, code, source)
        auth.confirm_signed_in = checked  # the deletion's own check, as usual
        result(client.core.deletion.delete_own(user, PASSWORD, source, codes[1]))
        return done

    auth.confirm_signed_in = racing
    reply = export_me(client, alice, totp=codes[0])
    assert (reply.status, reply.code) == (401, "session_not_found")
