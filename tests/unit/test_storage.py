"""The SQLite store: migrations, connection pragmas, the group commit and the
``IStore`` contract, on a database file and in memory (DOMAIN.md §15)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from twisted.internet import defer
from twisted.internet.testing import MemoryReactor
from zope.interface.verify import verifyObject

from lairchat.core.groupcommit import GroupCommit
from lairchat.domain.errors import LairError
from lairchat.domain.ids import new_id
from lairchat.domain.types import Ban, Invitation, Membership, Message, Room, Session, Target, User
from lairchat.storage.interfaces import IStore
from lairchat.storage.sqlite.migrate import SchemaTooNew, available, migrate
from lairchat.storage.sqlite.pool import (
    BUSY_TIMEOUT_MS,
    ImmediatePool,
    connect,
    open_pools,
)
from lairchat.storage.sqlite.store import SQLiteStore
from lairchat.testing import make_core, result

T0 = 1_700_000_000
WEEK = 7 * 24 * 3600
ORIGINAL_MIGRATIONS = ["001_initial_schema", "002_add_indexes"]
OURS = [
    "003_lairchat_read_markers_and_bans",
    "004_lairchat_leaner_message_indexes",
    "005_lairchat_dm_index_only_on_dms",
    "006_lairchat_message_seq_floor",
    "008_lairchat_read_indexes",
    "009_lairchat_dm_read_floors",
    "010_lairchat_user_deletions",
    "011_lairchat_reactions",
    "012_lairchat_pins",
    "013_lairchat_admin_audit",
    "014_lairchat_two_factor",
    "015_lairchat_invite_codes",
    "016_lairchat_message_tally",
]


def fails(d: defer.Deferred, code: str) -> None:
    with pytest.raises(LairError) as info:
        result(d)
    assert info.value.code == code


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(params=["memory", "file"])
def db_path(request, tmp_path) -> str:
    return ":memory:" if request.param == "memory" else str(tmp_path / "lair.db")


@pytest.fixture
def store(db_path):
    """A migrated store; on a file, a separate reader connection (like production)."""
    writer = ImmediatePool(db_path)
    migrate(writer.connection)
    reader = writer if db_path == ":memory:" else ImmediatePool(db_path)
    s = SQLiteStore(writer, reader, db_path)
    yield s
    s.close()


class Rows:
    """Builds records through the store under test."""

    def __init__(self, store: SQLiteStore):
        self.store = store

    def user(self, name: str, email: str | None = None, t: float = T0) -> User:
        user = User(new_id(), name, email or f"{name}@x.io", "user", t, t, "hash")
        return result(self.store.create_user(user))

    def room(
        self,
        owner: User,
        name: str,
        private: bool = False,
        max_members: int | None = None,
        t: float = T0,
    ) -> Room:
        room = Room(new_id(), name, owner.id, None, private, max_members, t, t)
        return result(self.store.create_room(room, Membership(room.id, owner.id, "owner", t)))

    def join(self, room: Room, user: User, t: float = T0, role: str = "member") -> Membership:
        return result(self.store.add_membership(Membership(room.id, user.id, role, t), None, None))

    def message(self, author: User, target: Target, content: str = "hi", t: float = T0) -> Message:
        message = Message(new_id(), author.id, target, content, False, t, t)
        result(self.store.insert_messages([message]))
        return message

    def invitation(
        self, room: Room, inviter: User, invitee: User, t: float = T0, now: float | None = None
    ) -> Invitation:
        invitation = Invitation(new_id(), room.id, inviter.id, invitee.id, "pending", t, t + WEEK)
        return result(self.store.create_invitation(invitation, t if now is None else now))


@pytest.fixture
def rows(store) -> Rows:
    return Rows(store)


def raw(store: SQLiteStore, sql: str, *args: Any) -> list[tuple]:
    conn = store._writer.connection
    out = conn.execute(sql, args).fetchall()
    conn.commit()
    return out


# -- migrations -----------------------------------------------------------------------


def test_shipped_migrations_keep_the_original_names():
    names = [name for name, _ in available()]
    assert names[:2] == ORIGINAL_MIGRATIONS
    assert names == sorted(names)
    assert names == ORIGINAL_MIGRATIONS + OURS


def test_migrate_applies_all_and_records_them(db_path):
    conn = connect(db_path)
    assert migrate(conn) == ORIGINAL_MIGRATIONS + OURS
    recorded = conn.execute("SELECT id, name, applied_at FROM _migrations ORDER BY id").fetchall()
    assert [r[1] for r in recorded] == ORIGINAL_MIGRATIONS + OURS
    assert [r[0] for r in recorded] == list(range(1, len(recorded) + 1))
    assert all(isinstance(r[2], int) and r[2] > T0 for r in recorded)
    # Running again is a no-op.
    assert migrate(conn) == []
    assert conn.execute("SELECT COUNT(*) FROM _migrations").fetchone()[0] == len(recorded)


def test_migrate_upgrades_a_database_made_by_the_original(tmp_path):
    path = str(tmp_path / "original.db")
    conn = connect(path)
    conn.execute(
        "CREATE TABLE _migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "name TEXT UNIQUE NOT NULL, applied_at INTEGER NOT NULL)"
    )
    for name, sql in available()[:2]:
        conn.executescript(sql)
        conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, 1)", (name,))
    conn.commit()
    assert migrate(conn) == OURS
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"read_markers", "bans"} <= tables


def test_unknown_migration_means_schema_too_new(db_path):
    conn = connect(db_path)
    migrate(conn)
    conn.execute("INSERT INTO _migrations (name, applied_at) VALUES ('999_from_the_future', 0)")
    conn.commit()
    with pytest.raises(SchemaTooNew, match="999_from_the_future"):
        migrate(conn)


def test_schema_too_new_is_raised_before_anything_is_applied(tmp_path):
    conn = connect(str(tmp_path / "new.db"))
    conn.execute(
        "CREATE TABLE _migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "name TEXT UNIQUE NOT NULL, applied_at INTEGER NOT NULL)"
    )
    conn.execute("INSERT INTO _migrations (name, applied_at) VALUES ('004_later', 0)")
    conn.commit()
    with pytest.raises(SchemaTooNew):
        migrate(conn)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "users" not in tables


SCHEMA = {
    "users": [
        "id",
        "username",
        "email",
        "password_hash",
        "role",
        "created_at",
        "updated_at",
        "last_seen_at",
    ],
    "rooms": [
        "id",
        "name",
        "description",
        "owner_id",
        "is_private",
        "max_members",
        "created_at",
        "updated_at",
    ],
    "room_memberships": ["room_id", "user_id", "role", "joined_at"],
    "messages": [
        "id",
        "author_id",
        "target_type",
        "target_id",
        "content",
        "is_edited",
        "created_at",
        "updated_at",
    ],
    "sessions": [
        "id",
        "user_id",
        "protocol",
        "ip_address",
        "user_agent",
        "created_at",
        "expires_at",
        "last_active_at",
    ],
    "invitations": [
        "id",
        "room_id",
        "inviter_id",
        "invitee_id",
        "status",
        "message",
        "created_at",
        "responded_at",
        "expires_at",
    ],
    "_migrations": ["id", "name", "applied_at"],
}
ORIGINAL_INDEXES = {
    "idx_users_username",
    "idx_users_email",
    "idx_users_role",
    "idx_rooms_name",
    "idx_rooms_owner",
    "idx_rooms_private",
    "idx_memberships_user",
    "idx_memberships_room",
    "idx_messages_target",
    "idx_sessions_user",
    "idx_sessions_expires",
    "idx_invitations_room",
    "idx_invitations_invitee",
    "idx_invitations_inviter",
    "idx_invitations_status",
}


def test_schema_matches_the_original():
    conn = connect(":memory:")
    migrate(conn)
    for table, columns in SCHEMA.items():
        assert [r[1] for r in conn.execute(f"PRAGMA table_info({table})")] == columns, table
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert indexes >= ORIGINAL_INDEXES
    # Two of the original's message indexes are dropped on purpose (migration 004):
    # no query uses them, and every insert paid for them.
    assert not indexes & {"idx_messages_created", "idx_messages_author"}


# -- pragmas and pools ----------------------------------------------------------------


def test_file_connection_pragmas(tmp_path):
    conn = connect(str(tmp_path / "p.db"))
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000  # SQLite's
    assert conn.execute("PRAGMA journal_size_limit").fetchone()[0] == 64 * 1024 * 1024
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 2  # FAST


def test_foreign_keys_are_enforced(store):
    with pytest.raises(sqlite3.IntegrityError):
        result(store.create_session(Session(new_id(), new_id(), T0, T0 + 60)))


def test_open_pools_one_writer_and_readers():
    reactor = MemoryReactor()
    writer, reader = open_pools(":memory:", reactor)
    assert writer is reader
    writer, reader = open_pools("/nonexistent/never-opened.db", reactor, readers=3)
    assert writer is not reader
    assert (writer.min, writer.max) == (1, 1)
    assert reader.max == 3
    assert writer.openfun is reader.openfun
    conn = sqlite3.connect(":memory:")
    writer.openfun(conn)  # configure_connection, after faults.log_check
    assert conn.execute("PRAGMA busy_timeout").fetchone() == (BUSY_TIMEOUT_MS,)


def test_store_provides_the_interface(store):
    assert verifyObject(IStore, store)


# -- group commit ---------------------------------------------------------------------


class ManualPool:
    """An adbapi-shaped pool whose transactions wait until the test runs them."""

    def __init__(self, inner: ImmediatePool):
        self.inner = inner
        self.connection = inner.connection
        self.waiting: list[tuple[Any, tuple, defer.Deferred]] = []
        self.started = 0

    def runInteraction(self, fn, *args):  # noqa: N802 (adbapi name)
        d: defer.Deferred = defer.Deferred()
        self.waiting.append((fn, args, d))
        self.started += 1
        return d

    def run_next(self) -> None:
        fn, args, d = self.waiting.pop(0)
        self.inner.runInteraction(fn, *args).chainDeferred(d)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def manual():
    """``(store, pool, author, room_target)`` with writes held until ``pool.run_next()``."""
    inner = ImmediatePool(":memory:")
    migrate(inner.connection)
    setup = SQLiteStore(inner, inner)
    author = Rows(setup).user("alice")
    room = Rows(setup).room(author, "general")
    pool = ManualPool(inner)
    return SQLiteStore(pool, inner), pool, author, Target("room", room.id)


def fired(d: defer.Deferred) -> list:
    out: list = []
    d.addBoth(out.append)
    return out


def new_message(author: User, target: Target, content: str, mid: str | None = None) -> Message:
    return Message(mid or new_id(), author.id, target, content, False, T0, T0)


def stored_contents(store: SQLiteStore) -> list[str]:
    return [r[0] for r in raw(store, "SELECT content FROM messages ORDER BY rowid")]


def test_messages_arriving_during_a_flush_commit_together(manual):
    store, pool, author, target = manual
    add = GroupCommit(store.insert_messages).add
    first = fired(add(new_message(author, target, "one")))
    assert len(pool.waiting) == 1
    later = [fired(add(new_message(author, target, c))) for c in ("two", "3")]
    assert len(pool.waiting) == 1  # queued behind the running flush, no new transaction
    assert first == [] and later == [[], []]

    pool.run_next()
    assert len(first) == 1 and isinstance(first[0], int)
    assert later == [[], []]  # not acknowledged before their own commit
    assert len(pool.waiting) == 1  # one transaction for both

    pool.run_next()
    seqs = [first[0], later[0][0], later[1][0]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert pool.started == 2
    assert stored_contents(store) == ["one", "two", "3"]


def test_message_seq_is_set_on_the_object_after_commit(manual):
    store, pool, author, target = manual
    add = GroupCommit(store.insert_messages).add
    message = new_message(author, target, "x")
    d = fired(add(message))
    assert message.seq == 0
    pool.run_next()
    assert message.seq == d[0] == raw(store, "SELECT rowid FROM messages")[0][0]


def test_a_failed_batch_errbacks_every_deferred_and_keeps_nothing(manual):
    store, pool, author, target = manual
    add = GroupCommit(store.insert_messages).add
    taken = new_id()
    first = fired(add(new_message(author, target, "one", taken)))
    second = fired(add(new_message(author, target, "two")))
    dup = fired(add(new_message(author, target, "dup", taken)))
    pool.run_next()
    pool.run_next()
    assert isinstance(first[0], int)
    for out in (second, dup):
        assert len(out) == 1
        assert out[0].check(sqlite3.IntegrityError)
    assert stored_contents(store) == ["one"]  # the whole batch rolled back
    # The store recovers: the next message starts a fresh batch.
    after = fired(add(new_message(author, target, "after")))
    pool.run_next()
    assert isinstance(after[0], int) and after[0] > first[0]
    assert stored_contents(store) == ["one", "after"]


def test_a_deleted_authors_message_fails_alone_and_the_others_are_numbered(manual):
    """An account deleted while its message waited for the batch: that message fails
    as the account's connections are told; before, its foreign key failed everyone's."""
    store, pool, author, target = manual
    add = GroupCommit(store.insert_messages).add
    first = fired(add(new_message(author, target, "one")))
    ghost = User(new_id(), "ghost", "g@example.com", "user", T0, T0)
    queued = [new_message(author, target, "two"), new_message(ghost, target, "boo")]
    queued.append(new_message(author, target, "three"))
    outs = [fired(add(m)) for m in queued]
    pool.run_next()
    pool.run_next()
    (two,), (boo,), (three,) = outs
    assert boo.value.code == "session_not_found"
    assert "account was deleted" in boo.value.message
    assert (two, three) == (first[0] + 1, first[0] + 2)
    assert (queued[0].seq, queued[2].seq) == (two, three)
    assert stored_contents(store) == ["one", "two", "three"]


def test_messages_sent_from_a_commit_callback_wait_for_one_next_batch(manual):
    """A sender resuming after its commit (e.g. the next pipelined command) queues
    behind the batch being acknowledged instead of starting concurrent flushes."""
    store, pool, author, target = manual
    add = GroupCommit(store.insert_messages).add
    followers: list[list] = []

    def send_two_more(_):
        followers.extend(fired(add(new_message(author, target, c))) for c in ("b", "c"))
        return _

    add(new_message(author, target, "a")).addCallback(send_two_more)
    pool.run_next()
    assert len(pool.waiting) == 1, "both follow-ups belong in one transaction"
    pool.run_next()
    assert [len(f) for f in followers] == [1, 1]
    assert pool.started == 2
    assert stored_contents(store) == ["a", "b", "c"]


def test_a_core_restarted_on_a_file_loads_its_indexes(tmp_path):
    path = str(tmp_path / "restart.db")
    first = make_core(path)
    rows = Rows(first.store)
    alice, bob = rows.user("alice"), rows.user("bob")
    room = rows.room(alice, "general")
    rows.join(room, bob)
    first.store.close()
    again = make_core(path)
    assert again.hub.members(room.id) == {alice.id, bob.id}
    assert again.hub.username(bob.id) == "bob"
    assert result(again.store.get_room(room.id)).name == "general"


# -- users ----------------------------------------------------------------------------


def test_users_round_trip_with_whole_seconds(store, rows):
    alice = rows.user("alice", t=T0 + 0.75)
    got = result(store.get_user(alice.id))
    assert (got.username, got.email, got.role, got.password_hash) == (
        "alice",
        "alice@x.io",
        "user",
        "hash",
    )
    assert got.created_at == T0 and got.updated_at == T0
    assert result(store.get_user(new_id())) is None


def test_username_and_email_unique_ascii_case_insensitively(store, rows):
    rows.user("alice", "alice@x.io")
    fails(
        store.create_user(User(new_id(), "ALICE", "other@x.io", "user", T0, T0)), "username_taken"
    )
    fails(store.create_user(User(new_id(), "bob", "Alice@X.io", "user", T0, T0)), "email_taken")
    # username is checked before email
    fails(
        store.create_user(User(new_id(), "Alice", "ALICE@x.io", "user", T0, T0)), "username_taken"
    )
    # non-ASCII case variants are distinct (SQLite NOCASE folds ASCII only)
    rows.user("Émile", "e1@x.io")
    rows.user("émile", "e2@x.io")


@pytest.mark.parametrize("identifier", ["alice", "ALICE", "alice@x.io", "Alice@X.IO"])
def test_find_user_by_login(store, rows, identifier):
    alice = rows.user("alice")
    rows.user("bob")
    assert result(store.find_user_by_login(identifier)).id == alice.id


def test_find_user_by_login_unknown(store, rows):
    rows.user("alice")
    assert result(store.find_user_by_login("nobody")) is None


def test_stored_roles_read_leniently(store, rows):
    alice = rows.user("alice")
    for stored, read in (("ADMIN", "admin"), ("Moderator", "moderator"), ("weird", "user")):
        raw(store, "UPDATE users SET role = ? WHERE id = ?", stored, alice.id)
        assert result(store.get_user(alice.id)).role == read


def test_update_user_email(store, rows):
    alice, bob = rows.user("alice"), rows.user("bob")
    updated = result(store.update_user_email(alice.id, "new@x.io", T0 + 100.5))
    assert (updated.email, updated.updated_at, updated.created_at) == ("new@x.io", T0 + 100, T0)
    # own address in another case is not a clash; another user's is
    assert result(store.update_user_email(alice.id, "NEW@x.io", T0)).email == "NEW@x.io"
    fails(store.update_user_email(alice.id, "BOB@x.io", T0), "email_taken")
    assert result(store.get_user(bob.id)).email == "bob@x.io"
    # no email: only updated_at moves
    same = result(store.update_user_email(alice.id, None, T0 + 200))
    assert (same.email, same.updated_at) == ("NEW@x.io", T0 + 200)
    assert result(store.update_user_email(new_id(), None, T0)) is None


def test_update_password_and_set_role(store, rows):
    alice = rows.user("alice")
    kept, ended = (Session(new_id(), alice.id, T0, T0 + 60) for _ in range(2))
    bobs = Session(new_id(), rows.user("bob").id, T0, T0 + 60)
    for session in (kept, ended, bobs):
        result(store.create_session(session))
    assert result(store.update_password(alice.id, "newhash", T0 + 5, keep=kept.id)) == [ended.id]
    got = result(store.get_user(alice.id))
    assert (got.password_hash, got.updated_at) == ("newhash", T0 + 5)
    assert sorted(raw(store, "SELECT id FROM sessions")) == sorted([(kept.id,), (bobs.id,)])
    assert result(store.set_role(alice.id, "admin")).role == "admin"
    assert result(store.set_role(new_id(), "admin")) is None


def test_list_users_ordered_case_insensitively_with_paging(store, rows):
    for name in ("carol", "Bob", "alice", "Dave"):
        rows.user(name)
    names = [u.username for u in result(store.list_users(10, 0, None))]
    assert names == ["alice", "Bob", "carol", "Dave"]
    assert [u.username for u in result(store.list_users(2, 1, None))] == ["Bob", "carol"]
    assert result(store.list_users(0, 0, None)) == []
    assert result(store.user_names()) == {
        u.id: u.username for u in result(store.list_users(10, 0, None))
    }


def test_list_users_search_is_a_literal_substring(store, rows):
    for name in ("a_bc", "abc1", "xyz", "ABCD"):
        rows.user(name)
    assert [u.username for u in result(store.list_users(10, 0, "_"))] == ["a_bc"]
    assert result(store.list_users(10, 0, "%")) == []
    assert [u.username for u in result(store.list_users(10, 0, "bc"))] == ["a_bc", "abc1", "ABCD"]


def test_list_users_search_lists_the_exact_name_first(store, rows):
    for name in ("abob", "Bob", "bob1", "bobby", "xbob"):
        rows.user(name)
    names = [u.username for u in result(store.list_users(10, 0, "BOB"))]
    assert names == ["Bob", "abob", "bob1", "bobby", "xbob"]
    assert [u.username for u in result(store.list_users(1, 0, "bob"))] == ["Bob"]
    assert [u.username for u in result(store.list_users(2, 1, "bob"))] == ["abob", "bob1"]


# -- sessions -------------------------------------------------------------------------


def test_sessions(store, rows):
    alice = rows.user("alice")
    s1 = Session(new_id(), alice.id, T0 + 0.5, T0 + 86400.5)
    s2 = Session(new_id(), alice.id, T0, T0 + 86400)
    result(store.create_session(s1))
    result(store.create_session(s2))
    got = result(store.get_session(s1.id))
    assert (got.user_id, got.created_at, got.expires_at, got.protocol) == (
        alice.id,
        T0,
        T0 + 86400,
        "http",
    )
    row = raw(
        store,
        "SELECT protocol, ip_address, user_agent, last_active_at FROM sessions WHERE id = ?",
        s1.id,
    )
    assert row == [("http", None, None, T0)]
    assert result(store.delete_session(s1.id)) is True
    assert result(store.delete_session(s1.id)) is False
    assert result(store.get_session(s1.id)) is None
    result(store.create_session(Session(new_id(), rows.user("bob").id, T0, T0 + 1)))
    s3 = Session(new_id(), alice.id, T0, T0 + 1)
    result(store.create_session(s3))
    assert result(store.delete_user_sessions(alice.id, keep=s3.id)) == [s2.id]
    assert result(store.get_session(s3.id)) is not None
    assert result(store.delete_user_sessions(alice.id)) == [s3.id]
    assert result(store.get_session(s2.id)) is None
    assert raw(store, "SELECT COUNT(*) FROM sessions") == [(1,)]


def test_a_session_for_a_password_checked_is_created_only_while_it_is_the_users(store, rows):
    alice = rows.user("alice")  # password hash "hash"
    kept = Session(new_id(), alice.id, T0, T0 + 60)
    assert result(store.create_session(kept, "hash")) == kept
    result(store.update_password(alice.id, "new-hash", T0 + 1, keep=kept.id))
    assert result(store.create_session(Session(new_id(), alice.id, T0, T0 + 60), "hash")) is None
    assert raw(store, "SELECT id FROM sessions") == [(kept.id,)]


def test_no_session_is_created_for_a_user_banned_at_its_start(store, rows):
    alice = rows.user("alice")
    result(store.put_ban(Ban(alice.id, "spam", None, T0, T0 + 60)))
    for hash_checked in (None, "hash"):
        refused = Session(new_id(), alice.id, T0 + 59, T0 + 120)
        assert result(store.create_session(refused, hash_checked)) is None
    # The ban's end is its first moment without it (Ban.active: now < expires_at).
    after = Session(new_id(), alice.id, T0 + 60, T0 + 120)
    assert result(store.create_session(after, "hash")) == after
    assert raw(store, "SELECT id FROM sessions") == [(after.id,)]


class _LockProbe(sqlite3.Cursor):
    """After each statement, whether another connection could take the write lock."""

    path = ""
    seen: list[tuple[str, str]] = []

    def execute(self, sql, *args):  # type: ignore[override]
        done = super().execute(sql, *args)
        other = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.rollback()
            self.seen.append((sql.split()[0], "free"))
        except sqlite3.OperationalError:
            self.seen.append((sql.split()[0], "held"))
        other.close()
        return done


def test_a_login_s_session_writes_let_go_of_the_lock_inside_their_statement(tmp_path):
    """A session's insert and its activity update commit inside their one statement,
    so the write lock is never held while the thread waits for the GIL to commit
    (the message writer would wait as long). Other writes, in a transaction of their
    own, still hold it until their commit: the probe sees that too."""
    path = str(tmp_path / "lair.db")

    class Probed(sqlite3.Connection):
        def cursor(self, factory=_LockProbe):  # type: ignore[override]
            return super().cursor(factory)

    conn = sqlite3.connect(path, factory=Probed)
    pool = ImmediatePool(connection=conn)
    migrate(conn)
    store = SQLiteStore(pool, pool, path)
    alice = Rows(store).user("alice")
    _LockProbe.path, _LockProbe.seen = path, []
    session = Session(new_id(), alice.id, T0, T0 + 60)
    assert result(store.create_session(session, "hash")) == session
    result(store.touch_session(session.id, T0 + 120, 60))
    assert _LockProbe.seen == [("INSERT", "free"), ("UPDATE", "free")]
    assert not conn.in_transaction and conn.isolation_level == ""
    assert raw(store, "SELECT last_active_at FROM sessions") == [(T0 + 120,)]
    _LockProbe.seen = []
    Rows(store).room(alice, "General")
    assert ("INSERT", "held") in _LockProbe.seen
    conn.close()


# -- rooms and memberships ------------------------------------------------------------


def test_create_room_with_its_owner(store, rows):
    alice = rows.user("alice")
    room = rows.room(alice, "General", private=True, max_members=5, t=T0 + 0.5)
    got = result(store.get_room(room.id))
    assert (got.name, got.owner, got.is_private, got.max_members, got.created_at) == (
        "General",
        alice.id,
        True,
        5,
        T0,
    )
    membership = result(store.get_membership(room.id, alice.id))
    assert (membership.role, membership.joined_at) == ("owner", T0)
    assert result(store.count_owners(room.id)) == 1
    assert result(store.get_room(new_id())) is None
    fails(
        store.create_room(
            Room(new_id(), "GENERAL", alice.id, None, False, None, T0, T0),
            Membership(new_id(), alice.id, "owner", T0),
        ),
        "room_name_taken",
    )


def test_update_room(store, rows):
    alice = rows.user("alice")
    room, other = rows.room(alice, "general"), rows.room(alice, "random")
    room.name, room.description, room.is_private, room.max_members = "GENERAL", "d", True, 3
    room.updated_at = T0 + 9
    result(store.update_room(room))  # a case-only rename of itself is allowed
    got = result(store.get_room(room.id))
    assert (got.name, got.description, got.is_private, got.max_members, got.updated_at) == (
        "GENERAL",
        "d",
        True,
        3,
        T0 + 9,
    )
    other.name = "General"
    fails(store.update_room(other), "room_name_taken")


def test_delete_room_keeps_messages_and_drops_the_rest(store, rows):
    alice, bob = rows.user("alice"), rows.user("bob")
    room = rows.room(alice, "general")
    rows.join(room, bob)
    rows.invitation(room, alice, rows.user("carol"))
    message = rows.message(alice, Target("room", room.id))
    result(store.mark_read([(bob.id, Target("room", room.id), message.seq)], T0))
    result(store.delete_room(room.id))
    assert result(store.get_room(room.id)) is None
    assert raw(store, "SELECT COUNT(*) FROM room_memberships") == [(0,)]
    assert raw(store, "SELECT COUNT(*) FROM invitations") == [(0,)]
    assert raw(store, "SELECT COUNT(*) FROM read_markers") == [(0,)]
    assert result(store.get_message(message.id)) is not None  # orphaned, as the original


def test_room_listings(store, rows):
    alice, bob = rows.user("alice"), rows.user("bob")
    zeta = rows.room(alice, "zeta")
    beta = rows.room(alice, "Beta")
    secret = rows.room(bob, "alpha-secret", private=True)
    rows.join(zeta, bob)
    public = result(store.list_public_rooms(10, 0, None))
    assert [(r.name, n) for r, n in public] == [("Beta", 1), ("zeta", 2)]
    assert [r.name for r, _ in result(store.list_public_rooms(1, 1, None))] == ["zeta"]
    assert [r.name for r, _ in result(store.list_public_rooms(10, 0, "BET"))] == ["Beta"]
    joined = result(store.list_joined_rooms(bob.id, 10, 0))
    assert [(r.id, n) for r, n in joined] == [(secret.id, 1), (zeta.id, 2)]
    assert [r.id for r, _ in result(store.list_joined_rooms(alice.id, 10, 0))] == [
        beta.id,
        zeta.id,
    ]
    assert result(store.member_count(zeta.id)) == 2
    assert sorted(result(store.all_memberships())) == sorted(
        [(zeta.id, alice.id), (zeta.id, bob.id), (beta.id, alice.id), (secret.id, bob.id)]
    )


def test_add_membership_checks_and_accepts_the_invitation(store, rows):
    alice, bob, carol = rows.user("alice"), rows.user("bob"), rows.user("carol")
    room = rows.room(alice, "general", max_members=2)
    invitation = rows.invitation(room, alice, bob)
    fails(
        store.add_membership(Membership(room.id, alice.id, "member", T0), 2, None),
        "already_member",
    )
    result(store.add_membership(Membership(room.id, bob.id, "member", T0 + 1), 2, T0 + 1))
    got = result(store.get_invitation(invitation.id))
    assert (got.status, got.responded_at) == ("accepted", T0 + 1)
    fails(store.add_membership(Membership(room.id, carol.id, "member", T0), 2, None), "room_full")
    # duplicate is reported before capacity
    fails(
        store.add_membership(Membership(room.id, bob.id, "member", T0), 2, None), "already_member"
    )


def test_max_members_zero_makes_a_room_unjoinable(store, rows):
    alice, bob = rows.user("alice"), rows.user("bob")
    room = rows.room(alice, "closed", max_members=0)
    fails(store.add_membership(Membership(room.id, bob.id, "member", T0), 0, None), "room_full")


def test_membership_roles_and_removal(store, rows):
    alice, bob, carol = rows.user("alice"), rows.user("bob"), rows.user("carol")
    room = rows.room(alice, "general")
    rows.join(room, carol, t=T0 + 5)
    rows.join(room, bob, t=T0 + 5)  # same second: insertion order breaks the tie
    result(store.set_member_role(room.id, bob.id, "owner"))
    assert result(store.count_owners(room.id)) == 2
    raw(store, "UPDATE room_memberships SET role = 'admin' WHERE user_id = ?", carol.id)
    assert result(store.get_membership(room.id, carol.id)).role == "moderator"
    members = result(store.list_members(room.id))
    assert [(m.username, m.role) for m in members] == [
        ("alice", "owner"),
        ("carol", "moderator"),
        ("bob", "owner"),
    ]
    assert result(store.remove_membership(room.id, bob.id)) is True
    assert result(store.remove_membership(room.id, bob.id)) is False
    assert result(store.get_membership(room.id, bob.id)) is None


# -- messages -------------------------------------------------------------------------


def test_message_round_trip_edit_delete(store, rows):
    alice = rows.user("alice")
    room = rows.room(alice, "general")
    message = rows.message(alice, Target("room", room.id), " hi ", t=T0 + 0.5)
    got = result(store.get_message(message.id))
    assert (got.author, got.target, got.content, got.edited, got.created_at, got.seq) == (
        alice.id,
        Target("room", room.id),
        " hi ",
        False,
        T0,
        message.seq,
    )
    assert result(store.seq_of(message.id)) == message.seq
    result(store.update_message_content(message.id, "edited", T0 + 60))
    got = result(store.get_message(message.id))
    assert (got.content, got.edited, got.created_at, got.updated_at) == (
        "edited",
        True,
        T0,
        T0 + 60,
    )
    result(store.delete_message(message.id))
    assert result(store.get_message(message.id)) is None
    assert result(store.seq_of(message.id)) is None


def test_dm_history_is_the_unordered_pair(store, rows):
    alice, bob, carol = rows.user("alice"), rows.user("bob"), rows.user("carol")
    ab = rows.message(alice, Target("dm", bob.id), "a→b")
    ba = rows.message(bob, Target("dm", alice.id), "b→a")
    rows.message(alice, Target("dm", carol.id), "a→c")
    rows.message(carol, Target("dm", bob.id), "c→b")
    note = rows.message(alice, Target("dm", alice.id), "note")
    page = result(store.history(Target("dm", bob.id), alice.id, 10, None, None))
    assert [m.id for m in page] == [ba.id, ab.id]
    page = result(store.history(Target("dm", alice.id), bob.id, 10, None, None))
    assert [m.id for m in page] == [ba.id, ab.id]
    assert [
        m.id for m in result(store.history(Target("dm", alice.id), alice.id, 10, None, None))
    ] == [note.id]
    assert result(store.latest_seq(Target("dm", bob.id), alice.id)) == ba.seq


def test_room_history_bounds(store, rows):
    alice = rows.user("alice")
    room = Target("room", rows.room(alice, "general").id)
    other = Target("room", rows.room(alice, "other").id)
    ms = [rows.message(alice, room, str(i), t=T0 + 10 * i) for i in range(5)]
    rows.message(alice, other, "elsewhere")

    def page(limit=10, before=None, after=None):
        return [m.content for m in result(store.history(room, alice.id, limit, before, after))]

    assert page() == ["4", "3", "2", "1", "0"]
    assert page(limit=2) == ["4", "3"]
    assert page(before=("seq", ms[3].seq)) == ["2", "1", "0"]
    assert page(after=("seq", ms[1].seq)) == ["4", "3", "2"]
    assert page(limit=2, after=("seq", ms[0].seq)) == ["2", "1"]  # the oldest after the cursor
    assert page(before=("seq", ms[4].seq), after=("seq", ms[1].seq)) == ["3", "2"]
    assert page(before=("time", T0 + 20)) == ["1", "0"]
    assert page(after=("time", T0 + 20)) == ["4", "3"]
    assert result(store.latest_seq(room, alice.id)) == ms[4].seq
    assert result(store.latest_seq(Target("room", new_id()), alice.id)) == 0


def test_unread_counts_and_read_markers(store, rows):
    alice, bob, carol = rows.user("alice"), rows.user("bob"), rows.user("carol")
    room = rows.room(alice, "general")
    quiet = rows.room(alice, "quiet")
    rows.join(room, bob)
    target = Target("room", room.id)
    sent = [rows.message(bob, target, str(i)) for i in range(3)]
    rows.message(alice, target, "mine")  # own messages are never unread
    rows.message(carol, Target("dm", alice.id), "c1")
    rows.message(carol, Target("dm", alice.id), "c2")
    rows.message(alice, Target("dm", carol.id), "to carol")
    rows.message(carol, Target("dm", bob.id), "not alice's")

    counts = result(store.unread_counts(alice.id, [room.id, quiet.id], alice.username))
    none: dict = {"by_room": {}, "by_dm": {}}  # no message mentions alice
    assert counts == {"by_room": {room.id: 3}, "by_dm": {carol.id: 2}, "mentions": none}
    assert result(store.unread_count(alice.id, target, alice.username)) == (3, 0)

    result(store.mark_read([(alice.id, target, sent[1].seq)], T0))
    assert result(store.unread_count(alice.id, target, alice.username)) == (1, 0)
    result(store.mark_read([(alice.id, target, sent[0].seq)], T0))  # never moves back
    assert result(store.unread_count(alice.id, target, alice.username)) == (1, 0)
    result(store.mark_read([(alice.id, Target("dm", carol.id), 10**9)], T0))
    assert result(store.unread_counts(alice.id, [room.id], alice.username)) == {
        "by_room": {room.id: 1},
        "by_dm": {},
        "mentions": none,
    }


def test_a_deleted_newest_message_s_seq_is_never_given_again(store, rows):
    """SQLite numbers a new row max(rowid) + 1: deleting the newest message would hand
    its seq to the next one, which a read marker at that seq then counts as read."""
    alice, bob = rows.user("alice"), rows.user("bob")
    room = rows.room(alice, "general")
    rows.join(room, bob)
    target = Target("room", room.id)
    first, newest = rows.message(alice, target, "1"), rows.message(alice, target, "2")
    result(store.mark_read([(bob.id, target, newest.seq)], T0))
    result(store.delete_message(newest.id))
    result(store.delete_message(first.id))  # an older one moves nothing back
    again = rows.message(alice, target, "3")
    assert again.seq == newest.seq + 1
    assert result(store.get_message(again.id)).seq == again.seq
    assert result(store.unread_count(bob.id, target, bob.username)) == (1, 0)
    after = [rows.message(alice, target, c) for c in ("4", "5")]  # numbered on from there
    assert [m.seq for m in after] == [again.seq + 1, again.seq + 2]


# -- invitations ----------------------------------------------------------------------


def test_invitation_enriched_and_unique_while_pending(store, rows):
    alice, bob = rows.user("alice"), rows.user("bob")
    room = rows.room(alice, "general")
    invitation = rows.invitation(room, alice, bob)
    got = result(store.get_invitation(invitation.id))
    assert (got.room_name, got.inviter_name, got.invitee_name, got.status) == (
        "general",
        "alice",
        "bob",
        "pending",
    )
    assert (got.created_at, got.expires_at, got.responded_at) == (T0, T0 + WEEK, None)
    assert raw(store, "SELECT message FROM invitations") == [(None,)]
    assert result(store.get_invitation(new_id())) is None
    again = Invitation(new_id(), room.id, alice.id, bob.id, "pending", T0, T0 + WEEK)
    fails(store.create_invitation(again, T0 + WEEK - 1), "already_invited")
    result(store.create_invitation(again, T0 + WEEK))  # the first one has expired


def test_invitation_after_a_response_is_allowed(store, rows):
    alice, bob = rows.user("alice"), rows.user("bob")
    room = rows.room(alice, "general")
    first = rows.invitation(room, alice, bob)
    result(store.set_invitation_status(first.id, "declined", T0 + 3))
    got = result(store.get_invitation(first.id))
    assert (got.status, got.responded_at) == ("declined", T0 + 3)
    rows.invitation(room, alice, bob, t=T0 + 4)


def test_pending_invitations_listing(store, rows):
    alice, bob = rows.user("alice"), rows.user("bob")
    r1, r2, r3, r4 = (rows.room(alice, n) for n in ("r1", "r2", "r3", "r4"))
    old = rows.invitation(r1, alice, bob, t=T0 - WEEK + 10)  # expires at T0 + 10
    i2 = rows.invitation(r2, alice, bob, t=T0 + 1)
    i3 = rows.invitation(r3, alice, bob, t=T0 + 2)
    done = rows.invitation(r4, alice, bob, t=T0 + 3)
    result(store.set_invitation_status(done.id, "accepted", T0 + 3))
    listed = result(store.list_pending_invitations(bob.id, T0 + 5))
    assert [i.id for i in listed] == [i3.id, i2.id, old.id]
    listed = result(store.list_pending_invitations(bob.id, T0 + 10))
    assert [i.id for i in listed] == [i3.id, i2.id]
    assert result(store.list_pending_invitations(alice.id, T0)) == []
    assert result(store.find_pending_invitation(r2.id, bob.id, T0)).id == i2.id
    assert result(store.find_pending_invitation(r1.id, bob.id, T0 + 10)) is None
    assert result(store.find_pending_invitation(r4.id, bob.id, T0)) is None


# -- admin ----------------------------------------------------------------------------


def test_counts_bans_and_ping(store, rows):
    alice, bob = rows.user("alice"), rows.user("bob")
    room = rows.room(alice, "general")
    rows.message(alice, Target("room", room.id))
    rows.message(alice, Target("dm", bob.id))
    assert result(store.counts()) == {"users": 2, "rooms": 1, "messages": 2}
    assert result(store.get_ban(bob.id)) is None
    result(store.set_role(alice.id, "admin"))  # only an admin's ban is written
    result(store.put_ban(Ban(bob.id, "spam", alice.id, T0 + 0.5, None)))
    ban = result(store.get_ban(bob.id))
    assert (ban.reason, ban.banned_by, ban.created_at, ban.expires_at) == (
        "spam",
        alice.id,
        T0,
        None,
    )
    result(store.put_ban(Ban(bob.id, None, None, T0, T0 + 3600.9)))  # replaces
    ban = result(store.get_ban(bob.id))
    assert (ban.reason, ban.expires_at) == (None, T0 + 3600)
    assert result(store.delete_ban(bob.id)) is True
    assert result(store.delete_ban(bob.id)) is False
    assert result(store.ping()) is True


def test_a_ban_or_unban_is_decided_in_its_write(store, rows):
    """Its author must still be an admin neither banned nor deleted (the operator,
    None, always can); its user must be there and not being deleted."""
    root, alice, bob = rows.user("root"), rows.user("alice"), rows.user("bob")
    fails(store.put_ban(Ban(bob.id, None, root.id, T0, None)), "permission_denied")
    fails(store.delete_ban(bob.id, root.id, T0), "permission_denied")
    result(store.set_role(root.id, "Admin"))  # as read: admin
    result(store.put_ban(Ban(bob.id, None, root.id, T0, None)))
    result(store.begin_deletion(bob.id, T0))
    fails(store.put_ban(Ban(bob.id, None, root.id, T0, None)), "user_not_found")
    fails(store.put_ban(Ban(bob.id, None, None, T0, None)), "user_not_found")
    fails(store.delete_ban(bob.id, None, T0), "user_not_found")
    fails(store.put_ban(Ban(new_id(), None, None, T0, None)), "user_not_found")
    result(store.begin_deletion(root.id, T0))
    fails(store.put_ban(Ban(alice.id, None, root.id, T0, None)), "session_not_found")
    assert result(store.get_ban(alice.id)) is None
