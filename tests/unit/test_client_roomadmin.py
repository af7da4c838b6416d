"""Room settings and server administration in the terminal client (docs/CLIENT.md,
"Managing a room" and "Administering the server"): ``/topic``, ``/rename``,
``/private``, ``/limit``, ``/delete-room``, ``/admin stats``, ``/ban``, ``/unban``,
``/delete-user`` and ``/admin delete-room``, over the REST API (an in-memory fake
here, its HTTP requests checked against a stub client): what they send, what the
screen shows after, refusals in the server's words, bad syntax, and the forms that
ask before a deletion."""

from __future__ import annotations

from typing import Any

import pytest

from lairchat.client import commands as c
from lairchat.client.net.errors import ServerError
from lairchat.client.ui.adminforms import DeleteRoomOverlay, DeleteUserOverlay
from lairchat.client.ui.overlays import HelpOverlay
from tests.unit.test_client_app import BOB, ME, ROOM, SIZE, World, type_lines
from tests.unit.test_client_net import Response, api, run

DENIED = ServerError("permission_denied", "Permission denied", status=403)
#: What the original Lair Chat answers for a route it does not have.
NO_ROUTE = ServerError("http_404", "HTTP 404", status=404)


@pytest.fixture
def world() -> World:
    return World()


def in_room(world: World) -> None:
    """Signed in, an owner of #general, which is shown."""
    listed = world.api.rooms_list[0]
    listed["is_member"] = True
    world.api.joined_list = [{"room": listed["room"], "member_count": 2, "is_member": True}]
    world.login()
    world.app.dispatch(c.JoinRoom("general"))
    assert world.state.current == ("room", ROOM)
    world.state.rooms[ROOM].role = "owner"


def typed(world: World, line: str) -> None:
    """``line`` typed in the message field, then Enter."""
    world.app.ui.chat.set_mode("insert")
    for key in line:
        world.app.ui.keypress(SIZE, key)
    world.app.ui.keypress(SIZE, "enter")


def opened(world: World, line: str) -> Any:
    """The box ``line`` opens."""
    typed(world, line)
    return world.app.ui.overlay


def title(world: World) -> str:
    return world.screen().splitlines()[0]


def lines(world: World) -> list[str]:
    """The conversation's system lines."""
    return [m.content for m in world.state.current_conversation.messages if m.kind == "system"]


def event(world: World, frame: dict[str, Any]) -> None:
    world.opener.handlers.frame_received(frame)


# -- the commands as typed --------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "action"),
    [
        ("/topic", c.ShowRoomInfo("topic")),
        ("/topic Weekly sync: Mondays", c.EditRoom(description="Weekly sync: Mondays")),
        ("/topic -", c.EditRoom(description="")),
        ("/topic -delete", c.EditRoom(description="")),
        ("/rename #dev talk", c.EditRoom(name="dev talk")),
        ("/private on", c.SetRoomSetting("public", False)),
        ("/private OFF", c.SetRoomSetting("public", True)),
        ("/private", c.ShowRoomInfo("settings")),
        ("/limit 25", c.SetRoomSetting("max_members", 25)),
        ("/limit 0", c.SetRoomSetting("max_members", 0)),
        ("/limit off", c.SetRoomSetting("max_members", None)),
        ("/limit", c.ShowRoomInfo("settings")),
        ("/delete-room", c.ShowDeleteRoomForm()),
        ("/delete-room general", c.ShowDeleteRoomForm()),
        ("/admin stats", c.AdminStats()),
        ("/admin delete-room #general", c.ShowDeleteRoomForm("general", admin=True)),
        ("/ban @bob", c.Ban("bob")),
        ("/ban bob 2h", c.Ban("bob", 2)),
        ("/ban bob 3D spam links", c.Ban("bob", 72, "spam links")),
        ("/ban bob 1w", c.Ban("bob", 168)),
        ("/ban bob spam links", c.Ban("bob", None, "spam links")),
        ("/ban bob\t2h\tspam  links", c.Ban("bob", 2, "spam  links")),
        ("/ban @", c.CommandError(c.BAN_USAGE)),
        ("/admin ban bob 2h", c.Ban("bob", 2)),
        ("/unban @bob", c.Unban("bob")),
        ("/admin unban bob", c.Unban("bob")),
        ("/delete-user @bob", c.ShowDeleteUserForm("bob")),
        ("/admin delete-user bob", c.ShowDeleteUserForm("bob")),
    ],
)
def test_commands_parse(line: str, action: c.Action) -> None:
    assert c.parse_input(line) == action


@pytest.mark.parametrize(
    ("line", "usage"),
    [
        ("/rename", "Usage: /rename NAME"),
        ("/rename #", "Usage: /rename NAME"),
        ("/private maybe", "Usage: /private on|off"),
        ("/limit ten", "Usage: /limit N|off"),
        ("/limit -1", "Usage: /limit N|off"),
        ("/limit ３", "Usage: /limit N|off"),
        ("/ban", c.BAN_USAGE),
        # No unit: hours or days? Nothing is guessed, nor a ban of no time at all.
        ("/ban bob 24 spam", c.BAN_USAGE),
        ("/ban bob 0h", c.BAN_USAGE),
        ("/ban bob 30m", c.BAN_USAGE),
        ("/ban bob 2days", c.BAN_USAGE),
        ("/unban", "Usage: /unban USER"),
        ("/delete-user", "Usage: /delete-user USER"),
        ("/admin", c.ADMIN_USAGE),
        ("/admin reboot", c.ADMIN_USAGE),
        ("/admin delete-room", "Usage: /admin delete-room NAME|ID"),
    ],
)
def test_bad_syntax_says_the_usage(line: str, usage: str) -> None:
    refused = c.parse_input(line)
    assert isinstance(refused, c.CommandError)
    assert refused.message.startswith(usage)


def test_help_and_palette_offer_them(world: World) -> None:
    world.login()
    world.app.dispatch(c.ShowHelp())
    assert isinstance(world.app.ui.overlay, HelpOverlay)
    shown = [w.text for w in world.app.ui.overlay.walker]
    for command in ("/topic", "/rename", "/private", "/limit", "/delete-room", "/ban"):
        assert any(command in line for line in shown), command
    assert any("/delete-user USER" in line and "admins only" in line for line in shown)
    world.app.ui.keypress(SIZE, "esc")
    for key in ["ctrl p", *"server stats", "enter"]:
        world.app.ui.keypress(SIZE, key)
    assert world.api.called("admin_stats") == [()]


# -- the room shown ---------------------------------------------------------------------


def test_the_topic_is_set_and_shown(world: World) -> None:
    in_room(world)
    typed(world, "/topic Weekly sync: Mondays")
    assert world.api.called("update_room") == [(ROOM, None, "Weekly sync: Mondays", None)]
    assert "#general — Weekly sync: Mondays" in title(world)
    assert world.notice() == "Topic of #general set"
    assert lines(world)[-1] == "You set the topic: Weekly sync: Mondays"
    # The server's event for the same change comes after: nothing more is said.
    room = world.api.rooms_list[0]["room"]
    event(world, {"type": "room_updated", "room": room, "changed_by": ME})
    assert lines(world).count("You set the topic: Weekly sync: Mondays") == 1
    typed(world, "/topic")
    assert world.api.called("room") == [(ROOM,)]
    assert lines(world)[-1] == "Topic of #general: Weekly sync: Mondays"


def test_the_topic_is_cleared(world: World) -> None:
    world.api.rooms_list[0]["room"]["settings"]["description"] = "old news"
    in_room(world)
    assert "old news" in title(world)
    typed(world, "/topic -")
    assert world.api.called("update_room") == [(ROOM, None, "", None)]
    assert "old news" not in title(world)
    assert lines(world)[-1] == "You cleared the topic"
    typed(world, "/topic")
    assert lines(world)[-1] == "#general has no topic (/topic TEXT)"


def test_the_room_is_renamed_in_the_title_and_the_list(world: World) -> None:
    in_room(world)
    typed(world, "/rename dev")
    assert world.api.called("update_room") == [(ROOM, "dev", None, None)]
    assert world.notice() == "Room renamed to #dev"
    assert title(world).startswith(" #dev")
    assert lines(world)[-1] == "You renamed the room to #dev"
    world.app.dispatch(c.ShowRooms())
    assert "> dev  (2 members)  [owner]" in world.screen()


@pytest.mark.parametrize(
    ("refusal", "shown"),
    [
        (DENIED, "Room not changed: Permission denied"),
        (
            ServerError("room_name_taken", "Room name already taken", status=409),
            "Room not changed: Room name already taken",
        ),
        (
            ServerError(
                "room_name_invalid", "Room name invalid: value cannot be empty", status=400
            ),
            "Room not changed: Room name invalid: value cannot be empty",
        ),
    ],
)
def test_a_refused_change_changes_nothing(world: World, refusal: ServerError, shown: str) -> None:
    in_room(world)
    world.api.fail["update_room"] = refusal
    typed(world, "/rename random")
    assert world.notice() == shown
    assert title(world).startswith(" #general") and world.state.rooms[ROOM].name == "general"


def test_private_sends_the_other_settings_as_the_server_has_them(world: World) -> None:
    """``settings`` replaces them all: turning the room private must keep its member
    limit (set meanwhile by someone else: the server's, not the one cached)."""
    in_room(world)
    world.api.rooms_list[0]["room"]["settings"]["max_members"] = 50
    typed(world, "/private on")
    assert world.api.called("update_room") == [
        (ROOM, None, None, {"public": False, "max_members": 50})
    ]
    assert world.notice() == "#general is now private: only those invited can join"
    assert "#general (private)" in title(world)
    assert lines(world)[-1] == "You made the room private (invitation only)"
    typed(world, "/limit off")
    assert world.api.called("update_room")[-1] == (
        ROOM,
        None,
        None,
        {"public": False, "max_members": None},
    )
    assert world.notice() == "#general now allows any number of members"
    typed(world, "/limit 10")
    assert world.api.called("update_room")[-1][3] == {"public": False, "max_members": 10}
    typed(world, "/private")
    assert lines(world)[-1] == "#general is private (invitation only), at most 10 members"
    typed(world, "/private off")
    assert world.api.called("update_room")[-1][3] == {"public": True, "max_members": 10}
    assert "(private)" not in title(world)


def test_someone_elses_change_is_shown_and_said(world: World) -> None:
    in_room(world)
    room = world.api.rooms_list[0]["room"]
    changed = {**room, "name": "lobby", "settings": {**room["settings"], "is_private": True}}
    event(world, {"type": "room_updated", "room": changed, "changed_by": BOB})
    assert lines(world)[-2:] == [
        "bob renamed the room to #lobby",
        "bob made the room private (invitation only)",
    ]
    assert title(world).startswith(" #lobby (private)")


def test_room_commands_need_a_room(world: World) -> None:
    world.login()
    typed(world, "/topic hello")
    typed(world, "/private on")
    assert world.notice() == "Open a room first (r)"
    assert world.api.called("update_room") == [] and world.api.called("room") == []


def test_delete_room_asks_for_its_name(world: World) -> None:
    in_room(world)
    form = opened(world, "/delete-room")
    assert isinstance(form, DeleteRoomOverlay)
    screen = " ".join(world.screen().replace("│", " ").split())
    assert "This deletes #general for good" in screen and "cannot be undone" in screen
    type_lines(world, "genera")
    assert world.api.called("delete_room") == []
    assert "Type the room's name, general, to confirm" in world.screen()
    type_lines(world, "#general")
    assert world.api.called("delete_room") == [(ROOM,)]
    assert world.app.ui.overlay is None
    assert world.state.current == ("home", "")
    assert ROOM not in world.state.rooms
    assert world.notice() == "You deleted #general"
    # The server's event after: nothing more, nothing fails.
    event(world, {"type": "room_deleted", "room_id": ROOM, "room_name": "general"})
    assert world.notice() == "You deleted #general"


def test_delete_room_cancelled_or_refused_keeps_it(world: World) -> None:
    in_room(world)
    opened(world, "/delete-room")
    world.app.ui.keypress(SIZE, "esc")
    assert world.app.ui.overlay is None and world.api.called("delete_room") == []
    world.api.fail["delete_room"] = DENIED
    form = opened(world, "/delete-room")
    type_lines(world, "general")
    assert world.app.ui.overlay is form and not form.busy
    assert world.notice() == "Room not deleted: Permission denied"
    assert "Room not deleted: Permission denied" in world.screen()
    assert world.state.current == ("room", ROOM) and ROOM in world.state.rooms


# -- administration ---------------------------------------------------------------------


def test_admin_stats(world: World) -> None:
    world.login()
    typed(world, "/admin stats")
    assert lines(world)[-1] == ("Server: 12 users, 4 online, 5 connections, 3 rooms, 870 messages")
    world.api.fail["admin_stats"] = DENIED
    typed(world, "/admin stats")
    assert world.notice() == "No server stats: Permission denied"


def test_ban_and_unban_by_name(world: World) -> None:
    world.login()
    typed(world, "/ban bob 2h spam links")
    assert world.api.called("ban_user") == [(BOB, "spam links", 2)]
    assert world.notice().startswith("bob is banned until 2025-01-22 ")
    assert world.notice().endswith(" (spam links)")
    typed(world, "/ban @Bob")
    assert world.api.called("ban_user")[-1] == (BOB, None, None)
    assert world.notice() == "bob is banned for good"
    typed(world, "/unban bob")
    assert world.api.called("unban_user") == [(BOB,)]
    assert world.notice() == "bob is no longer banned (they log in again)"


@pytest.mark.parametrize(
    ("refusal", "shown"),
    [
        (DENIED, "Could not ban bob: Permission denied"),
        (NO_ROUTE, "Could not ban bob: This server cannot ban users"),
    ],
)
def test_a_refused_ban_in_the_servers_words(world: World, refusal: ServerError, shown: str) -> None:
    world.login()
    world.api.fail["ban_user"] = refusal
    typed(world, "/ban bob 1d")
    assert world.notice() == shown


def test_an_unknown_name_bans_no_one(world: World) -> None:
    world.login()
    typed(world, "/ban nobody 2h")
    typed(world, "/unban nobody")
    assert world.notice() == "No user named 'nobody'"
    assert world.api.called("ban_user") == [] and world.api.called("unban_user") == []
    typed(world, "/ban bob 24 spam")
    assert world.notice() == c.BAN_USAGE and world.api.called("ban_user") == []


def test_delete_user_asks_the_admins_password_and_the_name(world: World) -> None:
    world.login()
    form = opened(world, "/delete-user bob")
    assert isinstance(form, DeleteUserOverlay)
    screen = " ".join(world.screen().replace("│", " ").split())
    assert "This deletes bob's account for good" in screen and "Your own password" in screen
    for key in "hunter22":
        world.app.ui.keypress(SIZE, key)
    assert "hunter22" not in world.screen()
    world.app.ui.keypress(SIZE, "enter")
    type_lines(world, "bobby")
    assert world.api.called("admin_delete_user") == []
    assert "Type the account's username, bob, to confirm" in world.screen()
    type_lines(world, "bob")
    assert world.api.called("admin_delete_user") == [(BOB, "hunter22")]
    assert world.app.ui.overlay is None
    assert world.notice() == "bob's account was deleted"
    assert [f.edit.edit_text for f in form.fields] == ["", ""]


@pytest.mark.parametrize(
    ("refusal", "shown"),
    [
        (
            ServerError("invalid_credentials", "Invalid credentials", status=401),
            "Invalid credentials",
        ),
        (DENIED, "Permission denied"),
        (NO_ROUTE, "This server cannot delete accounts"),
    ],
)
def test_a_refused_user_deletion_stays_in_the_form(
    world: World, refusal: ServerError, shown: str
) -> None:
    world.login()
    world.api.fail["admin_delete_user"] = refusal
    form = opened(world, "/delete-user bob")
    type_lines(world, "wrong", "bob")
    assert world.app.ui.overlay is form and not form.busy
    assert world.notice() == f"bob's account not deleted: {shown}"
    assert world.state.screen == "chat"


def test_delete_user_of_oneself_or_no_one_opens_nothing(world: World) -> None:
    world.login()
    typed(world, "/delete-user me")
    assert world.notice() == "That is you: /delete-account deletes your own account"
    typed(world, "/delete-user nobody")
    assert world.notice() == "No user named 'nobody'"
    assert world.app.ui.overlay is None


def test_admin_deletes_a_room_it_is_not_in(world: World) -> None:
    world.login()
    assert not world.state.rooms[ROOM].is_member
    form = opened(world, "/admin delete-room general")
    assert isinstance(form, DeleteRoomOverlay)
    type_lines(world, "general")
    assert world.api.called("admin_delete_room") == [(ROOM,)]
    assert world.api.called("delete_room") == []
    assert ROOM not in world.state.rooms
    assert world.notice() == "You deleted #general"


def test_admin_delete_room_of_an_unknown_room(world: World) -> None:
    world.login()
    typed(world, "/admin delete-room nowhere")
    assert world.api.called("room") == [("nowhere",)]
    assert world.notice() == "No room named 'nowhere' (a private one: its id)"
    assert world.app.ui.overlay is None


def test_admin_delete_room_refused(world: World) -> None:
    world.login()
    world.api.fail["admin_delete_room"] = DENIED
    opened(world, "/admin delete-room general")
    type_lines(world, "general")
    assert world.notice() == "Room not deleted: Permission denied"
    assert ROOM in world.state.rooms


# -- the requests on the wire -----------------------------------------------------------


def test_the_rest_requests() -> None:
    room = b'{"room":{"id":"r1","name":"dev","settings":{}}}'
    http, client = api(
        Response(200, room),
        Response(200, b'{"success":true}'),
        Response(200, b'{"stats":{"total_users":2}}'),
        Response(200, b'{"success":true,"expires_at":null}'),
        Response(200, b'{"success":true}'),
        Response(200, b'{"success":true}'),
        Response(200, b'{"success":true}'),
    )
    settings = {"public": False, "max_members": None}
    assert run(http.update_room("r1", settings=settings))["name"] == "dev"
    run(http.delete_room("r1"))
    assert run(http.admin_stats()) == {"total_users": 2}
    assert run(http.ban_user("u1"))["expires_at"] is None
    run(http.unban_user("u1"))
    run(http.admin_delete_user("u1", "pw"))
    run(http.admin_delete_room("r/1"))
    base = "http://chat.test:8082/api/v1"
    sent = [(method, url, kwargs.get("json")) for method, url, kwargs in client.requests]
    assert sent == [
        ("PATCH", f"{base}/rooms/r1", {"settings": {"public": False, "max_members": None}}),
        ("DELETE", f"{base}/rooms/r1", None),
        ("GET", f"{base}/admin/stats", None),
        ("POST", f"{base}/admin/users/u1/ban", {}),
        ("POST", f"{base}/admin/users/u1/unban", None),
        ("DELETE", f"{base}/admin/users/u1", {"password": "pw"}),
        ("DELETE", f"{base}/admin/rooms/r%2F1", None),
    ]


def test_a_ban_sends_what_was_given() -> None:
    http, client = api(Response(200, b'{"success":true,"expires_at":"2025-01-22T12:00:00Z"}'))
    run(http.ban_user("u1", "spam", 24))
    assert client.requests[0][2]["json"] == {"reason": "spam", "duration_hours": 24}
