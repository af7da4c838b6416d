"""Pinned messages over REST (docs/protocols/HTTP.md, "Pinned messages"): pin, unpin,
list, who may, the cap, events to the connections that asked, and the rate-limit
tier."""

from __future__ import annotations

from lairchat.domain.pins import PINS_PER_ROOM
from lairchat.transports.http.ratelimit import tier_of
from lairchat.transports.http.testing import ApiClient
from tests.unit.test_http_reactions import MESSAGES, NOBODY, room_target, send


def pin(message_id: str) -> str:
    return f"{MESSAGES}/{message_id}/pin"


def pins(room_id: str) -> str:
    return f"/api/v1/rooms/{room_id}/pins"


def test_pin_list_unpin(client: ApiClient, people, room) -> None:
    first = send(client, people["member"], room_target(room), "first")
    second = send(client, people["member"], room_target(room), "second")
    for message, who in ((second, "mod"), (first, "owner")):
        reply = client.put(pin(message["id"]), token=people[who].token)
        assert (reply.status, reply.json) == (200, {"success": True}), reply
    reply = client.get(pins(room["id"]), token=people["member"].token)
    assert reply.status == 200, reply
    assert list(reply.json) == ["pins"]
    listed = reply.json["pins"]
    assert [(p["message"]["id"], p["pinned_by"]) for p in listed] == [
        (first["id"], people["owner"].id),
        (second["id"], people["mod"].id),
    ]
    assert listed[0]["message"] == {**first, "reactions": []}
    assert listed[0]["pinned_at"].endswith("Z")
    reply = client.delete(pin(first["id"]), token=people["mod"].token)
    assert (reply.status, reply.json) == (200, {"success": True})
    listed = client.get(pins(room["id"]), token=people["owner"].token).json["pins"]
    assert [p["message"]["id"] for p in listed] == [second["id"]]


def test_pin_and_unpin_are_idempotent_and_announced_once(client: ApiClient, people, room) -> None:
    message = send(client, people["member"], room_target(room))
    asked = client.connect(people["member"])
    asked.extended = True
    plain = client.connect(people["owner"])
    for _ in range(2):
        assert client.put(pin(message["id"]), token=people["mod"].token).status == 200
    for _ in range(2):
        assert client.delete(pin(message["id"]), token=people["mod"].token).status == 200
    got = [e.payload for e in asked.events if "pinned" in e.payload["type"]]
    assert [p["type"] for p in got] == ["message_pinned", "message_unpinned"]
    assert got[0]["message"] == {**message, "reactions": []}
    assert got[1] == {
        "type": "message_unpinned",
        "room_id": room["id"],
        "message_id": message["id"],
        "unpinned_by": people["mod"].id,
    }
    assert [e for e in plain.events if "pinned" in e.payload["type"]] == []


def test_who_may(client: ApiClient, people, room) -> None:
    message = send(client, people["owner"], room_target(room))
    for method in (client.put, client.delete):
        reply = method(pin(message["id"]), token=people["member"].token)
        assert (reply.status, reply.code) == (403, "permission_denied")
        reply = method(pin(message["id"]), token=people["outsider"].token)
        assert (reply.status, reply.code) == (403, "not_room_member")
        reply = method(pin(NOBODY), token=people["mod"].token)
        assert (reply.status, reply.code) == (404, "message_not_found")
        reply = method(pin("not-an-id"), token=people["mod"].token)
        assert (reply.status, reply.code) == (404, "message_not_found")
        assert method(pin(message["id"])).status == 401
    reply = client.get(pins(room["id"]), token=people["outsider"].token)
    assert (reply.status, reply.code) == (403, "not_room_member")
    for missing in (NOBODY, "not-an-id"):
        reply = client.get(pins(missing), token=people["member"].token)
        assert (reply.status, reply.code) == (404, "room_not_found")
    assert client.get(pins(room["id"])).status == 401


def test_a_dm_has_no_pins(client: ApiClient, people) -> None:
    owner, member = people["owner"], people["member"]
    dm = send(client, owner, {"type": "dm", "recipient": member.id})
    reply = client.put(pin(dm["id"]), token=member.token)
    assert (reply.status, reply.code) == (400, "validation_failed")
    assert "message_id" in reply.error["message"]
    reply = client.put(pin(dm["id"]), token=people["outsider"].token)
    assert (reply.status, reply.code) == (404, "message_not_found")


def test_the_fifty_first_pin_is_refused(client: ApiClient, people, room) -> None:
    token = people["mod"].token
    for i in range(PINS_PER_ROOM):
        message = send(client, people["owner"], room_target(room), f"m{i}")
        assert client.put(pin(message["id"]), token=token).status == 200
    extra = send(client, people["owner"], room_target(room), "one too many")
    reply = client.put(pin(extra["id"]), token=token)
    assert (reply.status, reply.code) == (400, "validation_failed")
    assert "message_id" in reply.error["message"] and "50" in reply.error["message"]
    assert client.put(pin(message["id"]), token=token).status == 200  # already pinned
    assert len(client.get(pins(room["id"]), token=token).json["pins"]) == PINS_PER_ROOM


def test_a_deleted_message_leaves_the_list(client: ApiClient, people, room) -> None:
    message = send(client, people["member"], room_target(room))
    assert client.put(pin(message["id"]), token=people["owner"].token).status == 200
    assert client.delete(f"{MESSAGES}/{message['id']}", token=people["member"].token).status == 200
    assert client.get(pins(room["id"]), token=people["owner"].token).json == {"pins": []}


def test_pins_count_against_the_general_allowance_only() -> None:
    """As their real-time commands (not MESSAGING): a pin is no message sent."""
    assert tier_of(b"/api/v1/messages/m1/pin", b"PUT") is None
    assert tier_of(b"/api/v1/messages/m1/pin", b"DELETE") is None
    assert tier_of(b"/api/v1/messages/m1/pins", b"PUT") == "messaging"
    assert tier_of(b"/api/v1/messages/pin", b"PUT") == "messaging"
    assert tier_of(b"/api/v1/messages/m1/pin/x", b"PUT") == "messaging"
