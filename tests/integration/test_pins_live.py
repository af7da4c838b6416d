"""Pinned messages on a real server (real sockets on 127.0.0.1): the room's owner pins
over REST, a member's connection that asked for lairchat's own events is told, a
plain connection (Lair Chat's client) is told nothing and stays open, a plain member
may not pin, and the list over REST and TCP shows the pin; unpinned over TCP, it is
gone (docs/protocols/HTTP.md and TCP.md, "Pinned messages"). Every wait is a read
with a deadline; nothing sleeps."""

from __future__ import annotations

import uuid

from lairchat.testing_clients import LAIRCHAT_EVENT_TYPES, rest


def test_a_pin_reaches_those_that_asked_and_the_list(live_server) -> None:
    server = live_server
    with (
        server.register("pinowner") as owner,
        server.register("pinfan", extended=True) as fan,
        server.register("pinplain") as plain,
    ):
        room_id = owner.ok("create_room", name=f"pin{uuid.uuid4().hex[:8]}")["room"]["id"]
        for member in (fan, plain):
            member.ok("join_room", room_id=room_id)
        target = {"type": "room", "room_id": room_id}
        said = fan.ok("send_message", target=target, content="pin me")["message"]
        path = f"/api/v1/messages/{said['id']}/pin"

        status, refusal = rest(server, "PUT", path, token=plain.token)
        assert (status, refusal["error"]["code"]) == (403, "permission_denied")
        assert rest(server, "PUT", path, token=owner.token) == (200, {"success": True})
        event = fan.event("message_pinned", room_id=room_id)
        # As history gives it (read back from the database: whole seconds).
        assert event["message"] == fan.ok("get_messages", target=target)["messages"][0]
        assert event["message"]["id"] == said["id"]
        assert event["pinned_by"] == owner.user_id
        assert not {m["type"] for m in plain.barrier()} & LAIRCHAT_EVENT_TYPES
        # Still open and answering: it was never sent a type it does not know.
        assert plain.ok("get_current_user")["user"]["id"] == plain.user_id

        pin = {k: event[k] for k in ("message", "pinned_by", "pinned_at")}
        status, listed = rest(server, "GET", f"/api/v1/rooms/{room_id}/pins", token=plain.token)
        assert (status, listed) == (200, {"pins": [pin]})
        answer = plain.ok("get_pins", room_id=room_id)
        assert (answer["pins"], answer["has_more"]) == ([pin], False)

        owner.ok("unpin_message", message_id=said["id"])
        gone = fan.event("message_unpinned", message_id=said["id"])
        assert gone == {
            "type": "message_unpinned",
            "room_id": room_id,
            "message_id": said["id"],
            "unpinned_by": owner.user_id,
        }
        assert fan.ok("get_pins", room_id=room_id)["pins"] == []
