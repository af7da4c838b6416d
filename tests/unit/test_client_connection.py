"""The terminal client's connection life: what it knows again after a reconnection."""

from __future__ import annotations

from twisted.internet import defer
from twisted.internet.error import ConnectionRefusedError

from lairchat.client import commands as c
from lairchat.client.testing import message
from tests.unit.test_client_app import BOB, ME, ROOM, World
from tests.unit.test_client_net import Response, api, outcome, run

#: The World's clock (2025-01-21T12:00:00Z), as a server's timestamp.
CREATED_NOW = "2025-01-21T12:00:00Z"


def test_messages_missed_elsewhere_while_away_count_as_unread() -> None:
    """After a reconnection only the conversation shown fetched what it missed:
    messages posted meanwhile in a room not shown left no unread count, so nothing
    said they were there. The server's counts are asked for again, as at login."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom("general"))
    world.app.dispatch(c.StartDM("bob"))
    assert world.state.current == ("dm", BOB)
    world.opener.handlers.channel_closed("connection lost")
    world.api.unread_counts = {"by_room": {ROOM: 3}, "by_dm": {}}
    world.clock.advance(1.5)
    world.opener.accept()
    assert world.state.connection.state == "online"
    assert world.state.conversations[("room", ROOM)].unread == 3
    assert "[3 unread elsewhere]" in world.screen()


def test_the_wait_before_the_next_attempt_counts_down() -> None:
    """The status bar said "retry 4 in 10 s" for all of those ten seconds (found in
    tmux while the server was restarting): it now counts down."""
    world = World()
    world.login()
    link = world.app.link
    assert link is not None
    link.backoff.jitter = 0.0
    link.backoff.attempts = 3  # the fourth wait: 8 s
    world.opener.handlers.channel_closed("connection lost")
    assert world.state.connection.detail == "retry 4 in 8 s"
    world.clock.advance(3)
    assert world.state.connection.detail == "retry 4 in 5 s"
    assert "(retry 4 in 5 s)" in world.screen()


def test_a_message_the_server_kept_though_its_answer_was_lost_is_shown_once() -> None:
    """A message sent just before the connection dropped: the server stored it, but
    its answer never came, so the line said "[not sent: ...]". After reconnecting,
    the newest page brought the stored message too: it showed twice, once as not
    sent, inviting the user to send it again."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom("general"))
    world.app.dispatch(c.SendMessage("are you there?"))
    world.opener.handlers.channel_closed("connection lost")
    assert "[not sent:" in world.screen()
    stored = message("m-1", ME, "are you there?", room_id=ROOM, created_at=CREATED_NOW)
    world.api.history_pages[("room", ROOM, None)] = ([stored], False)
    world.clock.advance(1.5)
    world.opener.accept()
    lines = [(m.content, m.kind) for m in world.state.conversations[("room", ROOM)].messages]
    assert lines.count(("are you there?", "user")) == 1
    assert ("are you there?", "failed") not in lines
    assert "[not sent:" not in world.screen()


def test_the_echo_of_a_message_whose_answer_was_lost_replaces_its_line() -> None:
    """The same, live: the answer timed out, then the server's echo arrived."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom("general"))
    world.app.dispatch(c.SendMessage("slow"))
    world.clock.advance(16)  # the request times out: "[not sent: ...]"
    assert "[not sent:" in world.screen()
    echo = message("m-2", ME, "slow", room_id=ROOM, created_at=CREATED_NOW)
    world.app.link_event({"type": "message_received", "message": echo})
    lines = [(m.content, m.kind) for m in world.state.conversations[("room", ROOM)].messages]
    assert lines.count(("slow", "user")) == 1 and ("slow", "failed") not in lines


def test_a_flapping_connection_leaves_one_line() -> None:
    """Each reconnection added "Reconnected to the server" to the conversation
    shown: a connection dropping every few seconds filled it with them."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom("general"))
    for _ in range(20):
        world.opener.handlers.channel_closed("connection lost")
        assert world.app.link is not None
        world.clock.advance(world.app.link.retry_left())  # the backoff grows (link.py)
        world.opener.accept()
    lines = [m.content for m in world.state.conversations[("room", ROOM)].messages]
    assert lines.count("Reconnected to the server") == 1


def test_an_author_the_server_does_not_know_is_asked_about_once() -> None:
    """A history row by an account deleted since (GET /users/{id}: 404) left its
    author unknown, and every later message in the room asked the server about
    that account again: a busy room sent a request per message per such author."""
    world = World()
    ghost = message("m-old", "u-ghost", "from a deleted account", room_id=ROOM)
    world.api.history_pages[("room", ROOM, None)] = ([ghost], False)
    world.login()
    world.app.dispatch(c.JoinRoom("general"))
    for i in range(10):
        live = message(f"m{i}", BOB, f"hi {i}", room_id=ROOM)
        world.app.link_event({"type": "message_received", "message": live})
    assert world.api.called("user") == [("u-ghost",)]
    assert "u-ghost: from a deleted account" in world.screen()


def test_a_login_whose_connection_fails_ends_its_session() -> None:
    """The REST login made a session; when the real-time connection then failed,
    the client dropped the token but left the session open on the server, valid
    until it expired, one more with every retry."""
    world = World()
    world.app.dispatch(c.Login("127.0.0.1:8080", "me", "pw"))
    world.opener.attempts[-1][1].errback(ConnectionRefusedError())
    assert world.api.called("logout") == [()]
    assert world.api.token is None
    assert world.notice() == "Cannot connect to 127.0.0.1:8080 (connection refused)"


def test_ending_a_session_keeps_a_newer_login() -> None:
    """A logout still in flight when a new login lands must not forget the new
    token (the REST client cleared whatever token it held when the logout ended)."""
    pending: defer.Deferred = defer.Deferred()
    http, client = api(pending, Response(200, b'{"token":"T2","user":{},"session":{}}'))
    http.token = "T1"
    out = defer.ensureDeferred(http.logout())
    assert client.requests[0][2]["headers"]["Authorization"] == ["Bearer T1"]
    run(http.login("alice", "pw"))
    assert http.token == "T2"
    pending.callback(Response(200, b'{"success":true}'))
    assert outcome(out) is None
    assert http.token == "T2"


def test_an_older_message_of_the_same_words_is_not_taken_for_a_failed_one() -> None:
    """The rule above must not take yesterday's "ok" for the "ok" refused now."""
    world = World()
    world.login()
    world.app.dispatch(c.JoinRoom("general"))
    world.app.dispatch(c.SendMessage("ok"))
    world.opener.handlers.channel_closed("connection lost")
    old = message("m-old", ME, "ok", room_id=ROOM, created_at="2025-01-20T12:00:00Z")
    world.api.history_pages[("room", ROOM, None)] = ([old], False)
    world.clock.advance(1.5)
    world.opener.accept()
    lines = [(m.content, m.kind) for m in world.state.conversations[("room", ROOM)].messages]
    assert ("ok", "failed") in lines and ("ok", "user") in lines
