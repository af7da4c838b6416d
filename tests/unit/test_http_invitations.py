"""HTTP invitation endpoints (HTTP.md §5.5) and their check orders."""

from __future__ import annotations

import pytest

from lairchat.transports.http.openapi import openapi_document
from lairchat.transports.http.testing import ApiClient

INVITATIONS = "/api/v1/invitations"
NOBODY = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def people(client: ApiClient):
    return {name: client.register(name) for name in ("owner", "member", "guest", "other")}


@pytest.fixture
def room(client: ApiClient, people):
    room = client.create_room(people["owner"], "Secret", settings={"public": False})
    invite(client, people["owner"], room, people["member"])
    client.post(f"/api/v1/rooms/{room['id']}/join", token=people["member"].token)
    return room


def invite(client: ApiClient, inviter, room: dict, invitee, **extra) -> dict:
    body = {"room_id": room["id"], "user_id": invitee.id, **extra}
    reply = client.post(INVITATIONS, body, token=inviter.token)
    assert reply.status == 201, reply
    return reply.json["invitation"]


def test_create_invitation(client: ApiClient, people, room) -> None:
    owner, guest = people["owner"], people["guest"]
    invitation = invite(client, owner, room, guest, message="come in")
    assert list(invitation) == [
        "id",
        "room_id",
        "room_name",
        "inviter_id",
        "inviter_name",
        "invitee_id",
        "invitee_name",
        "status",
        "message",
        "created_at",
        "expires_at",
        "responded_at",
    ]
    assert invitation["room_name"] == "Secret"
    assert (invitation["inviter_name"], invitation["invitee_name"]) == ("owner", "guest")
    assert (invitation["status"], invitation["message"], invitation["responded_at"]) == (
        "pending",
        None,
        None,
    )


def test_create_invitation_check_order(client: ApiClient, people, room) -> None:
    owner, member, guest = people["owner"], people["member"], people["guest"]

    def status(account, room_id: str, user_id: str) -> tuple[int, str]:
        reply = client.post(
            INVITATIONS, {"room_id": room_id, "user_id": user_id}, token=account.token
        )
        return reply.status, reply.code

    assert status(owner, "bad", "bad") == (404, "room_not_found")
    assert status(owner, room["id"], "bad") == (404, "user_not_found")
    assert status(guest, room["id"], member.id) == (403, "not_room_member")
    assert status(owner, NOBODY, guest.id) == (403, "not_room_member")  # membership first
    assert status(member, room["id"], guest.id) == (403, "permission_denied")
    assert status(owner, room["id"], NOBODY) == (404, "user_not_found")
    assert status(owner, room["id"], member.id) == (409, "already_member")
    assert status(owner, room["id"], owner.id) == (409, "already_member")
    invite(client, owner, room, guest)
    assert status(owner, room["id"], guest.id) == (409, "already_invited")
    missing = client.post(INVITATIONS, {"room_id": room["id"]}, token=owner.token)
    assert (missing.status, missing.code) == (422, "validation_failed")
    typed = client.post(
        INVITATIONS, {"room_id": room["id"], "user_id": guest.id, "message": 1}, token=owner.token
    )
    assert typed.status == 422


def test_list_invitations(client: ApiClient, people, room) -> None:
    owner, guest = people["owner"], people["guest"]
    assert client.get(INVITATIONS, token=guest.token).json == {"invitations": [], "has_more": False}
    first = invite(client, owner, room, guest)
    client.core.clock.advance(1)
    other = client.create_room(owner, "Other")
    second = invite(client, owner, other, guest)
    listing = client.get(INVITATIONS, token=guest.token).json
    assert [i["id"] for i in listing["invitations"]] == [second["id"], first["id"]]
    assert listing["has_more"] is False


def test_more_than_a_page_is_said_as_the_openapi_document_allows(client: ApiClient, people) -> None:
    """The document allowed only `"has_more": false`; the route says true past 100."""
    owner, guest = people["owner"], people["guest"]
    for n in range(101):
        invite(client, owner, client.create_room(owner, f"Room {n}"), guest)
    listing = client.get(INVITATIONS, token=guest.token).json
    assert (len(listing["invitations"]), listing["has_more"]) == (100, True)
    schema = openapi_document()["paths"][INVITATIONS]["get"]["responses"]["200"]
    has_more = schema["content"]["application/json"]["schema"]["properties"]["has_more"]
    assert has_more["type"] == "boolean" and True in has_more.get("enum", [True])


def test_ones_own_invitations_are_paged_with_limit_and_offset(client: ApiClient, people) -> None:
    # A standing note: past the newest 100, has_more said there were more with no way
    # to reach them. The listing pages as a room's invitations do.
    owner, guest = people["owner"], people["guest"]
    for n in range(3):
        client.core.clock.advance(1)
        invite(client, owner, client.create_room(owner, f"Room {n}"), guest)
    client.check_bounded_paging(INVITATIONS, "invitations", guest.token)


def test_accept_invitation(client: ApiClient, people, room) -> None:
    owner, guest = people["owner"], people["guest"]
    invitation = invite(client, owner, room, guest)
    path = f"{INVITATIONS}/{invitation['id']}/accept"
    assert client.post(path, token=people["other"].token).code == "not_invitee"
    reply = client.post(path, token=guest.token)
    assert reply.status == 200
    assert list(reply.json) == ["membership", "room"]
    assert reply.json["membership"]["role"] == "member"
    assert reply.json["room"]["id"] == room["id"]
    again = client.post(path, token=guest.token)
    assert (again.status, again.code) == (409, "invitation_expired")
    assert client.get(INVITATIONS, token=guest.token).json["invitations"] == []


def test_accept_needs_room_space(client: ApiClient, people) -> None:
    owner, guest = people["owner"], people["guest"]
    tiny = client.create_room(owner, "Tiny", settings={"public": False, "max_members": 1})
    invitation = invite(client, owner, tiny, guest)
    reply = client.post(f"{INVITATIONS}/{invitation['id']}/accept", token=guest.token)
    assert (reply.status, reply.code) == (409, "room_full")


def test_expired_invitation(client: ApiClient, people, room) -> None:
    invitation = invite(client, people["owner"], room, people["guest"])
    client.core.clock.advance(7 * 24 * 3600)
    guest = client.login(people["guest"])  # the old token expired too
    reply = client.post(f"{INVITATIONS}/{invitation['id']}/accept", token=guest.token)
    assert (reply.status, reply.code) == (409, "invitation_expired")


def test_decline_invitation(client: ApiClient, people, room) -> None:
    invitation = invite(client, people["owner"], room, people["guest"])
    guest = people["guest"]
    path = f"{INVITATIONS}/{invitation['id']}/decline"
    assert client.post(path, token=people["other"].token).code == "not_invitee"
    reply = client.post(path, token=guest.token)
    assert (reply.status, reply.json) == (200, {"success": True})
    assert client.post(path, token=guest.token).code == "invitation_expired"
    accept = client.post(f"{INVITATIONS}/{invitation['id']}/accept", token=guest.token)
    assert accept.code == "invitation_expired"


@pytest.mark.parametrize("action", ["accept", "decline"])
@pytest.mark.parametrize("invitation_id", ["bad", NOBODY])
def test_unknown_invitation(client: ApiClient, people, action: str, invitation_id: str) -> None:
    reply = client.post(f"{INVITATIONS}/{invitation_id}/{action}", token=people["guest"].token)
    assert (reply.status, reply.error) == (
        404,
        {"code": "invitation_not_found", "message": "Invitation not found"},
    )


def test_revoke_invitation(client: ApiClient, people, room) -> None:
    """Our addition: DELETE withdraws a pending invitation; the invitee no longer
    lists it, and accepting it is answered as for a declined one."""
    owner, guest = people["owner"], people["guest"]
    invitation = invite(client, owner, room, guest)
    path = f"{INVITATIONS}/{invitation['id']}"
    reply = client.delete(path, token=owner.token)
    assert (reply.status, reply.json) == (200, {"success": True})
    assert client.get(INVITATIONS, token=guest.token).json["invitations"] == []
    accept = client.post(f"{path}/accept", token=guest.token)
    assert (accept.status, accept.code) == (409, "invitation_expired")
    join = client.post(f"/api/v1/rooms/{room['id']}/join", token=guest.token)
    assert (join.status, join.code) == (409, "room_private")
    again = client.delete(path, token=owner.token)
    assert (again.status, again.code) == (409, "invitation_expired")


def test_revoke_invitation_check_order(client: ApiClient, people, room) -> None:
    owner, member, guest, other = (people[n] for n in ("owner", "member", "guest", "other"))
    invitation = invite(client, owner, room, guest)
    path = f"{INVITATIONS}/{invitation['id']}"

    def status(account, where: str = path) -> tuple[int, str]:
        reply = client.delete(where, token=account.token)
        return reply.status, reply.code

    assert client.delete(path).status == 401
    assert status(owner, f"{INVITATIONS}/bad") == (404, "invitation_not_found")
    assert status(owner, f"{INVITATIONS}/{NOBODY}") == (404, "invitation_not_found")
    assert status(other) == (404, "invitation_not_found")  # not told it exists
    assert status(member) == (403, "permission_denied")  # a member who did not invite
    assert status(guest) == (403, "permission_denied")  # the invitee declines instead
    client.post(f"{path}/decline", token=guest.token)
    assert status(owner) == (409, "invitation_expired")
    assert status(other) == (404, "invitation_not_found")


def test_an_invitation_is_revoked_by_a_moderator_after_its_inviter_is_kicked(
    client: ApiClient, people, room
) -> None:
    owner, member, guest = people["owner"], people["member"], people["guest"]
    rooms = f"/api/v1/rooms/{room['id']}/members/{member.id}"
    assert client.put(f"{rooms}/role", {"role": "moderator"}, token=owner.token).status == 200
    invitation = invite(client, member, room, guest)
    assert client.delete(rooms, token=owner.token).status == 200
    path = f"{INVITATIONS}/{invitation['id']}"
    assert client.delete(path, token=member.token).code == "permission_denied"
    assert client.delete(path, token=owner.token).status == 200
    assert client.post(f"{path}/accept", token=guest.token).code == "invitation_expired"


def test_list_room_invitations(client: ApiClient, people, room) -> None:
    """Our addition: a room's owners and moderators see its pending invitations (the
    ids they may revoke), in GET /invitations' shape."""
    owner, member, guest, other = (people[n] for n in ("owner", "member", "guest", "other"))
    path = f"/api/v1/rooms/{room['id']}/invitations"
    assert client.get(path, token=owner.token).json == {"invitations": [], "has_more": False}
    invitation = invite(client, owner, room, guest)
    listing = client.get(path, token=owner.token).json
    assert listing == {"invitations": [invitation], "has_more": False}

    def status(account, where: str = path) -> tuple[int, str]:
        reply = client.get(where, token=account.token)
        return reply.status, reply.code

    assert client.get(path).status == 401
    assert status(owner, "/api/v1/rooms/bad/invitations") == (404, "room_not_found")
    assert status(owner, f"/api/v1/rooms/{NOBODY}/invitations") == (404, "room_not_found")
    assert status(other) == (403, "not_room_member")
    assert status(guest) == (403, "not_room_member")
    assert status(member) == (403, "permission_denied")
    assert client.delete(f"{INVITATIONS}/{invitation['id']}", token=owner.token).status == 200
    assert client.get(path, token=owner.token).json["invitations"] == []


def test_a_rooms_invitations_are_paged_with_limit_and_offset(
    client: ApiClient, people, room
) -> None:
    # Found in review: the listing gave the newest 100 and has_more, with no way to
    # the others. It pages as GET /users does: limit (at most 100) and offset.
    owner = people["owner"]
    for invitee in (people["guest"], people["other"], client.register("third")):
        client.core.clock.advance(1)
        invite(client, owner, room, invitee)
    path = f"/api/v1/rooms/{room['id']}/invitations"
    client.check_bounded_paging(path, "invitations", owner.token)
    # The check order: a malformed room id's 404, the query's 400, the room's checks.
    bad = client.get("/api/v1/rooms/bad/invitations?limit=x", token=owner.token)
    assert (bad.status, bad.code) == (404, "room_not_found")
    bad = client.get(f"/api/v1/rooms/{NOBODY}/invitations?limit=x", token=owner.token)
    assert (bad.status, bad.code) == (400, "validation_failed")
