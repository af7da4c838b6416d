"""The read paths on a large database: every read a client makes is answered by index
searches whose work follows the page or the caller's own conversations, not the size
of the database (docs/architecture.md, "Reads at scale").

The database is built by direct SQL (a second or two): a room of many members, a user
in many rooms, many DM partners, invitations, read markers. SQLite's plans do not
depend on how many rows there are (lairchat runs no ANALYZE), so these tests assert
on plans and on how many statements a read runs, never on timings; the same builder
at full size is what the figures in the docs were measured on (:func:`build`).
"""

from __future__ import annotations

import inspect
import random
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from lairchat.domain.types import Target
from lairchat.storage.sqlite import store as store_module
from lairchat.storage.sqlite.migrate import migrate
from lairchat.storage.sqlite.pool import ImmediatePool
from lairchat.storage.sqlite.store import UNREAD_MAX, SQLiteStore
from lairchat.testing import result

T0 = 1_700_000_000
#: The username of :attr:`Scale.heavy` (:func:`build` names users by their index).
HEAVY = "user0000000"


@dataclass
class Scale:
    """What :func:`build` made: ids to read with."""

    users: list[str]
    rooms: list[str]
    #: The room every user is in.
    big: str
    #: The user in ``heavy_rooms`` rooms, DMed by ``partners`` others.
    heavy: str
    heavy_rooms: list[str]
    partners: list[str]
    #: A message in the middle of the big room (a paging cursor).
    middle: str


def build(path: str, scale: int = 1, messages: int | None = None) -> Scale:
    """A migrated database at ``path``: 1000·scale users all in one room, 300·scale
    rooms, one user in 100·scale of them and DMed by 100·scale others, ``messages``
    messages (20,000·scale unless given; a tenth DMs, half of those to that user, a
    tenth in the big room), 2,000·scale invitations, read markers for half the
    memberships. ``build(path, scale=10, messages=1_000_000)`` is the database of
    the figures in docs/architecture.md."""
    rnd = random.Random(47)

    def ids(n: int) -> list[str]:
        return [str(uuid.UUID(int=rnd.getrandbits(128))) for _ in range(n)]

    conn = sqlite3.connect(path)
    migrate(conn)
    conn.execute("PRAGMA synchronous = OFF")
    users, rooms = ids(1000 * scale), ids(300 * scale)
    heavy, big = users[0], rooms[0]
    heavy_rooms = rooms[: 100 * scale]
    partners = users[1 : 1 + 100 * scale]
    with conn:
        conn.executemany(
            "INSERT INTO users (id, username, email, password_hash, role, created_at, "
            "updated_at) VALUES (?, ?, ?, 'h', 'user', ?, ?)",
            [(u, f"user{i:07d}", f"user{i:07d}@x.io", T0, T0) for i, u in enumerate(users)],
        )
        conn.executemany(
            "INSERT INTO rooms (id, name, owner_id, is_private, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (r, f"room{i:06d}", users[i % len(users)], i % 3 == 0, T0, T0)
                for i, r in enumerate(rooms)
            ],
        )
        members: dict[str, list[str]] = {r: [users[i % len(users)]] for i, r in enumerate(rooms)}
        for u in users[1:]:
            members[big].append(u)
        for r in heavy_rooms[1:]:
            members[r].append(heavy)
        for u in users[1:]:
            for r in rnd.sample(rooms[1:], 3):
                if u not in members[r]:
                    members[r].append(u)
        memberships = [
            (r, u, "owner" if k == 0 else "member", T0 + k)
            for r, us in members.items()
            for k, u in enumerate(us)
        ]
        conn.executemany(
            "INSERT INTO room_memberships (room_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)",
            memberships,
        )
        sent: list[tuple] = []
        for n, message_id in enumerate(ids(messages or 20_000 * scale)):
            if n % 10 == 9:
                author, to = rnd.choice(partners), heavy
                if n % 20 == 9:
                    author, to = rnd.choice(users), rnd.choice(users)
                sent.append((message_id, author, "dm", to, T0 + n))
            else:
                room = big if n % 10 == 0 else rnd.choice(rooms)
                sent.append((message_id, rnd.choice(members[room]), "room", room, T0 + n))
        conn.executemany(
            "INSERT INTO messages (id, author_id, target_type, target_id, content, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, 'hello', ?, ?)",
            [(*m, m[-1]) for m in sent],
        )
        conn.executemany(
            "INSERT INTO invitations (id, room_id, inviter_id, invitee_id, status, created_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    invitation_id,
                    big if k % 4 == 0 else rnd.choice(rooms),
                    users[1],
                    heavy if k % 10 == 0 else rnd.choice(users),
                    "pending" if k % 3 else "declined",
                    T0 + k,
                    T0 + 10**9,
                )
                for k, invitation_id in enumerate(ids(2000 * scale))
            ],
        )
        conn.executemany(
            "INSERT INTO read_markers (user_id, target_type, target_id, last_read_seq, "
            "updated_at) VALUES (?, 'room', ?, ?, ?)",
            [(u, r, 1000 * scale, T0) for r, u, _, _ in memberships[::2]],
        )
    middle = sent[len(sent) // 2 - len(sent) // 2 % 10][0]
    conn.close()
    return Scale(users, rooms, big, heavy, heavy_rooms, partners, middle)


@pytest.fixture(scope="module")
def scale(tmp_path_factory) -> tuple[str, Scale]:
    path = str(tmp_path_factory.mktemp("scale") / "big.db")
    return path, build(path)


class Traced:
    """A store on the scale database that records the statements each read runs."""

    def __init__(self, path: str):
        self.pool = ImmediatePool(path)
        self.store = SQLiteStore(self.pool, self.pool, path)
        self.statements: list[str] = []
        self.pool.connection.set_trace_callback(self.statements.append)

    def run(self, read: Callable) -> tuple[object, list[str]]:
        """The read's result and the statements it ran (SELECTs, with their values)."""
        self.statements.clear()
        out = result(read(self.store))
        return out, [
            s for s in self.statements if s.lstrip().upper().startswith(("SELECT", "WITH"))
        ]

    def plan(self, sql: str) -> list[str]:
        conn = self.pool.connection
        conn.set_trace_callback(None)
        try:
            return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
        finally:
            conn.set_trace_callback(self.statements.append)


@pytest.fixture
def traced(scale):
    t = Traced(scale[0])
    yield t
    t.store.close()


def full_scans(plan: list[str]) -> list[str]:
    """The steps that read a whole table or index: not a subquery's few rows (a
    co-routine's, a materialized one's), nor a list of ids passed in."""
    made = {step.split()[-1] for step in plan if step.startswith(("CO-ROUTINE", "MATERIALIZE"))}
    return [
        step
        for step in plan
        if step.startswith("SCAN ")
        and not step.startswith(("SCAN (subquery", "SCAN CONSTANT ROW"))
        and step.split()[1] not in made
        and "VIRTUAL TABLE" not in step
    ]


def test_unread_counts_run_the_same_statements_for_a_user_in_many_rooms(traced, scale):
    """Found by counting the statements of ``/users/me`` on a large database: two per
    room and three per DM partner (5,032 for a user in 1,000 rooms DMed by 1,000
    people, 0.7 s). Now a fixed number, whatever the rooms and partners."""
    s = scale[1]
    few, few_statements = traced.run(
        lambda st: st.unread_counts(s.users[500], s.rooms[1:3], "user0000500")
    )
    many, statements = traced.run(lambda st: st.unread_counts(s.heavy, s.heavy_rooms, HEAVY))
    assert len(statements) == len(few_statements) <= 2
    assert len(many["by_room"]) > 50 and len(many["by_dm"]) > 50
    for sql in statements:
        assert full_scans(traced.plan(sql)) == [], sql


def test_unread_counts_agree_with_counting_row_by_row(traced, scale):
    """The one-statement counts are what reading the rows one by one finds: messages
    by others above the user's marker (none: all), per room and per DM partner, and
    the single-conversation count says the same."""
    s = scale[1]
    counts, _ = traced.run(lambda st: st.unread_counts(s.heavy, s.heavy_rooms, HEAVY))
    conn = traced.pool.connection
    markers = {
        (kind, target): seq
        for kind, target, seq in conn.execute(
            "SELECT target_type, target_id, last_read_seq FROM read_markers WHERE user_id = ?",
            (s.heavy,),
        )
    }
    assert markers  # some conversations read up to a point, the others not at all
    expected: dict[str, dict] = {"by_room": {}, "by_dm": {}}
    rooms = set(s.heavy_rooms)
    for seq, author, kind, target in conn.execute(
        "SELECT rowid, author_id, target_type, target_id FROM messages"
    ):
        if author == s.heavy:
            continue
        if kind == "room" and target in rooms:
            key, conversation = "by_room", target
        elif kind == "dm" and target == s.heavy:
            key, conversation = "by_dm", author
        else:
            continue
        if seq > markers.get((kind, conversation), 0):
            found = expected[key].get(conversation, 0)
            expected[key][conversation] = min(found + 1, UNREAD_MAX)
    # Every message says "hello": none mentions anyone.
    assert counts == {**expected, "mentions": {"by_room": {}, "by_dm": {}}}
    assert any(0 < n < UNREAD_MAX for n in counts["by_room"].values())
    for room in s.heavy_rooms[:10]:
        one, _ = traced.run(lambda st, r=room: st.unread_count(s.heavy, Target("room", r), HEAVY))
        assert (counts["by_room"].get(room, 0), 0) == one


def plans_of(traced: Traced, read: Callable) -> list[str]:
    """Every step of the plans of the statements ``read`` runs."""
    _, statements = traced.run(read)
    assert statements
    return [step for sql in statements for step in traced.plan(sql)]


def test_a_page_of_public_rooms_is_read_in_name_order_not_sorted(traced, scale):
    """Found by EXPLAIN QUERY PLAN: each page sorted every public room (a temporary
    B-tree), so page 15 of 2,000 rooms cost six times page 1. Now read in order from
    ``idx_rooms_public_by_name`` (migration 008) and stopped at the page's end."""
    for search in (None, "room00"):
        plan = plans_of(traced, lambda st, q=search: st.list_public_rooms(50, 100, q))
        assert not [s for s in plan if "TEMP B-TREE" in s], plan
        assert full_scans(plan) == [], plan
    page, _ = traced.run(lambda st: st.list_public_rooms(50, 100, None))
    names = [room.name for room, _ in page]
    assert len(names) == 50 and names == sorted(names)
    assert not any(room.is_private for room, _ in page)


def test_pending_invitations_are_read_newest_first_from_an_index(traced, scale):
    """Found by EXPLAIN QUERY PLAN: every invitation the user ever had (accepted,
    declined, expired) was read and sorted for the newest 101 pending ones, and the
    pending invitation to one room was looked for among all the room's. Now both
    search ``idx_invitations_invitee_status`` (migration 008)."""
    s = scale[1]
    plan = plans_of(traced, lambda st: st.list_pending_invitations(s.heavy, T0, 101))
    assert not [step for step in plan if "TEMP B-TREE" in step], plan
    assert any("idx_invitations_invitee_status" in step for step in plan), plan
    found, _ = traced.run(lambda st: st.list_pending_invitations(s.heavy, T0, 101))
    assert len(found) == 101 and all(i.status == "pending" for i in found)
    assert [i.created_at for i in found] == sorted((i.created_at for i in found), reverse=True)
    plan = plans_of(traced, lambda st: st.find_pending_invitation(s.big, s.heavy, T0))
    assert any("idx_invitations_invitee_status (invitee_id=? AND status=?)" in p for p in plan)


def test_deleting_a_room_finds_its_read_markers_by_the_room(traced, scale):
    """Found by EXPLAIN QUERY PLAN: deleting a room read every read marker of every
    user, holding the write lock message commits wait for. Now it searches
    ``idx_read_markers_target`` (migration 008)."""
    sql = "DELETE FROM read_markers WHERE target_type = 'room' AND target_id = ?"
    # Where a room's rows go (a deletion, or an account deletion's last member).
    assert sql in inspect.getsource(store_module._delete_room_rows)  # noqa: SLF001
    assert "_delete_room_rows(" in inspect.getsource(SQLiteStore.delete_room)
    plan = [r[3] for r in traced.pool.connection.execute("EXPLAIN QUERY PLAN " + sql, ("x",))]
    assert full_scans(plan) == [], plan


MIDDLE = ("seq", 10_000)


def _room(s: Scale) -> Target:
    return Target("room", s.big)


def _dm(s: Scale) -> Target:
    return Target("dm", s.partners[0])


#: Every read a client's request makes of the store, with the largest arguments.
READS: dict[str, Callable] = {
    "get_user": lambda st, s: st.get_user(s.heavy),
    "find_user_by_login": lambda st, s: st.find_user_by_login("user0000500@x.io"),
    "list_users": lambda st, s: st.list_users(100, 500, None),
    "list_users search": lambda st, s: st.list_users(100, 0, "user00001"),
    "get_session": lambda st, s: st.get_session("x"),
    "get_room": lambda st, s: st.get_room(s.big),
    "list_public_rooms": lambda st, s: st.list_public_rooms(100, 50, None),
    "list_joined_rooms": lambda st, s: st.list_joined_rooms(s.heavy, 100, 0),
    "member_count": lambda st, s: st.member_count(s.big),
    "get_membership": lambda st, s: st.get_membership(s.big, s.heavy),
    "count_owners": lambda st, s: st.count_owners(s.big),
    "list_members": lambda st, s: st.list_members(s.big),
    "get_message": lambda st, s: st.get_message(s.middle),
    "seq_of": lambda st, s: st.seq_of(s.middle),
    "history": lambda st, s: st.history(_room(s), s.heavy, 51, None, None),
    "history before": lambda st, s: st.history(_room(s), s.heavy, 51, MIDDLE, None),
    "history after": lambda st, s: st.history(_room(s), s.heavy, 51, None, MIDDLE),
    "history between": lambda st, s: st.history(_room(s), s.heavy, 51, ("seq", 12_000), MIDDLE),
    "dm history before": lambda st, s: st.history(_dm(s), s.heavy, 51, MIDDLE, None),
    "dm history after": lambda st, s: st.history(_dm(s), s.heavy, 51, None, MIDDLE),
    "latest_seq": lambda st, s: st.latest_seq(_room(s), s.heavy),
    "dm latest_seq": lambda st, s: st.latest_seq(_dm(s), s.heavy),
    "unread_count": lambda st, s: st.unread_count(s.heavy, _room(s), HEAVY),
    "dm unread_count": lambda st, s: st.unread_count(s.heavy, _dm(s), HEAVY),
    "unread_counts": lambda st, s: st.unread_counts(s.heavy, s.heavy_rooms, HEAVY),
    "get_invitation": lambda st, s: st.get_invitation("x"),
    "list_pending_invitations": lambda st, s: st.list_pending_invitations(s.heavy, T0, 101),
    "find_pending_invitation": lambda st, s: st.find_pending_invitation(s.big, s.heavy, T0),
    "get_ban": lambda st, s: st.get_ban(s.heavy),
}


#: Full scans allowed, and why: the user list is read in name order from its index
#: and stopped at the page's end; a search for part of a name cannot use an index
#: (every user is read, not every message; docs/architecture.md, "Reads at scale").
ALLOWED_SCANS = {
    "list_users": "SCAN users USING INDEX idx_users_username",
    "list_users search": "SCAN users",
}


@pytest.mark.parametrize("name", READS)
def test_no_read_a_client_makes_scans_a_table(traced, scale, name):
    """EXPLAIN QUERY PLAN of every statement of every read: each is an index search
    (or a whole users' list, for a search in names); none reads a table through."""
    scans = full_scans(plans_of(traced, lambda st: READS[name](st, scale[1])))
    assert scans == ([ALLOWED_SCANS[name]] if name in ALLOWED_SCANS else []), scans


def test_an_unread_count_stops_at_unread_max_and_so_does_its_work(tmp_path):
    """Found by timing ``/users/me`` for a member who had just joined a room of 100,000
    messages: each one counted as unread (as documented, until marked read), and
    counting reads each message's row for its author, 64 ms a request on a warm
    cache. A count now stops at UNREAD_MAX, and so does the work: counting a room of
    ten times the messages runs about the same number of SQLite instructions."""
    path = str(tmp_path / "rooms.db")
    conn = sqlite3.connect(path)
    migrate(conn)
    alice, bob, small, large = "a" * 36, "b" * 36, "s" * 36, "l" * 36
    with conn:
        conn.executemany(
            "INSERT INTO users (id, username, email, password_hash, created_at, updated_at)"
            " VALUES (?, ?, ?, 'h', 0, 0)",
            [(alice, "alice", "a@x.io"), (bob, "bob", "b@x.io")],
        )
        for room, n in ((small, 2 * UNREAD_MAX), (large, 20 * UNREAD_MAX)):
            conn.executemany(
                "INSERT INTO messages (id, author_id, target_type, target_id, content, "
                "created_at, updated_at) VALUES (?, ?, 'room', ?, 'hi', 0, 0)",
                [(f"{room[:8]}{k:028d}", bob, room) for k in range(n)],
            )
        conn.executemany(
            "INSERT INTO messages (id, author_id, target_type, target_id, content, "
            "created_at, updated_at) VALUES (?, ?, 'dm', ?, 'hi', 0, 0)",
            [(f"dm{k:034d}", bob, alice) for k in range(3 * UNREAD_MAX)],
        )
    conn.close()
    traced = Traced(path)
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    traced.pool.connection.set_progress_handler(step, 100)

    def work(read: Callable) -> tuple[object, int]:
        steps[0] = 0
        out, _ = traced.run(read)
        return out, steps[0]

    few, few_steps = work(lambda st: st.unread_count(alice, Target("room", small), "alice"))
    many, many_steps = work(lambda st: st.unread_count(alice, Target("room", large), "alice"))
    assert few == many == (UNREAD_MAX, 0)
    assert many_steps < 1.5 * few_steps, (few_steps, many_steps)
    counts, _ = traced.run(lambda st: st.unread_counts(alice, [small, large], "alice"))
    assert counts == {
        "by_room": {small: UNREAD_MAX, large: UNREAD_MAX},
        "by_dm": {bob: UNREAD_MAX},
        "mentions": {"by_room": {}, "by_dm": {}},
    }
    dm = traced.store.unread_count(alice, Target("dm", bob), "alice")
    assert result(dm) == (UNREAD_MAX, 0)
    traced.store.close()
