"""The terminal client as a new user meets it: keys typed where the client does not
expect them, the first steps after logging in."""

from __future__ import annotations

import pytest
from twisted.internet import defer

from lairchat.client import commands as c
from lairchat.client import state as state_module
from lairchat.client.__main__ import terminal_screen
from lairchat.client.conversations import STILL_SENDING
from lairchat.client.net.errors import ServerError
from lairchat.client.state import ClientState, PanelRow
from lairchat.client.testing import message, room
from lairchat.client.ui import people as people_module
from lairchat.client.ui import safetext
from tests.unit.test_client_app import BOB, ME, ROOM, World
from tests.unit.test_client_net import Response, api, run

SIZE = (110, 24)


def type_keys(world: World, keys: str | list[str]) -> None:
    for key in keys:
        world.app.ui.keypress(SIZE, key)


def test_a_room_picked_from_the_list_takes_what_is_typed_next() -> None:
    """Picking a room and typing used to run the words as normal-mode keys: "great,
    I am ready" scrolled (g), opened the room list (r) and the invitations (I)."""
    world = World()
    world.login()
    world.app.dispatch(c.ShowRooms())
    type_keys(world, ["enter"])
    assert world.state.current == ("room", ROOM)
    type_keys(world, "great, I am ready")
    assert world.app.ui.overlay is None
    assert world.state.screen == "chat"
    assert world.app.ui.chat.edit.edit_text == "great, I am ready"
    type_keys(world, ["enter"])
    assert world.app.link is not None
    assert world.opener.channel is not None
    sent = world.opener.channel.last("send_message")
    assert sent["content"] == "great, I am ready"


def test_a_dm_opened_from_the_people_panel_takes_what_is_typed_next() -> None:
    world = World()
    world.login()
    type_keys(world, ["tab", "j", "enter"])
    assert world.state.current == ("dm", BOB)
    type_keys(world, "rather")
    assert world.app.ui.chat.edit.edit_text == "rather"


def test_letters_typed_in_normal_mode_say_how_to_type() -> None:
    """In normal mode a letter no key takes vanished without a word: someone typing
    a message there saw nothing happen. It now says how to type; keys that mean
    something keep their meaning."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    type_keys(world, ["esc", "h"])
    assert world.app.ui.chat.mode == "normal"
    assert world.notice() == "Normal mode: press i or Enter to type a message (? lists the keys)"
    assert "press i or Enter to type" in world.screen()
    assert c.normal_key("j") == c.Scroll("down")
    assert c.normal_key("ctrl x") is None  # not a letter: left to the screen


def test_an_html_page_instead_of_the_api_says_to_check_the_url() -> None:
    """Found in tmux with --http-url aimed at a plain web server: the login box
    showed "Login failed: HTTP 501: <!DOCTYPE HTML>" and the page's markup, row
    after row, pushing its own keys off the box."""
    page = b'<!DOCTYPE HTML>\n<html lang="en">\n<head><title>Error response</title></head>'
    http, _ = api(Response(501, page), Response(404, b""))
    error = run(http.login("alice", "pw")).value
    assert error.code == "http_501"
    assert error.describe() == (
        "HTTP 501 from http://chat.test:8082, which does not answer as the lairchat API "
        "does (is that the server's REST URL? see --http-url)"
    )
    assert "which does not answer" in run(http.login("alice", "pw")).value.describe()


def test_a_long_refusal_leaves_the_login_box_its_keys() -> None:
    """A refusal of thousands of characters filled the login box and pushed its
    own keys ("Tab/Enter: next field · F1: Register · Esc: quit") off the screen."""
    world = World()
    world.state.notify("Login failed: " + "no " * 2000, "error")
    world.app.refresh()
    screen = world.screen()
    assert "Tab/Enter: next field · F1: Register · Esc: quit" in screen
    assert "no …" in screen  # cut, with a mark that it was


def test_esc_in_the_registration_form_goes_back_to_logging_in() -> None:
    """Esc in the registration form quit the program, with what was typed: in every
    other form of the client Esc goes back, and a new user trying it lost the form."""
    world = World()
    type_keys(world, ["f1"])
    assert "Register - new account" in world.screen()
    assert "F1/Esc: back to Login" in world.screen()
    type_keys(world, "newbie")
    type_keys(world, ["esc"])
    assert not world.exited
    assert world.app.ui.login.registering is False
    assert "Username  newbie" in world.screen()
    type_keys(world, ["esc"])  # on the login form, Esc still quits
    world.clock.advance(3)
    assert world.exited


def test_esc_and_a_key_typed_at_once_are_both_taken() -> None:
    """Esc followed at once by a key (a vim user's Esc k) arrives as one "meta k":
    it was dropped, leaving insert mode on and the key lost."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    chat = world.app.ui.chat
    assert chat.mode == "insert"
    type_keys(world, ["meta r"])
    assert chat.mode == "normal"
    assert world.state.screen == "rooms"


def test_esc_and_a_key_at_once_in_normal_mode_are_both_taken() -> None:
    """The same in normal mode: Esc (clear the notices) then the key."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    type_keys(world, ["esc"])
    world.state.notify("something to clear")
    type_keys(world, ["meta I"])
    assert world.notice() == ""
    assert world.app.ui.overlay is not None  # the invitations


def _in_room_with_my_message(world: World) -> None:
    world.api.history_pages[("room", ROOM, None)] = (
        [message("m1", ME, "that was great", room_id=ROOM)],
        False,
    )
    world.app.dispatch(c.JoinRoom(ROOM))


def test_a_word_starting_with_e_typed_in_normal_mode_is_not_an_edit() -> None:
    """The hostile review's worst finding: after Esc, "excellent" and Enter rewrote
    the last message to "that was greatxcellent" (``e`` put ``/edit <it>`` in the
    field, the rest of the word went after it). Letters typed at once after ``e``
    are now the word, in the message field, and Enter sends it as a message."""
    world = World()
    channel = world.login()
    _in_room_with_my_message(world)
    type_keys(world, ["esc"])
    type_keys(world, "excellent")
    chat = world.app.ui.chat
    assert (chat.mode, chat.editing, chat.edit.edit_text) == ("insert", None, "excellent")
    assert world.notice() == "Taken as typing, not an edit: to edit your message, press e and pause"
    type_keys(world, ["enter"])
    assert not [m for m in channel.sent if m["type"] == "edit_message"]
    assert channel.last("send_message")["content"] == "excellent"


def test_an_edit_saves_the_message_picked_even_if_a_newer_one_came() -> None:
    """``e``, then a message of yours sent from another client arrives: Enter edited
    whichever was newest at that moment, not the one shown in the field."""
    world = World()
    channel = world.login()
    _in_room_with_my_message(world)
    type_keys(world, ["esc", "e"])
    world.clock.advance(2)
    type_keys(world, ["backspace"] * 5 + list("fine"))
    world.app.link_event(
        {"type": "message_received", "message": message("m2", ME, "from my phone", room_id=ROOM)}
    )
    type_keys(world, ["enter"])
    sent = channel.last("edit_message")
    assert (sent["message_id"], sent["content"]) == ("m1", "that was fine")


def test_an_edit_of_a_message_deleted_meanwhile_says_so() -> None:
    world = World()
    channel = world.login()
    _in_room_with_my_message(world)
    type_keys(world, ["esc", "e"])
    world.clock.advance(2)
    type_keys(world, ["backspace"] * 5 + list("fine"))
    world.app.link_event({"type": "message_deleted", "message_id": "m1"})
    type_keys(world, ["enter"])
    assert not [m for m in channel.sent if m["type"] == "edit_message"]
    assert world.notice() == "That message is gone (deleted meanwhile): nothing was changed"


def test_typing_into_the_message_field_leaves_the_rest_of_the_screen_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each key typed laid the whole screen out again (the people panel's rows for
    every user known, the title, the status bar), so a paste of 20,000 characters,
    a key each, took seconds on top of marking the field. A character typed into the
    field now changes the field alone; other keys still update the screen."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    rows: list[int] = []
    real = state_module.panel_rows

    def counting(state: ClientState) -> list[PanelRow]:
        rows.append(1)
        return real(state)

    monkeypatch.setattr(people_module, "panel_rows", counting)
    type_keys(world, "x" * 2000)
    assert rows == []
    assert world.app.ui.chat.edit.edit_text == "x" * 2000
    type_keys(world, ["esc"])
    assert rows == [1]
    assert "i: type · r: rooms" in world.screen()


def test_keys_typed_while_a_room_from_the_list_opens_wait_for_its_message_line() -> None:
    """Enter in the room list, then typing at once while the server is slow to
    answer: the keys acted on the list ("great, I can" scrolled, opened the
    invitations and the new-room prompt; Enter joined whichever room was selected
    then). They now go to the message line of the room about to open."""
    world = World()
    world.login()
    world.api.rooms_list.append(
        {"room": room("r-other", "other"), "member_count": 1, "is_member": False}
    )
    world.app.dispatch(c.ShowRooms())
    gate: defer.Deferred[None] = defer.Deferred()
    world.api.gates["join_room"] = gate
    type_keys(world, ["enter"])
    assert world.state.opening == "#general"
    type_keys(world, ["down", "enter"])
    type_keys(world, "great, I can")
    assert world.app.ui.overlay is None
    assert not world.app.ui.rooms.creating
    assert world.api.called("join_room") == [(ROOM,)]
    screen = world.screen()
    assert "Opening #general… what you type goes to its message line: great, I can" in screen
    gate.callback(None)
    assert world.state.current == ("room", ROOM)
    assert world.state.screen == "chat"
    chat = world.app.ui.chat
    assert (chat.mode, chat.edit.edit_text) == ("insert", "great, I can")
    assert "Opening" not in world.screen()


def test_a_room_that_fails_to_open_gives_the_list_its_keys_back() -> None:
    world = World()
    world.login()
    world.app.dispatch(c.ShowRooms())
    gate: defer.Deferred[None] = defer.Deferred()
    world.api.gates["join_room"] = gate
    world.api.fail["join_room"] = ServerError("room_full", "Room is full", status=409)
    type_keys(world, ["enter"])
    type_keys(world, "hi")
    gate.callback(None)
    assert world.state.opening is None
    assert world.notice() == "Could not join: Room is full"
    assert "Enter: join · c: create" in world.screen()
    type_keys(world, ["c"])
    assert world.app.ui.rooms.creating  # the list's keys again
    assert world.app.ui.chat.edit.edit_text == "hi"  # kept as a draft


def test_an_e_inside_a_word_typed_in_normal_mode_starts_no_edit() -> None:
    """ "yes" typed in normal mode: y copied, then e opened the edit and the s went
    into it, and Enter saved "<old message>s" (after the e fix, sent "es"). An e
    that follows another character at once is inside a word: it only says how to
    type. After a pause, e edits."""
    world = World()
    channel = world.login()
    _in_room_with_my_message(world)
    type_keys(world, ["esc"])
    world.clock.advance(2)
    type_keys(world, "yes")
    chat = world.app.ui.chat
    assert (chat.mode, chat.editing, chat.edit.edit_text) == ("normal", None, "")
    assert world.notice() == "Normal mode: press i or Enter to type a message (? lists the keys)"
    type_keys(world, ["enter", "enter"])
    assert not [m for m in channel.sent if m["type"] in ("edit_message", "send_message")]
    world.clock.advance(1)
    type_keys(world, ["esc", "e"])
    assert chat.editing is not None


def test_a_pasted_text_of_several_lines_is_one_message() -> None:
    """Pasting three lines into the message field sent the first two as messages
    (each newline was Enter) and left the third in the field; pasted in normal mode,
    its letters were keys (r: the room list...). The client now asks the terminal
    for bracketed paste: what comes between ``begin paste`` and ``end paste`` is
    text, newlines included, in insert mode."""
    world = World()
    channel = world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    type_keys(world, ["begin paste", *"line one", "enter", *"line two", "end paste"])
    assert not [m for m in channel.sent if m["type"] == "send_message"]
    assert world.app.ui.chat.edit.edit_text == "line one\nline two"
    type_keys(world, ["enter"])
    assert channel.last("send_message")["content"] == "line one\nline two"
    type_keys(world, ["esc", "begin paste", *"read me", "end paste"])
    assert world.state.screen == "chat" and world.app.ui.overlay is None
    chat = world.app.ui.chat
    assert (chat.mode, chat.edit.edit_text) == ("insert", "read me")
    type_keys(world, ["esc"])
    world.app.dispatch(c.ShowRooms())
    type_keys(world, ["begin paste", *"cq", "enter", "end paste"])
    assert not world.app.ui.rooms.creating and world.app.ui.overlay is None
    assert world.api.called("join_room") == [(ROOM,)]


def test_the_terminal_is_asked_for_bracketed_paste() -> None:
    assert terminal_screen().modes.bracketed_paste is True


def test_text_pasted_over_a_box_is_not_its_keys() -> None:
    """Pasted while the members box was open, the letters were its keys: "x" removed
    the member selected, "o" made them owner; over the quit dialog "y" quit."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    world.api.members_list[ROOM] = [
        {"user_id": BOB, "username": "bob", "role": "member", "is_online": True}
    ]
    type_keys(world, ["esc", "m"])
    assert world.app.ui.overlay is not None
    type_keys(world, ["begin paste", *"pox yes", "enter", "end paste"])
    assert world.api.called("kick") == [] and world.api.called("set_role") == []
    type_keys(world, ["esc", "q"])
    type_keys(world, ["begin paste", "y", "end paste"])
    world.clock.advance(3)
    assert not world.exited
    type_keys(world, ["esc", "ctrl p", "begin paste", *"quit", "enter", "end paste"])
    assert world.app.ui.overlay is not None and world.app.ui.overlay.done is False
    world.clock.advance(3)
    assert not world.exited


def test_an_edit_the_server_refuses_comes_back_to_the_field() -> None:
    """An edit saved with Enter and then refused (or lost with the connection) was
    gone: the field had gone back to the draft, and the text typed with it. It now
    comes back into the field, editing the same message: Enter tries again."""
    world = World()
    channel = world.login()
    _in_room_with_my_message(world)
    type_keys(world, [*"my draft", "esc", "e"])
    world.clock.advance(2)
    type_keys(world, ["backspace"] * 5 + list("fine"))
    type_keys(world, ["enter"])
    world.opener.answer(
        "edit_message", success=False, error={"code": "content_invalid", "message": "Slow down"}
    )
    chat = world.app.ui.chat
    assert chat.editing is not None and chat.editing.message_id == "m1"
    assert chat.edit.edit_text == "that was fine"
    assert (
        world.notice() == "Your edit is back in the field (Enter tries again), not saved: Slow down"
    )
    type_keys(world, ["enter"])
    sent = channel.last("edit_message")
    assert (sent["message_id"], sent["content"]) == ("m1", "that was fine")
    world.opener.answer(
        "edit_message",
        success=True,
        message={**message("m1", ME, "that was fine", room_id=ROOM), "edited": True},
    )
    assert (chat.editing, chat.edit.edit_text) == (None, "my draft")
    assert "that was fine (edited)" in world.screen()


def test_a_message_typed_while_a_room_opens_is_not_sent_to_the_one_shown() -> None:
    """ "/join general", Enter, then at once "hello", Enter, while the server was slow
    to answer: "hello" went to the conversation still shown (another room), not the
    one asked for. It now waits in the field, saying so; commands still run."""
    world = World()
    channel = world.login()
    world.api.joined_list = [{"room": room("r-other", "other"), "member_count": 1}]
    world.app.dispatch(c.JoinRoom("other"))
    gate: defer.Deferred[None] = defer.Deferred()
    world.api.gates["join_room"] = gate
    type_keys(world, [*"/join general", "enter", *"hello", "enter"])
    assert not [m for m in channel.sent if m["type"] == "send_message"]
    assert world.app.ui.chat.edit.edit_text == "hello"
    assert world.notice() == "Opening #general: your message waits here until it shows"
    gate.callback(None)
    assert world.state.current == ("room", ROOM)
    type_keys(world, ["enter"])
    sent = channel.last("send_message")
    assert (sent["target"], sent["content"]) == ({"type": "room", "room_id": ROOM}, "hello")


def test_a_paste_goes_into_the_field_at_once_control_characters_included(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A paste was put in a character at a time (60,000 characters: 7 s, the square
    of its length), and the control characters in it were keys: Ctrl+C quit, Esc
    left insert mode and the rest of the paste ran as normal-mode keys (r: the room
    list). It now goes in at once, as text: controls are shown as marks."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    scanned = [0]
    real = safetext.shown_text

    def counting(text: str, newlines: bool = True) -> safetext.Shown:
        scanned[0] += len(text)
        return real(text, newlines)

    monkeypatch.setattr(safetext, "shown_text", counting)
    edit = world.app.ui.chat.edit
    changes: list[int] = []
    real_set = edit.set_edit_text

    def counting_set(text: str, **kwargs: object) -> None:
        changes.append(1)
        real_set(text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(edit, "set_edit_text", counting_set)
    big = "word " * 12_000
    type_keys(world, ["begin paste", *big, "end paste"])
    assert edit.edit_text == big
    assert len(changes) == 1  # one change of the field, not 60,000
    assert scanned[0] <= 2 * len(big)
    type_keys(world, ["ctrl u"])
    type_keys(world, ["begin paste", *"ab", "ctrl c", "esc", *"rq", "enter", "end paste"])
    chat = world.app.ui.chat
    assert (chat.mode, chat.edit.edit_text) == ("insert", "ab\x03\x1brq\n")
    assert world.state.screen == "chat" and world.app.ui.overlay is None
    world.clock.advance(3)
    assert not world.exited
    assert "│ab␃␛rq" in world.screen()


def test_a_paste_whose_end_is_lost_ends_when_the_keys_stop() -> None:
    """Without its ``end paste`` (a terminal that drops it), the paste would hold
    every later key as text: Enter never sent, Ctrl+C never quit."""
    world = World()
    channel = world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    type_keys(world, ["begin paste", *"hi there"])
    world.clock.advance(2)
    type_keys(world, ["enter"])
    assert channel.last("send_message")["content"] == "hi there"


def test_e_edit_and_delete_wait_for_the_message_just_sent() -> None:
    """Sent, then at once ``e`` (or ``/delete``) while the message was still on its
    way: they took the message before it, editing or deleting the wrong one."""
    world = World()
    channel = world.login()
    _in_room_with_my_message(world)
    type_keys(world, [*"second thought", "enter", "esc"])
    world.clock.advance(1)
    type_keys(world, ["e"])
    assert world.app.ui.chat.editing is None
    assert world.notice() == STILL_SENDING
    world.app.dispatch(c.DeleteLast())
    world.app.dispatch(c.EditLast("fixed"))
    assert not [m for m in channel.sent if m["type"] in ("edit_message", "delete_message")]
    world.opener.answer(
        "send_message", success=True, message=message("m2", ME, "second thought", room_id=ROOM)
    )
    world.clock.advance(1)
    type_keys(world, ["e"])
    editing = world.app.ui.chat.editing
    assert editing is not None and editing.message_id == "m2"
