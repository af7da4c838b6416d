"""Migrations applied by several processes at once on one database file (two servers
starting together, or a server and ``lairchat db migrate``): each migration is applied
exactly once, and every other process finds it done and goes on. Also: a migration
that SQLite rolled back by itself fails with its own error."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lairchat.storage.sqlite.migrate import available, migrate
from lairchat.storage.sqlite.pool import connect

#: One migrating process: it opens the database as the server does, says so, waits for
#: the word to go, says "begin" as it asks for the write lock (so after it has read
#: ``_migrations``), then prints the names it applied (or dies with a traceback).
MIGRATOR = """
import json, sys
from lairchat.storage.sqlite.migrate import migrate
from lairchat.storage.sqlite.pool import connect
conn = connect(sys.argv[1])
conn.set_trace_callback(lambda sql: sql == "BEGIN IMMEDIATE" and print("begin", flush=True))
print("ready", flush=True)
sys.stdin.readline()
print(json.dumps(migrate(conn)), flush=True)
"""
PROCESSES = 4
MIGRATIONS_TABLE = (
    "CREATE TABLE _migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "name TEXT UNIQUE NOT NULL, applied_at INTEGER NOT NULL)"
)


def start_migrators(db: Path) -> list[subprocess.Popen]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATOR, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    for proc in procs:
        assert proc.stdout.readline() == "ready\n", proc.communicate(timeout=30)
    return procs


def test_concurrent_migrators_apply_each_migration_once(tmp_path: Path) -> None:
    """Every migrator has found every migration pending before any can apply one,
    as when two servers start in the same instant: the write lock is held here until
    each has read ``_migrations`` and asked for the lock. (Waiting a fixed time
    instead let a slow machine's migrators read after another had applied
    everything, and the test passed without the re-check under the lock.)"""
    db = tmp_path / "chat.db"
    blocker = connect(str(db))
    blocker.isolation_level = None
    blocker.execute(MIGRATIONS_TABLE)  # as the first start leaves it, before any lock
    procs = start_migrators(db)
    blocker.execute("BEGIN IMMEDIATE")
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.stdout.readline() == "begin\n", proc.communicate(timeout=30)
    blocker.execute("COMMIT")

    applied = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        applied.append(json.loads(out.splitlines()[-1]))
    names = [name for name, _ in available()]
    assert sorted(sum(applied, [])) == names  # each once, by one process or another
    with sqlite3.connect(db) as conn:
        recorded = [row[0] for row in conn.execute("SELECT name FROM _migrations ORDER BY id")]
    assert recorded == names


class DiskFull:
    """A connection on which the first migration statement fails as on a full disk,
    where SQLite rolls the whole transaction back by itself."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.lstrip().upper().startswith("CREATE TABLE") and "_migrations" not in sql:
            self.conn.execute("ROLLBACK")
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "conn":
            object.__setattr__(self, name, value)
        else:
            setattr(self.conn, name, value)


def test_a_migration_that_sqlite_rolled_back_itself_reports_its_own_error(
    tmp_path: Path,
) -> None:
    conn = connect(str(tmp_path / "chat.db"))
    with pytest.raises(sqlite3.OperationalError, match="^database or disk is full$"):
        migrate(DiskFull(conn))  # type: ignore[arg-type]
    assert not conn.in_transaction
