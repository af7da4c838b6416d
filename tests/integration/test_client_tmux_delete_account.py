"""``/delete-account`` in the terminal client for real, in tmux, against ``twistd
lairchat`` (docs/CLIENT.md, "Deleting your account"): a wrong password refused in the
form, then the account deleted, the client back on its login screen saying so, a
second client of the same account told why its session ended, and the account really
gone (its login refused). The server and the tmux helpers are those of
``test_client_tmux.py``."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_client_tmux import (
    PASSWORD,
    WAIT,
    Server,
    Terminal,
    module_server,
    registered_terminal,
    terminals,
    tmux_binary,
)

__all__ = ["terminals"]  # the fixture, used here by name


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from module_server(tmp_path_factory, "client-delete-account-server")


def login_status(server: Server, username: str) -> int:
    """The HTTP status of ``POST /auth/login`` with the account's password."""
    body = {"identifier": username, "password": PASSWORD}
    request = urllib.request.Request(
        f"{server.http_url}/api/v1/auth/login",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_the_account_is_deleted_and_the_other_device_told_why(
    server: Server, terminals: list[Terminal], tmp_path: Path
) -> None:
    a, alice, tag = registered_terminal(server, terminals, tmp_path)
    b = Terminal(tmux_binary(), f"lairchat-test-{tag}", "alice2", server.client_args(), tmp_path)
    terminals.append(b)
    b.log_in(alice)
    a.keys("i")
    a.command("/delete-account")
    shown = a.wait_for("Enter on the last: delete")
    assert "cannot be undone" in shown
    # A wrong password: refused in the form, in the server's words; nothing ends.
    a.type("wrong-password")
    a.keys("Tab")
    a.type(alice)
    a.keys("Enter")
    shown = a.wait_for("Account not deleted: Invalid credentials")
    assert "wrong-password" not in shown and "Delete account" in shown
    assert login_status(server, alice) == 200
    a.type(PASSWORD)
    a.keys("Tab")
    a.type(alice)
    a.keys("Enter")
    shown = a.wait_for("Your account was deleted")
    assert "L A I R   C H A T" in shown and PASSWORD not in shown
    shown = b.wait_for("Session ended: the account was deleted. Please log in again")
    assert login_status(server, alice) == 401
    # The second client's login is refused too, on its own screen (the name is kept,
    # the cursor on the password).
    assert f"Username  {alice} " in shown and "▸ Password" in shown
    b.type(PASSWORD)
    b.keys("Enter")
    b.wait_for("Login failed: Invalid credentials")
