"""The terminal client against floods and long sessions: bursts of events, big
histories, typing storms. Each test pins a cost that used to grow with the history
or with the number of events, by counting the work done (never by timing it)."""

from __future__ import annotations

from lairchat.client import commands as c
from lairchat.client.testing import message
from tests.unit.test_client_app import BOB, ROOM, World


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
