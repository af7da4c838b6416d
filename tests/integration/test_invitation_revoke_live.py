"""Revoking an invitation on a real server (``ServerProcess``): over REST
(``DELETE /api/v1/invitations/{id}``), TCP and WebSocket (``revoke_invitation``), a
revoked invitation no longer lets its invitee into the private room, by accept or by
join, and the invitee is sent no frame about it (the original's client would drop a
TCP connection on an event type it does not know). A revocation and an acceptance
sent at once are answered once, and the room agrees with the answer.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient, WSClient
from tests.integration.test_live_state_consistency import Account, invite, private_room

ROUNDS = 6


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("invitation-revoke"))
    yield srv
    srv.stop()


def members(owner: Account, room_id: str) -> set[str]:
    status, body = owner.rest("GET", f"/api/v1/rooms/{room_id}/members")
    assert status == 200, body
    return {m["user_id"] for m in body["members"]}


def answer(conn: TCPClient | WSClient, kind: str, **fields: str) -> dict:
    conn.send({"type": kind, "request_id": kind, **fields})
    return conn.wait_for(lambda m: m.get("request_id") == kind)


def assert_kept_out(owner: Account, guest: Account, room_id: str, invitation_id: str) -> None:
    """The invitee no longer lists the invitation, and enters neither way."""
    conn = guest.conn
    assert answer(conn, "list_invitations")["invitations"] == []
    accepted = answer(conn, "accept_invitation", invitation_id=invitation_id)
    assert accepted["error"]["code"] == "invitation_expired", accepted
    joined = answer(conn, "join_room", room_id=room_id)
    assert joined["error"]["code"] == "room_private", joined
    status, body = guest.rest("POST", f"/api/v1/invitations/{invitation_id}/accept")
    assert (status, body["error"]["code"]) == (409, "invitation_expired")
    assert guest.id not in members(owner, room_id)


@pytest.mark.parametrize("ws", [False, True], ids=["tcp", "ws"])
def test_a_revoked_invitation_lets_no_one_into_the_private_room(
    server: ServerProcess, ws: bool
) -> None:
    owner, guest = Account(server), Account(server, ws=ws)
    room_id = private_room(owner)
    invitation_id = invite(owner, room_id, guest)
    assert [m["type"] for m in guest.conn.barrier()] == ["invitation_received"]
    status, body = owner.rest("DELETE", f"/api/v1/invitations/{invitation_id}")
    assert (status, body) == (200, {"success": True})
    assert guest.conn.barrier() == []  # no frame about it: the next list shows it gone
    assert_kept_out(owner, guest, room_id, invitation_id)
    status, body = owner.rest("DELETE", f"/api/v1/invitations/{invitation_id}")
    assert (status, body["error"]["code"]) == (409, "invitation_expired")


@pytest.mark.parametrize("ws", [False, True], ids=["tcp", "ws"])
def test_a_moderator_revokes_in_real_time_what_another_sent(
    server: ServerProcess, ws: bool
) -> None:
    owner, guest, moderator = Account(server), Account(server), Account(server, ws=ws)
    room_id = private_room(owner)
    entry = invite(owner, room_id, moderator)
    accepted = answer(moderator.conn, "accept_invitation", invitation_id=entry)
    assert accepted["success"] is True, accepted
    path = f"/api/v1/rooms/{room_id}/members/{moderator.id}/role"
    assert owner.rest("PUT", path, {"role": "moderator"})[0] == 200
    invitation_id = invite(owner, room_id, guest)
    revoked = answer(moderator.conn, "revoke_invitation", invitation_id=invitation_id)
    assert revoked == {
        "type": "revoke_invitation_response",
        "request_id": "revoke_invitation",
        "success": True,
    }
    assert_kept_out(owner, guest, room_id, invitation_id)


def test_a_revoke_and_an_accept_at_once_are_answered_once(server: ServerProcess) -> None:
    owner, guest = Account(server), Account(server, ws=True)
    for n in range(ROUNDS):
        room_id = private_room(owner)
        invitation_id = invite(owner, room_id, guest)
        owner.conn.barrier()
        guest.conn.barrier()
        owner.conn.send(
            {"type": "revoke_invitation", "request_id": "r", "invitation_id": invitation_id}
        )
        guest.conn.send(
            {"type": "accept_invitation", "request_id": "a", "invitation_id": invitation_id}
        )
        revoked = owner.conn.wait_for(lambda m: m.get("request_id") == "r")
        accepted = guest.conn.wait_for(lambda m: m.get("request_id") == "a")
        assert sorted((revoked["success"], accepted["success"])) == [False, True], (
            n,
            revoked,
            accepted,
        )
        loser = accepted if revoked["success"] else revoked
        assert loser["error"]["code"] == "invitation_expired", (n, loser)
        assert (guest.id in members(owner, room_id)) == accepted["success"], n


def test_an_owner_revokes_what_a_kicked_moderator_sent(server: ServerProcess) -> None:
    """The review's case: the moderator who invited is kicked; the owner finds the
    invitation in the room's listing and revokes it over REST."""
    owner, guest, moderator = Account(server), Account(server), Account(server)
    room_id = private_room(owner)
    accepted = answer(
        moderator.conn, "accept_invitation", invitation_id=invite(owner, room_id, moderator)
    )
    assert accepted["success"] is True, accepted
    path = f"/api/v1/rooms/{room_id}/members/{moderator.id}"
    assert owner.rest("PUT", f"{path}/role", {"role": "moderator"})[0] == 200
    sent = invite(moderator, room_id, guest)
    assert owner.rest("DELETE", path)[0] == 200
    status, body = owner.rest("GET", f"/api/v1/rooms/{room_id}/invitations")
    assert status == 200, body
    assert [(i["id"], i["inviter_id"]) for i in body["invitations"]] == [(sent, moderator.id)]
    status, body = moderator.rest("DELETE", f"/api/v1/invitations/{sent}")
    assert (status, body["error"]["code"]) == (403, "permission_denied")
    assert owner.rest("DELETE", f"/api/v1/invitations/{sent}")[0] == 200
    assert_kept_out(owner, guest, room_id, sent)
