"""The ``lairchat`` command tried as an unlucky operator would: a database path with
a typo in it, and the like. Each test failed before the fix it names."""

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


@pytest.mark.parametrize(
    "argv",
    [
        ["admin", "list-users"],
        ["admin", "set-role", "alice", "admin"],
        ["admin", "ban", "alice"],
        ["admin", "unban", "alice"],
        ["admin", "reset-password", "alice", "--generate"],
        ["db", "prune", "--older-than", "30"],
        ["db", "backup", "BACKUP"],
        ["db", "backup", "--into", "DIR"],
    ],
)
def test_a_missing_database_is_not_created_by_a_command_that_needs_one(
    tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str]
) -> None:
    """A typo in LAIR_DATABASE_URL made a new, empty database: ``list-users`` said
    ``(no users)``, and ``db backup`` (the daily backup unit's command) backed the
    empty database up with status 0, then ``--keep`` removed real backups in turn."""
    backups = tmp_path / "backups"
    backups.mkdir()
    argv = [str(tmp_path / "b.db") if a == "BACKUP" else a for a in argv]
    argv = [str(backups) if a == "DIR" else a for a in argv]
    db = tmp_path / "typo.db"
    assert run(db, *argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"lairchat: cannot open database {db}: no such file (a new one is made only by"
        " the server's start, admin create-user, db migrate or db restore)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backups"]
    assert list(backups.iterdir()) == []


@pytest.mark.parametrize(
    "argv",
    [["admin", "create-user", "alice", "alice@example.com"], ["db", "migrate"]],
)
def test_the_commands_that_make_a_database_still_do(tmp_path: Path, argv: list[str]) -> None:
    db = tmp_path / "new.db"
    assert run(db, *argv) == 0
    assert db.exists()


def another_applications_database(path: Path) -> list[str]:
    """An SQLite file of some other program; returns its tables."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
        conn.execute("INSERT INTO invoices VALUES (1, 9.5)")
    conn.close()
    return tables(path)


def tables(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master"))
    finally:
        conn.close()


@pytest.mark.parametrize(
    "argv",
    [
        ["admin", "list-users"],
        ["admin", "create-user", "alice", "alice@example.com"],
        ["db", "migrate"],
        ["db", "prune", "--older-than", "30"],
    ],
)
def test_another_applications_database_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str]
) -> None:
    """LAIR_DATABASE_URL naming some other program's SQLite file: ``admin list-users``
    said ``(no users)`` with status 0, having written lairchat's eleven tables into it
    among that program's own."""
    db = tmp_path / "accounts.db"
    before = another_applications_database(db)
    assert run(db, *argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "lairchat: not a lairchat database: it has tables of its own (invoices) and no"
        " lairchat migrations recorded; lairchat adds nothing to it\n"
    )
    assert tables(db) == before
