"""Room invite codes in the terminal client (docs/CLIENT.md, "Invite codes"):
``/invite-code``, ``/invite-codes``, ``/revoke-code`` and ``/join-code`` over the REST
API (an in-memory fake): what they send, what the room shows, refusals in the
server's words, a server without invite codes, and bad syntax."""

from __future__ import annotations

import pytest

from lairchat.client import commands as c
from lairchat.client.net.errors import ServerError
from lairchat.client.ui.overlays import HelpOverlay
from tests.unit.test_client_app import ROOM, World
from tests.unit.test_client_roomadmin import DENIED, NO_ROUTE, event, in_room, lines, typed


@pytest.fixture
def world() -> World:
    return World()


@pytest.mark.parametrize(
    ("line", "action"),
    [
        ("/invite-code", c.MakeInviteCode()),
        ("/invite-code 5", c.MakeInviteCode(5)),
        ("/invite-code 5 24", c.MakeInviteCode(5, 24)),
        ("/invite-code - 24", c.MakeInviteCode(None, 24)),
        ("/invite-codes", c.ListInviteCodes()),
        ("/revoke-code Qx3v", c.RevokeInviteCode("Qx3v")),
        ("/join-code Qx3vN0p8l1Zs7d-YwV2a_g", c.JoinByInviteCode("Qx3vN0p8l1Zs7d-YwV2a_g")),
    ],
)
def test_commands_parse(line: str, action: c.Action) -> None:
    assert c.parse_input(line) == action


@pytest.mark.parametrize(
    ("line", "usage"),
    [
        ("/invite-code five", "Usage: /invite-code [USES] [HOURS]"),
        ("/invite-code 1 2 3", "Usage: /invite-code [USES] [HOURS]"),
        ("/invite-code -1", "Usage: /invite-code [USES] [HOURS]"),
        ("/revoke-code", "Usage: /revoke-code ID"),
        ("/join-code", "Usage: /join-code CODE"),
    ],
)
def test_bad_syntax_says_the_usage(line: str, usage: str) -> None:
    refused = c.parse_input(line)
    assert isinstance(refused, c.CommandError)
    assert refused.message.startswith(usage)


def test_a_code_is_made_shown_once_listed_and_revoked_by_prefix(world: World) -> None:
    in_room(world)
    typed(world, "/invite-code 5 24")
    assert world.api.called("create_invite_code") == [(ROOM, 5, 24)]
    shown = lines(world)[-1]
    assert shown.startswith("Invite code for #general: Qx3vN0p8l1Zs7d-YwV2a_g (used 0 of 5")
    typed(world, "/invite-codes")
    assert lines(world)[-2] == "Invite codes of #general, newest first:"
    assert lines(world)[-1].startswith("  Qx3v… (id c-1) by me, used 0 of 5, until 2026-12-")
    assert "Qx3vN0p8l1Zs7d" not in lines(world)[-1]  # a listing never has the code
    typed(world, "/revoke-code Qx3v…")
    assert world.api.called("revoke_invite_code") == [(ROOM, "c-1")]
    assert world.notice() == "Invite code revoked"
    typed(world, "/invite-codes")
    assert lines(world)[-1] == "#general has no live invite codes (/invite-code)"


def test_a_prefix_that_names_no_single_code_is_refused_here(world: World) -> None:
    in_room(world)
    typed(world, "/revoke-code Zz")
    assert world.notice() == "no live code starts with 'Zz': give its id (/invite-codes)"
    typed(world, "/invite-code")
    typed(world, "/invite-code")
    typed(world, "/revoke-code Qx")
    assert world.notice().startswith("more than one code starts with 'Qx'")
    assert world.api.called("revoke_invite_code") == []
    typed(world, "/revoke-code 00000000-0000-4000-8000-000000000000")
    assert world.api.called("revoke_invite_code") == [
        (ROOM, "00000000-0000-4000-8000-000000000000")
    ]


def test_joining_with_a_code_opens_the_room(world: World) -> None:
    world.api.invite_code_rooms["Qx3vN0p8l1Zs7d-YwV2a_g"] = ("r-den", "den")
    world.login()
    typed(world, "/join-code Qx3vN0p8l1Zs7d-YwV2a_g")
    assert world.api.called("join_by_invite_code") == [("Qx3vN0p8l1Zs7d-YwV2a_g",)]
    assert world.state.current == ("room", "r-den")
    assert lines(world)[-1] == "You joined #den with an invite code"


@pytest.mark.parametrize(
    ("method", "line", "refusal", "shown"),
    [
        ("create_invite_code", "/invite-code", DENIED, "No invite code made: Permission denied"),
        (
            "join_by_invite_code",
            "/join-code nope",
            ServerError("invite_code_not_found", "Invite code not found", status=404),
            "Could not join with that code: Invite code not found",
        ),
        (
            "invite_codes",
            "/invite-codes",
            NO_ROUTE,
            "Could not list the invite codes: This server cannot use invite codes",
        ),
    ],
)
def test_refusals_in_the_servers_words(
    world: World, method: str, line: str, refusal: ServerError, shown: str
) -> None:
    in_room(world)
    world.api.fail[method] = refusal
    typed(world, line)
    assert world.notice() == shown


def test_help_offers_them(world: World) -> None:
    world.login()
    world.app.dispatch(c.ShowHelp())
    assert isinstance(world.app.ui.overlay, HelpOverlay)
    shown = [w.text for w in world.app.ui.overlay.walker]
    for command in ("/invite-code", "/invite-codes", "/revoke-code ID", "/join-code CODE"):
        assert any(command in line for line in shown), command


# -- lairchat's own events ----------------------------------------------------------------

LISTED = {
    "id": "c0de0000-0000-4000-8000-000000000001",
    "room_id": ROOM,
    "prefix": "Qx3v",
    "max_uses": 2,
    "uses": 0,
    "created_by": "u-bob",
    "created_by_name": "bob",
    "created_at": "2026-12-07T08:00:00Z",
    "expires_at": "2026-12-14T08:00:00Z",
}


def test_the_rooms_code_events_are_lines_in_the_room(world: World) -> None:
    """Another moderator's code made, a join using it (then using it up), a code
    revoked or gone with its maker's kick: each a line in the room, at once."""
    in_room(world)
    owner = world.state.me.id
    event(world, {"type": "invite_code_created", "room_id": ROOM, "invite_code": LISTED})
    event(
        world, {"type": "invite_code_used", "room_id": ROOM, "invite_code": {**LISTED, "uses": 1}}
    )
    event(
        world, {"type": "invite_code_used", "room_id": ROOM, "invite_code": {**LISTED, "uses": 2}}
    )
    revoked = {"type": "invite_code_revoked", "room_id": ROOM, "code_id": "c1", "revoked_by": owner}
    event(world, {**revoked, "reason": "revoked"})
    event(world, {**revoked, "reason": "kicked"})
    said = lines(world)[-5:]
    assert said[0].startswith(f"New invite code: Qx3v… (id {LISTED['id']}) by bob, used 0 of 2")
    assert said[1].startswith("Invite code used: Qx3v… (id") and "used 1 of 2" in said[1]
    assert said[2] == "Invite code Qx3v… used up (2 of 2)"
    me = world.state.me.username
    assert said[3] == f"Invite code c1 revoked by {me}"
    assert said[4] == f"Invite code c1 revoked (its maker was removed from the room by {me})"


def test_a_system_role_changed_is_said(world: World) -> None:
    in_room(world)
    user = {"id": world.state.me.id, "username": world.state.me.username}
    event(world, {"type": "system_role_changed", "user": {**user, "role": "admin"}})
    event(world, {"type": "system_role_changed", "user": {**user, "role": "user"}})
    assert lines(world)[-2:] == [
        "You are now an admin of this server: /admin and /ban work for you",
        "Your role on this server is now user: the admin commands are refused",
    ]
