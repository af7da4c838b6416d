"""Room membership across a restart: the hub's index of who is in which room is
memory, rebuilt from the database at start (``Core.load``). After a restart, room
events must reach exactly the members the database holds: not someone kicked, not
the members of a deleted room, and someone who joined (or accepted an invitation)
just before the stop.

A real server (``ServerProcess``) stopped and started again on the same database
and JWT secret, so the tokens issued before still authenticate; real sockets; every
wait is a read with a deadline or a ping barrier.
"""

from __future__ import annotations

from pathlib import Path

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient, WSClient
from tests.integration.test_live_state_consistency import Account, room, room_with, types


def reconnect(server: ServerProcess, account: Account, ws: bool) -> TCPClient | WSClient:
    """A new live connection of ``account`` to ``server``, with its old token."""
    if ws:
        conn: TCPClient | WSClient = WSClient(server.http_port, f"/ws?token={account.token}")
        assert conn.recv()["type"] == "server_hello"
        assert conn.recv()["success"] is True
    else:
        conn = TCPClient.connect(server.tcp_port)
        conn.send({"type": "client_hello", "version": "1.0"})
        assert conn.request("authenticate", token=account.token)["success"] is True
    account.server, account.conn = server, conn
    return conn


def test_room_audiences_after_a_restart_are_the_databases(tmp_path: Path) -> None:
    before = ServerProcess(tmp_path)
    try:
        owner, member, kicked, invitee, gone = (Account(before) for _ in range(5))
        room_id = room_with(owner, member, kicked)
        status, body = owner.rest("DELETE", f"/api/v1/rooms/{room_id}/members/{kicked.id}")
        assert status == 200, body
        status, body = owner.rest(
            "POST", "/api/v1/rooms", {"name": "secret", "settings": {"public": False}}
        )
        assert status == 201, body
        secret_id = body["room"]["id"]
        invitation = owner.conn.ok("invite_to_room", room_id=secret_id, user_id=invitee.id)
        invitee.conn.ok("accept_invitation", invitation_id=invitation["invitation"]["id"])
        doomed = room_with(owner, gone)
        status, body = owner.rest("DELETE", f"/api/v1/rooms/{doomed}")
        assert status == 200, body
        for account in (owner, member, kicked, invitee, gone):
            account.conn.close()
    finally:
        before.stop()

    after = ServerProcess(tmp_path)
    try:
        reconnect(after, owner, ws=False)
        for account, ws in ((member, True), (kicked, False), (invitee, True), (gone, False)):
            reconnect(after, account, ws)
        for account in (member, kicked, invitee, gone):
            account.conn.barrier()  # the presence events of those connected after
        sent = owner.conn.ok("send_message", target=room(room_id), content="after")
        owner.conn.ok("send_message", target=room(secret_id), content="secret after")
        assert member.conn.event("message_received")["message"]["id"] == sent["message"]["id"]
        assert invitee.conn.event("message_received")["message"]["content"] == "secret after"
        assert types(kicked.conn) == []
        assert types(gone.conn) == []
        refused = kicked.conn.request("send_message", target=room(room_id), content="x")
        assert refused["error"]["code"] == "not_room_member"
        refused = gone.conn.request("send_message", target=room(doomed), content="x")
        assert refused["error"]["code"] == "not_room_member"
        invitee.conn.ok("send_message", target=room(secret_id), content="still in")
    finally:
        after.stop()
