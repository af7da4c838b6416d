"""Room settings and server administration in the terminal client for real, in
tmux, against ``twistd lairchat`` (docs/CLIENT.md, "Managing a room" and
"Administering the server"): an owner sets the topic, makes the room private,
limits and renames it, then deletes it after typing its name; a user who is no
admin is refused ``/admin stats`` in the server's words; the admin (made at start
with ``LAIR_ADMIN_USERNAME``) bans, unbans and deletes an account, each checked by
that account's login. A member in another client sees the changes and the room
closed. The tmux helpers are those of ``test_client_tmux.py``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_client_tmux import (
    PASSWORD,
    Server,
    Terminal,
    register_over_http,
    registered_terminal,
    terminals,
    tmux_binary,
)
from tests.integration.test_client_tmux_delete_account import login_status

__all__ = ["terminals"]  # the fixture, used here by name

ADMIN = "root_admin"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(
        tmp_path_factory.mktemp("client-roomadmin-server"),
        LAIR_ADMIN_USERNAME=ADMIN,
        LAIR_ADMIN_PASSWORD=PASSWORD,
    )
    yield srv
    srv.stop()


def test_an_owner_changes_and_deletes_a_room(
    server: Server, terminals: list[Terminal], tmp_path: Path
) -> None:
    t, alice, tag = registered_terminal(server, terminals, tmp_path)
    room = f"room_{tag}"
    t.keys("i")
    t.command(f"/create {room}")
    t.wait_for(f"You created the room #{room}")
    # A member, in a client of their own, sees each change as it happens.
    b = Terminal(tmux_binary(), f"lairchat-test-{tag}", "bob", server.client_args(), tmp_path)
    terminals.append(b)
    b.register(f"bob_{tag}")
    b.keys("i")
    b.command(f"/join {room}")
    t.wait_for(f"bob_{tag} joined the room")
    t.command("/topic Weekly sync on Mondays")
    shown = t.wait_for("You set the topic: Weekly sync on Mondays")
    assert f"#{room} — Weekly sync on Mondays  [owner]" in shown
    shown = b.wait_for(f"{alice} set the topic: Weekly sync on Mondays")
    assert f"#{room} — Weekly sync on Mondays" in shown
    t.command("/private on")
    shown = t.wait_for("You made the room private (invitation only)")
    assert f"#{room} (private)" in shown
    t.command("/limit 5")
    t.wait_for(f"#{room} now allows at most 5 members")
    t.command("/private")
    t.wait_for(f"#{room} is private (invitation only), at most 5 members")
    t.command(f"/rename {room}_x")
    t.wait_for(f"You renamed the room to #{room}_x")
    b.wait_for(f"{alice} renamed the room to #{room}_x")
    t.command("/delete-room")
    t.wait_for("Enter: delete · Esc: cancel")
    t.type("wrong")
    t.keys("Enter")
    t.wait_for(f"Type the room's name, {room}_x, to confirm")
    t.type(f"{room}_x")
    t.keys("Enter")
    shown = t.wait_for(f"You deleted #{room}_x")
    assert "Lair Chat — r: rooms" in shown
    shown = b.wait_for(f"Room #{room}_x was deleted")
    assert "Lair Chat — r: rooms" in shown
    # Not an admin: the server's refusal (an error notice, which would hide the
    # successes above for its 8 s, hence last).
    t.command("/admin stats")
    t.wait_for("No server stats: Permission denied")


def test_the_admin_bans_unbans_and_deletes_an_account(
    server: Server, terminals: list[Terminal], tmp_path: Path
) -> None:
    victim = f"victim_{uuid.uuid4().hex[:6]}"
    register_over_http(server, victim)
    t = Terminal(tmux_binary(), f"lairchat-test-{victim}", "admin", server.client_args(), tmp_path)
    terminals.append(t)
    t.log_in(ADMIN)
    t.keys("i")
    t.command("/admin stats")
    t.wait_for("Server: ")
    t.command(f"/ban {victim} 2h spam")
    t.wait_for(f"{victim} is banned until")
    assert login_status(server, victim) == 403
    t.command(f"/unban {victim}")
    t.wait_for(f"{victim} is no longer banned")
    assert login_status(server, victim) == 200
    t.command(f"/delete-user {victim}")
    t.wait_for("Enter on the last: delete")
    t.type(PASSWORD)
    t.keys("Tab")
    t.type(victim)
    t.keys("Enter")
    shown = t.wait_for(f"{victim}'s account was deleted")
    assert PASSWORD not in shown
    assert login_status(server, victim) == 401
