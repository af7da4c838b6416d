"""The message writer process: its serving loop, and the server's side of the pipe."""

from __future__ import annotations

import io
import sqlite3

import orjson
import pytest
from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.python.failure import Failure

from lairchat import testing
from lairchat.core.groupcommit import GroupCommit
from lairchat.domain.types import Message, Target
from lairchat.storage.sqlite.faults import OutcomeUnknown, StorageFault
from lairchat.storage.sqlite.migrate import migrate
from lairchat.storage.sqlite.pool import ImmediatePool, connect
from lairchat.storage.sqlite.store import SQLiteStore
from lairchat.storage.sqlite.writer import (
    LOCK_WAITS,
    SEQ_FLOOR,
    START_GRACE,
    STOP_GRACE,
    MessageWriter,
    PartlyStored,
    WriterError,
    begin_immediate,
    serve,
)
from lairchat.testing import json_frames


def frame(obj: object) -> bytes:
    return testing.frame(orjson.dumps(obj))


@pytest.fixture
def db(tmp_path) -> sqlite3.Connection:
    conn = connect(str(tmp_path / "writer.db"))
    migrate(conn)
    conn.execute(
        "INSERT INTO users (id, username, email, password_hash, role, created_at, updated_at) "
        "VALUES ('u1', 'alice', 'a@example.com', 'h', 'user', 0, 0)"
    )
    conn.commit()
    return conn


def row(mid: str, content: str = "hi") -> list:
    return [mid, "u1", "room", "r1", content, 1, 1]


def test_serve_commits_each_batch_and_answers_its_last_rowid(db):
    replies = io.BytesIO()
    requests = io.BytesIO(frame([row("m1"), row("m2")]) + frame([row("m3")]))
    serve(db, requests, replies)
    assert json_frames(replies.getvalue()) == [{"last": 2}, {"last": 3}]
    stored = db.execute("SELECT rowid, id FROM messages ORDER BY rowid").fetchall()
    assert stored == [(1, "m1"), (2, "m2"), (3, "m3")]


def test_serve_rolls_a_failed_batch_back_whole_and_goes_on(db):
    replies = io.BytesIO()
    duplicate = [row("m1"), row("m1")]  # the second violates the primary key
    requests = io.BytesIO(frame(duplicate) + b"\x00\x00\x00\x03nop" + frame([row("m2")]))
    serve(db, requests, replies)
    first, garbage, last = json_frames(replies.getvalue())
    assert "IntegrityError" in first["error"]
    assert "error" in garbage
    assert last == {"last": 1}
    assert db.execute("SELECT id FROM messages").fetchall() == [("m2",)]


@pytest.mark.parametrize("size", [1, 3, 4, 5, 15, 16, 17, 63, 64, 65, 80, 84, 151])
def test_a_batch_of_any_size_is_stored_in_order_with_consecutive_seqs(db, size):
    """Rows go up to 64 per statement (64, 16 and 4 at a time, the rest one by one):
    every size is stored whole, in the order sent."""
    serve(db, io.BytesIO(frame([row("first")])), io.BytesIO())
    batch = [row(f"m{i:03}", f"text {i}") for i in range(size)]
    replies = io.BytesIO()
    serve(db, io.BytesIO(frame(batch)), replies)
    assert json_frames(replies.getvalue()) == [{"last": 1 + size}]
    stored = db.execute("SELECT rowid, id, content FROM messages WHERE rowid > 1 ORDER BY rowid")
    assert stored.fetchall() == [(2 + i, f"m{i:03}", f"text {i}") for i in range(size)]


def test_a_deleted_authors_row_deep_in_a_long_batch_is_left_out_alone(db):
    batch = [row(f"m{i:03}") for i in range(100)]
    batch[70] = gone_row("m070")
    replies = io.BytesIO()
    serve(db, io.BytesIO(frame(batch)), replies)
    assert json_frames(replies.getvalue()) == [{"last": 99, "gone": [70]}]
    stored = db.execute("SELECT rowid, id FROM messages ORDER BY rowid").fetchall()
    kept = [f"m{i:03}" for i in range(100) if i != 70]
    assert stored == list(zip(range(1, 100), kept, strict=True))


def gone_row(mid: str) -> list:
    """A message of an account deleted while it was on the way (no such user)."""
    return [mid, "u-deleted", "room", "r1", "hi", 1, 1]


def test_a_deleted_authors_rows_are_left_out_and_the_rest_of_the_batch_stored(db):
    """Before, the author's foreign key failed the whole batch: every other sender in
    it was told its message failed."""
    replies = io.BytesIO()
    batch = [row("m1"), gone_row("m2"), row("m3"), gone_row("m4"), row("m5")]
    serve(db, io.BytesIO(frame(batch) + frame([row("m6")])), replies)
    assert json_frames(replies.getvalue()) == [{"last": 3, "gone": [1, 3]}, {"last": 4}]
    stored = db.execute("SELECT rowid, id FROM messages ORDER BY rowid").fetchall()
    assert stored == [(1, "m1"), (2, "m3"), (3, "m5"), (4, "m6")]


def test_a_batch_of_deleted_authors_only_stores_nothing(db):
    serve(db, io.BytesIO(frame([row("m1")])), io.BytesIO())
    replies = io.BytesIO()
    serve(db, io.BytesIO(frame([gone_row("m2"), gone_row("m3")]) + frame([row("m4")])), replies)
    assert json_frames(replies.getvalue()) == [{"last": 0, "gone": [0, 1]}, {"last": 2}]
    assert db.execute("SELECT rowid, id FROM messages").fetchall() == [(1, "m1"), (2, "m4")]


def test_rows_left_out_keep_the_seq_floor(db):
    """Past a deleted newest message's seq, the kept rows are numbered as a whole
    batch would have been."""
    serve(db, io.BytesIO(frame([row("m1"), row("m2")])), io.BytesIO())
    db.execute("UPDATE message_seq_floor SET seq = 2")
    db.execute("DELETE FROM messages WHERE id = 'm2'")
    db.commit()
    replies = io.BytesIO()
    serve(db, io.BytesIO(frame([gone_row("m3"), row("m4"), row("m5")])), replies)
    assert json_frames(replies.getvalue()) == [{"last": 4, "gone": [0]}]
    stored = db.execute("SELECT rowid, id FROM messages ORDER BY rowid").fetchall()
    assert stored == [(1, "m1"), (3, "m4"), (4, "m5")]


def test_a_duplicate_id_still_fails_its_whole_batch(db):
    """Only the foreign key of a deleted author is forgiven; with one such row in the
    batch too, the duplicate still refuses it."""
    serve(db, io.BytesIO(frame([row("m1")])), io.BytesIO())
    replies = io.BytesIO()
    serve(db, io.BytesIO(frame([gone_row("m2"), row("m1")])), replies)
    (reply,) = json_frames(replies.getvalue())
    assert "UNIQUE" in reply["error"]
    assert db.execute("SELECT id FROM messages").fetchall() == [("m1",)]


def test_serve_stops_at_the_end_of_its_input(db):
    replies = io.BytesIO()
    serve(db, io.BytesIO(b"\x00\x00"), replies)  # a torn length: the server went away
    assert replies.getvalue() == b""


class FakeProcessTransport:
    def __init__(self) -> None:
        self.written = b""
        self.stdin_closed = False
        self.signals: list[str] = []

    def signalProcess(self, name: str) -> None:  # noqa: N802 (Twisted's name)
        self.signals.append(name)

    def write(self, data: bytes) -> None:
        self.written += data

    def closeStdin(self) -> None:  # noqa: N802 (Twisted's name)
        self.stdin_closed = True


class FakeReactor(Clock):
    """A clock that records spawned processes and connects them to fake pipes."""

    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[dict] = []

    def spawnProcess(self, proto, executable, args, env, childFDs):  # noqa: N802, N803
        transport = FakeProcessTransport()
        proto.makeConnection(transport)
        self.spawned.append({"proto": proto, "args": args, "env": env, "transport": transport})


def started() -> tuple[MessageWriter, FakeReactor, list]:
    """A writer with one batch (``row("m1")``) sent; the outcome list of that batch."""
    reactor = FakeReactor()
    writer = MessageWriter("/tmp/x.db", reactor)
    first = outcomes(writer.insert([row("m1")]))
    return writer, reactor, first


def outcomes(d) -> list:
    out: list = []
    d.addBoth(out.append)
    return out


def test_the_writer_is_started_on_first_use_without_the_servers_settings(monkeypatch):
    monkeypatch.setenv("LAIR_JWT_SECRET", "s" * 40)
    reactor = FakeReactor()
    writer = MessageWriter("/tmp/x.db", reactor)
    assert reactor.spawned == []
    writer.insert([row("m1")])
    (spawned,) = reactor.spawned
    assert spawned["args"][1:] == [
        "-m",
        "lairchat.storage.sqlite.writer",
        "/tmp/x.db",
        "--busy-timeout-ms=30000",
    ]
    assert not any(key.startswith("LAIR_") for key in spawned["env"])
    assert json_frames(spawned["transport"].written) == [[row("m1")]]


def test_answers_fire_the_batches_in_order_and_count_in_flight():
    writer, reactor, firsts = started()
    process = reactor.spawned[0]["proto"]
    second = outcomes(writer.insert([row("m2"), row("m3")]))
    assert json_frames(reactor.spawned[0]["transport"].written)[1] == [row("m2"), row("m3")]
    assert writer.in_flight == 2 and not writer.idle
    reply = frame({"last": 1}) + frame({"last": 3})
    process.outReceived(reply[:3])  # answers may arrive in pieces
    process.outReceived(reply[3:])
    assert firsts == [1] and second == [3]
    assert writer.idle


def test_an_error_answer_fails_only_its_batch():
    writer, reactor, first = started()
    process = reactor.spawned[0]["proto"]
    second = outcomes(writer.insert([row("m2")]))
    process.outReceived(frame({"error": "IntegrityError: no"}) + frame({"last": 2}))
    assert isinstance(first[0], Failure) and first[0].check(WriterError)
    assert second == [2]


def test_a_partly_stored_answer_names_the_rows_left_out():
    writer, reactor, first = started()
    process = reactor.spawned[0]["proto"]
    process.outReceived(frame({"last": 7, "gone": [0, 2]}))
    assert first == [PartlyStored(7, [0, 2])]


def test_a_batch_in_doubt_stored_partly_is_answered_so():
    writer, reactor, held = started()
    reactor.spawned[0]["proto"].outReceived(frame({"ready": True}))
    reactor.spawned[0]["proto"].processEnded(Failure(RuntimeError("killed")))
    reactor.advance(0)
    reactor.spawned[1]["proto"].outReceived(frame({"last": [{"last": 0, "gone": [0]}]}))
    assert held == [PartlyStored(0, [0])]


def test_a_writer_that_dies_leaves_what_it_held_in_doubt_for_the_next_one():
    """Not failed (it may be stored): a new writer starts at once and, first, finds
    out; the batch is then acknowledged with its rowid, as its own writer would have."""
    writer, reactor, held = started()
    reactor.spawned[0]["proto"].outReceived(frame({"ready": True}))  # its database was open
    reactor.spawned[0]["proto"].processEnded(Failure(RuntimeError("killed")))
    assert held == [] and writer.in_flight == 1 and not writer.idle
    reactor.advance(0)
    settling = reactor.spawned[1]
    assert settling["args"][-1] == "--resolve"
    later = outcomes(writer.insert([row("m2")]))  # sent behind the settling request
    assert json_frames(settling["transport"].written) == [[[row("m1")]], [row("m2")]]
    settling["proto"].outReceived(frame({"last": [7]}) + frame({"last": 8}))
    assert held == [7] and later == [8] and writer.idle
    reactor.advance(120)  # the watchdog finds nothing unanswered
    assert len(reactor.spawned) == 2 and writer.idle


def test_stop_closes_the_input_and_fires_when_the_writer_has_exited():
    writer, reactor, _ = started()
    process, transport = reactor.spawned[0]["proto"], reactor.spawned[0]["transport"]
    stopped = outcomes(writer.stop())
    assert transport.stdin_closed and stopped == []
    process.outReceived(frame({"last": 1}))
    process.processEnded(Failure(RuntimeError("exited 0")))
    assert stopped == [None]
    assert outcomes(MessageWriter("/tmp/y.db", reactor).stop()) == [None]  # never started


def test_serve_numbers_past_a_deleted_newest_message(db):
    replies = io.BytesIO()
    serve(db, io.BytesIO(frame([row("m1"), row("m2")])), replies)
    # What the store's delete_message records before deleting (migration 006).
    db.execute("UPDATE message_seq_floor SET seq = 2")
    db.execute("DELETE FROM messages WHERE id = 'm2'")
    db.commit()
    serve(db, io.BytesIO(frame([row("m3"), row("m4")]) + frame([row("m5")])), replies)
    assert json_frames(replies.getvalue()) == [{"last": 2}, {"last": 4}, {"last": 5}]
    stored = db.execute("SELECT rowid, id FROM messages ORDER BY rowid").fetchall()
    assert stored == [(1, "m1"), (3, "m3"), (4, "m4"), (5, "m5")]


class _DeleteDuringFloorRead(sqlite3.Cursor):
    """Tries, from another connection, what the store's delete_message does to the
    newest message at the worst moment: just after the writer read the seq floor."""

    other: sqlite3.Connection
    outcome: list[str]

    def execute(self, sql, *args):  # type: ignore[override]
        done = super().execute(sql, *args)
        if sql == SEQ_FLOOR:
            try:
                self.other.execute("UPDATE message_seq_floor SET seq = 2")
                self.other.execute("DELETE FROM messages WHERE id = 'm2'")
                self.other.commit()
                self.outcome.append("deleted")
            except sqlite3.OperationalError as e:
                self.other.rollback()
                self.outcome.append(str(e))
        return done


def test_no_seq_is_given_away_by_a_delete_during_the_floor_read(db, tmp_path):
    """The floor is read under the write lock: a delete of the newest message waits
    for the batch's commit (here, with no busy timeout, it is refused), so the batch
    cannot take the deleted message's seq."""
    serve(db, io.BytesIO(frame([row("m1"), row("m2")])), io.BytesIO())
    other = sqlite3.connect(tmp_path / "writer.db", timeout=0)

    class Racing(sqlite3.Connection):
        def cursor(self, factory=_DeleteDuringFloorRead):  # type: ignore[override]
            return super().cursor(factory)

    writer = sqlite3.connect(tmp_path / "writer.db", factory=Racing)
    _DeleteDuringFloorRead.other, _DeleteDuringFloorRead.outcome = other, []
    replies = io.BytesIO()
    serve(writer, io.BytesIO(frame([row("m3")])), replies)
    assert _DeleteDuringFloorRead.outcome == ["database is locked"]
    assert json_frames(replies.getvalue()) == [{"last": 3}]
    other.close()
    writer.close()


class _Moments:
    """A clock for :func:`begin_immediate` that moves only when it sleeps, and
    runs ``at[n]`` at the n-th sleep (0-based)."""

    def __init__(self, at: dict | None = None):
        self.now, self.slept, self.at = 100.0, [], at or {}

    def sleep(self, seconds: float) -> None:
        action = self.at.get(len(self.slept))
        self.slept.append(seconds)
        self.now += seconds
        if action is not None:
            action()

    def clock(self) -> float:
        return self.now


def _holding(tmp_path) -> sqlite3.Connection:
    """Another connection holding the database's write lock, as a server thread's
    write does between its statement and its commit."""
    other = sqlite3.connect(tmp_path / "writer.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_the_write_lock_is_tried_again_soon_and_more_slowly_after(db, tmp_path):
    """SQLite's own busy handler sleeps 1 ms before its second try, so a batch that
    met a lock held for a tenth of that waited ten times longer than it had to."""
    other = _holding(tmp_path)
    db.execute("PRAGMA busy_timeout = 0")
    moments = _Moments(at={len(LOCK_WAITS) + 1: other.rollback})
    begin_immediate(db, 30.0, moments.sleep, moments.clock)
    assert db.in_transaction
    assert moments.slept == [*LOCK_WAITS, LOCK_WAITS[-1], LOCK_WAITS[-1]]
    assert moments.slept[0] < 0.001 and sorted(moments.slept) == moments.slept
    db.rollback()
    other.close()


def test_a_lock_held_past_the_budget_is_database_is_locked(db, tmp_path):
    other = _holding(tmp_path)
    db.execute("PRAGMA busy_timeout = 0")
    moments = _Moments()
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        begin_immediate(db, 0.0105, moments.sleep, moments.clock)
    # It waited its budget, not a sleep more: the last sleep is what was left of it.
    assert moments.now - 100.0 == pytest.approx(0.0105)
    assert not db.in_transaction
    other.close()


def test_an_error_other_than_a_held_lock_is_raised_at_once(db):
    moments = _Moments()
    db.execute("BEGIN")
    with pytest.raises(sqlite3.OperationalError, match="within a transaction"):
        begin_immediate(db, 30.0, moments.sleep, moments.clock)
    assert moments.slept == []
    db.rollback()


def test_serve_waits_for_a_lock_held_elsewhere_and_then_commits(db, tmp_path):
    """Through the real loop: the batch waits while another connection holds the
    lock (a thread releases it shortly) and is stored once it is free."""
    import threading

    other = _holding(tmp_path)
    release = threading.Timer(0.05, other.rollback)
    release.start()
    replies = io.BytesIO()
    serve(db, io.BytesIO(frame([row("m1")])), replies, busy_ms=10_000)
    release.join()
    assert json_frames(replies.getvalue()) == [{"last": 1}]
    other.close()


def test_serve_refuses_a_batch_when_the_lock_stays_held_past_its_busy_timeout(db, tmp_path):
    other = _holding(tmp_path)
    replies = io.BytesIO()
    serve(db, io.BytesIO(frame([row("m1")])), replies, busy_ms=20)
    assert json_frames(replies.getvalue()) == [{"error": "OperationalError: database is locked"}]
    other.rollback()
    assert db.execute("SELECT COUNT(*) FROM messages").fetchone() == (0,)
    other.close()


def test_start_spawns_the_writer_once_ahead_of_the_first_batch():
    reactor = FakeReactor()
    writer = MessageWriter("/tmp/x.db", reactor)
    writer.start()
    writer.start()
    assert len(reactor.spawned) == 1
    writer.insert([row("m1")])
    (spawned,) = reactor.spawned
    assert json_frames(spawned["transport"].written) == [[row("m1")]]


def test_insert_after_stop_fails_at_once_and_starts_no_writer():
    writer, reactor, first = started()
    process = reactor.spawned[0]["proto"]
    stopped = outcomes(writer.stop())
    late = outcomes(writer.insert([row("m2")]))  # while the writer finishes
    assert late[0].check(WriterError) and "stopped" in str(late[0].value)
    assert json_frames(reactor.spawned[0]["transport"].written) == [[row("m1")]]
    process.outReceived(frame({"last": 1}))  # what it had is still answered
    process.processEnded(Failure(RuntimeError("exited 0")))
    assert first == [1] and stopped == [None]
    later = outcomes(writer.insert([row("m3")]))  # and once it has exited
    assert later[0].check(WriterError) and "stopped" in str(later[0].value)
    writer.start()
    assert len(reactor.spawned) == 1 and writer.idle


def test_a_writer_stopped_before_it_ever_ran_never_starts_one():
    reactor = FakeReactor()
    writer = MessageWriter("/tmp/x.db", reactor)
    assert outcomes(writer.stop()) == [None]
    assert outcomes(writer.insert([row("m1")]))[0].check(WriterError)
    writer.start()
    assert reactor.spawned == [] and reactor.getDelayedCalls() == []


def test_a_short_busy_timeout_still_leaves_a_writer_time_to_start_and_commit():
    """LAIR_DATABASE_BUSY_TIMEOUT=0.1 (allowed; operations.md suggests lowering it to
    hear of a held lock sooner) made the watchdog kill a writer after 0.2 s: less
    than a Python interpreter takes to start (0.25-0.6 s), so the first batch, and
    every batch after each restart, failed. A held lock makes the writer answer an
    error after the busy timeout; only a hung writer needs the watchdog."""
    reactor = FakeReactor()
    writer = MessageWriter("/tmp/x.db", reactor, busy_ms=100)
    first = outcomes(writer.insert([row("m1")]))
    reactor.advance(0.6)  # the interpreter starts, opens the database, commits
    reactor.spawned[0]["proto"].outReceived(frame({"ready": True}) + frame({"last": 1}))
    assert first == [1] and len(reactor.spawned) == 1
    # Once it is up, the watchdog still gives up on a writer that hangs.
    hung = outcomes(writer.insert([row("m2")]))
    reactor.advance(START_GRACE)
    reactor.advance(0)
    assert hung == [] and len(reactor.spawned) == 2  # given up on: in doubt, settling


def test_a_writer_that_never_says_ready_is_killed_after_the_start_grace():
    reactor = FakeReactor()
    writer = MessageWriter("/tmp/x.db", reactor, busy_ms=100)
    held = outcomes(writer.insert([row("m1")]))
    reactor.advance(START_GRACE - 0.1)
    assert held == []
    reactor.advance(0.1)
    assert held[0].check(WriterError) and "did not answer for 10 s" in str(held[0].value)


def test_a_batch_queued_behind_one_that_dies_meets_the_restart_delay_of_that_death():
    """The group commit sends its next batch from the failed one's callbacks: those
    ran before the restart delay of the death was set, so the writer dying at its
    start for the second time in a row was started again at once for that batch."""
    reactor = FakeReactor()
    writer = MessageWriter("/tmp/x.db", reactor)
    commits = GroupCommit(writer.insert)
    answers = [outcomes(commits.add(row("m0")))]
    for n in range(1, 4):
        answers.append(outcomes(commits.add(row(f"m{n}"))))  # queued behind the batch written
        spawned = reactor.spawned[-1]
        if writer._running is spawned["proto"]:
            spawned["proto"].processEnded(Failure(RuntimeError("exit code 1")))
    assert all(answer[0].check(WriterError) for answer in answers)
    assert len(reactor.spawned) == 2  # the first restart is at once, the next a second later


def test_a_message_refused_because_the_server_stops_is_no_storage_fault(tmp_path):
    """HTTP clients on kept-alive connections send while the server stops (its
    listeners are closed, but their connections are not): each was logged as a
    ``storage fault:`` at a clean stop. They are answered ``internal_error``, as
    before, and the log and the health say nothing."""
    path = str(tmp_path / "stop.db")
    pool = ImmediatePool(path)
    migrate(pool.connection)
    writer = MessageWriter(path, FakeReactor())
    store = SQLiteStore(pool, pool, path, writer.insert)
    writer.stop()
    message = Message("m1", "u1", Target("room", "r1"), "hi", False, 1.0, 1.0)
    with capturedLogs() as events:
        (refused,) = outcomes(store.insert_messages([message]))
    assert refused.check(StorageFault) and refused.value.to_wire()["code"] == "internal_error"
    assert events == [] and store.health.fault is None


def test_a_writer_that_hangs_as_the_server_stops_is_killed_after_the_stop_grace():
    """Stopped during a stall, the server waited for the watchdog (60 s by default)
    and outlasted systemd's TimeoutStopSec (30 s), which killed it; the batch's
    failure was logged with no word of why."""
    writer, reactor, held = started()
    reactor.spawned[0]["proto"].outReceived(frame({"ready": True}))
    stopped = outcomes(writer.stop())
    with capturedLogs() as events:
        reactor.advance(STOP_GRACE - 0.1)
        assert stopped == []
        reactor.advance(0.1)
    assert stopped == [None] and held[0].check(OutcomeUnknown)
    assert reactor.spawned[0]["transport"].signals == ["KILL"]
    logged = [formatEvent(e) for e in events]
    assert logged[0] == "the message writer did not finish within 10 s (killed) as the server stops"
    assert logged[1].startswith("1 batch(es) of messages in doubt failed: the server stopped")
    assert reactor.getDelayedCalls() == []


def test_a_writer_that_exits_as_asked_leaves_no_stop_timer_behind():
    writer, reactor, held = started()
    process = reactor.spawned[0]["proto"]
    process.outReceived(frame({"ready": True}) + frame({"last": 1}))
    stopped = outcomes(writer.stop())
    with capturedLogs() as events:
        process.processEnded(Failure(RuntimeError("exited 0")))
    assert stopped == [None] and held == [1] and events == []
    assert reactor.getDelayedCalls() == []


def test_writers_killed_after_they_started_are_restarted_at_once_each_time():
    """Any exit within QUICK_EXIT of the start counted as a writer that could not
    start: two killed in a row, each after it had opened its database and committed
    batches, made the server refuse every message for a second, then 2, 4, ... (seen
    against a real server: a writer killed every second, half the messages refused).
    A writer that said READY and was not settling has started; only one that did
    not, or died settling (its first request), counts."""
    reactor = FakeReactor()
    writer = MessageWriter("/tmp/x.db", reactor)
    for n in range(4):
        answered = outcomes(writer.insert([row(f"m{n}")]))
        process = reactor.spawned[-1]["proto"]
        reply = frame({"last": n + 1})
        process.outReceived(reply if process.opened else frame({"ready": True}) + reply)
        assert answered == [n + 1]
        reactor.advance(1)
        process.processEnded(Failure(RuntimeError("killed")))
    assert len(reactor.spawned) == 4
    assert outcomes(writer.insert([row("m4")])) == []  # sent to a fifth: not refused
    assert len(reactor.spawned) == 5


def test_writers_that_die_settling_are_restarted_less_and_less_often():
    """A batch that kills every writer it reaches (found settling it) is not retried
    in a tight loop: the second such death in a row waits a second."""
    writer, reactor, held = started()
    reactor.spawned[-1]["proto"].outReceived(frame({"ready": True}))
    reactor.spawned[-1]["proto"].processEnded(Failure(RuntimeError("killed")))
    for _ in range(2):
        reactor.advance(0)
        reactor.spawned[-1]["proto"].outReceived(frame({"ready": True}))
        reactor.spawned[-1]["proto"].processEnded(Failure(RuntimeError("segfault")))
    reactor.advance(0.5)
    assert len(reactor.spawned) == 3 and held == []
    reactor.advance(0.5)
    assert len(reactor.spawned) == 4


def test_a_writer_that_hangs_with_nothing_to_answer_does_not_hold_the_stop():
    """Stopped (SIGSTOP) with nothing in flight, it never read the end of its input
    and no watchdog ran: the stop waited for ever."""
    reactor = FakeReactor()
    writer = MessageWriter("/tmp/x.db", reactor)
    writer.start()
    reactor.spawned[0]["proto"].outReceived(frame({"ready": True}))
    stopped = outcomes(writer.stop())
    with capturedLogs() as events:
        reactor.advance(STOP_GRACE)
    assert stopped == [None] and reactor.spawned[0]["transport"].signals == ["KILL"]
    (logged,) = [formatEvent(e) for e in events]
    assert logged == "the message writer did not finish within 10 s (killed) as the server stops"
