"""``DELETE /api/v1/users/me``: a user deletes their own account with their password
(docs/protocols/HTTP.md; docs/SECURITY.md, "Deleting an account")."""

from __future__ import annotations

from twisted.internet import task

from lairchat.core.auth import LOCKOUT_THRESHOLD
from lairchat.transports.http.testing import PASSWORD
from tests.unit.test_http_ratelimit import cheap_hashing, limited_client  # noqa: F401

ME = "/api/v1/users/me"


def test_wrong_missing_and_right_password(client):
    alice = client.register("alice")
    for body in ({"password": "not-the-password"}, {}, {"password": ""}):
        reply = client.delete(ME, body, token=alice.token)
        assert (reply.status, reply.code) == (401, "invalid_credentials")
    assert client.get(ME, token=alice.token).status == 200
    reply = client.delete(ME, {"password": PASSWORD}, token=alice.token)
    assert (reply.status, reply.json) == (200, {"success": True})
    # The token's session is gone; the password no longer logs in.
    reply = client.get(ME, token=alice.token)
    assert (reply.status, reply.code) == (401, "session_not_found")
    login = client.post("/api/v1/auth/login", {"identifier": "alice", "password": PASSWORD})
    assert (login.status, login.code) == (401, "invalid_credentials")


def test_a_password_that_is_not_a_string_is_refused_as_any_field(client):
    alice = client.register("alice")
    reply = client.delete(ME, {"password": 12345678}, token=alice.token)
    assert (reply.status, reply.code) == (422, "validation_failed")


def test_guesses_lock_the_account_as_failed_logins_do(client):
    alice = client.register("alice")
    for _ in range(LOCKOUT_THRESHOLD):
        assert client.delete(ME, {"password": "guess"}, token=alice.token).status == 401
    reply = client.delete(ME, {"password": PASSWORD}, token=alice.token)
    assert (reply.status, reply.code) == (403, "account_locked")
    login = client.post("/api/v1/auth/login", {"identifier": "alice", "password": PASSWORD})
    assert (login.status, login.code) == (403, "account_locked")


def test_it_counts_against_the_login_rate_limit_and_a_get_does_not(monkeypatch):
    client = limited_client(task.Clock())
    alice = client.register("alice")
    for _ in range(20):
        assert client.get(ME, token=alice.token).status == 200
    # The auth tier's 10 a minute (the GETs above counted against the general tier only).
    statuses = [client.delete(ME, {"password": "x"}, token=alice.token).status for _ in range(11)]
    assert statuses[-1] == 429
    assert set(statuses[:-1]) <= {401, 403}


def test_the_last_admin_is_refused(client):
    root = client.register("root")
    client.core.store.set_role(root.id, "admin")
    reply = client.delete(ME, {"password": PASSWORD}, token=root.token)
    assert (reply.status, reply.code) == (403, "permission_denied")
    assert client.get(ME, token=root.token).status == 200


def test_listed_in_the_openapi_document(client):
    spec = client.get("/openapi.json").json
    operation = spec["paths"]["/api/v1/users/me"]["delete"]
    assert operation["operationId"] == "deleteMe"
    assert "invalid_credentials" in str(operation["responses"]["401"])
