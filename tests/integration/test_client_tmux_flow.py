"""The terminal client for real, in tmux, as a new user in a busy room: a room
picked from the room list takes the words typed next (not normal-mode keys), a word
starting with ``e`` typed in normal mode is a message (not an edit of the last one),
lines pasted are one message, and a flood of messages leaves the newest on screen
with older ones offered by paging. The server and the tmux helpers are those of
``test_client_tmux.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lairchat.testing_clients import TCPClient
from tests.integration.test_client_tmux import (
    STARTUP,
    Server,
    Terminal,
    module_server,
    raw_room,
    registered_raw,
    registered_terminal,
    terminals,
)

__all__ = ["terminals"]  # the fixture, used here by name

FLOOD = 1500


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from module_server(tmp_path_factory, "client-flow-server")


def test_a_room_picked_from_the_list_after_a_flood_takes_what_is_typed(
    server: Server, terminals: list[Terminal], tmp_path: Path
) -> None:
    a, alice, tag = registered_terminal(server, terminals, tmp_path)
    with TCPClient.connect(server.tcp_port) as raw:
        bob, room, target = raw_room(raw, tag, "busy")
        for i in range(FLOOD):
            raw.send({"type": "send_message", "target": target, "content": f"flood {i}"})
        raw.ok("send_message", target=target, content="the last one")
    a.keys("r")
    a.wait_for(f"{room}  (1 member)")
    a.keys("Enter")
    a.wait_for(f"You joined #{room}")
    a.wait_for(f"{bob}: the last one")
    a.command("great, I am ready")
    shown = a.wait_for(f"{alice}: great, I am ready")
    assert "Rooms (" not in shown and "Invitations (" not in shown
    a.keys("Escape")
    a.wait_for("i: type · r: rooms")
    a.type("h")  # a letter in normal mode says how to type
    a.wait_for("Normal mode: press i or Enter to type a message")
    # A word starting with e, typed in normal mode by mistake, is sent as a message:
    # e used to put "/edit great, I am ready" in the field and the rest after it.
    # (Esc first: an e right after the h above would be inside a word, not an edit.)
    a.keys("Escape")
    a.type("excellent")
    a.wait_for("Taken as typing, not an edit")
    a.keys("Enter")
    shown = a.wait_for(f"{alice}: excellent")
    assert "readyxcellent" not in shown and "(edited)" not in shown
    a.keys("Escape")
    a.wait_for("i: type · r: rooms")
    # Three lines pasted in normal mode are one message of three lines: the paste
    # is text (bracketed), not keys, and its newlines do not send each line.
    a.paste("first line\nsecond line\nthird line")
    a.wait_for("│third line")
    a.keys("Enter")
    shown = a.wait_for("      third line")
    assert f"{alice}: first line" in shown and "      second line" in shown
    assert f"{alice}: second line" not in shown
    a.keys("Escape")
    a.wait_for("i: type · r: rooms")
    # The newest page came with the room; the top of it asks for the one before.
    a.keys("g")
    a.wait_for(f"{bob}: flood {FLOOD - 49}")
    # The page before it comes in above without moving the view: its newest row
    # takes the place of the "older messages" line at the top.
    a.wait_for(f"{bob}: flood {FLOOD - 50}")
    a.keys("g")
    a.wait_for(f"{bob}: flood {FLOOD - 99}")


def test_the_client_rides_out_a_server_restart_and_a_resize(
    terminals: list[Terminal], tmp_path: Path
) -> None:
    """The server stops and comes back on the same ports: the client says it is
    reconnecting, signs in again with its token when R is pressed, and what is typed
    next is sent. The terminal shrinks below 60 columns and grows back: the people
    panel goes and returns, the conversation stays."""
    workdir = tmp_path / "server"
    srv = Server(workdir)
    try:
        a, alice, tag = registered_terminal(srv, terminals, tmp_path)
        room = f"restart_{tag}"
        a.keys("i")
        a.command(f"/create {room}")
        a.wait_for(f"You created the room #{room}")
        ports = {"LAIR_TCP_PORT": str(srv.tcp_port), "LAIR_HTTP_PORT": str(srv.http_port)}
        srv.stop()
        a.wait_for("◌ reconnecting")
        srv = Server(workdir, **ports)  # the same database, ports and secret
        a.keys("Escape")
        a.type("R")
        a.wait_for("Reconnected to the server", STARTUP)
        a.wait_for("● online")
        a.keys("i")
        a.command("after the restart")
        shown = a.wait_for(f"{alice}: after the restart")
        assert "not sent" not in shown
        a._run("resize-window", "-t", a.name, "-x", "50", "-y", "16")
        shown = a.wait_for(f"{alice}: after the")
        assert "People" not in shown and max(len(row) for row in shown.splitlines()) <= 50
        a._run("resize-window", "-t", a.name, "-x", "120", "-y", "40")
        shown = a.wait_for("People 1/1")
        assert f"{alice}: after the restart" in shown
    finally:
        srv.stop()


def test_a_mention_elsewhere_rings_the_bell_and_is_marked(
    server: Server, terminals: list[Terminal], tmp_path: Path
) -> None:
    """bob names alice in a room she is not looking at: her status bar says so, the
    room list marks the room with ``@``, tmux saw the bell (BEL written through the
    screen, the display intact), and the message is drawn with the ``▌`` mark."""
    a, alice, tag = registered_terminal(server, terminals, tmp_path)
    bob, ping, quiet = f"bob_{tag}", f"ping_{tag}", f"quiet_{tag}"
    with TCPClient.connect(server.tcp_port) as raw:
        registered_raw(raw, bob)
        room_id = raw.ok("create_room", name=ping)["room"]["id"]
        a.keys("i")
        a.command(f"/join {ping}")
        a.wait_for(f"You joined #{ping}")
        a.command(f"/create {quiet}")
        a.wait_for(f"You created the room #{quiet}")

        def bell() -> str:
            return a._run("display-message", "-p", "-t", a.name, "#{window_bell_flag}").strip()

        assert bell() == "0"
        target = {"type": "room", "room_id": room_id}
        raw.ok("send_message", target=target, content=f"@{alice.upper()}, look here")
        a.wait_for(f"@ 1 mention in #{ping}")
        assert bell() == "1"
        a.keys("Escape")
        a.keys("r")
        a.wait_for(f"{ping}  (2 members)  [member]  1 new @")
        a.keys("b")
        a.keys("i")
        a.command(f"/join {ping}")
        a.wait_for(f"▌{bob}: @{alice.upper()}, look here")
        assert "mention in" not in a.wait_gone("mention in")
