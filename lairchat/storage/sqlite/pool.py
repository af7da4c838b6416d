"""SQLite connections through ``twisted.enterprise.adbapi``.

Two pools over one file: a writer pool with exactly one connection, so writes never
run concurrently against each other, and a reader pool for queries (WAL lets readers
proceed while the writer commits). An in-memory database has one shared pool.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any
from urllib.parse import quote

from twisted.enterprise import adbapi

from lairchat.storage.sqlite.faults import identity_check, log_check

#: Milliseconds a statement waits on a lock held by another process (e.g. `lairchat
#: admin`), unless the server's setting says otherwise (LAIR_DATABASE_BUSY_TIMEOUT).
BUSY_TIMEOUT_MS = 30_000


def busy_timeout_ms(seconds: float) -> int:
    """The setting (seconds) as SQLite takes it: whole milliseconds, at least one."""
    return max(1, round(seconds * 1000))


#: Bytes the write-ahead log file is cut back to once it restarts, should a long
#: read (a backup) have held it past its usual size (SQLite checkpoints it at 1,000
#: pages, about 4 MiB); well above that, so that in steady use the log is rewritten
#: in place and never regrows (a sync of a file that grew also writes its inode).
WAL_SIZE_LIMIT = 64 * 1024 * 1024
#: A deleted row's bytes are zeroed within its page (a message deleted by its
#: author, a session), where SQLite without it leaves them readable in the file
#: until the space is reused. FAST costs no I/O; retention asks for ON, which also
#: zeroes whole freed pages (lairchat.storage.sqlite.store.SECURE_DELETE). Set here
#: because builds differ: Debian's SQLite defaults to ON, SQLite's own to off.
SECURE_DELETE = "FAST"


def configure_connection(conn: sqlite3.Connection, busy_ms: int | None = None) -> None:
    """Per-connection pragmas: WAL, durable commits, foreign keys, a busy timeout
    (``busy_ms``, else :data:`BUSY_TIMEOUT_MS`), the log's size bound, deleted rows
    zeroed."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS if busy_ms is None else int(busy_ms)}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    # FULL: a commit is on disk before we acknowledge it, even across power loss.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
    conn.execute(f"PRAGMA secure_delete = {SECURE_DELETE}")


def connect(path: str) -> sqlite3.Connection:
    """A plain connection with our pragmas, for tools that run outside the reactor."""
    conn = sqlite3.connect(path, check_same_thread=False)
    configure_connection(conn)
    return conn


def existing(path: str) -> str:
    """What opens the database file at ``path`` only if it is there: a connection
    opened (by a pool, lazily, or a new message writer) after the file was deleted
    must fail rather than create an empty database in its place."""
    if path.startswith("file:") or path == ":memory:":
        return path
    return f"file:{quote(os.path.abspath(path))}?mode=rw"


def open_pools(
    path: str, reactor: Any, readers: int = 2, busy_ms: int | None = None
) -> tuple[Any, Any]:
    """Return ``(writer, reader)`` pools; they are the same pool for ``:memory:``.
    Connections are opened as needed (a second reader under load): each checks
    first that the file is still the one there was at the start, and that the
    write-ahead log was not deleted (faults.identity_check, faults.log_check).
    ``busy_ms``: their busy timeout (:func:`configure_connection`)."""
    target = existing(path)
    checks = (identity_check(path), log_check(path))

    def openfun(conn: sqlite3.Connection) -> None:
        for check in checks:
            check()
        configure_connection(conn, busy_ms)

    def pool(size: int) -> adbapi.ConnectionPool:
        return adbapi.ConnectionPool(
            "sqlite3",
            target,
            check_same_thread=False,
            cp_min=1,
            cp_max=size,
            cp_openfun=openfun,
            cp_reactor=reactor,
            cp_noisy=False,
            uri=target.startswith("file:"),
        )

    writer = pool(1)
    if path == ":memory:" or "mode=memory" in path:
        return writer, writer
    return writer, pool(readers)


class ImmediatePool:
    """An adbapi-shaped pool that runs each interaction at once on the calling thread.

    For code outside the reactor (the ``lairchat`` operator command) and for unit
    tests that must be deterministic. Same commit/rollback contract as adbapi.
    """

    def __init__(self, path: str | None = None, connection: sqlite3.Connection | None = None):
        """Open ``path``, or run on an already open ``connection`` (not closed here)."""
        self.connection = connection if connection is not None else connect(path)

    def runInteraction(self, fn: Any, *args: Any, **kw: Any) -> Any:  # noqa: N802 (adbapi name)
        from twisted.internet import defer

        cursor = self.connection.cursor()
        try:
            result = fn(cursor, *args, **kw)
        except BaseException:
            self.connection.rollback()
            return defer.fail()
        finally:
            cursor.close()
        self.connection.commit()
        return defer.succeed(result)

    def close(self) -> None:
        self.connection.close()
