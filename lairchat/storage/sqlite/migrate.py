"""Versioned schema migrations: numbered ``.sql`` files applied once, in order.

Applied names are kept in ``_migrations`` exactly as the original server keeps them,
so a database created by either server is understood by the other.
"""

from __future__ import annotations

import sqlite3
import time
from importlib import resources


class SchemaError(Exception):
    """A database whose schema this lairchat must not use; str() is one line."""


class SchemaTooNew(SchemaError):
    """The database was migrated by a newer lairchat than this one."""


class NotLairchat(SchemaError):
    """The database holds another program's tables and no ``_migrations``: lairchat's
    tables would be written in among them (a LAIR_DATABASE_URL naming the wrong file)."""


def available() -> list[tuple[str, str]]:
    """``(name, sql)`` for every shipped migration, in order."""
    folder = resources.files("lairchat.storage.sqlite") / "migrations"
    files = sorted(p for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(p.name[:-4], p.read_text(encoding="utf-8")) for p in files]


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply pending migrations in one transaction each; return the names applied."""
    previous, conn.isolation_level = conn.isolation_level, None
    try:
        return _migrate(conn)
    finally:
        conn.isolation_level = previous


def _migrate(conn: sqlite3.Connection) -> list[str]:
    _check_ours(conn)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations ("
        "id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, "
        "applied_at INTEGER NOT NULL)"
    )
    done = _recorded(conn)  # before any lock: usually all there is to know
    applied = []
    for name, sql in available():
        if name not in done and _apply(conn, name, sql):
            applied.append(name)
    return applied


def _check_ours(conn: sqlite3.Connection) -> None:
    """NotLairchat if the database has tables but no ``_migrations``. Lairchat (and
    the original server) create ``_migrations`` before any other table, so an empty
    database, or one a start left half-migrated, passes."""
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        )
    ]
    if tables and "_migrations" not in tables:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise NotLairchat(
            f"not a lairchat database: it has tables of its own ({shown}) and no lairchat"
            " migrations recorded; lairchat adds nothing to it"
        )


def _recorded(conn: sqlite3.Connection) -> set[str]:
    """The applied migrations; SchemaTooNew if one is not ours."""
    done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    unknown = sorted(done - {name for name, _ in available()})
    if unknown:
        raise SchemaTooNew(
            f"database schema has migrations this lairchat does not know ({', '.join(unknown)}); "
            "upgrade lairchat or use another database"
        )
    return done


def _apply(conn: sqlite3.Connection, name: str, sql: str) -> bool:
    """Apply one migration in a transaction of its own, unless another process has
    applied it meanwhile; return whether this one did.

    Two servers starting at once on one database both find it pending (the server's
    lock file is shared: :mod:`lairchat.storage.sqlite.lock`). BEGIN IMMEDIATE takes
    SQLite's write lock before ``_migrations`` is read again, so the second waits for
    the first's commit (up to the busy timeout) and then finds it recorded, instead of
    applying it twice."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        pending = name not in _recorded(conn)
        if pending:
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, int(time.time()))
            )
        conn.execute("COMMIT")
    except BaseException:
        # SQLite may have rolled back already (disk full, I/O error): then a ROLLBACK
        # would fail too, and its error would hide the one that says what happened.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return pending


def _statements(sql: str) -> list[str]:
    """Split a migration into statements where SQLite's own parser says one ends, so
    that a trigger's body (``BEGIN ... ; END;``) stays whole."""
    statements, pending = [], ""
    for line in sql.splitlines():
        if line.lstrip().startswith("--"):
            continue
        pending += line + "\n"
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        statements.append(pending.strip())
    return statements
