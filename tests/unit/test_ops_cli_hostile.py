"""The ``lairchat`` command tried as an unlucky operator would: a database path with
a typo in it, and the like. Each test failed before the fix it names."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lairchat import cli
from lairchat.core.deferreds import result
from tests.unit.test_ops_cli import cheap_hashes, run  # noqa: F401 (an autouse fixture)


@pytest.mark.parametrize(
    "argv",
    [
        ["admin", "list-users"],
        ["admin", "set-role", "alice", "admin"],
        ["admin", "ban", "alice"],
        ["admin", "unban", "alice"],
        ["admin", "reset-password", "alice", "--generate"],
        ["admin", "delete-user", "alice"],
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


def damage_all_but_migrations(db: Path) -> None:
    """Overwrite the first page of every table and index but ``_migrations``'s: the
    start's migrations read fine, what it reads next is malformed (a failing disk)."""
    conn = sqlite3.connect(db)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [
            row[0]
            for row in conn.execute(
                "SELECT rootpage FROM sqlite_master WHERE rootpage > 0"
                " AND tbl_name NOT IN ('_migrations', 'sqlite_sequence')"
            )
        ]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the file itself
    finally:
        conn.close()
    with db.open("r+b") as f:
        for page in pages:
            f.seek((page - 1) * page_size)
            f.write(b"\xff" * page_size)


@pytest.mark.parametrize("into", [False, True])
def test_a_damaged_database_is_not_backed_up(
    tmp_path: Path, capsys: pytest.CaptureFixture, into: bool
) -> None:
    """``db backup`` copied a damaged database page by page and said ``backed up``,
    status 0: the daily backup unit, with --keep, would in two weeks have replaced
    every good backup by a damaged one."""
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
    backups = tmp_path / "backups"
    backups.mkdir()
    kept = backups / "lair-chat-2000-01-01.db"
    assert run(db, "db", "backup", str(kept)) == 0
    damage_all_but_migrations(db)
    capsys.readouterr()
    target = ["--into", str(backups), "--keep", "1"] if into else [str(tmp_path / "b.db")]
    assert run(db, "db", "backup", *target) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"lairchat: {db} is damaged (")
    assert captured.err.endswith("): no backup written\n") and captured.err.count("\n") == 1
    assert sorted(p.name for p in backups.iterdir()) == [kept.name]
    assert not (tmp_path / "b.db").exists()


def test_a_damaged_backup_is_not_restored(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``db restore`` checked that a backup was a lairchat database, not that it was
    whole: a damaged one was copied over the good database, status 0."""
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
    backup = tmp_path / "backup.db"
    assert run(db, "db", "backup", str(backup)) == 0
    damage_all_but_migrations(backup)
    assert run(db, "admin", "create-user", "bob", "bob@example.com") == 0
    capsys.readouterr()
    assert run(db, "db", "restore", str(backup)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"lairchat: {backup} is damaged (")
    assert captured.err.endswith("): nothing restored\n") and captured.err.count("\n") == 1
    assert run(db, "admin", "list-users") == 0
    assert [line.split()[-2] for line in capsys.readouterr().out.splitlines()] == [
        "alice",
        "bob",
    ]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["BACKUP", "--keep", "3"], "lairchat: --keep goes with --into DIR\n"),
        (["--into", "DIR", "--force"], "lairchat: --force goes with PATH\n"),
    ],
)
def test_backup_options_that_would_do_nothing_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], expected: str
) -> None:
    """``db backup PATH --keep 3`` wrote PATH and kept every older backup, status 0:
    --keep counts only with --into, and was dropped without a word (so was --force
    with --into, which replaces the day's backup in any case)."""
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
    backups = tmp_path / "backups"
    backups.mkdir()
    argv = [str(tmp_path / "b.db") if a == "BACKUP" else a for a in argv]
    argv = [str(backups) if a == "DIR" else a for a in argv]
    capsys.readouterr()
    assert run(db, "db", "backup", *argv) == 2
    assert capsys.readouterr() == ("", expected)
    assert not (tmp_path / "b.db").exists() and list(backups.iterdir()) == []


def test_output_to_a_reader_that_went_away_is_no_traceback(tmp_path: Path) -> None:
    """``lairchat admin list-users | head -1`` with more users than a pipe holds: the
    print met a closed pipe and the command ended in a ``BrokenPipeError`` traceback.
    Here the reader is gone before the command writes at all."""
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
    child = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "lairchat.cli", "--database-url", f"sqlite:{db}"]
        + ["admin", "list-users"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    child.stdout.close()
    err = child.stderr.read()
    assert child.wait(timeout=60) == 141  # as a command ended by SIGPIPE in a shell
    assert err == b""


def test_a_database_fault_names_the_database(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A fault while a command worked said only ``lairchat: DatabaseError: database
    disk image is malformed`` (or ``... database is locked``): which file, the
    operator had to guess."""
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
    damage_all_but_migrations(db)
    capsys.readouterr()
    assert run(db, "admin", "list-users") == 1
    assert capsys.readouterr() == (
        "",
        f"lairchat: {db}: DatabaseError: database disk image is malformed\n",
    )


def test_list_users_shows_what_users_and_admins_typed_without_acting_on_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Emails (anyone registering) and ban reasons (an admin over the API) may hold
    controls: ``admin list-users`` printed them raw to the operator's terminal, so an
    escape sequence set its title (or worse), and a newline or carriage return forged
    or hid a line (a user shown as not banned). Each such character is now a visible
    mark, and each account stays one line."""
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
    core = cli.open_core(str(db))
    try:
        email = "eve\x1b]0;owned\x07\r\nfake-id  admin      root  <root>\u202e@example.org"
        eve = result(core.auth.register("eve", email, "password123")).user
        root = result(core.auth.register("root", "root@example.org", "password123")).user
        result(core.users.set_role(root.id, "admin"))
        result(core.admin.ban(root, eve.id, "spam\x1b[2J\x9b2J\rnot banned\u2066", None))
    finally:
        core.store.close()
    capsys.readouterr()
    assert run(db, "admin", "list-users") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 3, lines
    assert not [c for c in out if (c < " " and c != "\n") or "\x7f" <= c <= "\x9f"]
    assert "\u202e" not in out and "\u2066" not in out
    (shown,) = [line for line in lines if " eve " in line]
    assert "<eve␛]0;owned␇␍␊fake-id  admin      root  <root>U+202E@example.org>" in shown
    assert shown.endswith("[banned permanently: spam␛[2JU+009B2J␍not bannedU+2066]")
