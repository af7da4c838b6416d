"""The terminal client against floods, long sessions and surprising input: bursts
of events, big histories, typing, presence, DM and invitation storms, and what a
broken or hostile server may send (JSON nested too deep, answers too big, other
services' banners, timestamps at the calendar's edges). A cost that used to grow
with the history or the number of events is pinned by counting the work done, never
by timing it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from twisted.internet import defer
from twisted.internet.error import ConnectionLost
from twisted.python.failure import Failure

from lairchat.client import commands as c
from lairchat.client import conversations as conversations_module
from lairchat.client import state as state_module
from lairchat.client.model import MAX_KEPT
from lairchat.client.net.errors import ServerError
from lairchat.client.net.http import MAX_BODY
from lairchat.client.state import ClientState, PanelRow
from lairchat.client.testing import message, render_text, room, user
from lairchat.client.timefmt import format_clock, parse_time
from lairchat.client.ui import overlays as overlays_module
from lairchat.client.ui import people as people_module
from lairchat.client.ui import rooms as rooms_module
from lairchat.client.ui.messages import (
    NAME_MAX,
    SHOWN_LINES,
    SHOWN_MAX,
    Hanging,
    MessagePane,
    message_markup,
)
from lairchat.client.ui.overlays import MembersOverlay
from lairchat.client.ui.people import PeoplePanel
from tests.unit.test_client_app import BOB, HELLO, ROOM, Channel, World
from tests.unit.test_client_net import Response, api, frame, outcome, run, tcp_channel
from tests.unit.test_client_widgets import ME, alice_and_bob


class FakeScreen:
    def tty_signal_keys(self, **keys: str) -> None:
        pass


class FakeLoop:
    """Stands for urwid's main loop: counts the paints."""

    def __init__(self) -> None:
        self.screen = FakeScreen()
        self.draws = 0

    def draw_screen(self) -> None:
        self.draws += 1


def test_a_burst_of_events_is_laid_out_once() -> None:
    """Every event used to lay the whole view out at once (20 ms per event with 10,000
    messages shown), so a burst of a thousand events read in one go froze the client
    for seconds; the layout now happens once, after the burst."""
    world = World()
    world.login()
    loop = FakeLoop()
    world.app.loop = loop
    updates: list[int] = []
    real_update = world.app.ui.update

    def counting_update() -> None:
        updates.append(1)
        real_update()

    world.app.ui.update = counting_update  # type: ignore[method-assign]
    world.clock.advance(1)
    updates.clear()
    loop.draws = 0
    for i in range(100):
        world.app.link_event(
            {"type": "message_received", "message": message(f"m{i}", BOB, f"hi {i}", room_id=ROOM)}
        )
    assert updates == []
    world.clock.advance(0)
    assert (len(updates), loop.draws) == (1, 1)
    assert len(world.state.conversations[("room", ROOM)].messages) == 100


def test_typing_events_leave_the_history_alone() -> None:
    """A typing event used to count as a change of the conversation, so each one
    laid every message out again: a storm of them cost as much as a storm of
    messages. The indicator still shows, and lapses, without that."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    pane = world.app.ui.chat.pane
    laid_out = pane._texts
    typing = {"type": "user_typing", "user_id": BOB, "target": {"type": "room", "room_id": ROOM}}
    for _ in range(50):
        world.app.link_event(typing)
    assert "bob is typing…" in world.screen()
    world.clock.advance(7)
    assert "bob is typing…" not in world.screen()
    assert pane._texts is laid_out


def _room_with_history(count: int) -> ClientState:
    state = alice_and_bob()
    page = [message(f"m{i}", BOB, f"line {i}", room_id=ROOM) for i in range(count)]
    state.apply_history(("room", ROOM), page[::-1], has_more=False)
    state.open(("room", ROOM))
    return state


def test_a_new_message_measures_only_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """After any change the pane measured every message again (how many rows each
    wraps to), 36 ms a message in a room of 10,000; a message drawn before keeps
    its height, and only new ones are measured."""
    state = _room_with_history(500)
    pane = MessagePane()
    pane.show(state, state.current_conversation)
    pane.render((80, 20))
    measured: list[Hanging] = []
    real_rows = Hanging.rows

    def counting_rows(self: Hanging, size: tuple[int], focus: bool = False) -> int:
        measured.append(self)
        return real_rows(self, size, focus)

    monkeypatch.setattr(Hanging, "rows", counting_rows)
    state.receive_message(message("new", BOB, "the newest", room_id=ROOM))
    pane.show(state, state.current_conversation)
    lines = "\n".join(render_text(pane, 80, 20))
    assert "bob: the newest" in lines
    assert "line 499" in lines
    assert [h.body.text for h in measured] == ["bob: the newest"]
    pane.render((60, 20))  # another width measures everything again
    assert len(measured) == 1 + 501


def test_a_busy_room_in_the_background_keeps_its_newest_lines() -> None:
    """Every message of every room was kept for the whole session: hours in busy
    rooms grew without bound, and each redraw of a room grew with its history."""
    state = _room_with_history(MAX_KEPT + 10)
    state.open(("dm", BOB))  # the room is no longer read: it keeps its newest
    assert len(state.conversations[("room", ROOM)].messages) == MAX_KEPT
    for i in range(MAX_KEPT + 500):
        state.receive_message(message(f"n{i}", BOB, f"flood {i}", room_id=ROOM))
    conv = state.conversations[("room", ROOM)]
    assert len(conv.messages) == MAX_KEPT
    assert (conv.messages[0].content, conv.messages[-1].content) == ("flood 500", "flood 1499")
    assert conv.has_more  # the dropped ones are the server's to page in again
    assert conv.unread == MAX_KEPT + 500


def test_the_room_shown_is_trimmed_only_while_read_at_its_newest() -> None:
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    world.app.loop = FakeLoop()
    conv = world.state.conversations[("room", ROOM)]

    def flood(first: int, count: int) -> None:
        for i in range(first, first + count):
            event = message(f"n{i}", BOB, f"x{i}", room_id=ROOM)
            world.app.link_event({"type": "message_received", "message": event})
        world.clock.advance(0)

    flood(0, MAX_KEPT + 200)
    assert len(conv.messages) == MAX_KEPT
    pane = world.app.ui.chat.pane
    pane.scroll("page_up")  # reading older lines: nothing is taken from under them
    flood(MAX_KEPT + 200, 300)
    assert len(conv.messages) == MAX_KEPT + 300
    pane.scroll("bottom")
    world.app.refresh()
    world.clock.advance(0)
    assert len(conv.messages) == MAX_KEPT
    assert "bob: x1499" in world.screen()


def test_paging_back_through_thousands_of_messages() -> None:
    """Paging is not bounded by what is kept: scrolled up, every older page stays,
    down to the beginning of the conversation."""
    world = World()
    pages = 3 * MAX_KEPT // 50
    ids = [f"m{i:05d}" for i in range(pages * 50)]
    wire = [message(mid, BOB, f"old {mid}", room_id=ROOM) for mid in ids]
    for p in range(pages):
        chunk = wire[p * 50 : (p + 1) * 50][::-1]  # newest first, as on the wire
        before = None if p == pages - 1 else ids[(p + 1) * 50]
        world.api.history_pages[("room", ROOM, before)] = (chunk, p > 0)
    world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    conv = world.state.conversations[("room", ROOM)]
    for _ in range(pages):
        world.app.dispatch(c.ShowChat())
        world.app.ui.chat.pane.scroll("top")
        world.screen()  # drawing the top asks for the page before it
        world.clock.advance(0)
    assert [m.id for m in conv.messages if m.id] == ids
    assert not conv.has_more
    assert "— beginning of the conversation —" in world.screen()
    assert "bob: old m00000" in world.screen()


def test_a_connection_that_comes_and_goes_is_one_line() -> None:
    """Each presence change of a member left a notice in the room shown: someone
    reconnecting in a loop filled the conversation with "bob is online/offline",
    pushing the messages out of sight (and, at the limit, out of what is kept)."""
    state = _room_with_history(3)
    state.set_members(ROOM, [{"user_id": BOB, "username": "bob", "role": "member"}])
    for i in range(100):
        kind = "user_online" if i % 2 else "user_offline"
        state.apply_event({"type": kind, "user_id": BOB, "username": "bob"})
    lines = [m.content for m in state.current_conversation.messages]
    assert lines == ["line 0", "line 1", "line 2", "bob is online"]
    now = "2025-01-21T12:30:00Z"  # the state's clock: notices and message in order
    state.receive_message(message("m3", BOB, "back", room_id=ROOM, created_at=now))
    state.apply_event({"type": "user_offline", "user_id": BOB, "username": "bob"})
    lines = [m.content for m in state.current_conversation.messages]
    assert lines[-3:] == ["bob is online", "back", "bob is offline"]


def test_a_flood_of_direct_messages_is_one_line_in_the_room_shown() -> None:
    """Each DM arriving while a room was shown left a line in that room: someone
    sending 200 DMs pushed the room's own conversation out of sight."""
    state = _room_with_history(1)
    for i in range(200):
        state.receive_message(message(f"d{i}", BOB, f"spam {i}", to=ME))
    lines = [m.content for m in state.current_conversation.messages]
    assert lines == ["line 0", "New DM from bob (200 unread) - /dm bob to reply"]
    assert state.conversations[("dm", BOB)].unread == 200


def test_a_frame_nested_too_deep_is_dropped_and_the_next_one_read() -> None:
    """A frame of arrays nested deeper than Python's stack made the JSON parser raise
    RecursionError, which is not ValueError: it escaped the codec, and Twisted
    dropped the connection (to reconnect and meet the same frame again)."""
    channel, transport, handlers = tcp_channel()
    deep = b"[" * 100_000 + b"]" * 100_000
    channel.dataReceived(frame(deep) + frame(b'{"type":"pong"}'))
    assert handlers.frames == [{"type": "pong"}]
    assert not transport.disconnecting


def test_a_rest_answer_nested_too_deep_is_an_error_not_a_crash() -> None:
    """The REST client parsed answers with its own json.loads, which let the same
    RecursionError out; it now reads them by the codec's rule, and a proxy's or a
    broken server's answer becomes the HTTP error it is."""
    http, _ = api(Response(502, b"[" * 100_000))
    failure = run(http.login("alice", "pw"))
    assert isinstance(failure.value, ServerError)
    assert failure.value.code == "http_502"
    http, _ = api(Response(200, b"[" * 100_000))
    assert run(http.me()) == {}


def test_a_presence_change_redraws_one_row_of_the_people_panel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every update made a widget for each person in the panel: with 5,000 people
    a presence change cost 80 ms, and a busy server sends many. Rows that show the
    same are kept; an update that changes nothing in the panel redraws nothing."""
    state = alice_and_bob()
    people = [{"user": user(f"u{i:04d}", f"user{i:04d}"), "online": True} for i in range(2000)]
    state.set_users(people)
    panel = PeoplePanel()
    panel.update(state)
    made: list[object] = []
    real = people_module.SafeLine

    def counting(*args: object, **kwargs: object) -> object:
        made.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(people_module, "SafeLine", counting)
    state.set_online("u0500", "user0500", False)
    panel.update(state)
    # the person, the two headers whose counts changed, and the count of the online
    # people not listed (PANEL_SECTION are)
    assert sorted(str(m[0]) for m in made) == sorted(
        [
            str(("header", "─ Online (2000) ─")),
            str(("header", "─ Offline (1) ─")),
            str([" ", ("offline", "○ "), "user0500"]),
            str(("header", "─ … 1,800 more: /dm NAME ─")),
        ]
    )
    made.clear()
    state.notify("nothing for the panel")
    panel.update(state)
    assert made == []
    assert "○ user0500" in "\n".join(render_text(panel, 26, 2010))


def test_a_flood_of_invitations_is_one_line_in_the_room_shown() -> None:
    """Like DMs: each invitation left a line in the conversation shown, so someone
    inviting you to 100 rooms of theirs pushed it out of sight."""
    state = _room_with_history(1)
    for i in range(100):
        invitation = {
            "id": f"i{i}",
            "room_id": f"r{i}",
            "room_name": f"spam{i}",
            "inviter_id": BOB,
            "inviter_name": "bob",
            "created_at": "2025-01-21T12:00:00Z",
        }
        state.apply_event({"type": "invitation_received", "invitation": invitation})
    lines = [m.content for m in state.current_conversation.messages]
    assert lines == ["line 0", "bob invited you to #spam99 - press I to answer (100 waiting)"]
    assert len(state.invitations) == 100


def test_someone_joining_and_leaving_in_a_loop_is_one_line() -> None:
    state = _room_with_history(1)
    for _ in range(50):
        state.apply_event(
            {
                "type": "user_joined_room",
                "room_id": ROOM,
                "user": user(BOB, "bob"),
                "membership": {"role": "member"},
            }
        )
        state.apply_event(
            {"type": "user_left_room", "room_id": ROOM, "user_id": BOB, "reason": "left"}
        )
    lines = [m.content for m in state.current_conversation.messages]
    assert lines == ["line 0", "bob left the room"]


def test_an_answer_too_big_or_never_finished_is_an_error() -> None:
    """The REST client read an answer's body whole, however big, and for as long as
    it took: a wrong --http-url serving a large file, or trickling one, filled the
    memory or hung the request (the timeout covered the headers only)."""
    http, _ = api(Response(200, b" " * (MAX_BODY + 1)))
    error = run(http.me()).value
    assert isinstance(error, ServerError) and error.code == "too_large"
    assert "sent an answer over 8 MiB" in error.describe()
    http, _ = api(Response(200, b'{"user":', stall=True))
    pending = defer.ensureDeferred(http.me())
    assert not pending.called
    http._reactor.advance(http.timeout + 1)
    error = outcome(pending).value
    assert isinstance(error, ServerError) and error.code == "timeout"


def test_timestamps_at_the_edges_of_the_calendar_neither_raise_nor_stop_redraws() -> None:
    """From a broken or hostile server: "0001-01-01T00:00:00+14:00" made parse_time
    raise OverflowError (it promises never to), so the message was dropped; year 1
    shown in a zone west of UTC (or year 9999 east of it) made format_clock raise
    while drawing, and every later redraw of the conversation failed."""
    fallback = datetime(2025, 1, 21, tzinfo=UTC)
    assert parse_time("0001-01-01T00:00:00+14:00", fallback) == fallback
    west, east = timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))
    first = parse_time("0001-01-01T00:00:00Z")
    assert format_clock(first, tz=west) == "0001-01-01 00:00 UTC"
    assert format_clock(parse_time("9999-12-31T23:59:59Z"), tz=east) == "9999-12-31 23:59 UTC"
    assert format_clock(first, tz=east) == "0001-01-01 09:00"


def test_an_empty_people_panel_says_so() -> None:
    """The panel's first update with no one else skipped drawing (nothing changed),
    so its "No one else yet" never showed."""
    state = ClientState()
    state.logged_in(user(ME, "alice"))
    panel = PeoplePanel()
    panel.update(state)
    assert "No one else yet" in "\n".join(render_text(panel, 26, 4))


def test_a_port_that_is_not_lairchat_says_so() -> None:
    """Found in tmux with --server aimed at an SSH-like service: its banner read as a
    frame of 1.4 GB, the client dropped the connection and said only "Cannot
    connect to 127.0.0.1:PORT (connection lost)"."""
    channel, transport, handlers = tcp_channel()
    channel.dataReceived(b"SSH-2.0-OpenSSH_9.6\r\n")
    assert transport.disconnecting
    channel.connectionLost(Failure(ConnectionLost()))
    assert handlers.closed == [
        "it sent a frame of 1397966893 bytes, over the 1 MiB limit: is that the lairchat TCP port?"
    ]


def test_moving_in_the_members_of_a_huge_room_restyles_two_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The members box made every row again at each key and event: in a room of
    10,000 members each ``j`` took over half a second. Its rows are now made once,
    and moving the selection restyles the row left and the row reached."""
    world = World()
    world.api.members_list[ROOM] = [
        {"user_id": f"u{i}", "username": f"user{i:05d}", "role": "member", "is_online": False}
        for i in range(5000)
    ]
    world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    world.app.ui.keypress((110, 24), "esc")
    world.app.ui.keypress((110, 24), "m")
    made: list[int] = []
    real = overlays_module.SafeLine

    def counting(*args: object, **kwargs: object) -> object:
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(overlays_module, "SafeLine", counting)
    for _ in range(3):
        world.app.ui.keypress((110, 24), "j")
    world.app.link_event(
        {"type": "user_typing", "user_id": "u7", "target": {"type": "room", "room_id": ROOM}}
    )
    assert made == []
    screen = world.screen()
    box = world.app.ui.overlay
    assert isinstance(box, MembersOverlay)
    styled = [i for i, line in enumerate(box.walker) if line.get_attr_map() == {None: "selected"}]
    assert styled == [4]  # the header, then user00000…: the fourth member
    assert "user00003" in screen


def test_typing_in_rooms_never_seen_makes_no_conversations() -> None:
    """Each typing event made a conversation for the room or DM it named, kept for
    the whole session and gone through at every redraw (the unread counts): a
    server naming 10,000 rooms made 10,000. Typing is now kept only for rooms and
    people the client knows."""
    state = alice_and_bob()
    state.open(("room", ROOM))
    before = set(state.conversations)
    for i in range(10_000):
        state.apply_event(
            {"type": "user_typing", "user_id": BOB, "target": {"type": "room", "room_id": f"r{i}"}}
        )
        state.apply_event(
            {"type": "user_typing", "user_id": f"u{i}", "target": {"type": "dm", "recipient": ME}}
        )
    assert set(state.conversations) == before
    state.apply_event(
        {"type": "user_typing", "user_id": BOB, "target": {"type": "room", "room_id": ROOM}}
    )
    assert state.typing_names() == ["bob"]


def test_answers_and_events_of_the_wrong_shape_neither_drop_the_link_nor_crash() -> None:
    """A refusal whose ``error`` is a bare string, and a ``message_received`` whose
    message is not an object, raised out of the frame handler, which drops the
    connection (and the client reconnected, to be sent the same again); a send
    answered without a message object showed ``Internal error``. The refusal is
    now shown with its words, the answer without a message marks the line, and the
    event is logged and left."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    world.app.dispatch(c.SendMessage("first"))
    world.opener.answer("send_message", success=False, error="Slow down")
    world.app.dispatch(c.SendMessage("second"))
    world.opener.answer("send_message", success=True, message="m1")
    world.opener.handlers.frame_received({"type": "message_received", "message": "x"})
    world.opener.handlers.frame_received(
        {"type": "message_received", "message": {"id": "m2", "target": "room"}}
    )
    assert world.app.link is not None and world.app.link.online
    assert world.opener.channel is not None and not world.opener.channel.aborted
    screen = world.screen()
    assert "first  [not sent: Slow down]" in screen
    assert "second  [not sent: the server's answer holds no message]" in screen
    assert "Internal error" not in screen


def test_moving_in_a_list_of_thousands_of_rooms_makes_two_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The room list made every row again at each key and event: with 10,000 rooms
    each ``j`` took a quarter of a second. A row is now made again only when what it
    shows changes: a move makes the row left and the row reached."""
    world = World()
    world.api.rooms_list = [
        {"room": room(f"r{i}", f"room{i:05d}"), "member_count": 3, "is_member": False}
        for i in range(3000)
    ]
    world.login()
    world.app.dispatch(c.ShowRooms())
    made: list[int] = []
    real = rooms_module.SafeLine

    def counting(*args: object, **kwargs: object) -> object:
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(rooms_module, "SafeLine", counting)
    world.app.ui.keypress((110, 24), "j")
    assert len(made) == 2
    world.app.link_event({"type": "user_online", "user_id": BOB, "username": "bob"})
    assert len(made) == 2
    assert "> room00001  (3 members)" in world.screen()


def test_an_item_of_the_wrong_shape_leaves_the_rest_of_its_list() -> None:
    """One item of the wrong shape in a REST list (a string for a user, a count
    that is not a number, settings that are not an object) made the whole list an
    ``Internal error``: no users, no rooms. Such items are now skipped or read as
    empty, and the rest of the list is shown."""
    world = World()
    world.api.users_list = ["x", {"user": "bob"}, {"user": user(BOB, "bob"), "online": True}]
    world.api.rooms_list = [
        "x",
        {"room": "general"},
        {"room": {**room("r-a", "alpha"), "settings": "x"}, "member_count": "many"},
    ]
    world.api.joined_list = [{"room": room(ROOM, "general"), "member_count": 2}, 7]
    world.api.invitation_list = ["x"]
    world.api.members_list[ROOM] = ["x", {"user_id": BOB, "username": "bob", "role": "member"}]
    world.api.unread_counts = {"by_room": "x", "by_dm": [1]}
    world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    assert [n.text for n in world.state.notices if n.level == "error"] == []
    assert "─ Members (1) ─" in world.screen() and "○ bob" in world.screen()
    world.app.dispatch(c.ShowRooms())
    screen = world.screen()
    assert "alpha  (0 members)" in screen and "general  (" in screen


def test_a_message_of_megabytes_is_shown_cut_and_copied_whole() -> None:
    """A server may send a message far longer than lairchat accepts (4096 bytes):
    one of 500,000 characters froze the client for 100 s while urwid laid it out,
    100,000 zero-width spaces for over two minutes, 50,000 lines made every redraw
    take half a second. A message is now shown up to 8,192 characters and 500
    lines, saying how much is not shown; ``y`` still copies all of it."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    huge = "\u200b" * 500_000
    lines = "\n".join(["a"] * 50_000)
    for mid, text in (("m1", huge), ("m2", lines)):
        world.app.link_event(
            {"type": "message_received", "message": message(mid, BOB, text, room_id=ROOM)}
        )
    conv = world.state.current_conversation
    assert [m.content for m in conv.messages if m.id] == [huge, lines]  # kept whole
    _, body = message_markup(conv.messages[-2], False)
    assert body[2] == huge[:SHOWN_MAX]
    assert body[3] == ("hint", "  [… 491,808 more characters not shown]")
    _, body = message_markup(conv.messages[-1], False)
    assert body[2].count("\n") == SHOWN_LINES - 1
    assert "not shown]" in world.screen()
    world.app.ui.keypress((110, 24), "esc")
    world.app.ui.keypress((110, 24), "y")
    assert world.copied == [lines]


def test_a_name_of_thousands_of_characters_is_cut_in_its_messages() -> None:
    """Each message by someone a server named with 200,000 characters took 5 s to lay
    out (lairchat's names are at most 32). The name is shown up to 256 of them."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    name = "n" * 200_000
    world.app.link_event({"type": "user_online", "user_id": "u-big", "username": name})
    world.app.link_event(
        {"type": "message_received", "message": message("m1", "u-big", "hi", room_id=ROOM)}
    )
    msg = world.state.current_conversation.messages[-1]
    _, body = message_markup(msg, False)
    assert body[0] == ("author", "n" * NAME_MAX + "…")
    assert world.state.users["u-big"].username == name


@pytest.mark.parametrize("name", [["x"], {"a": 1}, 5])
def test_an_author_name_that_is_not_a_string_does_not_freeze_the_screen(name: object) -> None:
    """A ``message_received`` whose ``author_username`` was a list, an object or a
    number became the author's name, and every later redraw failed on it (logged as
    "drawing failed"): the screen stopped changing for the rest of the session.
    Such a name is now ignored, and the author named as for an unknown one."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    world.app.link_event(
        {
            "type": "message_received",
            "message": message("m1", "u-newcomer", "hi", room_id=ROOM),
            "author_username": name,
        }
    )
    assert "u-newcom: hi" in world.screen()


def test_a_sign_in_answer_whose_user_is_not_an_object_signs_in() -> None:
    """An ``authenticate_response`` whose ``user`` was a string raised out of the
    frame handler: the connection was dropped at every attempt to sign in."""
    world = World()
    world.app.dispatch(c.Login("127.0.0.1:8080", "me", "pw"))
    handlers, opened = world.opener.attempts[-1]
    channel = Channel()
    handlers.channel_open(channel)
    opened.callback(channel)
    handlers.frame_received(HELLO)
    handlers.frame_received(
        {"type": "authenticate_response", "request_id": "auth", "success": True, "user": "me"}
    )
    assert world.state.screen == "chat"
    assert world.app.link is not None and world.app.link.online and not channel.aborted


def test_a_notice_of_a_room_name_of_megabytes_is_cut() -> None:
    """An invitation to a room named with 300,000 characters, or a server notice as
    long, made a line in the conversation that took 20 to 30 s to lay out. Notice
    lines are cut as messages are."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    big = "r" * 300_000
    world.app.link_event({"type": "server_notice", "message": big, "severity": "info"})
    line = world.state.current_conversation.messages[-1]
    _, body = message_markup(line, False)
    assert body == [
        ("system", f"[server] {big}"[:SHOWN_MAX]),
        ("hint", "  [… 291,817 more characters not shown]"),
    ]
    assert "not shown]" in world.screen()


def test_a_burst_of_rooms_joined_elsewhere_lists_the_rooms_twice_not_per_event() -> None:
    """Each event saying we joined a room the client did not know fetched the room
    lists at once (up to 20 requests): a burst of 100 was 200 requests and more.
    One fetch runs at a time, and one more after it for what came meanwhile."""
    world = World()
    world.login()
    gate: defer.Deferred[None] = defer.Deferred()
    world.api.gates["rooms"] = gate
    world.api.calls.clear()
    for i in range(100):
        world.app.link_event(
            {
                "type": "user_joined_room",
                "room_id": f"r-new{i}",
                "user": user(ME, "me"),
                "membership": {"role": "member"},
            }
        )
    assert len(world.api.called("rooms")) == 1
    gate.callback(None)
    assert len(world.api.called("rooms")) == 2
    assert len(world.api.called("my_rooms")) == 2


def test_a_live_message_in_a_long_conversation_costs_the_message_not_the_history(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Scrolled up through thousands of messages (all kept), each live message sorted
    the whole conversation again and went through all of it for unknown authors:
    1,000 messages took 3.7 s with 11,000 kept. A message in order is now appended,
    and only its own author is looked up."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom(ROOM))
    page = [message(f"h{i}", BOB, f"x{i}", room_id=ROOM) for i in range(5000)]
    world.state.apply_history(("room", ROOM), page, True, older=True)
    keyed: list[int] = []
    real_order = conversations_module._order

    def counting(msg: object) -> object:
        keyed.append(1)
        return real_order(msg)  # type: ignore[arg-type]

    monkeypatch.setattr(conversations_module, "_order", counting)
    looked = []
    monkeypatch.setattr(world.state, "unknown_authors", lambda key: looked.append(key) or set())
    for i in range(10):
        world.app.link_event(
            {"type": "message_received", "message": message(f"n{i}", "u-new", "hi", room_id=ROOM)}
        )
    assert len(keyed) <= 20  # two per message; a sort was 5,000 each
    assert looked == []
    assert world.api.called("user") == [("u-new",)]  # the new author, asked once
    assert [m.id for m in world.state.current_conversation.messages[-2:]] == ["n8", "n9"]


def test_the_people_panel_lists_a_few_hundred_of_thousands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Presence events bring everyone online into the panel: with 20,000 people each
    key laid out 20,000 rows (0.1 s a key). Each section lists the first 200 by name
    and counts the rest; the title still counts everyone."""
    state = alice_and_bob()
    state.open(("room", ROOM))
    for i in range(20_000):
        state.set_online(f"u{i:05d}", f"user{i:05d}", i % 4 != 0)
    made: list[object] = []
    monkeypatch.setattr(
        state_module, "PanelRow", lambda *a, **k: made.append(a) or PanelRow(*a, **k)
    )
    panel = PeoplePanel()
    panel.update(state)
    assert len(made) <= 2 * 200 + 4
    text = "\n".join(render_text(panel, 40, 500))
    assert "People 15001/20001" in text  # bob too, online
    assert "─ Online (15001) ─" in text and "user00001" in text
    assert "─ … 14,801 more: /dm NAME ─" in text
    assert "─ Offline (5000) ─" in text and "─ … 4,800 more: /dm NAME ─" in text


def test_a_page_by_thousands_of_strangers_asks_about_fifty_at_once() -> None:
    """A history page of 3,000 messages (the server ignoring ``limit``) by as many
    authors the client did not know sent 3,000 requests for their names at once.
    It now asks about a page's worth (50) per page."""
    world = World()
    world.login()
    page = [message(f"m{i}", f"u-stranger{i:04d}", "hi", room_id=ROOM) for i in range(3000)]
    world.api.history_pages[("room", ROOM, None)] = (page, False)
    world.app.dispatch(c.JoinRoom(ROOM))
    assert len(world.api.called("user")) == 50
