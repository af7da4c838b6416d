"""Operator commands added for operations: ``db restore``, and what ``admin ban`` says.

Then the database lock between a running server and the ``lairchat`` command
(:mod:`lairchat.storage.sqlite.lock`): what is refused while a server holds it, what
is not, and a server start that waits for a restore. The same with a real server
process: tests/integration/test_ops_cli_restore.py.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lairchat import cli
from lairchat.core import passwords
from lairchat.core.deferreds import result
from lairchat.domain.errors import LairError
from lairchat.storage.sqlite import lock
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


def test_backup_into_a_directory_keeps_the_newest(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What lairchat-backup.service runs daily (contrib/systemd)."""
    # One day for the whole test: a run that crossed midnight named two files.
    today = time.strftime("%Y-%m-%d")
    monkeypatch.setattr(cli.time, "strftime", lambda fmt, *rest: today)
    db, backups = tmp_path / "chat.db", tmp_path / "backups"
    assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
    backups.mkdir()
    for day in ("2025-01-01", "2025-01-02", "2025-01-03"):
        cli.cmd_backup_into(str(db), str(backups), 3, day)
    (backups / "notes.txt").write_text("not a backup: left alone")
    (backups / "lair-chat-manual.db").write_text("not dated: left alone")
    capsys.readouterr()
    assert run(db, "db", "backup", "--into", str(backups), "--keep", "2") == 0
    assert capsys.readouterr().out == (
        f"backed up {db} to {backups}/lair-chat-{today}.db; removed 2 older backup(s), keeping 2\n"
    )
    assert sorted(p.name for p in backups.iterdir()) == [
        "lair-chat-2025-01-03.db",
        f"lair-chat-{today}.db",
        "lair-chat-manual.db",
        "notes.txt",
    ]
    made = backups / f"lair-chat-{today}.db"
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    with sqlite3.connect(cli.read_only_uri(str(made)), uri=True) as conn:
        assert conn.execute("SELECT username FROM users").fetchall() == [("alice",)]
    # Again the same day: that day's backup is replaced, and what SQLite may have
    # left beside the old one goes with it (an old -wal would be read into the new).
    for leftover in ("-wal", "-shm"):
        Path(f"{made}{leftover}").write_bytes(b"left by whoever opened it")
    assert run(db, "admin", "create-user", "bob", "bob@example.com") == 0
    assert run(db, "db", "backup", "--into", str(backups), "--keep", "2") == 0
    assert len(list(backups.iterdir())) == 4
    assert usernames(made) == ["alice", "bob"]


def test_backup_into_a_missing_directory_or_with_a_bad_keep(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
    capsys.readouterr()
    assert run(db, "db", "backup", "--into", str(tmp_path / "missing")) == 1
    assert capsys.readouterr().err == f"lairchat: {tmp_path / 'missing'}: no such directory\n"
    for argv in (["--keep", "0"], ["--keep", "x"], ["x.db"]):
        with pytest.raises(SystemExit) as info:
            run(db, "db", "backup", "--into", str(tmp_path), *argv)
        assert info.value.code == 2
    assert list(tmp_path.glob("lair-chat-*")) == []


def test_a_database_the_command_creates_is_private(tmp_path: Path) -> None:
    """Under the usual umask 022 a new database (a restore to a new path, a user
    created on one) was 0644, password hashes and all, while its backup was 0600."""
    db, backup, fresh = tmp_path / "chat.db", tmp_path / "backup.db", tmp_path / "new.db"
    old = os.umask(0o022)
    try:
        assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
        assert run(db, "db", "backup", str(backup)) == 0
        assert run(fresh, "db", "restore", str(backup)) == 0
    finally:
        os.umask(old)
    for path in (db, fresh, *fresh.parent.glob("new.db-*")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert usernames(fresh) == ["alice"]


def test_restore_refuses_what_is_not_a_lairchat_database(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, but long enough to look like one " * 20)
    for bad, why in (
        (other, "not a lairchat database (no migrations recorded)"),
        # Any error reading _migrations was taken for "none recorded", as above.
        (text, "file is not a database"),
        (tmp_path / "missing.db", "no such backup file"),
    ):
        capsys.readouterr()
        assert run(db, "db", "restore", str(bad)) == 1
        assert capsys.readouterr().err == f"lairchat: {bad}: {why}\n"
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


def files_in(folder: Path) -> dict[str, tuple[int, int]]:
    """Each file's name, size and modification time."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_restore_leaves_nothing_beside_the_backup(tmp_path: Path) -> None:
    """Opened as a read-write database, the backup got -wal and -shm files beside it,
    left there after the restore."""
    db, backups = tmp_path / "chat.db", tmp_path / "backups"
    backups.mkdir()
    assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
    assert run(db, "db", "backup", str(backups / "backup.db")) == 0
    before = files_in(backups)
    assert run(tmp_path / "new.db", "db", "restore", str(backups / "backup.db")) == 0
    assert files_in(backups) == before
    assert usernames(tmp_path / "new.db") == ["alice"]


def test_restore_reads_the_commits_in_a_wal_beside_the_backup(tmp_path: Path) -> None:
    """A database copied with its -wal, or still open: its last commits are in the WAL,
    which reading the file as immutable would miss."""
    db, backup = tmp_path / "chat.db", tmp_path / "backup.db"
    assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
    assert run(db, "db", "backup", str(backup)) == 0
    writer = sqlite3.connect(backup)
    try:
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute("PRAGMA wal_autocheckpoint = 0")  # the commit stays in the -wal
        writer.execute("UPDATE users SET username = 'alicia'")
        writer.commit()
        assert run(db, "db", "restore", str(backup)) == 0
    finally:
        writer.close()
    assert usernames(db) == ["alicia"]


@pytest.mark.parametrize("name", ["same path", "spelt otherwise", "symlink", "hard link"])
def test_restore_refuses_the_database_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture, name: str
) -> None:
    """It went ahead, copying the live database onto itself."""
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
    other = {
        "same path": db,
        "spelt otherwise": tmp_path / "." / "chat.db",
        "symlink": tmp_path / "link.db",
        "hard link": tmp_path / "hard.db",
    }[name]
    if name == "symlink":
        other.symlink_to(db)
    elif name == "hard link":
        other.hardlink_to(db)
    capsys.readouterr()
    assert run(db, "db", "restore", str(other)) == 1
    assert capsys.readouterr().err == f"lairchat: {other} is the database itself\n"
    assert usernames(db) == ["alice"]


def with_user(tmp_path: Path, capsys: pytest.CaptureFixture, name: str) -> Path:
    """A new database holding the account ``name`` (password ``password123``)."""
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", name, f"{name}@example.com") == 0
    capsys.readouterr()
    return db


def test_ban_says_when_live_connections_close(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    db = with_user(tmp_path, capsys, "mallory")
    assert run(db, "admin", "ban", "mallory") == 0
    out = capsys.readouterr().out
    assert "banned mallory permanently" in out
    assert "closes their connections within 5 s" in out


def login_works(db: Path, username: str, password: str) -> bool:
    core = cli.open_core(str(db))
    try:
        result(core.auth.login(username, password))
    except LairError:
        return False
    return True


def test_reset_password_sets_it_and_ends_every_session(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    db = with_user(tmp_path, capsys, "alice")
    assert login_works(db, "alice", "password123")  # a session the reset must end
    assert run(db, "admin", "reset-password", "alice", "--password", "another-pw1") == 0
    out = capsys.readouterr().out
    assert out.startswith("password of alice reset; 1 session(s) revoked")
    assert "closes their connections within 5 s" in out
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone() == (0,)
    assert not login_works(db, "alice", "password123")
    assert login_works(db, "alice", "another-pw1")


def test_reset_password_can_make_one_up(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = with_user(tmp_path, capsys, "alice")
    assert run(db, "admin", "reset-password", "alice", "--generate") == 0
    made = capsys.readouterr().out.split("the new password is ")[1].split(";")[0]
    assert len(made) >= 16 and made != "password123"
    assert login_works(db, "alice", made)


def test_reset_password_keeps_the_rules_and_names_the_user(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    db = with_user(tmp_path, capsys, "alice")
    assert run(db, "admin", "reset-password", "alice", "--password", "short") == 1
    assert "8" in capsys.readouterr().err  # the password rule, in one line
    assert login_works(db, "alice", "password123")
    assert run(db, "admin", "reset-password", "nobody", "--generate") == 1
    assert capsys.readouterr().err == "lairchat: no user named 'nobody'\n"


# -- db prune -------------------------------------------------------------------------


def plant_messages(db: Path, *ages_in_days: float) -> None:
    """Messages by alice (created first) to herself, ``ages_in_days`` old."""
    now = time.time()
    with sqlite3.connect(db) as conn:
        (alice,) = conn.execute("SELECT id FROM users WHERE username = 'alice'").fetchone()
        for i, age in enumerate(ages_in_days):
            created = int(now - age * 86400)
            conn.execute(
                "INSERT INTO messages (id, author_id, target_type, target_id, content, "
                "is_edited, created_at, updated_at) VALUES (?, ?, 'dm', ?, ?, 0, ?, ?)",
                (f"m{i}", alice, alice, f"{age} days old", created, created),
            )


def message_contents(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT content FROM messages ORDER BY rowid")]


def test_prune_deletes_old_messages_and_says_how_many(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    db = tmp_path / "chat.db"
    assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
    plant_messages(db, 400, 31, 29, 0)
    capsys.readouterr()
    assert run(db, "db", "prune", "--older-than", "30") == 0
    out = capsys.readouterr().out
    assert out.startswith("deleted 2 message(s) older than 30 day(s) (created before 20")
    assert out.endswith("Z)\n")
    assert message_contents(db) == ["29 days old", "0 days old"]
    assert run(db, "db", "prune", "--older-than=1") == 0
    assert capsys.readouterr().out.startswith("deleted 1 message(s) older than 1 day(s)")
    assert run(db, "db", "prune", "--older-than", "1") == 0
    assert capsys.readouterr().out.startswith("deleted 0 message(s)")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--older-than", "0"], "must be an integer from 1 to 36500, got 0"),
        (["--older-than", "30d"], "must be an integer from 1 to 36500, got 30d"),
        (["--older-than", "36501"], "must be an integer from 1 to 36500, got 36501"),
        ([], "the following arguments are required: --older-than"),
    ],
)
def test_prune_refuses_a_bad_age(
    tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], expected: str
) -> None:
    with pytest.raises(SystemExit) as info:
        run(tmp_path / "chat.db", "db", "prune", *argv)
    assert info.value.code == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "chat.db").exists()


def test_prune_names_a_database_it_cannot_open(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert run(tmp_path / "missing" / "chat.db", "db", "prune", "--older-than", "30") == 1
    err = capsys.readouterr().err
    assert err.startswith("lairchat: ") and "missing" in err and err.count("\n") == 1


# -- the database lock ------------------------------------------------------------


#: What the ``served`` fixture gives: the database, a backup, the server's lock.
Served = tuple[Path, Path, lock.Held]


def no_wait(lock_file: str) -> None:
    raise AssertionError(f"{lock_file} was not expected to be held")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """``(database, backup, lock)``: alice in the backup, alice and bob in the
    database, and the lock held as a running server holds it."""
    db, backup = tmp_path / "chat.db", tmp_path / "backup.db"
    assert run(db, "admin", "create-user", "alice", "alice@example.com") == 0
    assert run(db, "db", "backup", str(backup)) == 0
    assert run(db, "admin", "create-user", "bob", "bob@example.com") == 0
    with lock.shared(str(db), no_wait) as server:
        yield db, backup, server


def test_restore_is_refused_while_a_server_holds_the_database(
    served: Served, capsys: pytest.CaptureFixture
) -> None:
    db, backup, _ = served
    capsys.readouterr()
    assert run(db, "db", "restore", str(backup)) == 1
    assert capsys.readouterr().err == (
        f"lairchat: {db} is open by a running lairchat server: stop it before restoring\n"
    )
    assert usernames(db) == ["alice", "bob"]


def test_restore_goes_ahead_once_the_server_let_go(served: Served) -> None:
    db, backup, server = served
    server.release()
    assert run(db, "db", "restore", str(backup)) == 0
    assert usernames(db) == ["alice"]


def test_other_commands_run_beside_a_server(served: Served, capsys: pytest.CaptureFixture) -> None:
    db, backup, _ = served
    assert run(db, "admin", "create-user", "carol", "carol@example.com") == 0
    assert run(db, "admin", "ban", "carol") == 0
    assert run(db, "db", "backup", str(backup.with_name("again.db"))) == 0
    assert run(db, "db", "prune", "--older-than", "30") == 0
    capsys.readouterr()
    assert run(db, "db", "migrate") == 0
    assert capsys.readouterr().out == "database is up to date\n"


def test_nothing_opens_a_database_whose_server_lost_its_log_index(
    served: Served, capsys: pytest.CaptureFixture
) -> None:
    """A connection from here would build a second index with locks of its own
    beside the server's writers: two writers at once destroy the database."""
    db, backup, _ = served
    server = sqlite3.connect(db)  # the server's connections keep the files open
    server.execute("PRAGMA journal_mode = WAL")
    server.execute("SELECT COUNT(*) FROM users").fetchall()
    Path(f"{db}-shm").unlink()
    capsys.readouterr()
    for argv in (["admin", "list-users"], ["db", "backup", str(backup.with_name("b2.db"))]):
        assert run(db, *argv) == 1
        assert "was deleted while the database is open" in capsys.readouterr().err
    assert not Path(f"{db}-shm").exists()
    server.close()


def test_a_log_without_its_index_after_a_crash_opens(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """No server: SQLite rebuilds the index of a log that a crash left behind."""
    db = with_user(tmp_path, capsys, "alice")
    crashing = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WRITER, str(db)], stdout=subprocess.PIPE
    )
    assert crashing.stdout is not None and crashing.stdout.readline() == b"written\n"
    crashing.kill()
    crashing.wait()
    Path(f"{db}-shm").unlink()
    assert Path(f"{db}-wal").exists()
    assert run(db, "admin", "list-users") == 0
    assert "moderator  alice" in capsys.readouterr().out  # the commit in the log


#: Commits into the write-ahead log, then waits to be killed.
CRASHING_WRITER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1])
conn.execute("PRAGMA journal_mode = WAL")
conn.execute("UPDATE users SET role = 'moderator'")
conn.commit()
print("written", flush=True)
time.sleep(60)
"""


def test_pending_migrations_are_not_applied_under_a_server(
    served: Served, capsys: pytest.CaptureFixture
) -> None:
    db, _, _ = served
    with sqlite3.connect(db) as conn:  # as if this lairchat were newer than the server
        last = conn.execute("SELECT name FROM _migrations ORDER BY id DESC LIMIT 1").fetchone()[0]
        conn.execute("DELETE FROM _migrations WHERE name = ?", (last,))
    for argv in (["db", "migrate"], ["admin", "list-users"]):
        capsys.readouterr()
        assert run(db, *argv) == 1
        assert capsys.readouterr().err == (
            f"lairchat: {db} is open by a running lairchat server:"
            f" stop it before applying migrations {last}\n"
        )


def test_a_server_start_waits_for_a_restore(tmp_path: Path) -> None:
    db = str(tmp_path / "chat.db")
    told, started = threading.Event(), threading.Event()
    restore = lock.exclusive(db)

    def server() -> None:
        lock.shared(db, lambda lock_file: told.set())
        started.set()

    thread = threading.Thread(target=server, daemon=True)
    thread.start()
    assert told.wait(10)
    assert not started.wait(0.1)
    restore.release()
    assert started.wait(10)
    thread.join(10)


def test_an_in_memory_database_has_no_lock_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert lock.lock_path(":memory:") is None
    with lock.shared(":memory:", no_wait), lock.exclusive(":memory:"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_the_lock_file_opens_for_whoever_comes_next(tmp_path: Path) -> None:
    """Made by an operator with umask 077 (maybe root), it still opens for the server's
    user: it is empty, and flock needs only read access."""
    db = tmp_path / "chat.db"
    previous = os.umask(0o077)
    try:
        lock.exclusive(str(db)).release()
    finally:
        os.umask(previous)
    assert stat.S_IMODE(Path(lock.lock_path(str(db))).stat().st_mode) == 0o644
