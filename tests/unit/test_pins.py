"""Pinned messages (lairchat.core.pins, lairchat.domain.pins, migration 012): who may
pin, unpin and list, the room's cap decided in the write, who is told, the list's
order and shape, and every deletion of messages, rooms and accounts taking the pins
with them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from twisted.internet import defer

from lairchat.domain.ids import new_ordered_id
from lairchat.domain.pins import PINS_PER_ROOM
from lairchat.domain.timefmt import ts
from lairchat.domain.types import Message, Target
from tests.unit.conftest import CoreWorld
from tests.unit.test_reactions import run_out


@pytest.fixture
def w(core_world: CoreWorld) -> CoreWorld:
    return core_world


@pytest.fixture
def s(w: CoreWorld) -> SimpleNamespace:
    """alice owns "general", mo moderates it, bob is a plain member, carol is in no
    room. Each has a connection that asked for lairchat's own events; dave's plain
    one did not (a member too)."""
    alice, mo, bob, carol, dave = (w.user(n) for n in ("alice", "moe", "bob", "carol", "dave"))
    general = w.ok(w.core.rooms.create(alice, "general", None, None))
    for member in (mo, bob, dave):
        w.ok(w.core.rooms.join(member, general.id))
    w.ok(w.core.rooms.change_role(alice, general.id, mo.id, "moderator"))
    subs = SimpleNamespace(**{u.username: w.connect(u) for u in (alice, mo, bob, carol, dave)})
    for sub in (subs.alice, subs.moe, subs.bob, subs.carol):
        sub.extended = True
    room = Target("room", general.id)
    said = w.ok(w.core.messages.send(bob, room, "pin me"))
    w.clear()
    return SimpleNamespace(
        alice=alice, mo=mo, bob=bob, carol=carol, dave=dave, room=room, said=said, subs=subs
    )


def rows(w: CoreWorld) -> int:
    return w.core.store._writer.connection.execute("SELECT count(*) FROM pins").fetchone()[0]


def listed(w: CoreWorld, who, room: Target) -> list[dict]:
    return w.ok(w.core.pins.of_room(who, room.id)).to_wire()["pins"]


# -- who may --------------------------------------------------------------------------


def test_moderators_pin_and_unpin_others_may_not(w, s) -> None:
    w.fails(w.core.pins.pin(s.bob, s.said.id), "permission_denied")
    w.fails(w.core.pins.pin(s.carol, s.said.id), "not_room_member")
    w.ok(w.core.pins.pin(s.mo, s.said.id))
    w.fails(w.core.pins.unpin(s.bob, s.said.id), "permission_denied")
    w.fails(w.core.pins.unpin(s.carol, s.said.id), "not_room_member")
    assert rows(w) == 1
    w.ok(w.core.pins.unpin(s.alice, s.said.id))
    assert rows(w) == 0


def test_a_system_admin_has_no_override(w, s) -> None:
    """As for the rest of a room's moderation (docs/SECURITY.md): the stored role
    ``admin`` is no room role."""
    root = w.user("root", role="admin")
    w.fails(w.core.pins.pin(root, s.said.id), "not_room_member")
    w.ok(w.core.rooms.join(root, s.room.id))
    w.fails(w.core.pins.pin(root, s.said.id), "permission_denied")


def test_unknown_malformed_and_dm_messages(w, s) -> None:
    w.fails(w.core.pins.pin(s.alice, new_ordered_id()), "message_not_found")
    w.fails(w.core.pins.pin(s.alice, None), "message_not_found")
    dm = w.ok(w.core.messages.send(s.alice, Target("dm", s.bob.id), "psst"))
    for who in (s.alice, s.bob):  # its parties read it: a DM has no pins
        error = w.fails(w.core.pins.pin(who, dm.id), "validation_failed")
        assert "message_id" in error.message and "room messages" in error.message
        w.fails(w.core.pins.unpin(who, dm.id), "validation_failed")
    w.fails(w.core.pins.pin(s.carol, dm.id), "message_not_found")  # nothing says it is there
    assert rows(w) == 0


def test_a_demoted_moderator_may_no_longer_pin(w, s) -> None:
    w.ok(w.core.rooms.change_role(s.alice, s.room.id, s.mo.id, "member"))
    w.fails(w.core.pins.pin(s.mo, s.said.id), "permission_denied")


def test_members_list_others_may_not(w, s) -> None:
    w.ok(w.core.pins.pin(s.alice, s.said.id))
    assert len(listed(w, s.bob, s.room)) == 1
    w.fails(w.core.pins.of_room(s.carol, s.room.id), "not_room_member")
    w.fails(w.core.pins.of_room(s.bob, new_ordered_id()), "room_not_found")
    w.fails(w.core.pins.of_room(s.bob, None), "room_not_found")


# -- events -----------------------------------------------------------------------------


def test_a_pin_is_told_once_to_members_that_asked(w, s) -> None:
    w.ok(w.core.reactions.add(s.bob, s.said.id, "👍"))
    w.clear()
    w.ok(w.core.pins.pin(s.mo, s.said.id))
    w.ok(w.core.pins.pin(s.alice, s.said.id))  # a repeat: nothing changes, nobody is told
    told = w.received("message_pinned")
    payload = {
        "type": "message_pinned",
        "room_id": s.room.id,
        "message": {
            **s.said.to_wire(),
            "reactions": [{"emoji": "👍", "count": 1, "user_ids": [s.bob.id]}],
        },
        "pinned_by": s.mo.id,
        "pinned_at": ts(w.clock.seconds()),
    }
    assert told == {u.id: [payload] for u in (s.alice, s.mo, s.bob)}  # not carol, not dave
    w.ok(w.core.pins.unpin(s.alice, s.said.id))
    w.ok(w.core.pins.unpin(s.alice, s.said.id))
    gone = {
        "type": "message_unpinned",
        "room_id": s.room.id,
        "message_id": s.said.id,
        "unpinned_by": s.alice.id,
    }
    assert w.received("message_unpinned") == {u.id: [gone] for u in (s.alice, s.mo, s.bob)}
    assert s.subs.dave.events == []


@pytest.mark.parametrize("meanwhile", ["unpinned", "deleted by its author"])
def test_what_happens_to_a_message_while_it_is_pinned_is_told_after_the_pin(
    w, s, meanwhile: str
) -> None:
    """The pin's event waited for a read (its message's reactions) after the pin was
    stored and the room's lock let go: an unpin, or the author's deletion, stored
    meanwhile was told first, and every client was left showing as pinned a message
    that is not, or is gone (found reading PinService.pin)."""
    real, reading = w.core.store.reactions_of, defer.Deferred()
    w.core.store.reactions_of = lambda ids, reader=None: reading  # a busy reader pool
    pinning = w.core.pins.pin(s.alice, s.said.id)  # waits on the read
    w.core.store.reactions_of = real
    if meanwhile == "unpinned":
        other = w.core.pins.unpin(s.mo, s.said.id)
    else:
        other = w.core.messages.delete(s.bob, s.said.id)

    reading.callback({})

    w.ok(other)
    if meanwhile == "unpinned":
        w.ok(pinning)
        expected = ["message_pinned", "message_unpinned"]
    else:
        w.fails(pinning, "message_not_found")  # gone before it was stored: no pin
        expected = ["message_deleted"]
    assert rows(w) == 0
    for sub in (s.subs.alice, s.subs.bob):
        kinds = ("message_pinned", "message_unpinned", "message_deleted")
        assert [t for t in sub.types() if t in kinds] == expected


def test_refusals_tell_nobody(w, s) -> None:
    w.fails(w.core.pins.pin(s.bob, s.said.id), "permission_denied")
    w.fails(w.core.pins.unpin(s.bob, s.said.id), "permission_denied")
    assert w.received("message_pinned") == w.received("message_unpinned") == {}


# -- the list and the cap -----------------------------------------------------------------


def test_the_list_is_newest_pin_first_in_history_shape(w, s) -> None:
    later = w.ok(w.core.messages.send(s.alice, s.room, "later"))
    w.ok(w.core.pins.pin(s.alice, later.id))
    w.clock.advance(60)
    w.ok(w.core.pins.pin(s.mo, s.said.id))  # the older message, pinned last: first
    w.ok(w.core.reactions.add(s.bob, later.id, "🎉"))
    pins = listed(w, s.bob, s.room)
    history = w.ok(w.core.messages.history(s.bob, s.room, 50)).to_wire()["messages"]
    assert [p["message"] for p in pins] == [history[1], history[0]]
    assert [(p["pinned_by"], p["pinned_at"]) for p in pins] == [
        (s.mo.id, ts(w.clock.seconds())),
        (s.alice.id, ts(w.clock.seconds() - 60)),
    ]
    assert list(pins[0]) == ["message", "pinned_by", "pinned_at"]
    assert pins[1]["message"]["reactions"] == [
        {"emoji": "🎉", "count": 1, "user_ids": [s.bob.id], "me": True}
    ]


def test_a_repin_comes_first_again(w, s) -> None:
    later = w.ok(w.core.messages.send(s.alice, s.room, "later"))
    for message in (s.said, later):
        w.ok(w.core.pins.pin(s.alice, message.id))
    w.ok(w.core.pins.unpin(s.alice, s.said.id))
    w.ok(w.core.pins.pin(s.alice, s.said.id))
    assert [p["message"]["id"] for p in listed(w, s.bob, s.room)] == [s.said.id, later.id]


def test_the_fifty_first_pin_is_refused_in_the_write(w, s) -> None:
    store = w.core.store
    messages = [w.ok(w.core.messages.send(s.alice, s.room, f"m{i}")) for i in range(PINS_PER_ROOM)]
    for message in messages:
        assert w.ok(store.pin_message(message.id, s.room.id, s.alice.id, 0)) is True
    error = w.fails(w.core.pins.pin(s.alice, s.said.id), "validation_failed")
    assert "message_id" in error.message and str(PINS_PER_ROOM) in error.message
    # One already pinned is still taken (idempotent), and unpinning makes room.
    assert w.ok(store.pin_message(messages[0].id, s.room.id, s.alice.id, 0)) is False
    w.ok(w.core.pins.unpin(s.alice, messages[0].id))
    w.ok(w.core.pins.pin(s.alice, s.said.id))
    assert rows(w) == PINS_PER_ROOM
    assert w.received("message_pinned")  # the 50th after a place freed is told


def test_the_cap_is_per_room(w, s) -> None:
    other = w.ok(w.core.rooms.create(s.alice, "other", None, None))
    there = Target("room", other.id)
    for i in range(PINS_PER_ROOM):
        message = w.ok(w.core.messages.send(s.alice, there, f"m{i}"))
        w.ok(w.core.store.pin_message(message.id, other.id, s.alice.id, 0))
    w.ok(w.core.pins.pin(s.alice, s.said.id))


def test_the_list_reads_two_statements_however_many_pins(w, s) -> None:
    """One for the pins with their messages, one for their reactions."""
    for i in range(20):
        message = w.ok(w.core.messages.send(s.alice, s.room, f"m{i}"))
        w.ok(w.core.pins.pin(s.alice, message.id))
    traced: list[str] = []
    conn = w.core.store._reader.connection
    conn.set_trace_callback(traced.append)
    assert len(listed(w, s.bob, s.room)) == 20
    conn.set_trace_callback(None)
    assert sum("FROM pins" in sql for sql in traced) == 1, traced
    assert sum("FROM reactions" in sql for sql in traced) == 1, traced


def test_a_list_too_large_for_a_frame_is_cut_from_its_oldest_pins(w, s) -> None:
    for i in range(30):
        message = w.ok(w.core.messages.send(s.alice, s.room, f"{i:02}" + "\x01" * 4000))
        w.ok(w.core.pins.pin(s.alice, message.id))
    pins = w.ok(w.core.pins.of_room(s.bob, s.room.id))
    cut = pins.within(200_000)
    shown = cut.to_wire()["pins"]
    assert cut.page.has_more and not pins.page.has_more
    assert 0 < len(shown) < 30
    assert [p["message"]["content"][:2] for p in shown] == [
        f"{i:02}" for i in range(29, 29 - len(shown), -1)
    ]


# -- deletions --------------------------------------------------------------------------


def test_a_deleted_message_loses_its_pin(w, s) -> None:
    w.ok(w.core.pins.pin(s.alice, s.said.id))
    w.ok(w.core.messages.delete(s.bob, s.said.id))
    assert rows(w) == 0
    assert listed(w, s.bob, s.room) == []
    w.fails(w.core.pins.pin(s.alice, s.said.id), "message_not_found")


def test_a_pin_of_a_message_deleted_meanwhile_is_not_stored(w, s) -> None:
    """The store decides in the write (the same writer as the deletion)."""
    w.ok(w.core.store.delete_message(s.said.id))
    w.fails(w.core.store.pin_message(s.said.id, s.room.id, s.alice.id, 0), "message_not_found")
    assert rows(w) == 0


def test_retention_takes_the_pins_of_what_it_prunes(w, s) -> None:
    now = w.clock.seconds()
    old = Message(new_ordered_id(), s.alice.id, s.room, "old", False, now - 100, now - 100)
    w.ok(w.core.store.insert_messages([old]))
    for message in (old, s.said):
        w.ok(w.core.pins.pin(s.alice, message.id))
    deleted, _ = w.ok(w.core.store.prune_messages(now - 50, 0, 1000))
    assert deleted == 1
    assert [p["message"]["id"] for p in listed(w, s.bob, s.room)] == [s.said.id]
    assert rows(w) == 1


def test_a_deleted_room_takes_its_pins(w, s) -> None:
    w.ok(w.core.pins.pin(s.alice, s.said.id))
    w.ok(w.core.rooms.delete(s.alice, s.room.id))
    assert rows(w) == 0
    w.fails(w.core.pins.of_room(s.alice, s.room.id), "room_not_found")


def test_a_room_deleted_meanwhile_keeps_no_pin(w, s) -> None:
    w.ok(w.core.store.delete_room(s.room.id))
    w.fails(w.core.store.pin_message(s.said.id, s.room.id, s.alice.id, 0), "room_not_found")
    assert rows(w) == 0


def test_an_account_deleted_takes_its_messages_pins_and_the_pins_it_made(w, s) -> None:
    mine = w.ok(w.core.messages.send(s.alice, s.room, "by alice"))
    by_mo = w.ok(w.core.messages.send(s.alice, s.room, "pinned by mo"))
    w.ok(w.core.pins.pin(s.alice, s.said.id))  # bob's message: goes with it
    w.ok(w.core.pins.pin(s.alice, mine.id))  # stays
    w.ok(w.core.pins.pin(s.mo, by_mo.id))
    w.core.deletion.batch = 1
    w.ok(w.core.deletion.delete(s.bob.id))
    run_out(w)
    assert [p["message"]["id"] for p in listed(w, s.alice, s.room)] == [by_mo.id, mine.id]
    w.ok(w.core.rooms.leave(s.mo, s.room.id))
    assert w.ok(w.core.store.end_account(s.mo.id, 0))
    assert [p["message"]["id"] for p in listed(w, s.alice, s.room)] == [mine.id]


def test_the_last_step_takes_pins_of_messages_the_erasure_missed(w, s) -> None:
    """end_account deletes the user's messages stored after the erasure passed."""
    w.ok(w.core.pins.pin(s.alice, s.said.id))
    w.ok(w.core.rooms.leave(s.bob, s.room.id))
    assert w.ok(w.core.store.end_account(s.bob.id, 0))
    assert rows(w) == 0
