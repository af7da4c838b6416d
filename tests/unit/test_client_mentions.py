"""Mentions in the terminal client (lairchat/domain/mentions.py, bell.py): the rule,
the highlight, the badges and the status bar, and the bell, which rings only for live
messages and at most once per ``BELL_GAP`` (time is a ``task.Clock``)."""

from __future__ import annotations

import re
import sys
from typing import Any

import pytest
import urwid
from twisted.internet import task

from lairchat.client import commands as c
from lairchat.client.bell import BELL_GAP, Bell
from lairchat.client.config import ClientConfig, parse_args
from lairchat.client.state import ClientState, PanelRow, panel_rows
from lairchat.client.testing import FakeClock, message, room, user
from lairchat.client.ui.messages import Hanging, message_markup
from lairchat.client.ui.people import row_markup
from lairchat.client.ui.rooms import room_markup
from lairchat.client.ui.statusbar import mentions_text
from lairchat.client.ui.theme import MENTION_MARK, PALETTE
from lairchat.domain.alphabetic import OTHER_ALPHABETIC
from lairchat.domain.mentions import mentions
from lairchat.domain.validation import CONTENT_MAX, USERNAME_CHAR
from tests.unit.test_client_app import BOB, ME, ROOM, World

OTHER = "r-other"


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        ("hi @alice", "alice", True),
        ("@alice", "alice", True),
        ("@ALICE, look", "alice", True),  # another case
        ("@alice!", "alice", True),  # punctuation after
        ("(@alice)", "alice", True),
        ("@alice-bob", "alice", True),  # '-' is not in a username (validation.py)
        ("@alicebob", "alice", False),  # a longer name that starts with it
        ("@alice_2", "alice", False),  # '_' and digits are a name's characters
        ("@al", "alice", False),
        ("alice", "alice", False),  # no @
        ("a@alice.com", "alice", False),  # an address
        ("_@alice", "alice", False),
        ("@ÉMILE hi", "Émile", True),  # Unicode, case-folded
        ("@émile", "ÉMILE", True),
        ("@E\u0301mile", "Émile", True),  # decomposed é: NFKC composes it
        ("\uff20\uff45\uff4d\uff49\uff4c\uff45", "emile", True),  # fullwidth: NFKC
        ("@émilee", "Émile", False),
        ("@Émile\u0301", "Émile", False),  # é at the end: another name
        ("@straße", "STRASSE", True),  # casefold, not lower
        ("@राहुल ji", "राहुल", True),  # vowel signs are a name's letters
        ("@राहु", "राहुल", False),
        ("mail x@alice and @alice", "alice", True),  # the second one counts
    ],
)
def test_the_mention_rule(content: str, name: str, expected: bool) -> None:
    assert mentions(content, name) is expected


def test_only_as_much_text_as_lairchat_accepts_is_looked_at() -> None:
    """A megabyte of ``@alicex`` from a hostile server was compared name by name, a
    second a message; a message lairchat relays (4096 bytes at most) is read whole."""
    assert mentions("x" * (CONTENT_MAX - 7) + " @alice", "alice") is True
    assert mentions("@alicex " * 200_000 + "@alice", "alice") is False


def test_the_username_alphabet_is_the_one_validation_checked() -> None:
    """``USERNAME_CHAR`` replaced check_username's per-character test: every code
    point must be a name's character under both, or under neither."""
    pattern = re.compile(USERNAME_CHAR)
    differ = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if (pattern.fullmatch(chr(code)) is not None)
        != (chr(code).isalnum() or chr(code) == "_" or chr(code) in OTHER_ALPHABETIC)
    ]
    assert differ == []


# -- the model ----------------------------------------------------------------------------


def _state() -> ClientState:
    state = ClientState(FakeClock())
    state.logged_in(user(ME, "me"))
    state.add_user(user(BOB, "bob"))
    state.add_room(room(ROOM, "general"), is_member=True)
    state.add_room(room(OTHER, "other"), is_member=True)
    state.open(("room", OTHER))
    return state


def test_your_own_message_never_mentions_you() -> None:
    state = _state()
    state.receive_message(message("m1", ME, "note to @me", room_id=ROOM))
    conv = state.conversations[("room", ROOM)]
    assert conv.messages[-1].mention is False
    assert (conv.mentions, state.alerts) == (0, 0)


def test_a_live_mention_elsewhere_is_counted_told_and_cleared_when_read() -> None:
    state = _state()
    state.receive_message(message("m1", BOB, "hey @Me, look", room_id=ROOM), "bob")
    state.receive_message(message("m2", BOB, "not you", room_id=ROOM), "bob")
    conv = state.conversations[("room", ROOM)]
    assert [m.mention for m in conv.messages] == [True, False]
    assert (conv.unread, conv.mentions, state.alerts) == (2, 1, 1)
    assert state.latest_notice().text == "bob mentioned you in #general"
    assert mentions_text(state) == "@ 1 mention in #general"
    state.open(("room", ROOM))
    assert (conv.unread, conv.mentions) == (0, 0)
    assert mentions_text(state) == ""


def test_a_mention_in_the_conversation_shown_is_highlighted_only() -> None:
    state = _state()
    state.receive_message(message("m1", BOB, "@me here", room_id=OTHER), "bob")
    conv = state.conversations[("room", OTHER)]
    assert conv.messages[-1].mention is True
    assert (conv.unread, conv.mentions, state.alerts) == (0, 0, 0)


def test_history_is_highlighted_but_neither_counted_nor_rung() -> None:
    """A page of history (opening a conversation, catching up after a reconnection)
    holds mentions read or not: they are drawn highlighted, never alerts."""
    state = _state()
    page = [message(f"h{i}", BOB, f"@me #{i}", room_id=ROOM) for i in range(30)]
    state.apply_history(("room", ROOM), page, False)
    conv = state.conversations[("room", ROOM)]
    assert all(m.mention for m in conv.messages)
    assert (conv.mentions, state.alerts) == (0, 0)


def test_an_edit_that_adds_or_removes_a_mention_changes_the_highlight() -> None:
    state = _state()
    state.receive_message(message("m1", BOB, "hello", room_id=OTHER), "bob")
    edited = message("m1", BOB, "hello @me", room_id=OTHER)
    state.edit_message(edited)
    msg = state.conversations[("room", OTHER)].messages[-1]
    assert msg.mention is True
    state.edit_message(message("m1", BOB, "hello all", room_id=OTHER))
    assert msg.mention is False
    assert state.alerts == 0


def test_a_dm_elsewhere_alerts_and_mentions_show_across_conversations() -> None:
    state = _state()
    state.receive_message(message("d1", BOB, "psst @me", to=ME), "bob")
    state.receive_message(message("m1", BOB, "@me!", room_id=ROOM), "bob")
    state.receive_message(message("m2", BOB, "@me?", room_id=ROOM), "bob")
    assert state.alerts == 3
    assert mentions_text(state) == "@ 3 mentions in 2 conversations"
    bob = next(r for r in panel_rows(state) if r.user_id == BOB)
    assert (bob.unread, bob.mentions) == (1, 1)


# -- what is drawn ------------------------------------------------------------------------


def _drawn(msg_content: str) -> urwid.Canvas:
    state = _state()
    state.receive_message(message("m1", BOB, msg_content, room_id=OTHER), "bob")
    msg = state.conversations[("room", OTHER)].messages[-1]
    return Hanging(*message_markup(msg, False, state.now_dt())).render((60,))


def test_a_mention_is_marked_and_bold_without_colours() -> None:
    canvas = _drawn("@me look")
    row = canvas.text[0].decode()
    assert f"{MENTION_MARK}bob: @me look" in row  # in place of the space after the time
    attrs = [(attr, text.decode()) for attr, _, text in next(canvas.content())]
    assert ("mention_mark", MENTION_MARK) in attrs
    assert ("mention", "@me look") in attrs
    assert MENTION_MARK not in _drawn("nothing for you").text[0].decode()
    entries = {entry[0]: entry for entry in PALETTE}
    assert entries["mention"][3] == "bold"  # the monochrome setting
    assert entries["mention_mark"][3] == "bold"


def test_a_highlighted_mention_stays_safe_text() -> None:
    canvas = _drawn("@me \x1b]2;pwned\x07\x1b[2J \u202eevil")
    drawn = b"".join(canvas.text).decode()
    assert "\x1b" not in drawn and "\x07" not in drawn and "\u202e" not in drawn
    assert "␛]2;pwned" in drawn


def test_the_lists_mark_conversations_with_unread_mentions() -> None:
    state = _state()
    state.receive_message(message("m1", BOB, "@me", room_id=ROOM), "bob")
    state.receive_message(message("m2", BOB, "more", room_id=ROOM), "bob")
    assert room_markup(state, state.rooms[ROOM], False)[1] == ("unread", "  2 new @")
    assert room_markup(state, state.rooms[ROOM], True)[1].endswith("  2 new @")
    state.open(("room", ROOM))
    assert room_markup(state, state.rooms[ROOM], False)[1] == ("unread", "")
    row = PanelRow("user", "bob", BOB, online=True, unread=3, mentions=1)
    assert row_markup(row, False)[-1] == ("unread", " (3 @)")
    row.mentions = 0
    assert row_markup(row, False)[-1] == ("unread", " (3)")


# -- the bell -----------------------------------------------------------------------------


def test_the_bell_rings_at_most_once_per_gap() -> None:
    clock = task.Clock()
    rung: list[float] = []
    bell = Bell(clock.seconds, lambda: rung.append(clock.seconds()))
    assert bell.ring() is True
    clock.advance(BELL_GAP - 0.1)
    assert bell.ring() is False
    clock.advance(0.1)
    assert bell.ring() is True
    bell.enabled = False
    clock.advance(BELL_GAP * 2)
    assert bell.ring() is False
    assert rung == [0.0, BELL_GAP]


class _Screen:
    def __init__(self) -> None:
        self.written: list[str] = []

    def write(self, data: str) -> None:
        self.written.append(data)

    def flush(self) -> None:
        pass


class _Loop:
    """urwid's main loop as the controller uses it: a screen to write to, a draw."""

    def __init__(self) -> None:
        self.screen = _Screen()

    def draw_screen(self) -> None:
        pass


def _bell_world(config: ClientConfig | None = None) -> tuple[World, _Screen]:
    world = World(config)
    world.api.rooms_list.append({"room": room(OTHER, "other"), "member_count": 1})
    world.login()
    world.app.dispatch(c.JoinRoom("general"))
    loop = _Loop()
    world.app.loop = loop
    return world, loop.screen


def _live(world: World, mid: str, content: str, **target: Any) -> None:
    world.opener.handlers.frame_received(
        {
            "type": "message_received",
            "message": message(mid, BOB, content, **target),
            "author_username": "bob",
        }
    )
    world.clock.advance(0)  # the redraw


def test_live_mentions_and_dms_elsewhere_ring_the_terminal_bell() -> None:
    world, screen = _bell_world()
    _live(world, "m1", "@me in the room shown", room_id=ROOM)
    _live(world, "m2", "nothing for you", room_id=OTHER)
    assert screen.written == []
    _live(world, "m3", "@me over here", room_id=OTHER)
    assert screen.written == ["\a"]
    _live(world, "d1", "psst", to=ME)  # within the gap: left out
    assert screen.written == ["\a"]
    world.clock.advance(BELL_GAP)
    _live(world, "d2", "psst again", to=ME)
    assert screen.written == ["\a", "\a"]
    assert "@ 1 mention in #other" in world.screen()


def test_catching_up_after_a_reconnection_rings_nothing() -> None:
    """The newest page of the conversation shown, fetched again after a
    reconnection, is full of mentions: drawn highlighted, no bell."""
    world, screen = _bell_world()
    world.opener.handlers.channel_closed("connection lost")
    world.api.history_pages[("room", ROOM, None)] = (
        [message(f"h{i}", BOB, f"@me {i}", room_id=ROOM) for i in range(20)],
        False,
    )
    world.clock.advance(1.5)
    world.opener.accept()
    world.clock.advance(0)
    assert world.state.connection.state == "online"
    assert sum(m.mention for m in world.state.conversations[("room", ROOM)].messages) == 20
    assert screen.written == []


def test_the_bell_can_be_switched_off() -> None:
    world, screen = _bell_world(ClientConfig(bell=False))
    _live(world, "m1", "@me", room_id=OTHER)
    assert screen.written == []
    world.app.dispatch(c.parse_input("/bell on"))
    assert world.notice().startswith("Bell on: it rings for mentions and direct messages")
    _live(world, "m2", "@me", room_id=OTHER)
    assert screen.written == ["\a"]
    world.app.dispatch(c.parse_input("/bell off"))
    assert world.notice().startswith("Bell off")
    world.clock.advance(BELL_GAP)
    _live(world, "m3", "@me", room_id=OTHER)
    assert screen.written == ["\a"]


def test_the_bell_setting_from_the_command_line() -> None:
    assert parse_args(["--log-file", "/dev/null"]).bell is True
    assert parse_args(["--no-bell", "--log-file", "/dev/null"]).bell is False
    assert c.parse_input("/bell") == c.SetBell(None)
    assert c.parse_input("/bell OFF") == c.SetBell(False)
    assert c.parse_input("/bell loud") == c.CommandError("Usage: /bell on|off")


def test_a_mention_deleted_or_edited_away_is_no_longer_counted() -> None:
    """Found comparing the clients: the browser takes a deleted mention, or one edited
    to name you no more, off its count; the terminal kept counting it, so a mention
    made and deleted at once left '@ 1 mention in #general' pointing at nothing. Also
    when the line was trimmed from a conversation not shown."""
    state = _state()
    for i in range(3):
        state.receive_message(message(f"m{i}", BOB, f"@me #{i}", room_id=ROOM), "bob")
    conv = state.conversations[("room", ROOM)]
    assert conv.mentions == 3
    assert state.delete_message("m0")
    assert conv.mentions == 2
    state.edit_message(message("m1", BOB, "never mind", room_id=ROOM))
    assert conv.mentions == 1
    state.edit_message(message("m2", BOB, "still @me", room_id=ROOM))
    assert mentions_text(state) == "@ 1 mention in #general"
    conv.messages.clear()  # trimmed: only its count is left
    assert state.delete_message("m2")
    assert (conv.mentions, mentions_text(state)) == (0, "")
