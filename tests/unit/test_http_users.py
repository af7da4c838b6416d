"""HTTP user endpoints (HTTP.md §5.2), email privacy and revoked sessions (ours)."""

from __future__ import annotations

import pytest

from lairchat.transports.http.testing import ApiClient

ME = "/api/v1/users/me"
USERS = "/api/v1/users"


@pytest.fixture
def people(client: ApiClient):
    return {name: client.register(name) for name in ("carol", "alice", "Bob")}


def test_get_me_has_own_email_and_unread_counts(client: ApiClient, people) -> None:
    alice, bob = people["alice"], people["Bob"]
    reply = client.get(ME, token=alice.token)
    assert reply.status == 200
    assert reply.json == {
        "user": alice.user,
        "unread_counts": {
            "total": 0,
            "by_room": {},
            "by_dm": {},
            "mentions": {"total": 0, "by_room": {}, "by_dm": {}},
        },
        "two_factor": {"enabled": False, "recovery_codes_left": 0},
    }
    assert reply.json["user"]["email"] == "alice@example.com"
    dm = {"target": {"type": "dm", "recipient": alice.id}, "content": "hi"}
    assert client.post("/api/v1/messages", dm, token=bob.token).status == 201
    counts = client.get(ME, token=alice.token).json["unread_counts"]
    assert counts == {
        "total": 1,
        "by_room": {},
        "by_dm": {bob.id: 1},
        "mentions": {"total": 0, "by_room": {}, "by_dm": {}},
    }


def test_update_email(client: ApiClient, people) -> None:
    alice = people["alice"]
    client.core.clock.advance(5)
    reply = client.patch(ME, {"email": "New@Example.org"}, token=alice.token)
    assert reply.status == 200
    assert list(reply.json) == ["user"]
    assert reply.json["user"]["email"] == "new@example.org"
    assert reply.json["user"]["updated_at"] != alice.user["updated_at"]


def test_update_without_email_only_bumps_updated_at(client: ApiClient, people) -> None:
    alice = people["alice"]
    client.core.clock.advance(5)
    for body in ({}, {"email": None}):
        user = client.patch(ME, body, token=alice.token).json["user"]
        assert user["email"] == "alice@example.com"
        assert user["updated_at"] > alice.user["updated_at"]


def test_update_email_errors(client: ApiClient, people) -> None:
    token = people["alice"].token
    assert client.patch(ME, {"email": "nope"}, token=token).code == "email_invalid"
    taken = client.patch(ME, {"email": "CAROL@example.com"}, token=token)
    assert (taken.status, taken.code) == (409, "email_taken")
    same = client.patch(ME, {"email": "alice@example.com"}, token=token)
    assert same.status == 200  # unchanged is not "taken"
    assert client.patch(ME, {"email": 7}, token=token).status == 422
    assert client.patch(ME, data=b"{}", token=token).code == "unsupported_media_type"


def test_list_users_sorted_and_private(client: ApiClient, people) -> None:
    alice = people["alice"]
    client.connect(people["carol"])
    reply = client.get(USERS, token=alice.token)
    assert reply.status == 200
    body = reply.json
    assert [item["user"]["username"] for item in body["users"]] == ["alice", "Bob", "carol"]
    assert body["has_more"] is False and body["total_count"] == 3
    emails = {item["user"]["username"]: item["user"]["email"] for item in body["users"]}
    assert emails == {"alice": "alice@example.com", "Bob": "", "carol": ""}
    online = {item["user"]["username"]: item["online"] for item in body["users"]}
    assert online == {"alice": False, "Bob": False, "carol": True}


def test_list_users_paging_and_search(client: ApiClient, people) -> None:
    token = people["alice"].token

    def names(query: str) -> tuple[list[str], bool, int]:
        body = client.get(USERS + query, token=token).json
        return [i["user"]["username"] for i in body["users"]], body["has_more"], body["total_count"]

    assert names("?limit=2") == (["alice", "Bob"], True, 2)
    assert names("?limit=2&offset=2") == (["carol"], False, 1)
    assert names("?limit=0") == ([], True, 0)
    assert names("?limit=500") == (["alice", "Bob", "carol"], False, 3)
    assert names("?search=AR&online_only=true") == (["carol"], False, 1)
    assert names("?limit=%2B2") == (["alice", "Bob"], True, 2)  # "+2", as Rust parses it


@pytest.mark.parametrize(
    "query",
    [
        "?limit=abc",
        "?limit=-1",
        "?limit=",
        "?limit=1.5",
        "?limit=4294967296",
        "?offset=x",
        "?online_only=yes",
        "?online_only=1",
        "?limit=1&limit=2",
    ],
)
def test_list_users_bad_query_is_400(client: ApiClient, people, query: str) -> None:
    reply = client.get(USERS + query, token=people["alice"].token)
    assert (reply.status, reply.code) == (400, "validation_failed")
    assert reply.error["message"].startswith("Validation failed: ")


def test_get_user(client: ApiClient, people) -> None:
    alice, bob = people["alice"], people["Bob"]
    client.connect(bob)
    reply = client.get(f"{USERS}/{bob.id}", token=alice.token)
    assert reply.status == 200
    assert reply.json == {"user": {**bob.user, "email": ""}, "online": True}
    mine = client.get(f"{USERS}/{alice.id.upper()}", token=alice.token)
    assert mine.json == {"user": alice.user, "online": False}


@pytest.mark.parametrize("user_id", ["not-a-uuid", "00000000-0000-4000-8000-000000000000"])
def test_get_user_not_found(client: ApiClient, people, user_id: str) -> None:
    reply = client.get(f"{USERS}/{user_id}", token=people["alice"].token)
    assert (reply.status, reply.error) == (
        404,
        {"code": "user_not_found", "message": "User not found"},
    )


def test_revoked_token_reads_nothing(client: ApiClient, people) -> None:
    alice, bob = people["alice"], people["Bob"]
    room = client.create_room(bob, "lobby")
    client.post("/api/v1/auth/logout", token=alice.token)
    for path in (
        ME,
        USERS,
        f"{USERS}/{bob.id}",
        "/api/v1/rooms",
        f"/api/v1/rooms/{room['id']}",
        "/api/v1/invitations",
    ):
        reply = client.get(path, token=alice.token)
        assert (reply.status, reply.code) == (401, "session_not_found"), path
