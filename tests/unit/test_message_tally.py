"""The message tally (migration 016): the number of stored messages without counting
the table, exact through every way a message comes and goes."""

from __future__ import annotations

import io
import random
import sqlite3

import orjson
import pytest

from lairchat import testing
from lairchat.storage.sqlite import migrate as migrations
from lairchat.storage.sqlite import writer
from lairchat.storage.sqlite.pool import connect
from lairchat.storage.sqlite.store import MESSAGE_COUNT
from lairchat.storage.sqlite.writer import serve

USERS = ("u1", "u2", "u3")


def add_users(conn: sqlite3.Connection) -> None:
    conn.executemany(
        "INSERT INTO users (id, username, email, password_hash, role, created_at, updated_at) "
        "VALUES (?, ?, ?, 'h', 'user', 0, 0)",
        [(u, u, f"{u}@example.com") for u in USERS],
    )
    conn.commit()


@pytest.fixture
def db(tmp_path) -> sqlite3.Connection:
    conn = connect(str(tmp_path / "tally.db"))
    migrations.migrate(conn)
    add_users(conn)
    return conn


def tallied(conn: sqlite3.Connection) -> int:
    return conn.execute(MESSAGE_COUNT).fetchone()[0]


def counted(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]


def store(conn: sqlite3.Connection, rows: list) -> None:
    serve(conn, io.BytesIO(testing.frame(orjson.dumps(rows))), io.BytesIO())


def message(mid: str, author: str = "u1") -> list:
    return [mid, author, "room", "r1", "hi", 1, 1]


def test_the_migration_counts_the_messages_already_there(tmp_path, monkeypatch):
    conn = connect(str(tmp_path / "old.db"))
    shipped = migrations.available()
    monkeypatch.setattr(migrations, "available", lambda: shipped[:-1])  # before 016
    migrations.migrate(conn)
    add_users(conn)
    conn.executemany(
        "INSERT INTO messages (id, author_id, target_type, target_id, content, created_at, "
        "updated_at) VALUES (?, 'u1', 'room', 'r1', 'hi', 1, 1)",
        [(f"m{i}",) for i in range(37)],
    )
    conn.commit()
    monkeypatch.setattr(migrations, "available", lambda: shipped)
    assert migrations.migrate(conn) == ["016_lairchat_message_tally"]
    assert conn.execute("SELECT counted, upto FROM message_tally").fetchone() == (37, 37)
    assert tallied(conn) == 37


def test_the_writer_counts_in_once_per_stride(db, monkeypatch):
    monkeypatch.setattr(writer, "TALLY_STRIDE", 5)
    store(db, [message(f"a{i}") for i in range(4)])
    assert db.execute("SELECT counted, upto FROM message_tally").fetchone() == (0, 0)
    assert tallied(db) == 4  # the four above upto, counted one by one
    store(db, [message("a4")])
    assert db.execute("SELECT counted, upto FROM message_tally").fetchone() == (5, 5)
    assert tallied(db) == 5


def test_deleting_a_counted_message_and_one_above_upto(db, monkeypatch):
    monkeypatch.setattr(writer, "TALLY_STRIDE", 3)
    store(db, [message(f"a{i}") for i in range(3)])  # counted in: upto 3
    store(db, [message("b0"), message("b1")])  # above upto
    db.execute("DELETE FROM messages WHERE id = 'a1'")
    db.execute("DELETE FROM messages WHERE id = 'b1'")
    db.commit()
    assert db.execute("SELECT counted, upto FROM message_tally").fetchone() == (2, 3)
    assert tallied(db) == counted(db) == 3


def test_an_accounts_messages_deleted_with_it_leave_the_count(db, monkeypatch):
    """The foreign key's cascade fires the trigger too."""
    monkeypatch.setattr(writer, "TALLY_STRIDE", 2)
    store(db, [message("a0", "u1"), message("b0", "u2"), message("a1", "u1")])
    store(db, [message("b1", "u2")])
    db.execute("DELETE FROM users WHERE id = 'u1'")
    db.commit()
    assert tallied(db) == counted(db) == 2


def test_a_batch_stored_in_part_is_counted_as_stored(db, monkeypatch):
    monkeypatch.setattr(writer, "TALLY_STRIDE", 1)
    store(db, [message("a0"), message("gone", "u-deleted"), message("a1")])
    assert counted(db) == 2
    assert tallied(db) == 2
    assert db.execute("SELECT counted FROM message_tally").fetchone() == (2,)


def test_messages_another_program_inserts_are_counted(db, monkeypatch):
    """The original server, sharing the file, inserts without the writer: its rows lie
    above ``upto`` and are counted by the range, then counted in by the next stride."""
    monkeypatch.setattr(writer, "TALLY_STRIDE", 4)
    store(db, [message(f"a{i}") for i in range(4)])
    db.execute(
        "INSERT INTO messages (id, author_id, target_type, target_id, content, created_at, "
        "updated_at) VALUES ('x', 'u2', 'room', 'r1', 'hi', 1, 1)"
    )
    db.commit()
    assert tallied(db) == 5
    store(db, [message(f"b{i}") for i in range(4)])
    assert db.execute("SELECT counted, upto FROM message_tally").fetchone() == (9, 9)


@pytest.mark.parametrize("seed", range(40))
def test_the_tally_matches_a_count_through_any_mix_of_changes(db, monkeypatch, seed):
    monkeypatch.setattr(writer, "TALLY_STRIDE", 7)
    rng = random.Random(seed)
    made = 0
    for _ in range(120):
        choice = rng.random()
        if choice < 0.5:
            batch = []
            for _ in range(rng.randint(1, 9)):
                made += 1
                author = "u-deleted" if rng.random() < 0.1 else rng.choice(USERS)
                batch.append(message(f"m{made}", author))
            store(db, batch)
        elif choice < 0.8:  # a message deleted as the store does: the seq floor raised
            victim = db.execute("SELECT rowid FROM messages ORDER BY random() LIMIT 1")
            found = victim.fetchone()
            if found:
                db.execute("UPDATE message_seq_floor SET seq = max(seq, ?)", found)
                db.execute("DELETE FROM messages WHERE rowid = ?", found)
        elif choice < 0.9:  # a range, as retention deletes
            db.execute("DELETE FROM messages WHERE rowid IN (SELECT rowid FROM messages LIMIT 3)")
        else:
            made += 1
            db.execute(
                "INSERT INTO messages (id, author_id, target_type, target_id, content, "
                "created_at, updated_at) VALUES (?, 'u3', 'room', 'r1', 'hi', 1, 1)",
                (f"m{made}",),
            )
        db.commit()
        assert tallied(db) == counted(db)


def test_a_migrations_trigger_body_stays_one_statement():
    sql = (
        "-- a comment; with a semicolon\n"
        "CREATE TABLE t (x);\n"
        "CREATE TRIGGER tr AFTER DELETE ON t\nBEGIN\n    SELECT 1;\n    SELECT 2;\nEND;\n"
        "INSERT INTO t VALUES (1);\n"
    )
    statements = migrations._statements(sql)
    assert len(statements) == 3
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")


def test_the_count_reads_a_range_not_the_table(db):
    plan = " ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + MESSAGE_COUNT))
    assert "SCAN messages" not in plan
    assert "rowid>?" in plan
