"""``lairchat admin delete-user NAME`` (docs/operations.md, "Administration"): the
whole deletion when no server has the database, the first step only beside a running
server (which finishes it: tests/integration/test_account_deletion_live.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lairchat.domain.types import Target
from lairchat.storage.sqlite import lock
from lairchat.testing import make_core, result
from tests.unit.test_ops_cli import cheap_hashes, no_wait, run  # noqa: F401


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """alice (logged in once) owns "general" with bob in it; each wrote there, and
    alice DMed bob."""
    path = tmp_path / "chat.db"
    for name in ("alice", "bob"):
        assert run(path, "admin", "create-user", name, f"{name}@example.com") == 0
    core = make_core(str(path))
    alice = result(core.store.find_user_by_login("alice"))
    bob = result(core.store.find_user_by_login("bob"))
    result(core.auth.login("alice", "password123"))
    room = result(core.rooms.create(alice, "general", None, None))
    result(core.rooms.join(bob, room.id))
    result(core.messages.send(alice, Target("room", room.id), "from alice"))
    result(core.messages.send(alice, Target("dm", bob.id), "alice to bob"))
    result(core.messages.send(bob, Target("room", room.id), "from bob"))
    core.store.close()
    return path


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_without_a_server_it_deletes_everything(db: Path, capsys) -> None:
    assert run(db, "admin", "delete-user", "ALICE") == 0
    out = capsys.readouterr().out
    assert out.startswith("deleted alice: 1 session(s) ended")
    assert rows(db, "SELECT username FROM users") == [("bob",)]
    assert rows(db, "SELECT content FROM messages") == [("from bob",)]
    assert rows(db, "SELECT name, u.username FROM rooms JOIN users u ON u.id = owner_id") == [
        ("general", "bob")
    ]
    assert rows(db, "SELECT role FROM room_memberships") == [("owner",)]
    assert rows(db, "SELECT * FROM user_deletions") == []
    # The name is free again.
    assert run(db, "admin", "create-user", "alice", "alice2@example.com") == 0


def test_an_unknown_name_is_refused(db: Path, capsys) -> None:
    assert run(db, "admin", "delete-user", "nobody") == 1
    assert "no user named 'nobody'" in capsys.readouterr().err


def test_beside_a_server_it_begins_and_leaves_the_rest_to_it(db: Path, capsys) -> None:
    """The running server keeps the rooms' members in memory and must tell them: it
    finishes the deletion the command marks."""
    with lock.shared(str(db), no_wait):
        assert run(db, "admin", "delete-user", "alice") == 0
    out = capsys.readouterr().out
    assert out.startswith("deleting alice: 1 session(s) revoked")
    assert "the running server hands its rooms over within 5 s" in out
    (marked,) = rows(
        db,
        "SELECT u.username, u.password_hash FROM user_deletions d JOIN users u ON u.id = d.user_id",
    )
    assert marked == ("alice", "!deleted")
    assert rows(
        db,
        "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id "
        "WHERE u.username = 'alice'",
    ) == [(0,)]
    # Listed no more, and what the server finishes a second command finishes too.
    assert run(db, "admin", "list-users") == 0
    assert "alice" not in capsys.readouterr().out
    assert run(db, "admin", "delete-user", "alice") == 0
    assert rows(db, "SELECT username FROM users") == [("bob",)]


@pytest.mark.parametrize("command", ["ban", "unban"])
def test_no_ban_or_unban_of_an_account_being_deleted(db: Path, capsys, command) -> None:
    """Its deletion begun beside a server, the operator's ban was stored and in the
    audit log, of an account that may never sign in again; as reset-password, it
    stops with User not found."""
    assert run(db, "admin", "ban", "alice") == 0
    with lock.shared(str(db), no_wait):
        assert run(db, "admin", "delete-user", "alice") == 0
        capsys.readouterr()
        assert run(db, "admin", command, "alice") == 1
    assert capsys.readouterr().err == "lairchat: User not found\n"
    assert rows(db, "SELECT action FROM admin_audit ORDER BY at, rowid") == [
        ("user.create",),
        ("user.create",),
        ("user.ban",),
        ("user.delete",),
    ]
