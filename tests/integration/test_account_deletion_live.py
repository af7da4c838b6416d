"""Deleting one's account on a real server (docs/protocols/HTTP.md, ``DELETE
/api/v1/users/me``; docs/SECURITY.md, "Deleting an account"): the account's TCP
connection is told and closed, a room member's TCP connection sees the account go
offline, hand its room over and leave, and the account's messages and name go. The
same when the operator's ``lairchat admin delete-user`` begins it beside the server."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lairchat.testing import ServerProcess
from lairchat.testing_clients import rest
from tests.integration.test_ops_support import wait_until
from tests.integration.test_sessions_live import ADMIN, PASSWORD, User, start, tcp

WATCHED = ("user_offline", "member_role_changed", "user_left_room", "message_deleted")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = start(tmp_path_factory.mktemp("deletion-live"))
    yield srv
    srv.stop()


def test_a_deleted_account_is_closed_handed_over_and_erased(server: ServerProcess) -> None:
    alice, bob, admin = User(server), User(server), User(server, ADMIN)
    root = admin.device()["token"]
    alice_token, bob_token = alice.device()["token"], bob.device()["token"]
    status, reply = rest(server, "POST", "/api/v1/rooms", {"name": alice.name}, alice_token)
    assert status == 201, reply
    room_id = reply["room"]["id"]
    assert rest(server, "POST", f"/api/v1/rooms/{room_id}/join", {}, bob_token)[0] == 200
    alice_tcp, bob_tcp = tcp(server, alice_token), tcp(server, bob_token)
    in_room = {"type": "room", "room_id": room_id}
    to_bob = {"type": "direct_message", "recipient": bob.id}
    for target, content in ((in_room, "alice's words"), (to_bob, "alice to bob")):
        alice_tcp.ok("send_message", target=target, content=content)
    bob_tcp.ok("send_message", target=in_room, content="bob's words")
    bob_tcp.barrier()
    users_before = rest(server, "GET", "/api/v1/admin/stats", token=root)[1]["stats"]

    wrong = rest(server, "DELETE", "/api/v1/users/me", {"password": "not-it"}, alice_token)
    assert (wrong[0], wrong[1]["error"]["code"]) == (401, "invalid_credentials")
    assert rest(server, "DELETE", "/api/v1/users/me", {"password": PASSWORD}, alice_token) == (
        200,
        {"success": True},
    )

    told = alice_tcp.expect_closed()
    assert [m.get("code") for m in told if m["type"] == "error"] == ["session_not_found"]
    seen = [m for m in bob_tcp.barrier() if m["type"] in WATCHED]
    assert [m["type"] for m in seen] == ["user_offline", "member_role_changed", "user_left_room"]
    assert seen[1] == {
        "type": "member_role_changed",
        "room_id": room_id,
        "user_id": bob.id,
        "username": bob.name,
        "old_role": "member",
        "new_role": "owner",
        "changed_by": alice.id,
    }
    assert seen[2] == {
        "type": "user_left_room",
        "room_id": room_id,
        "user_id": alice.id,
        "reason": "left",
    }
    stats = rest(server, "GET", "/api/v1/admin/stats", token=root)[1]["stats"]
    assert stats["total_users"] == users_before["total_users"] - 1

    # The erasure goes on in the background; then the name is free again.
    again = {"username": alice.name, "email": f"new-{alice.name}@ex.com", "password": PASSWORD}
    created = wait_until(
        lambda: rest(server, "POST", "/api/v1/auth/register", again)[0] == 201,
        "for the deleted account's name to be free",
    )
    assert created
    history = bob_tcp.ok("get_messages", target=in_room, limit=10)
    assert [m["content"] for m in history["messages"]] == ["bob's words"]
    # bob owns the room now, and no message_deleted flood came.
    members = rest(server, "GET", f"/api/v1/rooms/{room_id}/members", token=bob_token)[1]
    assert [(m["user_id"], m["role"]) for m in members["members"]] == [(bob.id, "owner")]
    assert [m for m in bob_tcp.barrier() if m["type"] == "message_deleted"] == []
    # The old token stays dead.
    assert rest(server, "GET", "/api/v1/users/me", token=alice_token)[0] == 401


def test_the_operator_command_begins_it_and_the_running_server_finishes(
    server: ServerProcess,
) -> None:
    """The command marks the account and ends its sessions; the server, which alone
    can tell the rooms' members, finds the mark within seconds and does the rest."""
    carol, dave = User(server), User(server)
    carol_token, dave_token = carol.device()["token"], dave.device()["token"]
    status, reply = rest(server, "POST", "/api/v1/rooms", {"name": carol.name}, carol_token)
    room_id = reply["room"]["id"]
    assert rest(server, "POST", f"/api/v1/rooms/{room_id}/join", {}, dave_token)[0] == 200
    carol_tcp, dave_tcp = tcp(server, carol_token), tcp(server, dave_token)
    in_room = {"type": "room", "room_id": room_id}
    carol_tcp.ok("send_message", target=in_room, content="carol's words")
    dave_tcp.barrier()

    done = subprocess.run(
        [sys.executable, "-m", "lairchat.cli", "admin", "delete-user", carol.name],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        f"deleting {carol.name}: 2 session(s) revoked"
    )  # registered, then logged in

    carol_tcp.sock.settimeout(15)  # the server looks every 5 s
    assert [m.get("code") for m in carol_tcp.expect_closed() if m["type"] == "error"] == [
        "session_not_found"
    ]
    dave_tcp.sock.settimeout(15)
    role = dave_tcp.wait_for(lambda m: m["type"] == "member_role_changed")
    assert (role["user_id"], role["new_role"], role["changed_by"]) == (dave.id, "owner", carol.id)
    left = dave_tcp.wait_for(lambda m: m["type"] == "user_left_room")
    assert (left["user_id"], left["reason"]) == (carol.id, "left")
    again = {"username": carol.name, "email": f"new-{carol.name}@ex.com", "password": PASSWORD}
    wait_until(
        lambda: rest(server, "POST", "/api/v1/auth/register", again)[0] == 201,
        "for the deleted account's name to be free",
    )
    history = dave_tcp.ok("get_messages", target=in_room, limit=10)
    assert history["messages"] == []


def test_a_server_killed_mid_erasure_finishes_it_at_its_next_start(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """SIGKILL while the account's 25,000 messages are being erased (25 batches with
    pauses, two windows of the scan): the account never signs in again, and the
    restarted server's watcher erases the rest and the account; the schema's
    invariants hold (foreign keys, integrity, every room's owner a user)."""
    workdir = tmp_path_factory.mktemp("deletion-killed")
    first = start(workdir)
    alice, bob = User(first), User(first)
    alice_token, bob_token = alice.device()["token"], bob.device()["token"]
    room_id = rest(first, "POST", "/api/v1/rooms", {"name": alice.name}, alice_token)[1]["room"][
        "id"
    ]
    assert rest(first, "POST", f"/api/v1/rooms/{room_id}/join", {}, bob_token)[0] == 200
    first.stop()
    db = sqlite3.connect(first.database)
    rows = [
        (str(uuid.uuid4()), *([alice.id, "room", room_id] if n % 5 else [bob.id, "dm", alice.id]))
        + (f"m{n}", 1_700_000_000 + n)
        for n in range(25_000)
    ]
    db.executemany(
        "INSERT INTO messages (id, author_id, target_type, target_id, content, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, 0)",
        rows,
    )
    db.execute(
        "INSERT INTO messages (id, author_id, target_type, target_id, content, created_at, "
        "updated_at) VALUES (?, ?, 'room', ?, 'bob stays', 1800000000, 0)",
        (str(uuid.uuid4()), bob.id, room_id),
    )
    db.commit()
    db.close()

    second = start(workdir)
    token = rest(
        second, "POST", "/api/v1/auth/login", {"identifier": alice.name, "password": PASSWORD}
    )[1]["token"]
    assert rest(second, "DELETE", "/api/v1/users/me", {"password": PASSWORD}, token)[0] == 200
    wait_until(lambda: 0 < erased(second.database, alice.id) < 25_000, "the erasure to begin")
    second.kill()
    assert erased(second.database, alice.id) < 25_000, "finished before the kill: no test"

    third = start(workdir)
    try:
        login = {"identifier": alice.name, "password": PASSWORD}
        assert rest(third, "POST", "/api/v1/auth/login", login)[0] == 401
        again = {"username": alice.name, "email": f"new-{alice.name}@ex.com", "password": PASSWORD}
        wait_until(
            lambda: rest(third, "POST", "/api/v1/auth/register", again)[0] == 201,
            "for the restarted server to finish the deletion",
        )
    finally:
        third.stop()
    db = sqlite3.connect(third.database)
    try:
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        left = "SELECT count(*) FROM messages WHERE author_id = ?1 OR target_id = ?1"
        assert db.execute(left, (alice.id,)).fetchone() == (0,)
        assert db.execute("SELECT content FROM messages").fetchall() == [("bob stays",)]
        owners = "SELECT owner_id FROM rooms WHERE id = ?"
        assert db.execute(owners, (room_id,)).fetchone() == (bob.id,)
        assert db.execute("SELECT count(*) FROM user_deletions").fetchone() == (0,)
    finally:
        db.close()


def erased(database: Path, user_id: str) -> int:
    """How many of the account's 25,000 messages are gone (read beside the server)."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        left = db.execute(
            "SELECT count(*) FROM messages WHERE author_id = ?1 OR target_id = ?1", (user_id,)
        ).fetchone()[0]
    finally:
        db.close()
    return 25_000 - left
