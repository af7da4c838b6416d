"""The real-time ``add_reaction``/``remove_reaction`` commands and ``get_messages``'
``reactions``, in memory (docs/protocols/TCP.md, "Reactions")."""

from __future__ import annotations

from tests.unit.conftest import CORE_NOBODY as NOBODY


def test_react_and_take_back_with_events_to_those_that_asked(core_tcp_world) -> None:
    alice = core_tcp_world.login("alice", extended=True)
    bob = core_tcp_world.login("bob")  # Lair Chat's client: asks for nothing of ours
    room = alice.ok("create_room", name="general")["room"]["id"]
    bob.ok("join_room", room_id=room)
    target = {"type": "room", "room_id": room}
    said = alice.ok("send_message", target=target, content="hi")["message"]
    alice.frames(), bob.frames()

    response = bob.ok("add_reaction", message_id=said["id"], emoji="👍")
    assert list(response) == ["type", "request_id", "success"]
    (event,) = alice.of_type("reaction_added")
    assert event == {
        "type": "reaction_added",
        "message_id": said["id"],
        "target": target,
        "user_id": core_tcp_world.uid("bob"),
        "emoji": "👍",
    }
    bob.ok("add_reaction", message_id=said["id"], emoji="👍")  # again: no event
    assert alice.of_type("reaction_added") == []
    history = alice.ok("get_messages", target=target)["messages"]
    bobs = {"emoji": "👍", "count": 1, "user_ids": [core_tcp_world.uid("bob")]}
    assert history[0]["reactions"] == [{**bobs, "me": False}]
    history = bob.ok("get_messages", target=target)["messages"]  # per reader
    assert history[0]["reactions"] == [{**bobs, "me": True}]
    bob.ok("remove_reaction", message_id=said["id"], emoji="👍")
    assert [e["user_id"] for e in alice.of_type("reaction_removed")] == [core_tcp_world.uid("bob")]
    assert not [f for f in bob.frames() if f["type"].startswith("reaction_")]
    assert not bob.closed
    assert alice.ok("get_messages", target=target)["messages"][0]["reactions"] == []


def test_errors_in_the_usual_error_object(core_tcp_world) -> None:
    alice, carol = core_tcp_world.login("alice"), core_tcp_world.login("carol")
    room = alice.ok("create_room", name="general")["room"]["id"]
    target = {"type": "room", "room_id": room}
    said = alice.ok("send_message", target=target, content="hi")["message"]
    carol.fails("add_reaction", "not_room_member", message_id=said["id"], emoji="👍")
    alice.fails("add_reaction", "message_not_found", message_id=NOBODY, emoji="👍")
    alice.fails("add_reaction", "message_not_found", message_id="junk", emoji="👍")
    alice.fails("remove_reaction", "validation_failed", message_id=said["id"], emoji=" ")
    core_tcp_world.login("bob")
    to_bob = {"type": "dm", "recipient": core_tcp_world.uid("bob")}
    dm = alice.ok("send_message", target=to_bob, content="psst")["message"]
    carol.fails("remove_reaction", "message_not_found", message_id=dm["id"], emoji="👍")
