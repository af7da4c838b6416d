"""The terminal client's connection life: what it knows again after a reconnection."""

from __future__ import annotations

from lairchat.client import commands as c
from tests.unit.test_client_app import BOB, ROOM, World


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
