"""Operator commands added for operations: ``db restore``, and what ``admin ban`` says."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lairchat import cli
from lairchat.core import passwords
from lairchat.transports.http.testing import CHEAP_HASHER


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)
    monkeypatch.setenv("LAIR_NEW_PASSWORD", "password123")


def run(db: Path, *argv: str) -> int:
    return cli.main(["--database-url", f"sqlite:{db}", *argv])


def usernames(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return sorted(row[0] for row in conn.execute("SELECT username FROM users"))


def test_backup_then_restore(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db, backup = tmp_path / "chat.db", tmp_path / "backup.db"
    assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
    assert run(db, "db", "backup", str(backup)) == 0
    assert run(db, "admin", "create-user", "bob", "bob@example.com") == 0
    assert usernames(db) == ["alice", "bob"]
    capsys.readouterr()
    assert run(db, "db", "restore", str(backup)) == 0
    assert capsys.readouterr().out.startswith(f"restored {db} from {backup}")
    assert usernames(db) == ["alice"]


def test_restore_refuses_what_is_not_a_lairchat_database(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, but long enough to look like one " * 20)
    for bad in (other, text, tmp_path / "missing.db"):
        capsys.readouterr()
        assert run(db, "db", "restore", str(bad)) == 1
        assert capsys.readouterr().err.startswith("lairchat: ")
    assert usernames(db) == ["alice"]  # untouched


def test_restore_refuses_a_backup_from_a_newer_lairchat(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    db, backup = tmp_path / "chat.db", tmp_path / "backup.db"
    assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
    assert run(db, "db", "backup", str(backup)) == 0
    with sqlite3.connect(backup) as conn:
        conn.execute("INSERT INTO _migrations (name, applied_at) VALUES ('999_future', 0)")
    assert run(db, "admin", "create-user", "bob", "bob@example.com") == 0
    capsys.readouterr()
    assert run(db, "db", "restore", str(backup)) == 1
    assert "999_future" in capsys.readouterr().err
    assert usernames(db) == ["alice", "bob"]


def test_ban_says_when_live_connections_close(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "mallory", "mallory@example.com") == 0
    capsys.readouterr()
    assert run(db, "admin", "ban", "mallory") == 0
    out = capsys.readouterr().out
    assert "banned mallory permanently" in out
    assert "closes their connections within 5 s" in out
