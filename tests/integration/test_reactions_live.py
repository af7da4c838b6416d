"""Reactions on a real server (real sockets on 127.0.0.1): one member reacts over
REST, the other member's connection that asked for lairchat's own events is told,
a plain connection (Lair Chat's client) is told nothing and stays open, and history
over both REST and TCP shows the reaction; taken back over TCP, it is gone
(docs/protocols/HTTP.md and TCP.md, "Reactions"). Every wait is a read with a
deadline; nothing sleeps."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from lairchat.testing_clients import LAIRCHAT_EVENT_TYPES, rest


def test_a_reaction_reaches_those_that_asked_and_history(live_server) -> None:
    server = live_server
    with (
        server.register("reactowner") as owner,
        server.register("reactfan", extended=True) as fan,
        server.register("reactplain") as plain,
    ):
        room_id = owner.ok("create_room", name=f"react{uuid.uuid4().hex[:8]}")["room"]["id"]
        for member in (fan, plain):
            member.ok("join_room", room_id=room_id)
        target = {"type": "room", "room_id": room_id}
        said = owner.ok("send_message", target=target, content="react to me")["message"]
        path = f"/api/v1/messages/{said['id']}/reactions/{quote('🎉', safe='')}"

        assert rest(server, "PUT", path, token=owner.token) == (200, {"success": True})
        event = fan.event("reaction_added", message_id=said["id"])
        assert event == {
            "type": "reaction_added",
            "message_id": said["id"],
            "target": target,
            "user_id": owner.user_id,
            "emoji": "🎉",
        }
        assert not {m["type"] for m in plain.barrier()} & LAIRCHAT_EVENT_TYPES
        # Still open and answering: it was never sent a type it does not know.
        assert plain.ok("get_current_user")["user"]["id"] == plain.user_id

        # The owner's reaction, read by others (``me`` is the reader's own).
        mine = [{"emoji": "🎉", "count": 1, "user_ids": [owner.user_id], "me": False}]
        status, page = rest(
            server,
            "GET",
            f"/api/v1/messages?target_type=room&target_id={room_id}",
            token=fan.token,
        )
        assert status == 200 and page["messages"][0]["reactions"] == mine
        assert plain.ok("get_messages", target=target)["messages"][0]["reactions"] == mine

        owner.ok("remove_reaction", message_id=said["id"], emoji="🎉")
        fan.event("reaction_removed", message_id=said["id"], user_id=owner.user_id)
        assert fan.ok("get_messages", target=target)["messages"][0]["reactions"] == []
