"""The terminal client's REST calls for sessions and a room's pending invitations,
against a real server (docs/CLIENT.md, "Sessions" and "A room's pending
invitations"; docs/protocols/HTTP.md).

A real ``twistd lairchat`` on loopback; the client's own :class:`HttpApi` on the
test's reactor (pytest-twisted), as the interface uses it. What the server answers
is read through the client's methods, so a wrong path, method or field name in them
fails here (the unit tests answer from a fake that cannot tell).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
import pytest_twisted
from twisted.internet import reactor

from lairchat.client.net.errors import ServerError
from lairchat.client.net.http import HttpApi
from lairchat.testing import ServerProcess

PASSWORD = "correct horse battery"
WAIT = 10.0


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
