"""The controller (lairchat/client/app.py): actions in, API calls and real-time
requests out, answers into the state. The REST API is an in-memory fake, the real-time
link runs on a fake channel answered by the test, time is a ``task.Clock``."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from twisted.internet import defer, task
from twisted.internet.error import ConnectionRefusedError

from lairchat.client import commands as c
from lairchat.client.app import App
from lairchat.client.config import ClientConfig
from lairchat.client.net.errors import ServerError
from lairchat.client.state import HOME
from lairchat.client.testing import FakeApi, message, render_text, room, session, user
from lairchat.client.ui.overlays import (
    ConfirmDialog,
    InvitationsOverlay,
    MembersOverlay,
    PasswordOverlay,
    RoomInvitationsOverlay,
    SessionsOverlay,
)

ME, BOB = "u-me", "u-bob"
ROOM = "r-general"
HELLO = {"type": "server_hello", "version": "1.0", "features": ["encryption"]}


class Channel:
    can_encrypt = True
    description = "fake"

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.aborted = False

    def send(self, msg: dict[str, Any]) -> None:
        self.sent.append(msg)

    def start_encryption(self, cipher: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        self.aborted = True

    def last(self, kind: str) -> dict[str, Any]:
        return [m for m in self.sent if m["type"] == kind][-1]


class Opener:
    def __init__(self) -> None:
        self.attempts: list[tuple[Any, defer.Deferred]] = []
        self.channel: Channel | None = None

    def __call__(self, handlers: Any) -> defer.Deferred:
        d: defer.Deferred = defer.Deferred()
        self.attempts.append((handlers, d))
        return d

    @property
    def handlers(self) -> Any:
        return self.attempts[-1][0]

    def accept(self) -> Channel:
        handlers, d = self.attempts[-1]
        self.channel = Channel()
        handlers.channel_open(self.channel)
        d.callback(self.channel)
        handlers.frame_received(HELLO)
        handlers.frame_received(
            {
                "type": "authenticate_response",
                "request_id": "auth",
                "success": True,
                "user": user(ME, "me"),
            }
        )
        return self.channel

    def answer(self, kind: str, **fields: Any) -> None:
        assert self.channel is not None
        request = self.channel.last(kind)
        self.handlers.frame_received(
            {"type": f"{kind}_response", "request_id": request["request_id"], **fields}
        )


class World:
    def __init__(self, config: ClientConfig | None = None) -> None:
        self.clock = task.Clock()
        self.clock.advance(1_737_460_800)
        self.api = FakeApi()
        self.api.me_user = user(ME, "me")
        self.api.users_list = [
            {"user": user(ME, "me"), "online": True},
            {"user": user(BOB, "bob"), "online": True},
        ]
        self.api.rooms_list = [
            {"room": room(ROOM, "general"), "member_count": 1, "is_member": False}
        ]
        self.opener = Opener()
        self.exited = False
        self.copied: list[str] = []
        self.app = App(
            config or ClientConfig(),
            self.clock,
            api_factory=lambda cfg: self.api,
            opener_factory=lambda cfg: self.opener,
            on_exit=self.exit,
            clipboard=self.copied.append,
        )
        self.app.start()
        self.state = self.app.state

    def exit(self) -> None:
        self.exited = True

    def login(self) -> Channel:
        self.app.dispatch(c.Login("127.0.0.1:8080", "me", "pw"))
        channel = self.opener.accept()
        return channel

    def notice(self) -> str:
        latest = self.state.latest_notice()
        return latest.text if latest else ""

    def screen(self) -> str:
        return "\n".join(render_text(self.app.ui, 110, 24))


@pytest.fixture
def world() -> World:
    return World()


def test_login_connects_authenticates_and_loads_lists(world: World) -> None:
    assert world.state.screen == "login"
    world.app.dispatch(c.Login("127.0.0.1:8080", "me", "pw"))
    assert world.api.called("login") == [("me", "pw")]
    assert world.app.ui.activity == "Connecting (TCP)…"
    assert world.state.screen == "login"
    channel = world.opener.accept()
    assert channel.sent[-1] == {"type": "authenticate", "token": "token-1", "request_id": "auth"}
    assert world.state.screen == "chat"
    assert world.state.connection.state == "online"
    assert set(world.state.users) == {ME, BOB}
    assert world.state.rooms[ROOM].name == "general"
    assert {n for n, _ in world.api.calls} >= {"users", "rooms", "my_rooms", "invitations", "me"}
    assert "Welcome, me!" in world.screen()
    assert "● online │ TCP │ me" in world.screen()


def test_bad_password_stays_on_the_login_screen(world: World) -> None:
    world.api.fail["login"] = ServerError("invalid_credentials", "Invalid credentials", status=401)
    world.app.dispatch(c.Login("127.0.0.1:8080", "me", "nope"))
    assert world.state.screen == "login"
    assert world.notice() == "Login failed: Invalid credentials"
    assert world.opener.attempts == []
    assert "Login failed: Invalid credentials" in world.screen()


def test_a_refused_password_is_cleared_for_the_retry(world: World) -> None:
    """Typing the password again must replace the rejected one, not extend it (each
    failure counts toward the server's lockout)."""
    login = world.app.ui.login
    size = (110, 24)

    def type_and_submit(text: str) -> None:
        for key in text:
            world.app.ui.keypress(size, key)
        world.app.ui.keypress(size, "enter")

    world.api.fail["login"] = ServerError("invalid_credentials", "Invalid credentials", status=401)
    type_and_submit("me")
    type_and_submit("wrong")
    assert world.notice() == "Login failed: Invalid credentials"
    assert (login.username.edit.edit_text, login.password.edit.edit_text) == ("me", "")
    assert "▸ Password" in world.screen()
    del world.api.fail["login"]
    type_and_submit("right")
    assert world.api.called("login") == [("me", "wrong"), ("me", "right")]


def test_other_login_failures_keep_the_password(world: World) -> None:
    login = world.app.ui.login
    login.password.edit.set_edit_text("secret")
    world.api.fail["login"] = ServerError("rate_limited", "Too many", status=429, retry_after=9)
    world.app.dispatch(c.Login("127.0.0.1:8080", "me", "secret"))
    assert login.password.edit.edit_text == "secret"


def test_websocket_mode_shows_and_edits_the_websocket_url() -> None:
    world = World(ClientConfig(websocket=True, http_url="http://127.0.0.1:8082"))
    assert "Server    ws://127.0.0.1:8082/ws" in world.screen()
    assert "127.0.0.1:8080" not in world.screen()
    world.app.dispatch(c.Login("ws://127.0.0.1:9002/ws", "me", "pw"))
    assert world.app.config.http_url == "http://127.0.0.1:9002"
    world.opener.attempts[-1][1].errback(ConnectionRefusedError())
    assert world.notice() == "Cannot connect to ws://127.0.0.1:9002/ws (connection refused)"


def test_a_silent_realtime_port_suggests_tls(world: World) -> None:
    """A TLS port reached over plain TCP stays silent: say so instead of waiting."""
    world.app.dispatch(c.Login("127.0.0.1:8080", "me", "pw"))
    handlers, d = world.opener.attempts[-1]
    channel = Channel()
    handlers.channel_open(channel)
    d.callback(channel)
    assert world.state.connection.state == "handshaking"
    world.clock.advance(15)
    assert world.state.screen == "login"
    assert world.notice() == (
        "Could not sign in: The server sent no greeting within 15 s (a TLS port? then use --tls)"
    )


def test_server_down_and_rate_limits_are_explained(world: World) -> None:
    world.api.fail["register"] = ServerError(
        "unreachable", "Cannot reach the server at http://x (connection refused)"
    )
    world.app.dispatch(c.Register("127.0.0.1:8080", "me", "me@x.y", "password1"))
    assert world.notice() == (
        "Registration failed: Cannot reach the server at http://x (connection refused)"
    )
    world.api.fail["register"] = ServerError("rate_limited", "Too many", status=429, retry_after=9)
    world.app.dispatch(c.Register("127.0.0.1:8080", "me", "me@x.y", "password1"))
    assert world.notice() == "Registration failed: Rate limited by the server: try again in 9 s"


def test_the_http_port_given_as_the_server_gets_a_hint(world: World) -> None:
    """The API is looked for at the server's port + 2, as the original client does;
    given the HTTP port (8082), the client knocked at 8084 and said only that
    nothing answered there. On the default port (a server not running) no hint."""
    world.api.fail["login"] = ServerError(
        "unreachable", "Cannot reach the server at http://127.0.0.1:8084 (connection refused)"
    )
    world.app.dispatch(c.Login("127.0.0.1:8082", "me", "pw"))
    assert world.app.config.http_url == "http://127.0.0.1:8084"
    assert world.notice() == (
        "Login failed: Cannot reach the server at http://127.0.0.1:8084 (connection refused)"
        " (is 8082 the server's HTTP port? The API is looked for at port + 2, 8084: give"
        " the TCP port, 8080 by default, or the API's address with --http-url)"
    )
    world.api.fail["login"] = ServerError(
        "unreachable", "Cannot reach the server at http://127.0.0.1:8082 (connection refused)"
    )
    world.app.dispatch(c.Login("127.0.0.1:8080", "me", "pw"))
    assert world.notice() == (
        "Login failed: Cannot reach the server at http://127.0.0.1:8082 (connection refused)"
    )


def test_realtime_port_closed_after_http_login(world: World) -> None:
    world.app.dispatch(c.Login("127.0.0.1:8080", "me", "pw"))
    world.opener.attempts[-1][1].errback(ConnectionRefusedError())
    assert world.state.screen == "login"
    assert world.notice() == "Cannot connect to 127.0.0.1:8080 (connection refused)"
    assert world.app.link is None


def test_invalid_server_address(world: World) -> None:
    world.app.dispatch(c.Login("no-port", "me", "pw"))
    assert world.notice().startswith("Invalid server address")
    assert world.api.calls == []


def test_join_by_name_opens_the_room_with_history_and_members(world: World) -> None:
    world.login()
    world.api.history_pages[("room", ROOM, None)] = (
        [message("m1", BOB, "welcome", room_id=ROOM, created_at="2025-01-21T11:59:00Z")],
        False,
    )
    world.api.members_list[ROOM] = [
        {"user_id": BOB, "username": "bob", "role": "owner", "is_online": True},
        {"user_id": ME, "username": "me", "role": "member", "is_online": True},
    ]
    world.app.dispatch(c.JoinRoom("General"))
    assert world.api.called("join_room") == [(ROOM,)]
    assert world.state.current == ("room", ROOM)
    assert [m.content for m in world.state.current_conversation.messages] == [
        "welcome",
        "You joined #general",
    ]
    assert world.state.my_role(ROOM) == "member"
    # Up to the newest message shown (not the server's newest, which may not be seen).
    assert ("mark_read", ("room", ROOM, "m1")) in world.api.calls
    screen = world.screen()
    assert "#general" in screen and "bob: welcome" in screen and "Members (2)" in screen


def test_a_conversation_showing_no_message_is_not_marked_read(world: World) -> None:
    """Without up_to the server marks its newest message read: a room whose history
    is empty (or failed to load) had a message stored meanwhile marked read unseen.
    Found by review of 3f3f156 (it sent no up_to when nothing was shown)."""
    world.login()
    world.api.history_pages[("room", ROOM, None)] = ([], False)
    world.app.dispatch(c.JoinRoom("General"))
    assert world.state.current == ("room", ROOM)
    assert world.api.called("mark_read") == []


def test_quitting_marks_read_up_to_the_newest_message_shown(world: World) -> None:
    """At the exit the shown conversation was marked read with no up_to (3f3f156
    changed only the switch): whatever the server stored last counted as read. Now
    up to the newest message shown, a pending send of ours (no id yet) passed over."""
    world.login()
    world.api.history_pages[("room", ROOM, None)] = (
        [message("m1", BOB, "welcome", room_id=ROOM, created_at="2025-01-21T11:59:00Z")],
        False,
    )
    world.app.dispatch(c.JoinRoom("General"))
    world.app.dispatch(c.SendMessage("on its way"))
    assert world.state.current_conversation.messages[-1].kind == "pending"
    world.api.calls.clear()
    world.app.dispatch(c.Quit(confirm=False))
    assert world.api.called("mark_read") == [("room", ROOM, "m1")]
    assert world.api.called("logout") == [()]


def test_unknown_room_name(world: World) -> None:
    world.login()
    world.app.dispatch(c.JoinRoom("nowhere"))
    assert world.notice() == "No room named 'nowhere' (r lists them)"


def test_create_room(world: World) -> None:
    world.login()
    world.app.dispatch(c.CreateRoom("lounge", private=True))
    assert world.api.called("create_room") == [("lounge", True)]
    assert world.state.current == ("room", "r-lounge")
    assert world.state.rooms["r-lounge"].role == "owner"


def test_sending_a_message_shows_it_at_once_then_confirms_it(world: World) -> None:
    channel = world.login()
    world.app.dispatch(c.JoinRoom("general"))
    world.app.dispatch(c.SendMessage("hello"))
    request = channel.last("send_message")
    assert request["target"] == {"type": "room", "room_id": ROOM}
    assert request["content"] == "hello"
    conv = world.state.current_conversation
    assert conv.messages[-1].kind == "pending"
    world.opener.answer(
        "send_message", success=True, message=message("m7", ME, "hello", room_id=ROOM)
    )
    assert [(m.kind, m.id) for m in conv.messages if m.kind != "system"] == [("user", "m7")]
    assert "me: hello" in world.screen()


def test_a_refused_message_is_marked(world: World) -> None:
    world.login()
    world.app.dispatch(c.JoinRoom("general"))
    world.app.dispatch(c.SendMessage("x"))
    world.opener.answer(
        "send_message",
        success=False,
        error={"code": "not_room_member", "message": "Not a member of this room"},
    )
    assert world.state.current_conversation.messages[-1].error == "Not a member of this room"


#: A lairchat message id (UUIDv7) minted at 2026-01-02T03:04:05Z.
UNCONFIRMED = "019b7ca9-8c88-7000-8000-000000000001"


def _unconfirmed_send(world: World, page: list[dict[str, Any]], more: bool) -> Any:
    """Send "x"; the server answers that it cannot tell whether it stored it
    (TCP.md, "Storage faults"), and its newest page of history is ``page``."""
    if world.state.current != ("room", ROOM):
        world.login()
        world.app.dispatch(c.JoinRoom("general"))
    world.api.history_pages[("room", ROOM, None)] = (page, more)
    world.app.dispatch(c.SendMessage("x"))
    world.opener.answer(
        "send_message",
        success=False,
        error={
            "code": "internal_error",
            "message": "Internal error",
            "details": {"stored": "unknown", "message_id": UNCONFIRMED},
        },
    )
    return world.state.current_conversation.messages[-1]


def test_a_send_the_server_could_not_confirm_is_found_in_history(world: World) -> None:
    """Shown as "Internal error", the user sent it again and it was there twice."""
    stored = message(UNCONFIRMED, ME, "x", room_id=ROOM, created_at="2026-01-02T03:04:05Z")
    line = _unconfirmed_send(world, [stored], more=True)
    assert (line.kind, line.id, line.error) == ("user", UNCONFIRMED, None)
    assert "[not sent:" not in world.screen()


def test_a_send_the_server_could_not_confirm_and_did_not_store_can_be_sent_again(
    world: World,
) -> None:
    older = message("m1", BOB, "before", room_id=ROOM, created_at="2026-01-02T03:04:00Z")
    line = _unconfirmed_send(world, [older], more=True)
    assert (line.kind, line.error) == ("failed", "the server lost it: send it again")
    line = _unconfirmed_send(world, [], more=False)
    assert (line.kind, line.error) == ("failed", "the server lost it: send it again")


def test_a_send_history_cannot_settle_says_to_look_first(world: World) -> None:
    """The newest page is all newer than the message: it may be further back."""
    newer = message("m9", BOB, "after", room_id=ROOM, created_at="2026-01-02T03:04:30Z")
    line = _unconfirmed_send(world, [newer], more=True)
    assert line.kind == "failed"
    assert line.error.startswith("the server may have stored it: look in history")
    world.api.fail["history"] = ServerError("timeout", "no answer")
    line = _unconfirmed_send(world, [], more=False)
    assert line.error.startswith("the server may have stored it")


def test_sending_needs_a_conversation(world: World) -> None:
    world.login()
    world.app.dispatch(c.SendMessage("hello?"))
    assert world.notice() == "Pick a room first (r) or start a DM with /dm USER"


def test_direct_messages(world: World) -> None:
    channel = world.login()
    world.app.dispatch(c.StartDM("BOB"))
    assert world.state.current == ("dm", BOB)
    assert world.api.called("history") == [("dm", BOB, None)]
    world.app.dispatch(c.SendMessage("psst"))
    assert channel.last("send_message")["target"] == {"type": "dm", "recipient": BOB}
    world.app.dispatch(c.StartDM("me"))
    assert world.notice() == "That is you: pick someone else to message"
    world.app.dispatch(c.StartDM("nobody"))
    assert world.notice() == "No user named 'nobody'"


def test_events_update_the_screen(world: World) -> None:
    world.login()
    world.app.dispatch(c.JoinRoom("general"))
    world.opener.handlers.frame_received(
        {
            "type": "message_received",
            "message": message("m9", BOB, "live!", room_id=ROOM),
            "author_username": "bob",
        }
    )
    assert "bob: live!" in world.screen()
    world.opener.handlers.frame_received(
        {
            "type": "message_received",
            "message": message("m10", BOB, "private", to=ME),
            "author_username": "bob",
        }
    )
    assert "New DM from bob (1 unread)" in world.screen()


def test_typing_is_sent_at_most_every_three_seconds(world: World) -> None:
    channel = world.login()
    world.app.dispatch(c.JoinRoom("general"))
    world.app.typing()
    world.app.typing()
    world.clock.advance(3)
    world.app.typing()
    typing = [m for m in channel.sent if m["type"] == "typing"]
    assert typing == [{"type": "typing", "target": {"type": "room", "room_id": ROOM}}] * 2


def test_scrolling_to_the_top_loads_older_messages(world: World) -> None:
    world.login()
    world.api.history_pages[("room", ROOM, None)] = (
        [message("m2", BOB, "two", room_id=ROOM), message("m1", BOB, "one", room_id=ROOM)],
        True,
    )
    world.api.history_pages[("room", ROOM, "m1")] = (
        [message("m0", BOB, "zero", room_id=ROOM)],
        False,
    )
    world.app.dispatch(c.JoinRoom("general"))
    world.app.load_older()
    world.clock.advance(0)
    assert world.api.called("history")[-1] == ("room", ROOM, "m1")
    contents = [m.content for m in world.state.current_conversation.messages if m.id]
    assert contents == ["zero", "one", "two"]
    assert not world.state.current_conversation.has_more


def test_paging_from_a_message_pruned_meanwhile_starts_from_the_newest(world: World) -> None:
    """Retention deletes old messages with no event: the oldest one shown may be gone
    when the pane asks for what came before it."""
    world.login()
    world.api.history_pages[("room", ROOM, None)] = (
        [message("m2", BOB, "two", room_id=ROOM), message("m1", BOB, "one", room_id=ROOM)],
        True,
    )
    world.app.dispatch(c.JoinRoom("general"))
    world.api.history_pages[("room", ROOM, "m1")] = ServerError(
        "message_not_found", "Message not found", status=404
    )
    world.api.history_pages[("room", ROOM, None)] = (
        [message("m2", BOB, "two", room_id=ROOM)],
        False,
    )
    world.app.load_older()
    world.clock.advance(0)
    assert world.api.called("history")[-2:] == [
        ("room", ROOM, "m1"),
        ("room", ROOM, None),
    ]
    contents = [m.content for m in world.state.current_conversation.messages if m.id]
    assert contents == ["two"]
    assert not world.state.current_conversation.has_more


def test_lost_connection_reconnects_and_refreshes_history(world: World) -> None:
    world.login()
    world.app.dispatch(c.JoinRoom("general"))
    history_calls = len(world.api.called("history"))
    world.opener.handlers.channel_closed("connection lost")
    assert world.state.connection.state == "waiting"
    assert world.state.connection.detail == "retry 1 in 1 s"
    assert "reconnecting" in world.screen()
    world.clock.advance(1.5)
    world.opener.accept()
    assert world.state.connection.state == "online"
    assert world.notice() == "Reconnected"
    assert len(world.api.called("history")) == history_calls + 1
    assert world.state.screen == "chat"


def test_reconnect_key(world: World) -> None:
    first = world.login()
    world.app.dispatch(c.Reconnect())
    assert first.aborted and len(world.opener.attempts) == 2


def test_expired_session_returns_to_login(world: World) -> None:
    world.login()
    world.api.fail["rooms"] = ServerError("token_expired", "Token has expired, please login again")
    world.app.dispatch(c.ShowRooms())
    assert world.state.screen == "login"
    assert world.notice() == "Your session has expired: please log in again"
    assert world.app.link is None
    assert "Your session has expired" in world.screen()


def test_invitations(world: World) -> None:
    world.api.invitation_list = [
        {"id": "i1", "room_id": "r-s", "room_name": "secret", "inviter_name": "bob"},
        {"id": "i2", "room_id": "r-t", "room_name": "club", "inviter_name": "bob"},
    ]
    world.login()
    assert world.notice() == "You have 2 pending invitations (I to view)"
    world.app.dispatch(c.ShowInvitations())
    assert isinstance(world.app.ui.overlay, InvitationsOverlay)
    assert "#secret" in world.screen()
    world.app.dispatch(c.DeclineInvitation("i2"))
    assert [i.id for i in world.state.invitations] == ["i1"]
    world.app.dispatch(c.AcceptInvitation("i1"))
    assert world.state.current == ("room", "r-s")
    assert world.app.ui.overlay is None
    assert world.notice() == "Joined #secret"


def test_invite_kick_and_roles(world: World) -> None:
    world.login()
    world.app.dispatch(c.Invite("bob"))
    assert world.notice() == "Open a room first (r)"
    world.api.members_list[ROOM] = [
        {"user_id": ME, "username": "me", "role": "owner", "is_online": True},
        {"user_id": BOB, "username": "bob", "role": "member", "is_online": True},
    ]
    world.app.dispatch(c.JoinRoom("general"))
    world.app.dispatch(c.Invite("bob"))
    assert world.api.called("invite") == [(ROOM, BOB)]
    world.app.dispatch(c.SetRole("bob", "moderator"))
    assert world.api.called("set_role") == [(ROOM, BOB, "moderator")]
    assert world.state.members[ROOM][BOB].role == "moderator"
    world.api.fail["kick"] = ServerError("permission_denied", "Permission denied", status=403)
    world.app.dispatch(c.Kick("bob"))
    assert world.notice() == "Could not remove bob: Permission denied"
    world.app.dispatch(c.Kick("carol"))
    assert world.notice() == "carol is not a member of this room"
    world.app.dispatch(c.ShowMembers())
    assert isinstance(world.app.ui.overlay, MembersOverlay)


def test_edit_and_delete_the_last_own_message(world: World) -> None:
    channel = world.login()
    world.api.history_pages[("room", ROOM, None)] = (
        [message("m1", ME, "tpyo", room_id=ROOM)],
        False,
    )
    world.app.dispatch(c.JoinRoom("general"))
    world.app.dispatch(c.EditLast("typo"))
    assert channel.last("edit_message")["message_id"] == "m1"
    world.opener.answer(
        "edit_message",
        success=True,
        message={**message("m1", ME, "typo", room_id=ROOM), "edited": True},
    )
    assert "me: typo (edited)" in world.screen()
    world.app.dispatch(c.DeleteLast())
    world.opener.answer("delete_message", success=True)
    assert world.state.last_own_message() is None


def test_leave_room(world: World) -> None:
    world.login()
    world.app.dispatch(c.JoinRoom("general"))
    world.app.dispatch(c.LeaveRoom())
    assert world.api.called("leave_room") == [(ROOM,)]
    assert world.state.current == HOME
    assert world.notice() == "You left #general"


def test_actions_need_a_login(world: World) -> None:
    world.app.dispatch(c.ShowRooms())
    assert world.notice() == "Log in first"


def test_quit_asks_first_then_logs_out(world: World) -> None:
    world.login()
    world.app.dispatch(c.Quit(confirm=True))
    assert isinstance(world.app.ui.overlay, ConfirmDialog)
    assert not world.exited
    world.app.ui.keypress((110, 24), "y")
    assert world.api.called("logout") == [()]
    assert world.exited and world.api.closed


def test_unexpected_errors_become_a_notice(world: World) -> None:
    world.login()
    world.api.fail["rooms"] = RuntimeError("bug")
    world.app.dispatch(c.ShowRooms())
    assert world.notice() == "Internal error (details in the log file)"


def test_copy_the_newest_message(world: World) -> None:
    world.login()
    world.api.history_pages[("room", ROOM, None)] = (
        [message("m1", BOB, "copy me", room_id=ROOM)],
        False,
    )
    world.app.dispatch(c.CopyLast())
    assert world.notice() == "No message to copy"
    world.app.dispatch(c.JoinRoom("general"))
    world.app.dispatch(c.CopyLast())
    assert world.copied == ["copy me"]


def test_a_dm_or_invitation_reaches_someone_beyond_the_users_loaded(world: World) -> None:
    """The client loads ten pages of users (1,000): ``/dm`` and ``/invite`` to
    anyone after them said "No user named". A name not known here is now asked of
    the server's user search (one request, not the ten pages again)."""
    world.login()
    zed = user("u-zed", "zed")
    world.api.unlisted_users = [
        {"user": user("u-zedd", "zedd"), "online": True},
        {"user": zed, "online": False},
    ]
    world.api.calls.clear()
    world.app.dispatch(c.StartDM("@Zed"))
    assert world.state.current == ("dm", "u-zed")
    assert world.api.called("search_users") == [("Zed",)]
    assert world.api.called("users") == []
    assert "DM: zed (offline)" in world.screen()
    world.app.dispatch(c.JoinRoom(ROOM))
    world.api.unlisted_users.append({"user": user("u-amy", "amy"), "online": True})
    world.app.dispatch(c.Invite("amy"))
    assert world.api.called("invite") == [(ROOM, "u-amy")]
    world.app.dispatch(c.StartDM("nobody"))
    assert world.notice() == "No user named 'nobody'"


# -- sessions: the password form, and why a session ended ---------------------------------

#: The error frame the server sends to the other sessions' connections after a
#: password change (docs/protocols/TCP.md §6), before it closes them.
PASSWORD_CHANGED = {
    "type": "error",
    "code": "session_not_found",
    "message": "Session ended: the password was changed",
}


def test_a_session_ended_by_a_password_change_says_why(world: World) -> None:
    """Found in a review of sessions: after a password change on another device the
    client said only "Your session has ended", the server's reason lost."""
    world.login()
    world.opener.handlers.frame_received(PASSWORD_CHANGED)
    assert world.state.screen == "login"
    assert world.notice() == "Session ended: the password was changed. Please log in again"
    assert "Session ended: the password was changed. Please log in again" in world.screen()
    assert world.app.link is None


def test_a_reconnect_refused_with_a_reason_says_why(world: World) -> None:
    """The connection dropped before the frame arrived: the server gives the same
    reason to the ``authenticate`` that follows."""
    world.login()
    world.opener.handlers.channel_closed("connection lost")
    world.clock.advance(1.5)
    handlers, d = world.opener.attempts[-1]
    channel = Channel()
    handlers.channel_open(channel)
    d.callback(channel)
    handlers.frame_received(HELLO)
    error = {k: PASSWORD_CHANGED[k] for k in ("code", "message")}
    handlers.frame_received(
        {"type": "authenticate_response", "request_id": "auth", "success": False, "error": error}
    )
    assert world.state.screen == "login"
    assert world.notice() == "Session ended: the password was changed. Please log in again"


@pytest.mark.parametrize(
    "message", ["Session not found or expired", "Session not found", "", "session_not_found"]
)
def test_a_session_ended_without_a_reason_keeps_the_generic_text(
    world: World, message: str
) -> None:
    world.login()
    world.opener.handlers.frame_received(
        {"type": "error", "code": "session_not_found", "message": message}
    )
    assert world.notice() == "Your session has ended: please log in again"


SIZE = (110, 24)


def open_by_command(world: World, command: str) -> Any:
    """``command`` typed in the message field: the box it opens."""
    for key in f"i{command}":
        world.app.ui.keypress(SIZE, key)
    world.app.ui.keypress(SIZE, "enter")
    return world.app.ui.overlay


def open_password_form(world: World) -> PasswordOverlay:
    form = open_by_command(world, "/password")
    assert isinstance(form, PasswordOverlay)
    return form


def type_lines(world: World, *texts: str) -> None:
    """Each text typed, then Enter (the next field; on the last, send)."""
    for text in texts:
        for key in text:
            world.app.ui.keypress(SIZE, key)
        world.app.ui.keypress(SIZE, "enter")


def test_the_password_is_changed_and_this_session_stays(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Neither client could change the password (the way to lock out whoever holds a
    stolen token). ``/password`` opens a masked form; the server keeps the session
    that made the change, so the token and the real-time link stay as they are."""
    caplog.set_level(logging.DEBUG)
    world.login()
    form = open_password_form(world)
    for key in "old-secret":
        world.app.ui.keypress(SIZE, key)
    assert "old-secret" not in world.screen() and "▸ Current   **********" in world.screen()
    type_lines(world, "", "new-secret-1", "new-secret-1")
    assert world.api.called("change_password") == [("old-secret", "new-secret-1")]
    assert world.app.ui.overlay is None
    assert world.notice() == "Password changed; your other sessions have ended"
    assert world.state.screen == "chat"
    assert world.app.link is not None and world.app.link.online
    assert world.api.token == "token-1"
    # Nothing of the passwords is kept: not in the form, the message field, the log.
    assert [f.edit.edit_text for f in form.fields] == ["", "", ""]
    assert world.app.ui.chat.edit.edit_text == ""
    assert "secret" not in caplog.text
    # The link goes on: a message is sent on it.
    world.app.dispatch(c.JoinRoom("general"))
    world.app.dispatch(c.SendMessage("still here"))
    assert world.opener.channel.last("send_message")["content"] == "still here"


@pytest.mark.parametrize(
    ("refusal", "shown"),
    [
        (
            ServerError("incorrect_password", "Current password incorrect", status=400),
            "Current password incorrect",
        ),
        (
            ServerError(
                "password_too_weak",
                "Password too weak: password must be at least 8 characters",
                status=400,
            ),
            "Password too weak: password must be at least 8 characters",
        ),
        (
            ServerError("rate_limited", "Too many requests", status=429, retry_after=42),
            "Rate limited by the server: try again in 42 s",
        ),
        (
            ServerError(
                "validation_failed",
                "Validation failed: new_password - must be a string",
                status=400,
            ),
            "Validation failed: new_password - must be a string",
        ),
    ],
)
def test_a_refused_password_change_says_why_in_the_form(
    world: World, refusal: ServerError, shown: str
) -> None:
    world.login()
    world.api.fail["change_password"] = refusal
    form = open_password_form(world)
    type_lines(world, "wrong-one", "short", "short")
    assert world.app.ui.overlay is form and not form.busy
    assert f"Password not changed: {shown}" in world.screen()
    assert world.notice() == f"Password not changed: {shown}"
    # The passwords went with the request; the user types them again, from the top.
    assert [f.edit.edit_text for f in form.fields] == ["", "", ""]
    assert "▸ Current" in world.screen()
    assert world.state.screen == "chat" and world.app.link.online
    del world.api.fail["change_password"]
    type_lines(world, "right-one", "long enough", "long enough")
    assert world.api.called("change_password")[-1] == ("right-one", "long enough")
    assert world.app.ui.overlay is None


def test_a_confirmation_that_differs_sends_nothing(world: World) -> None:
    world.login()
    form = open_password_form(world)
    type_lines(world, "old-secret", "new-secret-1", "new-secret-2")
    assert world.api.called("change_password") == []
    assert "The new password and its confirmation differ: type them again" in world.screen()
    assert [f.edit.edit_text for f in form.fields] == ["old-secret", "", ""]
    assert "▸ New" in world.screen()
    world.app.ui.keypress(SIZE, "esc")
    assert world.app.ui.overlay is None
    assert [f.edit.edit_text for f in form.fields] == ["", "", ""]


def test_a_password_is_pasted_into_the_form(world: World) -> None:
    """From a password manager: a paste is text of the field (other boxes ignore one,
    whose letters would be their keys), its newline not sending the form."""
    world.login()
    form = open_password_form(world)
    for key in ["begin paste", *"pasted-secret", "enter", "end paste"]:
        world.app.ui.keypress(SIZE, key)
    assert form.fields[0].edit.edit_text == "pasted-secret"
    assert world.api.called("change_password") == []


def test_a_session_lost_while_changing_the_password_goes_to_the_login(world: World) -> None:
    world.login()
    world.api.fail["change_password"] = ServerError(
        "session_not_found", "Session not found or expired", status=401
    )
    open_password_form(world)
    type_lines(world, "old-secret", "new-secret-1", "new-secret-1")
    assert world.state.screen == "login"
    assert world.app.ui.overlay is None
    assert world.notice() == "Your session has ended: please log in again"


# -- sessions ------------------------------------------------------------------------------


def open_sessions(world: World) -> SessionsOverlay:
    box = open_by_command(world, "/sessions")
    assert isinstance(box, SessionsOverlay)
    return box


def press(world: World, *keys: str) -> None:
    for key in keys:
        world.app.ui.keypress(SIZE, key)


def test_another_session_is_ended_from_the_list(world: World) -> None:
    """A token left on another machine, or stolen, can be cut off without changing
    the password (which ends every other session): ``/sessions``, select it, ``x``,
    ``y``. This session and its link stay."""
    world.api.session_list = [
        session("s-this", current=True, created_at="2025-01-21T11:59:00Z"),
        session("s-laptop", created_at="2025-01-21T08:00:00Z"),
    ]
    world.login()
    box = open_sessions(world)
    assert world.api.called("sessions") == [()]
    assert "Sessions (2)" in world.screen() and "· this one" in world.screen()
    press(world, "j", "x")
    assert world.api.called("end_session") == []  # asked first
    press(world, "y")
    assert world.api.called("end_session") == [("s-laptop",)]
    assert world.notice() == "Session ended: its device is signed out"
    assert world.app.ui.overlay is box and "Sessions (1)" in world.screen()
    assert [s.id for s in world.state.sessions or []] == ["s-this"]
    assert world.state.screen == "chat" and world.app.link is not None and world.app.link.online
    assert world.api.token == "token-1"


def test_each_session_says_when_it_was_last_used_and_from_where(world: World) -> None:
    """lairchat lists each session's last use, address and User-Agent (helper-77's
    note: the clients showed none of it). Shown as text: a hostile User-Agent is
    marked, not obeyed."""
    world.api.session_list = [
        session("s-this", current=True, address="127.0.0.1", agent="lairchat-client"),
        session("s-phone", address="203.0.113.9", agent="Mozilla/5.0\x1b[2J (Phone)"),
        session("s-tcp", address="198.51.100.7"),
    ]
    world.login()
    open_sessions(world)
    screen = world.screen()
    assert "last used" in screen
    assert "from 127.0.0.1 · lairchat-client" in screen
    assert "from 203.0.113.9 · Mozilla/5.0" in screen and "\x1b" not in screen
    assert "from 198.51.100.7" in screen


def test_the_palette_opens_the_sessions(world: World) -> None:
    """The palette closes as it runs the entry: the box that entry opens stays."""
    world.login()
    press(world, "ctrl p", *"sessions", "enter")
    assert isinstance(world.app.ui.overlay, SessionsOverlay)
    assert world.api.called("sessions") == [()]


def test_ending_this_session_is_a_logout(world: World) -> None:
    world.api.session_list = [session("s-this", current=True)]
    world.login()
    open_sessions(world)
    press(world, "x")
    assert "End this session (you will be logged out)?" in world.screen()
    press(world, "enter")
    assert world.api.called("end_session") == [("s-this",)]
    assert world.state.screen == "login" and world.app.ui.overlay is None
    assert world.app.link is None and world.api.token is None
    assert world.notice() == "You ended this session: logged out"
    # Quitting now ends no session again (there is none).
    world.app.quit()
    assert world.exited and world.api.called("logout") == []


def test_a_session_ended_meanwhile_is_refused_in_the_servers_words(world: World) -> None:
    """Ended elsewhere between the listing and ``x``: the server's 404 ``not_found``
    is shown as it says it (not as a lost session of ours: we stay signed in), and
    the list is fetched again."""
    world.api.session_list = [session("s-this", current=True), session("s-gone")]
    world.login()
    open_sessions(world)
    world.api.fail["end_session"] = ServerError("not_found", "Session not found", status=404)
    world.api.session_list = [session("s-this", current=True)]
    press(world, "j", "x", "y")
    assert world.notice() == "Could not end the session: Session not found"
    assert world.state.screen == "chat"
    assert len(world.api.called("sessions")) == 2
    assert [s.id for s in world.state.sessions or []] == ["s-this"]


def test_sessions_that_cannot_be_listed_close_the_box(world: World) -> None:
    world.login()
    world.api.fail["sessions"] = ServerError(
        "rate_limited", "Too many requests", status=429, retry_after=7
    )
    world.app.dispatch(c.ShowSessions())
    assert world.app.ui.overlay is None
    assert (
        world.notice()
        == "Could not list your sessions: Rate limited by the server: try again in 7 s"
    )


def test_a_session_lost_while_ending_another_goes_to_the_login(world: World) -> None:
    world.api.session_list = [session("s-this", current=True), session("s-other")]
    world.login()
    open_sessions(world)
    world.api.fail["end_session"] = ServerError(
        "session_not_found", "Session not found or expired", status=401
    )
    press(world, "j", "x", "y")
    assert world.state.screen == "login" and world.app.link is None
    assert world.notice() == "Your session has ended: please log in again"


# -- a room's pending invitations --------------------------------------------------------------


def pending(inv_id: str, invitee: str, inviter: str = "me") -> dict[str, Any]:
    return {
        "id": inv_id,
        "room_id": ROOM,
        "room_name": "general",
        "inviter_id": ME,
        "inviter_name": inviter,
        "invitee_id": f"u-{invitee}",
        "invitee_name": invitee,
        "status": "pending",
        "created_at": "2025-01-21T11:00:00Z",
        "expires_at": "2025-01-28T11:00:00Z",
    }


def in_general_as(world: World, role: str) -> None:
    world.api.members_list[ROOM] = [
        {"user_id": ME, "username": "me", "role": role, "is_online": True},
        {"user_id": BOB, "username": "bob", "role": "member", "is_online": True},
    ]
    world.login()
    world.app.dispatch(c.JoinRoom("general"))


def test_an_owner_revokes_a_pending_invitation_from_the_members_box(world: World) -> None:
    world.api.room_invitation_lists[ROOM] = [
        pending("i-carol", "carol", inviter="bob"),
        pending("i-dave", "dave"),
    ]
    in_general_as(world, "owner")
    press(world, "esc")  # normal mode (joining left the message field taking text)
    press(world, "m", "I")
    assert isinstance(world.app.ui.overlay, RoomInvitationsOverlay)
    assert world.api.called("room_invitations") == [(ROOM,)]
    assert "Pending invitations to #general (2)" in world.screen()
    assert "@carol" in world.screen() and "invited by bob" in world.screen()
    press(world, "x")
    assert "Revoke the invitation of carol?" in world.screen()
    assert world.api.called("revoke") == []
    press(world, "y")
    assert world.api.called("revoke") == [("i-carol",)]
    assert world.notice() == "Invitation of carol revoked"
    assert "Pending invitations to #general (1)" in world.screen()
    assert "@carol" not in world.screen()
    press(world, "b")
    assert isinstance(world.app.ui.overlay, MembersOverlay)


def test_a_revoke_whose_event_comes_before_its_answer_still_names_the_invitee(
    world: World,
) -> None:
    """Found by CI's tmux test: the client asks for lairchat's own events, and the
    inviter's ``invitation_revoked`` took the invitation off the list before the
    REST answer came, so the notice lost whom it was for (no notice matched)."""
    from twisted.internet import defer

    world.api.room_invitation_lists[ROOM] = [pending("i-carol", "carol")]
    in_general_as(world, "owner")
    world.app.dispatch(c.ShowRoomInvitations())
    gate: defer.Deferred[None] = defer.Deferred()
    world.api.gates["revoke"] = gate
    press(world, "x", "y")
    revoked = {"type": "invitation_revoked", "invitation_id": "i-carol", "room_id": ROOM}
    world.opener.handlers.frame_received({**revoked, "revoked_by": ME})
    gate.callback(None)
    assert world.notice() == "Invitation of carol revoked"


def test_an_invitation_answered_meanwhile_is_refused_in_the_servers_words(
    world: World,
) -> None:
    world.api.room_invitation_lists[ROOM] = [pending("i-carol", "carol")]
    in_general_as(world, "moderator")
    world.app.dispatch(c.ShowRoomInvitations())
    world.api.fail["revoke"] = ServerError(
        "invitation_expired", "Invitation has expired", status=409
    )
    world.api.room_invitation_lists[ROOM] = []  # carol accepted it meanwhile
    press(world, "x", "y")
    assert world.notice() == "Could not revoke the invitation: Invitation has expired"
    assert world.api.called("room_invitations") == [(ROOM,), (ROOM,)]
    assert "No pending invitations" in world.screen()


def test_a_member_is_told_the_servers_refusal_of_the_list(world: World) -> None:
    """The client does not decide who may see a room's invitations: the server does,
    and says so in its words; the box, with nothing to show, closes."""
    in_general_as(world, "member")
    world.api.fail["room_invitations"] = ServerError(
        "permission_denied", "Permission denied", status=403
    )
    world.app.dispatch(c.ShowRoomInvitations())
    assert world.app.ui.overlay is None
    assert world.notice() == "Could not list the room's invitations: Permission denied"


def test_the_rooms_invitations_need_a_room(world: World) -> None:
    world.login()
    world.app.dispatch(c.ShowRoomInvitations())
    assert world.app.ui.overlay is None and world.notice() == "Open a room first (r)"
