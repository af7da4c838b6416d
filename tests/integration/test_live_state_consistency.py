"""Live state against the database: a connected client's deliveries and rights
after the state they depend on changed through another path (REST, another
transport, the ``lairchat`` operator command in another process).

A real server (``ServerProcess``), real sockets: the blocking clients of
:mod:`lairchat.testing_clients` for TCP and WebSocket, urllib for REST. Every wait is
a read with a deadline or a ping barrier; nothing sleeps.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from lairchat.testing import SOURCE_ROOT, ServerProcess
from lairchat.testing_clients import TCPClient, WSClient, rest

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("live-state"))
    yield srv
    srv.stop()


class Account:
    """A registered user: id, name, token, and a live connection (TCP or WebSocket)."""

    def __init__(self, server: ServerProcess, ws: bool = False) -> None:
        self.server = server
        self.name = f"u{uuid.uuid4().hex[:10]}"
        tcp = TCPClient.connect(server.tcp_port)
        tcp.send({"type": "client_hello", "version": "1.0"})
        response = tcp.request(
            "register", username=self.name, email=f"{self.name}@example.com", password=PASSWORD
        )
        assert response["success"] is True, response
        self.id, self.token = response["user"]["id"], response["token"]
        self.conn: TCPClient | WSClient = tcp
        if ws:
            tcp.close()
            self.conn = WSClient(server.http_port, f"/ws?token={self.token}")
            assert self.conn.recv()["type"] == "server_hello"
            assert self.conn.recv()["success"] is True

    def rest(self, method: str, path: str, body: Any = None) -> tuple[int, dict]:
        return rest(self.server, method, path, body, self.token)


def lairchat_admin(server: ServerProcess, *argv: str) -> str:
    """The operator command in a process of its own, on the server's database."""
    env = {**server.env, "PYTHONPATH": str(SOURCE_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from lairchat.cli import main; sys.exit(main())"]
        + ["admin", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def room_with(owner: Account, *members: Account) -> str:
    status, body = owner.rest("POST", "/api/v1/rooms", {"name": f"r{uuid.uuid4().hex[:10]}"})
    assert status == 201, body
    room_id = body["room"]["id"]
    for member in members:
        status, body = member.rest("POST", f"/api/v1/rooms/{room_id}/join")
        assert status == 200, body
    return room_id


def types(conn: TCPClient | WSClient) -> list[str]:
    return [m["type"] for m in conn.barrier()]


def room(room_id: str) -> dict[str, str]:
    return {"type": "room", "room_id": room_id}


def dm(user_id: str) -> dict[str, str]:
    return {"type": "dm", "recipient": user_id}


@pytest.mark.parametrize("ws", [False, True], ids=["tcp", "ws"])
def test_kicked_over_rest_stops_receiving_and_sending(server: ServerProcess, ws: bool) -> None:
    owner, member = Account(server), Account(server, ws=ws)
    room_id = room_with(owner, member)
    member.conn.barrier()
    status, body = owner.rest("DELETE", f"/api/v1/rooms/{room_id}/members/{member.id}")
    assert status == 200, body
    member.conn.event("user_left_room", room_id=room_id, user_id=member.id)
    owner.conn.ok("send_message", target=room(room_id), content="after the kick")
    owner.conn.send({"type": "typing", "target": room(room_id)})
    assert types(member.conn) == []
    refused = member.conn.request("send_message", target=room(room_id), content="x")
    assert refused["success"] is False and refused["error"]["code"] == "not_room_member"


def test_user_made_by_the_operator_command_can_be_written_to(server: ServerProcess) -> None:
    """Found here: the hub's user directory is loaded at start, so an account made by
    ``lairchat admin create-user`` while the server ran was ``user_not_found`` to
    every DM until a restart."""
    sender = Account(server)
    name = f"op{uuid.uuid4().hex[:8]}"
    out = lairchat_admin(server, "create-user", name, f"{name}@example.com", "--password", PASSWORD)
    user_id = out.split("(")[1].split(")")[0]
    status, body = rest(
        server, "POST", "/api/v1/auth/login", {"identifier": name, "password": PASSWORD}
    )
    assert status == 200, body
    ws = WSClient(server.http_port, f"/ws?token={body['token']}")
    assert ws.recv()["type"] == "server_hello"
    assert ws.recv()["success"] is True
    sender.conn.send({"type": "typing", "target": dm(user_id)})
    assert ws.event("user_typing", user_id=sender.id)["target"] == dm(user_id)
    sent = sender.conn.ok("send_message", target=dm(user_id), content="welcome")["message"]
    assert ws.event("message_received")["message"]["id"] == sent["id"]
    status, body = sender.rest(
        "GET", f"/api/v1/messages?target_type=direct_message&target_id={user_id}"
    )
    assert status == 200 and [m["id"] for m in body["messages"]] == [sent["id"]], body
    ws.close()


def test_room_deleted_while_members_are_connected(server: ServerProcess) -> None:
    owner, tcp_member, ws_member = Account(server), Account(server), Account(server, ws=True)
    room_id = room_with(owner, tcp_member, ws_member)
    owner.conn.ok("send_message", target=room(room_id), content="unread")
    for member in (tcp_member, ws_member):
        member.conn.barrier()
        status, body = member.rest("GET", "/api/v1/users/me")
        assert body["unread_counts"]["by_room"] == {room_id: 1}, body
    status, body = owner.rest("DELETE", f"/api/v1/rooms/{room_id}")
    assert status == 200, body
    for member in (tcp_member, ws_member):
        member.conn.event("room_deleted", room_id=room_id)
        refused = member.conn.request("send_message", target=room(room_id), content="x")
        assert refused["error"]["code"] == "not_room_member"
        refused = member.conn.request("get_messages", target=room(room_id), limit=10)
        assert refused["error"]["code"] == "not_room_member"
        status, body = member.rest("GET", "/api/v1/users/me")
        assert status == 200, body
        assert body["unread_counts"]["by_room"] == {}, body


def test_demoted_moderator_cannot_delete_others_messages(server: ServerProcess) -> None:
    owner, moderator, member = Account(server), Account(server, ws=True), Account(server)
    room_id = room_with(owner, moderator, member)
    status, body = owner.rest(
        "PUT", f"/api/v1/rooms/{room_id}/members/{moderator.id}/role", {"role": "moderator"}
    )
    assert status == 200, body
    sent = member.conn.ok("send_message", target=room(room_id), content="one")["message"]
    status, body = owner.rest(
        "PUT", f"/api/v1/rooms/{room_id}/members/{moderator.id}/role", {"role": "member"}
    )
    assert status == 200, body
    refused = moderator.conn.request("delete_message", message_id=sent["id"])
    assert refused["error"]["code"] == "permission_denied"


def test_dm_typing_and_presence_reach_no_third_party(server: ServerProcess) -> None:
    alice, bob, eve = Account(server), Account(server, ws=True), Account(server)
    eve.conn.barrier()
    alice.conn.send({"type": "typing", "target": dm(bob.id)})
    bob.conn.event("user_typing", user_id=alice.id)
    alice.conn.ok("send_message", target=dm(bob.id), content="secret")
    bob.conn.ok("mark_read", target=dm(alice.id))
    assert [t for t in types(eve.conn) if t not in ("user_online", "user_offline")] == []
    status, body = eve.rest("GET", "/api/v1/users/me")
    nothing = {"total": 0, "by_room": {}, "by_dm": {}}
    assert body["unread_counts"] == {**nothing, "mentions": nothing}, body
    status, body = bob.rest("GET", "/api/v1/users/me")
    assert body["unread_counts"]["by_dm"] == {}, body  # marked read


def private_room(owner: Account, **settings: Any) -> str:
    status, body = owner.rest(
        "POST",
        "/api/v1/rooms",
        {"name": f"p{uuid.uuid4().hex[:10]}", "settings": {"public": False, **settings}},
    )
    assert status == 201, body
    return body["room"]["id"]


def invite(owner: Account, room_id: str, guest: Account) -> str:
    status, body = owner.rest(
        "POST", "/api/v1/invitations", {"room_id": room_id, "user_id": guest.id}
    )
    assert status == 201, body
    return body["invitation"]["id"]


def accept_at_once(*pairs: tuple[Account, str]) -> list[dict]:
    """Send every ``accept_invitation`` before reading any answer."""
    ids = [f"accept-{n}" for n in range(len(pairs))]
    for (guest, invitation_id), request_id in zip(pairs, ids, strict=True):
        guest.conn.send(
            {"type": "accept_invitation", "request_id": request_id, "invitation_id": invitation_id}
        )
    return [
        guest.conn.wait_for(lambda m, r=r: m.get("request_id") == r)
        for (guest, _), r in zip(pairs, ids, strict=True)
    ]


def joined(owner: Account) -> list[str]:
    return [m["user"]["id"] for m in owner.conn.barrier() if m["type"] == "user_joined_room"]


def test_one_invitation_accepted_twice_at_once_joins_once(server: ServerProcess) -> None:
    owner, guest = Account(server), Account(server, ws=True)
    room_id = private_room(owner)
    invitation_id = invite(owner, room_id, guest)
    owner.conn.barrier()
    answers = accept_at_once((guest, invitation_id), (guest, invitation_id))
    assert sorted(a["success"] for a in answers) == [False, True], answers
    refused = [a["error"]["code"] for a in answers if not a["success"]]
    assert refused[0] in ("already_member", "invitation_expired"), answers
    assert joined(owner) == [guest.id]


def test_invitations_accepted_at_once_respect_the_room_size(server: ServerProcess) -> None:
    owner, first, second = Account(server), Account(server), Account(server, ws=True)
    room_id = private_room(owner, max_members=2)
    pairs = [(guest, invite(owner, room_id, guest)) for guest in (first, second)]
    owner.conn.barrier()
    answers = accept_at_once(*pairs)
    assert sorted(a["success"] for a in answers) == [False, True], answers
    assert [a["error"]["code"] for a in answers if not a["success"]] == ["room_full"]
    winner = [guest.id for (guest, _), a in zip(pairs, answers, strict=True) if a["success"]]
    assert joined(owner) == winner
    status, body = owner.rest("GET", f"/api/v1/rooms/{room_id}/members")
    assert sorted(m["user_id"] for m in body["members"]) == sorted([owner.id, *winner])


def test_an_admin_demoted_by_the_operator_command_loses_admin_at_once(
    server: ServerProcess,
) -> None:
    admin, target = Account(server), Account(server)
    lairchat_admin(server, "set-role", admin.name, "admin")
    status, body = admin.rest("GET", "/api/v1/admin/stats")
    assert status == 200, body
    lairchat_admin(server, "set-role", admin.name, "user")
    # The same session, no restart: roles are read from the database on every check.
    status, body = admin.rest("POST", f"/api/v1/admin/users/{target.id}/ban", {})
    assert (status, body["error"]["code"]) == (403, "permission_denied"), body
    assert target.conn.request("get_current_user")["success"] is True  # not banned
