"""Message reactions (lairchat.core.reactions, lairchat.domain.reactions, migration
011): the emoji rule, the store's rows and cap, every deletion of messages and of
accounts taking the reactions with them, who may react, and who is told."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lairchat.core.retention import PAUSE
from lairchat.domain.errors import LairError
from lairchat.domain.ids import new_ordered_id
from lairchat.domain.reactions import EMOJI_PER_MESSAGE, USER_IDS_SHOWN, check_emoji
from lairchat.domain.types import Message, Target
from tests.unit.conftest import CoreWorld

THUMBS = "👍"
ENGLAND = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"


# -- the emoji rule -----------------------------------------------------------------


@pytest.mark.parametrize(
    "emoji", [THUMBS, "❤️", "👨\u200d👩\u200d👧\u200d👦", "1️⃣", ENGLAND, "+1", "👍🏽"]
)
def test_emoji_taken(emoji: str) -> None:
    assert check_emoji(emoji) == emoji


def test_emoji_is_taken_composed() -> None:
    assert check_emoji("e\u0301") == "\u00e9"


@pytest.mark.parametrize(
    "emoji",
    ["", " ", "a b", "👍\n", "\u200b", "\x00", "👍\u202e", "\u3164", "x" * 33, "a/b", "\U000e0067"],
)
def test_emoji_refused(emoji: str) -> None:
    with pytest.raises(LairError) as info:
        check_emoji(emoji)
    assert info.value.code == "validation_failed"
    assert "emoji" in info.value.message


def test_emoji_of_32_bytes_is_the_longest() -> None:
    assert check_emoji("👍" * 8) == "👍" * 8
    with pytest.raises(LairError):
        check_emoji("👍" * 8 + "x")


# -- a world ----------------------------------------------------------------------------


@pytest.fixture
def w(core_world: CoreWorld) -> CoreWorld:
    return core_world


@pytest.fixture
def s(w: CoreWorld) -> SimpleNamespace:
    """alice owns "general" with bob in it; carol is in no room. Each has a connection
    that asked for lairchat's own events; dave's plain one did not (a member too)."""
    alice, bob, carol, dave = (w.user(n) for n in ("alice", "bob", "carol", "dave"))
    general = w.ok(w.core.rooms.create(alice, "general", None, None))
    w.ok(w.core.rooms.join(bob, general.id))
    w.ok(w.core.rooms.join(dave, general.id))
    subs = SimpleNamespace(**{u.username: w.connect(u) for u in (alice, bob, carol, dave)})
    for sub in (subs.alice, subs.bob, subs.carol):
        sub.extended = True
    room = Target("room", general.id)
    said = w.ok(w.core.messages.send(alice, room, "hello"))
    w.clear()
    return SimpleNamespace(
        alice=alice, bob=bob, carol=carol, dave=dave, room=room, said=said, subs=subs
    )


def shown(w: CoreWorld, *message_ids: str) -> dict:
    return w.ok(w.core.store.reactions_of(list(message_ids)))


def rows(w: CoreWorld) -> int:
    return w.core.store._writer.connection.execute("SELECT count(*) FROM reactions").fetchone()[0]


def react(w: CoreWorld, who, message: Message, emoji: str = THUMBS) -> None:
    w.ok(w.core.reactions.add(who, message.id, emoji))


# -- the core -------------------------------------------------------------------------


def test_a_reaction_is_told_to_members_that_asked_once(w, s) -> None:
    react(w, s.bob, s.said)
    react(w, s.bob, s.said)  # a repeat: nothing changes, nobody is told
    told = w.received("reaction_added")
    payload = {
        "type": "reaction_added",
        "message_id": s.said.id,
        "target": {"type": "room", "room_id": s.room.id},
        "user_id": s.bob.id,
        "emoji": THUMBS,
    }
    assert told == {s.alice.id: [payload], s.bob.id: [payload]}  # not carol, not dave
    w.ok(w.core.reactions.remove(s.bob, s.said.id, THUMBS))
    w.ok(w.core.reactions.remove(s.bob, s.said.id, THUMBS))
    removed = w.received("reaction_removed")
    assert removed == {u: [{**payload, "type": "reaction_removed"}] for u in removed}
    assert set(removed) == {s.alice.id, s.bob.id}
    assert s.subs.dave.events == []


def test_who_may_react(w, s) -> None:
    w.fails(w.core.reactions.add(s.carol, s.said.id, THUMBS), "not_room_member")
    w.fails(w.core.reactions.add(s.bob, new_ordered_id(), THUMBS), "message_not_found")
    w.fails(w.core.reactions.add(s.bob, None, THUMBS), "message_not_found")
    w.fails(w.core.reactions.add(s.bob, s.said.id, "a b"), "validation_failed")
    dm = w.ok(w.core.messages.send(s.alice, Target("dm", s.bob.id), "psst"))
    w.fails(w.core.reactions.add(s.carol, dm.id, THUMBS), "message_not_found")
    w.fails(w.core.reactions.remove(s.carol, dm.id, THUMBS), "message_not_found")
    w.clear()
    react(w, s.bob, dm)
    told = w.received("reaction_added")
    assert set(told) == {s.alice.id, s.bob.id}
    assert told[s.alice.id][0]["target"] == {"type": "dm", "recipient": s.bob.id}
    assert rows(w) == 1


def test_a_member_who_left_may_no_longer_react(w, s) -> None:
    react(w, s.bob, s.said)
    w.ok(w.core.rooms.leave(s.bob, s.room.id))
    w.fails(w.core.reactions.remove(s.bob, s.said.id, THUMBS), "not_room_member")


def test_history_carries_reactions_in_order_in_one_read(w, s) -> None:
    other = w.ok(w.core.messages.send(s.bob, s.room, "second"))
    react(w, s.bob, s.said, "🎉")
    react(w, s.alice, s.said, THUMBS)
    react(w, s.bob, s.said, THUMBS)
    react(w, s.dave, other, THUMBS)
    reads = []
    real = w.core.store.reactions_of
    w.core.store.reactions_of = lambda ids, reader: reads.append(list(ids)) or real(ids, reader)
    page = w.ok(w.core.messages.history(s.alice, s.room, 50))
    assert reads == [[other.id, s.said.id]]  # one read for the page
    wire = page.to_wire()["messages"]
    assert list(wire[1]) == [
        "id",
        "author",
        "target",
        "content",
        "edited",
        "created_at",
        "reactions",
    ]
    assert wire[1]["reactions"] == [
        {"emoji": "🎉", "count": 1, "user_ids": [s.bob.id], "me": False},
        {"emoji": THUMBS, "count": 2, "user_ids": [s.alice.id, s.bob.id], "me": True},
    ]
    assert wire[0]["reactions"] == [
        {"emoji": THUMBS, "count": 1, "user_ids": [s.dave.id], "me": False}
    ]


def test_history_lists_50_users_and_counts_all(w, s) -> None:
    store = w.core.store
    for i in range(USER_IDS_SHOWN + 5):
        user = w.user(f"fan{i}")
        w.ok(store.add_reaction(s.said.id, user.id, THUMBS, 0))
    (reaction,) = shown(w, s.said.id)[s.said.id]
    assert reaction["count"] == USER_IDS_SHOWN + 5
    assert len(reaction["user_ids"]) == USER_IDS_SHOWN


def test_history_says_whether_the_reader_reacted_past_the_50_listed(w, s) -> None:
    """Found reading a history answer of a popular message: ``user_ids`` lists the
    first 50, so the 51st reactor's client could not tell that they had reacted
    (their own emoji shown as not theirs, a click adding it again). ``me`` is
    computed for each reader from every reaction."""
    store = w.core.store
    for i in range(USER_IDS_SHOWN):
        w.ok(store.add_reaction(s.said.id, w.user(f"fan{i}").id, THUMBS, 0))
    react(w, s.bob, s.said)
    react(w, s.bob, s.said, "🎉")

    def reactions(reader) -> list[dict]:
        page = w.ok(w.core.messages.history(reader, s.room, 50))
        return page.to_wire()["messages"][0]["reactions"]

    thumbs, party = reactions(s.bob)
    assert s.bob.id not in thumbs["user_ids"] and thumbs["count"] == USER_IDS_SHOWN + 1
    assert (thumbs["me"], party["me"]) == (True, True)
    assert [r["me"] for r in reactions(s.alice)] == [False, False]
    assert [r["me"] for r in reactions(s.dave)] == [False, False]


def test_a_page_too_large_with_its_reactions_is_cut(w, s) -> None:
    """The real-time answer's budget counts the reactions too."""
    for i in range(30):
        w.ok(w.core.messages.send(s.alice, s.room, f"m{i}"))
    page = w.ok(w.core.messages.history(s.alice, s.room, 50))
    fat = {m.id: [{"emoji": "x", "count": 50, "user_ids": [s.bob.id] * 50}] for m in page.messages}
    page.reactions = fat
    cut = page.within(20_000)
    assert cut.has_more and 0 < len(cut.messages) < len(page.messages)
    assert cut.reactions is fat


def test_the_twenty_first_emoji_is_refused_in_the_write(w, s) -> None:
    store = w.core.store
    for i in range(EMOJI_PER_MESSAGE):
        assert w.ok(store.add_reaction(s.said.id, s.bob.id, f"e{i}", 0)) is True
    w.fails(store.add_reaction(s.said.id, s.bob.id, "e20", 0), "validation_failed")
    w.fails(w.core.reactions.add(s.alice, s.said.id, "e20"), "validation_failed")
    assert w.ok(store.add_reaction(s.said.id, s.alice.id, "e0", 0)) is True
    assert w.ok(store.add_reaction(s.said.id, s.alice.id, "e0", 0)) is False
    assert len(shown(w, s.said.id)[s.said.id]) == EMOJI_PER_MESSAGE


# -- deletions --------------------------------------------------------------------------


def test_a_deleted_message_loses_its_reactions(w, s) -> None:
    react(w, s.bob, s.said)
    w.ok(w.core.messages.delete(s.alice, s.said.id))
    assert rows(w) == 0
    w.fails(w.core.reactions.add(s.bob, s.said.id, THUMBS), "message_not_found")


def test_a_reaction_to_a_message_deleted_meanwhile_is_not_stored(w, s) -> None:
    """The store decides in the write (the same writer as the deletion)."""
    w.ok(w.core.store.delete_message(s.said.id))
    w.fails(w.core.store.add_reaction(s.said.id, s.bob.id, THUMBS, 0), "message_not_found")
    assert rows(w) == 0


def test_retention_takes_the_reactions_of_what_it_prunes(w, s) -> None:
    now = w.clock.seconds()
    old = Message(new_ordered_id(), s.alice.id, s.room, "old", False, now - 100, now - 100)
    w.ok(w.core.store.insert_messages([old]))
    newer = w.ok(w.core.messages.send(s.alice, s.room, "kept"))
    react(w, s.bob, old)
    react(w, s.bob, newer)
    deleted, _ = w.ok(w.core.store.prune_messages(now - 50, 0, 1000))
    assert deleted == 1
    assert shown(w, old.id, newer.id) == {
        newer.id: [{"emoji": THUMBS, "count": 1, "user_ids": [s.bob.id]}]
    }
    assert rows(w) == 1


def run_out(w: CoreWorld) -> None:
    for _ in range(1000):
        if not w.core.deletion._running:
            return
        w.clock.advance(PAUSE)
    raise AssertionError("the deletion never finished")


def test_an_account_deleted_takes_its_reactions_and_its_messages_reactions(w, s) -> None:
    bobs = w.ok(w.core.messages.send(s.bob, s.room, "by bob"))
    dm = w.ok(w.core.messages.send(s.alice, Target("dm", s.bob.id), "to bob"))
    react(w, s.bob, s.said)  # bob's reaction on alice's message: goes
    react(w, s.alice, s.said, "🎉")  # stays
    react(w, s.alice, bobs)  # on bob's message: goes with it
    react(w, s.alice, dm)  # on a DM to bob: goes with it
    w.core.deletion.batch = 1  # the erasure in batches, then the last step
    w.ok(w.core.deletion.delete(s.bob.id))
    run_out(w)
    assert rows(w) == 1
    assert shown(w, s.said.id, bobs.id, dm.id) == {
        s.said.id: [{"emoji": "🎉", "count": 1, "user_ids": [s.alice.id]}]
    }


def test_the_last_step_takes_reactions_to_messages_the_erasure_missed(w, s) -> None:
    """end_account deletes the user's messages stored after the erasure passed."""
    late = w.ok(w.core.messages.send(s.bob, s.room, "late"))
    react(w, s.alice, late)
    react(w, s.bob, s.said)
    w.ok(w.core.rooms.leave(s.bob, s.room.id))
    assert w.ok(w.core.store.end_account(s.bob.id, 0))
    assert rows(w) == 0


def test_a_deleted_room_leaves_nothing_reachable(w, s) -> None:
    react(w, s.bob, s.said)
    w.ok(w.core.rooms.delete(s.alice, s.room.id))
    for who in (s.alice, s.bob):
        w.fails(w.core.reactions.add(who, s.said.id, "🎉"), "not_room_member")
        w.fails(w.core.messages.history(who, s.room, 50), "not_room_member")


def test_history_reads_one_statement_per_page(w, s) -> None:
    """Not a statement per message: one for the whole page (100 messages)."""
    for i in range(120):
        msg = w.ok(w.core.messages.send(s.alice, s.room, f"m{i}"))
        if i % 3 == 0:
            react(w, s.bob, msg)
    traced: list[str] = []
    conn = w.core.store._reader.connection
    conn.set_trace_callback(traced.append)
    page = w.ok(w.core.messages.history(s.alice, s.room, 100))
    conn.set_trace_callback(None)
    assert sum("FROM reactions" in sql for sql in traced) == 1, traced
    assert sum(bool(page.reactions.get(m.id)) for m in page.messages) in (33, 34)
