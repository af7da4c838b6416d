"""Message search (TCP.md, "Message search"; lairchat.domain.search): the match rule,
the bound on the rows one request examines and paging on from ``next_before``,
access, which is history's (a room left, a private room, another pair's DMs), and
the filters (``author``, ``since``, ``until``): which messages they leave in, that
the rows they leave out still count against the bound (paging on still visits each
once), that the DM branches walked are the author's alone, and their errors, which
name the field."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import pytest
from twisted.internet import defer

from lairchat.domain import search
from lairchat.domain.ids import new_id
from lairchat.domain.timefmt import ts
from lairchat.domain.types import Target
from lairchat.realtime.commands import HISTORY_BUDGET
from lairchat.storage.sqlite import migrate
from lairchat.storage.sqlite import search as scan
from lairchat.storage.sqlite.store import MESSAGE_COLS, SQLiteStore


@pytest.fixture
def w(core_world):
    return core_world


@pytest.fixture
def s(w):
    """alice and bob in "general"; carol outside it, in her private "secret"."""
    users = {name: w.user(name) for name in ("alice", "bob", "carol")}
    general = w.ok(w.core.rooms.create(users["alice"], "general", None, None))
    w.ok(w.core.rooms.join(users["bob"], general.id))
    secret = w.ok(w.core.rooms.create(users["carol"], "secret", None, {"public": False}))
    return SimpleNamespace(
        general=Target("room", general.id), secret=Target("room", secret.id), **users
    )


def send(w, actor, target, content):
    return w.ok(w.core.messages.send(actor, target, content))


def find(w, actor, query, target=None, limit=None, before=None, **filters):
    return w.ok(w.core.messages.search(actor, query, target, limit, before, **filters))


def contents(page) -> list[str]:
    return [m.content for m in page.messages]


# -- the match rule -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "content"),
    [
        ("HELLO", "say hello there"),  # case
        ("straße", "STRASSE"),  # ß folds to ss, both ways
        ("STRASSE", "die Straße"),
        ("fi", "the ﬁle"),  # NFKC: the ligature is "fi"
        ("①", "step 1"),  # NFKC: the circled digit is "1"
        ("caf\u00e9", "cafe\u0301 au lait"),  # precomposed query, combining mark in content
        ("cafe\u0301", "CAF\u00c9"),  # and the other way round
        ("  \u3000hello\t", "hello"),  # trimmed of Unicode white space
    ],
)
def test_a_message_matches(query, content):
    assert search.matcher(query)(content)


@pytest.mark.parametrize(
    ("query", "content"),
    [
        ("e", "caf\u00e9"),  # é is not e: marks are kept, only composed
        ("hello world", "hello  world"),  # inner white space is the query's own
        ("ss", "s"),
    ],
)
def test_a_message_does_not_match(query, content):
    assert not search.matcher(query)(content)


@pytest.mark.parametrize(
    "query", ["", " ", " \t\n\u3000\u2028\u00a0", "x" * 257, " " + "é" * 257, None, 5, ["x"]]
)
def test_bad_queries_are_validation_failed(w, s, query):
    error = w.fails(w.core.messages.search(s.alice, query, s.general), "validation_failed")
    assert "query" in error.message


def test_a_query_of_256_characters_is_taken():
    query = "ab" * 128
    assert search.matcher(" " + query + " ")("x" + query.upper())


@pytest.mark.parametrize("limit", [0, -1, 1.5, "5", True])
def test_bad_limits_are_validation_failed(w, s, limit):
    error = w.fails(w.core.messages.search(s.alice, "x", s.general, limit), "validation_failed")
    assert "limit" in error.message


def test_the_limit_defaults_to_20_and_is_cut_to_50(w, s):
    for i in range(60):
        send(w, s.alice, s.general, f"match {i}")
    assert len(find(w, s.alice, "match", s.general).messages) == 20
    page = find(w, s.alice, "match", s.general, limit=1000)
    assert contents(page) == [f"match {i}" for i in range(59, 9, -1)]
    assert page.has_more


# -- order, the bound and paging on ----------------------------------------------------


def test_matches_newest_first_in_the_wire_shape_of_history(w, s):
    old = send(w, s.alice, s.general, "apple pie")
    send(w, s.bob, s.general, "banana")
    new = send(w, s.bob, s.general, "Apple juice")
    page = find(w, s.alice, "apple", s.general)
    assert page.to_wire() == {
        "messages": [new.to_wire(), old.to_wire()],
        "has_more": False,
        "next_before": None,
    }


def test_the_scan_stops_at_its_bound_and_says_where(w, s, monkeypatch):
    monkeypatch.setattr(search, "SCAN_MAX", 3)
    sent = [send(w, s.alice, s.general, text) for text in ("hit 0", "a", "b", "c", "d")]
    page = find(w, s.alice, "hit", s.general)
    # Three examined (d, c, b), none matched: an empty page that pages on.
    assert (page.messages, page.has_more, page.next_before) == ([], True, sent[2].id)
    page = find(w, s.alice, "hit", s.general, before=page.next_before)
    assert (contents(page), page.has_more, page.next_before) == (["hit 0"], False, None)


def test_the_scan_stops_after_its_time_and_pages_on(w, s, monkeypatch):
    """Folding costs more for some texts than others (5,000 messages of 4 KiB of
    U+FDFA held a read thread 4 s): past SCAN_SECONDS the scan stops where it got.
    Here each match takes 0.15 s on the scan's clock: the first row is examined
    whatever the time, the second starts before 0.2 s have passed, the third not."""
    now = [0.0]
    monkeypatch.setattr(scan, "monotonic", lambda: now[0])
    fold = search.fold

    def slow(text: str) -> str:
        now[0] += 0.15
        return fold(text)

    monkeypatch.setattr(search, "fold", slow)
    sent = [send(w, s.alice, s.general, text) for text in ("hit 0", "a", "b", "c", "d")]
    page = find(w, s.alice, "hit", s.general)
    assert (page.messages, page.has_more, page.next_before) == ([], True, sent[3].id)
    page = find(w, s.alice, "hit", s.general, before=page.next_before)
    assert (page.messages, page.has_more, page.next_before) == ([], True, sent[1].id)
    page = find(w, s.alice, "hit", s.general, before=page.next_before)
    assert (contents(page), page.has_more, page.next_before) == (["hit 0"], False, None)


def test_one_user_reads_one_search_at_a_time(w, s, monkeypatch):
    """A search may hold a read thread for its whole time bound, and there are two:
    a user sending searches at once (the general allowance, 100 a minute) kept both
    busy, and every other read (history, logins) waited. A user's searches now read
    one after another; another user's do not wait for them."""
    reads = []

    def held(viewer_id, *args):
        reads.append((viewer_id, d := defer.Deferred()))
        return d

    monkeypatch.setattr(w.core.store, "search_messages", held)
    first = w.core.messages.search(s.alice, "x", None)
    second = w.core.messages.search(s.alice, "y", None)
    other = w.core.messages.search(s.bob, "z", None)
    assert [viewer for viewer, _ in reads] == [s.alice.id, s.bob.id]
    reads[0][1].callback(([], None, False))
    assert [viewer for viewer, _ in reads] == [s.alice.id, s.bob.id, s.alice.id]
    reads[2][1].errback(RuntimeError("a storage fault"))  # frees the next one too
    third = w.core.messages.search(s.alice, "w", None)
    assert len(reads) == 4
    reads[1][1].callback(([], None, False))
    reads[3][1].callback(([], None, False))
    assert [w.ok(d).has_more for d in (first, other, third)] == [False] * 3
    failed = []
    second.addErrback(lambda f: failed.append(f.trap(RuntimeError)))
    assert failed == [RuntimeError]


def test_the_limit_stops_the_scan_at_the_last_match(w, s):
    sent = [send(w, s.alice, s.general, f"hit {i}") for i in range(3)]
    page = find(w, s.alice, "hit", s.general, limit=2)
    assert (contents(page), page.has_more, page.next_before) == (
        ["hit 2", "hit 1"],
        True,
        sent[1].id,
    )
    # The oldest message matching last: nothing left, so no next page.
    page = find(w, s.alice, "hit", s.general, limit=1, before=sent[1].id)
    assert (contents(page), page.has_more, page.next_before) == (["hit 0"], False, None)


def walk(w, actor, query, target=None, limit=None, between=None, **filters):
    """Every match, paging on from next_before until has_more is false."""
    seen, before, pages = [], None, 0
    while True:
        page = find(w, actor, query, target, limit, before, **filters)
        pages += 1
        seen += [m.id for m in page.messages]
        if not page.has_more:
            assert page.next_before is None
            return seen, pages
        assert page.next_before is not None
        before = page.next_before
        if between:
            between(pages)


@pytest.mark.parametrize("limit", [2, 10])
@pytest.mark.parametrize("target", ["room", None])
def test_next_before_walks_the_whole_history_once(w, s, monkeypatch, target, limit):
    monkeypatch.setattr(search, "SCAN_MAX", 7)
    # Room and DM messages interleaved, so that "everywhere" merges branches.
    sent = []
    for i in range(40):
        author, other = (s.alice, s.bob) if i % 2 else (s.bob, s.alice)
        where = s.general if i % 3 else Target("dm", other.id)
        sent.append(send(w, author, where, f"{'hit' if i % 4 else 'no'} {i}"))
    scope = s.general if target else None
    expected = [
        m.id for m in reversed(sent) if "hit" in m.content and (scope is None or m.target == scope)
    ]
    seen, pages = walk(w, s.alice, "HIT", scope, limit)
    assert seen == expected
    if limit > 7:  # every page stopped by the bound, each examining 7 new rows
        rows = sum(scope is None or m.target == scope for m in sent)
        assert pages == -(-rows // 7)


def test_messages_deleted_between_two_requests_leave_no_gap(w, s, monkeypatch):
    monkeypatch.setattr(search, "SCAN_MAX", 5)
    sent = [send(w, s.alice, s.general, f"hit {i}") for i in range(30)]
    order = {m.id: i for i, m in enumerate(sent)}
    seen, before, unreached = [], None, set()
    for n in range(1, 100):
        page = find(w, s.alice, "hit", s.general, 3, before)
        seen += [m.id for m in page.messages]
        if not page.has_more:
            break
        before = page.next_before
        # Between two requests: one message already returned and one not yet reached
        # are deleted (never the cursor itself: see the next test).
        for victim in (sent[-n], sent[n]):
            if victim.id != before and w.ok(w.core.store.get_message(victim.id)):
                w.ok(w.core.messages.delete(s.alice, victim.id))
                if order[victim.id] < order[before]:
                    unreached.add(victim.id)
    assert len(unreached) >= 4
    assert seen == [m.id for m in reversed(sent) if m.id not in unreached]


def test_a_before_message_deleted_is_message_not_found(w, s):
    """The documented edge: a cursor is a message, and a message deleted is gone."""
    sent = [send(w, s.alice, s.general, f"hit {i}") for i in range(3)]
    page = find(w, s.alice, "hit", s.general, limit=1)
    w.ok(w.core.messages.delete(s.alice, page.next_before))
    assert page.next_before == sent[2].id
    w.fails(w.core.messages.search(s.alice, "hit", s.general, 1, sent[2].id), "message_not_found")


def test_each_branch_walks_an_index_in_order_with_no_sort():
    """The bound holds only if no branch sorts its conversation before the first row:
    each must be an index range already in rowid order (no index was added for it)."""
    conn = sqlite3.connect(":memory:")
    migrate.migrate(conn)
    me = new_id()
    conn.execute(
        "INSERT INTO users (id, username, email, password_hash, role, created_at, updated_at) "
        "VALUES (?, 'me', 'me@example.com', 'x', 'user', 0, 0)",
        (me,),
    )
    partner = new_id()
    conn.execute(
        "INSERT INTO messages (id, author_id, target_type, target_id, content, created_at, "
        "updated_at) VALUES (?, ?, 'dm', ?, 'x', 0, 0)",
        (new_id(), me, partner),
    )
    branches = scan.everywhere(
        conn.cursor(), me, [new_id()], lambda t: SQLiteStore._conversation(t, me)
    )
    # A room, the DMs to me, and mine to the one partner found by walking the index.
    assert [args for _, args in branches][1:] == [[me], [me, partner]]
    assert_index_walks(conn, branches)


def assert_index_walks(conn: sqlite3.Connection, branches: list[scan.Branch]) -> None:
    """Each branch's statements walk an index range in rowid order: no scan, no sort."""
    for where, args in branches:
        for bounded in (False, True):
            # A branch's rows, and its newest row's seq looked up (a covering index).
            for columns in (MESSAGE_COLS, "rowid"):
                sql = "EXPLAIN QUERY PLAN " + scan.select(columns, where, bounded)
                plan = conn.execute(sql, (*args, *[1] * bounded, 10)).fetchall()
                details = " ".join(row[-1] for row in plan)
                assert " INDEX " in details and "TEMP B-TREE" not in details, details


def test_a_branch_is_opened_only_when_its_rows_are_reached():
    """A user in many rooms: each branch's statement (and its first row) cost
    0.16 ms, all opened before the first row was examined (0.5 s for 2,990 branches
    on a 100,000-message database). Now only the branches the scan reaches are:
    a match in the newest room's message opens one, whatever the number of rooms,
    and the page is the same as merging all of them."""
    conn = sqlite3.connect(":memory:")
    migrate.migrate(conn)
    me = new_id()
    conn.execute(
        "INSERT INTO users (id, username, email, password_hash, role, created_at, updated_at) "
        "VALUES (?, 'me', 'me@example.com', 'x', 'user', 0, 0)",
        (me,),
    )
    rooms = [new_id() for _ in range(30)]
    for n, room in enumerate(rooms * 2):  # two messages in each, the last one a match
        conn.execute(
            "INSERT INTO messages (id, author_id, target_type, target_id, content, created_at, "
            "updated_at) VALUES (?, ?, 'room', ?, ?, 0, 0)",
            (new_id(), me, room, "hit" if n == 59 else f"m{n}"),
        )
    branches = scan.everywhere(conn.cursor(), me, rooms, lambda t: SQLiteStore._conversation(t, me))
    opened = []
    conn.set_trace_callback(
        lambda sql: sql.startswith("SELECT rowid AS seq") and opened.append(sql)
    )
    found, last, more = scan.scan(
        conn.cursor(), MESSAGE_COLS, branches, None, lambda r: r[5] == "hit", 1, 100, 10.0
    )
    assert ([r[5] for r in found], last[0], more) == (["hit"], 60, True)
    assert len(opened) == 1
    # On through every row, newest first, with a bound and without.
    opened.clear()
    found, last, more = scan.scan(
        conn.cursor(), MESSAGE_COLS, branches, 60, lambda r: True, 100, 100, 10.0
    )
    assert ([r[0] for r in found], more) == (list(range(59, 0, -1)), False)
    assert len(opened) == len(rooms)


@pytest.mark.parametrize("before", ["not-an-id", 7, ["x"]])
def test_a_before_that_is_no_id_is_validation_failed(w, s, before):
    error = w.fails(
        w.core.messages.search(s.alice, "x", s.general, None, before), "validation_failed"
    )
    assert "before" in error.message


def test_a_before_unknown_or_elsewhere_is_message_not_found(w, s):
    other = send(w, s.carol, s.secret, "hit secret")
    mine = send(w, s.alice, s.general, "hit mine")
    m = w.core.messages
    w.fails(m.search(s.alice, "hit", s.general, None, new_id()), "message_not_found")
    w.fails(m.search(s.alice, "hit", None, None, other.id), "message_not_found")
    # In what alice reads, but not in the conversation asked about.
    w.fails(m.search(s.alice, "hit", Target("dm", s.bob.id), None, mine.id), "message_not_found")
    assert find(w, s.alice, "hit", None, None, "").messages == [mine]  # "" is no cursor


def test_a_page_too_large_for_a_frame_is_cut_and_pages_on(w, s):
    content = "\x01" * 4096  # 6 bytes each as JSON
    sent = [send(w, s.alice, s.general, content) for _ in range(50)]
    page = find(w, s.alice, "\x01", s.general, limit=50)
    assert not page.has_more
    cut = page.within(HISTORY_BUDGET)
    kept = len(cut.messages)
    assert 0 < kept < 50 and cut.has_more and cut.next_before == sent[-kept].id
    rest = find(w, s.alice, "\x01", s.general, 50, cut.next_before)
    assert [m.id for m in cut.messages + rest.messages] == [m.id for m in reversed(sent)]


# -- access -----------------------------------------------------------------------------


def test_a_room_left_is_not_searched(w, s):
    send(w, s.bob, s.general, "hit before leaving")
    w.ok(w.core.rooms.leave(s.bob, s.general.id))
    w.fails(w.core.messages.search(s.bob, "hit", s.general), "not_room_member")
    assert find(w, s.bob, "hit").messages == []


def test_a_private_room_never_joined_is_not_searched(w, s):
    send(w, s.carol, s.secret, "hit secret")
    w.fails(w.core.messages.search(s.alice, "hit", s.secret), "not_room_member")
    assert find(w, s.alice, "hit").messages == []
    assert contents(find(w, s.carol, "hit")) == ["hit secret"]


def test_everywhere_is_the_callers_rooms_and_dms_both_ways(w, s):
    dave = w.user("dave")
    mine = [
        send(w, s.alice, s.general, "hit room"),
        send(w, s.bob, Target("dm", s.alice.id), "hit to alice"),
        send(w, s.alice, Target("dm", dave.id), "hit from alice"),
        send(w, s.alice, Target("dm", s.alice.id), "hit to herself"),
    ]
    send(w, s.bob, Target("dm", dave.id), "hit another pair")  # bob and dave's
    send(w, s.carol, s.secret, "hit secret")
    send(w, dave, Target("dm", dave.id), "hit dave's own")
    page = find(w, s.alice, "hit")
    assert [m.id for m in page.messages] == [m.id for m in reversed(mine)]
    # Another pair's DM conversation is only the caller's own with that user.
    assert contents(find(w, s.alice, "hit", Target("dm", dave.id))) == ["hit from alice"]
    assert contents(find(w, s.alice, "hit", Target("dm", s.alice.id))) == ["hit to herself"]


def test_a_dm_with_an_unknown_user_is_user_not_found(w, s):
    w.fails(w.core.messages.search(s.alice, "x", Target("dm", new_id())), "user_not_found")


def test_a_room_left_while_the_scan_runs_is_dropped(w, s, monkeypatch):
    """Checked again once read, as history is: the hub is told of the leave after
    its write, possibly after the scan read the room's messages."""
    send(w, s.bob, s.general, "hit")
    store = w.core.store
    scan = store.search_messages

    def leaving(*args):
        d = scan(*args)
        w.ok(w.core.rooms.leave(s.bob, s.general.id))
        return d

    monkeypatch.setattr(store, "search_messages", leaving)
    assert find(w, s.bob, "hit").messages == []
    w.ok(w.core.rooms.join(s.bob, s.general.id))
    w.fails(w.core.messages.search(s.bob, "hit", s.general), "not_room_member")


# -- filters: author -----------------------------------------------------------------------------


def test_an_author_filter_pages_over_the_rows_it_skips_counting_each(w, s, monkeypatch):
    """bob wrote one message in five: each page examines 7 rows, his and alice's
    alike (a room has no index by author: a filter applied by SQL would walk a
    million rows of others' uncounted), and paging on visits every one once."""
    monkeypatch.setattr(search, "SCAN_MAX", 7)
    sent = [send(w, s.bob if i % 5 == 0 else s.alice, s.general, f"m {i}") for i in range(40)]
    bobs = [m.id for m in reversed(sent) if m.author == s.bob.id]
    seen, pages = walk(w, s.alice, "", s.general, 50, author=s.bob.id)
    assert (seen, pages) == (bobs, -(-40 // 7))
    # Everywhere too, and with a text, which then must match as well.
    seen, _ = walk(w, s.alice, None, None, 3, author=s.bob.id)
    assert seen == bobs
    assert [m.content for m in find(w, s.alice, "m 3", author=s.bob.id).messages] == ["m 35"]


def test_the_bound_stops_a_filtered_scan_where_it_got(w, s, monkeypatch):
    monkeypatch.setattr(search, "SCAN_MAX", 3)
    sent = [send(w, who, s.general, "x") for who in (s.bob, s.alice, s.alice, s.alice)]
    page = find(w, s.alice, "x", s.general, author=s.bob.id)
    assert (page.messages, page.has_more, page.next_before) == ([], True, sent[1].id)
    page = find(w, s.alice, "x", s.general, before=page.next_before, author=s.bob.id)
    assert ([m.id for m in page.messages], page.has_more) == ([sent[0].id], False)


def test_an_author_who_wrote_nothing_or_is_no_one_finds_nothing(w, s):
    send(w, s.alice, s.general, "hello")
    send(w, s.bob, Target("dm", s.alice.id), "hello")
    for author in (s.carol.id, new_id()):
        for target in (s.general, None, Target("dm", s.bob.id)):
            page = find(w, s.alice, "", target, author=author)
            assert (page.messages, page.has_more, page.next_before) == ([], False, None)
    # The id in any form parse_uuid takes: upper case is the same user.
    assert len(find(w, s.alice, "", author=s.alice.id.upper()).messages) == 1


def test_an_author_filter_keeps_their_dms_only_both_ways(w, s):
    dave = w.user("dave")
    to_alice = send(w, s.bob, Target("dm", s.alice.id), "hi alice")
    to_bob = send(w, s.alice, Target("dm", s.bob.id), "hi bob")
    to_dave = send(w, s.alice, Target("dm", dave.id), "hi dave")
    to_self = send(w, s.alice, Target("dm", s.alice.id), "note")
    in_room = send(w, s.bob, s.general, "hi all")
    send(w, s.bob, Target("dm", dave.id), "another pair's")

    def ids(query, target=None, author=None):
        return [m.id for m in find(w, s.alice, query, target, author=author).messages]

    assert ids("", author=s.bob.id) == [in_room.id, to_alice.id]
    assert ids("", author=s.alice.id) == [to_self.id, to_dave.id, to_bob.id]
    assert ids("hi", Target("dm", s.bob.id), s.bob.id) == [to_alice.id]
    assert ids("hi", Target("dm", s.bob.id), s.alice.id) == [to_bob.id]
    assert ids("", Target("dm", s.bob.id), dave.id) == []  # not one of the pair


def test_another_authors_dms_are_one_range_with_no_walk_of_partners():
    """bob's DMs, as alice searches them: the one range of what he sent her, not a
    seek per partner of hers (then every DM she sent, unread, would count)."""
    conn = sqlite3.connect(":memory:")
    migrate.migrate(conn)
    me, other, room = new_id(), new_id(), new_id()
    statements = []
    conn.set_trace_callback(statements.append)

    def branches(author):
        statements.clear()
        return scan.everywhere(
            conn.cursor(), me, [room], lambda t: SQLiteStore._conversation(t, me, author), author
        )

    dm = "target_type = 'dm' AND author_id = ? AND target_id = ?"
    room_branch = ("target_type = 'room' AND target_id = ?", [room])
    assert branches(other) == [room_branch, (dm, [other, me])]
    assert statements == []
    assert branches(me) == [room_branch, (dm, [me, me])]
    assert len(statements) == 1  # the first partner looked for: none
    assert_index_walks(conn, branches(other) + branches(me))


# -- dates ------------------------------------------------------------------------------


def test_since_is_inclusive_and_until_exclusive_in_whole_seconds(w, s):
    """Three messages a second apart, and a little after the second. ``created_at``
    is stored (and answered by search and history) in whole seconds: the bounds are
    cut to the second too, so a message's time as its send answered it (with the
    fraction) finds that message as ``since`` and leaves it out as ``until``."""
    w.clock.advance(0.25)
    sent = []
    for i in range(3):
        sent.append(send(w, s.alice, s.general, f"m {i}"))
        w.clock.advance(1)
    t0 = int(sent[0].created_at)

    def contents(**filters):
        return [m.content for m in find(w, s.alice, "", s.general, **filters).messages]

    assert contents(since=ts(t0 + 1)) == ["m 2", "m 1"]
    assert contents(until=ts(t0 + 1)) == ["m 0"]
    assert contents(since=ts(t0 + 1), until=ts(t0 + 2)) == ["m 1"]
    assert ts(sent[1].created_at) == ts(t0 + 1.25)
    assert contents(since=ts(sent[1].created_at)) == ["m 2", "m 1"]
    assert contents(until=ts(sent[1].created_at)) == ["m 0"]
    assert contents(since=ts(t0 + 1.999999)) == ["m 2", "m 1"]
    # Any offset, and a lower-case t and z, as RFC 3339 allows.
    assert contents(since=ts(t0 + 2).replace("Z", "z").replace("T", "t")) == ["m 2"]
    assert contents(until=f"{ts(t0 + 2 + 3600)[:-1]}+01:00") == ["m 1", "m 0"]
    assert contents(since=ts(t0 + 3)) == []
    # With a text and an author too.
    send(w, s.bob, s.general, "m 3")
    assert [m.content for m in find(w, s.alice, "M", since=ts(t0), author=s.bob.id).messages] == [
        "m 3"
    ]


def test_a_date_filter_counts_the_rows_it_skips(w, s, monkeypatch):
    monkeypatch.setattr(search, "SCAN_MAX", 2)
    old = send(w, s.alice, s.general, "old")
    w.clock.advance(60)
    sent = [send(w, s.alice, s.general, f"new {i}") for i in range(5)]
    since_nothing = ts(sent[-1].created_at + 1)
    seen, pages = walk(w, s.alice, "", s.general, 20, since=since_nothing)
    assert (seen, pages) == ([], 3)
    seen, pages = walk(w, s.alice, "", s.general, 20, until=ts(old.created_at + 1))
    assert (seen, pages) == ([old.id], 3)


# -- the text and the errors ----------------------------------------------------------


def test_a_blank_text_is_taken_only_with_a_filter(w, s):
    send(w, s.alice, s.general, "hello")
    for query in ("", " \t", None):
        assert len(find(w, s.alice, query, s.general, author=s.alice.id).messages) == 1
        error = w.fails(w.core.messages.search(s.alice, query, s.general), "validation_failed")
        assert "query" in error.message
    # "" is no filter, as "" is no cursor.
    w.fails(w.core.messages.search(s.alice, "", None, None, None, "", "", ""), "validation_failed")
    # A filter does not make a text too long acceptable.
    error = w.fails(
        w.core.messages.search(s.alice, "x" * 257, None, author=s.alice.id), "validation_failed"
    )
    assert "query" in error.message


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"author": "bob"}, "Validation failed: author - must be a user id"),
        ({"author": 5}, "Validation failed: author - must be a user id"),
        ({"since": "yesterday"}, "Validation failed: since - must be an RFC 3339 timestamp"),
        ({"since": "2026-01-01"}, "Validation failed: since - must be an RFC 3339 timestamp"),
        ({"since": 1700000000}, "Validation failed: since - must be an RFC 3339 timestamp"),
        (
            {"until": "2026-13-01T00:00:00Z"},
            "Validation failed: until - must be an RFC 3339 timestamp",
        ),
        (
            {"since": "2026-01-02T00:00:00Z", "until": "2026-01-02T02:00:00+02:00"},
            "Validation failed: until - must be later than since",
        ),
        (  # the same second: nothing could be found
            {"since": "2026-01-01T00:00:00.2Z", "until": "2026-01-01T00:00:00.7Z"},
            "Validation failed: until - must be later than since",
        ),
    ],
)
def test_bad_filters_are_validation_failed_naming_the_field(w, s, filters, message):
    error = w.fails(w.core.messages.search(s.alice, "x", None, **filters), "validation_failed")
    assert error.message == message
