"""The terminal client against floods and long sessions: bursts of events, big
histories, typing storms. Each test pins a cost that used to grow with the history
or with the number of events, by counting the work done (never by timing it)."""

from __future__ import annotations

import pytest

from lairchat.client import commands as c
from lairchat.client.state import ClientState
from lairchat.client.testing import message, render_text
from lairchat.client.ui.messages import Hanging, MessagePane
from tests.unit.test_client_app import BOB, ROOM, World
from tests.unit.test_client_widgets import alice_and_bob


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
