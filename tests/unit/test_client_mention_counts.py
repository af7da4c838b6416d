"""The terminal client's ``@`` counts seeded from the server's (docs/CLIENT.md,
"Mentions and the bell": ``unread_counts.mentions`` of ``/users/me`` at login and at
every reconnection, then the live ones counted on top)."""

from __future__ import annotations

from typing import Any

from lairchat.client import commands as c
from lairchat.client.state import panel_rows
from lairchat.client.testing import message, room
from lairchat.client.ui.people import row_markup
from lairchat.client.ui.rooms import room_markup
from tests.unit.test_client_app import BOB, ROOM, World

OTHER = "r-other"


def counts(by_room: dict[str, Any], by_dm: dict[str, Any], mentions: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {"by_room": by_room, "by_dm": by_dm}
    if mentions is not None:
        answer["mentions"] = mentions
    return answer


def joined_world() -> World:
    """Logged in, a member of #other, in #general (shown)."""
    world = World()
    world.api.rooms_list.append({"room": room(OTHER, "other"), "member_count": 1})
    world.api.joined_list = [{"room": room(OTHER, "other"), "member_count": 1}]
    world.api.unread_counts = counts(
        {OTHER: 4}, {BOB: 2}, {"by_room": {OTHER: 2}, "by_dm": {BOB: 1}}
    )
    world.login()
    world.app.dispatch(c.JoinRoom("general"))
    return world


def live(world: World, mid: str, content: str, **target: Any) -> None:
    world.opener.handlers.frame_received(
        {
            "type": "message_received",
            "message": message(mid, BOB, content, **target),
            "author_username": "bob",
        }
    )
    world.clock.advance(0)


def mentions_of(world: World) -> dict[tuple[str, str], int]:
    return {k: conv.mentions for k, conv in world.state.conversations.items() if conv.mentions}


def reconnect(world: World, answer: dict[str, Any]) -> None:
    world.opener.handlers.channel_closed("connection lost")
    world.api.unread_counts = answer
    world.clock.advance(1.5)
    world.opener.accept()
    world.clock.advance(0)


def test_mentions_missed_while_away_are_counted_at_login() -> None:
    """Found by logging in after being mentioned while offline: the room list showed
    ``4 new`` and no ``@``, and the status bar nothing (the client counted only what
    arrived live). The server's counts are the badges now."""
    world = joined_world()
    assert mentions_of(world) == {("room", OTHER): 2, ("dm", BOB): 1}
    assert room_markup(world.state, world.state.rooms[OTHER], False)[1] == ("unread", "  4 new @")
    bob = next(r for r in panel_rows(world.state) if r.user_id == BOB)
    assert row_markup(bob, False)[-1] == ("unread", " (2 @)")
    assert "@ 3 mentions in 2 conversations" in world.screen()


def test_a_reconnection_counts_live_mentions_once_and_keeps_later_ones() -> None:
    world = joined_world()
    live(world, "m1", "@me look", room_id=OTHER)
    assert mentions_of(world)[("room", OTHER)] == 3
    # The server now counts m1 among its 3: not counted twice.
    answer = counts({OTHER: 5}, {}, {"by_room": {OTHER: 3}, "by_dm": {}})
    reconnect(world, answer)
    assert mentions_of(world) == {("room", OTHER): 3}
    live(world, "m2", "@ME again", room_id=OTHER)
    assert mentions_of(world) == {("room", OTHER): 4}
    assert "@ 4 mentions in #other" in world.screen()


def test_opening_the_conversation_reads_its_mentions() -> None:
    world = joined_world()
    world.app.dispatch(c.JoinRoom("other"))
    assert mentions_of(world) == {("dm", BOB): 1}


def test_a_server_counting_no_mentions_leaves_the_live_ones() -> None:
    """Lair Chat, or a lairchat before these counts: as before, live mentions only."""
    world = joined_world()
    live(world, "m1", "@me look", room_id=OTHER)
    reconnect(world, counts({OTHER: 5}, {}, None))
    assert mentions_of(world) == {("room", OTHER): 3, ("dm", BOB): 1}


def test_counts_of_the_wrong_shape_count_nothing() -> None:
    world = joined_world()
    bad = {"by_room": {OTHER: "2", ROOM: -1, "x": True}, "by_dm": [1]}
    reconnect(world, counts({OTHER: 5}, {}, bad))
    assert mentions_of(world) == {}
