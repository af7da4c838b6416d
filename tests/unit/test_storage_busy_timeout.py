"""The busy timeout is a setting (LAIR_DATABASE_BUSY_TIMEOUT): every connection the
server opens waits that long for a lock, and the message writer is given up on after
twice that."""

from __future__ import annotations

import sqlite3

from twisted.internet.testing import MemoryReactorClock

from lairchat.config import Config
from lairchat.service import build_core
from lairchat.storage.sqlite.pool import (
    BUSY_TIMEOUT_MS,
    busy_timeout_ms,
    configure_connection,
    open_pools,
)
from lairchat.storage.sqlite.writer import STALL, MessageWriter, _arguments, open_database


def busy(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA busy_timeout").fetchone()[0]


def test_seconds_become_whole_milliseconds_and_never_zero():
    assert busy_timeout_ms(30) == BUSY_TIMEOUT_MS == 30_000
    assert busy_timeout_ms(0.25) == 250
    assert busy_timeout_ms(0.0004) == 1  # 0 would mean no waiting at all


def test_connections_take_the_given_busy_timeout_else_the_default(tmp_path):
    conn = sqlite3.connect(":memory:")
    configure_connection(conn)
    assert busy(conn) == BUSY_TIMEOUT_MS
    configure_connection(conn, 1234)
    assert busy(conn) == 1234
    writer, reader = open_pools(str(tmp_path / "never-opened.db"), None, busy_ms=2500)
    for pool in (writer, reader):
        conn = sqlite3.connect(":memory:")
        pool.openfun(conn)
        assert busy(conn) == 2500


def test_the_message_writer_process_is_given_it_and_waits_twice_as_long(tmp_path):
    reactor = MemoryReactorClock()
    writer = MessageWriter(str(tmp_path / "x.db"), reactor, busy_ms=1500)
    assert writer.stall == 3.0
    assert MessageWriter(str(tmp_path / "x.db"), reactor).stall == STALL == 60
    args = _arguments([str(tmp_path / "x.db"), "1:2", "--busy-timeout-ms=1500"])
    assert (args.identity, args.busy_timeout_ms) == ("1:2", 1500)
    assert _arguments(["x.db"]).busy_timeout_ms == BUSY_TIMEOUT_MS
    path = tmp_path / "w.db"
    sqlite3.connect(path).close()
    conn, _ = open_database(str(path), None, 1500)
    assert busy(conn) == 1500


def test_the_server_passes_its_setting_to_the_pools_and_the_message_writer(tmp_path):
    config = Config(
        database_path=str(tmp_path / "chat.db"),
        database_busy_timeout=2.5,
        jwt_secret="s" * 40,
    )
    core, service = build_core(config, MemoryReactorClock())
    try:
        assert service.message_writer.stall == 5.0
        for observed in service.pools[:-1]:  # the writer and reader pools
            conn = sqlite3.connect(":memory:")
            observed.pool.openfun(conn)
            assert busy(conn) == 2500
    finally:
        service.database_lock.release()
        service.serving_lock.release()
