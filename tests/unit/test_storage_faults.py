"""Storage faults, injected without mounts or root: what clients, the log and the
readiness probe see when the database fails, and that it all recovers by itself."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
from typing import Any

import orjson
import pytest
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.python.failure import Failure

from lairchat import testing
from lairchat.core import passwords
from lairchat.core.groupcommit import GroupCommit
from lairchat.domain.errors import LairError
from lairchat.domain.types import Message, Target
from lairchat.storage.sqlite import pool as sqlite_pool
from lairchat.storage.sqlite.faults import (
    WAL_IDENTITY_EVERY,
    DatabaseFileChanged,
    StorageFault,
    StorageHealth,
    WriterError,
    identity_check,
)
from lairchat.storage.sqlite.migrate import migrate
from lairchat.storage.sqlite.pool import ImmediatePool
from lairchat.storage.sqlite.store import STUCK, SQLiteStore
from lairchat.storage.sqlite.writer import (
    READY,
    STALL,
    MessageWriter,
    insert_rows,
    open_database,
    serve,
)
from lairchat.testing import json_frames, make_core
from lairchat.transports.http.testing import CHEAP_HASHER, ApiClient

FULL = sqlite3.OperationalError("database or disk is full")


def outcome(d: defer.Deferred) -> Any:
    out: list = []
    d.addBoth(out.append)
    assert out, "the Deferred has not fired"
    return out[0]


def lines(events: list[dict]) -> list[str]:
    return [formatEvent(e) for e in events]


class FailingPool:
    """An ImmediatePool whose writes fail with ``error`` while it is set."""

    def __init__(self, path: str):
        self.pool = ImmediatePool(path)
        self.error: BaseException | None = None

    def runInteraction(self, fn: Any, *args: Any) -> defer.Deferred:  # noqa: N802
        if self.error is not None:
            return defer.fail(self.error)
        return self.pool.runInteraction(fn, *args)


@pytest.fixture
def path(tmp_path) -> str:
    return database(str(tmp_path / "faults.db"))


def database(db: str) -> str:
    """A migrated database at ``db`` with one user, u1."""
    conn = sqlite_pool.connect(db)
    migrate(conn)
    conn.execute(
        "INSERT INTO users (id, username, email, password_hash, role, created_at, updated_at) "
        "VALUES ('u1', 'alice', 'a@example.com', 'h', 'user', 0, 0)"
    )
    conn.commit()
    conn.close()
    return db


def ban_row(store: SQLiteStore) -> defer.Deferred:
    """A small write through the writer pool."""
    return store.delete_ban("u1")


# -- the store ------------------------------------------------------------------------


def test_a_failing_write_is_internal_error_logged_once_until_it_works_again(path):
    writer = FailingPool(path)
    store = SQLiteStore(writer, writer.pool, path)
    writer.error = FULL
    with capturedLogs() as events:
        failures = [outcome(ban_row(store)) for _ in range(5)]
    for failure in failures:
        assert failure.check(StorageFault)
        assert failure.value.to_wire() == {"code": "internal_error", "message": "Internal error"}
    (logged,) = lines(events)
    assert "storage fault: OperationalError: database or disk is full" in logged

    writer.error = None
    with capturedLogs() as events:
        assert outcome(ban_row(store)) is False
        assert outcome(ban_row(store)) is False
    (logged,) = lines(events)
    assert "storage works again" in logged and "5 requests failed" in logged


def test_domain_refusals_are_not_storage_faults(path):
    store = SQLiteStore(ImmediatePool(path), ImmediatePool(path), path)
    user = outcome(store.get_user("u1"))
    with capturedLogs() as events:
        failure = outcome(store.create_user(user))  # the same username again
    assert failure.check(LairError).__name__ == "LairError"
    assert failure.value.code == "username_taken"
    assert store.health.fault is None and events == []


def test_ready_is_false_after_a_write_fault_until_a_write_commits_again(path):
    writer = FailingPool(path)
    store = SQLiteStore(writer, writer.pool, path)
    assert outcome(store.ping()) is True
    writer.error = FULL
    outcome(ban_row(store))
    # Reads still work, but the database cannot be written: not ready.
    assert outcome(store.ping()) is False
    writer.error = None
    with capturedLogs() as events:
        assert outcome(store.ping()) is True  # the probe's write committed
    assert "storage works again" in lines(events)[0]
    assert store.health.fault is None


def test_one_write_probe_at_a_time_and_ready_never_waits_for_it():
    """While the probe waits (for a lock held elsewhere), /ready answers at once; the
    probe's outcome is for the next /ready."""
    pending: list[defer.Deferred] = []

    class Stuck:
        def runInteraction(self, fn: Any, *args: Any) -> defer.Deferred:  # noqa: N802
            pending.append(defer.Deferred())
            return pending[-1]

    store = SQLiteStore(Stuck(), Stuck(), ":memory:")
    store.health.failed(sqlite3.OperationalError("database is locked"))
    assert outcome(store.ping()) is False
    assert outcome(store.ping()) is False and len(pending) == 1
    pending[0].callback(None)  # the lock is gone: the probe's write committed
    assert store.health.fault is None
    store.ping()  # healthy again: a plain read
    pending[1].callback(True)
    assert len(pending) == 2


def test_a_lock_held_past_the_busy_timeout_fails_the_write_then_recovers(path, monkeypatch):
    monkeypatch.setattr(sqlite_pool, "BUSY_TIMEOUT_MS", 50)
    store = SQLiteStore(ImmediatePool(path), ImmediatePool(path), path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        failure = outcome(ban_row(store))
        assert failure.check(StorageFault)
        assert store.health.fault == "OperationalError: database is locked"
        assert outcome(store.ping()) is False
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert outcome(store.ping()) is True
    assert outcome(ban_row(store)) is False


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_no_write_goes_to_a_database_file_deleted_or_replaced(path, how):
    store = SQLiteStore(ImmediatePool(path), ImmediatePool(path), path)
    assert outcome(store.ping()) is True
    aside = path + ".aside"
    os.rename(path, aside)
    if how == "replaced":
        shutil.copy(aside, path)
    with capturedLogs() as events:
        assert outcome(ban_row(store)).check(StorageFault)
        assert outcome(store.ping()) is False
    (logged,) = lines(events)
    assert f"the database file {path} was {how}" in logged
    os.replace(aside, path)  # the original back: all is well again
    assert outcome(store.ping()) is True
    assert outcome(ban_row(store)) is False


def test_a_read_of_a_deleted_database_file_makes_the_server_not_ready(path):
    store = SQLiteStore(ImmediatePool(path), ImmediatePool(path), path)
    os.rename(path, path + ".aside")
    assert outcome(store.ping()) is False


def test_message_writer_errors_are_storage_faults(path):
    def append(rows: list) -> defer.Deferred:
        return defer.fail(WriterError("the message writer exited: killed"))

    store = SQLiteStore(ImmediatePool(path), ImmediatePool(path), path, append)
    message = Message("m1", "u1", Target("room", "r1"), "hi", False, 1.0, 1.0)
    assert outcome(store.insert_messages([message])).check(StorageFault)
    assert store.health.fault == "the message writer exited: killed"


def test_health_logs_alternating_causes_once_each():
    health = StorageHealth()
    with capturedLogs() as events:
        for _ in range(3):
            health.failed(FULL)
            health.failed(WriterError("OperationalError: database is locked"))
    assert len(events) == 2


# -- the transports -------------------------------------------------------------------


def test_http_answers_500_without_a_traceback_per_request(path, monkeypatch):
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)
    client = ApiClient(make_core(path))
    owner = client.register("owner")
    os.rename(path, path + ".aside")
    with capturedLogs() as events:
        for name in ("one", "two", "three"):
            reply = client.post("/api/v1/rooms", {"name": name}, token=owner.token)
            assert reply.status == 500
            assert reply.error == {"code": "internal_error", "message": "Internal error"}
    (logged,) = lines(events)
    assert "storage fault" in logged and "Traceback" not in logged
    os.rename(path + ".aside", path)
    assert client.post("/api/v1/rooms", {"name": "four"}, token=owner.token).status == 201


def test_realtime_send_answers_internal_error_without_a_traceback():
    server = testing.MemoryTCPServer()
    alice = server.login("alice")
    room = alice.ok("create_room", name="faults")["room"]["id"]
    alice.frames()
    store = server.core.store
    append, store._append = (
        store._append,
        lambda rows: defer.fail(WriterError("OperationalError: disk I/O error")),
    )
    target = {"type": "room", "room_id": room}
    with capturedLogs() as events:
        for _ in range(3):
            response = alice.request("send_message", target=target, content="lost")
            assert response["success"] is False
            assert response["error"] == {"code": "internal_error", "message": "Internal error"}
    (logged,) = lines(events)
    assert "storage fault: OperationalError: disk I/O error" in logged
    store._append = append
    with capturedLogs() as events:
        sent = alice.ok("send_message", target=target, content="kept")
    assert sent["message"]["content"] == "kept"
    assert "storage works again" in lines(events)[0]


# -- the message writer process ---------------------------------------------------------


def test_the_writer_refuses_batches_once_its_file_is_replaced(path):
    conn, check = open_database(path)
    aside = path + ".aside"
    os.rename(path, aside)
    shutil.copy(aside, path)
    replies = io.BytesIO()
    batch = orjson.dumps([["m1", "u1", "room", "r1", "hi", 1, 1]])
    serve(conn, io.BytesIO(testing.frame(batch)), replies, check)
    (reply,) = json_frames(replies.getvalue())
    assert reply["error"].startswith("DatabaseFileChanged: the database file")
    assert conn.execute("SELECT count(*) FROM messages").fetchone() == (0,)


def test_the_writer_never_creates_a_database_where_the_file_is_missing(tmp_path):
    missing = str(tmp_path / "gone.db")
    with pytest.raises(sqlite3.Error):
        open_database(missing)
    assert not os.path.exists(missing)


def test_the_writer_refuses_a_file_that_is_not_the_servers(path, tmp_path):
    other = str(tmp_path / "other.db")
    shutil.copy(path, other)
    st = os.stat(path)
    with pytest.raises(sqlite3.DatabaseError, match="replaced"):
        open_database(other, f"{st.st_dev}:{st.st_ino}")


class FakeReactor(Clock):
    """Spawns nothing: records what would be spawned, with fake pipes."""

    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[Any] = []

    def spawnProcess(self, proto, executable, args, env, childFDs):  # noqa: N802, N803
        proto.makeConnection(FakeTransport())
        proto.args = args
        self.spawned.append(proto)


class FakeTransport:
    def __init__(self) -> None:
        self.signals: list[str] = []
        self.written = b""
        self.stdin_closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def signalProcess(self, name: str) -> None:  # noqa: N802 (Twisted's name)
        self.signals.append(name)

    def closeStdin(self) -> None:  # noqa: N802 (Twisted's name)
        self.stdin_closed = True


def test_a_writer_that_keeps_dying_at_its_start_is_restarted_less_and_less_often():
    """Dying before it said READY, it committed nothing: what it held fails at once."""
    reactor = FakeReactor()
    writer = MessageWriter("/nonexistent/x.db", reactor)

    def dies_at_once() -> Failure:
        d = writer.insert([["m"]])
        reactor.spawned[-1].processEnded(Failure(RuntimeError("exit code 1")))
        return outcome(d)

    assert dies_at_once().check(WriterError)
    assert dies_at_once().check(WriterError)  # the first restart is at once
    assert len(reactor.spawned) == 2
    # The second quick death in a row: no new process for a second, but an answer.
    assert outcome(writer.insert([["m"]])).check(WriterError)
    assert len(reactor.spawned) == 2
    reactor.advance(1.0)
    assert dies_at_once().check(WriterError) and len(reactor.spawned) == 3
    reactor.advance(1.0)  # now 2 s
    assert outcome(writer.insert([["m"]])).check(WriterError)
    reactor.advance(1.0)
    writer.insert([["m"]])
    assert len(reactor.spawned) == 4
    # One that ran for a while and then died is restarted at once.
    reactor.advance(60)
    reactor.spawned[-1].processEnded(Failure(RuntimeError("killed")))
    writer.insert([["m"]])
    assert len(reactor.spawned) == 5


def test_batches_in_doubt_no_writer_can_settle_are_failed_after_stall_seconds():
    """Each writer opens its database (READY) and dies before settling them: they are
    tried 1, 2, 4, ... s apart, new batches meanwhile are refused at once, and they
    are failed once no writer could settle them for ``stall`` seconds."""
    reactor = FakeReactor()
    writer = MessageWriter("/nonexistent/x.db", reactor)

    def dies_once_ready() -> None:
        reactor.spawned[-1].outReceived(testing.frame(READY))
        reactor.spawned[-1].processEnded(Failure(RuntimeError("exit code 1")))

    held = writer.insert([["m"]])
    dies_once_ready()  # it had started: not a quick death
    reactor.advance(0)
    assert len(reactor.spawned) == 2 and reactor.spawned[1].args[-1] == "--resolve"
    dies_once_ready()  # the first quick death (settling): restarted at once
    reactor.advance(0)
    assert len(reactor.spawned) == 3 and reactor.spawned[2].args[-1] == "--resolve"
    dies_once_ready()  # the second quick death in a row: the next in a second
    refused = outcome(writer.insert([["n"]]))
    assert refused.check(WriterError) and len(reactor.spawned) == 3
    reactor.advance(1)
    assert len(reactor.spawned) == 4
    with capturedLogs() as events:
        while not held.called:
            dies_once_ready()
            for call in reactor.getDelayedCalls():  # the next restart
                reactor.advance(call.getTime() - reactor.seconds())
    failed = outcome(held)
    assert failed.check(WriterError)
    assert "whether these messages were stored is unknown" in str(failed.value)
    assert reactor.seconds() >= STALL and len(reactor.spawned) < 12
    assert "1 batch(es) of messages in doubt failed" in "\n".join(lines(events))
    assert writer.idle and reactor.getDelayedCalls() == []


def test_a_group_commit_whose_write_raises_at_once_fails_its_batch_and_goes_on():
    calls: list[list] = []

    def write(items: list) -> defer.Deferred:
        calls.append(items)
        if len(calls) == 1:
            raise OSError("the pipe is gone")
        return defer.succeed(items)

    commits: GroupCommit[str] = GroupCommit(write)
    assert outcome(commits.add("a")).check(OSError)
    assert outcome(commits.add("b")) == "b"


def test_pool_connections_never_create_a_database_where_the_file_is_missing(tmp_path):
    """A pool opens connections lazily (a second reader under load): one opened after
    the file was deleted must fail, not put an empty database at the path."""
    missing = tmp_path / "odd name?#%.db"
    with pytest.raises(sqlite3.OperationalError):
        sqlite3.connect(sqlite_pool.existing(str(missing)), uri=True)
    assert not missing.exists()
    missing.touch()
    sqlite3.connect(sqlite_pool.existing(str(missing)), uri=True).close()
    assert sqlite_pool.existing(":memory:") == ":memory:"


@pytest.mark.parametrize(
    "error",
    [
        sqlite3.IntegrityError("UNIQUE constraint failed: messages.id"),
        WriterError("IntegrityError: UNIQUE constraint failed: messages.id"),
        WriterError("ValueError: unexpected end of data"),
    ],
)
def test_a_refused_statement_is_a_bug_to_log_not_a_storage_fault(path, error):
    writer = FailingPool(path)
    store = SQLiteStore(writer, writer.pool, path)
    writer.error = error
    assert outcome(ban_row(store)).value is error
    assert store.health.fault is None


def test_messages_failing_stay_a_fault_while_other_writes_work(path):
    """The message writer cannot write (say, restarted on a read-only mount) while
    the server's own connections can: /ready stays 503 until messages commit again,
    rather than flapping with every other write."""
    failing: list[BaseException] = [
        sqlite3.OperationalError("attempt to write a readonly database")
    ]
    pool = ImmediatePool(path)

    def append(rows: list) -> defer.Deferred:
        if failing:
            return defer.fail(WriterError(f"OperationalError: {failing[0]}"))
        return pool.runInteraction(insert_rows, rows)

    store = SQLiteStore(pool, pool, path, append)
    message = Message("m1", "u1", Target("room", "r1"), "hi", False, 1.0, 1.0)
    assert outcome(store.insert_messages([message])).check(StorageFault)
    assert outcome(ban_row(store)) is False  # another write works...
    assert outcome(store.ping()) is False  # ...but messages still cannot be stored
    failing.clear()
    with capturedLogs() as events:
        assert outcome(store.ping()) is True  # the probe: an empty batch, which commits
    assert "storage works again" in lines(events)[0]
    assert outcome(store.insert_messages([message])) == [1]


def test_an_empty_batch_is_a_write_that_changes_nothing(path):
    conn, check = open_database(path)
    before = conn.execute("SELECT * FROM _migrations").fetchall()
    replies = io.BytesIO()
    serve(conn, io.BytesIO(testing.frame(b"[]")), replies, check)
    assert json_frames(replies.getvalue()) == [{"last": 0}]
    assert conn.execute("SELECT * FROM _migrations").fetchall() == before


def test_a_writer_whose_connection_is_read_only_refuses_the_batch_and_ends(path):
    """SQLite keeps a connection read-only that it opened so (a read-only mount):
    the writer ends, and a new one opens the database again once it is writable."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    replies = io.BytesIO()
    batch = testing.frame(orjson.dumps([["m1", "u1", "room", "r1", "hi", 1, 1]]))
    reason = serve(conn, io.BytesIO(batch + batch), replies)
    (reply,) = json_frames(replies.getvalue())  # the second batch is never read
    assert reply["error"] == "OperationalError: attempt to write a readonly database"
    assert reason is not None and "a new writer opens the database again" in reason


def test_a_damaged_file_is_not_ready_until_a_real_request_succeeds(path):
    writer = FailingPool(path)
    store = SQLiteStore(writer, writer.pool, path)
    writer.error = sqlite3.DatabaseError("database disk image is malformed")
    outcome(ban_row(store))
    writer.error = None  # a probe would pass now (it writes other pages)...
    assert outcome(store.ping()) is False  # ...so there is none
    assert outcome(store.ping()) is False
    assert outcome(ban_row(store)) is False  # a real write that works ends it
    assert outcome(store.ping()) is True


def test_the_cause_is_for_the_operator_command_never_for_clients(path, monkeypatch):
    """``lairchat admin ...`` prints a LairError's message: there, the cause; a client
    gets the wire form, "Internal error" alone."""
    monkeypatch.setattr(sqlite_pool, "BUSY_TIMEOUT_MS", 10)
    store = SQLiteStore(ImmediatePool(path), ImmediatePool(path), path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        fault = outcome(ban_row(store)).value
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert fault.message == "OperationalError: database is locked"
    assert fault.to_wire() == {"code": "internal_error", "message": "Internal error"}


def test_a_writer_that_hangs_is_given_up_on_and_what_it_held_settled_by_the_next():
    reactor = FakeReactor()
    writer = MessageWriter("/nonexistent/x.db", reactor)
    first = writer.insert([["m1"]])
    hung = reactor.spawned[0]
    hung.outReceived(testing.frame(READY))  # its database was open
    reactor.advance(30)
    second = writer.insert([["m2"]])
    with capturedLogs() as events:
        reactor.advance(STALL - 30)  # the first batch has waited STALL seconds
    assert (
        "did not answer for 60 s (killed); 2 batch(es) of messages are in doubt"
        in (lines(events)[0])
    )
    assert hung.transport.signals == ["KILL"] and not first.called and not second.called
    hung.outReceived(testing.frame(b'{"last": 1}'))  # a late answer from it is ignored
    assert not first.called
    reactor.advance(0)  # a new writer, at once, to find out which were stored
    settling = reactor.spawned[1]
    assert json_frames(settling.transport.written) == [[[["m1"]], [["m2"]]]]
    third = writer.insert([["m3"]])
    settling.outReceived(testing.frame(b'{"last": [1, 2]}'))
    assert (outcome(first), outcome(second)) == (1, 2)
    settling.outReceived(testing.frame(b'{"last": 3}'))
    assert outcome(third) == 3
    hung.processEnded(Failure(RuntimeError("killed")))  # long forgotten
    assert writer.idle and len(reactor.spawned) == 2


def test_a_stopped_writer_leaves_no_watchdog_timer_behind():
    reactor = FakeReactor()
    writer = MessageWriter("/nonexistent/x.db", reactor)
    first = writer.insert([["m1"]])
    reactor.spawned[0].outReceived(testing.frame(b'{"last": 1}'))
    assert outcome(first) == 1
    stopped = writer.stop()
    reactor.spawned[0].processEnded(Failure(RuntimeError("exit code 0")))
    assert outcome(stopped) is None
    assert reactor.getDelayedCalls() == []


def test_a_batch_that_cannot_be_encoded_leaves_the_answers_matched_to_their_batches():
    reactor = FakeReactor()
    writer = MessageWriter("/nonexistent/x.db", reactor)
    with pytest.raises(TypeError):
        writer.insert([["m1", object()]])
    assert writer.idle
    second = writer.insert([["m2"]])
    reactor.spawned[0].outReceived(testing.frame(b'{"last": 2}'))
    assert outcome(second) == 2 and writer.idle


def test_a_write_waiting_too_long_makes_the_database_unusable_while_it_waits(path):
    """A lock held elsewhere: the write waits up to the busy timeout (30 s) before it
    fails; /ready need not wait for that to say 503."""
    pending: list[defer.Deferred] = []

    class Waiting:
        def runInteraction(self, fn: Any, *args: Any) -> defer.Deferred:  # noqa: N802
            pending.append(defer.Deferred())
            return pending[-1]

    now = [100.0]
    store = SQLiteStore(Waiting(), ImmediatePool(path), path)
    store.health.clock = lambda: now[0]
    ban_row(store)
    now[0] += STUCK
    assert outcome(store.ping()) is True  # not yet
    now[0] += 1
    with capturedLogs() as events:
        assert outcome(store.ping()) is False
        assert outcome(store.ping()) is False
    (logged,) = lines(events)
    assert "a write has waited 6 s for the database" in logged
    pending[0].callback(False)  # the lock is released: the write went through
    assert outcome(store.ping()) is True


def test_no_write_goes_to_a_write_ahead_log_deleted_while_open(path):
    store = SQLiteStore(ImmediatePool(path), ImmediatePool(path), path)
    assert outcome(ban_row(store)) is False
    assert outcome(ban_row(store)) is False  # the log has been seen
    os.remove(path + "-wal")
    with capturedLogs() as events:
        assert outcome(ban_row(store)).check(StorageFault)
    assert "write-ahead log" in lines(events)[0] and "was deleted while open" in lines(events)[0]
    assert outcome(store.ping()) is False


def test_a_writer_that_cannot_be_started_fails_the_batch_and_is_tried_again_later():
    class NoFork(FakeReactor):
        def spawnProcess(self, *args, **kw):  # noqa: N802
            raise OSError(11, "Resource temporarily unavailable")

    reactor = NoFork()
    writer = MessageWriter("/nonexistent/x.db", reactor)
    with capturedLogs() as events:
        for _ in range(3):
            failed = outcome(writer.insert([["m"]]))
            assert failed.check(WriterError)
    assert "could not be started" in str(failed.value) and writer.idle
    assert "restarting it in 1 s" in lines(events)[-1]  # after two: the third waited


def test_no_new_connection_once_the_write_ahead_log_is_deleted(path):
    """A new connection (a pool's next reader, a new message writer) would start an
    empty log and rebuild the index from it: what only the deleted log held, which a
    clean stop still copies into the database, would be lost. It is refused."""
    held = sqlite_pool.connect(path)  # the server's connections, holding the log
    held.execute("DELETE FROM bans")
    held.commit()
    writer, _ = sqlite_pool.open_pools(path, reactor=None)
    os.remove(path + "-wal")
    with pytest.raises(DatabaseFileChanged, match="write-ahead log .* is missing"):
        writer.openfun(sqlite3.connect(path))
    with pytest.raises(DatabaseFileChanged, match="write-ahead log .* is missing"):
        open_database(path)
    held.close()  # the last connection: its log is copied into the database


def test_no_new_connection_to_a_database_file_replaced_while_open(path):
    """A pool's next connection would read another database than its others."""
    writer, _ = sqlite_pool.open_pools(path, reactor=None)
    aside = path + ".aside"
    os.rename(path, aside)
    shutil.copy(aside, path)
    with pytest.raises(DatabaseFileChanged, match="replaced"):
        writer.openfun(sqlite3.connect(path))


def test_the_write_ahead_log_is_looked_up_cheaply(path):
    """Its absence is asked before every write (access); which file it is, at most
    every WAL_IDENTITY_EVERY seconds (a stat just before a commit slows the commit's
    fsync). A replaced log is refused at the next look."""
    held = sqlite_pool.connect(path)
    held.execute("DELETE FROM bans")
    held.commit()
    now = [100.0]
    check = identity_check(path, clock=lambda: now[0])
    check()  # the log is seen
    wal = path + "-wal"
    os.rename(wal, wal + ".aside")
    shutil.copy(wal + ".aside", wal)
    check()  # not looked at again yet
    now[0] += WAL_IDENTITY_EVERY
    with pytest.raises(DatabaseFileChanged, match="write-ahead log .* was replaced"):
        check()
    os.remove(wal)
    with pytest.raises(DatabaseFileChanged, match="write-ahead log .* was deleted"):
        check()  # at once, whatever the clock
    held.close()


def test_no_new_connection_once_the_index_of_the_write_ahead_log_is_deleted(path):
    """The connections open keep their index (``-shm``, mapped) and their locks on
    it; a new one from another process would make a second index with locks of its
    own, and two writers would write the log at once. None is opened; the server's
    own go on writing, and /ready says 503 until a clean restart."""
    store = SQLiteStore(ImmediatePool(path), ImmediatePool(path), path)
    assert outcome(ban_row(store)) is False  # the log and its index exist
    writer, _ = sqlite_pool.open_pools(path, reactor=None)
    os.remove(path + "-shm")
    deleted = "index of the database's write-ahead log .* was deleted"
    with pytest.raises(DatabaseFileChanged, match=deleted):
        writer.openfun(sqlite3.connect(path))
    with pytest.raises(DatabaseFileChanged, match=deleted):
        open_database(path)  # a new message writer
    with capturedLogs() as events:
        assert outcome(store.ping()) is False
        assert outcome(store.ping()) is False
    (logged,) = lines(events)
    assert "was deleted while the database is open" in logged and "stop the server" in logged
    assert outcome(ban_row(store)) is False and store.health.fault is None
