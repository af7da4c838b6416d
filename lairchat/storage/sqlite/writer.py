"""The message writer: group commits of new messages, in a process of their own.

Why a process: on a busy server the reactor thread holds the GIL nearly all the
time, and a writer *thread* needs the GIL back after every SQLite call (each row of
an ``executemany``, the commit). On one core each hand-over waited for the GIL's
switch interval (5 ms), so one commit took milliseconds and a message's latency
was mostly waiting for its commit. A process has its own interpreter: the kernel
runs it as soon as a batch arrives. Measured on one core beside a busy Python
process, 10-row commits: 1.7k rows/s and 5.5 ms per commit as a thread, 19k rows/s
and 0.24 ms per commit as a process.

The wire between the two is the TCP protocol's framing: a 4-byte big-endian length,
then JSON. The server sends a batch, ``[[id, author_id, target_type, target_id,
content, created_at, updated_at], ...]``; the writer inserts it in one transaction
and answers ``{"last": rowid}`` after the commit (the batch's rowids end there), or
``{"error": text}`` after a rollback. Batches are answered in the order sent.
Before anything else the writer says ``{"ready": true}``, once its database is
open: a writer that dies before that has committed nothing. A batch sent to one
that died after it, before answering, is in doubt: the next writer finds out which
such batches were stored, first (:mod:`.indoubt`).

Other writes stay on the server's writer thread: they are rare, and SQLite's lock
(with the busy timeout) orders them with these.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sqlite3
import sys
import time
from collections import deque
from collections.abc import Callable
from itertools import chain
from typing import IO, Any, NamedTuple

import orjson
from twisted.internet import defer, protocol
from twisted.logger import Logger

from lairchat import allocator
from lairchat.children import child_environment, frame, read_frame, split_frames, write_frame
from lairchat.outbox import sender
from lairchat.storage.sqlite import library
from lairchat.storage.sqlite.faults import (
    OutcomeUnknown,
    WriterError,
    WriterStopped,
    file_identity,
    identity_check,
    log_check,
)
from lairchat.storage.sqlite.indoubt import present_users, resolve
from lairchat.storage.sqlite.pool import BUSY_TIMEOUT_MS, configure_connection, existing

_log = Logger()

__all__ = ["MessageWriter", "PartlyStored", "WriterError", "insert_rows", "serve"]

_COLUMNS = "id, author_id, target_type, target_id, content, is_edited, created_at, updated_at"
_VALUES = "?, ?, ?, ?, ?, 0, ?, ?"
INSERT_MESSAGE = f"INSERT INTO messages ({_COLUMNS}) VALUES ({_VALUES})"
#: The same with the rowid given (see :func:`insert_rows`).
INSERT_MESSAGE_AT = f"INSERT INTO messages (rowid, {_COLUMNS}) VALUES (?, {_VALUES})"
#: Rows per statement -> an INSERT of that many rows (see :func:`_insert`).
INSERT_MESSAGES = {
    k: f"INSERT INTO messages ({_COLUMNS}) VALUES " + ", ".join([f"({_VALUES})"] * k)
    for k in (64, 16, 4)
}


#: The newest message's seq, and the highest seq ever deleted (migration 006): new
#: messages are numbered past both, never reusing a deleted message's seq. And the
#: seq the message tally has counted up to (migration 016).
SEQ_FLOOR = (
    "SELECT (SELECT COALESCE(MAX(rowid), 0) FROM messages), "
    "(SELECT seq FROM message_seq_floor WHERE id = 1), "
    "(SELECT upto FROM message_tally WHERE id = 1)"
)

#: Messages stored past the tally's ``upto`` before the writer counts them in: the
#: count (``IStore.counts``) adds those above ``upto`` one by one, a range this long
#: at most (about 0.2 ms), and the writer's transaction writes the tally's page once
#: per stride instead of in every commit.
TALLY_STRIDE = 10_000
#: Counts in the messages above ``upto`` and moves it to the newest (migration 016).
TALLY = (
    "UPDATE message_tally SET counted = counted + "
    "(SELECT COUNT(*) FROM messages WHERE rowid > upto), "
    "upto = (SELECT COALESCE(MAX(rowid), 0) FROM messages) WHERE id = 1"
)


#: Half of :func:`touch`.
TOUCH = (
    "UPDATE _migrations SET applied_at = applied_at + ? "
    "WHERE id = (SELECT MIN(id) FROM _migrations)"
)


def touch(cur: sqlite3.Cursor) -> None:
    """A write that commits (a WAL frame, fsynced) and changes nothing, to see whether
    the database can be written: an update and its inverse (an update to the same
    value would write nothing)."""
    cur.execute(TOUCH, (1,))
    cur.execute(TOUCH, (-1,))


class PartlyStored(NamedTuple):
    """A batch committed without the rows of authors whose accounts were deleted
    meanwhile (their rows would fail the foreign key, and every other row of the
    batch with them): ``last`` as for a whole batch (the rows kept have consecutive
    rowids ending there; 0 if none was kept), ``gone`` the indices of the rows left
    out. On the wire ``{"last": last, "gone": gone}``."""

    last: int
    gone: list[int]


def insert_rows(cur: sqlite3.Cursor, rows: list) -> int | PartlyStored:
    """Insert message rows; return the last rowid. Run by the one writer inside one
    transaction, the rows get consecutive rowids ending there, and never a deleted
    message's. No rows: :func:`touch` (a readiness probe), and 0. Rows whose author
    is gone are left out (:class:`PartlyStored`)."""
    if not rows:
        touch(cur)
        return 0
    top, floor, upto = cur.execute(SEQ_FLOOR).fetchone()
    try:
        if floor is not None and floor >= top:
            cur.execute(INSERT_MESSAGE_AT, (floor + 1, *rows[0]))
            _insert(cur, rows[1:])
        else:
            _insert(cur, rows)
    except sqlite3.IntegrityError as e:
        if e.sqlite_errorcode != sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
            raise
        # Only this batch's rows lie above the seqs read (the write lock is held).
        cur.execute("DELETE FROM messages WHERE rowid > ?", (max(top, floor or 0),))
        return _without_authors_gone(cur, rows, e)
    last = cur.execute("SELECT last_insert_rowid()").fetchone()[0]
    if upto is not None and last - upto >= TALLY_STRIDE:
        cur.execute(TALLY)
    return last


def _insert(cur: sqlite3.Cursor, rows: list) -> None:
    """Insert ``rows`` in order, up to 64 per statement. A statement's own cost (its
    reset, halt and binding loop) is then shared by its rows: the writer's serving
    loop, 80-row batches to one room under callgrind, 36.4k -> 24.2k instructions
    per row (``executemany`` runs the one-row statement once per row). Fewer than
    four rows left go as before, where a statement of their own would cost more
    than it saves."""
    n = len(rows)
    done = 0
    while n - done >= 4:
        left = n - done
        k = 64 if left >= 64 else 16 if left >= 16 else 4
        cur.execute(INSERT_MESSAGES[k], [*chain.from_iterable(rows[done : done + k])])
        done += k
    if done < n:
        cur.executemany(INSERT_MESSAGE, rows[done:] if done else rows)


def _without_authors_gone(
    cur: sqlite3.Cursor, rows: list, error: sqlite3.IntegrityError
) -> PartlyStored:
    """The batch again without the rows of authors no longer in ``users`` (an account
    deleted while its message was on the way); ``error`` if there are none."""
    present = present_users(cur, list({row[1] for row in rows}))
    gone = [i for i, row in enumerate(rows) if row[1] not in present]
    if not gone:
        raise error
    kept = [row for row in rows if row[1] in present]
    last = insert_rows(cur, kept) if kept else 0
    return PartlyStored(last if isinstance(last, int) else last.last, gone)


#: Seconds between tries for the write lock while another connection holds it:
#: short at first, then growing to a cap. The other writers are the server's own
#: (a login's session, an edit): each holds the lock for one commit, a fraction of a
#: millisecond. SQLite's own busy handler sleeps 1, 2, 5, 10 ... ms between tries,
#: so a batch that met one waited at least a millisecond, most of it with the lock
#: free: in the benchmark's login storm (20 logins a second, each storing a
#: session), 1-1.6% of the message writer's commits did, which is the p99 of
#: message latency.
LOCK_WAITS = (0.00005, 0.0001, 0.0002, 0.0005, 0.001)


def begin_immediate(
    conn: sqlite3.Connection,
    budget: float,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], float] = time.monotonic,
) -> None:
    """``BEGIN IMMEDIATE`` on ``conn`` (whose busy timeout is 0), trying again while
    the lock is held elsewhere, for up to ``budget`` seconds: then SQLite's "database
    is locked" is raised, as its busy timeout would have. Other errors at once."""
    waits = iter(LOCK_WAITS)
    deadline = None
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as e:
            if getattr(e, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            moment = now()
            deadline = moment + budget if deadline is None else deadline
            if moment >= deadline:
                raise
            sleep(min(next(waits, LOCK_WAITS[-1]), deadline - moment))


def serve(
    conn: sqlite3.Connection,
    requests: IO[bytes],
    replies: IO[bytes],
    check: Callable[[], None] = lambda: None,
    busy_ms: int = BUSY_TIMEOUT_MS,
) -> str | None:
    """Answer batches until ``requests`` ends (the server closed it, or died): then
    None. ``check()`` runs before each batch and refuses it by raising (a
    :class:`~lairchat.storage.sqlite.faults.DatabaseFileChanged`). A connection
    SQLite made read-only stays so (it opened the file on a read-only mount, or
    the file was moved): then the batch is refused and the reason returned, for a
    new writer to open the database again. ``busy_ms``: how long a batch waits for
    the write lock (:func:`begin_immediate`, which takes the connection's busy
    timeout's place: once a WAL connection holds the lock, nothing it runs waits)."""
    conn.execute("PRAGMA busy_timeout = 0")
    while (body := read_frame(requests)) is not None:
        try:
            check()
            rows = orjson.loads(body)
            # The write lock before the seq floor is read (insert_rows): a message
            # deleted between the read and the insert could give its seq away.
            begin_immediate(conn, busy_ms / 1000)
            last = insert_rows(conn.cursor(), rows)
            conn.commit()
            reply = {"last": last} if isinstance(last, int) else last._asdict()
        # A bad batch (orjson.JSONDecodeError is a ValueError) is refused like a failed one.
        except (sqlite3.Error, ValueError, TypeError) as e:
            conn.rollback()
            reply = {"error": f"{type(e).__name__}: {e}"}
            # Any "attempt to write a readonly database" (the extended codes say why).
            readonly = getattr(e, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_READONLY
        else:
            readonly = False
        write_frame(replies, orjson.dumps(reply))
        if readonly:
            return f"{reply['error']} (a new writer opens the database again)"
    return None


def open_database(
    path: str, identity: str | None = None, busy_ms: int | None = None
) -> tuple[sqlite3.Connection, Any]:
    """The writer's connection to an existing database (never a new, empty one where
    the server's file was deleted) and the check that it is still the server's file:
    ``identity`` is the server's ``"st_dev:st_ino"`` of it. ``busy_ms``: the busy
    timeout (the server's setting)."""
    expected = tuple(map(int, identity.split(":"))) if identity else None
    check = identity_check(path, expected)  # type: ignore[arg-type]
    check()
    log_check(path)()
    conn = sqlite3.connect(existing(path), uri=True)
    configure_connection(conn, busy_ms)
    return conn, check


def _arguments(argv: list[str]) -> argparse.Namespace:
    """What the server passes (:meth:`MessageWriter._spawn`)."""
    parser = argparse.ArgumentParser(prog="python -m lairchat.storage.sqlite.writer")
    parser.add_argument("path")
    parser.add_argument("identity", nargs="?", help="st_dev:st_ino of the server's file")
    parser.add_argument("--busy-timeout-ms", type=int, default=BUSY_TIMEOUT_MS)
    parser.add_argument("--resolve", action="store_true", help="first, settle batches in doubt")
    return parser.parse_args(argv)


#: What the writer says once its database is open, before any answer.
READY = b'{"ready":true}'


#: A test seam (tests/integration/test_storage_faults.py): while the file this
#: variable names exists, the writer stops itself (SIGSTOP) after each commit, before
#: its answer, so that a test can kill it between the two. Looked at only when set.
PAUSE_FILE = "LAIRCHAT_TEST_WRITER_PAUSE_FILE"


class _PausingReplies:
    def __init__(self, replies: IO[bytes], flag: str):
        self.replies, self.flag = replies, flag

    def write(self, data: bytes) -> None:
        if os.path.exists(self.flag):
            os.kill(os.getpid(), signal.SIGSTOP)
        self.replies.write(data)

    def flush(self) -> None:
        self.replies.flush()


def main(argv: list[str]) -> None:
    args = _arguments(argv)
    path = args.path
    # A stop signal is the server's to act on: systemd's default KillMode sends
    # SIGTERM to every process of the service, and Ctrl-C in a terminal SIGINT to the
    # whole process group. The writer finishes what the server still sends and exits
    # when the server closes its input (or dies: the pipe closes with it).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a closing terminal's, likewise
    allocator.keep_freed_memory()
    library.configure_for_one_thread()
    try:
        conn, check = open_database(path, args.identity, args.busy_timeout_ms)
    except sqlite3.Error as e:  # one line for the server's log, not a traceback
        sys.stderr.write(f"cannot open {path}: {type(e).__name__}: {e}\n")
        sys.exit(1)
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    write_frame(replies, READY)
    if os.environ.get(PAUSE_FILE):
        replies = _PausingReplies(replies, os.environ[PAUSE_FILE])  # type: ignore[assignment]
    reason = resolve(conn, requests, replies, check, insert_rows) if args.resolve else None
    if reason is None:
        reason = serve(conn, requests, replies, check, args.busy_timeout_ms)
    if reason is not None:
        sys.stderr.write(f"{reason}\n")
        sys.exit(1)


# -- the server's side ----------------------------------------------------------------


#: A writer that exits sooner than this after starting, before it said READY or
#: before it settled the batches in doubt (its first request), did not really start
#: (e.g. its database cannot be opened or was replaced, or a batch kills every
#: writer it reaches); after the second in a row, restarts wait 1, 2, 4, ...
#: seconds, at most MAX_RESTART_DELAY. One killed after it started is restarted at
#: once.
QUICK_EXIT = 5.0
MAX_RESTART_DELAY = 30.0
#: Seconds a batch may go unanswered: twice what its statements may wait for a lock
#: (with the default busy timeout; :class:`MessageWriter` takes the server's).
STALL = 2 * BUSY_TIMEOUT_MS / 1000
#: Seconds a new writer has to say READY, if its stall is shorter: a Python
#: interpreter takes 0.25-0.6 s to start, more on a loaded machine (a stall of 0.2 s,
#: LAIR_DATABASE_BUSY_TIMEOUT=0.1, killed every writer before it had started).
START_GRACE = 10.0
#: Seconds a writer has, once the server stops, to answer what it holds and exit;
#: then it is killed, and what it held fails (:data:`UNSETTLED_AT_STOP`). A writer
#: that hangs, or waits for a lock held elsewhere, was waited for until the
#: watchdog (60 s by default): the stop outlasted systemd's TimeoutStopSec (30 s in
#: contrib/systemd, 5 s of it spent settling first), which then killed the server.
STOP_GRACE = 10.0
#: Why a batch given after :meth:`MessageWriter.stop` is refused.
STOPPED = "the message writer is stopped: the server is stopping"
#: Why batches still in doubt when the server stops are failed.
UNSETTLED_AT_STOP = (
    "the server stopped before a message writer could find out whether these messages were stored"
)


class MessageWriter:
    """Starts the writer process (at :meth:`start`, else on first use, and again on the
    next use after it exits) and turns its answers into Deferreds.
    ``in_flight``/``idle`` count batches sent and not yet answered (those in doubt
    included), as :class:`lairchat.observability.database.ObservedPool` does for the
    pools, so a clean shutdown waits for them.

    A writer that dies, or is killed by the watchdog, after it said :data:`READY`,
    leaves the batches it had not answered in doubt (:mod:`.indoubt`; one that dies
    before committed nothing, and they fail): they are neither acknowledged nor failed,
    and a new writer is started at once (or after the restart delay) to find out
    first which of them were stored, and to store the others. Batches in doubt for
    longer than :attr:`stall` seconds while writers keep failing, or when the server
    stops, are failed: whether they were stored is then unknown, and their senders
    are told so (:class:`~lairchat.storage.sqlite.faults.OutcomeUnknown`)."""

    def __init__(
        self,
        path: str,
        reactor: Any,
        observe: Callable[[float], None] | None = None,
        executable: str = sys.executable,
        busy_ms: int = BUSY_TIMEOUT_MS,
    ):
        """``busy_ms``: the writer's busy timeout; a batch unanswered for twice that
        is given up on (:meth:`_watch`)."""
        self.path = path
        self._busy_ms = busy_ms
        self.stall = 2 * busy_ms / 1000
        self.reactor = reactor
        self._observe = observe
        self._executable = executable
        #: The writer new batches go to; None when there is none, or once stopped.
        self._process: _WriterProcess | None = None
        #: The writer whose answers are awaited: ``_process``, or once stopped, the
        #: one finishing what it has.
        self._running: _WriterProcess | None = None
        self._stopping = False
        #: Sent and unanswered: (Deferred, when sent, rows), rows None for the
        #: request that settles the batches in doubt.
        self._waiting: deque[tuple[Any, float, list | None]] = deque()
        #: Batches in doubt, oldest first: (Deferred, rows, since when), and those
        #: the current writer is settling.
        self._in_doubt: list[tuple[Any, list, float]] = []
        self._settling: list[tuple[Any, list, float]] = []
        self._resume: Any = None
        self._stopped: list[Any] = []
        #: The database file as the server opened it: the writer refuses another.
        identity = file_identity(path)
        self._identity = [f"{identity[0]}:{identity[1]}"] if identity else []
        #: Writers in a row that did not start (QUICK_EXIT), and why the last one
        #: exited: while they keep failing, they are restarted less often.
        self._quick_exits = 0
        self._exit_reason = ""
        self._started_at = self._restart_at = 0.0
        #: Whether the current writer answered that it could not settle.
        self._settle_failed = False
        self._watchdog: Any = None
        #: Kills a writer that has not exited STOP_GRACE seconds after :meth:`stop`.
        self._stop_timer: Any = None

    @property
    def in_flight(self) -> int:
        return len(self._waiting) + len(self._in_doubt)

    @property
    def idle(self) -> bool:
        return not self._waiting and not self._in_doubt

    def start(self) -> None:
        """Start the writer process now, if it is not running: at server start, so that
        the first message sent does not wait for an interpreter to start (0.25-0.6 s)."""
        if self._process is None and not self._stopping:
            self._spawn()

    def insert(self, rows: list[tuple]) -> defer.Deferred:
        """Send a batch; the Deferred fires with the last rowid after its commit."""
        if self._process is None:
            if self.reactor.seconds() < self._restart_at:
                refused = WriterStopped if self._stopping else WriterError
                return defer.fail(refused(self._exit_reason))
            try:
                self._spawn()
            except OSError as e:  # no fork (the process limit, no memory): as a crash
                self._lost(f"the message writer could not be started: {e}")
                return defer.fail(WriterError(self._exit_reason))
        # Encoded first: a batch that cannot be encoded raises before it is counted
        # as sent, so the writer's next answer is still matched to the right batch.
        data = orjson.dumps(rows)
        d: defer.Deferred = defer.Deferred()
        self._waiting.append((d, self.reactor.seconds(), rows))
        if self._watchdog is None:
            self._watchdog = self.reactor.callLater(self.stall, self._watch)
        self._process.send(frame(data))
        return d

    def stop(self) -> defer.Deferred:
        """Close the writer's input; fires once it has answered what it had and exited.
        From then on :meth:`insert` fails at once (:data:`STOPPED`) and starts no
        writer: through the branch it takes while no writer runs, so that the
        path of every batch checks nothing more. Batches still in doubt with no
        writer to settle them are failed. A writer that has not exited
        :data:`STOP_GRACE` seconds later is killed."""
        self._stopping = True
        self._restart_at = math.inf
        self._exit_reason = STOPPED
        self._process = None
        self._cancel_resume()
        if self._running is None:
            self._fail(self._expired(math.inf), UNSETTLED_AT_STOP)
            return defer.succeed(None)
        d: defer.Deferred = defer.Deferred()
        self._stopped.append(d)
        self._running.transport.closeStdin()
        if self._stop_timer is None:
            reason = f"the message writer did not finish within {STOP_GRACE:g} s (killed)"
            self._stop_timer = self.reactor.callLater(STOP_GRACE, self._kill, reason)
        return d

    def _spawn(self) -> None:
        """Start a writer; if batches are in doubt, it settles them first."""
        self._cancel_resume()
        self._started_at = self.reactor.seconds()
        self._settle_failed = False
        process = _WriterProcess(self)
        argv = [self._executable, "-m", "lairchat.storage.sqlite.writer", self.path]
        argv += [*self._identity, f"--busy-timeout-ms={self._busy_ms}"]
        if self._in_doubt:
            argv.append("--resolve")
        self.reactor.spawnProcess(
            process,
            argv[0],
            argv,
            env=child_environment(),
            childFDs={0: "w", 1: "r", 2: "r"},
        )
        self._process = self._running = process
        if self._in_doubt:
            self._settle()

    def _settle(self) -> None:
        """Send the batches in doubt, the new writer's first request."""
        self._settling, self._in_doubt = self._in_doubt, []
        data = orjson.dumps([rows for _, rows, _ in self._settling])
        d: defer.Deferred = defer.Deferred()
        d.addCallbacks(self._settled, self._unsettled)
        self._waiting.append((d, self.reactor.seconds(), None))
        if self._watchdog is None:
            self._watchdog = self.reactor.callLater(self.stall, self._watch)
        self._process.send(frame(data))  # type: ignore[union-attr]

    def _settled(self, lasts: list[int | str | dict]) -> None:
        """Each batch that was in doubt is stored now (before, or just now): its
        senders get what its own writer would have answered. One that could not be
        stored now (the error's text instead) is certainly not stored: it fails as a
        batch rolled back does."""
        settled, self._settling = self._settling, []
        failed = [last for last in lasts if isinstance(last, str)]
        _log.warn(
            "the outcome of {count} batch(es) of messages in doubt is known: {stored} "
            "stored now and acknowledged{failed}",
            count=len(settled),
            stored=len(settled) - len(failed),
            failed=f", {len(failed)} not stored ({failed[0]}) and failed" if failed else "",
        )
        for (d, _, _), last in zip(settled, lasts, strict=True):
            if isinstance(last, str):
                d.errback(WriterError(last))
            else:
                d.callback(PartlyStored(**last) if isinstance(last, dict) else last)

    def _unsettled(self, failure: Any) -> None:
        """The writer could not find out (it says why, and exits): still in doubt,
        for the next writer; and this one did not start (QUICK_EXIT)."""
        self._settle_failed = True
        self._in_doubt[:0], self._settling = self._settling, []

    def _answered(self, reply: dict[str, Any]) -> None:
        d, started, _ = self._waiting.popleft()
        if self._observe is not None:
            self._observe(self.reactor.seconds() - started)
        if "last" in reply:
            d.callback(reply["last"] if "gone" not in reply else PartlyStored(**reply))
        else:
            d.errback(WriterError(reply.get("error", "no answer")))

    def _exited(self, process: _WriterProcess, reason: str) -> None:
        if process is self._running:
            self._lost(f"the message writer exited: {reason}", process.opened)

    def _watch(self) -> None:
        """The watchdog: a batch unanswered for :attr:`stall` seconds (the writer
        hangs, or is stopped) makes the writer killed and forgotten, and what it held
        in doubt; a new writer settles that. No request waits for ever. The seconds
        count from READY for what was sent before it; a writer not READY yet has
        :data:`START_GRACE` from its start, if that is longer."""
        self._watchdog = None
        if not self._waiting:
            return
        now = self.reactor.seconds()
        sent = self._waiting[0][1]
        ready = self._running.ready_at if self._running is not None else sent
        if ready is None:
            deadline = max(sent + self.stall, self._started_at + START_GRACE)
        else:
            deadline = max(sent, ready) + self.stall
        if now < deadline:
            self._watchdog = self.reactor.callLater(deadline - now, self._watch)
            return
        self._kill(f"the message writer did not answer for {now - sent:.0f} s (killed)")

    def _kill(self, reason: str) -> None:
        """Kill the writer and forget it (a late answer from it is ignored)."""
        process = self._running
        if process is not None:
            with contextlib.suppress(Exception):  # it may have just exited
                process.transport.signalProcess("KILL")
        self._lost(reason, process is None or process.opened, killed=True)

    def _lost(self, reason: str, opened: bool = False, killed: bool = False) -> None:
        """The writer is gone (or given up on): what it held is in doubt if it had
        ``opened`` its database (else it committed nothing, and what it held fails);
        say when the next one starts (at once if something is in doubt, else at the
        next message). Senders are answered last, once all of that is decided: the
        group commit sends its next batch from their callbacks, and that batch must
        meet the restart delay of this exit, not of the one before."""
        self._process = self._running = None
        if not self._stopping:
            self._exit_reason = reason
        for timer in (self._watchdog, self._stop_timer):  # nothing is left to watch
            if timer is not None and timer.active():
                timer.cancel()
        self._watchdog = self._stop_timer = None
        now = self.reactor.seconds()
        waiting, self._waiting = self._waiting, deque()
        # The request settling earlier batches is dropped: they are in doubt again.
        held = [(d, rows, now) for d, _, rows in waiting if rows is not None]
        started = opened and not self._settling and not self._settle_failed
        self._in_doubt += self._settling + (held if opened else [])
        self._settling = []
        if self._stopping:
            if waiting or killed:  # else it exited as asked
                _log.error("{exit} as the server stops", exit=reason)
            unknown, why = self._expired(math.inf), UNSETTLED_AT_STOP
        else:
            unknown = self._restart(now, started)
            why = (
                f"{self._exit_reason}; whether these messages were stored is unknown: no "
                f"message writer could find out for {self.stall:g} s"
            )
        if not opened:
            for d, _, _ in held:
                d.errback(WriterError(reason))
        self._fail(unknown, why)
        stopped, self._stopped = self._stopped, []
        for d in stopped:
            d.callback(None)

    def _restart(self, now: float, started: bool) -> list[tuple[Any, list, float]]:
        """Say why the writer is gone and when the next starts; start it then if
        batches are in doubt (else at the next message). ``started``: it had opened
        its database and settled what was in doubt (QUICK_EXIT). Returns the batches in
        doubt for :attr:`stall` seconds, taken out, for the caller to fail."""
        quick = not started and now - self._started_at < QUICK_EXIT
        self._quick_exits = self._quick_exits + 1 if quick else 0
        # The first restart is at once: a writer killed once costs nothing more. One
        # that keeps dying at its start (its database cannot be opened) is not
        # restarted for every batch.
        delay = min(2.0 ** (self._quick_exits - 2), MAX_RESTART_DELAY)
        delay = delay if self._quick_exits > 1 else 0.0
        self._restart_at = now + delay
        expired = self._expired(now - self.stall)
        when = f"in {delay:.0f} s" if delay else "at once"
        if self._in_doubt:
            restart = (
                f"{len(self._in_doubt)} batch(es) of messages are in doubt (sent, not "
                f"answered): restarting it {when} to find out which were stored"
            )
            self._resume = self.reactor.callLater(delay, self._resumed)
        else:
            restart = f"restarting it {'at' if not delay else when + ', at'} the next message"
        _log.error("{exit}; {restart}", exit=self._exit_reason, restart=restart)
        return expired

    def _resumed(self) -> None:
        self._resume = None
        if self._process is not None or not self._in_doubt:
            return
        try:
            self._spawn()
        except OSError as e:
            self._lost(f"the message writer could not be started: {e}")

    def _cancel_resume(self) -> None:
        if self._resume is not None:
            if self._resume.active():
                self._resume.cancel()
            self._resume = None

    def _expired(self, before: float) -> list[tuple[Any, list, float]]:
        """The batches in doubt since before ``before``, taken out (oldest first)."""
        expired = [entry for entry in self._in_doubt if entry[2] < before]
        if expired:
            self._in_doubt = [entry for entry in self._in_doubt if entry[2] >= before]
        return expired

    def _fail(self, entries: list[tuple[Any, list, float]], reason: str) -> None:
        """Answer batches in doubt that no writer settled: whether they are stored is
        unknown (:class:`OutcomeUnknown`), and no writer is sent them again."""
        if not entries:
            return
        _log.error(
            "{count} batch(es) of messages in doubt failed: {reason}",
            count=len(entries),
            reason=reason,
        )
        for d, _, _ in entries:
            d.errback(OutcomeUnknown(reason))


class _WriterProcess(protocol.ProcessProtocol):
    def __init__(self, owner: MessageWriter):
        self.owner = owner
        self._buffer = b""
        self.send: Callable[[bytes], None] | None = None  # set once the pipes exist
        #: Whether it said it opened its database (READY), or answered; and when.
        self.opened = False
        self.ready_at: float | None = None

    def connectionMade(self) -> None:  # noqa: N802
        # Batches go down the pipe at once rather than on the reactor's next turn.
        self.send = sender(getattr(self.transport, "pipes", {}).get(0, self.transport))

    def outReceived(self, data: bytes) -> None:  # noqa: N802
        """Until the writer has said READY (or answered): then :meth:`_answers`
        takes its place, so that no answer pays for this."""
        buffer = self._buffer + data
        if len(buffer) < 4 + len(READY) and READY.startswith(buffer[4:]):
            self._buffer = buffer  # READY, not yet whole
            return
        self.opened = True
        self.ready_at = self.owner.reactor.seconds()
        self.outReceived = self._answers  # type: ignore[method-assign]
        self._buffer = b""
        if buffer[4 : 4 + len(READY)] == READY:
            buffer = buffer[4 + len(READY) :]
        self._answers(buffer)

    def _answers(self, data: bytes) -> None:
        if self.owner._running is not self:
            return  # given up on (see MessageWriter._watch): its batches are seen to
        answers, self._buffer = split_frames(self._buffer + data)
        for answer in answers:
            self.owner._answered(orjson.loads(answer))

    def errReceived(self, data: bytes) -> None:  # noqa: N802
        for line in data.decode("utf-8", "replace").splitlines():
            _log.error("message writer: {line}", line=line)

    def processEnded(self, reason: Any) -> None:  # noqa: N802
        self.owner._exited(self, reason.getErrorMessage())


if __name__ == "__main__":
    main(sys.argv[1:])
