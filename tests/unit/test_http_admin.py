"""HTTP admin endpoints: stats (HTTP.md §5.6) and the documented-only ones we built."""

from __future__ import annotations

import pytest

from lairchat.transports.http.testing import ApiClient

ADMIN = "/api/v1/admin"
NOBODY = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def people(client: ApiClient):
    accounts = {name: client.register(name) for name in ("root", "user", "victim")}
    client.make_admin(accounts["root"])  # after the token was issued: the DB role counts
    return accounts


def test_stats(client: ApiClient, people) -> None:
    client.create_room(people["user"], "Lobby")
    client.connect(people["user"])
    reply = client.get(f"{ADMIN}/stats", token=people["root"].token)
    assert reply.status == 200
    stats = reply.json["stats"]
    assert (stats["total_users"], stats["total_rooms"], stats["online_users"]) == (3, 1, 1)
    denied = client.get(f"{ADMIN}/stats", token=people["user"].token)
    assert (denied.status, denied.error) == (
        403,
        {"code": "permission_denied", "message": "Permission denied"},
    )


def test_ban_revokes_sessions_and_blocks_login(client: ApiClient, people) -> None:
    root, victim = people["root"], people["victim"]
    connection = client.connect(victim)
    reply = client.post(
        f"{ADMIN}/users/{victim.id}/ban",
        {"reason": "spam", "duration_hours": 1.5},
        token=root.token,
    )
    assert reply.status == 200
    assert reply.json == {"success": True, "expires_at": "2023-11-14T23:43:20Z"}
    assert connection.closed == ["banned"]
    assert client.get("/api/v1/users/me", token=victim.token).code == "session_not_found"
    login = client.post("/api/v1/auth/login", {"identifier": "victim", "password": victim.password})
    assert (login.status, login.code) == (403, "account_banned")
    client.core.clock.advance(2 * 3600)
    assert client.login(victim).token


def test_permanent_ban_and_unban(client: ApiClient, people) -> None:
    root, victim = people["root"], people["victim"]
    reply = client.post(f"{ADMIN}/users/{victim.id}/ban", {}, token=root.token)
    assert reply.json == {"success": True, "expires_at": None}
    unban = client.post(f"{ADMIN}/users/{victim.id}/unban", token=root.token)
    assert (unban.status, unban.json) == (200, {"success": True})
    assert client.login(victim).token


def test_ban_errors(client: ApiClient, people) -> None:
    root, user, victim = people["root"], people["user"], people["victim"]

    def ban(account, user_id: str, body: dict | None = None) -> tuple[int, str]:
        reply = client.post(f"{ADMIN}/users/{user_id}/ban", body or {}, token=account.token)
        return reply.status, reply.code

    # the admin check comes first, whatever the id
    assert ban(user, "bad") == (403, "permission_denied")
    assert ban(user, victim.id) == (403, "permission_denied")
    assert ban(root, "bad") == (404, "user_not_found")
    assert ban(root, NOBODY) == (404, "user_not_found")
    assert ban(root, root.id) == (403, "permission_denied")
    assert ban(root, victim.id, {"duration_hours": 0}) == (400, "validation_failed")
    assert ban(root, victim.id, {"duration_hours": "1"}) == (422, "validation_failed")
    assert ban(root, victim.id, {"reason": 5}) == (422, "validation_failed")
    # A reason is bounded as a room description is: 1024 bytes of UTF-8.
    too_long = client.post(
        f"{ADMIN}/users/{victim.id}/ban", {"reason": "é" * 513}, token=root.token
    )
    assert (too_long.status, too_long.error["message"]) == (
        400,
        "Validation failed: reason - value too long: maximum 1024, got 1026",
    )
    assert client.login(victim).token  # not banned
    no_type = client.post(f"{ADMIN}/users/{victim.id}/ban", data=b"{}", token=root.token)
    assert (no_type.status, no_type.code) == (415, "unsupported_media_type")


def test_unban_errors(client: ApiClient, people) -> None:
    root, user = people["root"], people["user"]
    assert client.post(f"{ADMIN}/users/{NOBODY}/unban", token=user.token).status == 403
    for user_id in ("bad", NOBODY):
        reply = client.post(f"{ADMIN}/users/{user_id}/unban", token=root.token)
        assert (reply.status, reply.code) == (404, "user_not_found")
    # unbanning someone who is not banned is fine
    assert client.post(f"{ADMIN}/users/{user.id}/unban", token=root.token).status == 200


def test_admin_delete_room(client: ApiClient, people) -> None:
    root, user = people["root"], people["user"]
    room = client.create_room(user, "Doomed")
    path = f"{ADMIN}/rooms/{room['id']}"
    assert client.delete(path, token=user.token).code == "permission_denied"
    reply = client.delete(path, {"reason": "ignored"}, token=root.token)
    assert (reply.status, reply.json) == (200, {"success": True})
    assert client.get(f"/api/v1/rooms/{room['id']}", token=user.token).code == "room_not_found"
    for room_id in ("bad", NOBODY):
        gone = client.delete(f"{ADMIN}/rooms/{room_id}", token=root.token)
        assert (gone.status, gone.code) == (404, "room_not_found")
