"""A server on a database file holds a connection from its start, so that its first
connections do not open the database at once with nothing open (see
:meth:`lairchat.lifecycle.CoreService.startService`)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from twisted.internet import task
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import capturedLogs, formatEvent

from lairchat.config import Config
from lairchat.lifecycle import LairChatService, StartupError
from lairchat.service import build_core


def test_a_fresh_servers_first_connections_are_not_refused_for_one_another(tmp_path: Path):
    """Found by a fresh server's first registration in CI, answered internal_error.
    The start's connection is closed before twistd's fork, and SQLite then deletes
    the write-ahead log's files; the next connection to open makes them again, the
    log (``-wal``) first and its index (``-shm``) an instant later. Another pool
    connection opening in that instant (the first registration's read beside the
    deletion watcher's first look) found the log without its index, which its check
    takes for an index deleted under the server (faults.log_check): refused, the
    request failed with a storage fault. Reproduced in a copy of the server whose
    first connection waited between the two files: the first registration was
    answered ``internal_error`` every time, with ``storage fault:
    DatabaseFileChanged: the index of the database's write-ahead log ... was
    deleted`` in the log. Now the files are there from the start to the stop."""
    path = str(tmp_path / "chat.db")
    _, service = build_core(Config(database_path=path, jwt_secret="s" * 40), MemoryReactorClock())
    service.message_writer = None  # a MemoryReactorClock starts no process
    try:
        service.startService()
        # Another connection opening the database, halfway: its log made, not yet
        # its index (nothing, if the server's files are there).
        with open(path + "-wal", "a"):
            pass
        for observed in service.pools[:-1]:  # the writer and reader pools
            observed.pool.openfun(sqlite3.connect(path))  # their next connection
        assert os.path.exists(path + "-shm")
    finally:
        if service.keeper is not None:
            service.keeper.close()
        service.hash_pool.stop()
        service.database_lock.release()
        service.serving_lock.release()


@pytest.mark.parametrize("foreground", [True, False])
def test_a_database_the_start_cannot_open_is_one_line(tmp_path: Path, foreground: bool):
    """The held connection is opened after the make: after twistd's switch to
    ``--uid`` (a file that user may not open) or a daemon's fork (a file deleted
    since). It ended the start with a traceback through twistd (``sqlite3.
    OperationalError: unable to open database file``), status 1; now one critical
    line naming the setting, the file and SQLite's cause, and the status of a
    configuration error (tests/integration/test_newuser_startup.py starts twistd
    with ``--uid``)."""
    path = str(tmp_path / "chat.db")
    config = Config(database_path=path, jwt_secret="s" * 40)
    _, service = build_core(config, MemoryReactorClock())
    top = LairChatService(task.Clock())
    top.foreground = foreground
    service.setServiceParent(top)
    os.unlink(path)  # gone between the make and the start
    refusal = f"LAIR_DATABASE_URL: cannot open database {path!r}: unable to open database file"
    try:
        with (
            capturedLogs() as events,
            pytest.raises(SystemExit if foreground else StartupError) as stopped,
        ):
            top.startService()
        assert [formatEvent(e) for e in events if e["log_level"].name == "critical"] == [refusal]
        assert (stopped.value.code == 2) if foreground else str(stopped.value) == refusal
        assert service.keeper is None and not os.path.exists(path)  # nothing made
    finally:
        service.database_lock.release()
        service.serving_lock.release()
