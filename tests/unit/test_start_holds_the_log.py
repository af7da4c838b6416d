"""A server on a database file holds a connection from its start, so that its first
connections do not open the database at once with nothing open (see
:meth:`lairchat.lifecycle.CoreService.startService`)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from twisted.internet.testing import MemoryReactorClock

from lairchat.config import Config
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
