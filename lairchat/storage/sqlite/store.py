"""The SQLite implementation of :class:`lairchat.storage.interfaces.IStore`.

Each public method runs one named transaction on a pool. Messages are inserted a
batch at a time: the core's group commit (:mod:`lairchat.core.groupcommit`) decides
what goes into one transaction.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from twisted.internet import defer
from twisted.python.failure import Failure
from zope.interface import implementer

from lairchat.core.groupcommit import settle
from lairchat.domain.audit import AuditEntry
from lairchat.domain.errors import LairError, account_deleted, last_admin, validation_failed
from lairchat.domain.invitecodes import LIVE_PER_ROOM, InviteCode, not_found, too_many_codes
from lairchat.domain.pins import PINS_PER_ROOM, too_many_pins
from lairchat.domain.reactions import EMOJI_PER_MESSAGE, USER_IDS_SHOWN
from lairchat.domain.search import NO_FILTERS, Filters
from lairchat.domain.types import (
    Ban,
    Invitation,
    Member,
    Membership,
    Message,
    Room,
    Session,
    Target,
    User,
    room_role,
    system_role,
)
from lairchat.storage.interfaces import IStore
from lairchat.storage.sqlite import mentioncount, pool, search
from lairchat.storage.sqlite.faults import (
    STORED_UNKNOWN,
    DatabaseFileChanged,
    OutcomeUnknown,
    StorageFault,
    StorageHealth,
    describe,
    identity_check,
    is_fault,
    log_check,
)
from lairchat.storage.sqlite.writer import PartlyStored, insert_rows, touch

USER_COLS = "id, username, email, role, created_at, updated_at, password_hash"
ROOM_COLS = (
    "r.id, r.name, r.owner_id, r.description, r.is_private, r.max_members, r.created_at, "
    "r.updated_at"
)
MESSAGE_COLS = (
    "rowid AS seq, id, author_id, target_type, target_id, content, is_edited, created_at, "
    "updated_at"
)
#: The number of messages stored: the tally's count up to its ``upto``, and the
#: messages above it, at most a stride of them (migration 016, TALLY in the writer).
MESSAGE_COUNT = (
    "SELECT counted + (SELECT COUNT(*) FROM messages WHERE rowid > upto) "
    "FROM message_tally WHERE id = 1"
)
#: A room's pinned messages with who pinned each and when, the newest pin first.
PINNED_SQL = (
    "SELECT "
    + ", ".join(f"m.{col.strip()}" for col in MESSAGE_COLS.split(","))
    + ", p.pinned_by, p.pinned_at FROM pins p JOIN messages m ON m.id = p.message_id "
    "WHERE p.room_id = ? ORDER BY p.rowid DESC LIMIT ?"
)
INVITATION_SELECT = (
    "SELECT i.id, i.room_id, i.inviter_id, i.invitee_id, i.status, i.created_at, i.expires_at, "
    "i.responded_at, r.name, a.username, b.username FROM invitations i "
    "JOIN rooms r ON r.id = i.room_id JOIN users a ON a.id = i.inviter_id "
    "JOIN users b ON b.id = i.invitee_id "
)


#: Seconds a write may run before :meth:`SQLiteStore.ping` calls the database
#: unusable (the readiness probe's own patience: lairchat.observability.http).
STUCK = 5.0

#: SQLite's ``secure_delete`` while messages are pruned: their text is overwritten
#: with zeros in the file, not only unlinked (FAST leaves it in freed pages: of 135k
#: pruned rows, 75k were still readable in the file). Measured: no cost to see
#: beside the commit's (docs/operations.md, "Retention").
SECURE_DELETE = "ON"

#: The last seq and the number of the messages (at most ``?2``) after seq ``?1``: a
#: window of the table, read in its own order (retention, an account's erasure).
WINDOW = (
    "SELECT max(rowid), count(*) FROM "
    "(SELECT rowid FROM messages WHERE rowid > ? ORDER BY rowid LIMIT ?)"
)

#: Ids per query in :meth:`SQLiteStore.existing_sessions` and `system_roles`.
SESSION_BATCH = 500


def _by_ids(cur: sqlite3.Cursor, select: str, ids: list[str]) -> Iterator[tuple]:
    """The rows of ``select`` (one table's) whose ``id`` is one of ``ids``, asked
    :data:`SESSION_BATCH` ids at a time, well under SQLite's parameter limit."""
    for start in range(0, len(ids), SESSION_BATCH):
        chunk = ids[start : start + SESSION_BATCH]
        yield from cur.execute(f"{select} WHERE id IN ({','.join('?' * len(chunk))})", chunk)


def _user(row: tuple) -> User:
    return User(row[0], row[1], row[2], system_role(row[3]), row[4], row[5], row[6])


def _room(row: tuple) -> Room:
    return Room(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7])


def _message(row: tuple) -> Message:
    kind = "room" if row[3] == "room" else "dm"
    return Message(
        row[1], row[2], Target(kind, row[4]), row[5], bool(row[6]), row[7], row[8], seq=row[0]
    )


def _invitation(row: tuple) -> Invitation:
    return Invitation(*row[:8], room_name=row[8], inviter_name=row[9], invitee_name=row[10])


def _alone(cur: sqlite3.Cursor, sql: str, params: tuple) -> sqlite3.Cursor:
    """Run one statement as a transaction of its own: SQLite takes the write lock,
    writes, syncs and lets go inside the one call. In the transaction Python's
    sqlite3 opens before a write, the lock stays held until the thread has the GIL
    back to commit, and on a busy server that is up to the reactor's next wait: the
    message writer's commits waited behind a login's session for as long (a lock
    wait of a millisecond or more for about 1% of them, in a login storm). Inside a
    transaction already open, the statement is part of it."""
    conn = cur.connection
    if conn.in_transaction:
        return cur.execute(sql, params)
    level, conn.isolation_level = conn.isolation_level, None
    try:
        return cur.execute(sql, params)
    finally:
        conn.isolation_level = level


def _last_admin(cur: sqlite3.Cursor, user_id: str, role: str, now: float) -> bool:
    """Whether ``user_id`` (of ``role``) is an admin with no other admin that can act
    (neither banned nor being deleted)."""
    if system_role(role) != "admin":
        return False
    return not cur.execute(OTHER_ADMIN, (user_id, _int(now))).fetchone()


def _int(t: float) -> int:
    return int(t)


#: An invite code as :func:`_invite_code` reads it (never its hash).
INVITE_CODE_SELECT = (
    "SELECT c.id, c.room_id, c.prefix, c.created_by, c.created_at, c.expires_at, "
    "c.max_uses, c.uses, u.username FROM room_invite_codes c "
    "LEFT JOIN users u ON u.id = c.created_by "
)
#: The code ``c`` admits someone at the time ``?``: not expired, not used up.
LIVE_CODE = "c.expires_at > ? AND (c.max_uses IS NULL OR c.uses < c.max_uses)"


def _invite_code(row: tuple) -> InviteCode:
    return InviteCode(*row[:8], created_by_name=row[8] or "")


def banned(user: str = "?", now: str = "?") -> str:
    """A ban in force on the user ``user`` at the time ``now`` (SQL expressions; as
    Ban.active: until expires_at)."""
    return (
        f"EXISTS (SELECT 1 FROM bans WHERE user_id = {user} "
        f"AND (expires_at IS NULL OR expires_at > {now}))"
    )


#: A ban in force on the user ``?`` at the time ``?``.
BANNED = banned()


def _refuse_stopped_author(cur: sqlite3.Cursor, by: str | None, now: float) -> None:
    """An admin action by an admin who can no longer act, decided in the write itself
    (their request was checked before): banned meanwhile, ``account_banned``; their
    deletion begun (or done), the deleted account's ``session_not_found``; no longer
    an admin (``lairchat admin set-role``), ``permission_denied``, what the request
    would have been told. Of two admins banning or deleting each other at once, the
    second is refused, so one of them can still act, and the log names no account as
    acting after it was locked out or demoted. ``by`` None is the operator (the
    ``lairchat`` command, ``LAIR_ADMIN_*``), who has no account to check."""
    if by is None:
        return
    if cur.execute(f"SELECT {BANNED}", (by, _int(now))).fetchone()[0]:
        raise LairError("account_banned")
    role = cur.execute("SELECT role FROM users WHERE id = ?", (by,)).fetchone()
    if role is None or cur.execute(BEING_DELETED, (by,)).fetchone():
        raise account_deleted()
    if system_role(role[0]) != "admin":
        raise LairError("permission_denied")


def _refuse_gone_user(cur: sqlite3.Cursor, user_id: str) -> None:
    """``user_not_found`` for an account gone, or whose deletion has begun: it may not
    sign in again while it is erased, and a write naming it (a ban, an unban, a new
    password) would change, and record, nothing anyone could use."""
    if not cur.execute(
        f"SELECT 1 FROM users WHERE id = ? AND {NOT_BEING_DELETED}", (user_id,)
    ).fetchone():
        raise LairError("user_not_found")


#: Where a conversation's unread count stops (docs/protocols/HTTP.md, ``/users/me``):
#: counting reads each unread message's row (for its author), so without a bound a
#: member who joined a room of 100,000 messages had all of them read on each
#: ``/users/me`` until they marked it read (docs/architecture.md, "Reads at scale").
UNREAD_MAX = 1000


def _unread_rows(kind: str, other: str, column: str = "m.content") -> str:
    """The newest UNREAD_MAX messages unread by user ``?1`` in the room, or from the
    DM partner, that the SQL expression ``other`` names: by someone else, above the
    user's read marker there; each one's text as ``c`` (for
    :mod:`~lairchat.storage.sqlite.mentioncount`: whole, as SQLite's ``substr``
    stops at a NUL, where the rule reads on). An index
    range (the room's on ``idx_messages_target``, the partner's on
    ``idx_messages_dm_pair``) read down from the newest, which stops at UNREAD_MAX
    found: newest first, so that past UNREAD_MAX the mentions counted are the
    recent ones, those a conversation opens on. ``column``: what ``c`` is (``1`` to
    count alone, reading no text)."""
    marker = (
        "coalesce((SELECT k.last_read_seq FROM read_markers k WHERE k.user_id = ?1 "
        f"AND k.target_type = '{kind}' AND k.target_id = {other}), 0)"
    )
    if kind == "room":
        where = f"m.target_type = 'room' AND m.target_id = {other}"
    else:
        where = f"m.target_type = 'dm' AND m.author_id = {other} AND m.target_id = ?1"
    where += f" AND m.author_id != ?1 AND m.rowid > {marker}"
    return (
        f"SELECT {column} AS c FROM messages m WHERE {where} "
        f"ORDER BY m.rowid DESC LIMIT {UNREAD_MAX}"
    )


def _unread_sql(kind: str, other: str, mentions: bool = True) -> str:
    """The count of :func:`_unread_rows` (so at most UNREAD_MAX), and of those that
    may mention the user whose needle is ``?3`` (mentioncount.possible), in one
    pass, packed into one number (mentioncount.split). Without ``mentions``, the
    count alone (no candidates), which reads no message text."""
    if not mentions:
        return f"SELECT count(*) FROM ({_unread_rows(kind, other, '1')})"
    maybe = mentioncount.possible("c")
    return (
        f"SELECT count(*) + {mentioncount.SPAN} * count(CASE WHEN {maybe} THEN 1 END) "
        f"FROM ({_unread_rows(kind, other)})"
    )


def _possible_sql(kind: str) -> str:
    """The texts of the messages :func:`_unread_sql` found may mention the user, in
    the conversation ``?2``."""
    return f"SELECT c FROM ({_unread_rows(kind, '?2')}) WHERE {mentioncount.possible('c')}"


#: DM rows a search for a user's DM partners reads above their floor (migration 009)
#: before the floor is raised past them: below it, a few partners' worth of reads
#: costs less than the write that would save them.
DM_FLOOR_STEP = 200


def _dm_partners(mentions: bool) -> str:
    """A user's DM partners (``?1``: the user), with each one's unread count (and
    mention candidates: _unread_sql), and for those found among the DMs above the
    user's floor, how many of those rows there were and the newest one's seq.
    Partners are the user's DM read markers (the rows below the floor are theirs)
    and the authors above the floor, a range of ``idx_messages_target`` (migration
    009)."""
    return (
        "WITH above(id, seen, newest) AS (SELECT author_id, count(*), max(rowid) "
        "FROM messages WHERE target_type = 'dm' AND target_id = ?1 AND author_id != ?1 "
        "AND rowid > coalesce((SELECT seq FROM dm_read_floors WHERE user_id = ?1), 0) "
        "GROUP BY author_id),"
        " partner(id, seen, newest) AS (SELECT target_id, 0, NULL FROM read_markers "
        "WHERE user_id = ?1 AND target_type = 'dm' AND target_id != ?1 "
        "UNION ALL SELECT id, seen, newest FROM above),"
        " p(id, seen, newest) AS (SELECT id, max(seen), max(newest) FROM partner GROUP BY id) "
        f"SELECT p.id, ({_unread_sql('dm', 'p.id', mentions)}), p.seen, p.newest FROM p"
    )


_DM_PARTNERS = _dm_partners(mentions=True)
_DM_PARTNERS_COUNTED = _dm_partners(mentions=False)


#: A user whose deletion has not begun (migration 010): listings and counts leave
#: out an account from its deletion's first step, not its last.
NOT_BEING_DELETED = "id NOT IN (SELECT user_id FROM user_deletions)"
#: The deletion of the user ``?`` has begun.
BEING_DELETED = "SELECT 1 FROM user_deletions WHERE user_id = ?"
#: Whether the user ``?`` has two-factor sign-in on (migration 014).
TOTP_ON = "SELECT 1 FROM user_totp WHERE user_id = ? AND enabled_at IS NOT NULL"


def _like(search: str) -> str:
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _users_after(cur: sqlite3.Cursor, rowid: int) -> list[tuple[int, str, str]]:
    """``(rowid, id, username)`` of the users inserted after ``rowid``, oldest first. A
    range of the table's own key: lairchat renumbers no rows (no VACUUM), so a new
    user's rowid is above every older one's, but for the newest user's once it is
    deleted, which the next user gets (LookalikeIndex.forget)."""
    return cur.execute(
        "SELECT rowid, id, username FROM users WHERE rowid > ? ORDER BY rowid", (rowid,)
    ).fetchall()


@implementer(IStore)
class SQLiteStore:
    def __init__(
        self,
        writer: Any,
        reader: Any,
        path: str = ":memory:",
        append: Callable[[list[tuple]], defer.Deferred] | None = None,
    ):
        """``append(rows)``, if given, stores message rows in one transaction of its
        own and fires with the last rowid (the writer process, see
        :mod:`lairchat.storage.sqlite.writer`); otherwise ``writer`` does. No rows:
        a write that changes nothing, committed (:func:`touch`, the probe of
        :meth:`ping`)."""
        self._writer = writer
        self._reader = reader
        self.path = path
        self._append = append or (
            lambda rows: self._writer.runInteraction(self._checked, insert_rows, rows)
        )
        #: Storage faults: logged once each, answered with ``internal_error``.
        self.health = StorageHealth()
        #: Fails a write to a database file deleted or replaced since the start.
        self._check_file = identity_check(path)
        #: Whether the write-ahead log's files are as SQLite left them; asked by
        #: :meth:`ping` alone (not before each write: see docs/operations.md).
        self._check_log = log_check(path)
        self._log_fault: str | None = None
        self._probe: defer.Deferred | None = None
        #: Writes running, by token, with when they began (oldest first).
        self._writing: dict[int, float] = {}
        self._tokens = itertools.count()
        self._stuck_logged = -1
        #: Users whose DM floor is being raised (:meth:`unread_counts`): one write each
        #: at a time, however often they ask while it waits.
        self._raising: set[str] = set()

    # -- plumbing -------------------------------------------------------------------

    def _read(self, fn: Callable, *args: Any) -> defer.Deferred:
        return self._guarded(self._reader.runInteraction(fn, *args), "reads")

    def _write(self, fn: Callable, *args: Any) -> defer.Deferred:
        return self._guarded(self._writer.runInteraction(self._checked, fn, *args), "writes")

    def _checked(self, cur: sqlite3.Cursor, fn: Callable, *args: Any) -> Any:
        self._check_file()
        return fn(cur, *args)

    def _guarded(self, d: defer.Deferred, channel: str) -> defer.Deferred:
        """An outcome on ``channel`` (faults.CHANNELS): a success ends its storage
        fault, a failure of storage becomes :class:`StorageFault` (other failures,
        LairErrors among them, pass unchanged). Writes are timed while they run
        (:meth:`ping` calls the database unusable while one waits too long)."""
        if channel != "reads":
            token = next(self._tokens)
            self._writing[token] = self.health.clock()
            d.addBoth(self._settled, token)
        return d.addCallbacks(
            self._succeeded, self._failed, callbackArgs=(channel,), errbackArgs=(channel,)
        )

    def _settled(self, result: Any, token: int) -> Any:
        del self._writing[token]
        return result

    def _stuck(self) -> bool:
        """Whether the oldest write running has waited more than STUCK seconds (for a
        lock held elsewhere, up to the busy timeout; or for a stalled disk); said once
        per such write in the log."""
        if not self._writing:
            return False
        token, started = next(iter(self._writing.items()))
        waited = self.health.clock() - started
        if waited <= STUCK:
            return False
        if token != self._stuck_logged:
            self._stuck_logged = token
            self.health.log.warn(
                "storage: a write has waited {waited:.0f} s for the database (a lock held "
                "by another process? a stalled disk?); /ready answers 503 while it waits",
                waited=waited,
            )
        return True

    def _succeeded(self, result: Any, channel: str) -> Any:
        self.health.succeeded(channel)
        return result

    def _failed(self, failure: Failure, channel: str) -> Failure:
        if is_fault(failure.value):
            error = failure.value
            try:  # what a missing file looks like to a new connection: say so
                self._check_file()
            except DatabaseFileChanged as changed:
                error = changed
            self.health.failed(error, channel)
            unknown = dict(STORED_UNKNOWN) if isinstance(error, OutcomeUnknown) else None
            return Failure(StorageFault(describe(error), unknown))
        return failure

    def close(self) -> None:
        self._writer.close()
        if self._reader is not self._writer:
            self._reader.close()

    # -- users ----------------------------------------------------------------------

    def create_user(
        self,
        user: User,
        after: int = 0,
        check: Callable[[list[tuple[int, str, str]]], None] | None = None,
    ) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> User:
            if cur.execute("SELECT 1 FROM users WHERE username = ?", (user.username,)).fetchone():
                raise LairError("username_taken")
            if check is not None:
                check(_users_after(cur, after))
            if cur.execute("SELECT 1 FROM users WHERE email = ?", (user.email,)).fetchone():
                raise LairError("email_taken")
            cur.execute(
                "INSERT INTO users (id, username, email, password_hash, role, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    user.id,
                    user.username,
                    user.email,
                    user.password_hash,
                    user.role,
                    _int(user.created_at),
                    _int(user.updated_at),
                ),
            )
            return user

        return self._write(txn)

    def get_user(self, user_id: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> User | None:
            row = cur.execute(f"SELECT {USER_COLS} FROM users WHERE id = ?", (user_id,)).fetchone()
            return _user(row) if row else None

        return self._read(txn)

    def find_user_by_login(self, identifier: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> User | None:
            for column in ("username", "email"):
                row = cur.execute(
                    f"SELECT {USER_COLS} FROM users WHERE {column} = ?", (identifier,)
                ).fetchone()
                if row:
                    return _user(row)
            return None

        return self._read(txn)

    def update_user_email(self, user_id: str, email: str | None, now: float) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> User | None:
            if email is not None:
                clash = cur.execute(
                    "SELECT 1 FROM users WHERE email = ? AND id != ?", (email, user_id)
                ).fetchone()
                if clash:
                    raise LairError("email_taken")
                cur.execute("UPDATE users SET email = ? WHERE id = ?", (email, user_id))
            cur.execute("UPDATE users SET updated_at = ? WHERE id = ?", (_int(now), user_id))
            row = cur.execute(f"SELECT {USER_COLS} FROM users WHERE id = ?", (user_id,)).fetchone()
            return _user(row) if row else None

        return self._write(txn)

    def update_password(
        self,
        user_id: str,
        password_hash: str,
        now: float,
        keep: str | None = None,
        checked: str | None = None,
        audit: AuditEntry | None = None,
    ) -> defer.Deferred:
        """With ``checked``, only while the stored hash is still that one (the one the
        current password was verified against): else None, changing nothing. An
        account being deleted is ``user_not_found``: its unusable hash stays.
        ``audit``: recorded with the change (an operator's reset)."""
        sql = "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?"
        args: tuple = (password_hash, _int(now), user_id)
        if checked is not None:
            sql, args = sql + " AND password_hash = ?", (*args, checked)

        def txn(cur: sqlite3.Cursor) -> list[str] | None:
            _refuse_gone_user(cur, user_id)
            cur.execute(sql, args)
            if checked is not None and cur.rowcount == 0:
                return None
            _record(cur, audit)
            return _delete_user_sessions(cur, user_id, keep)

        return self._write(txn)

    def set_role(self, user_id: str, role: str, audit: AuditEntry | None = None) -> defer.Deferred:
        """``audit`` is recorded with the change, and only if the role changed: as it
        reads (:func:`system_role`), a stored ``Admin`` is already ``admin``."""

        def txn(cur: sqlite3.Cursor) -> User | None:
            was = cur.execute("SELECT role FROM users WHERE id = ?", (user_id,)).fetchone()
            if was is None:
                return None
            cur.execute("UPDATE users SET role = ? WHERE id = ?", (role, user_id))
            if system_role(was[0]) != role:
                _record(cur, audit)
            row = cur.execute(f"SELECT {USER_COLS} FROM users WHERE id = ?", (user_id,)).fetchone()
            return _user(row)

        return self._write(txn)

    def list_users(self, limit: int, offset: int, search: str | None) -> defer.Deferred:
        # A search lists the user of that very name first: in name order, a hundred
        # names containing it ("abob", "bob1", ...) kept it off the page, and a client
        # inviting or messaging by name found no such user.
        def txn(cur: sqlite3.Cursor) -> list[User]:
            where, first, args = f"WHERE {NOT_BEING_DELETED}", "", []
            if search:
                where += " AND username LIKE ? ESCAPE '\\'"
                first = "username = ? COLLATE NOCASE DESC, "
                args = [_like(search), search]
            rows = cur.execute(
                f"SELECT {USER_COLS} FROM users {where} "
                f"ORDER BY {first}username COLLATE NOCASE, rowid LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
            return [_user(r) for r in rows]

        return self._read(txn)

    def user_names(self) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> dict[str, str]:
            return dict(cur.execute("SELECT id, username FROM users").fetchall())

        return self._read(txn)

    def users_after(self, rowid: int) -> defer.Deferred:
        return self._read(lambda cur: _users_after(cur, rowid))

    # -- sessions -------------------------------------------------------------------

    def create_session(
        self, session: Session, password_hash: str | None = None, without_totp: bool = False
    ) -> defer.Deferred:
        values = (
            session.id,
            session.user_id,
            session.protocol,
            _int(session.created_at),
            _int(session.expires_at),
            _int(session.created_at),
            session.ip_address,
            session.user_agent,
        )
        insert = (
            "INSERT INTO sessions (id, user_id, protocol, created_at, expires_at, last_active_at, "
            "ip_address, user_agent) "
        )

        # One statement: it holds the write lock from before its checks to its insert.
        # No session for an account being deleted, whatever its stored hash (one the
        # operator reset meanwhile, another process's): it would outlive the user row.
        not_banned = f"NOT {BANNED} AND NOT EXISTS ({BEING_DELETED})"
        checks: tuple = (session.user_id, _int(session.created_at), session.user_id)
        if password_hash is not None:
            not_banned += " AND EXISTS (SELECT 1 FROM users WHERE id = ? AND password_hash = ?)"
            checks += (session.user_id, password_hash)
        if without_totp:
            not_banned += f" AND NOT EXISTS ({TOTP_ON})"
            checks += (session.user_id,)

        def txn(cur: sqlite3.Cursor) -> Session | None:
            marks = ", ".join("?" * len(values))
            _alone(cur, insert + f"SELECT {marks} WHERE {not_banned}", values + checks)
            return session if cur.rowcount == 1 else None

        return self._write(txn)

    def get_session(self, session_id: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> Session | None:
            row = cur.execute(
                "SELECT id, user_id, created_at, expires_at, protocol, last_active_at "
                "FROM sessions WHERE id = ?",
                (session_id,),
            ).fetchone()
            return Session(*row) if row else None

        return self._read(txn)

    def touch_session(self, session_id: str, now: float, every: float) -> defer.Deferred:
        """The condition is checked again here: requests at once on one session, each
        having read the old time, write it once."""

        def txn(cur: sqlite3.Cursor) -> None:
            _alone(
                cur,
                "UPDATE sessions SET last_active_at = ? WHERE id = ? AND last_active_at <= ?",
                (_int(now), session_id, now - every),
            )

        return self._write(txn)

    def list_user_sessions(
        self, user_id: str, now: float, limit: int, offset: int = 0
    ) -> defer.Deferred:
        """Found by ``idx_sessions_user``; ``rowid`` orders the sessions of one second
        as they were made. ``now`` is compared unrounded, as the session check does."""

        def txn(cur: sqlite3.Cursor) -> list[Session]:
            rows = cur.execute(
                "SELECT id, user_id, created_at, expires_at, protocol, last_active_at, "
                "ip_address, user_agent FROM sessions WHERE user_id = ? AND expires_at >= ? "
                "ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
                (user_id, now, limit, offset),
            ).fetchall()
            return [Session(*row) for row in rows]

        return self._read(txn)

    def delete_session(self, session_id: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> bool:
            return cur.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0

        return self._write(txn)

    def delete_user_sessions(self, user_id: str, keep: str | None = None) -> defer.Deferred:
        return self._write(_delete_user_sessions, user_id, keep)

    def existing_sessions(self, session_ids: list[str]) -> defer.Deferred:
        """Read on the reader pool, in batches well under SQLite's parameter limit."""

        def txn(cur: sqlite3.Cursor) -> set[str]:
            return {row[0] for row in _by_ids(cur, "SELECT id FROM sessions", session_ids)}

        return self._read(txn)

    def system_roles(self, user_ids: list[str]) -> defer.Deferred:
        """Read as :meth:`existing_sessions` is, and each role as :func:`_user` reads it."""

        def txn(cur: sqlite3.Cursor) -> dict[str, str]:
            rows = _by_ids(cur, "SELECT id, role FROM users", user_ids)
            return {row[0]: system_role(row[1]) for row in rows}

        return self._read(txn)

    def prune_sessions(self, expired_before: float, batch: int) -> defer.Deferred:
        """One short transaction of the expired-session sweep: found by
        ``idx_sessions_expires``, so a batch costs its own rows, not the table."""

        return self._prune("sessions", "id", "expires_at", expired_before, batch)

    def _prune(self, table: str, key: str, time: str, before: float, batch: int) -> defer.Deferred:
        """Delete at most ``batch`` rows of ``table`` whose ``time`` (a column or an
        expression) is before ``before``, in one short transaction; fires with how
        many (the batches of lairchat.core.retention)."""

        def txn(cur: sqlite3.Cursor) -> int:
            return cur.execute(
                f"DELETE FROM {table} WHERE {key} IN "
                f"(SELECT {key} FROM {table} WHERE {time} < ? LIMIT ?)",
                (_int(before), batch),
            ).rowcount

        return self._write(txn)

    # -- rooms and memberships ------------------------------------------------------

    def create_room(self, room: Room, membership: Membership) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> Room:
            if cur.execute("SELECT 1 FROM rooms WHERE name = ?", (room.name,)).fetchone():
                raise LairError("room_name_taken")
            cur.execute(
                "INSERT INTO rooms (id, name, description, owner_id, is_private, max_members, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    room.id,
                    room.name,
                    room.description,
                    room.owner,
                    int(room.is_private),
                    room.max_members,
                    _int(room.created_at),
                    _int(room.updated_at),
                ),
            )
            cur.execute(
                "INSERT INTO room_memberships (room_id, user_id, role, joined_at) VALUES (?,?,?,?)",
                (
                    membership.room_id,
                    membership.user_id,
                    membership.role,
                    _int(membership.joined_at),
                ),
            )
            return room

        return self._write(txn)

    def get_room(self, room_id: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> Room | None:
            row = cur.execute(
                f"SELECT {ROOM_COLS} FROM rooms r WHERE r.id = ?", (room_id,)
            ).fetchone()
            return _room(row) if row else None

        return self._read(txn)

    def update_room(self, room: Room) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> Room:
            clash = cur.execute(
                "SELECT 1 FROM rooms WHERE name = ? AND id != ?", (room.name, room.id)
            ).fetchone()
            if clash:
                raise LairError("room_name_taken")
            cur.execute(
                "UPDATE rooms SET name = ?, description = ?, is_private = ?, max_members = ?, "
                "updated_at = ? WHERE id = ?",
                (
                    room.name,
                    room.description,
                    int(room.is_private),
                    room.max_members,
                    _int(room.updated_at),
                    room.id,
                ),
            )
            return room

        return self._write(txn)

    def delete_room(
        self, room_id: str, by: str | None = None, audit: AuditEntry | None = None
    ) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> None:
            row = cur.execute("SELECT owner_id FROM rooms WHERE id = ?", (room_id,)).fetchone()
            if row is None:
                raise LairError("room_not_found")
            # A member with role owner, or the creator (room.owner) while still a
            # member: Lair Chat also let a creator who had left delete the room
            # the others went on using (HTTP.md).
            if (
                by is not None
                and not cur.execute(
                    "SELECT 1 FROM room_memberships WHERE room_id = ? AND user_id = ? "
                    "AND (lower(role) = 'owner' OR user_id = ?)",
                    (room_id, by, row[0]),
                ).fetchone()
            ):
                raise LairError("permission_denied")
            _delete_room_rows(cur, room_id)
            _record(cur, audit)

        return self._write(txn)

    def _room_page(self, where: str, args: tuple, limit: int, offset: int) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> list[tuple[Room, int]]:
            rows = cur.execute(
                f"SELECT {ROOM_COLS}, (SELECT COUNT(*) FROM room_memberships m "
                f"WHERE m.room_id = r.id) FROM rooms r {where} "
                "ORDER BY r.name COLLATE NOCASE, r.rowid LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
            return [(_room(row), row[8]) for row in rows]

        return self._read(txn)

    def list_public_rooms(self, limit: int, offset: int, search: str | None) -> defer.Deferred:
        if search:
            return self._room_page(
                "WHERE r.is_private = 0 AND r.name LIKE ? ESCAPE '\\'",
                (_like(search),),
                limit,
                offset,
            )
        return self._room_page("WHERE r.is_private = 0", (), limit, offset)

    def list_joined_rooms(self, user_id: str, limit: int, offset: int) -> defer.Deferred:
        return self._room_page(
            "JOIN room_memberships j ON j.room_id = r.id AND j.user_id = ?",
            (user_id,),
            limit,
            offset,
        )

    def member_count(self, room_id: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> int:
            return cur.execute(
                "SELECT COUNT(*) FROM room_memberships WHERE room_id = ?", (room_id,)
            ).fetchone()[0]

        return self._read(txn)

    def get_membership(self, room_id: str, user_id: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> Membership | None:
            row = cur.execute(
                "SELECT room_id, user_id, role, joined_at FROM room_memberships "
                "WHERE room_id = ? AND user_id = ?",
                (room_id, user_id),
            ).fetchone()
            return Membership(row[0], row[1], room_role(row[2]), row[3]) if row else None

        return self._read(txn)

    def add_membership(
        self,
        membership: Membership,
        max_members: int | None,
        accept_invitation_at: float | None,
        entry: tuple[str, str] | None = None,
        code: str | None = None,
    ) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> Membership:
            key = (membership.room_id, membership.user_id)
            if code is not None:
                # Expired, used up or revoked since it was read: it admits no one.
                found = cur.execute(
                    f"SELECT 1 FROM room_invite_codes c WHERE c.id = ? AND {LIVE_CODE}",
                    (code, _int(membership.joined_at)),
                ).fetchone()
                if found is None:
                    raise not_found()
            if entry is not None:
                found = cur.execute(
                    "SELECT status = 'pending' AND expires_at > ? FROM invitations WHERE id = ?",
                    (_int(accept_invitation_at), entry[0]),
                ).fetchone()
                if found is None:
                    # Invitations go with their room alone (delete_room).
                    raise LairError("room_not_found")
                if not found[0]:
                    raise LairError(entry[1])
            if cur.execute(
                "SELECT 1 FROM room_memberships WHERE room_id = ? AND user_id = ?", key
            ).fetchone():
                raise LairError("already_member")
            if max_members is not None:
                count = cur.execute(
                    "SELECT COUNT(*) FROM room_memberships WHERE room_id = ?", (membership.room_id,)
                ).fetchone()[0]
                if count >= max_members:
                    raise LairError("room_full")
            cur.execute(
                "INSERT INTO room_memberships (room_id, user_id, role, joined_at) VALUES (?,?,?,?)",
                (*key, membership.role, _int(membership.joined_at)),
            )
            if code is not None:
                cur.execute("UPDATE room_invite_codes SET uses = uses + 1 WHERE id = ?", (code,))
            if accept_invitation_at is not None:
                cur.execute(
                    "UPDATE invitations SET status = 'accepted', responded_at = ? "
                    "WHERE room_id = ? AND invitee_id = ? AND status = 'pending' "
                    "AND expires_at > ?",
                    (_int(accept_invitation_at), *key, _int(accept_invitation_at)),
                )
            return membership

        return self._write(txn)

    def remove_membership(self, room_id: str, user_id: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> bool:
            return (
                cur.execute(
                    "DELETE FROM room_memberships WHERE room_id = ? AND user_id = ?",
                    (room_id, user_id),
                ).rowcount
                > 0
            )

        return self._write(txn)

    def set_member_role(self, room_id: str, user_id: str, role: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> None:
            cur.execute(
                "UPDATE room_memberships SET role = ? WHERE room_id = ? AND user_id = ?",
                (role, room_id, user_id),
            )

        return self._write(txn)

    def count_owners(self, room_id: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> int:
            return cur.execute(
                "SELECT COUNT(*) FROM room_memberships WHERE room_id = ? AND lower(role) = 'owner'",
                (room_id,),
            ).fetchone()[0]

        return self._read(txn)

    def list_members(self, room_id: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> list[Member]:
            rows = cur.execute(
                "SELECT m.user_id, u.username, m.role, m.joined_at FROM room_memberships m "
                "JOIN users u ON u.id = m.user_id WHERE m.room_id = ? "
                "ORDER BY m.joined_at, m.rowid",
                (room_id,),
            ).fetchall()
            return [Member(r[0], r[1], room_role(r[2]), r[3]) for r in rows]

        return self._read(txn)

    def all_memberships(self) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> list[tuple[str, str]]:
            return cur.execute("SELECT room_id, user_id FROM room_memberships").fetchall()

        return self._read(txn)

    # -- messages -------------------------------------------------------------------

    def insert_messages(self, messages: list[Message]) -> defer.Deferred:
        rows = [
            (
                m.id,
                m.author,
                m.target.kind,
                m.target.id,
                m.content,
                _int(m.created_at),
                _int(m.updated_at),
            )
            for m in messages
        ]

        def numbered(last: int | PartlyStored) -> list[int] | list[int | Failure]:
            if type(last) is not int:
                return _partly_numbered(messages, last)
            seqs = list(range(last - len(rows) + 1, last + 1))
            for message, seq in zip(messages, seqs, strict=True):
                message.seq = seq
            return seqs

        return self._guarded(self._append(rows), "messages").addCallback(numbered)

    def get_message(self, message_id: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> Message | None:
            row = cur.execute(
                f"SELECT {MESSAGE_COLS} FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            return _message(row) if row else None

        return self._read(txn)

    def seq_of(self, message_id: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> int | None:
            row = cur.execute("SELECT rowid FROM messages WHERE id = ?", (message_id,)).fetchone()
            return row[0] if row else None

        return self._read(txn)

    def update_message_content(self, message_id: str, content: str, now: float) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> bool:
            return (
                cur.execute(
                    "UPDATE messages SET content = ?, is_edited = 1, updated_at = ? WHERE id = ?",
                    (content, _int(now), message_id),
                ).rowcount
                > 0
            )

        return self._write(txn)

    def delete_message(self, message_id: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> bool:
            # Keep its seq from being given to the next message (migration 006).
            cur.execute(
                "UPDATE message_seq_floor SET seq = max(seq, "
                "COALESCE((SELECT rowid FROM messages WHERE id = ?), 0)) WHERE id = 1",
                (message_id,),
            )
            _delete_dependents(cur, "id = ?", (message_id,))
            return cur.execute("DELETE FROM messages WHERE id = ?", (message_id,)).rowcount > 0

        return self._write(txn)

    def prune_messages(self, created_before: float, after_seq: int, batch: int) -> defer.Deferred:
        """One short transaction of retention (:mod:`lairchat.core.retention`): of the
        ``batch`` messages next after seq ``after_seq`` (by rowid, the primary key:
        no index on ``created_at`` is kept, see migration 004), delete those created
        before ``created_before``. Fires with ``(deleted, last)``: ``last`` is the seq
        to pass as ``after_seq`` next, or None once there is no more to prune (this
        batch deleted nothing, or reached the newest message)."""
        window = "rowid > ? AND rowid <= ? AND created_at < ?"

        def txn(cur: sqlite3.Cursor) -> tuple[int, int | None]:
            last, seen = cur.execute(WINDOW, (after_seq, batch)).fetchone()
            if not seen:
                return 0, None
            args = (after_seq, last, _int(created_before))
            top = cur.execute(f"SELECT max(rowid) FROM messages WHERE {window}", args).fetchone()
            if top[0] is None:
                return 0, None
            # The newest message may be among them: keep its seq (migration 006).
            _keep_seq(cur, top[0])
            _delete_dependents(cur, window, args)
            deleted = _securely(cur, f"DELETE FROM messages WHERE {window}", args)
            return deleted, None if seen < batch else last

        return self._write(txn)

    def empty_log(self) -> defer.Deferred:
        """After retention: what it deleted is zeroed in the database file, but the
        write-ahead log's older frames still hold it until they are written over,
        which on a quiet server is never. TRUNCATE copies the log into the database
        and empties the file; the message writer's next commit waits for it, as for
        any write (once per retention pass)."""

        def txn(cur: sqlite3.Cursor) -> bool:
            busy, _, _ = cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            return not busy

        return self._write(txn)

    # -- reactions (migration 011) ---------------------------------------------------

    def add_reaction(self, message_id: str, user_id: str, emoji: str, now: float) -> defer.Deferred:
        """Decided in the write, with the message's deletions (the same writer):
        ``message_not_found`` if it is gone, ``validation_failed`` for a new emoji
        past the cap (lairchat.domain.reactions); fires with whether a row was added."""

        def txn(cur: sqlite3.Cursor) -> bool:
            if not cur.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchone():
                raise LairError("message_not_found")
            used = cur.execute(
                "SELECT count(DISTINCT emoji), max(emoji = ?2) "
                "FROM reactions WHERE message_id = ?1",
                (message_id, emoji),
            ).fetchone()
            if not used[1] and used[0] >= EMOJI_PER_MESSAGE:
                raise validation_failed(
                    "emoji", f"a message carries at most {EMOJI_PER_MESSAGE} different emoji"
                )
            return (
                cur.execute(
                    "INSERT OR IGNORE INTO reactions (message_id, emoji, user_id, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    (message_id, emoji, user_id, _int(now)),
                ).rowcount
                > 0
            )

        return self._write(txn)

    def remove_reaction(self, message_id: str, user_id: str, emoji: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> bool:
            return (
                cur.execute(
                    "DELETE FROM reactions WHERE message_id = ? AND emoji = ? AND user_id = ?",
                    (message_id, emoji, user_id),
                ).rowcount
                > 0
            )

        return self._write(txn)

    def reactions_of(self, message_ids: list[str], reader: str | None = None) -> defer.Deferred:
        """One statement for a page of messages, however many (the primary key's
        range per message), in the order the rows were written: each message's emoji
        come in the order first used, each one's users in the order they reacted.
        Grouped here rather than by SQLite's window functions, which took twice the
        time of the read for a page (0.7 against 0.23 ms for 200 rows). With
        ``reader``, each says whether they reacted so (``me``), among all the rows:
        ``user_ids`` lists only the first 50."""
        sql = (
            "SELECT message_id, emoji, user_id FROM reactions "
            "WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY rowid"
        )

        def txn(cur: sqlite3.Cursor) -> dict[str, list[dict[str, Any]]]:
            grouped: dict[str, dict[str, dict[str, Any]]] = {}
            if message_ids:
                for message_id, emoji, user_id in cur.execute(
                    sql, (orjson.dumps(message_ids).decode(),)
                ):
                    by_emoji = grouped.setdefault(message_id, {})
                    one = by_emoji.get(emoji)
                    if one is None:
                        one = by_emoji[emoji] = {"emoji": emoji, "count": 0, "user_ids": []}
                        if reader is not None:
                            one["me"] = False
                    one["count"] += 1
                    if one["count"] <= USER_IDS_SHOWN:
                        one["user_ids"].append(user_id)
                    if user_id == reader:
                        one["me"] = True
            return {message_id: list(by.values()) for message_id, by in grouped.items()}

        return self._read(txn)

    # -- pins (migration 012) ----------------------------------------------------------

    def pin_message(
        self, message_id: str, room_id: str, user_id: str, now: float
    ) -> defer.Deferred:
        """Decided in the write, with the message's and the room's deletions (the same
        writer): ``message_not_found`` if the message is gone, ``room_not_found`` if
        its room is, ``validation_failed`` for a new pin past the room's cap
        (lairchat.domain.pins); fires with whether a row was added."""

        def txn(cur: sqlite3.Cursor) -> bool:
            if not cur.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchone():
                raise LairError("message_not_found")
            if not cur.execute("SELECT 1 FROM rooms WHERE id = ?", (room_id,)).fetchone():
                raise LairError("room_not_found")
            if cur.execute("SELECT 1 FROM pins WHERE message_id = ?", (message_id,)).fetchone():
                return False
            count = cur.execute("SELECT count(*) FROM pins WHERE room_id = ?", (room_id,))
            if count.fetchone()[0] >= PINS_PER_ROOM:
                raise too_many_pins()
            cur.execute(
                "INSERT INTO pins (message_id, room_id, pinned_by, pinned_at) VALUES (?, ?, ?, ?)",
                (message_id, room_id, user_id, _int(now)),
            )
            return True

        return self._write(txn)

    def unpin_message(self, message_id: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> bool:
            return cur.execute("DELETE FROM pins WHERE message_id = ?", (message_id,)).rowcount > 0

        return self._write(txn)

    def pins_of(self, room_id: str) -> defer.Deferred:
        """The room's pinned messages, the newest pin first: ``[(message, pinned_by,
        pinned_at)]``, in one read (a pin whose message another server deleted is
        left out)."""

        def txn(cur: sqlite3.Cursor) -> list[tuple[Message, str, int]]:
            return [
                (_message(row), row[-2], row[-1])
                for row in cur.execute(PINNED_SQL, (room_id, PINS_PER_ROOM))
            ]

        return self._read(txn)

    @staticmethod
    def _conversation(
        target: Target, viewer_id: str, author: str | None = None
    ) -> list[tuple[str, list]]:
        """One room or one DM conversation, as index-friendly branches of disjoint rows:
        a room is one ``(target_type, target_id)`` range; a DM is one range per
        direction on ``(target_type, author_id, target_id)`` (a DM to oneself, one),
        only ``author``'s direction when given (a search's author filter: a room has
        no index by author, its rows are checked as they are examined)."""
        if target.kind == "room":
            return [("target_type = 'room' AND target_id = ?", [target.id])]
        branch = "target_type = 'dm' AND author_id = ? AND target_id = ?"
        ways = [(viewer_id, target.id), (target.id, viewer_id)]
        if target.id == viewer_id:
            ways = ways[:1]
        return [(branch, [a, to]) for a, to in ways if author is None or a == author]

    def history(
        self,
        target: Target,
        viewer_id: str,
        limit: int,
        before: tuple[str, float] | None,
        after: tuple[str, float] | None,
    ) -> defer.Deferred:
        bounds, bound_args = "", []
        for bound, op in ((before, "<"), (after, ">")):
            if bound is not None:
                column = "rowid" if bound[0] == "seq" else "created_at"
                bounds += f" AND {column} {op} ?"
                bound_args.append(bound[1] if bound[0] == "seq" else _int(bound[1]))
        # Paging forward from ``after`` reads the oldest first, then returns newest first.
        order = "ASC" if after is not None and before is None else "DESC"
        parts, args = [], []
        for where, branch_args in self._conversation(target, viewer_id):
            parts.append(
                f"SELECT * FROM (SELECT {MESSAGE_COLS} FROM messages WHERE {where}{bounds} "
                f"ORDER BY rowid {order} LIMIT ?)"
            )
            args += [*branch_args, *bound_args, limit]
        sql = " UNION ALL ".join(parts) + f" ORDER BY seq {order} LIMIT ?"

        def txn(cur: sqlite3.Cursor) -> list[Message]:
            messages = [_message(r) for r in cur.execute(sql, (*args, limit)).fetchall()]
            if order == "ASC":
                messages.reverse()
            return messages

        return self._read(txn)

    def search_messages(
        self,
        viewer_id: str,
        target: Target | None,
        room_ids: list[str],
        before: int | None,
        match: Callable[[str], bool],
        limit: int,
        budget: int,
        seconds: float,
        filters: Filters = NO_FILTERS,
    ) -> defer.Deferred:
        """Matching is done in the read's thread: the rows examined never leave it.
        The filters are checked first, on columns read anyway (no text folded for a
        row they leave out), and the author's also by the DM branches chosen."""
        author = filters.author

        def txn(cur: sqlite3.Cursor) -> tuple[list[Message], str | None, bool]:
            if target is not None:
                branches = self._conversation(target, viewer_id, author)
            else:
                branches = search.everywhere(
                    cur,
                    viewer_id,
                    room_ids,
                    lambda one: self._conversation(one, viewer_id, author),
                    author,
                )
            found, last, more = search.scan(
                cur,
                MESSAGE_COLS,
                branches,
                before,
                lambda row: filters.admits(row[2], row[7]) and match(row[5]),
                limit,
                budget,
                seconds,
            )
            return [_message(r) for r in found], last[1] if last else None, more

        return self._read(txn)

    def unread_counts(self, user_id: str, room_ids: list[str], username: str) -> defer.Deferred:
        """Two statements whatever the rooms and partners: one counts every room (its
        ids passed as one JSON array), one every DM partner (:data:`_DM_PARTNERS`). A
        statement pair per room and three per partner were 5,032 for a user in 1,000
        rooms DMed by 1,000 people (docs/architecture.md, "Reads at scale"). Each
        count comes with how many of its messages may mention ``username``; one
        statement more for each conversation with any finds which do
        (:mod:`~lairchat.storage.sqlite.mentioncount`). When finding the partners
        read DM_FLOOR_STEP rows or more, the floor is raised past them
        (:meth:`_raise_dm_floor`) after the counts are answered: it only saves later
        work, and the answer is a read's, which must not wait for the write lock
        (held by another process, a write waits up to the busy timeout)."""
        key = mentioncount.needle(username)
        rooms_json = orjson.dumps(room_ids).decode()

        def counted(cur: sqlite3.Cursor, mentions: bool) -> tuple[list[tuple], list[tuple]]:
            rooms = f"SELECT r.value, ({_unread_sql('room', 'r.value', mentions)}) "
            rooms += "FROM json_each(?2) r"
            if mentions:
                by_room = cur.execute(rooms, (user_id, rooms_json, key)).fetchall()
                return by_room, cur.execute(_DM_PARTNERS, (user_id, None, key)).fetchall()
            by_room = cur.execute(rooms, (user_id, rooms_json)).fetchall()
            return by_room, cur.execute(_DM_PARTNERS_COUNTED, (user_id,)).fetchall()

        def txn(cur: sqlite3.Cursor) -> tuple[dict[str, Any], list[tuple]]:
            try:
                with mentioncount.bounded(cur.connection, mentioncount.SCAN_SECONDS):
                    by_room, by_dm = counted(cur, mentions=True)
            except sqlite3.OperationalError as e:
                if not mentioncount.interrupted(e):
                    raise
                by_room, by_dm = counted(cur, mentions=False)  # no candidates: none counted
            until = mentioncount.deadline()  # the rule's time, from its first row
            counts: dict[str, Any] = {"mentions": {}}
            # DMs first: should the rule's time run out (mentioncount), theirs are exact.
            for kind, found in (("dm", [row[:2] for row in by_dm]), ("room", by_room)):
                read = self._mentions(cur, user_id, kind, found, username, until)
                counts[f"by_{kind}"] = {k: n for k, (n, _) in read.items()}
                counts["mentions"][f"by_{kind}"] = {k: m for k, (_, m) in read.items() if m}
            return counts, [(k, seen, newest) for k, _, seen, newest in by_dm if seen]

        def answer(read: tuple[dict[str, Any], list[tuple]]) -> Any:
            counts, above = read
            if sum(seen for _, seen, _ in above) >= DM_FLOOR_STEP:
                partners = [k for k, _, _ in above]
                self._raise_dm_floor(user_id, partners, max(n for _, _, n in above))
            return counts

        return self._read(txn).addCallback(answer)

    @staticmethod
    def _mentions(
        cur: sqlite3.Cursor,
        user_id: str,
        kind: str,
        found: list[tuple],
        username: str,
        until: float,
    ) -> dict[str, tuple[int, int]]:
        """``{conversation id: (unread, mentions)}`` of the conversations with unread
        messages among ``found``, ``(conversation id, packed count)`` rows of
        :func:`_unread_sql`, the rule matching until the ``monotonic`` time
        ``until`` (mentioncount.deadline). A count of mentions never exceeds the
        unread count beside it: reads are not one snapshot, and a message sent
        between the two statements may be among the second's rows only."""
        split = [(k, *mentioncount.split(packed)) for k, packed in found if packed]
        sql, key = _possible_sql(kind), mentioncount.needle(username)
        wanted = [(sql, (user_id, k, key)) for k, _, maybe in split if maybe]
        mentioned = iter(mentioncount.count(cur, wanted, username, until))
        return {k: (n, min(n, next(mentioned)) if maybe else 0) for k, n, maybe in split}

    def _raise_dm_floor(self, user_id: str, partners: list[str], seq: int) -> None:
        """Raise the user's DM floor (migration 009) to ``seq``, the newest DM to them
        a search read: first each author found above the old floor gets a read
        marker, at 0 (as good as none) unless it has one, so that below the new
        floor every DM is a marker holder's. Valid whenever it is written: a new DM
        is numbered past every seq there was, and no marker is ever deleted. Not
        waited for: a write already raising this user's floor makes this one
        needless (the next search reads what it leaves). A storage fault (a full
        disk, a read-only file: logged and reported on /ready by the store's health)
        leaves the floor where it was, for the next search to try again."""
        if user_id in self._raising:
            return
        self._raising.add(user_id)

        def txn(cur: sqlite3.Cursor) -> None:
            cur.executemany(
                "INSERT INTO read_markers (user_id, target_type, target_id, last_read_seq, "
                "updated_at) VALUES (?, 'dm', ?, 0, 0) ON CONFLICT DO NOTHING",
                [(user_id, partner) for partner in partners],
            )
            cur.execute(
                "INSERT INTO dm_read_floors (user_id, seq) VALUES (?, ?) ON CONFLICT (user_id) "
                "DO UPDATE SET seq = excluded.seq WHERE excluded.seq > dm_read_floors.seq",
                (user_id, seq),
            )

        def done(outcome: Any) -> None:
            self._raising.discard(user_id)
            if isinstance(outcome, Failure) and not outcome.check(StorageFault):
                self.health.log.failure("raising a DM read floor failed", outcome)

        self._write(txn).addBoth(done)

    def unread_count(self, user_id: str, target: Target, username: str) -> defer.Deferred:
        """``(unread, mentions)`` in one conversation, as :meth:`unread_counts`."""
        sql = f"SELECT ({_unread_sql(target.kind, '?2')})"
        key = mentioncount.needle(username)

        def txn(cur: sqlite3.Cursor) -> tuple[int, int]:
            packed = cur.execute(sql, (user_id, target.id, key)).fetchone()[0]
            until = mentioncount.deadline()
            found = [(target.id, packed)]
            read = self._mentions(cur, user_id, target.kind, found, username, until)
            return read.get(target.id, (0, 0))

        return self._read(txn)

    def mark_read(self, moves: list[tuple[str, Target, int]], now: float) -> defer.Deferred:
        """Every ``(user_id, target, up_to_seq)`` in one transaction: markers moved at
        once share one sync to disk (MessageService.markers). A marker already at or
        past ``up_to_seq`` is left as it is, ``updated_at`` too: then the transaction
        writes nothing, and its commit syncs nothing. A room deleted since the move
        was asked for gets no marker: its markers were deleted with it, and one
        written after would stay for good (no foreign key names the room). Nor does a
        user deleted meanwhile (lairchat.core.deletion): ``user_id`` references users,
        and that one row would fail every other move of the batch."""
        rows = [(user_id, t.kind, t.id, seq, _int(now)) for user_id, t, seq in moves]

        def txn(cur: sqlite3.Cursor) -> None:
            cur.executemany(
                "INSERT INTO read_markers (user_id, target_type, target_id, last_read_seq, "
                "updated_at) SELECT ?1, ?2, ?3, ?4, ?5 "
                "WHERE EXISTS (SELECT 1 FROM users WHERE id = ?1) AND (?2 = 'dm' "
                "OR EXISTS (SELECT 1 FROM rooms WHERE id = ?3)) "
                "ON CONFLICT (user_id, target_type, target_id) "
                "DO UPDATE SET last_read_seq = excluded.last_read_seq, "
                "updated_at = excluded.updated_at "
                "WHERE excluded.last_read_seq > read_markers.last_read_seq",
                rows,
            )

        return self._write(txn)

    def latest_seq(self, target: Target, viewer_id: str) -> defer.Deferred:
        branches = self._conversation(target, viewer_id)

        def txn(cur: sqlite3.Cursor) -> int:
            return max(
                cur.execute(f"SELECT MAX(rowid) FROM messages WHERE {where}", args).fetchone()[0]
                or 0
                for where, args in branches
            )

        return self._read(txn)

    # -- invitations ----------------------------------------------------------------

    def create_invitation(self, invitation: Invitation, now: float) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> Invitation:
            if cur.execute(BEING_DELETED, (invitation.invitee_id,)).fetchone():
                raise LairError("user_not_found")  # as it will be: it is out of listings
            if cur.execute(
                "SELECT 1 FROM room_memberships WHERE room_id = ? AND user_id = ?",
                (invitation.room_id, invitation.invitee_id),
            ).fetchone():
                raise LairError("already_member")
            if cur.execute(
                "SELECT 1 FROM invitations WHERE room_id = ? AND invitee_id = ? "
                "AND status = 'pending' AND expires_at > ?",
                (invitation.room_id, invitation.invitee_id, _int(now)),
            ).fetchone():
                raise LairError("already_invited")
            cur.execute(
                "INSERT INTO invitations (id, room_id, inviter_id, invitee_id, status, message, "
                "created_at, responded_at, expires_at) VALUES (?, ?, ?, ?, 'pending', NULL, ?, "
                "NULL, ?)",
                (
                    invitation.id,
                    invitation.room_id,
                    invitation.inviter_id,
                    invitation.invitee_id,
                    _int(invitation.created_at),
                    _int(invitation.expires_at),
                ),
            )
            return invitation

        return self._write(txn)

    def get_invitation(self, invitation_id: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> Invitation | None:
            row = cur.execute(INVITATION_SELECT + "WHERE i.id = ?", (invitation_id,)).fetchone()
            return _invitation(row) if row else None

        return self._read(txn)

    def list_pending_invitations(
        self, user_id: str, now: float, limit: int | None = None, offset: int = 0
    ) -> defer.Deferred:
        return self._pending_invitations("invitee_id", user_id, now, limit, offset)

    def list_room_invitations(
        self, room_id: str, now: float, limit: int, offset: int = 0
    ) -> defer.Deferred:
        return self._pending_invitations("room_id", room_id, now, limit, offset)

    def _pending_invitations(
        self, column: str, value: str, now: float, limit: int | None, offset: int = 0
    ) -> defer.Deferred:
        """Pending unexpired invitations whose ``column`` (``invitee_id`` or ``room_id``,
        each indexed) is ``value``, newest first; ``rowid`` orders those of one second."""

        def txn(cur: sqlite3.Cursor) -> list[Invitation]:
            rows = cur.execute(
                INVITATION_SELECT + f"WHERE i.{column} = ? AND i.status = 'pending' "
                "AND i.expires_at > ? ORDER BY i.created_at DESC, i.rowid DESC "
                "LIMIT ? OFFSET ?",
                (value, _int(now), -1 if limit is None else limit, offset),
            ).fetchall()
            return [_invitation(r) for r in rows]

        return self._read(txn)

    def find_pending_invitation(self, room_id: str, user_id: str, now: float) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> Invitation | None:
            row = cur.execute(
                INVITATION_SELECT + "WHERE i.room_id = ? AND i.invitee_id = ? "
                "AND i.status = 'pending' AND i.expires_at > ?",
                (room_id, user_id, _int(now)),
            ).fetchone()
            return _invitation(row) if row else None

        return self._read(txn)

    def prune_invitations(self, settled_before: float, batch: int) -> defer.Deferred:
        """A scan of the table per batch, stopping at ``batch`` found: invitations are
        few beside messages, and a pass over those of a busy year costs milliseconds.
        An answer's time is ``responded_at``; a row answered without one (none of
        lairchat's) counts from its expiry."""

        settled = (
            "CASE WHEN status = 'pending' THEN expires_at "
            "ELSE COALESCE(responded_at, expires_at) END"
        )
        return self._prune("invitations", "id", settled, settled_before, batch)

    def set_invitation_status(self, invitation_id: str, status: str, now: float) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> bool:
            return (
                cur.execute(
                    "UPDATE invitations SET status = ?, responded_at = ? "
                    "WHERE id = ? AND status = 'pending' AND expires_at > ?",
                    (status, _int(now), invitation_id, _int(now)),
                ).rowcount
                > 0
            )

        return self._write(txn)

    # -- invite codes (migration 015) ---------------------------------------------------

    def create_invite_code(self, code: InviteCode, code_hash: str) -> defer.Deferred:
        """Insert unless the room has LIVE_PER_ROOM live codes (``validation_failed``);
        ``room_not_found`` if the room is gone, decided in the write."""

        def txn(cur: sqlite3.Cursor) -> InviteCode:
            if not cur.execute("SELECT 1 FROM rooms WHERE id = ?", (code.room_id,)).fetchone():
                raise LairError("room_not_found")
            live = cur.execute(
                f"SELECT count(*) FROM room_invite_codes c WHERE c.room_id = ? AND {LIVE_CODE}",
                (code.room_id, _int(code.created_at)),
            ).fetchone()[0]
            if live >= LIVE_PER_ROOM:
                raise too_many_codes()
            cur.execute(
                "INSERT INTO room_invite_codes (id, room_id, code_hash, prefix, created_by, "
                "created_at, expires_at, max_uses, uses) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (
                    code.id,
                    code.room_id,
                    code_hash,
                    code.prefix,
                    code.created_by,
                    _int(code.created_at),
                    _int(code.expires_at),
                    code.max_uses,
                ),
            )
            return code

        return self._write(txn)

    def find_invite_code(self, code_hash: str, now: float) -> defer.Deferred:
        """The live InviteCode (neither expired nor used up) with this hash, or None."""

        def txn(cur: sqlite3.Cursor) -> InviteCode | None:
            row = cur.execute(
                INVITE_CODE_SELECT + f"WHERE c.code_hash = ?1 AND {LIVE_CODE.replace('?', '?2')}",
                (code_hash, _int(now)),
            ).fetchone()
            return _invite_code(row) if row else None

        return self._read(txn)

    def list_invite_codes(self, room_id: str, now: float) -> defer.Deferred:
        """The room's live codes, newest first (at most LIVE_PER_ROOM)."""

        def txn(cur: sqlite3.Cursor) -> list[InviteCode]:
            rows = cur.execute(
                INVITE_CODE_SELECT + f"WHERE c.room_id = ?1 AND {LIVE_CODE.replace('?', '?2')} "
                "ORDER BY c.created_at DESC, c.rowid DESC LIMIT ?3",
                (room_id, _int(now), LIVE_PER_ROOM),
            ).fetchall()
            return [_invite_code(row) for row in rows]

        return self._read(txn)

    def invite_code(self, room_id: str, code_id: str) -> defer.Deferred:
        """The room's code with this id, live or not (expired, used up), or None."""

        def txn(cur: sqlite3.Cursor) -> InviteCode | None:
            row = cur.execute(
                INVITE_CODE_SELECT + "WHERE c.id = ? AND c.room_id = ?", (code_id, room_id)
            ).fetchone()
            return _invite_code(row) if row else None

        return self._read(txn)

    def delete_invite_code(self, room_id: str, code_id: str) -> defer.Deferred:
        """Delete the room's code; fires with whether there was one."""

        def txn(cur: sqlite3.Cursor) -> bool:
            return (
                cur.execute(
                    "DELETE FROM room_invite_codes WHERE id = ? AND room_id = ?", (code_id, room_id)
                ).rowcount
                > 0
            )

        return self._write(txn)

    def delete_invite_codes_by(self, room_id: str, user_id: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> list[str]:
            rows = cur.execute(
                "DELETE FROM room_invite_codes WHERE room_id = ? AND created_by = ? RETURNING id",
                (room_id, user_id),
            )
            return [row[0] for row in rows]

        return self._write(txn)

    def prune_invite_codes(self, ended_before: float, batch: int) -> defer.Deferred:
        """Delete at most ``batch`` codes that expired before ``ended_before``, in one
        short transaction; fires with how many (lairchat.core.retention)."""

        return self._prune("room_invite_codes", "id", "expires_at", ended_before, batch)

    # -- admin ----------------------------------------------------------------------

    def counts(self) -> defer.Deferred:
        """Users, rooms and messages. Messages from the tally (migration 016), not a
        count of the table: /metrics asks at every scrape."""

        def txn(cur: sqlite3.Cursor) -> dict[str, int]:
            users = f"SELECT COUNT(*) FROM users WHERE {NOT_BEING_DELETED}"
            return {
                "users": cur.execute(users).fetchone()[0],
                "rooms": cur.execute("SELECT COUNT(*) FROM rooms").fetchone()[0],
                "messages": cur.execute(MESSAGE_COUNT).fetchone()[0],
            }

        return self._read(txn)

    def get_ban(self, user_id: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> Ban | None:
            row = cur.execute(
                "SELECT user_id, reason, banned_by, created_at, expires_at FROM bans "
                "WHERE user_id = ?",
                (user_id,),
            ).fetchone()
            return Ban(*row) if row else None

        return self._read(txn)

    def put_ban(self, ban: Ban, audit: AuditEntry | None = None) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> None:
            _refuse_stopped_author(cur, ban.banned_by, ban.created_at)
            _refuse_gone_user(cur, ban.user_id)
            cur.execute(
                "INSERT OR REPLACE INTO bans (user_id, reason, banned_by, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    ban.user_id,
                    ban.reason,
                    ban.banned_by,
                    _int(ban.created_at),
                    None if ban.expires_at is None else _int(ban.expires_at),
                ),
            )
            _record(cur, audit)

        return self._write(txn)

    def delete_ban(
        self,
        user_id: str,
        by: str | None = None,
        now: float = 0,
        audit: AuditEntry | None = None,
    ) -> defer.Deferred:
        """True, and ``audit`` recorded with the unban, only if the ban was in force at
        ``now``: one run out already let its user in (its row goes all the same)."""

        def txn(cur: sqlite3.Cursor) -> bool:
            _refuse_stopped_author(cur, by, now)
            _refuse_gone_user(cur, user_id)
            found = cur.execute("SELECT expires_at FROM bans WHERE user_id = ?", (user_id,))
            row = found.fetchone()
            cur.execute("DELETE FROM bans WHERE user_id = ?", (user_id,))
            lifted = row is not None and (row[0] is None or now < row[0])
            if lifted:
                _record(cur, audit)
            return lifted

        return self._write(txn)

    # -- the admin audit log (migration 013) ---------------------------------------

    def add_audit(self, entry: AuditEntry) -> defer.Deferred:
        """Record an action done in writes of its own (an account's creation)."""
        return self._write(_record, entry)

    def audit_entries(
        self,
        limit: int,
        before: str | None = None,
        action: str | None = None,
        subject_id: str | None = None,
        actor_id: str | None = None,
        name: str | None = None,
    ) -> defer.Deferred:
        """Up to ``limit`` entries, newest first, older than the entry ``before``
        (``validation_failed`` on ``before`` if there is no such entry: pruned, or
        never one). ``name``: entries whose actor or user subject was so named
        (ignoring case), as the operator command asks about a user who may be gone."""
        where: list[str] = []
        args: list[Any] = []
        for column, value in (
            ("action", action),
            ("subject_id", subject_id),
            ("actor_id", actor_id),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if name is not None:
            where.append(
                "(lower(actor_name) = lower(?) OR "
                "(subject_type = 'user' AND lower(subject_name) = lower(?)))"
            )
            args += [name, name]

        def txn(cur: sqlite3.Cursor) -> list[AuditEntry]:
            clauses, values = list(where), list(args)
            if before is not None:
                found = cur.execute(
                    "SELECT rowid FROM admin_audit WHERE id = ?", (before,)
                ).fetchone()
                if found is None:
                    raise validation_failed("before", "no such audit entry")
                clauses.append("rowid < ?")
                values.append(found[0])
            sql = (
                f"SELECT {AUDIT_COLS} FROM admin_audit"
                + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
                + " ORDER BY rowid DESC LIMIT ?"
            )
            rows = cur.execute(sql, (*values, limit)).fetchall()
            return [_audit_entry(row) for row in rows]

        return self._read(txn)

    def prune_audit(self, older_than: float, batch: int) -> defer.Deferred:
        """Delete up to ``batch`` entries made before ``older_than``, through the
        index on their time; fires with how many."""

        return self._prune("admin_audit", "rowid", "at", older_than, batch)

    def ping(self) -> defer.Deferred:
        """True when the database is usable: it answers a read, and its file is still
        the one opened at the start, and no write has waited more than STUCK
        seconds. During a storage fault, each channel that failed
        is probed (a read; a write that commits; an empty batch of messages, which
        commits the same write) and the fault ends when all of them work again.

        During a fault the answer is at once: the probe's own if it is done at once,
        else False, and the probe's outcome is for the next caller. A probe can wait
        for a lock up to the busy timeout (30 s), far past a readiness check's
        patience, and one probe at a time is enough. A damaged file is not probed (a
        probe would pass on pages that are not damaged): it is unusable until a real
        request on the channel that found it succeeds."""
        if self._stuck() or self._log_files_deleted():
            return defer.succeed(False)
        if not self.health.failing:
            return _detached(self._try("reads").addErrback(_unusable))
        if self._probe is not None or self.health.damaged:
            return defer.succeed(False)
        self._probe = defer.gatherResults(
            [
                self._try(channel).addCallbacks(lambda _: True, _unusable)
                for channel in list(self.health.failing)
            ],
            consumeErrors=True,
        ).addCallback(all)
        outcome: list = []
        self._probe.addBoth(self._probed, outcome)
        if not outcome:  # still running: False now, and its outcome is for later
            outcome.append(None)
            return defer.succeed(False)
        if isinstance(outcome[0], Failure):
            return defer.fail(outcome[0])
        return defer.succeed(outcome[0])

    def _log_files_deleted(self) -> bool:
        """Whether the index of the write-ahead log (``-shm``), or the log, was
        deleted while the server has them open (faults.log_check), said once in the
        log. The server's connections go on with theirs, but none can be added, and
        only a clean restart mends it. Looked at here, where no write waits for it."""
        try:
            self._check_log()
        except DatabaseFileChanged as e:
            if str(e) != self._log_fault:
                self._log_fault = str(e)
                self.health.log.error("storage: {fault}; /ready answers 503", fault=str(e))
            return True
        return False

    def _try(self, channel: str) -> defer.Deferred:
        """One probe of ``channel`` that reaches the file: a read, a write that
        commits (:func:`touch`), or an empty batch of messages (the same write)."""
        if channel == "reads":
            d = self._reader.runInteraction(self._checked, _read_probe)
        elif channel == "writes":
            d = self._writer.runInteraction(self._checked, touch)
        else:
            d = self._append([])
        return self._guarded(d, channel)

    def _probed(self, result: Any, outcome: list) -> None:
        self._probe = None
        if outcome and isinstance(result, Failure):  # nobody waits for it: a bug
            self.health.log.failure("the storage probe failed", result)
        outcome.append(result)

    # -- account deletion -------------------------------------------------------------
    #
    # The steps of lairchat.core.deletion, each one short transaction (docs/SECURITY.md,
    # "Deleting an account"). A deletion is marked in user_deletions (migration 010)
    # by its first step and unmarked by its last, with the user row.

    def begin_deletion(
        self,
        user_id: str,
        now: float,
        keep_an_admin: bool = False,
        audit: AuditEntry | None = None,
    ) -> defer.Deferred:
        """Mark the account as being deleted, all or nothing: every session ended
        (their ids are the result), the password hash made one no password matches,
        pending invitations from and to the user cancelled. None if there is no such
        user. With ``keep_an_admin``, an admin who is the last admin neither banned
        nor being deleted is refused (``permission_denied``), decided in this write
        as the crossing bans are (:func:`_refuse_stopped_author`): of two last admins
        deleting themselves at once, one stays. ``audit`` is recorded with the mark,
        and only by the deletion that makes it (not one carried on)."""

        def txn(cur: sqlite3.Cursor) -> list[str] | None:
            row = cur.execute("SELECT role FROM users WHERE id = ?", (user_id,)).fetchone()
            if row is None:
                return None
            if keep_an_admin and _last_admin(cur, user_id, row[0], now):
                raise last_admin()
            if cur.execute(
                "INSERT OR IGNORE INTO user_deletions (user_id, requested_at) VALUES (?, ?)",
                (user_id, _int(now)),
            ).rowcount:
                _record(cur, audit)
            cur.execute(
                "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
                (DELETED_PASSWORD_HASH, _int(now), user_id),
            )
            for column in ("inviter_id", "invitee_id"):  # each indexed
                cur.execute(
                    "UPDATE invitations SET status = 'cancelled', responded_at = ? "
                    f"WHERE {column} = ? AND status = 'pending'",
                    (_int(now), user_id),
                )
            cur.execute("DELETE FROM room_invite_codes WHERE created_by = ?", (user_id,))
            return _delete_user_sessions(cur, user_id, None)

        return self._write(txn)

    def is_last_admin(self, user_id: str, now: float) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> bool:
            row = cur.execute("SELECT role FROM users WHERE id = ?", (user_id,)).fetchone()
            return row is not None and _last_admin(cur, user_id, row[0], now)

        return self._read(txn)

    def deletions_pending(self) -> defer.Deferred:
        """``[(user_id, erased_to)]`` of the deletions begun and not finished."""
        return self._read(
            lambda cur: cur.execute("SELECT user_id, erased_to FROM user_deletions").fetchall()
        )

    def rooms_to_hand_over(self, user_id: str) -> defer.Deferred:
        """The rooms the user is a member of or created (``owner_id``: the creator
        may have left a room that other owners kept)."""
        return self._read(
            lambda cur: [
                row[0]
                for row in cur.execute(
                    "SELECT room_id FROM room_memberships WHERE user_id = ?1 "
                    "UNION SELECT id FROM rooms WHERE owner_id = ?1",
                    (user_id,),
                )
            ]
        )

    def hand_over_room(self, room_id: str, user_id: str, now: float) -> defer.Deferred:
        """Take the user out of one room, in one transaction. A room with no other
        member is deleted (as :meth:`delete_room`). Else, if no other owner can act
        and the user was an owner (or created the room), the longest-standing
        moderator, else the longest-standing member, becomes owner: of those who can
        act (not banned at ``now``, not being deleted) if any, else of all but a
        barred owner already there. ``owner_id`` passes to an owner who can act, or
        to that heir, else to another owner, before the user row goes (its cascade
        would delete the room). Fires with a :class:`Handover`, or None if the room
        is gone."""

        def txn(cur: sqlite3.Cursor) -> Handover | None:
            room = cur.execute("SELECT owner_id FROM rooms WHERE id = ?", (room_id,)).fetchone()
            if room is None:
                return None
            row = cur.execute(
                "SELECT role FROM room_memberships WHERE room_id = ? AND user_id = ?",
                (room_id, user_id),
            ).fetchone()
            mine = room_role(row[0]) if row else None
            if not cur.execute(
                "SELECT EXISTS (SELECT 1 FROM room_memberships WHERE room_id = ? AND user_id != ?)",
                (room_id, user_id),
            ).fetchone()[0]:
                _delete_room_rows(cur, room_id)
                return Handover(deleted=True)
            if mine != "owner" and room[0] != user_id:  # nothing passes on: no ranking
                _leave(cur, room_id, user_id)
                return Handover(left=mine is not None)
            others = [
                (member, room_role(role), bool(barred))
                for member, role, barred in cur.execute(
                    f"SELECT m.user_id, m.role, {banned('m.user_id', '?2')} OR EXISTS "
                    "(SELECT 1 FROM user_deletions d WHERE d.user_id = m.user_id) "
                    "FROM room_memberships m WHERE m.room_id = ?1 AND m.user_id != ?3 "
                    "ORDER BY m.joined_at, m.rowid",
                    (room_id, _int(now), user_id),
                )
            ]
            owners = [m for m in others if m[1] == "owner"]
            able = [m for m in owners if not m[2]]
            heir = None
            if not able:
                # Who can act first, then moderators first, then the longest-standing.
                rank = {m[0]: (m[2], m[1] != "moderator", i) for i, m in enumerate(others)}
                heirs = [m for m in others if m[1] != "owner" and not (owners and m[2])]
                if heirs:
                    heir = min(heirs, key=lambda m: rank[m[0]])
                    cur.execute(
                        "UPDATE room_memberships SET role = 'owner' "
                        "WHERE room_id = ? AND user_id = ?",
                        (room_id, heir[0]),
                    )
            if room[0] == user_id:
                cur.execute(
                    "UPDATE rooms SET owner_id = ? WHERE id = ?",
                    ((able or ([heir] if heir else owners))[0][0], room_id),
                )
            _leave(cur, room_id, user_id)
            return Handover(heir=heir[:2] if heir else None, left=mine is not None)

        return self._write(txn)

    def authored_in(self, user_id: str, after_seq: int, scan: int) -> defer.Deferred:
        """Of the ``scan`` messages next after seq ``after_seq``, the seqs of the
        user's (:data:`THEIRS`). A read, off the write lock: no index finds a user's messages (every
        index on messages costs each insert: migration 004), so the table is read
        in order, a window at a time. Fires with ``(seqs, last, more)``: ``last``,
        the window's last seq (``after_seq`` if it was empty), and whether messages
        may follow it."""

        def txn(cur: sqlite3.Cursor) -> tuple[list[int], int, bool]:
            last, seen = cur.execute(WINDOW, (after_seq, scan)).fetchone()
            if not seen:
                return [], after_seq, False
            seqs = [
                row[0]
                for row in cur.execute(
                    f"SELECT rowid FROM messages WHERE rowid > ?2 AND rowid <= ?3 AND {THEIRS}",
                    (user_id, after_seq, last),
                )
            ]
            return seqs, last, seen == scan

        return self._read(txn)

    def erase_messages(self, user_id: str, seqs: list[int]) -> defer.Deferred:
        """Delete these messages of the user's (:data:`THEIRS`, a batch), their text overwritten in
        the file as retention's is, and record the erasure's progress; fires with how
        many were deleted."""

        def txn(cur: sqlite3.Cursor) -> int:
            _keep_seq(cur, max(seqs))
            which = f"{THEIRS} AND rowid IN (SELECT value FROM json_each(?2))"
            args = (user_id, orjson.dumps(seqs).decode())
            _delete_dependents(cur, which, args)
            deleted = _securely(cur, f"DELETE FROM messages WHERE {which}", args)
            cur.execute(
                "UPDATE user_deletions SET erased_to = max(erased_to, ?) WHERE user_id = ?",
                (max(seqs), user_id),
            )
            return deleted

        return self._write(txn)

    def end_account(self, user_id: str, erased_to: int) -> defer.Deferred:
        """The deletion's last step: the user's messages after seq ``erased_to`` (any
        stored since the erasure passed: a short range at the table's end), read
        markers, DM floor, sessions, invitations, ban and mark, then the user row.
        Fires with the row's rowid (0: no such user), or None, changing nothing, if
        the user is in a room or created one (a join that raced the hand-over).

        Run without foreign keys: with them, deleting the row makes SQLite look for
        the user's messages to cascade to, through the whole table (no index on
        author_id, migration 004), holding the write lock the message writer waits
        on. Every table that names users is cleared here instead. The pragma works
        outside a transaction only, so this commits itself."""

        def txn(cur: sqlite3.Cursor) -> int | None:
            row = cur.execute("SELECT rowid FROM users WHERE id = ?", (user_id,)).fetchone()
            if row is None:
                return 0
            if cur.execute(
                "SELECT EXISTS (SELECT 1 FROM room_memberships WHERE user_id = ?1) "
                "OR EXISTS (SELECT 1 FROM rooms WHERE owner_id = ?1)",
                (user_id,),
            ).fetchone()[0]:
                return None
            later = f"{THEIRS} AND rowid > ?2"
            tail = cur.execute(
                f"SELECT max(rowid) FROM messages WHERE {later}", (user_id, erased_to)
            ).fetchone()[0]
            if tail is not None:
                _keep_seq(cur, tail)
                _delete_dependents(cur, later, (user_id, erased_to))
                _securely(cur, f"DELETE FROM messages WHERE {later}", (user_id, erased_to))
            for sql in ACCOUNT_ROWS:
                cur.execute(sql, (user_id,))
            return row[0]

        return self._write(_without_foreign_keys, txn)

    # -- data export (lairchat.core.export) ---------------------------------------------

    def export_rows(self, section: str, user_id: str, after: int, limit: int) -> defer.Deferred:
        """The next ``limit`` rows of ``section`` (:data:`EXPORT_SECTIONS`) that name the
        user, after the table rowid ``after``, in rowid order, in one short read (an
        export reads a page at a time: a long read would keep the write-ahead log from
        being reset). Fires with ``(items, last)``: ``last``, the page's last rowid."""
        sql, convert = EXPORT_SECTIONS[section]

        def txn(cur: sqlite3.Cursor) -> tuple[list[Any], int]:
            rows = cur.execute(sql, (user_id, after, limit)).fetchall()
            return [convert(row[1:]) for row in rows], rows[-1][0] if rows else after

        return self._read(txn)

    def message_seq_end(self) -> defer.Deferred:
        """The last message's seq (0 for none): where an export's scan stops."""

        def txn(cur: sqlite3.Cursor) -> int:
            return cur.execute("SELECT max(rowid) FROM messages").fetchone()[0] or 0

        return self._read(txn)

    def export_messages(
        self, user_id: str, after: int, end: int, scan: int, limit: int
    ) -> defer.Deferred:
        """The user's messages (:data:`THEIRS`) with seqs after ``after`` among the next
        ``scan`` seqs (none past ``end``), at most ``limit``, oldest first, in one
        short read: no index finds a user's room messages (migration 004), so the
        table is read by rowid ranges. Fires with ``(messages, reached)``: the seq up
        to which the table has been read."""

        def txn(cur: sqlite3.Cursor) -> tuple[list[Message], int]:
            upto = min(after + scan, end)
            rows = cur.execute(
                f"SELECT {MESSAGE_COLS} FROM messages WHERE rowid > ?2 AND rowid <= ?3 "
                f"AND {THEIRS} ORDER BY rowid LIMIT ?4",
                (user_id, after, upto, limit),
            ).fetchall()
            found = [_message(row) for row in rows]
            return found, found[-1].seq if len(found) == limit else upto

        return self._read(txn)

    # -- two-factor sign-in (migration 014) -------------------------------------------

    def totp_of(self, user_id: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> tuple[bytes, bool, int] | None:
            row = cur.execute(
                "SELECT secret, enabled_at IS NOT NULL, "
                "(SELECT count(*) FROM user_recovery_codes WHERE user_id = ?1) "
                "FROM user_totp WHERE user_id = ?1",
                (user_id,),
            ).fetchone()
            return (bytes(row[0]), bool(row[1]), row[2]) if row else None

        return self._read(txn)

    def put_totp_secret(self, user_id: str, sealed: bytes, now: float) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> None:
            _refuse_gone_user(cur, user_id)
            if cur.execute(TOTP_ON, (user_id,)).fetchone():
                raise LairError("totp_already_enabled")
            cur.execute(
                "INSERT OR REPLACE INTO user_totp (user_id, secret, created_at) VALUES (?, ?, ?)",
                (user_id, sealed, _int(now)),
            )

        return self._write(txn)

    def enable_totp(
        self,
        user_id: str,
        sealed: bytes,
        step: int,
        code_hashes: list[str],
        now: float,
        keep: str | None = None,
    ) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> list[str] | None:
            cur.execute(
                "UPDATE user_totp SET enabled_at = ?, last_step = ? "
                "WHERE user_id = ? AND enabled_at IS NULL AND secret = ?",
                (_int(now), step, user_id, sealed),
            )
            if cur.rowcount == 0:
                return None
            cur.execute("DELETE FROM user_recovery_codes WHERE user_id = ?", (user_id,))
            cur.executemany(
                "INSERT INTO user_recovery_codes (user_id, code_hash) VALUES (?, ?)",
                [(user_id, h) for h in code_hashes],
            )
            return _delete_user_sessions(cur, user_id, keep)

        return self._write(txn)

    def disable_totp(self, user_id: str, keep: str | None = None) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> list[str] | None:
            was_on = cur.execute(TOTP_ON, (user_id,)).fetchone() is not None
            cur.execute("DELETE FROM user_totp WHERE user_id = ?", (user_id,))
            cur.execute("DELETE FROM user_recovery_codes WHERE user_id = ?", (user_id,))
            if not was_on:
                return None
            return _delete_user_sessions(cur, user_id, keep)

        return self._write(txn)

    def reset_totp(
        self, user_id: str, audit: AuditEntry | None = None, pending: AuditEntry | None = None
    ) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> tuple[bool, list[str]] | None:
            row = cur.execute(
                "SELECT enabled_at IS NOT NULL FROM user_totp WHERE user_id = ?", (user_id,)
            ).fetchone()
            if row is None:
                return None
            cur.execute("DELETE FROM user_totp WHERE user_id = ?", (user_id,))
            cur.execute("DELETE FROM user_recovery_codes WHERE user_id = ?", (user_id,))
            if not row[0]:
                _record(cur, pending)
                return False, []
            _record(cur, audit)
            return True, _delete_user_sessions(cur, user_id, None)

        return self._write(txn)

    def replace_recovery_codes(self, user_id: str, code_hashes: list[str]) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> bool:
            if not cur.execute(TOTP_ON, (user_id,)).fetchone():
                return False
            cur.execute("DELETE FROM user_recovery_codes WHERE user_id = ?", (user_id,))
            cur.executemany(
                "INSERT INTO user_recovery_codes (user_id, code_hash) VALUES (?, ?)",
                [(user_id, h) for h in code_hashes],
            )
            return True

        return self._write(txn)

    def use_totp_step(self, user_id: str, step: int) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> bool:
            return (
                cur.execute(
                    "UPDATE user_totp SET last_step = ? WHERE user_id = ? "
                    "AND enabled_at IS NOT NULL AND last_step < ?",
                    (step, user_id, step),
                ).rowcount
                == 1
            )

        return self._write(txn)

    def use_recovery_code(self, user_id: str, code_hash: str) -> defer.Deferred:
        def txn(cur: sqlite3.Cursor) -> bool:
            if not cur.execute(TOTP_ON, (user_id,)).fetchone():
                return False
            return (
                cur.execute(
                    "DELETE FROM user_recovery_codes WHERE user_id = ? AND code_hash = ?",
                    (user_id, code_hash),
                ).rowcount
                == 1
            )

        return self._write(txn)


def _marker(row: tuple) -> tuple[Target, str | None, int]:
    return Target("room" if row[0] == "room" else "dm", row[1]), row[2], row[3]


#: An export's sections other than messages (:meth:`SQLiteStore.export_rows`): each a
#: query of the rows naming the user ``?1`` after rowid ``?2``, at most ``?3``, with
#: the rowid first, and what makes an item of the rest of a row. A read marker names
#: the message it stands at by id (None once that message is gone).
EXPORT_SECTIONS: dict[str, tuple[str, Callable[[tuple], Any]]] = {
    "sessions": (
        "SELECT rowid, id, user_id, created_at, expires_at, protocol, last_active_at, "
        "ip_address, user_agent FROM sessions WHERE user_id = ?1 AND rowid > ?2 "
        "ORDER BY rowid LIMIT ?3",
        lambda row: Session(*row),
    ),
    "rooms": (
        f"SELECT m.rowid, {ROOM_COLS}, m.role, m.joined_at, m.user_id FROM room_memberships m "
        "JOIN rooms r ON r.id = m.room_id WHERE m.user_id = ?1 AND m.rowid > ?2 "
        "ORDER BY m.rowid LIMIT ?3",
        lambda row: (_room(row), Membership(row[0], row[10], room_role(row[8]), row[9])),
    ),
    "invitations": (
        INVITATION_SELECT.replace("SELECT ", "SELECT i.rowid, ", 1)
        + "WHERE (i.inviter_id = ?1 OR i.invitee_id = ?1) AND i.rowid > ?2 "
        "ORDER BY i.rowid LIMIT ?3",
        _invitation,
    ),
    "read_markers": (
        "SELECT r.rowid, r.target_type, r.target_id, m.id, r.updated_at FROM read_markers r "
        "LEFT JOIN messages m ON m.rowid = r.last_read_seq WHERE r.user_id = ?1 "
        "AND r.rowid > ?2 ORDER BY r.rowid LIMIT ?3",
        _marker,
    ),
    "reactions": (
        "SELECT rowid, message_id, emoji, created_at FROM reactions WHERE user_id = ?1 "
        "AND rowid > ?2 ORDER BY rowid LIMIT ?3",
        tuple,
    ),
    "pins": (
        "SELECT rowid, room_id, message_id, pinned_at FROM pins WHERE pinned_by = ?1 "
        "AND rowid > ?2 ORDER BY rowid LIMIT ?3",
        tuple,
    ),
    "invite_codes": (
        INVITE_CODE_SELECT.replace("SELECT ", "SELECT c.rowid, ", 1)
        + "WHERE c.created_by = ?1 AND c.rowid > ?2 ORDER BY c.rowid LIMIT ?3",
        _invite_code,
    ),
}


def _partly_numbered(messages: list[Message], stored: PartlyStored) -> list[int | Failure]:
    """Seqs for the messages of a batch stored without those whose authors' accounts
    were deleted meanwhile; those fail as the account's connections were told."""
    gone = set(stored.gone)
    kept = len(messages) - len(gone)
    seqs = iter(range(stored.last - kept + 1, stored.last + 1))
    results: list[int | Failure] = []
    for i, message in enumerate(messages):
        if i in gone:
            results.append(Failure(account_deleted()))
        else:
            message.seq = next(seqs)
            results.append(message.seq)
    return results


def _unusable(failure: Failure) -> bool:
    failure.trap(StorageFault)
    return False


AUDIT_COLS = "id, at, actor_id, actor_name, action, subject_type, subject_id, subject_name, details"


def _record(cur: sqlite3.Cursor, entry: AuditEntry | None) -> None:
    """Write an audit entry (None: nothing) in the transaction of what it records,
    which is refused, all of it, if its admin can no longer act
    (:func:`_refuse_stopped_author`): a room's or an account's deletion too."""
    if entry is None:
        return
    _refuse_stopped_author(cur, entry.actor_id, entry.at)
    cur.execute(
        f"INSERT INTO admin_audit ({AUDIT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry.id,
            _int(entry.at),
            entry.actor_id,
            entry.actor_name,
            entry.action,
            entry.subject_type,
            entry.subject_id,
            entry.subject_name,
            orjson.dumps(entry.details).decode(),
        ),
    )


def _audit_entry(row: tuple) -> AuditEntry:
    return AuditEntry(*row[:8], orjson.loads(row[8]))


def _delete_user_sessions(cur: sqlite3.Cursor, user_id: str, keep: str | None) -> list[str]:
    """Delete every session of the user but ``keep``; their ids."""
    which = "WHERE user_id = ? AND id IS NOT ?"
    ids = [r[0] for r in cur.execute(f"SELECT id FROM sessions {which}", (user_id, keep))]
    cur.execute(f"DELETE FROM sessions {which}", (user_id, keep))
    return ids


def _read_probe(cur: sqlite3.Cursor) -> bool:
    return cur.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0


def _detached(d: defer.Deferred) -> defer.Deferred:
    """A Deferred that fires with ``d``'s result; cancelling it (a caller's timeout)
    leaves ``d``, whose callbacks keep track of the outcome, untouched."""
    out: defer.Deferred = defer.Deferred()
    d.addBoth(lambda result: None if out.called else settle(result, out))
    return out


# -- account deletion (module level) ------------------------------------------------

#: What an account being deleted has for a password hash: no password verifies
#: against it (not a hash at all), here or in Lair Chat.
DELETED_PASSWORD_HASH = "!deleted"

#: Another admin than ``?1`` who can act: neither banned at ``?2`` (the rule that
#: refuses a banned admin's ban, :func:`_refuse_stopped_author`) nor being deleted.
OTHER_ADMIN = (
    "SELECT 1 FROM users u WHERE lower(u.role) = 'admin' AND u.id != ?1 "
    "AND NOT EXISTS (SELECT 1 FROM user_deletions d WHERE d.user_id = u.id) "
    f"AND NOT {banned('u.id', '?2')} LIMIT 1"
)

#: A message of the user ``?1``'s: written by them, or a DM to them. DMs are erased
#: both ways: nobody can read a conversation with a deleted user (its history is
#: ``user_not_found``), so what others wrote to them would be kept for no one.
THEIRS = "(author_id = ?1 OR (target_type = 'dm' AND target_id = ?1))"

#: Every row that names the user ``?``, the user row last (:meth:`SQLiteStore.end_account`);
#: others' read markers of their DMs with the user too (those DMs are gone).
ACCOUNT_ROWS = (
    "DELETE FROM read_markers WHERE target_type = 'dm' AND target_id = ?",
    "DELETE FROM sessions WHERE user_id = ?",
    "DELETE FROM invitations WHERE inviter_id = ?",
    "DELETE FROM invitations WHERE invitee_id = ?",
    "DELETE FROM read_markers WHERE user_id = ?",
    "DELETE FROM reactions WHERE user_id = ?",
    "DELETE FROM pins WHERE pinned_by = ?",
    "DELETE FROM room_invite_codes WHERE created_by = ?",
    "DELETE FROM dm_read_floors WHERE user_id = ?",
    "DELETE FROM bans WHERE user_id = ?",
    "DELETE FROM user_totp WHERE user_id = ?",
    "DELETE FROM user_recovery_codes WHERE user_id = ?",
    "DELETE FROM user_deletions WHERE user_id = ?",
    "DELETE FROM users WHERE id = ?",
)


@dataclass(slots=True)
class Handover:
    """What :meth:`SQLiteStore.hand_over_room` did to one room: deleted it (no other
    member), or made ``heir`` (``(user_id, old_role)``) its owner, and removed the
    user's membership (``left``)."""

    deleted: bool = False
    heir: tuple[str, str] | None = None
    left: bool = False


def _without_foreign_keys(cur: sqlite3.Cursor, fn: Callable[[sqlite3.Cursor], Any]) -> Any:
    """``fn(cur)`` in a transaction of its own, committed here, with foreign keys off;
    on again afterwards, whatever happened."""
    conn = cur.connection
    if conn.in_transaction:  # the pragma would be ignored: say so rather than scan
        raise RuntimeError("foreign keys cannot be turned off inside a transaction")
    cur.execute("PRAGMA foreign_keys = OFF")
    try:
        cur.execute("BEGIN IMMEDIATE")  # its checks and its deletes under one lock
        outcome = fn(cur)
        conn.commit()
        return outcome
    except BaseException:
        conn.rollback()
        raise
    finally:
        cur.execute("PRAGMA foreign_keys = ON")


def _keep_seq(cur: sqlite3.Cursor, seq: int) -> None:
    """Deleting messages up to ``seq``: their seqs are never given again (migration 006)."""
    cur.execute("UPDATE message_seq_floor SET seq = max(seq, ?) WHERE id = 1", (seq,))


def _securely(cur: sqlite3.Cursor, sql: str, args: tuple) -> int:
    """Run a DELETE of messages with their text overwritten in the file, not only
    unlinked (docs/SECURITY.md); its rowcount."""
    cur.execute(f"PRAGMA secure_delete = {SECURE_DELETE}")
    try:
        return cur.execute(sql, args).rowcount
    finally:
        cur.execute(f"PRAGMA secure_delete = {pool.SECURE_DELETE}")


def _delete_dependents(cur: sqlite3.Cursor, where: str, args: tuple) -> None:
    """Delete the reactions to and pins of the messages ``where`` selects, before those
    messages go (migrations 011 and 012: no foreign key deletes them)."""
    for table in ("reactions", "pins"):
        cur.execute(
            f"DELETE FROM {table} WHERE message_id IN (SELECT id FROM messages WHERE {where})",
            args,
        )


def _leave(cur: sqlite3.Cursor, room_id: str, user_id: str) -> None:
    cur.execute(
        "DELETE FROM room_memberships WHERE room_id = ? AND user_id = ?", (room_id, user_id)
    )


def _delete_room_rows(cur: sqlite3.Cursor, room_id: str) -> None:
    """A room and what names it (memberships cascade; its messages stay, its pins go)."""
    cur.execute("DELETE FROM invitations WHERE room_id = ?", (room_id,))
    cur.execute("DELETE FROM room_invite_codes WHERE room_id = ?", (room_id,))
    cur.execute("DELETE FROM pins WHERE room_id = ?", (room_id,))
    cur.execute("DELETE FROM read_markers WHERE target_type = 'room' AND target_id = ?", (room_id,))
    cur.execute("DELETE FROM rooms WHERE id = ?", (room_id,))
