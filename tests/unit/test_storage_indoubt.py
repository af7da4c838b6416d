"""Batches in doubt: a message writer that died before answering may have committed
what it held. The next writer finds out which batches are stored and stores the
others, in one write transaction; each batch is then acknowledged exactly once, and
no message is stored twice."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Callable
from typing import Any
from uuid import UUID

import orjson
import pytest
from twisted.internet import defer
from twisted.logger import capturedLogs, formatEvent
from twisted.python.failure import Failure

from lairchat import testing
from lairchat.core import passwords
from lairchat.domain.errors import account_deleted
from lairchat.domain.types import Message, Target
from lairchat.storage.sqlite import indoubt
from lairchat.storage.sqlite.faults import OutcomeUnknown, WriterError
from lairchat.storage.sqlite.indoubt import committed, resolve, settle
from lairchat.storage.sqlite.pool import ImmediatePool, configure_connection, connect
from lairchat.storage.sqlite.store import SQLiteStore
from lairchat.storage.sqlite.writer import (
    READY,
    UNSETTLED_AT_STOP,
    MessageWriter,
    insert_rows,
    serve,
)
from lairchat.testing import frame, json_frames
from lairchat.transports.http.testing import CHEAP_HASHER, ApiClient
from tests.unit.test_storage_faults import FakeReactor as SpawningClock
from tests.unit.test_storage_faults import database


@pytest.fixture
def path(tmp_path) -> str:
    return database(str(tmp_path / "indoubt.db"))


@pytest.fixture
def db(path) -> sqlite3.Connection:
    return connect(path)


def row(mid: str) -> list:
    return [mid, "u1", "room", "r1", f"content of {mid}", 1, 1]


def commit(conn: sqlite3.Connection, *batches: list) -> list[int]:
    """What a writer does with each batch: one transaction each."""
    lasts = []
    for rows in batches:
        lasts.append(insert_rows(conn.cursor(), rows))
        conn.commit()
    return lasts


def stored(conn: sqlite3.Connection) -> list[tuple[int, str]]:
    return conn.execute("SELECT rowid, id FROM messages ORDER BY rowid").fetchall()


# -- the writer's side: finding out ----------------------------------------------------


def test_a_committed_batch_is_found_and_one_that_was_not_is_stored_now(db):
    committed = [row("a1"), row("a2"), row("a3")]
    assert commit(db, [row("x")], committed) == [1, 4]
    lost = [row("b1"), row("b2")]
    lasts = settle(db.cursor(), [committed, lost], insert_rows)
    db.commit()
    assert lasts == [4, 6]
    assert stored(db) == [(1, "x"), (2, "a1"), (3, "a2"), (4, "a3"), (5, "b1"), (6, "b2")]


def test_a_committed_batch_with_a_row_deleted_since_is_found_by_the_others(db, monkeypatch):
    """Its rows have consecutive rowids, so any one of them tells where it ends; the
    deleted row is not stored again (that would bring a deleted message back)."""
    monkeypatch.setattr(indoubt, "IDS_PER_QUERY", 2)  # found in the last lookup
    batch = [row(f"m{n}") for n in range(5)]
    commit(db, batch)
    db.execute("DELETE FROM messages WHERE id IN ('m0', 'm1', 'm2', 'm4')")
    db.commit()
    assert committed(db.cursor(), batch) == 5
    assert settle(db.cursor(), [batch], insert_rows) == [5]
    db.commit()
    assert stored(db) == [(4, "m3")]


def test_batches_stored_now_keep_the_numbering_rules(db):
    """Past a deleted newest message's seq (migration 006), as any batch."""
    commit(db, [row("m1"), row("m2")])
    db.execute("UPDATE message_seq_floor SET seq = 2")
    db.execute("DELETE FROM messages WHERE id = 'm2'")
    db.commit()
    assert settle(db.cursor(), [[row("m3"), row("m4")]], insert_rows) == [4]
    db.commit()
    assert stored(db) == [(1, "m1"), (3, "m3"), (4, "m4")]


def test_a_batch_stored_now_leaves_deleted_authors_out_as_the_writer_does(db):
    commit(db, [row("m1")])
    ghost = [*row("m3")[:1], "u-deleted", *row("m3")[2:]]
    assert settle(db.cursor(), [[row("m2"), ghost]], insert_rows) == [{"last": 2, "gone": [1]}]
    db.commit()
    assert stored(db) == [(1, "m1"), (2, "m2")]


def ghost(mid: str) -> list:
    """A row whose author's account is deleted (no such user)."""
    return [mid, "u-deleted", *row(mid)[2:]]


@pytest.mark.parametrize("gone_at", [0, 1, 2, 3])
def test_a_batch_committed_without_deleted_authors_is_answered_as_the_writer_did(db, gone_at):
    """The dead writer had stored the batch without the row of an author deleted
    meanwhile (PartlyStored): its rows found were taken for a whole batch, the last
    rowid counted from the first found with every row after it, the row left out
    among them (one too many), and no ``gone``: the others' seqs were off by one, and
    the row never stored was acknowledged. Now as the writer answered it, wherever
    the row left out is (as the live path, insert_rows, answers it)."""
    commit(db, [row("x")])
    batch = [row(f"m{n}") for n in range(3)]
    batch.insert(gone_at, ghost("g"))
    live = sqlite3.connect(":memory:")  # what the writer answered, on a copy
    db.backup(live)
    live.execute("PRAGMA foreign_keys = ON")
    answered = insert_rows(live.cursor(), batch)._asdict()
    assert answered == {"last": 4, "gone": [gone_at]}
    commit(db, batch)  # its commit, whose answer was lost
    assert settle(db.cursor(), [batch], insert_rows) == [answered]
    db.commit()
    assert stored(db) == [(1, "x"), (2, "m0"), (3, "m1"), (4, "m2")]


def test_a_partly_committed_batch_with_a_row_deleted_since_keeps_the_numbering(db):
    """A row deleted since (its author is still there) was stored: it counts among
    the rows kept, as in a whole batch; only the deleted author's row is gone."""
    batch = [row("m0"), ghost("g1"), row("m1"), row("m2"), ghost("g2")]
    assert commit(db, batch)[0]._asdict() == {"last": 3, "gone": [1, 4]}
    db.execute("DELETE FROM messages WHERE id IN ('m0', 'm2')")
    db.commit()
    assert settle(db.cursor(), [batch], insert_rows) == [{"last": 3, "gone": [1, 4]}]
    db.commit()
    assert stored(db) == [(2, "m1")]


def test_the_store_numbers_a_partly_committed_batch_in_doubt_as_the_writer_did(path):
    """End to end on the server's side: the dead writer's partial commit, the next
    writer's answer (resolve) and the seqs and failure the store gives the senders."""
    conn = connect(path)
    batch = [row("m0"), ghost("g"), row("m1")]
    commit(conn, batch)
    replies = io.BytesIO()
    assert (
        resolve(conn, io.BytesIO(frame(orjson.dumps([batch]))), replies, lambda: None, insert_rows)
        is None
    )
    (answer,) = json_frames(replies.getvalue())
    assert answer == {"last": [{"last": 2, "gone": [1]}]}
    reactor = FakeReactor()
    writer = MessageWriter(path, reactor)
    store = SQLiteStore(ImmediatePool(path), ImmediatePool(path), path, writer.insert)
    messages = [Message(r[0], r[1], Target("room", "r1"), r[4], False, 1.0, 1.0) for r in batch]
    seqs = outcomes(store.insert_messages(messages))
    reactor.die()
    reactor.advance(0)
    reactor.answer(answer)
    [[first, failed, last]] = seqs
    assert (first, last) == (1, 2) and [m.seq for m in (messages[0], messages[2])] == [1, 2]
    assert failed.value.to_wire() == account_deleted().to_wire()


def test_an_empty_batch_in_doubt_is_the_probes_write(db):
    before = db.execute("SELECT * FROM _migrations").fetchall()
    assert settle(db.cursor(), [[]], insert_rows) == [0]
    db.commit()
    assert db.execute("SELECT * FROM _migrations").fetchall() == before


def test_resolve_answers_first_then_the_writer_serves_as_usual(db):
    commit(db, [row("a1")])
    requests = io.BytesIO(
        frame(orjson.dumps([[row("a1")], [row("b1")]])) + frame(orjson.dumps([row("c1")]))
    )
    replies = io.BytesIO()
    assert resolve(db, requests, replies, lambda: None, insert_rows) is None
    assert serve(db, requests, replies) is None
    assert json_frames(replies.getvalue()) == [{"last": [1, 2]}, {"last": 3}]
    assert [mid for _, mid in stored(db)] == ["a1", "b1", "c1"]


def test_a_writer_that_cannot_find_out_answers_so_stores_nothing_and_ends(path):
    writer = sqlite3.connect(path)
    configure_connection(writer, 10)  # a short wait for the lock
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        replies = io.BytesIO()
        requests = io.BytesIO(frame(orjson.dumps([[row("b1")]])))
        reason = resolve(writer, requests, replies, lambda: None, insert_rows)
    finally:
        other.execute("ROLLBACK")
        other.close()
    (reply,) = json_frames(replies.getvalue())
    assert reply == {"error": "OperationalError: database is locked"}
    assert reason is not None and "a new writer tries again" in reason
    assert stored(writer) == []
    assert resolve(writer, io.BytesIO(b""), replies, lambda: None, insert_rows) is None


# -- the server's side: holding, settling, failing -------------------------------------


class FakeReactor(SpawningClock):
    """Spawns nothing (test_storage_faults); speaks for the last writer it started."""

    def answer(self, *replies: Any) -> None:
        self.spawned[-1].outReceived(b"".join(frame(orjson.dumps(r)) for r in replies))

    def die(self) -> None:
        """The last writer dies, after it opened its database (READY)."""
        if not self.spawned[-1].opened:
            self.spawned[-1].outReceived(frame(READY))
        self.spawned[-1].processEnded(Failure(RuntimeError("killed")))

    def requests(self) -> list:
        return json_frames(self.spawned[-1].transport.written)


def outcomes(d: defer.Deferred) -> list:
    out: list = []
    d.addBoth(out.append)
    return out


def writer_with_one_batch_in_doubt() -> tuple[MessageWriter, FakeReactor, list]:
    reactor = FakeReactor()
    writer = MessageWriter("/nonexistent/x.db", reactor)
    held = outcomes(writer.insert([row("m1")]))
    reactor.die()
    return writer, reactor, held


def test_a_writer_that_cannot_find_out_leaves_them_in_doubt_for_the_next():
    writer, reactor, held = writer_with_one_batch_in_doubt()
    reactor.advance(0)
    reactor.answer({"error": "OperationalError: database is locked"})
    assert held == []
    reactor.die()  # as it does after such an answer
    reactor.advance(1)  # the second quick exit in a row: a second later
    assert len(reactor.spawned) == 3 and reactor.requests() == [[[row("m1")]]]
    reactor.answer({"last": [1]})
    assert held == [1] and writer.idle


def test_a_writer_that_dies_while_settling_leaves_them_in_doubt_oldest_first():
    writer, reactor, first = writer_with_one_batch_in_doubt()
    reactor.advance(0)
    second = outcomes(writer.insert([row("m2")]))  # behind the settling request
    reactor.die()
    assert writer.in_flight == 2
    reactor.advance(1)
    assert reactor.requests() == [[[row("m1")], [row("m2")]]]
    reactor.answer({"last": [1, 2]})
    assert (first, second) == ([1], [2]) and writer.idle


def test_stop_fails_batches_in_doubt_when_no_writer_can_settle_them_and_starts_none():
    writer, reactor, held = writer_with_one_batch_in_doubt()
    reactor.advance(0)
    reactor.die()  # a second quick death: the next writer would start in a second
    assert reactor.getDelayedCalls() != []
    stopped = outcomes(writer.stop())
    assert stopped == [None] and held[0].check(WriterError)
    assert str(held[0].value) == UNSETTLED_AT_STOP
    assert reactor.getDelayedCalls() == [] and len(reactor.spawned) == 2
    assert outcomes(writer.insert([row("m2")]))[0].check(WriterError)
    assert len(reactor.spawned) == 2


def test_stop_while_settling_lets_the_writer_finish_it():
    writer, reactor, held = writer_with_one_batch_in_doubt()
    reactor.advance(0)
    stopped = outcomes(writer.stop())
    assert reactor.spawned[-1].transport.stdin_closed and not writer.idle
    reactor.answer({"last": [1]})
    assert held == [1] and stopped == []
    reactor.die()
    assert stopped == [None]


def test_a_writer_that_dies_while_stopping_fails_what_it_held():
    reactor = FakeReactor()
    writer = MessageWriter("/nonexistent/x.db", reactor)
    held = outcomes(writer.insert([row("m1")]))
    stopped = outcomes(writer.stop())
    reactor.die()
    assert held[0].check(WriterError) and stopped == [None]
    assert len(reactor.spawned) == 1 and reactor.getDelayedCalls() == []


def test_the_store_acknowledges_a_batch_in_doubt_as_stored_without_a_fault(path):
    """Through the store, as the message service's group commit sees it: the batch's
    seqs once settled, and no storage fault logged."""
    reactor = FakeReactor()
    writer = MessageWriter(path, reactor)
    store = SQLiteStore(ImmediatePool(path), ImmediatePool(path), path, writer.insert)
    message = Message("m1", "u1", Target("room", "r1"), "hi", False, 1.0, 1.0)
    with capturedLogs() as events:
        seqs = outcomes(store.insert_messages([message]))
        reactor.die()
        reactor.advance(0)
        reactor.answer({"last": [9]})
    assert seqs == [[9]] and message.seq == 9
    logged = "\n".join(formatEvent(e) for e in events)
    assert "1 batch(es) of messages are in doubt" in logged
    assert "storage fault" not in logged and store.health.fault is None


def test_a_writer_that_dies_before_it_opened_its_database_committed_nothing():
    """No READY: what it held cannot be stored, so it fails at once, and no writer
    is started for it (the next message starts one)."""
    reactor = FakeReactor()
    writer = MessageWriter("/nonexistent/x.db", reactor)
    held = outcomes(writer.insert([row("m1")]))
    reactor.spawned[-1].processEnded(Failure(RuntimeError("exit code 1")))
    assert held[0].check(WriterError) and writer.idle
    reactor.advance(0)
    assert len(reactor.spawned) == 1
    hung = outcomes(writer.insert([row("m2")]))  # one stuck opening it, killed
    reactor.advance(writer.stall)
    assert hung[0].check(WriterError) and reactor.spawned[-1].transport.signals == ["KILL"]
    assert writer.idle and len(reactor.spawned) == 2


def test_ready_may_arrive_in_pieces_and_with_the_first_answer():
    reactor = FakeReactor()
    writer = MessageWriter("/nonexistent/x.db", reactor)
    first = outcomes(writer.insert([row("m1")]))
    data = frame(READY) + frame(b'{"last": 1}')
    reactor.spawned[-1].outReceived(data[:6])
    assert not reactor.spawned[-1].opened
    reactor.spawned[-1].outReceived(data[6:])
    assert reactor.spawned[-1].opened and first == [1]


# -- when no writer can settle them --------------------------------------------------


def writers_keep_dying(reactor: FakeReactor, until: Callable[[], Any]) -> Any:
    """Each new writer opens its database and dies before settling, until ``until()``
    is true; its last value."""
    while not (done := until()):
        reactor.die()
        for call in reactor.getDelayedCalls():  # the next restart
            reactor.advance(call.getTime() - reactor.seconds())
    return done


def test_each_sender_of_a_batch_no_writer_settled_is_told_its_message_may_be_stored():
    """Not a plain ``internal_error`` (which says "not stored, send it again": a
    client that did stored it twice, and the room never saw the first copy): the
    error's details say that whether it was stored is unknown, with the sender's own
    message id, to look for in history first. Never another sender's id."""
    server = testing.MemoryTCPServer()
    alice, bob = server.login("alice"), server.login("bob")
    room = alice.ok("create_room", name="doubts")["room"]["id"]
    bob.ok("join_room", room_id=room)
    reactor = FakeReactor()
    writer = MessageWriter("/nonexistent/x.db", reactor)
    server.core.store._append = writer.insert
    target = {"type": "room", "room_id": room}
    alice.send({"type": "send_message", "request_id": "a0", "target": target, "content": "a0"})
    # Queued behind the first batch, then written together as the second.
    alice.send({"type": "send_message", "request_id": "a1", "target": target, "content": "a1"})
    bob.send({"type": "send_message", "request_id": "b1", "target": target, "content": "b1"})
    reactor.answer({"ready": True}, {"last": 1})
    assert alice.of_type("send_message_response")[0]["success"] is True  # a0
    ids = {r[4]: r[0] for r in reactor.requests()[-1]}
    assert set(ids) == {"a1", "b1"}
    with capturedLogs() as events:
        (mine,) = writers_keep_dying(reactor, lambda: alice.of_type("send_message_response"))
    (theirs,) = bob.of_type("send_message_response")
    for answer, content in ((mine, "a1"), (theirs, "b1")):
        assert answer["success"] is False
        assert answer["error"] == {
            "code": "internal_error",
            "message": "Internal error",
            "details": {"stored": "unknown", "message_id": ids[content]},
        }
    logged = "\n".join(formatEvent(e) for e in events)
    assert "1 batch(es) of messages in doubt failed" in logged
    assert "whether these messages were stored is unknown" in logged
    assert "Traceback" not in logged


class _FullAfter:
    """insert_rows that fails as a full disk does, from its ``n``-th call on."""

    def __init__(self, n: int):
        self.calls, self.n = 0, n

    def __call__(self, cur: sqlite3.Cursor, rows: list) -> int:
        self.calls += 1
        last = insert_rows(cur, rows)
        if self.calls >= self.n:
            raise sqlite3.OperationalError("database or disk is full")
        return last


def test_a_batch_that_cannot_be_stored_now_is_answered_not_stored_and_the_others_settle(db):
    """The disk is full: a batch not found cannot be inserted. Under the write lock,
    that is certain (no writer can commit it any more): it is answered as failed,
    with the cause, and neither holds back the batches found nor those inserted
    before it (savepoints), nor keeps the writer from serving."""
    commit(db, [row("a1")])
    batches = [[row("b1")], [row("a1")], [row("c1"), row("c2")]]
    requests = io.BytesIO(frame(orjson.dumps(batches)) + frame(orjson.dumps([row("d1")])))
    replies = io.BytesIO()
    assert resolve(db, requests, replies, lambda: None, _FullAfter(2)) is None
    assert serve(db, requests, replies) is None
    full = "OperationalError: database or disk is full"
    assert json_frames(replies.getvalue()) == [{"last": [2, 1, full]}, {"last": 3}]
    assert [mid for _, mid in stored(db)] == ["a1", "b1", "d1"]


def test_a_commit_that_fails_leaves_what_it_inserted_not_stored_and_what_was_found(db):
    commit(db, [row("a1")])

    class FailingCommit(sqlite3.Connection):
        def commit(self) -> None:
            raise sqlite3.OperationalError("disk I/O error")

    failing = sqlite3.connect(db_path(db), factory=FailingCommit, isolation_level=None)
    replies = io.BytesIO()
    requests = io.BytesIO(frame(orjson.dumps([[row("a1")], [row("b1")]])))
    assert resolve(failing, requests, replies, lambda: None, insert_rows) is None
    assert json_frames(replies.getvalue()) == [{"last": [1, "OperationalError: disk I/O error"]}]
    assert [mid for _, mid in stored(db)] == ["a1"]


def db_path(conn: sqlite3.Connection) -> str:
    return conn.execute("PRAGMA database_list").fetchone()[2]


def test_batches_in_doubt_found_not_stored_are_failed_at_once_and_the_others_acknowledged():
    """Not kept in doubt for a minute behind a full disk, then answered "unknown":
    the settling writer knows it is not stored, so its sender may send it again."""
    reactor = FakeReactor()
    writer = MessageWriter("/nonexistent/x.db", reactor)
    first = outcomes(writer.insert([row("m1")]))
    reactor.answer({"ready": True})
    second = outcomes(writer.insert([row("m2")]))
    reactor.die()
    reactor.advance(0)
    with capturedLogs() as events:
        reactor.answer({"last": [1, "OperationalError: database or disk is full"]})
    assert first == [1] and writer.idle
    (failed,) = second
    assert type(failed.value) is WriterError
    assert str(failed.value) == "OperationalError: database or disk is full"
    (logged,) = [formatEvent(e) for e in events]
    assert "the outcome of 2 batch(es) of messages in doubt is known: 1 stored" in logged
    assert "1 not stored (OperationalError: database or disk is full)" in logged


def test_http_answers_an_unknown_outcome_with_the_message_id_too(monkeypatch):
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)
    client = ApiClient()
    owner = client.register("owner")
    room = client.post("/api/v1/rooms", {"name": "doubts"}, token=owner.token).json["room"]
    store = client.core.store
    store._append = lambda rows: defer.fail(OutcomeUnknown("no message writer could find out"))
    body = {"target": {"type": "room", "room_id": room["id"]}, "content": "maybe"}
    with capturedLogs() as events:
        reply = client.post("/api/v1/messages", body, token=owner.token)
    assert reply.status == 500
    error = reply.error
    details = error.pop("details")
    assert error == {"code": "internal_error", "message": "Internal error"}
    assert details["stored"] == "unknown" and UUID(details["message_id"]).version == 7
    assert not any("Traceback" in formatEvent(e) for e in events)


def test_writers_that_cannot_settle_are_restarted_less_and_less_often():
    """A writer that answers that it could not find out (the database file was
    replaced: at once) and exits did not start: not one new process per 0.3 s."""
    writer, reactor, held = writer_with_one_batch_in_doubt()
    reactor.advance(0)
    for _ in range(2):
        reactor.answer({"ready": True}, {"error": "DatabaseFileChanged: replaced"})
        reactor.spawned[-1].processEnded(Failure(RuntimeError("exit code 1")))
        reactor.advance(0)
    assert len(reactor.spawned) == 3  # the first restart is at once
    reactor.answer({"ready": True}, {"error": "DatabaseFileChanged: replaced"})
    reactor.spawned[-1].processEnded(Failure(RuntimeError("exit code 1")))
    reactor.advance(0.5)
    assert len(reactor.spawned) == 3 and held == []  # the next, a second later
    reactor.advance(0.5)
    assert len(reactor.spawned) == 4
