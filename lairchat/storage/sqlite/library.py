"""SQLite's process-wide settings for the message writer: one connection, one thread.

SQLite as distributions build it is ready for any number of threads sharing any
connection ("serialized"): every call on a connection takes that connection's mutex,
and with memory statistics on (the default) every allocation and free takes the
allocator's mutex too, to keep the counts that ``sqlite3_memory_used()`` reads. The
message writer process has one connection, used by one thread (the sqlite3 module
refuses any other, ``check_same_thread``), and reads no statistics, so it pays for
locks that can never be contended.

Measured on the writer's serving loop alone (``serve()`` on 80-row batches to one
room, the bench's fan-out load), by instruction count under callgrind, which does not
vary from run to run: 37,085 instructions per row as built, 34,024 with memory
statistics off, 33,212 with both settings below (-10.4%): ``pthread_mutex_lock`` and
``unlock`` alone were 2,772 per row.

The settings can only be changed while SQLite holds no connection, before the first
one opens; SQLite would not refuse them later, so the memory it holds is asked
first. They are made on the library the ``sqlite3`` module itself is linked with
(found through its extension module), so a Python whose SQLite is built in without
exported symbols, or any refusal, leaves the defaults in place.
"""

from __future__ import annotations

import ctypes
import sqlite3

#: ``sqlite3_config`` options (sqlite3.h).
SQLITE_CONFIG_MULTITHREAD = 2
SQLITE_CONFIG_MEMSTATUS = 9
SQLITE_OK = 0


def _library() -> ctypes.CDLL | None:
    """The SQLite library the ``sqlite3`` module calls (its extension module's own
    symbols and dependencies), or None."""
    try:
        import _sqlite3  # the extension module that wraps the library

        return ctypes.CDLL(_sqlite3.__file__)
    except (ImportError, AttributeError, OSError):
        return None


def configure_for_one_thread() -> bool:
    """Before this process opens its first connection: no connection mutexes, no
    memory statistics. Returns whether SQLite took both settings."""
    lib = _library()
    try:
        shutdown, config = lib.sqlite3_shutdown, lib.sqlite3_config
        initialize = lib.sqlite3_initialize
    except AttributeError:  # no library found, or its symbols are not exported
        return False
    major, minor, patch = sqlite3.sqlite_version_info
    if lib.sqlite3_libversion_number() != major * 1_000_000 + minor * 1_000 + patch:
        return False  # not the library the module reports: leave it alone
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    if lib.sqlite3_memory_used() != 0:
        # Something SQLite allocated is still held (an open connection): shutting it
        # down now would pull the library from under it (SQLite does not refuse).
        return False
    done = shutdown() == SQLITE_OK
    done = done and config(SQLITE_CONFIG_MULTITHREAD) == SQLITE_OK
    done = done and config(SQLITE_CONFIG_MEMSTATUS, ctypes.c_int(0)) == SQLITE_OK
    return initialize() == SQLITE_OK and done
