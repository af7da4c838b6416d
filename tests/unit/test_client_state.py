"""The client model: server events and HTTP answers applied as the user should see
them (lairchat/client/state.py). Plain wire dicts in, a fake clock, no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from lairchat.client import testing
from lairchat.client.state import HOME, ClientState, panel_rows
from lairchat.client.testing import FakeClock, message, user

ME, BOB, CAROL = "u-me", "u-bob", "u-carol"
ROOM, OTHER = "r-room", "r-other"


def room(rid: str, name: str, private: bool = False) -> dict[str, Any]:
    return testing.room(rid, name, ME, private)


def msg(
    mid: str, author: str, content: str, *, room_id: str | None = ROOM, to: str | None = None
) -> dict[str, Any]:
    """A message whose timestamp follows its number (``m7`` at :07)."""
    created_at = f"2025-01-21T12:00:{int(mid[1:]) % 60:02d}Z"
    return message(mid, author, content, room_id=room_id, to=to, created_at=created_at)


def received(message: dict[str, Any], name: str) -> dict[str, Any]:
    return {"type": "message_received", "message": message, "author_username": name}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_700_000_000.0)


@pytest.fixture
def state(clock: FakeClock) -> ClientState:
    s = ClientState(clock=clock)
    s.logged_in(user(ME, "me"))
    s.set_users(
        [
            {"user": user(ME, "me"), "online": True},
            {"user": user(BOB, "bob"), "online": True},
            {"user": user(CAROL, "carol"), "online": False},
        ]
    )
    s.set_rooms(
        [{"room": room(ROOM, "general"), "member_count": 2, "is_member": True}],
        [{"room": room(ROOM, "general"), "member_count": 2, "is_member": True}],
    )
    return s


def contents(s: ClientState, key: tuple[str, str]) -> list[str]:
    return [m.content for m in s.conversation(key).messages if m.kind != "system"]


def systems(s: ClientState, key: tuple[str, str] | None = None) -> list[str]:
    conv = s.conversation(s.current if key is None else key)
    return [m.content for m in conv.messages if m.kind == "system"]


# -- session -------------------------------------------------------------------------------


def test_login_shows_the_chat_screen_at_home(clock: FakeClock) -> None:
    s = ClientState(clock=clock)
    assert s.screen == "login"
    s.logged_in(user(ME, "me"))
    assert s.screen == "chat"
    assert s.current == HOME
    assert s.me is not None and s.me.username == "me"
    assert s.users[ME].online


def test_reset_forgets_the_account(state: ClientState) -> None:
    state.open(("room", ROOM))
    state.reset()
    assert state.screen == "login"
    assert state.me is None and not state.rooms and not state.conversations
    assert state.current == HOME


# -- history -------------------------------------------------------------------------------


def test_history_is_newest_first_on_the_wire_and_oldest_first_on_screen(
    state: ClientState,
) -> None:
    page = [msg("m3", BOB, "three"), msg("m2", ME, "two"), msg("m1", BOB, "one")]
    added = state.apply_history(("room", ROOM), page, has_more=True)
    conv = state.conversation(("room", ROOM))
    assert added == 3
    assert contents(state, ("room", ROOM)) == ["one", "two", "three"]
    assert [m.author for m in conv.messages] == ["bob", "me", "bob"]
    assert conv.loaded and conv.has_more


def test_an_empty_first_page_means_nothing_older(state: ClientState) -> None:
    state.system("You created the room", ("room", ROOM))
    state.apply_history(("room", ROOM), [], has_more=False)
    assert not state.conversation(("room", ROOM)).has_more


def test_older_pages_go_above_and_an_empty_one_ends_paging(state: ClientState) -> None:
    key = ("room", ROOM)
    state.apply_history(key, [msg("m5", BOB, "five"), msg("m4", BOB, "four")], True)
    state.apply_history(key, [msg("m3", BOB, "three"), msg("m2", BOB, "two")], True, older=True)
    assert contents(state, key) == ["two", "three", "four", "five"]
    assert state.conversation(key).has_more
    # A server that ignores `before` answers with what we already have: stop asking.
    state.apply_history(key, [msg("m5", BOB, "five"), msg("m4", BOB, "four")], True, older=True)
    assert contents(state, key) == ["two", "three", "four", "five"]
    assert not state.conversation(key).has_more


def test_older_messages_with_equal_timestamps_keep_server_order(state: ClientState) -> None:
    key = ("room", ROOM)
    newest = msg("m9", BOB, "c")
    older = [msg("m9", BOB, "b"), msg("m9", BOB, "a")]  # same second, newest first
    older[0]["id"], older[1]["id"] = "x2", "x1"
    state.apply_history(key, [newest], True)
    state.apply_history(key, older, False, older=True)
    assert contents(state, key) == ["a", "b", "c"]


def test_refresh_after_reconnect_fills_the_gap(state: ClientState) -> None:
    key = ("room", ROOM)
    state.apply_history(key, [msg("m2", BOB, "two"), msg("m1", BOB, "one")], False)
    state.mark_stale()
    assert not state.conversation(key).loaded
    page = [msg("m4", BOB, "four"), msg("m3", BOB, "three"), msg("m2", BOB, "two")]
    assert state.apply_history(key, page, True) == 2
    assert contents(state, key) == ["one", "two", "three", "four"]
    assert not state.conversation(key).has_more  # what we had already reached the start


def test_refresh_with_no_overlap_replaces_a_too_old_window(state: ClientState) -> None:
    key = ("room", ROOM)
    state.apply_history(key, [msg("m2", BOB, "two"), msg("m1", BOB, "one")], True)
    state.system("a notice", key)
    state.apply_history(key, [msg("m9", BOB, "nine"), msg("m8", BOB, "eight")], True)
    assert contents(state, key) == ["eight", "nine"]
    assert systems(state, key) == ["a notice"]
    assert state.conversation(key).has_more


# -- live messages -------------------------------------------------------------------------


def test_a_message_is_shown_once_however_it_arrives(state: ClientState) -> None:
    key = ("room", ROOM)
    state.open(key)
    m = msg("m1", BOB, "hi")
    state.apply_event(received(m, "bob"))
    state.apply_event(received(m, "bob"))
    state.apply_history(key, [m], False)
    assert contents(state, key) == ["hi"]


def test_own_message_pending_then_confirmed_by_the_response(state: ClientState) -> None:
    key = ("room", ROOM)
    state.open(key)
    local = state.add_pending(key, "hello")
    assert [m.kind for m in state.conversation(key).messages] == ["pending"]
    state.confirm_pending(local, msg("m1", ME, "hello"))
    # ... and the echo event that follows changes nothing.
    state.apply_event(received(msg("m1", ME, "hello"), "me"))
    conv = state.conversation(key)
    assert [(m.kind, m.id) for m in conv.messages] == [("user", "m1")]


def test_own_echo_before_the_response_replaces_the_pending_line(state: ClientState) -> None:
    key = ("room", ROOM)
    state.open(key)
    local = state.add_pending(key, "hello")
    state.apply_event(received(msg("m1", ME, "hello"), "me"))
    assert [(m.kind, m.id) for m in state.conversation(key).messages] == [("user", "m1")]
    state.confirm_pending(local, msg("m1", ME, "hello"))
    assert [(m.kind, m.id) for m in state.conversation(key).messages] == [("user", "m1")]


def test_refused_message_stays_marked_not_sent(state: ClientState) -> None:
    key = ("room", ROOM)
    local = state.add_pending(key, "too long")
    state.fail_pending(local, "Content invalid")
    (line,) = state.conversation(key).messages
    assert line.kind == "failed" and line.error == "Content invalid"


def test_messages_elsewhere_count_as_unread_and_opening_clears_them(state: ClientState) -> None:
    state.open(HOME)
    state.apply_event(received(msg("m1", BOB, "psst"), "bob"))
    state.apply_event(received(msg("m2", ME, "mine"), "me"))
    assert state.conversation(("room", ROOM)).unread == 1
    assert state.unread_total() == 1
    state.open(("room", ROOM))
    assert state.conversation(("room", ROOM)).unread == 0


def test_a_dm_elsewhere_leaves_a_notice_in_the_shown_conversation(state: ClientState) -> None:
    state.open(("room", ROOM))
    state.apply_event(received(msg("m1", BOB, "secret", to=ME), "bob"))
    dm = state.conversation(("dm", BOB))
    assert contents(state, ("dm", BOB)) == ["secret"]
    assert dm.unread == 1
    assert systems(state) == ["New DM from bob (1 unread) - /dm bob to reply"]
    assert state.latest_notice() is not None
    assert state.latest_notice().text == "New direct message from bob"
    assert state.dm_unread(BOB) == 1


def test_our_own_dm_belongs_to_the_recipients_conversation(state: ClientState) -> None:
    state.apply_event(received(msg("m1", ME, "hey", to=BOB), "me"))
    assert contents(state, ("dm", BOB)) == ["hey"]
    assert state.conversation(("dm", BOB)).unread == 0


def test_unknown_author_uses_the_events_username(state: ClientState) -> None:
    state.open(("room", ROOM))
    state.apply_event(received(msg("m1", "u-dave", "yo"), "dave"))
    assert state.users["u-dave"].username == "dave"
    assert state.conversation(("room", ROOM)).messages[0].author == "dave"


def test_edit_and_delete_events(state: ClientState) -> None:
    key = ("room", ROOM)
    state.apply_history(key, [msg("m2", ME, "two"), msg("m1", BOB, "one")], False)
    edited = {**msg("m2", ME, "TWO"), "edited": True}
    state.apply_event({"type": "message_edited", "message": edited, "previous_content": "two"})
    assert contents(state, key) == ["one", "TWO"]
    assert state.conversation(key).find("m2").edited
    state.apply_event(
        {"type": "message_deleted", "message_id": "m1", "target": {}, "deleted_by": BOB}
    )
    assert contents(state, key) == ["TWO"]


def test_last_own_message(state: ClientState) -> None:
    key = ("room", ROOM)
    state.open(key)
    assert state.last_own_message() is None
    state.apply_history(
        key, [msg("m3", BOB, "b"), msg("m2", ME, "mine"), msg("m1", ME, "x")], False
    )
    last = state.last_own_message()
    assert last is not None and last.id == "m2"


# -- rooms, members, presence --------------------------------------------------------------


def test_set_rooms_merges_public_and_joined_lists(state: ClientState) -> None:
    state.set_rooms(
        [{"room": room(ROOM, "general"), "member_count": 3, "is_member": False}],
        [{"room": room(OTHER, "secret", private=True), "member_count": 2, "is_member": True}],
    )
    assert not state.rooms[ROOM].is_member and state.rooms[ROOM].member_count == 3
    assert state.rooms[OTHER].is_member and state.rooms[OTHER].is_private
    assert state.find_room("SECRET") is state.rooms[OTHER]
    assert state.find_room("#general") is state.rooms[ROOM]
    assert state.find_room(OTHER) is state.rooms[OTHER]


def test_room_created_and_joined(state: ClientState) -> None:
    info = state.room_created(room(OTHER, "new"))
    assert info.is_member and info.role == "owner" and info.member_count == 1
    assert [m.username for m in state.sorted_members(OTHER)] == ["me"]
    state.add_invitation(
        {"id": "i1", "room_id": "r3", "room_name": "x", "inviter_id": BOB, "inviter_name": "bob"}
    )
    joined = state.room_joined(room("r3", "x"), {"room_id": "r3", "user_id": ME, "role": "member"})
    assert joined.is_member and joined.role == "member"
    assert state.invitations == []


def test_members_and_presence(state: ClientState) -> None:
    state.set_members(
        ROOM,
        [
            {"user_id": BOB, "username": "bob", "role": "member", "is_online": True},
            {"user_id": ME, "username": "me", "role": "owner", "is_online": True},
        ],
    )
    assert state.my_role(ROOM) == "owner"
    assert [m.username for m in state.sorted_members(ROOM)] == ["me", "bob"]
    state.open(("room", ROOM))
    state.apply_event({"type": "user_offline", "user_id": BOB, "username": "bob"})
    assert not state.users[BOB].online
    assert systems(state) == ["bob is offline"]
    state.apply_event({"type": "user_online", "user_id": BOB, "username": "bob"})
    assert state.users[BOB].online


def test_presence_of_unrelated_users_is_quiet(state: ClientState) -> None:
    state.open(("room", ROOM))
    state.set_members(ROOM, [{"user_id": ME, "username": "me", "role": "owner"}])
    state.apply_event({"type": "user_online", "user_id": CAROL, "username": "carol"})
    assert state.users[CAROL].online
    assert systems(state) == []


def test_join_leave_and_role_events_update_the_member_list(state: ClientState) -> None:
    key = ("room", ROOM)
    state.open(key)
    state.set_members(ROOM, [{"user_id": ME, "username": "me", "role": "owner"}])
    state.apply_event(
        {
            "type": "user_joined_room",
            "room_id": ROOM,
            "user": user(CAROL, "carol"),
            "membership": {"room_id": ROOM, "user_id": CAROL, "role": "member"},
        }
    )
    assert [m.username for m in state.sorted_members(ROOM)] == ["me", "carol"]
    assert state.rooms[ROOM].member_count == 2
    state.apply_event(
        {
            "type": "member_role_changed",
            "room_id": ROOM,
            "user_id": CAROL,
            "username": "carol",
            "old_role": "member",
            "new_role": "moderator",
            "changed_by": ME,
        }
    )
    assert state.members[ROOM][CAROL].role == "moderator"
    state.apply_event(
        {"type": "user_left_room", "room_id": ROOM, "user_id": CAROL, "reason": "kicked"}
    )
    assert CAROL not in state.members[ROOM]
    assert systems(state) == [
        "carol joined the room",
        "carol is now moderator (was member)",
        "carol was removed from the room",
    ]


def test_being_kicked_closes_the_room(state: ClientState) -> None:
    state.open(("room", ROOM))
    state.apply_event(
        {"type": "user_left_room", "room_id": ROOM, "user_id": ME, "reason": "kicked"}
    )
    assert state.current == HOME
    assert not state.rooms[ROOM].is_member
    assert state.latest_notice().text == "You were removed from #general"


def test_our_own_join_event_for_an_unknown_room_asks_for_the_room_list(
    state: ClientState,
) -> None:
    follow = state.apply_event(
        {
            "type": "user_joined_room",
            "room_id": "r-new",
            "user": user(ME, "me"),
            "membership": {"room_id": "r-new", "user_id": ME, "role": "member"},
        }
    )
    assert follow == [("rooms", "")]


def test_room_deleted(state: ClientState) -> None:
    state.open(("room", ROOM))
    state.apply_event(
        {"type": "room_deleted", "room_id": ROOM, "room_name": "general", "deleted_by": BOB}
    )
    assert ROOM not in state.rooms
    assert state.current == HOME
    assert state.latest_notice().text == "Room #general was deleted"


# -- typing, invitations, notices -----------------------------------------------------------


def test_typing_indicator_lapses_and_a_message_clears_it(
    state: ClientState, clock: FakeClock
) -> None:
    key = ("room", ROOM)
    state.open(key)
    typing = {"type": "user_typing", "user_id": BOB, "target": {"type": "room", "room_id": ROOM}}
    state.apply_event(typing)
    assert state.typing_names() == ["bob"]
    clock.now += 10
    assert state.expire()
    assert state.typing_names() == []
    state.apply_event(typing)
    state.apply_event(received(msg("m1", BOB, "done"), "bob"))
    assert state.typing_names() == []


def test_typing_in_a_dm_is_keyed_by_the_typer(state: ClientState) -> None:
    state.apply_event(
        {"type": "user_typing", "user_id": BOB, "target": {"type": "dm", "recipient": ME}}
    )
    assert state.typing_names(("dm", BOB)) == ["bob"]
    state.apply_event(
        {"type": "user_typing", "user_id": ME, "target": {"type": "dm", "recipient": BOB}}
    )
    assert state.typing_names(("dm", BOB)) == ["bob"]


def test_invitation_event(state: ClientState) -> None:
    state.apply_event(
        {
            "type": "invitation_received",
            "invitation": {
                "id": "i1",
                "room_id": OTHER,
                "room_name": "secret",
                "inviter_id": BOB,
                "inviter_name": "bob",
                "invitee_id": ME,
                "invitee_name": "me",
                "status": "pending",
                "message": None,
                "created_at": "2025-01-21T12:00:00Z",
                "expires_at": "2025-01-28T12:00:00Z",
                "responded_at": None,
            },
        }
    )
    assert [i.room_name for i in state.invitations] == ["secret"]
    assert state.latest_notice().text == "bob invited you to #secret (I to view)"
    state.remove_invitation("i1")
    assert state.invitations == []


def test_lairchat_events_revoke_an_invitation_and_list_a_new_room(state: ClientState) -> None:
    """The server's own events (the client asks for them in its hello): a revoked
    invitation leaves the list at once; a new public room joins the room list."""
    invitation = {"id": "i1", "room_id": OTHER, "room_name": "secret", "inviter_id": BOB}
    state.apply_event({"type": "invitation_received", "invitation": invitation})
    state.apply_event(
        {"type": "invitation_revoked", "invitation_id": "i1", "room_id": OTHER, "revoked_by": BOB}
    )
    assert state.invitations == []
    shown = state.conversation(state.current).messages[-1]
    assert shown.content == "The invitation to #secret was withdrawn"
    room = {"id": "r-new", "name": "lobby", "owner": BOB, "settings": {}}
    state.apply_event({"type": "room_created", "room": room, "created_by": BOB})
    assert state.rooms["r-new"].name == "lobby" and not state.rooms["r-new"].is_member
    state.apply_event({"type": "room_created", "room": {**room, "name": "x"}, "created_by": BOB})
    assert state.rooms["r-new"].name == "lobby"  # a known room is left as it is
    state.apply_event({"type": "invitation_revoked", "invitation_id": "unknown"})  # no error


def test_read_on_another_device_stops_showing_as_unread(state: ClientState) -> None:
    """lairchat's messages_read: the counts the server gives for a conversation read
    elsewhere; they only lower ours (what came since is counted live)."""
    room, dm = state.conversation(("room", OTHER)), state.conversation(("dm", BOB))
    room.unread, room.mention_seed, dm.unread = 5, 2, 3
    read = {"type": "messages_read", "unread_count": 0, "mention_count": 0}
    state.apply_event({**read, "target": {"type": "room", "room_id": OTHER}})
    assert (room.unread, room.mentions) == (0, 0)
    state.apply_event({**read, "target": {"type": "dm", "recipient": BOB}, "unread_count": 7})
    assert dm.unread == 3  # never raised
    state.apply_event({**read, "target": {"type": "room", "room_id": "r-unknown"}})
    assert ("room", "r-unknown") not in state.conversations


def test_notices_expire_and_errors_win(state: ClientState, clock: FakeClock) -> None:
    state.notify("careful", "error")
    state.notify("fyi")
    assert state.latest_notice().text == "careful"
    clock.now += 5
    assert state.expire()
    assert state.latest_notice().text == "careful"
    clock.now += 5
    state.expire()
    assert state.latest_notice() is None


def test_a_later_success_ends_an_error_and_news_does_not(state: ClientState) -> None:
    """Found by helper-78's live test: after "Room not changed: Permission denied",
    the retry's success stayed hidden behind the error for its 8 s."""
    state.notify("Room not changed: Permission denied", "error")
    state.notify("bob is online")
    assert state.latest_notice().text == "Room not changed: Permission denied"
    state.notify("Topic of #general set", "success")
    state.notify("carol is online", "warning")
    assert state.latest_notice().text == "Topic of #general set"
    state.notify("Could not ban: Permission denied", "error")
    assert state.latest_notice().text == "Could not ban: Permission denied"


def test_server_error_frame_becomes_a_notice(state: ClientState) -> None:
    state.apply_event({"type": "error", "code": "invalid_message", "message": "Invalid JSON"})
    assert state.latest_notice().text == "Server: Invalid JSON"


def test_unknown_event_types_are_ignored(state: ClientState) -> None:
    assert state.apply_event({"type": "something_new"}) == []


def test_server_unread_counts(state: ClientState) -> None:
    state.set_unread({ROOM: 3}, {BOB: 1})
    assert state.conversation(("room", ROOM)).unread == 3
    assert state.dm_unread(BOB) == 1


# -- the side panel -------------------------------------------------------------------------


def test_panel_lists_room_members_then_others_by_presence(state: ClientState) -> None:
    state.open(("room", ROOM))
    state.set_members(
        ROOM,
        [
            {"user_id": ME, "username": "me", "role": "owner", "is_online": True},
            {"user_id": BOB, "username": "bob", "role": "moderator", "is_online": True},
        ],
    )
    state.apply_event(received(msg("m1", CAROL, "hi", to=ME), "carol"))
    rows = panel_rows(state)
    assert [(r.kind, r.text) for r in rows] == [
        ("header", "Members (2)"),
        ("user", "me"),
        ("user", "bob"),
        ("header", "Offline (1)"),
        ("user", "carol"),
    ]
    assert rows[1].is_me and rows[1].role == "owner"
    assert rows[4].unread == 1 and not rows[4].online


def test_panel_outside_a_room_lists_everyone_else(state: ClientState) -> None:
    rows = panel_rows(state)
    assert [(r.kind, r.text) for r in rows] == [
        ("header", "Online (1)"),
        ("user", "bob"),
        ("header", "Offline (1)"),
        ("user", "carol"),
    ]


def test_sessions_and_room_invitations_of_odd_shapes(state: ClientState) -> None:
    """A list from the server with an item of the wrong shape keeps the others; only
    ``current: true`` marks this client's session (a string "true" does not)."""
    state.set_sessions(
        [
            testing.session("s1", current=True),
            "not an object",
            {**testing.session("s2"), "current": "true", "created_at": 7},
        ],
        True,
    )
    assert state.sessions is not None
    assert [(s.id, s.current) for s in state.sessions] == [("s1", True), ("s2", False)]
    assert state.sessions_more
    state.remove_session("s1")
    assert [s.id for s in state.sessions] == ["s2"]
    state.set_room_invitations(
        "r1", [{"id": "i1", "invitee_name": "carol"}, None, {"id": "i2"}], False
    )
    listed, more = state.room_invitations["r1"]
    assert [(i.id, i.invitee_name, i.expires_at) for i in listed] == [
        ("i1", "carol", None),
        ("i2", "?", None),
    ]
    removed = state.remove_room_invitation("i1")
    assert removed is not None and removed.invitee_name == "carol"
    assert [i.id for i in state.room_invitations["r1"][0]] == ["i2"]
    assert state.remove_room_invitation("i-unknown") is None
    state.reset()
    assert state.sessions is None and state.room_invitations == {}
