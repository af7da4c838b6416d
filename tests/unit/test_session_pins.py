"""The real-time ``pin_message``/``unpin_message``/``get_pins`` commands, in memory
(docs/protocols/TCP.md, "Pinned messages")."""

from __future__ import annotations

from tests.unit.conftest import CORE_NOBODY as NOBODY


def test_pin_list_unpin_with_events_to_those_that_asked(core_tcp_world) -> None:
    alice = core_tcp_world.login("alice", extended=True)
    bob = core_tcp_world.login("bob")  # Lair Chat's client: asks for nothing of ours
    room = alice.ok("create_room", name="general")["room"]["id"]
    bob.ok("join_room", room_id=room)
    target = {"type": "room", "room_id": room}
    said = bob.ok("send_message", target=target, content="hi")["message"]
    alice.frames(), bob.frames()

    response = alice.ok("pin_message", message_id=said["id"])
    assert list(response) == ["type", "request_id", "success"]
    (event,) = alice.of_type("message_pinned")
    assert list(event) == ["type", "room_id", "message", "pinned_by", "pinned_at"]
    assert event["message"] == {**said, "reactions": []}
    assert (event["room_id"], event["pinned_by"]) == (room, core_tcp_world.uid("alice"))
    alice.ok("pin_message", message_id=said["id"])  # again: no event
    assert alice.of_type("message_pinned") == []

    listed = bob.ok("get_pins", room_id=room)
    assert list(listed) == ["type", "request_id", "success", "pins", "has_more"]
    assert listed["has_more"] is False
    assert listed["pins"] == [
        {
            "message": event["message"],
            "pinned_by": event["pinned_by"],
            "pinned_at": event["pinned_at"],
        }
    ]
    alice.ok("unpin_message", message_id=said["id"])
    (gone,) = alice.of_type("message_unpinned")
    assert gone == {
        "type": "message_unpinned",
        "room_id": room,
        "message_id": said["id"],
        "unpinned_by": core_tcp_world.uid("alice"),
    }
    assert not [f for f in bob.frames() if "pinned" in f["type"]]
    assert not bob.closed
    assert bob.ok("get_pins", room_id=room)["pins"] == []


def test_errors_in_the_usual_error_object(core_tcp_world) -> None:
    alice, bob, carol = (
        core_tcp_world.login("alice"),
        core_tcp_world.login("bob"),
        core_tcp_world.login("carol"),
    )
    room = alice.ok("create_room", name="general")["room"]["id"]
    bob.ok("join_room", room_id=room)
    said = alice.ok("send_message", target={"type": "room", "room_id": room}, content="hi")
    message_id = said["message"]["id"]
    bob.fails("pin_message", "permission_denied", message_id=message_id)
    bob.fails("unpin_message", "permission_denied", message_id=message_id)
    carol.fails("pin_message", "not_room_member", message_id=message_id)
    alice.fails("pin_message", "message_not_found", message_id=NOBODY)
    alice.fails("unpin_message", "message_not_found", message_id="junk")
    carol.fails("get_pins", "not_room_member", room_id=room)
    carol.fails("get_pins", "room_not_found", room_id=NOBODY)
    carol.fails("get_pins", "room_not_found", room_id="junk")
    dm = alice.ok(
        "send_message", target={"type": "dm", "recipient": core_tcp_world.uid("bob")}, content="x"
    )
    bob.fails("pin_message", "validation_failed", message_id=dm["message"]["id"])
    carol.fails("pin_message", "message_not_found", message_id=dm["message"]["id"])
