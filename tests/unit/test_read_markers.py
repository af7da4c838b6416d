"""Read markers and unread counts against hostile cases: what moving a marker costs
the writer, and what counts after edits, deletions, leaving, kicks, bans and ids
of the wrong conversation (docs/protocols/HTTP.md, ``/users/me`` and
``POST /messages/read``; TCP.md, ``mark_read``)."""

from __future__ import annotations

import os
import random
import sqlite3
import uuid

import pytest
from twisted.internet import defer, task

import lairchat.core.passwords
from lairchat.domain.types import Target
from lairchat.storage.sqlite import store as store_module
from lairchat.storage.sqlite.migrate import migrate
from lairchat.storage.sqlite.store import DM_FLOOR_STEP
from lairchat.testing import make_core, result
from lairchat.transports.http.testing import CHEAP_HASHER
from tests.unit import test_core_messages as base
from tests.unit.test_http_ratelimit import limited_client
from tests.unit.test_mention_counts import unbounded
from tests.unit.test_read_scale import Traced

# The fixtures of the message tests: room "general", alice its owner, carol a
# moderator, bob and erin members, dave outside.
w, s, send = base.w, base.s, base.send

#: The store's mention counts when no message mentions the reader, and /users/me's.
NO_MENTIONS: dict = {"by_room": {}, "by_dm": {}}
NONE = {"total": 0, **NO_MENTIONS}


def unread(w, user) -> dict:
    return w.ok(w.core.messages.unread_counts(user))


def hold_marker_writes(w) -> tuple[list[tuple[list, defer.Deferred]], object]:
    """Make the store's marker writes wait: each call is recorded with a Deferred the
    test fires once it has run the real write (returned too) on the moves."""
    writes: list[tuple[list, defer.Deferred]] = []

    def held(moves, now):
        d: defer.Deferred = defer.Deferred()
        writes.append((list(moves), d))
        return d

    real, w.core.store.mark_read = w.core.store.mark_read, held
    return writes, real


# -- what a marker's move costs ---------------------------------------------------------


def test_markers_moved_at_once_share_one_transaction(w, s):
    """Found by reading the code: each mark_read was a transaction of its own on the
    writer (a sync to disk), and the web client marks its open conversation read a
    second after each message: a room of N readers cost N commits per message,
    waiting one behind another on the lock message commits need too."""
    for user in (s.alice, s.carol):
        send(w, user, s.target)
    assert [unread(w, u)["total"] for u in (s.alice, s.bob, s.carol)] == [1, 2, 1]
    writes, real = hold_marker_writes(w)
    answers = [w.core.messages.mark_read(u, s.target, None) for u in (s.alice, s.bob, s.carol)]
    assert [len(moves) for moves, _ in writes] == [1]  # the first one is being written
    first, d = writes[0]
    result(real(first, 0))
    d.callback(None)
    assert [len(moves) for moves, _ in writes] == [1, 2]  # the others, together
    rest, d = writes[1]
    assert [user_id for user_id, _, _ in rest] == [s.bob.id, s.carol.id]
    result(real(rest, 0))
    d.callback(None)
    assert [result(a)["unread_count"] for a in answers] == [0, 0, 0]  # each after its commit
    assert [unread(w, u)["total"] for u in (s.alice, s.bob, s.carol)] == [0, 0, 0]


def test_two_devices_marking_at_once_keep_the_furthest_marker(w, s):
    """Both moves in one transaction, the further one first: the marker stays there,
    and both devices are answered with the count it leaves."""
    sent = [send(w, s.alice, s.target, str(i)) for i in range(3)]
    send(w, s.carol, s.target, "to mark read first")  # holds the writer meanwhile
    writes, real = hold_marker_writes(w)
    first = w.core.messages.mark_read(s.carol, s.target, None)
    far = w.core.messages.mark_read(s.bob, s.target, sent[2].id)
    near = w.core.messages.mark_read(s.bob, s.target, sent[0].id)
    while writes:
        moves, d = writes.pop(0)
        result(real(moves, 0))
        d.callback(None)
    assert [result(d)["unread_count"] for d in (first, far, near)] == [0, 1, 1]  # carol's left
    assert unread(w, s.bob)["by_room"] == {s.room.id: 1}


def test_a_marker_that_does_not_move_writes_nothing(tmp_path):
    """A mark_read that moves nothing (a second device, a conversation opened again,
    an older ``up_to``) rewrote the row's ``updated_at``: a commit with a page to
    sync, for nothing. Now the write leaves the row alone, and the log stays as it
    was."""
    path = str(tmp_path / "chat.db")
    core = make_core(path, task.Clock())
    store = core.store
    alice = result(core.auth.register("alice", "alice@example.com", "password1")).user
    bob = result(core.auth.register("bob", "bob@example.com", "password1")).user
    target = Target("dm", alice.id)
    sent = [result(core.messages.send(alice, Target("dm", bob.id), f"m{i}")) for i in range(2)]
    result(store.mark_read([(bob.id, target, sent[1].seq)], 100))
    wal = os.path.getsize(path + "-wal")
    for seq in (sent[1].seq, sent[0].seq, 0):
        result(store.mark_read([(bob.id, target, seq)], 200))
    assert os.path.getsize(path + "-wal") == wal
    raw = store._reader.connection.execute(  # noqa: SLF001 (the row itself)
        "SELECT last_read_seq, updated_at FROM read_markers"
    ).fetchall()
    assert raw == [(sent[1].seq, 100)]
    assert result(store.unread_count(bob.id, target, "bob")) == (0, 0)


def test_a_marker_written_after_its_room_was_deleted_is_not_kept(w, s):
    """Found by following a mark_read through: membership is checked, then the marker
    waits for the write in flight, and the room can be deleted meanwhile. Its read
    markers were deleted with it, and then this one was written: a row for a room
    that is gone, kept for good (room ids are never reused, so it never counted, it
    only stayed)."""
    send(w, s.alice, s.target)
    writes, real = hold_marker_writes(w)
    answers = [w.core.messages.mark_read(u, s.target, None) for u in (s.carol, s.bob)]
    w.ok(w.core.rooms.delete(s.alice, s.room.id))
    while writes:
        moves, d = writes.pop(0)
        result(real(moves, 0))
        d.callback(None)
    for answer in answers:  # answered: they were members when they asked
        assert isinstance(result(answer)["unread_count"], int)
    left = w.core.store._reader.connection.execute(  # noqa: SLF001 (the rows themselves)
        "SELECT count(*) FROM read_markers WHERE target_id = ?", (s.room.id,)
    ).fetchone()[0]
    assert left == 0


def test_a_marker_of_a_user_deleted_meanwhile_fails_no_one_else_s(w, s):
    """helper-69's note on account deletion: read_markers.user_id references users, so
    one move of a user whose row went while the move waited failed the batch's
    transaction, and every other reader's mark_read in it with it."""
    from lairchat.core.retention import PAUSE

    send(w, s.alice, s.target)
    writes, real = hold_marker_writes(w)
    first = w.core.messages.mark_read(s.carol, s.target, None)  # holds the writer
    batch = [w.core.messages.mark_read(u, s.target, None) for u in (s.bob, s.erin)]
    deleted = w.core.deletion.delete(s.bob.id)
    for _ in range(1000):  # the erasure's pauses, then the row
        if not w.core.deletion._running:  # noqa: SLF001 (finished)
            break
        w.clock.advance(PAUSE)
    assert result(deleted) >= 1
    while writes:
        moves, d = writes.pop(0)
        result(real(moves, 0))
        d.callback(None)
    assert result(first)["unread_count"] == 0
    assert result(batch[1])["unread_count"] == 0  # erin's, answered and kept
    assert unread(w, s.erin)["total"] == 0
    rows = w.core.store._reader.connection.execute(  # noqa: SLF001 (the rows themselves)
        "SELECT count(*) FROM read_markers WHERE user_id = ?", (s.bob.id,)
    ).fetchone()[0]
    assert rows == 0


# -- what counts ------------------------------------------------------------------------


def test_edits_never_make_a_read_message_unread_again(w, s):
    message = send(w, s.alice, s.target, "typo")
    assert w.ok(w.core.messages.mark_read(s.bob, s.target, None)) == {
        "unread_count": 0,
        "mention_count": 0,
    }
    w.ok(w.core.messages.edit(s.alice, message.id, "fixed"))
    assert unread(w, s.bob)["total"] == 0


def test_deleted_messages_stop_counting_whoever_deletes_them(w, s):
    first, second = send(w, s.alice, s.target, "1"), send(w, s.bob, s.target, "2")
    third = send(w, s.bob, s.target, "3")
    assert unread(w, s.carol)["by_room"] == {s.room.id: 3}
    w.ok(w.core.messages.delete(s.alice, first.id))  # by its author
    w.ok(w.core.messages.delete(s.carol, second.id))  # by a moderator
    assert unread(w, s.carol)["by_room"] == {s.room.id: 1}
    # A deleted message's id marks nothing: the marker stays where it was.
    w.fails(w.core.messages.mark_read(s.carol, s.target, second.id), "message_not_found")
    assert unread(w, s.carol)["by_room"] == {s.room.id: 1}
    assert w.ok(w.core.messages.mark_read(s.carol, s.target, third.id)) == {
        "unread_count": 0,
        "mention_count": 0,
    }


def test_a_banned_author_s_messages_still_count(w, s):
    """A ban ends sessions; it deletes no message, and they stay in history."""
    admin = w.user("root", role="admin")
    send(w, s.bob, s.target, "before the ban")
    send(w, s.bob, Target("dm", s.alice.id), "a dm")
    w.ok(w.core.admin.ban(admin, s.bob.id, None, None))
    assert unread(w, s.alice) == {
        "total": 2,
        "by_room": {s.room.id: 1},
        "by_dm": {s.bob.id: 1},
        "mentions": NONE,
    }
    assert w.ok(w.core.messages.mark_read(s.alice, Target("dm", s.bob.id), None)) == {
        "unread_count": 0,
        "mention_count": 0,
    }


@pytest.mark.parametrize("how", ["leave", "kick"])
def test_out_of_a_room_nothing_counts_and_back_in_what_was_missed_does(w, s, how):
    """The marker stays while the member is out: back in, the messages sent meanwhile
    are unread (they are in the room's history), those read before are not."""
    read = send(w, s.alice, s.target, "read")
    w.ok(w.core.messages.mark_read(s.bob, s.target, read.id))
    if how == "leave":
        w.ok(w.core.rooms.leave(s.bob, s.room.id))
    else:
        w.ok(w.core.rooms.kick(s.alice, s.room.id, s.bob.id))
    send(w, s.alice, s.target, "while out")
    assert unread(w, s.bob) == {"total": 0, "by_room": {}, "by_dm": {}, "mentions": NONE}
    w.fails(w.core.messages.mark_read(s.bob, s.target, None), "not_room_member")
    w.ok(w.core.rooms.join(s.bob, s.room.id))
    assert unread(w, s.bob)["by_room"] == {s.room.id: 1}


def test_a_room_deleted_and_made_again_under_its_name_starts_unread_at_nothing(w, s):
    send(w, s.alice, s.target, "old room")
    w.ok(w.core.rooms.delete(s.alice, s.room.id))
    again = w.ok(w.core.rooms.create(s.alice, "general", None, None))
    w.ok(w.core.rooms.join(s.bob, again.id))
    assert again.id != s.room.id
    assert unread(w, s.bob) == {"total": 0, "by_room": {}, "by_dm": {}, "mentions": NONE}


def test_a_dm_to_oneself_is_never_unread(w, s):
    note = send(w, s.alice, Target("dm", s.alice.id), "note to self")
    assert unread(w, s.alice)["total"] == 0
    assert w.ok(w.core.messages.mark_read(s.alice, Target("dm", s.alice.id), note.id)) == {
        "unread_count": 0,
        "mention_count": 0,
    }


def test_up_to_must_be_a_message_of_that_very_conversation(w, s):
    """Of another room, of a DM with someone else, or of the other kind: never a
    marker moved somewhere it does not belong."""
    other = w.ok(w.core.rooms.create(s.bob, "other", None, None))
    elsewhere = send(w, s.bob, Target("room", other.id), "other room")
    dm_bob = send(w, s.bob, Target("dm", s.alice.id), "to alice")
    dm_carol = send(w, s.carol, Target("dm", s.bob.id), "carol to bob")
    in_room = send(w, s.carol, s.target, "room")
    cases = [
        (s.target, elsewhere.id),
        (s.target, dm_bob.id),
        (Target("dm", s.bob.id), in_room.id),
        (Target("dm", s.bob.id), dm_carol.id),
        (Target("dm", s.carol.id), dm_bob.id),
    ]
    for target, up_to in cases:
        w.fails(w.core.messages.mark_read(s.alice, target, up_to), "message_not_found")
    assert unread(w, s.alice) == {
        "total": 2,
        "by_room": {s.room.id: 1},
        "by_dm": {s.bob.id: 1},
        "mentions": NONE,
    }


def test_an_older_up_to_leaves_the_marker_and_answers_the_current_count(w, s):
    sent = [send(w, s.alice, s.target, str(i)) for i in range(3)]
    assert w.ok(w.core.messages.mark_read(s.bob, s.target, sent[1].id)) == {
        "unread_count": 1,
        "mention_count": 0,
    }
    assert w.ok(w.core.messages.mark_read(s.bob, s.target, sent[0].id)) == {
        "unread_count": 1,
        "mention_count": 0,
    }
    assert unread(w, s.bob)["by_room"] == {s.room.id: 1}


def test_up_to_omitted_on_an_empty_conversation_then_everything_after_counts(w, s):
    assert w.ok(w.core.messages.mark_read(s.bob, Target("dm", s.dave.id), None)) == {
        "unread_count": 0,
        "mention_count": 0,
    }
    send(w, s.dave, Target("dm", s.bob.id), "first")
    assert unread(w, s.bob)["by_dm"] == {s.dave.id: 1}


# -- REST and real-time alike -----------------------------------------------------------


def test_marking_read_over_rest_leaves_the_sending_allowance_alone(monkeypatch):
    """Found by reading the two: real-time ``mark_read`` counts against the general
    allowance only, but ``POST /api/v1/messages/read`` also took from *messaging*,
    the 30 a minute that sending shares. lairchat's terminal client marks read over
    REST twice per conversation switch: a user who switched 15 times in a minute
    was refused sending (429) until the window ended."""
    monkeypatch.setattr(lairchat.core.passwords, "HASHER", CHEAP_HASHER)
    client = limited_client(task.Clock())
    alice = client.register("alice")
    room = client.create_room(alice, "general")
    target = {"type": "room", "room_id": room["id"]}
    for _ in range(30):
        reply = client.post("/api/v1/messages/read", {"target": target}, token=alice.token)
        assert reply.status == 200, reply.json
    sent = client.post("/api/v1/messages", {"target": target, "content": "hi"}, token=alice.token)
    assert sent.status == 201, sent.json


# -- DM partners at scale (migration 009) -------------------------------------------------


def dm_database(path: str, partners: dict[str, int]) -> str:
    """A migrated database where each of ``partners`` (name → how many) sent alice that
    many DMs, all read (her marker at the newest of each); alice's id."""
    conn = sqlite3.connect(path)
    migrate(conn)
    ids = {name: str(uuid.uuid5(uuid.NAMESPACE_DNS, name)) for name in ["alice", *partners]}
    alice = ids["alice"]
    with conn:
        conn.executemany(
            "INSERT INTO users (id, username, email, password_hash, created_at, updated_at)"
            " VALUES (?, ?, ?, 'h', 0, 0)",
            [(i, name, f"{name}@x.io") for name, i in ids.items()],
        )
        for name, n in partners.items():
            conn.executemany(
                "INSERT INTO messages (id, author_id, target_type, target_id, content, "
                "created_at, updated_at) VALUES (?, ?, 'dm', ?, 'hi', 0, 0)",
                [(str(uuid.uuid4()), ids[name], alice) for _ in range(n)],
            )
            conn.execute(
                "INSERT INTO read_markers (user_id, target_type, target_id, last_read_seq, "
                "updated_at) SELECT ?, 'dm', author_id, max(rowid), 0 FROM messages "
                "WHERE author_id = ?",
                (alice, ids[name]),
            )
    conn.close()
    return alice


def test_finding_dm_partners_reads_what_came_since_not_every_dm_ever(tmp_path, monkeypatch):
    """Found by EXPLAIN QUERY PLAN of ``/users/me``: finding who ever DMed the caller
    read every DM they ever received, each one's row for its author, on every call,
    however long ago all of them were read (82 ms for 50,000 DMs, docs/architecture.md).
    Now a search that reads many raises the caller's floor past them (migration 009):
    the next call reads the same whether 400 or 4,000 DMs lie below it."""
    unbounded(monkeypatch)  # its steps are counted with the progress handler
    steps = {}
    for n in (2 * DM_FLOOR_STEP, 20 * DM_FLOOR_STEP):
        path = str(tmp_path / f"dm{n}.db")
        alice = dm_database(path, {"bob": n, "carol": n})
        traced = Traced(path)
        assert result(traced.store.unread_counts(alice, [], "alice")) == {
            "by_room": {},
            "by_dm": {},
            "mentions": NO_MENTIONS,
        }
        count = [0]

        def step(count=count) -> int:
            count[0] += 1
            return 0

        traced.pool.connection.set_progress_handler(step, 100)
        assert result(traced.store.unread_counts(alice, [], "alice")) == {
            "by_room": {},
            "by_dm": {},
            "mentions": NO_MENTIONS,
        }
        steps[n] = count[0]
        traced.store.close()
    small, large = steps.values()
    assert large < 1.5 * small, steps


def test_dm_counts_stay_right_as_the_floor_rises(w, s, monkeypatch):
    """Counts checked against the rows themselves while DMs come and go, markers move
    and the floor rises (every 3 rows read, here): a partner first seen below or above
    the floor, read or not, is counted alike."""
    monkeypatch.setattr(store_module, "DM_FLOOR_STEP", 3)
    rnd = random.Random(67)
    partners = [s.bob, s.carol, s.dave, s.erin, w.user("frank")]
    sent: list = []
    for turn in range(300):
        roll = rnd.random()
        if roll < 0.6:
            sent.append(send(w, rnd.choice(partners), Target("dm", s.alice.id), str(turn)))
        elif roll < 0.7 and sent:
            message = sent.pop(rnd.randrange(len(sent)))
            result(w.core.store.delete_message(message.id))
        elif roll < 0.85:
            partner = rnd.choice(partners)
            mine = [m for m in sent if m.author == partner.id]
            up_to = rnd.choice(mine).id if mine and rnd.random() < 0.5 else None
            w.ok(w.core.messages.mark_read(s.alice, Target("dm", partner.id), up_to))
        else:
            send(w, s.alice, Target("dm", rnd.choice(partners).id), "mine")
        expected: dict[str, int] = {}
        markers = dict(
            w.core.store._reader.connection.execute(  # noqa: SLF001 (the rows themselves)
                "SELECT target_id, last_read_seq FROM read_markers WHERE user_id = ? "
                "AND target_type = 'dm'",
                (s.alice.id,),
            ).fetchall()
        )
        for message in sent:
            if message.seq > markers.get(message.author, 0):
                expected[message.author] = expected.get(message.author, 0) + 1
        assert unread(w, s.alice)["by_dm"] == expected, turn
    floor = w.core.store._reader.connection.execute(  # noqa: SLF001
        "SELECT seq FROM dm_read_floors WHERE user_id = ?", (s.alice.id,)
    ).fetchone()
    assert floor is not None and floor[0] > 0  # it did rise meanwhile


def test_counts_are_answered_when_the_floor_cannot_be_raised(tmp_path):
    """Raising the floor is a write made while answering a read: with the disk full
    (writes failing, reads still working) ``/users/me`` must still answer, as it did
    before there was a floor; the next call tries again."""
    path = str(tmp_path / "full.db")
    alice = dm_database(path, {"bob": 2 * DM_FLOOR_STEP})
    traced = Traced(path)
    store = traced.store

    def full(fn, *args):
        return store._guarded(  # noqa: SLF001 (as a real write's failure is reported)
            defer.fail(sqlite3.OperationalError("database or disk is full")), "writes"
        )

    store._write = full  # noqa: SLF001
    assert result(store.unread_counts(alice, [], "alice")) == {
        "by_room": {},
        "by_dm": {},
        "mentions": NO_MENTIONS,
    }
    floors = traced.pool.connection.execute("SELECT count(*) FROM dm_read_floors").fetchone()
    assert floors == (0,)
    traced.store.close()


def test_counts_do_not_wait_for_the_floor_to_be_written(tmp_path):
    """Found by asking what the floor's write does while another process holds the
    write lock (docs/operations.md, "Storage faults": a write waits up to the busy
    timeout, 30 s, while reads go on): ``/users/me`` only reads, yet it waited for
    the floor's write, so it hung for the whole wait. The counts are answered from the
    read; the floor is written after, once per user at a time (calls meanwhile do not
    queue more writes behind the lock), and written once the lock is free."""
    path = str(tmp_path / "locked.db")
    alice = dm_database(path, {"bob": 2 * DM_FLOOR_STEP})
    traced = Traced(path)
    store = traced.store
    held: list[defer.Deferred] = []
    real_write = store._write  # noqa: SLF001

    def waiting(fn, *args):  # the lock is someone else's until the test says
        d: defer.Deferred = defer.Deferred()
        held.append(d)
        return d.addCallback(lambda _: result(real_write(fn, *args)))

    store._write = waiting  # noqa: SLF001
    first, second = store.unread_counts(alice, [], "alice"), store.unread_counts(alice, [], "alice")
    assert result(first) == result(second) == {"by_room": {}, "by_dm": {}, "mentions": NO_MENTIONS}
    assert len(held) == 1  # one floor write for both calls
    floors = traced.pool.connection.execute("SELECT count(*) FROM dm_read_floors").fetchone()
    assert floors == (0,)
    held[0].callback(None)  # the lock is free: the floor is written
    floors = traced.pool.connection.execute("SELECT count(*) FROM dm_read_floors").fetchone()
    assert floors == (1,)
    store._write = real_write  # noqa: SLF001
    result(store.unread_counts(alice, [], "alice"))  # below the floor now: no write needed
    store.close()
