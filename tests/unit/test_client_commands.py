"""Slash commands and normal-mode keys to actions (lairchat/client/commands.py)."""

from __future__ import annotations

import pytest

from lairchat.client import commands as c


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("hello", c.SendMessage("hello")),
        ("  spaced  ", c.SendMessage("  spaced  ")),
        ("//shrug", c.SendMessage("/shrug")),
        ("/quit", c.Quit()),
        ("/q", c.Quit()),
        ("/exit", c.Quit()),
        ("/help", c.ShowHelp()),
        ("/?", c.ShowHelp()),
        ("/rooms", c.ShowRooms()),
        ("/create General Chat", c.CreateRoom("General Chat")),
        ("/create --private secret", c.CreateRoom("secret", private=True)),
        ("/create secret -p", c.CreateRoom("secret", private=True)),
        ("/join general", c.JoinRoom("general")),
        ("/join #general", c.JoinRoom("general")),
        ("/JOIN general", c.JoinRoom("general")),
        ("/leave", c.LeaveRoom()),
        ("/dm bob", c.StartDM("bob")),
        ("/msg @bob", c.StartDM("bob")),
        ("/w bob", c.StartDM("bob")),
        ("/invite carol", c.Invite("carol")),
        ("/invites", c.ShowInvitations()),
        ("/members", c.ShowMembers()),
        ("/kick bob", c.Kick("bob")),
        ("/role bob moderator", c.SetRole("bob", "moderator")),
        ("/role bob MOD", c.SetRole("bob", "moderator")),
        ("/role bob owner", c.SetRole("bob", "owner")),
        ("/promote bob", c.SetRole("bob", "moderator")),
        ("/demote bob", c.SetRole("bob", "member")),
        ("/password", c.ShowPasswordForm()),
        # Passwords typed on the line are not taken: the form asks for them, masked.
        ("/passwd hunter2 hunter3", c.ShowPasswordForm()),
        ("/sessions", c.ShowSessions()),
        ("/pending", c.ShowRoomInvitations()),
        ("/edit fixed text", c.EditLast("fixed text")),
        ("/delete", c.DeleteLast()),
        ("/reconnect", c.Reconnect()),
    ],
)
def test_input_line(text: str, action: c.Action) -> None:
    assert c.parse_input(text) == action


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_blank_input_does_nothing(text: str) -> None:
    assert c.parse_input(text) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/create", "Usage: /create [--private] NAME"),
        ("/create --private", "Usage: /create [--private] NAME"),
        ("/join", "Usage: /join NAME|ID"),
        ("/dm", "Usage: /dm USER"),
        ("/invite", "Usage: /invite USER"),
        ("/kick", "Usage: /kick USER"),
        ("/role bob", "Usage: /role USER owner|moderator|member"),
        ("/role bob king", "Usage: /role USER owner|moderator|member"),
        ("/edit", "Usage: /edit TEXT"),
        ("/frobnicate", "Unknown command /frobnicate (see /help)"),
    ],
)
def test_bad_commands_explain_themselves(text: str, message: str) -> None:
    assert c.parse_input(text) == c.CommandError(message)


@pytest.mark.parametrize(
    ("key", "action"),
    [
        ("i", c.EnterInsert()),
        ("enter", c.EnterInsert()),
        ("/", c.EnterInsert("/")),
        ("q", c.Quit(confirm=True)),
        ("r", c.ShowRooms()),
        ("R", c.Reconnect()),
        ("I", c.ShowInvitations()),
        ("m", c.ShowMembers()),
        ("?", c.ShowHelp()),
        ("f1", c.ShowHelp()),
        ("tab", c.ToggleFocus()),
        ("j", c.Scroll("down")),
        ("k", c.Scroll("up")),
        ("down", c.Scroll("down")),
        ("up", c.Scroll("up")),
        ("G", c.Scroll("bottom")),
        ("g", c.Scroll("top")),
        ("page up", c.Scroll("page_up")),
        ("e", c.EditPrompt()),
        ("esc", c.ClearNotices()),
        ("x", c.TYPE_HINT),  # a letter no key takes says how to type
        ("ctrl x", None),
    ],
)
def test_normal_mode_keys(key: str, action: c.Action | None) -> None:
    assert c.normal_key(key) == action


@pytest.mark.parametrize(
    ("key", "action"),
    [
        ("j", c.PanelMove(1)),
        ("k", c.PanelMove(-1)),
        ("enter", c.PanelOpen()),
        ("i", c.PanelInvite()),
        ("tab", c.ToggleFocus()),
        ("esc", c.ToggleFocus()),
        ("q", c.Quit(confirm=True)),
        ("g", None),
    ],
)
def test_people_panel_keys(key: str, action: c.Action | None) -> None:
    assert c.panel_key(key) == action


def test_every_listed_command_parses() -> None:
    samples = {
        "NAME": "x",
        "NAME|ID": "x",
        "USER": "bob",
        "USER ROLE": "bob member",
        "TEXT": "t",
        "EMOJI": "👍",
        "[N]": "2",
        "USER [DURATION] [REASON]": "bob 2h spam",
        "from:NAME since:DAY until:DAY": "from:bob since:2026-01-01 until:2026-01-31",
        "PATH": "~/lairchat-data.json",
        "CODE": "123456",
        "ID": "Qx3v",
        "[USES] [HOURS]": "5 24",
    }
    for name, args, _ in c.COMMANDS:
        line = f"{name} {samples.get(args, '')}".strip()
        assert isinstance(c.parse_input(line), c.Action), line


def test_palette_filter_is_fuzzy_and_ranked() -> None:
    names = [name for name, _, _ in c.fuzzy_filter("inv", c.PALETTE)]
    assert names[0] == "Invitations"
    assert [n for n, _, _ in c.fuzzy_filter("recon", c.PALETTE)] == ["Reconnect"]
    assert c.fuzzy_filter("zzz", c.PALETTE) == []
    assert c.fuzzy_filter("", c.PALETTE) == c.PALETTE
    assert c.fuzzy_filter("sessions", c.PALETTE)[0][2] == c.ShowSessions()
    assert c.fuzzy_filter("room invit", c.PALETTE)[0][2] == c.ShowRoomInvitations()
    assert c.normal_key("y") == c.CopyLast()


def test_password_actions_do_not_show_the_passwords() -> None:
    """A failed action is logged with its ``repr``: no password may be in it."""
    for action in (
        c.ChangePassword("old-secret", "new-secret"),
        c.Login("h:1", "me", "old-secret"),
        c.Register("h:1", "me", "me@example.com", "old-secret"),
    ):
        assert "secret" not in repr(action)
