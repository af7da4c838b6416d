"""``/search`` in the terminal client for real, in tmux, against ``twistd lairchat``
(docs/CLIENT.md, "Search"): the results box lists the matches newest first with their
conversation and author, the line with the match; older ones come when asked (``o``),
``Enter`` opens a result's conversation. The server and the tmux helpers are those of
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

#: More matches than a page holds (20), so that the rest wait for ``o``.
CRUMBS = 22


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from module_server(tmp_path_factory, "client-search-server")


def test_search_lists_pages_on_and_opens_a_result(
    server: Server, terminals: list[Terminal], tmp_path: Path
) -> None:
    a, alice, tag = registered_terminal(server, terminals, tmp_path)
    with TCPClient.connect(server.tcp_port) as raw:
        bob, room, target = raw_room(raw, tag, "lunch")
        for n in range(CRUMBS):
            raw.ok("send_message", target=target, content=f"crumb {n}")
        raw.ok("send_message", target=target, content="first line\nwho wants LUNCH \x1b[2J now")
    a.keys("i")
    a.command(f"/join {room}")
    a.wait_for(f"You joined #{room}")
    a.keys("Escape")
    a.keys("i")
    a.command("/search lunch")
    shown = a.wait_for(f"Search “lunch” in #{room} (1)")
    assert f"#{room} · {bob}" in shown
    assert "who wants LUNCH ␛[2J now" in shown and "(no older match)" in shown
    # q closes the box (as Esc does; an Esc sent right before more keys would reach
    # the client as Alt with the next one), and the message field is back, as it was.
    a.type("q")
    a.wait_for("Esc: normal mode")
    a.command("/search * crumb")
    a.wait_for("Search “crumb” everywhere (20, older messages not searched yet)")
    a.type("o")
    a.wait_for("Search “crumb” everywhere (22)")  # no "older not searched": all seen
    a.keys("Enter")  # the newest result: the room
    shown = a.wait_for(f"{bob}: crumb {CRUMBS - 1}")
    assert "Search “crumb”" not in shown
    # Filters: bob's messages here, with no text; his name looked up as /dm's is.
    a.command(f"/search from:{bob} since:2020-01-01")
    shown = a.wait_for(f"Search from {bob} since 2020-01-01 in #{room} (20, older")
    assert "crumb 21" in shown and "crumb 0" not in shown.split("Search from")[1]
