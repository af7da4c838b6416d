"""Reactions in the terminal client (lairchat/client/reactions.py; docs/CLIENT.md,
"Reactions"): ``/react`` and ``/unreact`` send the request for the right message,
history and the live events set the counts, and the line under a message shows them,
ours highlighted. The controller runs on the fake API and channel of
``test_client_app``, on a ``task.Clock``."""

from __future__ import annotations

from typing import Any

import pytest

from lairchat.client import commands as c
from lairchat.client.testing import message
from lairchat.client.ui.messages import message_markup
from tests.unit.test_client_app import BOB, ME, ROOM, World

TARGET = {"type": "room", "room_id": ROOM}


@pytest.fixture
def world() -> World:
    return World()


def in_room(world: World, *page: dict[str, Any]) -> Any:
    channel = world.login()
    world.api.history_pages[("room", ROOM, None)] = (list(page), False)
    world.app.dispatch(c.JoinRoom("general"))
    return channel


def event(world: World, kind: str, message_id: str, user_id: str, emoji: str) -> None:
    world.opener.handlers.frame_received(
        {
            "type": kind,
            "message_id": message_id,
            "target": TARGET,
            "user_id": user_id,
            "emoji": emoji,
        }
    )


def shown(world: World, message_id: str) -> list[tuple[str, int, bool]]:
    msg = world.state.current_conversation.find(message_id)
    assert msg is not None
    return [(r.emoji, r.count, r.mine) for r in msg.reactions]


def test_the_commands_parse() -> None:
    assert c.parse_input("/react 👍") == c.React("👍")
    assert c.parse_input("/unreact 👍") == c.React("👍", remove=True)
    assert c.parse_input("/react") == c.CommandError("Usage: /react EMOJI")
    assert c.parse_input("/react 👍 🎉") == c.CommandError(
        "Usage: /react EMOJI (one emoji, no spaces)"
    )


def test_history_shows_the_counts_and_ours(world: World) -> None:
    reacted = {
        **message("m1", BOB, "lunch?", room_id=ROOM),
        "reactions": [
            {"emoji": "👍", "count": 2, "user_ids": [BOB, ME]},
            {"emoji": "🎉", "count": 1, "user_ids": [BOB]},
        ],
    }
    in_room(world, reacted)
    assert shown(world, "m1") == [("👍", 2, True), ("🎉", 1, False)]
    screen = world.screen()
    assert "bob: lunch?" in screen and "👍 2  🎉 1" in screen
    msg = world.state.current_conversation.find("m1")
    _, body = message_markup(msg, False)
    assert ("reaction_mine", "👍 2") in body and ("reaction", "🎉 1") in body


def test_ours_is_what_the_server_says_past_the_50_listed(world: World) -> None:
    """Found with a message 50 others reacted to first: our id is not among the
    ``user_ids`` listed, so our own 👍 was drawn as someone else's and ``/unreact 👍``
    said there was nothing to take back. The server's ``me`` decides."""
    others = [f"u{n}" for n in range(50)]
    reacted = {
        **message("m1", BOB, "popular", room_id=ROOM),
        "reactions": [
            {"emoji": "👍", "count": 51, "user_ids": others, "me": True},
            {"emoji": "🎉", "count": 1, "user_ids": [BOB], "me": False},
        ],
    }
    channel = in_room(world, reacted)
    assert shown(world, "m1") == [("👍", 51, True), ("🎉", 1, False)]
    world.app.dispatch(c.parse_input("/unreact 👍"))
    sent = channel.last("remove_reaction")
    assert (sent["message_id"], sent["emoji"]) == ("m1", "👍")


def test_react_sends_for_the_newest_message_and_the_event_counts(world: World) -> None:
    channel = in_room(
        world, message("m2", BOB, "newer", room_id=ROOM), message("m1", ME, "older", room_id=ROOM)
    )
    world.app.dispatch(c.parse_input("/react 👍"))
    sent = channel.last("add_reaction")
    assert (sent["message_id"], sent["emoji"]) == ("m2", "👍")
    world.opener.answer("add_reaction", success=True)
    assert shown(world, "m2") == []  # the event says it happened, not the answer
    event(world, "reaction_added", "m2", ME, "👍")
    event(world, "reaction_added", "m2", BOB, "👍")
    assert shown(world, "m2") == [("👍", 2, True)]
    assert "👍 2" in world.screen()

    world.app.dispatch(c.parse_input("/unreact 👍"))
    assert channel.last("remove_reaction")["message_id"] == "m2"
    event(world, "reaction_removed", "m2", ME, "👍")
    assert shown(world, "m2") == [("👍", 1, False)]
    event(world, "reaction_removed", "m2", BOB, "👍")
    assert shown(world, "m2") == []
    assert "👍" not in world.screen()


def test_unreact_finds_the_newest_message_with_ours(world: World) -> None:
    older = {
        **message("m1", BOB, "older", room_id=ROOM),
        "reactions": [{"emoji": "🎉", "count": 1, "user_ids": [ME]}],
    }
    channel = in_room(world, message("m2", BOB, "newer", room_id=ROOM), older)
    world.app.dispatch(c.parse_input("/unreact 🎉"))
    assert channel.last("remove_reaction")["message_id"] == "m1"
    before = len(channel.sent)
    world.app.dispatch(c.parse_input("/unreact 👍"))
    assert len(channel.sent) == before
    assert world.notice() == "No 👍 of yours here to take back"


def test_a_refusal_is_a_notice(world: World) -> None:
    in_room(world, message("m1", BOB, "hi", room_id=ROOM))
    world.app.dispatch(c.parse_input("/react a"))
    world.opener.answer(
        "add_reaction",
        success=False,
        error={"code": "validation_failed", "message": "Validation failed: emoji - too many"},
    )
    assert world.notice().startswith("Could not react")


def test_nothing_to_react_to(world: World) -> None:
    channel = in_room(world)
    world.app.dispatch(c.parse_input("/react 👍"))
    assert not [m for m in channel.sent if m["type"] == "add_reaction"]
    assert world.notice() == "No message here"


def test_events_for_messages_not_loaded_or_malformed_change_nothing(world: World) -> None:
    in_room(world, message("m1", BOB, "hi", room_id=ROOM))
    event(world, "reaction_added", "elsewhere", BOB, "👍")
    world.opener.handlers.frame_received({"type": "reaction_added", "message_id": "m1"})
    world.opener.handlers.frame_received(
        {"type": "reaction_added", "message_id": "m1", "target": TARGET, "emoji": 5}
    )
    assert shown(world, "m1") == []
    assert "bob: hi" in world.screen()


def test_a_dm_reaction_finds_its_conversation(world: World) -> None:
    world.login()
    world.api.history_pages[("dm", BOB, None)] = ([message("d1", BOB, "psst", to=ME)], False)
    world.app.dispatch(c.StartDM("bob"))
    world.opener.handlers.frame_received(
        {
            "type": "reaction_added",
            "message_id": "d1",
            "target": {"type": "dm", "recipient": ME},
            "user_id": BOB,
            "emoji": "❤️",
        }
    )
    assert shown(world, "d1") == [("❤️", 1, False)]
