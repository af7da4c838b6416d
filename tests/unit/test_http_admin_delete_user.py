"""``DELETE /api/v1/admin/users/{user_id}``: an admin deletes another account, with
their own password (docs/protocols/HTTP.md; docs/SECURITY.md, "Deleting an
account"). Before, only the operator's command line or the user could."""

from __future__ import annotations

from twisted.internet import task

from lairchat.core.auth import LOCKOUT_THRESHOLD
from lairchat.transports.http.testing import PASSWORD
from tests.unit.test_http_ratelimit import cheap_hashing, limited_client  # noqa: F401

LOGIN = "/api/v1/auth/login"


def url(user_id: str) -> str:
    return f"/api/v1/admin/users/{user_id}"


def admin_and_user(client):
    root = client.register("root")
    client.core.store.set_role(root.id, "admin")
    return root, client.register("spammer")


def test_an_admin_deletes_another_account_with_their_own_password(client):
    root, spammer = admin_and_user(client)
    reply = client.delete(url(spammer.id), {"password": PASSWORD}, token=root.token)
    assert (reply.status, reply.json) == (200, {"success": True})
    reply = client.get("/api/v1/users/me", token=spammer.token)
    assert (reply.status, reply.code) == (401, "session_not_found")
    login = client.post(LOGIN, {"identifier": "spammer", "password": PASSWORD})
    assert (login.status, login.code) == (401, "invalid_credentials")


def test_a_wrong_or_missing_password_deletes_nothing(client):
    root, spammer = admin_and_user(client)
    for body in ({"password": "not-it"}, {}):
        reply = client.delete(url(spammer.id), body, token=root.token)
        assert (reply.status, reply.code) == (401, "invalid_credentials")
    assert client.get("/api/v1/users/me", token=spammer.token).status == 200


def test_guesses_lock_the_admin_out_as_failed_logins_do(client):
    """A stolen admin token is no way to guess the admin's password."""
    root, spammer = admin_and_user(client)
    for _ in range(LOCKOUT_THRESHOLD):
        assert client.delete(url(spammer.id), {"password": "guess"}, token=root.token).status == 401
    reply = client.delete(url(spammer.id), {"password": PASSWORD}, token=root.token)
    assert (reply.status, reply.code) == (403, "account_locked")
    assert client.get("/api/v1/users/me", token=spammer.token).status == 200


def test_a_non_admin_learns_nothing_and_deletes_nothing(client):
    _, spammer = admin_and_user(client)
    mallory = client.register("mallory")
    for target in (spammer.id, "00000000-0000-4000-8000-000000000000", "nonsense"):
        reply = client.delete(url(target), {"password": PASSWORD}, token=mallory.token)
        assert (reply.status, reply.code) == (403, "permission_denied")
    assert client.get("/api/v1/users/me", token=spammer.token).status == 200


def test_unknown_ids_and_the_admins_own_account(client):
    root, _ = admin_and_user(client)
    for target in ("00000000-0000-4000-8000-000000000000", "nonsense"):
        reply = client.delete(url(target), {"password": PASSWORD}, token=root.token)
        assert (reply.status, reply.code) == (404, "user_not_found")
    reply = client.delete(url(root.id), {"password": PASSWORD}, token=root.token)
    assert (reply.status, reply.code) == (403, "permission_denied")
    assert "DELETE /api/v1/users/me" in reply.json["error"]["message"]


def test_another_admin_may_be_deleted(client):
    root, other = admin_and_user(client)
    client.core.store.set_role(other.id, "admin")
    reply = client.delete(url(other.id), {"password": PASSWORD}, token=root.token)
    assert reply.status == 200


def test_it_counts_against_the_login_rate_limit():
    client = limited_client(task.Clock())
    root, spammer = admin_and_user(client)
    statuses = [
        client.delete(url(spammer.id), {"password": "x"}, token=root.token).status
        for _ in range(11)
    ]
    assert statuses[-1] == 429
    assert set(statuses[:-1]) <= {401, 403}


def test_listed_in_the_openapi_document(client):
    spec = client.get("/openapi.json").json
    operation = spec["paths"]["/api/v1/admin/users/{user_id}"]["delete"]
    assert operation["operationId"] == "adminDeleteUser"
    assert "invalid_credentials" in str(operation["responses"]["401"])
