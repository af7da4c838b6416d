"""The urwid widgets, rendered to text at fixed sizes, and their keys (lairchat/client/ui)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import urwid

from lairchat.client import commands as c
from lairchat.client.state import ClientState
from lairchat.client.testing import (
    FakeClock,
    RecordingController,
    message,
    render_text,
    room,
    session,
    user,
)
from lairchat.client.timefmt import format_clock
from lairchat.client.ui.chat import ChatView, typing_text
from lairchat.client.ui.editing import line_edit_key
from lairchat.client.ui.login import LoginView
from lairchat.client.ui.messages import MessagePane
from lairchat.client.ui.overlays import (
    ConfirmDialog,
    HelpOverlay,
    InvitationsOverlay,
    MembersOverlay,
    PaletteOverlay,
    RoomInvitationsOverlay,
    SessionsOverlay,
)
from lairchat.client.ui.rooms import RoomsView
from lairchat.client.ui.root import RootView
from lairchat.client.ui.statusbar import StatusBar

ME, BOB = "u-me", "u-bob"
ROOM = "r-general"


def local_clock(stamp: str) -> str:
    when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return format_clock(when, datetime(2025, 1, 21, 12, 30, tzinfo=UTC))


def alice_and_bob() -> ClientState:
    """alice signed in, bob online, both in #general (not shown yet)."""
    s = ClientState(clock=FakeClock(1_737_462_600.0))  # 12:30 UTC that day
    s.logged_in(user(ME, "alice"))
    s.set_users([{"user": user(BOB, "bob"), "online": True}])
    s.set_rooms([{"room": room(ROOM, "general"), "member_count": 2, "is_member": True}], [])
    return s


@pytest.fixture
def state() -> ClientState:
    return alice_and_bob()


@pytest.fixture
def ctl() -> RecordingController:
    return RecordingController()


def in_general(state: ClientState) -> None:
    key = ("room", ROOM)
    state.open(key)
    state.apply_history(
        key,
        [
            message("m2", ME, "hi bob", room_id=ROOM, created_at="2025-01-21T12:01:00Z"),
            message("m1", BOB, "hello alice", room_id=ROOM, created_at="2025-01-21T12:00:00Z"),
        ],
        has_more=False,
    )
    state.set_members(
        ROOM,
        [
            {"user_id": ME, "username": "alice", "role": "owner", "is_online": True},
            {"user_id": BOB, "username": "bob", "role": "member", "is_online": True},
        ],
    )


def screen(lines: list[str]) -> str:
    return "\n".join(lines)


# -- the message pane ----------------------------------------------------------------------


def test_messages_show_local_time_author_and_content(state: ClientState) -> None:
    in_general(state)
    pane = MessagePane()
    pane.show(state, state.current_conversation)
    lines = render_text(pane, 60, 5)
    assert lines[0].startswith("  — beginning of the conversation —")
    assert lines[1].rstrip() == f"{local_clock('2025-01-21T12:00:00Z')} bob: hello alice"
    assert lines[2].rstrip() == f"{local_clock('2025-01-21T12:01:00Z')} alice: hi bob"
    assert lines[3:] == [" " * 60] * 2


def test_long_messages_wrap_and_the_newest_line_stays_at_the_bottom(state: ClientState) -> None:
    key = ("room", ROOM)
    state.open(key)
    state.apply_history(
        key, [message(f"m{i}", BOB, f"line {i}", room_id=ROOM) for i in range(20, 0, -1)], True
    )
    pane = MessagePane()
    pane.show(state, state.current_conversation)
    lines = render_text(pane, 40, 4)
    assert [line.split(": ")[-1].strip() for line in lines] == [
        "line 17",
        "line 18",
        "line 19",
        "line 20",
    ]


def test_scrolling_up_to_the_top_asks_for_older_messages(state: ClientState) -> None:
    key = ("room", ROOM)
    state.open(key)
    state.apply_history(
        key, [message(f"m{i}", BOB, f"line {i}", room_id=ROOM) for i in range(10, 0, -1)], True
    )
    calls: list[int] = []
    pane = MessagePane(on_top=lambda: calls.append(1))
    pane.show(state, state.current_conversation)
    render_text(pane, 40, 4)
    pane.scroll("up")
    lines = render_text(pane, 40, 4)
    assert lines[-1].split(": ")[-1].strip() == "line 9"
    assert calls == []
    pane.scroll("top")
    lines = render_text(pane, 40, 4)
    assert "older messages" in lines[0]
    assert calls == [1]
    pane.scroll("bottom")
    assert render_text(pane, 40, 4)[-1].split(": ")[-1].strip() == "line 10"


def test_new_messages_do_not_move_a_reader_who_scrolled_up(state: ClientState) -> None:
    key = ("room", ROOM)
    state.open(key)
    state.apply_history(
        key, [message(f"m{i}", BOB, f"line {i}", room_id=ROOM) for i in range(10, 0, -1)], True
    )
    pane = MessagePane()
    pane.show(state, state.current_conversation)
    render_text(pane, 40, 3)
    pane.scroll("up")
    pane.scroll("up")
    before = render_text(pane, 40, 3)
    state.receive_message(message("m11", BOB, "line 11", room_id=ROOM), "bob")
    pane.show(state, state.current_conversation)
    assert render_text(pane, 40, 3) == before
    pane.scroll("bottom")
    assert render_text(pane, 40, 3)[-1].split(": ")[-1].strip() == "line 11"


def test_pending_failed_edited_and_system_lines(state: ClientState) -> None:
    key = ("room", ROOM)
    state.open(key)
    state.apply_history(key, [{**message("m1", ME, "fixed", room_id=ROOM), "edited": True}], False)
    state.system("bob joined the room")
    state.add_pending(key, "on its way")
    bad = state.add_pending(key, "x" * 3)
    state.fail_pending(bad, "Content invalid")
    pane = MessagePane()
    pane.show(state, state.current_conversation)
    text = screen(render_text(pane, 70, 6))
    assert "alice: fixed (edited)" in text
    assert "  · bob joined the room" in text
    assert "alice: on its way …" in text
    assert "alice: xxx  [not sent: Content invalid]" in text


# -- the chat screen -----------------------------------------------------------------------


def test_chat_screen_layout(state: ClientState, ctl: RecordingController) -> None:
    in_general(state)
    view = ChatView(ctl)
    view.update(state)
    lines = render_text(view, 100, 14)
    text = screen(lines)
    assert lines[0].startswith(" #general  [owner]")
    assert "People 2/1" not in text
    assert "─ Members (2) ─" in text
    assert "● *alice (you)" in text
    assert "●  bob" not in text and "● bob" in text
    assert "alice: hi bob" in text
    assert "i: type · r: rooms" in text


def test_dm_title_and_typing_line(state: ClientState, ctl: RecordingController) -> None:
    state.open(("dm", BOB))
    state.apply_event(
        {"type": "user_typing", "user_id": BOB, "target": {"type": "dm", "recipient": ME}}
    )
    view = ChatView(ctl)
    view.update(state)
    lines = render_text(view, 100, 10)
    assert lines[0].startswith(" DM: bob (online)")
    assert " bob is typing…" in screen(lines)


def test_typing_text() -> None:
    assert typing_text([]) == ""
    assert typing_text(["bob"]) == "bob is typing…"
    assert typing_text(["ann", "bob"]) == "ann and bob are typing…"
    assert typing_text(["a", "b", "c", "d"]) == "Several people are typing…"


def test_insert_mode_sends_the_line_and_reports_typing(
    state: ClientState, ctl: RecordingController
) -> None:
    in_general(state)
    view = ChatView(ctl)
    view.update(state)
    size = (100, 12)
    assert view.keypress(size, "i") is None
    assert view.mode == "insert"
    for key in "hey":
        view.keypress(size, key)
    assert ctl.typed == 3
    assert "│hey" in screen(render_text(view, *size))
    view.keypress(size, "enter")
    assert ctl.actions == [c.SendMessage("hey")]
    assert view.edit.edit_text == ""
    for key in "/join x":
        view.keypress(size, key)
    view.keypress(size, "enter")
    assert ctl.actions[-1] == c.JoinRoom("x")
    assert ctl.typed == 3  # commands are not "typing"
    view.keypress(size, "esc")
    assert view.mode == "normal"


def typed_into_chat(
    state: ClientState, ctl: RecordingController, text: str, size: tuple[int, int] = (100, 12)
) -> ChatView:
    """A chat view in insert mode after typing (or pasting) ``text``, a key a character."""
    view = ChatView(ctl)
    view.update(state)
    view.keypress(size, "i")
    for key in text:
        view.keypress(size, key)
    return view


def test_insert_mode_line_editing_keys(state: ClientState, ctl: RecordingController) -> None:
    size = (100, 12)
    view = typed_into_chat(state, ctl, "one two", size)
    view.keypress(size, "ctrl w")
    assert view.edit.edit_text == "one "
    view.keypress(size, "ctrl a")
    view.keypress(size, "ctrl k")
    assert view.edit.edit_text == ""
    for key in "ab":
        view.keypress(size, key)
    view.keypress(size, "meta enter")
    view.keypress(size, "c")
    assert view.edit.edit_text == "ab\nc"


def test_normal_mode_keys_become_actions(state: ClientState, ctl: RecordingController) -> None:
    in_general(state)
    view = ChatView(ctl)
    view.update(state)
    size = (100, 12)
    for key in ["r", "m", "I", "?", "q", "R"]:
        assert view.keypress(size, key) is None
    assert ctl.actions == [
        c.ShowRooms(),
        c.ShowMembers(),
        c.ShowInvitations(),
        c.ShowHelp(),
        c.Quit(confirm=True),
        c.Reconnect(),
    ]
    assert view.keypress(size, "x") is None
    assert ctl.actions[-1] == c.TYPE_HINT
    assert view.keypress(size, "ctrl x") == "ctrl x"


def test_edit_key_edits_the_last_own_message_in_a_state_of_its_own(
    state: ClientState, ctl: RecordingController
) -> None:
    """``e`` used to put ``/edit hi bob`` in the input line, looking like any draft.
    It now shows the message alone in a field titled as an edit of that message, in
    a colour of its own; Enter saves that message, and the draft comes back."""
    in_general(state)
    view = ChatView(ctl)
    view.update(state)
    size = (100, 12)
    for key in "idraft":
        view.keypress(size, key)
    view.keypress(size, "esc")
    view.keypress(size, "e")
    assert view.mode == "insert"
    assert view.edit.edit_text == "hi bob"
    screen = "\n".join(render_text(view, *size))
    assert "EDIT your message of 12:01 · Enter: save · Esc: cancel" in screen
    assert view._input_attr.get_attr_map() == {None: "box_edit"}
    assert view.hints() == "Esc:cancel edit Enter:save Alt+Enter:newline"
    state.clock.now += 2  # type: ignore[attr-defined]
    for key in ["backspace"] * 3 + list("alice"):
        view.keypress(size, key)
    view.keypress(size, "enter")
    assert ctl.actions[-1] == c.EditLast("hi alice", message_id="m2")
    assert (view.mode, view.editing, view.edit.edit_text) == ("normal", None, "draft")
    assert "i: type · r: rooms" in "\n".join(render_text(view, *size))


def test_esc_or_an_unchanged_message_leaves_the_edit_unsent(
    state: ClientState, ctl: RecordingController
) -> None:
    in_general(state)
    view = ChatView(ctl)
    view.update(state)
    size = (100, 12)
    view.keypress(size, "e")
    state.clock.now += 2  # type: ignore[attr-defined]
    view.keypress(size, "backspace")
    view.keypress(size, "esc")
    assert (view.mode, view.editing, view.edit.edit_text) == ("normal", None, "")
    assert ctl.actions[-1] == c.Hint("Edit cancelled: your message is as it was")
    view.keypress(size, "e")
    view.keypress(size, "enter")
    assert ctl.actions[-1] == c.Hint("Your message is unchanged: nothing sent")
    assert not any(isinstance(a, c.EditLast) for a in ctl.actions)


def test_text_only_added_to_the_end_is_saved_on_a_second_enter(
    state: ClientState, ctl: RecordingController
) -> None:
    """Adding to the end is what a word typed after ``e`` by mistake looks like
    (a slow typist's "excellent" after the pause): Enter asks, Enter again saves."""
    in_general(state)
    view = ChatView(ctl)
    view.update(state)
    size = (100, 12)
    view.keypress(size, "e")
    state.clock.now += 2  # type: ignore[attr-defined]
    for key in "xcellent":
        view.keypress(size, key)
    view.keypress(size, "enter")
    assert ctl.actions[-1] == c.Hint(
        "Enter again to add this to the end of your message (Esc: cancel): xcellent", "warning"
    )
    assert view.editing is not None and view.edit.edit_text == "hi bobxcellent"
    view.keypress(size, "enter")
    assert ctl.actions[-1] == c.EditLast("hi bobxcellent", message_id="m2")


def test_people_panel_focus_dm_and_invite(state: ClientState, ctl: RecordingController) -> None:
    in_general(state)
    view = ChatView(ctl)
    view.update(state)
    size = (100, 12)
    view.keypress(size, "tab")
    assert view.focus_area == "panel"
    assert "> ● *alice (you)" in screen(render_text(view, *size))
    view.keypress(size, "j")
    assert "> ● bob" in screen(render_text(view, *size))
    view.keypress(size, "i")
    view.keypress(size, "enter")
    assert ctl.actions == [c.Invite("bob"), c.StartDM("bob")]
    assert view.focus_area == "messages"


def test_narrow_terminals_hide_the_people_panel(
    state: ClientState, ctl: RecordingController
) -> None:
    in_general(state)
    view = ChatView(ctl)
    view.update(state)
    assert "People" not in screen(render_text(view, 50, 10))
    assert "People" in screen(render_text(view, 90, 10))


# -- login ---------------------------------------------------------------------------------


def test_login_screen_and_submit(state: ClientState, ctl: RecordingController) -> None:
    view = LoginView(ctl, "127.0.0.1:8080")
    text = screen(render_text(view, 80, 20))
    assert "Login" in text and "127.0.0.1:8080" in text and "Email" not in text
    assert "▸ Username" in text
    size = (80, 20)
    for key in "alice":
        view.keypress(size, key)
    view.keypress(size, "tab")
    for key in "secret99":
        view.keypress(size, key)
    assert "********" in screen(render_text(view, *size))
    view.keypress(size, "enter")
    assert ctl.actions == [c.Login("127.0.0.1:8080", "alice", "secret99")]


def test_register_mode_asks_for_an_email(state: ClientState, ctl: RecordingController) -> None:
    view = LoginView(ctl, "127.0.0.1:8080")
    size = (80, 20)
    view.keypress(size, "f1")
    text = screen(render_text(view, *size))
    assert "Register - new account" in text and "Email" in text and "Create account" in text
    for key in ["b", "o", "b", "tab", "b", "@", "x", ".", "y", "tab", "p", "w", "enter"]:
        view.keypress(size, key)
    assert ctl.actions == [c.Register("127.0.0.1:8080", "bob", "b@x.y", "pw")]


def test_login_refuses_empty_fields_and_shows_errors(
    state: ClientState, ctl: RecordingController
) -> None:
    view = LoginView(ctl, "127.0.0.1:8080")
    size = (80, 20)
    view.keypress(size, "enter")  # username → password
    view.keypress(size, "enter")  # submit with nothing filled in
    assert ctl.actions == [c.CommandError("Please fill in: username, password")]
    state.notify("Login failed: Invalid credentials", "error")
    view.update(state)
    assert "Login failed: Invalid credentials" in screen(render_text(view, *size))
    view.update(state, activity="Logging in…")
    assert "Logging in…" in screen(render_text(view, *size))


def test_ctrl_u_clears_a_login_field_as_in_a_shell(ctl: RecordingController) -> None:
    view = LoginView(ctl, "127.0.0.1:8080")
    size = (80, 20)
    for key in ["a", "l", "i", "c", "e", "tab", "o", "o", "p", "s"]:
        view.keypress(size, key)
    view.keypress(size, "ctrl u")
    for key in ["p", "w", "enter"]:
        view.keypress(size, key)
    assert ctl.actions == [c.Login("127.0.0.1:8080", "alice", "pw")]
    view.keypress(size, "shift tab")  # back to the username, cursor at its end
    view.keypress(size, "left")
    view.keypress(size, "ctrl u")  # only what is before the cursor, like readline
    assert view.username.edit.edit_text == "e"


def test_line_editing_keys_stay_on_the_cursor_line() -> None:
    edit = urwid.Edit("", "first line\nsecond word", multiline=True)
    edit.set_edit_pos(len(edit.edit_text))
    assert line_edit_key(edit, "ctrl w") and edit.edit_text == "first line\nsecond "
    assert line_edit_key(edit, "ctrl w") and edit.edit_text == "first line\n"
    assert line_edit_key(edit, "ctrl w") and edit.edit_text == "first line\n"
    edit.set_edit_pos(5)
    assert line_edit_key(edit, "ctrl k") and edit.edit_text == "first\n"
    assert line_edit_key(edit, "ctrl u") and edit.edit_text == "\n"
    assert not line_edit_key(edit, "x")


def test_room_name_and_palette_fields_take_ctrl_u(
    state: ClientState, ctl: RecordingController
) -> None:
    rooms = RoomsView(ctl)
    rooms.update(state)
    size = (60, 10)
    for key in ["c", "o", "o", "p", "s", "ctrl u", "o", "k", "enter"]:
        rooms.keypress(size, key)
    palette = PaletteOverlay(ctl)
    for key in ["x", "y", "z", "ctrl u", "m", "e", "m", "b", "enter"]:
        palette.keypress(size, key)
    assert ctl.actions == [c.CreateRoom("ok"), c.ShowMembers()]


def test_editing_the_server_address(ctl: RecordingController) -> None:
    view = LoginView(ctl, "127.0.0.1:8080")
    size = (80, 20)
    view.keypress(size, "up")
    for _ in range(4):
        view.keypress(size, "backspace")
    for key in "9000":
        view.keypress(size, key)
    assert view.server.edit.edit_text == "127.0.0.1:9000"


# -- rooms -----------------------------------------------------------------------------------


def test_room_list(state: ClientState, ctl: RecordingController) -> None:
    state.set_rooms(
        [
            {"room": room(ROOM, "general"), "member_count": 2, "is_member": True},
            {"room": room("r-b", "books"), "member_count": 1, "is_member": False},
        ],
        [{"room": room("r-s", "secret", private=True), "member_count": 3, "is_member": True}],
    )
    state.open(("room", ROOM))
    view = RoomsView(ctl)
    view.update(state)
    lines = render_text(view, 70, 8)
    assert "Rooms (3, 2 joined)" in lines[0]
    assert lines[1].startswith("│> general  (2 members)  [joined]")
    assert lines[2].startswith("│  secret  (3 members)  [private, joined]")
    assert lines[3].startswith("│  books  (1 member)")
    size = (70, 8)
    view.keypress(size, "j")
    view.keypress(size, "j")
    view.keypress(size, "enter")
    assert ctl.actions == [c.JoinRoom("r-b")]
    view.keypress(size, "c")
    for key in "new room":
        view.keypress(size, key)
    assert "New room name: new room" in screen(render_text(view, *size))
    view.keypress(size, "enter")
    view.keypress(size, "esc")
    assert ctl.actions[1:] == [c.CreateRoom("new room"), c.ShowChat()]


def test_empty_room_list_says_how_to_start(state: ClientState, ctl: RecordingController) -> None:
    state.set_rooms([], [])
    view = RoomsView(ctl)
    view.update(state)
    assert "Press c to create the first one." in screen(render_text(view, 60, 6))


# -- overlays ----------------------------------------------------------------------------------


def test_help_lists_keys_and_commands() -> None:
    help_box = HelpOverlay()
    text = screen(render_text(help_box, 90, 80))
    for fragment in ("Normal mode", "/join NAME|ID", "/dm USER", "Tab", "reconnect now"):
        assert fragment in text
    help_box.keypress((90, 80), "q")
    assert help_box.done


def test_invitations_overlay(state: ClientState, ctl: RecordingController) -> None:
    state.set_invitations(
        [
            {"id": "i1", "room_id": "r1", "room_name": "secret", "inviter_name": "bob"},
            {"id": "i2", "room_id": "r2", "room_name": "club", "inviter_name": "carol"},
        ]
    )
    box = InvitationsOverlay(ctl)
    box.update(state)
    text = screen(render_text(box, 60, 10))
    assert "Invitations (2)" in text and "#secret" in text and "from carol" in text
    box.keypress((60, 10), "j")
    box.keypress((60, 10), "a")
    box.keypress((60, 10), "k")
    box.keypress((60, 10), "x")
    box.keypress((60, 10), "r")
    assert ctl.actions == [
        c.AcceptInvitation("i2"),
        c.DeclineInvitation("i1"),
        c.RefreshInvitations(),
    ]
    state.set_invitations([])
    box.update(state)
    assert "No pending invitations" in screen(render_text(box, 60, 10))


def test_members_overlay_manages_roles(state: ClientState, ctl: RecordingController) -> None:
    in_general(state)
    box = MembersOverlay(ctl)
    box.update(state)
    text = screen(render_text(box, 90, 10))
    assert "Members of #general (2) — you are owner" in text
    assert "─ Owners ─" in text and "● *alice (you)" in text and "─ Members ─" in text
    size = (90, 10)
    box.keypress(size, "j")
    for key in ["p", "d", "o", "x", "y", "enter"]:
        box.keypress(size, key)
    assert ctl.actions == [
        c.SetRole("bob", "moderator"),
        c.SetRole("bob", "member"),
        c.SetRole("bob", "owner"),
        c.Kick("bob"),
        c.StartDM("bob"),
    ]
    assert box.done


def test_a_kick_is_asked_first(state: ClientState, ctl: RecordingController) -> None:
    """x kicked the selected member at once: one key pressed by mistake, and a member
    of a private room needed a new invitation to come back."""
    in_general(state)
    box = MembersOverlay(ctl)
    box.update(state)
    size = (90, 10)
    box.keypress(size, "j")
    box.keypress(size, "x")
    assert ctl.actions == [] and "Kick bob out of the room?" in screen(render_text(box, *size))
    box.keypress(size, "n")
    assert ctl.actions == [] and not box.done
    box.keypress(size, "x")
    box.keypress(size, "enter")
    assert ctl.actions == [c.Kick("bob")] and not box.done


def test_members_overlay_opens_the_rooms_pending_invitations(
    state: ClientState, ctl: RecordingController
) -> None:
    in_general(state)
    box = MembersOverlay(ctl)
    box.update(state)
    assert "I: invitations" in screen(render_text(box, 120, 10))
    box.keypress((120, 10), "I")
    assert ctl.actions == [c.ShowRoomInvitations()]


def test_sessions_overlay_ends_the_selected_session_once_confirmed(
    state: ClientState, ctl: RecordingController
) -> None:
    """Ending a session cannot be undone: ``x`` asks in the footer, only ``y`` or
    Enter ends it, any other key (a ``j`` meant to move on) asks nothing more."""
    size = (90, 12)
    box = SessionsOverlay(ctl)
    box.update(state)
    assert "(loading sessions…)" in screen(render_text(box, *size))
    box.keypress(size, "x")
    assert ctl.actions == []
    state.set_sessions(
        [
            session("s-new", current=True, created_at="2025-01-21T12:20:00Z"),
            session("s-old", created_at="2025-01-20T08:00:00Z"),
        ],
        True,
    )
    box.update(state)
    text = screen(render_text(box, *size))
    assert "Sessions (2)" in text
    assert "Session 1  · this one" in text and "Session 2" in text
    assert "Session 2  · this one" not in text
    created = local_clock("2025-01-20T08:00:00Z")
    expires = local_clock("2025-01-22T12:00:00Z")
    assert f"signed in {created} · last used {created} · expires {expires}" in text
    assert "(older sessions not listed)" in text
    box.keypress(size, "j")
    box.keypress(size, "x")
    text = screen(render_text(box, *size))
    assert "End session 2? Its device is signed out. y/Enter: yes · n/Esc: no" in text
    box.keypress(size, "j")  # not an answer: nothing ended, the question gone
    assert ctl.actions == [] and not box.done
    assert "x/Del: end session" in screen(render_text(box, *size))
    box.keypress(size, "delete")
    box.keypress(size, "y")
    assert ctl.actions == [c.EndSession("s-old", current=False)]
    box.keypress(size, "k")
    box.keypress(size, "x")
    assert "End this session (you will be logged out)?" in screen(render_text(box, *size))
    box.keypress(size, "esc")  # answers "no", does not close the box
    assert not box.done
    box.keypress(size, "x")
    box.keypress(size, "enter")
    box.keypress(size, "r")
    assert ctl.actions[1:] == [c.EndSession("s-new", current=True), c.RefreshSessions()]
    box.keypress(size, "q")
    assert box.done


def test_room_invitations_overlay_revokes_once_confirmed(
    state: ClientState, ctl: RecordingController
) -> None:
    size = (90, 12)
    box = RoomInvitationsOverlay(ctl, ROOM)
    box.update(state)
    assert "(loading invitations…)" in screen(render_text(box, *size))
    state.set_room_invitations(
        ROOM,
        [
            {
                "id": "i-carol",
                "room_id": ROOM,
                "inviter_name": "bob",
                "invitee_name": "carol",
                "created_at": "2025-01-21T12:10:00Z",
                "expires_at": "2025-01-28T12:10:00Z",
            },
            {"id": "i-dave", "room_id": ROOM, "inviter_name": "alice", "invitee_name": "dave"},
        ],
        False,
    )
    box.update(state)
    text = screen(render_text(box, *size))
    assert "Pending invitations to #general (2)" in text
    sent, expires = local_clock("2025-01-21T12:10:00Z"), local_clock("2025-01-28T12:10:00Z")
    assert "@carol" in text and f"invited by bob · {sent} · expires {expires}" in text
    assert "@dave" in text and "invited by alice" in text
    box.keypress(size, "j")
    box.keypress(size, "x")
    assert "Revoke the invitation of dave? y/Enter: yes" in screen(render_text(box, *size))
    box.keypress(size, "n")
    assert ctl.actions == []
    box.keypress(size, "x")
    box.keypress(size, "y")
    box.keypress(size, "r")
    assert ctl.actions == [c.RevokeInvitation("i-dave", ROOM), c.RefreshRoomInvitations(ROOM)]
    box.keypress(size, "esc")
    assert box.done and ctl.actions[-1] == c.ShowMembers()
    state.set_room_invitations(ROOM, [], False)
    box.update(state)
    assert "No pending invitations" in screen(render_text(box, *size))


def test_command_palette(ctl: RecordingController) -> None:
    palette = PaletteOverlay(ctl)
    size = (60, 14)
    text = screen(render_text(palette, *size))
    assert "Rooms" in text and "Change password" in text
    for key in "memb":
        palette.keypress(size, key)
    text = screen(render_text(palette, *size))
    assert "> memb" in text and "Members" in text and "Quit" not in text
    palette.keypress(size, "enter")
    assert ctl.actions == [c.ShowMembers()] and palette.done


def test_the_palette_scrolls_to_the_selected_command(ctl: RecordingController) -> None:
    """More commands than the box has rows: the last one was selected out of sight."""
    palette = PaletteOverlay(ctl)
    size = (60, 12)
    assert "Quit" not in screen(render_text(palette, *size))
    for _ in range(len(c.PALETTE) - 1):
        palette.keypress(size, "down")
    text = screen(render_text(palette, *size))
    assert "Quit" in text and "Rooms" not in text
    palette.keypress(size, "enter")
    assert ctl.actions == [c.Quit(confirm=True)]


def test_confirm_dialog() -> None:
    answers: list[bool] = []
    dialog = ConfirmDialog("Quit lairchat?", lambda: answers.append(True))
    assert "Quit lairchat?" in screen(render_text(dialog, 40, 7))
    dialog.keypress((40, 7), "n")
    assert dialog.done and answers == []
    dialog = ConfirmDialog("Quit lairchat?", lambda: answers.append(True))
    dialog.keypress((40, 7), "y")
    assert answers == [True]


# -- status and the whole screen --------------------------------------------------------------


def test_status_bar(state: ClientState) -> None:
    in_general(state)
    state.connection.state = "online"
    state.connection.encrypted = True
    state.add_invitation({"id": "i1", "room_name": "x", "inviter_name": "bob"})
    bar = StatusBar()
    bar.update(state, hints="?:help")
    line = render_text_flow(bar, 120)
    assert line.startswith(
        " ● online │ TCP encrypted │ alice │ #general │ 1 invitation (I) │ ?:help"
    )


def render_text_flow(widget: object, cols: int) -> str:
    canvas = widget.render((cols,))  # type: ignore[attr-defined]
    return canvas.text[0].decode("utf-8")


def test_status_bar_while_reconnecting(state: ClientState) -> None:
    state.connection.state = "waiting"
    state.connection.transport = "WS"
    state.connection.detail = "retry 2 in 4 s"
    bar = StatusBar()
    bar.update(state)
    assert render_text_flow(bar, 100).startswith(" ◌ reconnecting │ WS (retry 2 in 4 s) │ alice")


def test_root_switches_screens_and_shows_overlays(
    state: ClientState, ctl: RecordingController
) -> None:
    root = RootView(state, ctl, "127.0.0.1:8080")
    in_general(state)
    state.notify("Joined #general", "success")
    root.update()
    text = screen(render_text(root, 100, 20))
    assert "#general" in text and " Joined #general" in text
    root.open_overlay(HelpOverlay())
    assert "Help" in screen(render_text(root, 100, 30))
    root.keypress((100, 30), "esc")
    assert root.overlay is None
    state.screen = "rooms"
    root.update()
    assert "Rooms (1, 1 joined)" in screen(render_text(root, 100, 20))
    root.keypress((100, 20), "ctrl p")
    assert isinstance(root.overlay, PaletteOverlay)
    root.keypress((100, 20), "esc")
    assert root.overlay is None
    root.keypress((100, 20), "ctrl c")
    assert ctl.actions[-1] == c.Quit()


def test_root_turns_a_failing_key_handler_into_a_notice(
    state: ClientState, ctl: RecordingController
) -> None:
    class Broken(RecordingController):
        def dispatch(self, action: object) -> None:
            raise RuntimeError("boom")

    root = RootView(state, Broken(), "127.0.0.1:8080")
    root.update()
    root.keypress((100, 20), "r")
    assert state.latest_notice().text == "Internal error (details in the log file)"


def test_a_long_draft_leaves_the_messages_and_the_fields_title_on_screen(
    state: ClientState, ctl: RecordingController
) -> None:
    """The message field grew with its text: a paste of a few thousand characters
    pushed the messages and then the field's own title and border off the screen,
    and in normal mode the field with the keys its title lists. It is now at most a
    third of the screen high, showing the rows up to its cursor."""
    in_general(state)
    view = typed_into_chat(state, ctl, "x" * 1999 + "!", (100, 24))
    lines = render_text(view, 100, 24)
    assert "hello alice" in "\n".join(lines)
    assert any("INSERT  Enter: send" in line for line in lines)
    assert lines[-1].startswith("└") and "!" in lines[-2]
    assert sum("│xxx" in line for line in lines) == 24 // 3
    view.keypress((100, 24), "esc")
    lines = render_text(view, 100, 24)
    assert any("i: type · r: rooms" in line for line in lines)
    assert lines[-1].startswith("└")
