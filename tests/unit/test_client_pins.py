"""Pinned messages in the terminal client (lairchat/client/pins.py; docs/CLIENT.md,
"Pinned messages"): ``/pin N`` and ``/unpin N`` ask for the right message, ``/pins``
lists a room's pins newest first and shows one whole, the events keep the list and
the room up to date, and a server without pins is said to be one. The controller runs
on the fake API and channel of ``test_client_app``, on a ``task.Clock``."""

from __future__ import annotations

from typing import Any

import pytest

from lairchat.client import commands as c
from lairchat.client.net.errors import ServerError
from lairchat.client.testing import message
from lairchat.client.ui.overlays import PinsOverlay
from tests.unit.test_client_app import BOB, ME, ROOM, SIZE, World

OLDER = message("m1", BOB, "read the rules first", room_id=ROOM)
NEWER = message("m2", ME, "lunch at noon?", room_id=ROOM)


@pytest.fixture
def world() -> World:
    return World()


def in_room(world: World) -> Any:
    """Logged in, in #general with two messages (m2 the newest), in normal mode."""
    channel = world.login()
    world.api.history_pages[("room", ROOM, None)] = ([NEWER, OLDER], False)
    world.app.dispatch(c.JoinRoom("general"))
    press(world, "esc")
    return channel


def press(world: World, *keys: str) -> None:
    for key in keys:
        world.app.ui.keypress(SIZE, key)


def pinned(msg: dict[str, Any], by: str = BOB, at: str = "2025-01-21T11:00:00Z") -> dict:
    return {"message": {**msg, "reactions": []}, "pinned_by": by, "pinned_at": at}


def event(world: World, payload: dict[str, Any]) -> None:
    world.opener.handlers.frame_received(payload)


def listed(world: World) -> list[str]:
    return [str(p.message.id) for p in world.state.pins[ROOM]]


def test_the_commands_parse() -> None:
    assert c.parse_input("/pin") == c.Pin()
    assert c.parse_input("/pin 3") == c.Pin(3)
    assert c.parse_input("/unpin") == c.Pin(remove=True)
    assert c.parse_input("/unpin 2") == c.Pin(2, remove=True)
    assert c.parse_input("/pins") == c.ShowPins()
    usage = "Usage: /pin [N] (N: 1 the newest message, 2 the one before)"
    for bad in ("/pin 0", "/pin x", "/pin -1", "/pin ２"):
        assert c.parse_input(bad) == c.CommandError(usage), bad


def test_pin_asks_for_the_newest_or_the_nth_newest(world: World) -> None:
    in_room(world)
    world.app.dispatch(c.parse_input("/pin"))
    world.app.dispatch(c.parse_input("/pin 2"))
    world.app.dispatch(c.parse_input("/unpin 2"))
    assert world.api.called("pin") == [("m2",), ("m1",)]
    assert world.api.called("unpin") == [("m1",)]
    assert world.notice() == "Unpinned"
    world.app.dispatch(c.parse_input("/pin 3"))
    assert world.notice() == "No message 3 here (1 is the newest)"
    assert len(world.api.called("pin")) == 2


def test_pin_outside_a_room_says_why(world: World) -> None:
    world.login()
    world.app.dispatch(c.parse_input("/pin"))
    assert world.notice() == "Open a room first (r)"
    world.app.dispatch(c.StartDM("bob"))
    world.app.dispatch(c.parse_input("/pin"))
    assert world.notice() == "A direct message has no pins"
    assert world.api.called("pin") == []


def test_a_refusal_is_in_the_servers_words(world: World) -> None:
    in_room(world)
    world.api.fail["pin"] = ServerError("permission_denied", "Permission denied", status=403)
    world.app.dispatch(c.parse_input("/pin"))
    assert world.notice() == "Could not pin: Permission denied"


@pytest.mark.parametrize(
    "refusal",
    [
        ServerError("http_404", "Not Found", status=404),  # Lair Chat: a bare 404
        ServerError("not_found", "Not found", status=404),  # an older lairchat's router
        ServerError("http_405", "Method Not Allowed", status=405),
    ],
)
def test_a_server_without_pins_says_so(world: World, refusal: ServerError) -> None:
    in_room(world)
    world.api.fail["pin"] = world.api.fail["pins"] = refusal
    world.app.dispatch(c.parse_input("/pin"))
    assert world.notice() == "Could not pin: This server cannot pin messages"
    world.app.dispatch(c.parse_input("/pins"))
    assert world.notice() == "Could not list the pinned messages: This server cannot pin messages"
    assert world.app.ui.overlay is None  # not "loading" for ever


def test_pins_lists_newest_first_and_shows_one_whole(world: World) -> None:
    long_text = "first line\n" + "\n".join(f"line {i}" for i in range(2, 6))
    world.api.pin_lists[ROOM] = [
        pinned({**OLDER, "content": long_text}, by=ME),
        pinned(NEWER, at="2025-01-21T10:00:00Z"),
    ]
    in_room(world)
    world.app.dispatch(c.parse_input("/pins"))
    box = world.app.ui.overlay
    assert isinstance(box, PinsOverlay)
    assert world.api.called("pins") == [(ROOM,)]
    assert listed(world) == ["m1", "m2"]
    screen = world.screen()
    assert "Pinned in #general (2)" in screen
    assert "bob · pinned by me" in screen and "me · pinned by bob" in screen
    assert screen.index("first line") < screen.index("lunch at noon?")
    assert "line 5" not in screen  # the list shows the first line
    press(world, "enter")
    screen = world.screen()
    assert all(f"line {i}" in screen for i in range(2, 6))  # read whole
    press(world, "esc", "j", "enter")
    assert "lunch at noon?" in world.screen() and "line 5" not in world.screen()
    press(world, "b", "q")
    assert world.app.ui.overlay is None


def test_unpin_from_the_list_asks_first(world: World) -> None:
    world.api.pin_lists[ROOM] = [pinned(OLDER)]
    in_room(world)
    world.app.dispatch(c.parse_input("/pins"))
    press(world, "x")
    assert "Unpin the message selected?" in world.screen()
    press(world, "n")
    assert world.api.called("unpin") == []
    press(world, "x", "y")
    assert world.api.called("unpin") == [("m1",)]


def test_events_keep_the_list_and_tell_the_room(world: World) -> None:
    world.api.pin_lists[ROOM] = [pinned(OLDER)]
    in_room(world)
    world.app.dispatch(c.parse_input("/pins"))
    event(
        world,
        {
            "type": "message_pinned",
            "room_id": ROOM,
            "message": {**NEWER, "reactions": []},
            "pinned_by": BOB,
            "pinned_at": "2025-01-21T12:00:00Z",
        },
    )
    assert listed(world) == ["m2", "m1"]
    assert "Pinned in #general (2)" in world.screen()
    assert world.state.pins[ROOM][0].pinned_by == BOB
    event(world, {"type": "message_edited", "message": {**OLDER, "content": "rules v2"}})
    assert world.state.pins[ROOM][1].message.content == "rules v2"
    event(
        world,
        {"type": "message_unpinned", "room_id": ROOM, "message_id": "m2", "unpinned_by": ME},
    )
    assert listed(world) == ["m1"]
    # A deleted message's pin goes with it: only message_deleted is sent.
    event(world, {"type": "message_deleted", "message_id": "m1", "target": {"type": "room"}})
    assert listed(world) == []
    assert "No pinned messages" in world.screen()
    press(world, "q")
    lines = [m.content for m in world.state.current_conversation.messages if m.kind == "system"]
    assert "bob pinned a message: lunch at noon?" in lines
    assert "me unpinned a message: lunch at noon?" in lines


def test_events_for_a_list_not_loaded_change_nothing_but_the_room(world: World) -> None:
    in_room(world)
    event(
        world,
        {
            "type": "message_pinned",
            "room_id": ROOM,
            "message": {**OLDER, "content": "x" * 100},
            "pinned_by": BOB,
        },
    )
    assert ROOM not in world.state.pins
    last = world.state.current_conversation.messages[-1]
    assert last.content == "bob pinned a message: " + "x" * 59 + "…"
    for bad in (
        {"type": "message_pinned", "room_id": ROOM, "message": "m1"},
        {"type": "message_pinned", "room_id": ROOM, "message": {"content": "no id"}},
        {"type": "message_unpinned", "room_id": ROOM},
    ):
        event(world, bad)  # malformed: ignored, no error
    assert world.state.current_conversation.messages[-1].content.startswith("bob pinned")


def test_a_malformed_list_keeps_what_it_can(world: World) -> None:
    world.api.pin_lists[ROOM] = [pinned(OLDER), "junk", {"message": 5}, {"pinned_by": BOB}]
    in_room(world)
    world.app.dispatch(c.parse_input("/pins"))
    assert listed(world) == ["m1"]


def test_pins_outside_a_room(world: World) -> None:
    world.login()
    world.app.dispatch(c.parse_input("/pins"))
    assert world.notice() == "Open a room first (r)"
    assert world.app.ui.overlay is None


def test_the_box_closes_when_the_room_goes(world: World) -> None:
    """Found writing the box: a room deleted (or left) while its pins were shown
    forgot them, and the box said "loading" for ever."""
    world.api.pin_lists[ROOM] = [pinned(OLDER)]
    in_room(world)
    world.app.dispatch(c.parse_input("/pins"))
    assert isinstance(world.app.ui.overlay, PinsOverlay)
    event(world, {"type": "room_deleted", "room_id": ROOM, "room_name": "general"})
    world.screen()
    assert world.app.ui.overlay is None
    assert ROOM not in world.state.pins
