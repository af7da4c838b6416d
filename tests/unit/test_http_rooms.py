"""HTTP room and member endpoints (HTTP.md §5.3) with their check orders."""

from __future__ import annotations

import pytest

from lairchat.testing import result
from lairchat.transports.http.testing import ApiClient

ROOMS = "/api/v1/rooms"
NOBODY = "00000000-0000-4000-8000-000000000000"


# -- create -------------------------------------------------------------------------------


def test_create_room(client: ApiClient, people) -> None:
    owner = people["owner"]
    reply = client.post(ROOMS, {"name": "  Lobby ", "description": "hi"}, token=owner.token)
    assert reply.status == 201
    room = reply.json["room"]
    assert list(reply.json) == ["room"]
    assert room["name"] == "Lobby" and room["owner"] == owner.id
    assert room["settings"] == {"description": "hi", "is_private": False, "max_members": None}
    assert list(room) == ["id", "name", "owner", "settings", "created_at"]


def test_create_room_settings(client: ApiClient, people) -> None:
    token = people["owner"].token
    body = {"name": "Secret", "settings": {"public": False, "max_members": 3, "moderated": True}}
    room = client.post(ROOMS, body, token=token).json["room"]
    assert room["settings"] == {"description": None, "is_private": True, "max_members": 3}
    nulls = {"name": "Nulls", "description": None, "settings": {"public": None}}
    room = client.post(ROOMS, nulls, token=token).json["room"]
    assert room["settings"]["is_private"] is False


def test_create_room_errors(client: ApiClient, people) -> None:
    token = people["owner"].token
    assert client.post(ROOMS, {"name": "   "}, token=token).code == "room_name_invalid"
    assert client.post(ROOMS, {"name": "x" * 65}, token=token).status == 400
    client.create_room(people["owner"], "Taken")
    taken = client.post(ROOMS, {"name": "TAKEN"}, token=token)
    assert (taken.status, taken.code) == (409, "room_name_taken")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": 1}, "name"),
        ({"name": "a", "description": 2}, "description"),
        ({"name": "a", "settings": []}, "settings"),
        ({"name": "a", "settings": {"public": "yes"}}, "settings.public"),
        ({"name": "a", "settings": {"max_members": -1}}, "settings.max_members"),
        ({"name": "a", "settings": {"max_members": 2**32}}, "settings.max_members"),
        ({"name": "a", "settings": {"max_members": 2.0}}, "settings.max_members"),
        ({"name": "a", "settings": {"max_members": True}}, "settings.max_members"),
    ],
)
def test_create_room_shape_errors(client: ApiClient, people, body, field) -> None:
    reply = client.post(ROOMS, body, token=people["owner"].token)
    assert (reply.status, reply.code) == (422, "validation_failed")
    assert reply.error["message"].startswith(f"Validation failed: {field} - ")


# -- list and get -------------------------------------------------------------------------


def test_list_rooms(client: ApiClient, people, room) -> None:
    owner, outsider = people["owner"], people["outsider"]
    client.create_room(owner, "attic")
    client.create_room(owner, "Zoo", settings={"public": False})
    listing = client.get(ROOMS, token=outsider.token).json
    assert [i["room"]["name"] for i in listing["rooms"]] == ["attic", "General"]
    assert listing["has_more"] is False and listing["total_count"] == 2
    general = listing["rooms"][1]
    assert (general["member_count"], general["is_member"]) == (3, False)
    mine = client.get(ROOMS + "?joined_only=true", token=owner.token).json
    assert [i["room"]["name"] for i in mine["rooms"]] == ["attic", "General", "Zoo"]
    assert all(i["is_member"] for i in mine["rooms"])
    member_view = client.get(ROOMS, token=people["member"].token).json["rooms"]
    assert [i["is_member"] for i in member_view] == [False, True]


def test_list_rooms_paging_search_and_query_errors(client: ApiClient, people, room) -> None:
    token = people["owner"].token
    client.create_room(people["owner"], "attic")
    page = client.get(ROOMS + "?limit=1&offset=1&public_only=true", token=token).json
    assert [i["room"]["name"] for i in page["rooms"]] == ["General"]
    assert page["has_more"] is True
    found = client.get(ROOMS + "?search=gen", token=token).json
    assert [i["room"]["name"] for i in found["rooms"]] == ["General"]
    for query in ("?joined_only=1", "?limit=x", "?offset=-2"):
        reply = client.get(ROOMS + query, token=token)
        assert (reply.status, reply.code) == (400, "validation_failed"), query


def test_trailing_slash_is_not_routed(client: ApiClient, people) -> None:
    reply = client.get(ROOMS + "/", token=people["owner"].token)
    assert (reply.status, reply.code) == (404, "not_found")


def test_get_room(client: ApiClient, people, room) -> None:
    path = f"{ROOMS}/{room['id']}"
    outsider = client.get(path, token=people["outsider"].token).json
    assert outsider == {"room": room, "membership": None, "member_count": 3}
    member = client.get(path, token=people["member"].token).json
    assert member["membership"]["role"] == "member"
    assert list(member["membership"]) == ["room_id", "user_id", "role", "joined_at"]
    secret = client.create_room(people["owner"], "Secret", settings={"public": False})
    assert client.get(f"{ROOMS}/{secret['id']}", token=people["outsider"].token).status == 200


@pytest.mark.parametrize("room_id", ["nope", NOBODY])
def test_get_room_not_found(client: ApiClient, people, room_id: str) -> None:
    reply = client.get(f"{ROOMS}/{room_id}", token=people["owner"].token)
    assert (reply.status, reply.error) == (
        404,
        {"code": "room_not_found", "message": "Room not found"},
    )


# -- update and delete --------------------------------------------------------------------


def test_update_room(client: ApiClient, people, room) -> None:
    path = f"{ROOMS}/{room['id']}"
    owner = people["owner"]
    first = client.patch(
        path,
        {"description": "d", "settings": {"public": False, "max_members": 9}},
        token=owner.token,
    )
    assert first.status == 200
    assert first.json["room"]["settings"] == {
        "description": "d",
        "is_private": True,
        "max_members": 9,
    }
    # settings replace the whole object; null description keeps the old one
    second = client.patch(path, {"description": None, "settings": {}}, token=people["mod"].token)
    assert second.json["room"]["settings"] == {
        "description": "d",
        "is_private": False,
        "max_members": None,
    }
    # renaming only the letter case of a room's own name is allowed (ours)
    renamed = client.patch(path, {"name": "GENERAL"}, token=owner.token)
    assert renamed.json["room"]["name"] == "GENERAL"


def test_update_room_check_order(client: ApiClient, people, room) -> None:
    path = f"{ROOMS}/{room['id']}"
    client.create_room(people["owner"], "Other")

    def code(token: str, body: dict, where: str = path) -> tuple[int, str]:
        reply = client.patch(where, body, token=token)
        return reply.status, reply.code

    assert code(people["owner"].token, {"name": "x"}, f"{ROOMS}/{NOBODY}") == (
        404,
        "room_not_found",
    )
    assert code(people["outsider"].token, {"name": ""}) == (403, "not_room_member")
    assert code(people["member"].token, {"name": ""}) == (403, "permission_denied")
    assert code(people["mod"].token, {"name": ""}) == (400, "room_name_invalid")
    assert code(people["mod"].token, {"name": "other"}) == (409, "room_name_taken")
    assert code(people["mod"].token, {"name": 3}) == (422, "validation_failed")


def test_delete_room(client: ApiClient, people, room) -> None:
    path = f"{ROOMS}/{room['id']}"
    admin = people["outsider"]
    client.make_admin(admin)
    assert client.delete(path, token=people["mod"].token).code == "permission_denied"
    assert client.delete(path, token=admin.token).code == "permission_denied"  # no bypass
    reply = client.delete(path, token=people["owner"].token)
    assert (reply.status, reply.json) == (200, {"success": True})
    assert client.delete(path, token=people["owner"].token).code == "room_not_found"


# -- join and leave -----------------------------------------------------------------------


def test_join_room(client: ApiClient, people, room) -> None:
    reply = client.post(f"{ROOMS}/{room['id']}/join", token=people["outsider"].token)
    assert reply.status == 200
    assert list(reply.json) == ["room", "membership"]
    assert reply.json["membership"]["role"] == "member"
    again = client.post(f"{ROOMS}/{room['id']}/join", token=people["outsider"].token)
    assert (again.status, again.code) == (409, "already_member")


def test_join_room_check_order(client: ApiClient, people) -> None:
    owner, outsider = people["owner"], people["outsider"]
    assert client.post(f"{ROOMS}/bad/join", token=owner.token).code == "room_not_found"
    secret = client.create_room(owner, "Secret", settings={"public": False})
    # privacy is checked before membership: even the owner cannot "re-join"
    assert client.post(f"{ROOMS}/{secret['id']}/join", token=owner.token).code == "room_private"
    assert client.post(f"{ROOMS}/{secret['id']}/join", token=outsider.token).status == 409
    full = client.create_room(owner, "Full", settings={"max_members": 1})
    reply = client.post(f"{ROOMS}/{full['id']}/join", token=outsider.token)
    assert (reply.status, reply.code) == (409, "room_full")


def test_join_private_room_with_invitation(client: ApiClient, people) -> None:
    owner, outsider = people["owner"], people["outsider"]
    secret = client.create_room(owner, "Secret", settings={"public": False})
    invite = {"room_id": secret["id"], "user_id": outsider.id}
    invitation = client.post("/api/v1/invitations", invite, token=owner.token).json["invitation"]
    assert client.post(f"{ROOMS}/{secret['id']}/join", token=outsider.token).status == 200
    stored = result(client.core.store.get_invitation(invitation["id"]))
    assert stored.status == "accepted"


def test_leave_room(client: ApiClient, people, room) -> None:
    leave = f"{ROOMS}/{room['id']}/leave"
    reply = client.post(leave, token=people["member"].token)
    assert (reply.status, reply.json) == (200, {"success": True})
    assert client.post(leave, token=people["member"].token).code == "not_room_member"
    last = client.post(leave, token=people["owner"].token)
    assert (last.status, last.code) == (409, "last_owner")
    assert client.post(f"{ROOMS}/{NOBODY}/leave", token=people["owner"].token).status == 404


# -- members ------------------------------------------------------------------------------


def test_members(client: ApiClient, people, room) -> None:
    client.connect(people["member"])
    reply = client.get(f"{ROOMS}/{room['id']}/members", token=people["member"].token)
    assert reply.status == 200
    body = reply.json
    assert body["total"] == 3
    assert [(m["username"], m["role"], m["is_online"]) for m in body["members"]] == [
        ("owner", "owner", False),
        ("mod", "moderator", False),
        ("member", "member", True),
    ]
    assert list(body["members"][0]) == ["user_id", "username", "role", "joined_at", "is_online"]
    outsider = client.get(f"{ROOMS}/{room['id']}/members", token=people["outsider"].token)
    assert (outsider.status, outsider.code) == (403, "not_room_member")
    gone = client.get(f"{ROOMS}/{NOBODY}/members", token=people["member"].token)
    assert (gone.status, gone.code) == (404, "room_not_found")


def test_change_role(client: ApiClient, people, room) -> None:
    owner, member = people["owner"], people["member"]
    path = f"{ROOMS}/{room['id']}/members/{member.id}/role"
    reply = client.put(path, {"role": "ADMIN"}, token=owner.token)
    assert reply.status == 200
    assert list(reply.json) == ["member"]
    assert reply.json["member"]["role"] == "moderator"
    assert reply.json["member"]["username"] == "member"
    lenient = client.put(path, {"role": "emperor"}, token=owner.token)
    assert lenient.json["member"]["role"] == "member"  # anything unknown means member
    promoted = client.put(path, {"role": "owner"}, token=owner.token)
    assert promoted.json["member"]["role"] == "owner"


def test_change_role_check_order(client: ApiClient, people, room) -> None:
    owner, mod, member = people["owner"], people["mod"], people["member"]
    base = f"{ROOMS}/{room['id']}/members"

    def put(token: str, path: str, body: dict | None = None) -> tuple[int, str]:
        reply = client.put(path, {"role": "member"} if body is None else body, token=token)
        return reply.status, reply.code

    assert put(owner.token, f"{ROOMS}/bad/members/{member.id}/role") == (404, "room_not_found")
    assert put(owner.token, f"{base}/bad/role") == (404, "user_not_found")
    assert put(owner.token, f"{ROOMS}/{NOBODY}/members/{member.id}/role") == (
        403,
        "not_room_member",
    )
    assert put(people["outsider"].token, f"{base}/{member.id}/role") == (403, "not_room_member")
    assert put(mod.token, f"{base}/{member.id}/role") == (403, "permission_denied")
    outsider = people["outsider"]
    assert put(owner.token, f"{base}/{outsider.id}/role") == (403, "not_room_member")
    assert put(owner.token, f"{base}/{owner.id}/role") == (409, "last_owner")
    assert put(owner.token, f"{base}/{member.id}/role", {}) == (422, "validation_failed")


def test_kick(client: ApiClient, people, room) -> None:
    owner, mod, member = people["owner"], people["mod"], people["member"]
    base = f"{ROOMS}/{room['id']}/members"
    assert client.delete(f"{base}/{owner.id}", token=owner.token).code == "permission_denied"
    assert client.delete(f"{base}/{mod.id}", token=member.token).code == "permission_denied"
    assert client.delete(f"{base}/{owner.id}", token=mod.token).code == "permission_denied"
    assert client.delete(f"{base}/{member.id}", token=people["outsider"].token).status == 403
    outsider = people["outsider"]
    assert client.delete(f"{base}/{outsider.id}", token=owner.token).code == "not_room_member"
    reply = client.delete(f"{base}/{member.id}", token=mod.token)
    assert (reply.status, reply.json) == (200, {"success": True})
    assert client.delete(f"{base}/{mod.id}", token=owner.token).status == 200
    assert client.delete(f"{ROOMS}/x/members/{mod.id}", token=owner.token).code == "room_not_found"
    assert client.delete(f"{base}/x", token=owner.token).code == "user_not_found"
