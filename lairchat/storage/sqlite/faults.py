"""Storage faults: what clients, the log and ``/ready`` see when the database fails.

A fault (disk full, an I/O error, a lock held by another process past the busy
timeout, the message writer gone, the database file or its write-ahead log deleted
or replaced) fails every request that needs it with ``internal_error``, which is all
a client needs to know. The operator gets one log line when a fault begins (and one
per new cause), not a traceback per request, and one when storage works again;
meanwhile ``/ready`` answers 503 until each channel that failed (reads, writes,
messages) works again (see :meth:`lairchat.storage.sqlite.store.SQLiteStore.ping`).
docs/operations.md, "Storage faults", is the operator's side of this.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from twisted.logger import Logger

from lairchat.domain.errors import LairError

_log = Logger()

#: Distinct causes logged per fault, at most (then the rest are counted only).
MAX_CAUSES = 10


class DatabaseFileChanged(sqlite3.DatabaseError):
    """The database file at the path is no longer the one the server opened."""


class WriterError(Exception):
    """A batch of messages was not stored (the writer rolled it back, or exited)."""


class WriterStopped(WriterError):
    """A batch refused because the server is stopping: not a storage fault (the
    database is fine), so :class:`StorageHealth` logs nothing for it; its sender is
    still answered ``internal_error``."""


class OutcomeUnknown(WriterError):
    """A batch in doubt that no message writer could settle
    (:mod:`lairchat.storage.sqlite.indoubt`): it may be stored. It is never stored
    after this (no writer is sent it again), so what the database holds of it is
    final: its senders are told so, with their message's id
    (:data:`STORED_UNKNOWN`), to look for it before sending it again."""


#: The ``details`` of a send answered ``internal_error`` whose message may be stored
#: all the same (:class:`OutcomeUnknown`); the message service adds its
#: ``message_id`` (docs/protocols/TCP.md, "Storage faults").
STORED_UNKNOWN = {"stored": "unknown"}


def describe(error: BaseException) -> str:
    """A fault in one line; a writer's error already names the writer's exception."""
    return str(error) if isinstance(error, WriterError) else f"{type(error).__name__}: {error}"


#: Errors that say what was asked is wrong (a bug, or a batch refused by a
#: constraint), not that storage fails: they pass unchanged, to be logged as bugs.
NOT_FAULTS = (
    sqlite3.IntegrityError,
    sqlite3.ProgrammingError,
    sqlite3.DataError,
    sqlite3.InterfaceError,
    sqlite3.NotSupportedError,
)
_NOT_FAULT_NAMES = tuple(f"{e.__name__}:" for e in (*NOT_FAULTS, ValueError, TypeError))


def is_fault(error: BaseException) -> bool:
    """Whether ``error`` means storage failed (full, locked, unreadable, gone, ...)."""
    if isinstance(error, WriterError):  # the writer's "Type: message" of its error
        return not str(error).startswith(_NOT_FAULT_NAMES)
    return isinstance(error, sqlite3.Error) and not isinstance(error, NOT_FAULTS)


class StorageFault(LairError):
    """What a client is answered when storage fails: ``internal_error``, "Internal
    error" (:meth:`to_wire`). Its cause is logged once by :class:`StorageHealth`, so
    transports need not log it again (``reported``); ``message`` is the cause, for
    what runs outside the server (the ``lairchat`` command prints it)."""

    reported = True

    def __init__(self, cause: str = "Internal error", details: dict[str, Any] | None = None):
        super().__init__("internal_error", cause, details)

    def to_wire(self) -> dict[str, Any]:
        return LairError("internal_error", details=self.details).to_wire()


def file_identity(path: str) -> tuple[int, int] | None:
    """``(st_dev, st_ino)`` of a database file, None for what is not a plain path
    (in-memory databases, URIs) or does not exist."""
    if path.startswith("file:") or path == ":memory:":
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


#: Seconds between two looks at which file the write-ahead log is (whether it was
#: replaced). A ``stat`` of the log just before a commit makes that commit's fsync
#: slower: measured on ext4, a one-row commit went from p50 190 to 280 µs, and the
#: message writer's round trip from 240 to 345 µs. Whether the log still exists
#: (``access``) costs nothing measurable and is asked before every write.
WAL_IDENTITY_EVERY = 1.0


def identity_check(
    path: str,
    identity: tuple[int, int] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[], None]:
    """A check, cheap enough for every write, that ``path`` is still the file it is
    now (or ``identity``), and its write-ahead log (``-wal``) still there and, looked
    at every :data:`WAL_IDENTITY_EVERY` seconds, the one first seen:
    :class:`DatabaseFileChanged` if either was deleted or replaced. A server that
    went on writing to files it has open would acknowledge what nobody can read
    after a restart. (While the server has the database open, SQLite never deletes
    the log: only its last connection closing does.)"""
    expected = identity if identity is not None else file_identity(path)
    if expected is None:
        return lambda: None
    path = os.path.abspath(path)
    wal = path + "-wal"
    # Shared by the pools' threads without a lock, on purpose: two threads that both
    # find the log unseen record the same file twice (only the first is compared),
    # and two that both find a look due take two looks.
    wal_seen: list[tuple[int, int]] = []  # once it exists
    next_look = [0.0]

    def check() -> None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise DatabaseFileChanged(
                f"the database file {path} was deleted while open; put it back, or "
                "restart the server (after copying what it still has open, see "
                "docs/operations.md, Storage faults)"
            ) from None
        if (st.st_dev, st.st_ino) != expected:
            raise DatabaseFileChanged(
                f"the database file {path} was replaced by another file while open; "
                "put the original back, or restart the server to use the new one"
            )
        if not os.access(wal, os.F_OK):
            if wal_seen:
                raise _wal_deleted(wal)
            return
        now = clock()
        if wal_seen and now < next_look[0]:
            return
        next_look[0] = now + WAL_IDENTITY_EVERY
        try:
            st = os.stat(wal)
        except FileNotFoundError:
            if wal_seen:
                raise _wal_deleted(wal) from None
            return
        if not wal_seen:
            wal_seen.append((st.st_dev, st.st_ino))
        elif (st.st_dev, st.st_ino) != wal_seen[0]:
            raise DatabaseFileChanged(
                f"the database's write-ahead log {wal} was replaced while open: stop "
                "the server cleanly and start it again; do not kill it"
            )

    return check


def _wal_deleted(wal: str) -> DatabaseFileChanged:
    return DatabaseFileChanged(
        f"the database's write-ahead log {wal} was deleted while open: "
        "stop the server cleanly (it writes what the log held into the "
        "database as it stops) and start it again; do not kill it"
    )


#: SQLite's words for a damaged file (SQLITE_CORRUPT, SQLITE_NOTADB), also in the
#: message writer's answers, which carry the text alone.
DAMAGE = ("database disk image is malformed", "file is not a database")

#: What can fail separately: reads (the reader pool), writes (the writer pool) and
#: messages (the message writer process, or the writer pool without one). A fault
#: lasts until each channel that failed has worked again.
CHANNELS = ("reads", "writes", "messages")


def log_check(path: str) -> Callable[[], None]:
    """A check to run before a new connection touches the database, that the files
    of its write-ahead log were not deleted while others have them open. SQLite
    deletes both only when the last connection closes (the index, ``-shm``, just
    before the log, ``-wal``); while the server runs, its own connections are open.

    - The index without the log: the log was deleted. A new connection would start
      an empty log and rebuild the index from it, and the commits in the deleted
      log, which a clean stop would still have copied into the database, would be
      lost to everyone.
    - The log without the index: the index was deleted. The connections open keep
      theirs (mapped in memory), and their locks on it. A new connection from
      another process (a new message writer, the ``lairchat`` command) would make a
      new index from the log, with locks of its own: two writers at once, each
      appending to the one log where the other does, and the database is
      destroyed (tried: ``file is not a database`` after the next checkpoint)."""
    if file_identity(path) is None:
        return lambda: None
    wal, shm = os.path.abspath(path) + "-wal", os.path.abspath(path) + "-shm"

    def check() -> None:
        has_wal, has_shm = os.path.exists(wal), os.path.exists(shm)
        if has_shm and not has_wal:
            raise DatabaseFileChanged(
                f"the database's write-ahead log {wal} is missing while the database is "
                "open: stop the server cleanly (it writes what the log held into the "
                "database as it stops) and start it again; do not kill it"
            )
        if has_wal and not has_shm:
            raise DatabaseFileChanged(
                f"the index of the database's write-ahead log {shm} was deleted while the "
                "database is open: no new connection is opened (it would not share the "
                "server's locks); stop the server cleanly and start it again, and open "
                "the database with nothing else (lairchat admin, sqlite3) until then"
            )

    return check


class StorageHealth:
    """Whether storage is failing, logged once per fault (and per new cause)."""

    def __init__(self, log: Logger = _log, clock: Callable[[], float] = time.monotonic):
        self.log = log
        self.clock = clock
        #: The channels failing now, with their last cause.
        self.failing: dict[str, str] = {}
        #: The current fault's latest cause, None while storage works.
        self.fault: str | None = None
        self._since = 0.0
        self._failed = 0
        #: The causes this fault has been logged as: two that alternate (the message
        #: writer's and a pool's) are logged once each, not at every change.
        self._logged: set[str] = set()

    def failed(self, error: BaseException, channel: str = "writes") -> None:
        if isinstance(error, WriterStopped):
            return  # the server is stopping: storage is not failing
        text = describe(error)
        self._failed += 1
        if self.fault is None:
            self._since = self.clock()
        self.failing[channel] = self.fault = text
        if text in self._logged or len(self._logged) >= MAX_CAUSES:
            return
        self._logged.add(text)
        self.log.error(
            "storage fault: {fault}; requests that need the database are answered with "
            "internal_error, and /ready with 503, until it works again",
            fault=text,
        )

    @property
    def damaged(self) -> bool:
        """Whether a failing channel found the file damaged: a probe that works (on
        other pages) does not end that; a real success on the channel does."""
        return any(word in cause for cause in self.failing.values() for word in DAMAGE)

    def succeeded(self, channel: str = "writes") -> None:
        if channel not in self.failing:
            return
        del self.failing[channel]
        if self.failing:
            return
        self.log.warn(
            "storage works again after {seconds:.1f} s ({failed} requests failed): {fault}",
            seconds=self.clock() - self._since,
            failed=self._failed,
            fault=self.fault,
        )
        self.fault = None
        self._failed = 0
        self._logged.clear()
