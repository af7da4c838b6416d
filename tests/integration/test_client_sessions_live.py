"""The terminal client's sessions and a room's pending invitations against a real
server (docs/CLIENT.md, "Sessions" and "A room's pending invitations";
docs/protocols/HTTP.md).

A real ``twistd lairchat`` on loopback. First the client's own :class:`HttpApi` on
the test's reactor (pytest-twisted), as the interface uses it: what the server
answers is read through the client's methods, so a wrong path, method or field name
in them fails here (the unit tests answer from a fake that cannot tell). Then the
whole client in tmux (tests/integration/test_client_tmux.py), driven by its keys.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor

from lairchat.client.net.errors import ServerError
from lairchat.client.net.http import HttpApi
from lairchat.testing import ServerProcess
from lairchat.testing_clients import rest
from tests.integration import test_client_tmux
from tests.integration.test_client_tmux import PASSWORD as TMUX_PASSWORD
from tests.integration.test_client_tmux import Server, Terminal, tmux_binary

PASSWORD = "correct horse battery"
WAIT = 10.0
terminals = test_client_tmux.terminals  # the shared fixture


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("client-sessions-live"))
    yield srv
    srv.stop()


@asynccontextmanager
async def device(
    server: ServerProcess, name: str, register: bool = False
) -> AsyncIterator[HttpApi]:
    """A client signed in as ``name`` (registered first if asked): a session of its own."""
    api = HttpApi(f"http://127.0.0.1:{server.http_port}", reactor, timeout=WAIT)
    try:
        if register:
            await api.register(name, f"{name}@example.com", PASSWORD)
        else:
            await api.login(name, PASSWORD)
        yield api
    finally:
        await api.close()


async def refused(call: object) -> ServerError:
    try:
        await call  # type: ignore[misc]
    except ServerError as error:
        return error
    raise AssertionError("the server did not refuse")


@pytest_twisted.ensureDeferred
async def test_sessions_are_listed_and_one_is_ended(server: ServerProcess) -> None:
    name = f"s_{uuid.uuid4().hex[:8]}"
    async with device(server, name, register=True) as laptop, device(server, name) as phone:
        listed, more = await phone.sessions()
        assert not more and len(listed) == 2
        assert [s["current"] for s in listed] == [True, False]  # newest first: the phone
        laptop_id = listed[1]["id"]
        await phone.end_session(laptop_id)
        error = await refused(laptop.me())
        assert error.code == "session_not_found" and error.session_lost
        # Ended already: 404 not_found, which is not the caller's own session lost.
        error = await refused(phone.end_session(laptop_id))
        assert (error.code, error.message, error.session_lost) == (
            "not_found",
            "Session not found",
            False,
        )
        listed, _ = await phone.sessions()
        assert [s["current"] for s in listed] == [True]
        # Its own: a logout.
        await phone.end_session(listed[0]["id"])
        assert (await refused(phone.sessions())).session_lost


@pytest_twisted.ensureDeferred
async def test_a_rooms_pending_invitation_is_listed_and_revoked(server: ServerProcess) -> None:
    owner_name, guest_name = f"o_{uuid.uuid4().hex[:8]}", f"g_{uuid.uuid4().hex[:8]}"
    async with (
        device(server, owner_name, register=True) as owner,
        device(server, guest_name, register=True) as guest,
    ):
        room = await owner.create_room(f"r{uuid.uuid4().hex[:8]}", private=True)
        guest_id = (await guest.me())["user"]["id"]
        sent = await owner.invite(room["id"], guest_id)
        listed, more = await owner.room_invitations(room["id"])
        assert not more and [i["id"] for i in listed] == [sent["id"]]
        assert listed[0]["invitee_name"] == guest_name
        # Not a member of the room: the server refuses, and the client says its words.
        error = await refused(guest.room_invitations(room["id"]))
        assert error.code == "not_room_member" and not error.session_lost
        await owner.revoke(sent["id"])
        assert await owner.room_invitations(room["id"]) == ([], False)
        assert await guest.invitations() == []
        assert (await refused(owner.revoke(sent["id"]))).code == "invitation_expired"


# -- the terminal client itself, in tmux ------------------------------------------------------


def test_the_terminal_ends_a_session_and_revokes_an_invitation(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    """``/sessions`` lists this session and one made elsewhere (newest first: this
    one); the other is ended after the footer question (its token then refused), an
    invitation sent from the terminal is revoked from the members box, and ending
    this session is a logout."""
    server = Server(tmp_path)
    try:
        tag = uuid.uuid4().hex[:6]
        me, guest, room = f"me_{tag}", f"guest_{tag}", f"room_{tag}"
        for name in (me, guest):
            body = {"username": name, "email": f"{name}@example.com", "password": TMUX_PASSWORD}
            assert rest(server, "POST", "/api/v1/auth/register", body)[0] == 201
        login = {"identifier": me, "password": TMUX_PASSWORD}
        _, elsewhere = rest(server, "POST", "/api/v1/auth/login", login)
        term = Terminal(tmux_binary(), f"lairchat-test-{me}", "me", server.client_args(), tmp_path)
        terminals.append(term)
        term.log_in(me, TMUX_PASSWORD)

        term.keys("i")
        term.command("/sessions")
        # Three: the registration's, the one elsewhere, and this one (newest, first).
        shown = term.wait_for("Sessions (3)")
        assert "Session 1  · this one" in shown and "Session 2  · this one" not in shown
        term.keys("j", "x")
        term.wait_for("End session 2? Its device is signed out.")
        term.keys("y")
        term.wait_for("Session ended: its device is signed out")
        term.wait_for("Sessions (2)")
        assert rest(server, "GET", "/api/v1/users/me", token=elsewhere["token"])[0] == 401
        term.keys("q")  # (Esc then i, sent at once, would reach it as Alt+i)
        # The message field is still in insert mode.
        term.command(f"/create --private {room}")
        term.wait_for(f"#{room}")
        term.command(f"/invite {guest}")
        term.command("/members")
        term.wait_for(f"Members of #{room}")
        term.keys("I")
        term.wait_for(f"Pending invitations to #{room} (1)")
        term.wait_for(f"@{guest}")
        term.keys("x")
        term.wait_for(f"Revoke the invitation of {guest}?")
        term.keys("y")
        term.wait_for(f"Invitation of {guest} revoked")
        term.wait_for(f"Pending invitations to #{room} (0)")
        term.keys("q")

        term.command("/sessions")
        term.wait_for("Session 1  · this one")
        term.keys("x")
        term.wait_for("End this session (you will be logged out)?")
        term.keys("Enter")
        term.wait_for("You ended this session: logged out")
        assert "L A I R   C H A T" in term.screen()
    finally:
        server.stop()
