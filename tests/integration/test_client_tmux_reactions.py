"""Reactions and pins in the terminal client for real, in tmux, against ``twistd
lairchat`` (docs/CLIENT.md, "Reactions" and "Pinned messages"): history shows a
message's reactions under it, ``/react`` adds ours when the server's event comes
back, another member's reaction shows live, ``/unreact`` takes ours back; a pin by
the room's owner shows live, ``/pins`` lists it, a plain member's ``/pin`` is
refused in the server's words. The server and the tmux helpers are those of
``test_client_tmux.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lairchat.testing_clients import TCPClient
from tests.integration.test_client_tmux import (
    Server,
    Terminal,
    module_server,
    raw_room,
    registered_terminal,
    terminals,
)

__all__ = ["terminals"]  # the fixture, used here by name


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from module_server(tmp_path_factory, "client-reactions-server")


def test_reactions_show_from_history_and_live(
    server: Server, terminals: list[Terminal], tmp_path: Path
) -> None:
    a, alice, tag = registered_terminal(server, terminals, tmp_path)
    with TCPClient.connect(server.tcp_port) as raw:
        bob, room, target = raw_room(raw, tag, "lunch")
        said = raw.ok("send_message", target=target, content="lunch at noon?")["message"]
        raw.ok("add_reaction", message_id=said["id"], emoji="🎉")
        a.keys("i")
        a.command(f"/join {room}")
        a.wait_for(f"You joined #{room}")
        # "You joined" is a notice, not a message: the newest message is bob's.
        shown = a.wait_for("🎉 1")
        assert f"{bob}: lunch at noon?" in shown
        a.command("/react 👍")
        a.wait_for("👍 1")
        raw.ok("add_reaction", message_id=said["id"], emoji="👍")
        a.wait_for("🎉 1  👍 2")
        a.command("/unreact 👍")
        a.wait_for("🎉 1  👍 1")
        history = raw.ok("get_messages", target=target)["messages"]
        assert history[0]["reactions"] == [
            {"emoji": "🎉", "count": 1, "user_ids": [raw_id(raw, bob)], "me": True},
            {"emoji": "👍", "count": 1, "user_ids": [raw_id(raw, bob)], "me": True},
        ]


def test_pins_show_live_and_in_their_box(
    server: Server, terminals: list[Terminal], tmp_path: Path
) -> None:
    a, alice, tag = registered_terminal(server, terminals, tmp_path)
    with TCPClient.connect(server.tcp_port) as raw:
        bob, room, target = raw_room(raw, tag, "pins")
        said = raw.ok("send_message", target=target, content="read the rules first")["message"]
        raw.ok("send_message", target=target, content="and say hello")
        a.keys("i")
        a.command(f"/join {room}")
        a.wait_for(f"{bob}: and say hello")
        raw.ok("pin_message", message_id=said["id"])
        a.wait_for(f"{bob} pinned a message: read the rules first")
        a.command("/pins")
        shown = a.wait_for(f"Pinned in #{room} (1)")
        assert f"{bob} · pinned by {bob}" in shown
        # q closes the box (an Esc right before more keys would reach the client as
        # Alt with the next one), and the message field is back, as it was.
        a.type("q")
        a.wait_for("Esc: normal mode")
        a.command("/pin 2")  # a plain member: the server says no
        a.wait_for("Could not pin: Permission denied")
        raw.ok("unpin_message", message_id=said["id"])
        a.wait_for(f"{bob} unpinned a message: read the rules first")
        assert raw.ok("get_pins", room_id=target["room_id"])["pins"] == []


def raw_id(raw: TCPClient, username: str) -> str:
    me = raw.ok("get_current_user")["user"]
    assert me["username"] == username
    return me["id"]
