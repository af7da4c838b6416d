"""Room invite codes in the terminal client for real, in tmux, against ``twistd
lairchat`` (docs/CLIENT.md, "Invite codes"): an owner makes a one-use code for a
private room and reads it on screen; another user, invited by no one, joins with
``/join-code`` and the owner sees them join; the code is then used up (not listed,
refused in the server's words); a second code is revoked by its prefix. The tmux
helpers are those of ``test_client_tmux.py``."""

from __future__ import annotations

import re
from pathlib import Path

from tests.integration.test_client_tmux import (
    Terminal,
    registered_terminal,
    server,
    terminals,
    tmux_binary,
    unwrapped,
)

__all__ = ["server", "terminals"]  # the fixtures, used here by name

CODE = re.compile(r"Invite code for #\w+: ([A-Za-z0-9_-]{22}) ")


def test_a_private_room_is_joined_with_a_code(server, terminals: list[Terminal], tmp_path: Path):
    t, alice, tag = registered_terminal(server, terminals, tmp_path)
    room = f"den_{tag}"
    t.keys("i")
    t.command(f"/create --private {room}")
    t.wait_for(f"You created the private room #{room}")
    t.command("/invite-code 1 2")
    shown = t.wait_for("Shown once")
    code = CODE.search(unwrapped(shown))[1]

    b = Terminal(tmux_binary(), f"lairchat-test-{tag}", "bob", server.client_args(), tmp_path)
    terminals.append(b)
    b.register(f"bob_{tag}")
    b.keys("i")
    b.command(f"/join-code {code}")
    b.wait_for(f"You joined #{room} with an invite code")
    t.wait_for(f"bob_{tag} joined the room")

    # One use: used up, so no longer listed, and refused as any bad code is.
    t.command("/invite-codes")
    t.wait_for(f"#{room} has no live invite codes")
    c = Terminal(tmux_binary(), f"lairchat-test-{tag}", "carol", server.client_args(), tmp_path)
    terminals.append(c)
    c.register(f"carol_{tag}")
    c.keys("i")
    c.command(f"/join-code {code}")
    c.wait_for("Could not join with that code: Invite code not found")

    # A second code, revoked by the prefix the listing shows.
    t.command("/invite-code")
    second = CODE.findall(unwrapped(t.wait_for("no limit")))[-1]
    assert second != code
    t.command("/invite-codes")
    t.wait_for(f"{second[:4]}… (id ")
    t.command(f"/revoke-code {second[:4]}")
    t.wait_for("Invite code revoked")
    c.command(f"/join-code {second}")
    c.wait_for("Could not join with that code: Invite code not found", timeout=10)
    assert code not in server.log() and second not in server.log()
