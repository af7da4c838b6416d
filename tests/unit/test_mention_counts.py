"""Mention counts kept by the server (docs/protocols/HTTP.md, ``/users/me``'s
``unread_counts.mentions`` and ``mention_count``): the clients' rule
(lairchat.domain.mentions), applied at read time to the unread messages only, behind
a pre-filter in SQL that must never drop a mention (mentioncount.possible), and
bounded in rows and time (lairchat/storage/sqlite/mentioncount.py)."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import unicodedata
from collections.abc import Callable

import pytest

from lairchat.domain.mentions import AT_SIGNS, mentions
from lairchat.domain.types import Target
from lairchat.domain.validation import CONTENT_MAX
from lairchat.storage.sqlite import mentioncount
from lairchat.storage.sqlite.migrate import migrate
from lairchat.storage.sqlite.store import UNREAD_MAX
from lairchat.testing import result
from tests.unit import test_core_messages as base
from tests.unit import test_storage as storage
from tests.unit.test_core_deletion import run_out
from tests.unit.test_mention_rule_agreement import TABLE
from tests.unit.test_read_scale import Traced, full_scans
from tests.unit.test_storage import Rows, raw

w, s, send = base.w, base.s, base.send
db_path, store, rows = storage.db_path, storage.store, storage.rows

NONE: dict = {"by_room": {}, "by_dm": {}}


# -- the pre-filter -----------------------------------------------------------------


def test_at_signs_are_every_character_whose_nfkc_holds_an_at():
    found = [chr(c) for c in range(0x110000) if "@" in unicodedata.normalize("NFKC", chr(c))]
    assert sorted(found) == sorted(AT_SIGNS)


def possible_in_sql(texts: list[str], username: str) -> list[bool]:
    """mentioncount.possible on each text."""
    conn = sqlite3.connect(":memory:")
    sql = f"SELECT {mentioncount.possible('c')} FROM (SELECT ?1 AS c)"
    key = mentioncount.needle(username)
    return [bool(conn.execute(sql, (text, None, key)).fetchone()[0]) for text in texts]


def storable(text: str) -> bool:
    """Whether SQLite can hold ``text`` (a lone surrogate is no UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


#: Mentions SQLite's ``lower()`` and ``instr`` alone would miss: fullwidth and small
#: at signs, letters NFKC makes ASCII, case beyond ASCII, a name that folds longer, a
#: NUL before (SQLite's ``length`` and ``substr`` stop at one: found by this test,
#: when the store read ``substr(content, 1, 4096)``).
HARD = [
    ("\uff20\uff41\uff4c\uff49\uff43\uff45", "alice"),
    ("\ufe6balice", "alice"),
    ("@\uff41lice", "alice"),
    ("@ALİCE", "ali̇ce"),
    ("@ﬁona", "fiona"),
    ("@ⅰⅱx", "iiix"),
    ("@STRASSE", "straße"),
    ("@straße", "STRASSE"),
    ("@ΣΟΦΟΣ", "σοφος"),
    ("@ſam", "sam"),
    ("@sam", "ſam"),
    ("a\x00 @alice", "alice"),
    ("\x00\uff20alice", "alice"),
    ("é\x00@alice", "alice"),
    ("😀@ALICE", "alice"),
]


def test_the_pre_filter_never_drops_a_mention():
    """Every content the rule calls a mention passes the SQL test: the hard cases
    above, the agreement test's table of both clients, and a seeded random corpus of
    names in every case, NFKC compatibility forms, at signs and ASCII around them."""
    cases = [(c, n) for c, n, _ in TABLE if storable(c)] + HARD
    rng = random.Random(76)
    names = ["alice", "Émile", "straße", "kıkı", "σοφος", "ſam", "राहुल", "x1_"]
    pieces = ["@", "＠", "﹫", " ", "a", "_", "é", "\x00", "ﬁ", "😀", "Ａ", "ſ", "ß", "\u0301"]
    for _ in range(5000):
        name = rng.choice(names)
        shown = rng.choice([str.upper, str.lower, str.title, lambda t: t])(name)
        if rng.random() < 0.3:
            shown = unicodedata.normalize(rng.choice(["NFD", "NFKD"]), shown)
        if rng.random() < 0.2:
            shown = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in shown)
        parts = [rng.choice(pieces) for _ in range(rng.randint(0, 4))]
        parts.insert(rng.randint(0, len(parts)), rng.choice("@＠﹫") + shown)
        cases.append(("".join(parts), name if rng.random() < 0.8 else rng.choice(names)))
    true = [(c, n) for c, n in cases if mentions(c, n)]
    assert len(true) > 1000
    missed = [(c, n) for (c, n) in true if not possible_in_sql([c], n)[0]]
    assert missed == []


def test_the_pre_filter_lets_ascii_that_names_someone_else_stay_in_sqlite():
    """What it is for: most text is no candidate, and goes no further than SQLite."""
    texts = ["hello", "@bob hi", "mail a@b.c", "@alic", "alice", "héllo alice", "é ＡＬＩＣＥ"]
    assert possible_in_sql(texts, "alice") == [False] * len(texts)
    # A near miss passes (the rule says no), as does any non-ASCII text with an @.
    assert possible_in_sql(["@alicebob", "é @bob", "x@alice"], "alice") == [True] * 3


# -- counting -----------------------------------------------------------------------


def counts(store, user, rooms) -> dict:
    return result(store.unread_counts(user.id, [r.id for r in rooms], user.username))


def test_mentions_are_counted_among_the_unread_messages(store, rows: Rows):
    alice, bob, carol = rows.user("Alice"), rows.user("bob"), rows.user("carol")
    room, quiet = rows.room(alice, "general"), rows.room(bob, "quiet")
    rows.join(room, bob)
    rows.join(quiet, alice)
    target = Target("room", room.id)
    read = rows.message(bob, target, "@alice before the marker")
    result(store.mark_read([(alice.id, target, read.seq)], 0))
    for text in ["@alice", "＠ＡＬＩＣＥ!", "hey @ALİCE", "@alicebob", "a@alice.com", "hi"]:
        rows.message(bob, target, text)
    rows.message(alice, target, "@alice, me")  # own messages never count
    rows.message(bob, Target("room", quiet.id), "nobody")
    rows.message(carol, Target("dm", alice.id), "hi")  # a DM is no mention by itself
    rows.message(carol, Target("dm", alice.id), "(@alice)")
    rows.message(bob, Target("dm", alice.id), "@Alice")
    rows.message(bob, Target("dm", carol.id), "@alice, another's DM")
    rows.message(alice, Target("dm", alice.id), "@alice to myself")
    assert counts(store, alice, [room, quiet]) == {
        "by_room": {room.id: 6, quiet.id: 1},
        "by_dm": {carol.id: 2, bob.id: 1},
        "mentions": {"by_room": {room.id: 2}, "by_dm": {carol.id: 1, bob.id: 1}},
    }
    assert result(store.unread_count(alice.id, target, alice.username)) == (6, 2)
    assert result(store.unread_count(alice.id, Target("dm", carol.id), "Alice")) == (2, 1)
    result(store.mark_read([(alice.id, target, 10**9)], 0))
    assert counts(store, alice, [room])["mentions"]["by_room"] == {}
    assert result(store.unread_count(alice.id, target, alice.username)) == (0, 0)


def test_edits_and_deletions_are_counted_as_they_stand(store, rows: Rows):
    alice, bob = rows.user("alice"), rows.user("bob")
    target = Target("dm", alice.id)
    plain, named, gone = (rows.message(bob, target, t) for t in ("hi", "@alice", "@alice x"))
    assert counts(store, alice, [])["mentions"]["by_dm"] == {bob.id: 2}
    result(store.update_message_content(plain.id, "now @alice", 1))
    result(store.update_message_content(named.id, "no one", 1))
    result(store.delete_message(gone.id))
    assert counts(store, alice, [])["mentions"]["by_dm"] == {bob.id: 1}
    assert result(store.unread_count(alice.id, Target("dm", bob.id), "alice")) == (2, 1)


def test_only_the_first_4096_characters_are_looked_at(store, rows: Rows):
    """As both clients: a mention past them is none (content another server wrote;
    lairchat accepts no more than 4,096 bytes)."""
    alice, bob = rows.user("alice"), rows.user("bob")
    for text in ["x" * 5000 + " @alice", "x" * (CONTENT_MAX - 7) + " @alice"]:
        raw_message(store, bob, alice, text)
    for text in ["😀" * (CONTENT_MAX - 6) + "@alice", "😀" * (CONTENT_MAX - 5) + "@alice"]:
        raw_message(store, bob, alice, text)
    assert result(store.unread_count(alice.id, Target("dm", bob.id), "alice")) == (4, 2)


def raw_message(store, author, to, content: str) -> None:
    """A DM stored as another server would (no length check)."""
    raw(
        store,
        "INSERT INTO messages (id, author_id, target_type, target_id, content, created_at, "
        "updated_at) VALUES (lower(hex(randomblob(16))), ?, 'dm', ?, ?, 0, 0)",
        author.id,
        to.id,
        content,
    )


def test_a_count_stops_at_the_unread_cap_and_counts_the_newest(store, rows: Rows):
    """Past UNREAD_MAX unread, the mentions counted are among the newest UNREAD_MAX
    (those a conversation opens on), never more than the unread count beside them."""
    alice, bob = rows.user("alice"), rows.user("bob")
    for _ in range(UNREAD_MAX + 5):
        raw_message(store, bob, alice, "@alice")
    assert result(store.unread_count(alice.id, Target("dm", bob.id), "alice")) == (
        UNREAD_MAX,
        UNREAD_MAX,
    )
    carol = rows.user("carol")
    raw_message(store, carol, alice, "@alice, old")
    for _ in range(UNREAD_MAX):
        raw_message(store, carol, alice, "newer")
    assert result(store.unread_count(alice.id, Target("dm", carol.id), "alice")) == (
        UNREAD_MAX,
        0,
    )


def test_past_the_time_bound_what_is_left_counts_no_mention(store, rows: Rows, monkeypatch):
    """The rule's time is bounded (mentioncount.MATCH_SECONDS): past it, what the
    pre-filter let through counts as no mention (never as one: an ``@`` then stood
    beside every busy conversation not written in ASCII alone); DMs are matched
    first."""
    alice, bob = rows.user("alice"), rows.user("bob")
    for text in ("@alice", "@alicebob", "hi", "é @bob"):
        raw_message(store, bob, alice, text)
    assert result(store.unread_count(alice.id, Target("dm", bob.id), "alice")) == (4, 1)
    monkeypatch.setattr(mentioncount, "MATCH_SECONDS", -1.0)
    assert result(store.unread_count(alice.id, Target("dm", bob.id), "alice")) == (4, 0)


def test_mentions_of_an_author_deleted_meanwhile_go_with_their_messages(w, s):
    send(w, s.bob, s.target, "@alice one")
    send(w, s.erin, s.target, "@alice two")
    send(w, s.bob, Target("dm", s.alice.id), "@alice dm")
    mentioned = w.ok(w.core.messages.unread_counts(s.alice))["mentions"]
    assert mentioned == {"total": 3, "by_room": {s.room.id: 2}, "by_dm": {s.bob.id: 1}}
    deleted = w.core.deletion.delete(s.bob.id)
    run_out(w)
    assert result(deleted) >= 1
    mentioned = w.ok(w.core.messages.unread_counts(s.alice))["mentions"]
    assert mentioned == {"total": 1, "by_room": {s.room.id: 1}, "by_dm": {}}
    answer = w.ok(w.core.messages.mark_read(s.alice, s.target, None))
    assert answer == {"unread_count": 0, "mention_count": 0}


def test_mark_read_answers_what_is_left(w, s):
    first = send(w, s.bob, s.target, "@alice first")
    send(w, s.bob, s.target, "@ALICE second")
    send(w, s.bob, s.target, "plain")
    answer = w.ok(w.core.messages.mark_read(s.alice, s.target, first.id))
    assert answer == {"unread_count": 2, "mention_count": 1}


# -- the work -----------------------------------------------------------------------


def mention_database(path: str, rooms: int, each: int, text: str) -> tuple[str, list[str]]:
    """Alice in ``rooms`` rooms of ``each`` unread messages of ``text`` by bob."""
    conn = sqlite3.connect(path)
    migrate(conn)
    alice, bob = "a" * 36, "b" * 36
    ids = [f"{k:036d}" for k in range(rooms)]
    with conn:
        conn.executemany(
            "INSERT INTO users (id, username, email, password_hash, created_at, updated_at)"
            " VALUES (?, ?, ?, 'h', 0, 0)",
            [(alice, "alice", "a@x.io"), (bob, "bob", "b@x.io")],
        )
        conn.executemany(
            "INSERT INTO messages (id, author_id, target_type, target_id, content, "
            "created_at, updated_at) VALUES (lower(hex(randomblob(16))), ?, 'room', ?, ?, 0, 0)",
            [(bob, room, text) for room in ids for _ in range(each)],
        )
    conn.close()
    return alice, ids


def test_mentions_cost_a_statement_per_conversation_with_candidates_only(tmp_path):
    """Nothing that could mention the reader: the two statements of the unread counts.
    Candidates in some rooms: one statement more for each of those, an index range
    (no table scan)."""
    path = str(tmp_path / "m.db")
    alice, ids = mention_database(path, 4, 3, "hello @bob")
    traced = Traced(path)
    conn = traced.pool.connection
    read: Callable = lambda st: st.unread_counts(alice, ids, "alice")  # noqa: E731
    out, statements = traced.run(read)
    assert len(statements) == 2 and out["mentions"] == NONE
    with conn:
        conn.execute("UPDATE messages SET content = '@Alice' WHERE target_id IN (?, ?)", ids[:2])
    out, statements = traced.run(read)
    assert len(statements) == 4
    assert out["mentions"]["by_room"] == {ids[0]: 3, ids[1]: 3}
    for sql in statements:
        assert full_scans(traced.plan(sql)) == [], sql
    traced.store.close()


@pytest.mark.parametrize("text", ["@alice hi", "héllo @bob"])
def test_the_mention_work_stops_with_the_unread_count(tmp_path, monkeypatch, text):
    """A room of ten times the candidates costs about the same SQLite instructions.
    (Counted with the connection's progress handler, which the time bound would take:
    it is off here, and tested below.)"""
    unbounded(monkeypatch)
    steps = {}
    for each in (2 * UNREAD_MAX, 20 * UNREAD_MAX):
        path = str(tmp_path / f"r{each}.db")
        alice, ids = mention_database(path, 1, each, text)
        traced = Traced(path)
        count = [0]

        def step(count=count) -> int:
            count[0] += 1
            return 0

        traced.pool.connection.set_progress_handler(step, 100)
        out, _ = traced.run(lambda st, a=alice, i=ids: st.unread_counts(a, i, "alice"))
        mentioned = UNREAD_MAX if text.startswith("@alice") else 0
        assert out["by_room"] == {ids[0]: UNREAD_MAX}
        assert out["mentions"]["by_room"] == ({ids[0]: mentioned} if mentioned else {})
        steps[each] = count[0]
        traced.store.close()
    small, large = steps.values()
    assert large < 1.5 * small, steps


def unbounded(monkeypatch) -> None:
    """No time bound on the first pass (mentioncount.bounded), for tests that count
    SQLite's steps with the connection's one progress handler."""
    monkeypatch.setattr(mentioncount, "bounded", lambda conn, seconds: contextlib.nullcontext())


def test_counts_that_take_too_long_come_without_mentions(tmp_path, monkeypatch):
    """helper-76's worst case: 1,000 rooms of 1,000 unread 4 KiB messages naming the
    user took /users/me from 0.4 to 5.7 s, every text read by the first pass. Past
    SCAN_SECONDS the counts are made again without reading text: right, and no
    mention counted. Here the bound is 0 s: every first pass is interrupted."""
    path = str(tmp_path / "slow.db")
    alice, ids = mention_database(path, 3, 50, "@alice look")
    traced = Traced(path)
    out, _ = traced.run(lambda st: st.unread_counts(alice, ids, "alice"))
    assert out["mentions"]["by_room"] == {room: 50 for room in ids}
    monkeypatch.setattr(mentioncount, "SCAN_SECONDS", 0.0)
    monkeypatch.setattr(mentioncount, "_CHECK_EVERY", 1)  # a look at the clock each step
    out, _ = traced.run(lambda st: st.unread_counts(alice, ids, "alice"))
    assert out["by_room"] == {room: 50 for room in ids}
    assert out["mentions"] == {"by_room": {}, "by_dm": {}}
    # The connection's progress handler is off again: the next statement runs whole.
    monkeypatch.setattr(mentioncount, "SCAN_SECONDS", 10.0)
    out, _ = traced.run(lambda st: st.unread_counts(alice, ids, "alice"))
    assert out["mentions"]["by_room"] == {room: 50 for room in ids}
    traced.store.close()
