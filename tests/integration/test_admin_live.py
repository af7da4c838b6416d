"""Server-wide administration against a real server, as docs/protocols/HTTP.md
("Admin") and docs/architecture.md ("A server ban keeps the account's rooms") say:
a forced room deletion seen by live TCP and WebSocket members, and what a ban keeps
and an unban gives back. The operator command's ban: tests/integration/test_ops_admin.py;
a ban ending every session: tests/integration/test_sessions_live.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient, WSClient, rest
from tests.integration.test_sessions_live import ADMIN, User, start, tcp, ws


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = start(tmp_path_factory.mktemp("admin-live"))
    yield srv
    srv.stop()


def stats(server: ServerProcess, token: str) -> dict:
    status, reply = rest(server, "GET", "/api/v1/admin/stats", token=token)
    assert status == 200, reply
    return reply["stats"]


def room_message(conn: TCPClient | WSClient, room_id: str, content: str) -> dict:
    target = {"type": "room", "room_id": room_id}
    return conn.request("send_message", target=target, content=content)


def test_a_forced_deletion_reaches_live_members_on_both_transports(server: ServerProcess) -> None:
    owner, member, admin = User(server), User(server), User(server, ADMIN)
    root = admin.device()["token"]
    owner_token, member_token = owner.device()["token"], member.device()["token"]
    status, reply = rest(server, "POST", "/api/v1/rooms", {"name": owner.name}, owner_token)
    assert status == 201, reply
    room_id = reply["room"]["id"]
    assert rest(server, "POST", f"/api/v1/rooms/{room_id}/join", {}, member_token)[0] == 200
    on_tcp, on_ws = tcp(server, owner_token), ws(server, member_token)
    assert room_message(on_tcp, room_id, "before")["success"] is True
    before = stats(server, root)

    assert rest(server, "DELETE", f"/api/v1/admin/rooms/{room_id}", token=root) == (
        200,
        {"success": True},
    )
    deleted = {
        "type": "room_deleted",
        "room_id": room_id,
        "room_name": owner.name,
        "deleted_by": admin.id,
    }
    for conn in (on_tcp, on_ws):
        assert [m for m in conn.barrier() if m["type"] == "room_deleted"] == [deleted]
        # The hub forgot the room with the database: no one is a member any more.
        assert room_message(conn, room_id, "after")["error"]["code"] == "not_room_member"
    after = stats(server, root)
    assert after["total_rooms"] == before["total_rooms"] - 1
    # Its message stays stored (as in Lair Chat), and counted.
    assert after["total_messages"] == before["total_messages"]
    assert rest(server, "DELETE", f"/api/v1/admin/rooms/{room_id}", token=root)[0] == 404


def test_a_ban_keeps_rooms_and_dms_and_an_unban_gives_them_back(server: ServerProcess) -> None:
    mallory, bob, admin = User(server), User(server), User(server, ADMIN)
    root = admin.device()["token"]
    old, bob_token = mallory.device()["token"], bob.device()["token"]
    status, reply = rest(server, "POST", "/api/v1/rooms", {"name": mallory.name}, old)
    room_id = reply["room"]["id"]
    assert rest(server, "POST", f"/api/v1/rooms/{room_id}/join", {}, bob_token)[0] == 200
    ban = f"/api/v1/admin/users/{mallory.id}/ban"
    assert rest(server, "POST", ban, {"reason": "spam"}, root)[0] == 200

    # Still the room's owner and a member; still sent DMs.
    status, reply = rest(server, "GET", f"/api/v1/rooms/{room_id}/members", token=bob_token)
    assert {m["user_id"]: m["role"] for m in reply["members"]}[mallory.id] == "owner"
    dm = {"target": {"type": "direct_message", "recipient": mallory.id}, "content": "hello?"}
    assert rest(server, "POST", "/api/v1/messages", dm, bob_token)[0] == 201

    unban = f"/api/v1/admin/users/{mallory.id}/unban"
    assert rest(server, "POST", unban, token=root) == (200, {"success": True})
    # Sessions stay ended; a new login has the room and the DM back.
    assert rest(server, "GET", "/api/v1/users/me", token=old)[0] == 401
    again = tcp(server, mallory.device()["token"])
    assert room_message(again, room_id, "back")["success"] is True
    history = again.ok(
        "get_messages", target={"type": "direct_message", "recipient": bob.id}, limit=10
    )
    assert [m["content"] for m in history["messages"]] == ["hello?"]
