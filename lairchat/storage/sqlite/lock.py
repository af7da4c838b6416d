"""Who has the database: a running server, or an operator command replacing it.

A server keeps state in memory (room memberships, names, live sessions), so a
database replaced under it (``lairchat db restore``) or migrated to a schema it does
not know goes out of step with what it serves. The server therefore holds a *shared*
lock on ``<database>.lock`` for its whole life, and an operator command that would
make that happen takes an *exclusive* lock without waiting, and refuses if it cannot.

Why ``flock(2)`` on a file of its own:

- The kernel drops the lock when the last descriptor of the open file goes away, so
  it vanishes with the server however it dies (SIGKILL, a crash, an OOM kill): no
  stale pid file to judge, nothing to clean up.
- A flock belongs to the open file, not to the process, so it survives twistd's fork
  into a daemon (the child inherits the descriptor; the parent's exit does not
  release it); Python opens the file close-on-exec, so the message-writer process
  the server spawns does not inherit it.
- SQLite's own locks are POSIX record locks on the database and its ``-shm``: they
  come and go with each transaction and connection, and any process that reads
  (``lairchat admin list-users``, a backup) holds them too, so they cannot say "a
  server is running". A separate file keeps our lock out of SQLite's way.
- Shared for servers and exclusive for the replacer, so nothing stops two readers,
  and a server that starts during a restore waits for it to finish.

Shared, the lock cannot tell a second server from the first, so a server also holds
``<database>.server.lock`` exclusively (:func:`serving`): a second server on the
same database refuses to start instead of serving a state of its own.

The lock files are empty and stay in place (deleting a lock file races with whoever
opens it next). Deleting one while a server runs defeats its check. An in-memory
database (``sqlite::memory:``) lives in one process and needs no lock.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable

#: What ``sqlite::memory:`` becomes (lairchat.config.MEMORY_DATABASE).
MEMORY = ":memory:"
#: Empty: readable by everyone, so the server's user and an operator (maybe root,
#: maybe with umask 077) can each open the file whoever created it.
MODE = 0o644


class DatabaseBusy(Exception):
    """The lock is held the other way: ``str()`` names the lock file."""


def lock_path(database: str) -> str | None:
    """``<database>.lock``, or None for an in-memory database."""
    return None if database == MEMORY else f"{database}.lock"


def _open(path: str) -> int:
    """Open (creating if needed) the lock file, read-only: flock needs no write access."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, MODE)
    except FileExistsError:
        return os.open(path, os.O_RDONLY)
    os.fchmod(fd, MODE)  # whatever the umask: see MODE
    return fd


def serving_path(database: str) -> str | None:
    """``<database>.server.lock``, or None for an in-memory database."""
    return None if database == MEMORY else f"{database}.server.lock"


def _lock(
    database: str, operation: int, wait: bool = False, where: Callable = lock_path
) -> int | None:
    """A descriptor holding ``operation`` (LOCK_SH or LOCK_EX) on the database's lock
    file (``where(database)``), or None for an in-memory database. Unless ``wait``,
    DatabaseBusy at once if it is held the other way."""
    path = where(database)
    if path is None:
        return None
    fd = _open(path)
    try:
        fcntl.flock(fd, operation if wait else operation | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DatabaseBusy(path) from None
    except BaseException:
        os.close(fd)
        raise
    return fd


class Held:
    """A lock taken: released by :meth:`release`, at the end of a ``with`` block, or
    when the process ends (the server never releases its own: see the module doc)."""

    def __init__(self, fd: int | None):
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> Held:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def shared(database: str, waiting: Callable[[str], None]) -> Held:
    """The server's lock. If an operator command holds the database alone, call
    ``waiting(lock_path)`` once and wait for it: a restore takes seconds."""
    try:
        return Held(_lock(database, fcntl.LOCK_SH))
    except DatabaseBusy as e:
        waiting(str(e))
    return Held(_lock(database, fcntl.LOCK_SH, wait=True))


def exclusive(database: str) -> Held:
    """The database alone, for an operator command; DatabaseBusy at once if a server
    has it open."""
    return Held(_lock(database, fcntl.LOCK_EX))


def serving(database: str) -> Held:
    """The one server of a database: an exclusive lock on ``<database>.server.lock``,
    DatabaseBusy at once if another server holds it. A server keeps memberships,
    names and live sessions in memory, so a second server on the same file would
    serve another state (a join made through one refused by the other, neither
    delivering the other's messages). Operator commands never take it: they do not
    serve, and :func:`shared`/:func:`exclusive` order them against servers."""
    return Held(_lock(database, fcntl.LOCK_EX, where=serving_path))
