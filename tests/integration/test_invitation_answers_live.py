"""One invitation answered twice at once, accept and decline, from two connections of
its invitee: exactly one answer wins, and the room agrees with it. Before the answers
were checked in their own writes, both were told success (a member by a declined
invitation), or a decline read pending let an accept in after it.

A real server (``ServerProcess``); the invitee's TCP and WebSocket connections send
their commands before either answer is read.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lairchat.testing import ServerProcess
from lairchat.testing_clients import WSClient
from tests.integration.test_live_state_consistency import Account, invite, private_room

ROUNDS = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("invitation-answers"))
    yield srv
    srv.stop()


def test_accept_and_decline_at_once_are_answered_once(server: ServerProcess) -> None:
    owner, guest = Account(server), Account(server)
    other = WSClient(server.http_port, f"/ws?token={guest.token}")
    assert other.recv()["type"] == "server_hello"
    assert other.recv()["success"] is True
    try:
        for n in range(ROUNDS):
            room_id = private_room(owner)
            invitation_id = invite(owner, room_id, guest)
            guest.conn.barrier()
            other.barrier()
            guest.conn.send(
                {"type": "accept_invitation", "request_id": "a", "invitation_id": invitation_id}
            )
            other.send(
                {"type": "decline_invitation", "request_id": "d", "invitation_id": invitation_id}
            )
            accepted = guest.conn.wait_for(lambda m: m.get("request_id") == "a")
            declined = other.wait_for(lambda m: m.get("request_id") == "d")
            answers = (accepted["success"], declined["success"])
            assert sorted(answers) == [False, True], (n, accepted, declined)
            loser = declined if accepted["success"] else accepted
            assert loser["error"]["code"] == "invitation_expired", (n, loser)
            status, body = owner.rest("GET", f"/api/v1/rooms/{room_id}/members")
            assert status == 200, body
            members = {m["user_id"] for m in body["members"]}
            assert (guest.id in members) == accepted["success"], (n, body)
    finally:
        other.close()
