"""Batches in doubt: what a message writer that died may or may not have committed.

A writer that dies (a crash, SIGKILL, the watchdog's kill) after the server sent it
a batch and before its answer arrived may have committed the batch, if it had
opened its database (it said so: ``READY``; one that had not committed nothing). Failing its
senders would be wrong if it did (a client that sends again stores the message
twice, and the room never sees the first), acknowledging them wrong if it did not.
The rows' ids are known (the server chose them), so the next writer finds out
before anything else: it is started with ``--resolve`` and its first request is
the batches in doubt, oldest first. In one write transaction it answers, for each
batch, its last rowid, as if it had just committed it:

- A batch is committed whole or not at all: one transaction, and a commit in the
  write-ahead log is the frame that ends it. A writer killed before that frame is
  in the log leaves none of the batch; one killed after it leaves all of it, or (killed
  before it updated the log's index) none that anyone can see, frames the next
  commit writes over. So one row found means the batch committed, and its rows have
  consecutive rowids (:func:`~lairchat.storage.sqlite.writer.insert_rows`): the last
  follows from the rows found, even if another was deleted since. A batch the writer
  stored without the rows of authors deleted meanwhile is answered so again
  (``{"last", "gone"}``, :func:`committed`).
- A batch none of whose rows is found was not committed, and is inserted now. The
  write lock is taken first (``BEGIN IMMEDIATE``), so that no other writer (the dead
  one was killed, but a process stuck in a system call holds its locks until it is
  gone) commits anything between the look and the insert; and the ids' uniqueness
  would refuse a second copy of a row anyway.
- A batch not found that cannot be inserted now (the disk is full) is certainly not
  stored: the lock was held from the look on, so no writer can commit it any more.
  It is answered with the error's text, as a writer answers a batch it rolled back
  (its sender may send it again), and each batch has a savepoint of its own, so that
  neither those found nor those inserted before it wait for it. If the commit fails,
  those inserted are answered so.

Not handled, on purpose: a committed batch *all* of whose rows were deleted before
the settle looks like one never committed, and is inserted again (and announced).
For that, its writer must die in the instants between its commit and the server
reading its answer, and every message of the batch (its senders' and any other's
sent in the same ~millisecond) must be read from history (the room got no event
for them) and deleted before the next writer settles, normally within a second;
writers failing to start widen that to at most twice the busy timeout, and then
deletes, on the same database, usually fail too. Telling it apart needs the seq
the server last acknowledged and the seq floor (migration 006), or a record of
deleted ids; a batch with any row left is already handled.

The answer is ``{"last": [rowid or error text, ...]}`` (or, for a batch stored, before
or now, without the rows of accounts deleted meanwhile, ``{"last": rowid, "gone":
[index, ...]}`` in its place). A writer that cannot find out
(the database is locked, unreadable, replaced) answers ``{"error": ...}`` and exits,
and the server starts another that tries again
(:class:`~lairchat.storage.sqlite.writer.MessageWriter`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import IO, Any

import orjson

from lairchat.children import read_frame, write_frame

#: Ids per lookup, well under SQLite's limit of parameters per statement.
IDS_PER_QUERY = 500


def present_users(cur: sqlite3.Cursor, user_ids: list[str]) -> set[str]:
    """Those of ``user_ids`` still in ``users`` (an account deleted is not): the
    writer's test of which rows it leaves out, and the settle's of which it left."""
    return {row[0] for row in _look_up(cur, "SELECT id FROM users WHERE id IN ({})", user_ids)}


def _look_up(cur: sqlite3.Cursor, select: str, ids: list[str]) -> Iterator[Any]:
    """The rows of ``select`` (ending ``IN ({})``) for ``ids``, a lookup per
    :data:`IDS_PER_QUERY` of them."""
    for start in range(0, len(ids), IDS_PER_QUERY):
        chunk = ids[start : start + IDS_PER_QUERY]
        yield from cur.execute(select.format(",".join("?" * len(chunk))), chunk).fetchall()


def committed(cur: sqlite3.Cursor, rows: list) -> int | dict | None:
    """What the writer answered for the batch of ``rows`` if any row of it is
    stored (its last rowid, or ``{"last", "gone"}`` if it left out rows of deleted
    authors, :class:`~lairchat.storage.sqlite.writer.PartlyStored`); else None.

    The rows it kept have consecutive rowids, so the last follows from the last
    row found and the rows kept after it. A row not found was left out if its
    author is gone (it failed the foreign key); one whose author is still there was
    stored and deleted since (accounts are never made again under the same id).
    Taken as whole, a partly stored batch was numbered with the rows left out
    among the kept: its senders' seqs off, and a row never stored acknowledged.
    Not told apart, as above: an author whose account was deleted, messages and
    all, between the dead writer's commit and this settle."""
    ids = [row[0] for row in rows]
    found = dict(_look_up(cur, "SELECT id, rowid FROM messages WHERE id IN ({})", ids))
    if not found:
        return None
    missing = [i for i, mid in enumerate(ids) if mid not in found]
    present = present_users(cur, list({rows[i][1] for i in missing}))
    gone = [i for i in missing if rows[i][1] not in present]
    lastfound = max(i for i, mid in enumerate(ids) if mid in found)
    after = len(ids) - 1 - lastfound - sum(1 for i in gone if i > lastfound)
    last = found[ids[lastfound]] + after
    return {"last": last, "gone": gone} if gone else last


def settle(
    cur: sqlite3.Cursor, batches: list[list], insert: Callable[[sqlite3.Cursor, list], Any]
) -> list[int | str | dict]:
    """Each batch's last rowid: of its rows stored, else of its rows inserted now by
    ``insert(cur, rows)`` (insert_rows; ``{"last", "gone"}`` if it left rows of
    deleted authors out), else why they could not be (the error's text). Run inside
    the write lock, to be committed by the caller."""
    cur.execute("BEGIN IMMEDIATE")
    lasts: list[int | str | dict] = []
    for rows in batches:
        last = committed(cur, rows) if rows else None
        if last is None:
            cur.execute("SAVEPOINT batch")
            try:
                last = insert(cur, rows)
                if not isinstance(last, int):  # PartlyStored: as the writer answers it
                    last = last._asdict()
            except sqlite3.Error as e:
                cur.execute("ROLLBACK TO batch")
                last = f"{type(e).__name__}: {e}"
            cur.execute("RELEASE batch")
        lasts.append(last)
    return lasts


def _uncommitted(
    cur: sqlite3.Cursor, batches: list[list], lasts: list[int | str | dict], error: str
) -> list[int | str | dict]:
    """``lasts`` once their commit failed and was rolled back: the batches still
    found were stored before; the others are answered ``error``."""
    return [
        last if isinstance(last, str) or (rows and committed(cur, rows) is not None) else error
        for rows, last in zip(batches, lasts, strict=True)
    ]


def resolve(
    conn: sqlite3.Connection,
    requests: IO[bytes],
    replies: IO[bytes],
    check: Callable[[], None],
    insert: Callable[[sqlite3.Cursor, list], Any],
) -> str | None:
    """Read the batches in doubt (the first request), settle and commit them, and
    answer. None once answered (or if the server went away first); the reason if
    they could not be settled, for this writer to exit with."""
    body = read_frame(requests)
    if body is None:
        return None
    try:
        check()
        batches = orjson.loads(body)
        lasts = settle(conn.cursor(), batches, insert)
        try:
            conn.commit()
        except sqlite3.Error as e:
            conn.rollback()
            lasts = _uncommitted(conn.cursor(), batches, lasts, f"{type(e).__name__}: {e}")
        reply: dict = {"last": lasts}
    except (sqlite3.Error, ValueError, TypeError) as e:
        conn.rollback()
        reply = {"error": f"{type(e).__name__}: {e}"}
    write_frame(replies, orjson.dumps(reply))
    if "error" in reply:
        return (
            f"could not find out which messages in doubt were stored: {reply['error']} "
            "(a new writer tries again)"
        )
    return None
