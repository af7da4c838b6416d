"""MessageService: send, edit, delete, history paging, unread counts, and the events
(DOMAIN.md §8, §10-§12, HTTP.md §5.4, PROTOCOL.md §9)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from twisted.internet import defer

from lairchat.domain.errors import LairError
from lairchat.domain.ids import new_id
from lairchat.domain.timefmt import ts
from lairchat.domain.types import Target, User
from lairchat.testing import result

T0 = 1_700_000_000
RECEIVED_KEYS = ["type", "message", "author_username"]
EDITED_KEYS = ["type", "message", "previous_content"]
DELETED_KEYS = ["type", "message_id", "target", "deleted_by"]


@pytest.fixture
def w(core_world):
    return core_world


@pytest.fixture
def s(w):
    """Room "general": alice owner, carol moderator, bob and erin members; dave outside.
    Everyone connected once; alice twice."""
    users = {name: w.user(name) for name in ("alice", "bob", "carol", "dave", "erin")}
    room = w.ok(w.core.rooms.create(users["alice"], "general", None, None))
    for name in ("bob", "carol", "erin"):
        w.ok(w.core.rooms.join(users[name], room.id))
    w.ok(w.core.rooms.change_role(users["alice"], room.id, users["carol"].id, "moderator"))
    subs = {name: w.connect(user) for name, user in users.items()}
    subs["alice2"] = w.connect(users["alice"])
    w.clear()
    return SimpleNamespace(room=room, target=Target("room", room.id), subs=subs, **users)


def dm(user) -> Target:
    return Target("dm", user.id)


def who_got(w, s, type_: str) -> list[str]:
    """Names of the fake connections that received ``type_`` (one entry per copy)."""
    return sorted(name for name, sub in s.subs.items() for _ in sub.payloads(type_))


def send(w, actor, target, content="hi"):
    return w.ok(w.core.messages.send(actor, target, content))


# -- send -----------------------------------------------------------------------------


def test_send_to_a_room(w, s):
    w.clock.advance(0.5)
    message = send(w, s.bob, s.target, "  hello <b>world</b>  ")
    assert message.content == "  hello <b>world</b>  "  # stored exactly as sent
    assert (message.author, message.edited, message.created_at) == (s.bob.id, False, T0 + 0.5)
    assert message.seq > 0
    stored = result(w.core.store.get_message(message.id))
    assert (stored.content, stored.target, stored.created_at) == (message.content, s.target, T0)
    assert who_got(w, s, "message_received") == ["alice", "alice2", "bob", "carol", "erin"]
    payload = s.subs["carol"].payloads("message_received")[0]
    assert payload == {
        "type": "message_received",
        "message": message.to_wire(),
        "author_username": "bob",
    }
    assert list(payload) == RECEIVED_KEYS
    assert payload["message"]["created_at"] == "2023-11-14T22:13:20.500Z"
    assert payload["message"]["target"] == {"type": "room", "room_id": s.room.id}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "value cannot be empty"),
        (" \n\t\u3000", "value cannot be empty"),
        ("x" * 4097, "value too long: maximum 4096, got 4097"),
        ("é" * 2049, "value too long: maximum 4096, got 4098"),
        ("\U0001f600" * 1025, "value too long: maximum 4096, got 4100"),
    ],
)
def test_send_content_rules(w, s, content, reason):
    error = w.fails(w.core.messages.send(s.bob, s.target, content), "content_invalid")
    assert error.message == f"Content invalid: {reason}"
    # content is checked before the target
    w.fails(w.core.messages.send(s.dave, s.target, content), "content_invalid")
    w.fails(
        w.core.messages.send(s.dave, dm(SimpleNamespace(id=new_id())), content), "content_invalid"
    )
    assert w.received("message_received") == {}


def test_send_accepts_the_limits(w, s):
    assert send(w, s.bob, s.target, "é" * 2048).content == "é" * 2048
    assert send(w, s.bob, s.target, "\U0001f600" * 1024).content == "\U0001f600" * 1024


@pytest.mark.parametrize("room_id", ["general", "unknown"])
def test_send_to_a_room_needs_membership(w, s, room_id):
    target = s.target if room_id == "general" else Target("room", new_id())
    error = w.fails(w.core.messages.send(s.dave, target, "hi"), "not_room_member")
    assert error.status == 403
    assert w.received("message_received") == {}


def test_send_after_leaving_is_refused(w, s):
    w.ok(w.core.rooms.leave(s.bob, s.room.id))
    w.fails(w.core.messages.send(s.bob, s.target, "hi"), "not_room_member")


def test_direct_message_reaches_both_parties_only(w, s):
    message = send(w, s.dave, dm(s.alice), "psst")
    assert message.to_wire()["target"] == {"type": "dm", "recipient": s.alice.id}
    assert who_got(w, s, "message_received") == ["alice", "alice2", "dave"]
    assert s.subs["alice"].payloads("message_received")[0]["author_username"] == "dave"


def test_direct_message_to_self_is_one_copy_per_connection(w, s):
    send(w, s.alice, dm(s.alice), "note to self")
    assert who_got(w, s, "message_received") == ["alice", "alice2"]


def test_direct_message_to_unknown_user(w, s):
    w.fails(w.core.messages.send(s.alice, Target("dm", new_id()), "hi"), "user_not_found")


def made_elsewhere(w, name: str) -> User:
    """An account written to the database by another process (``lairchat admin
    create-user`` while the server runs): the store has it, the hub was never told."""
    user = User(new_id(), name, f"{name}@example.com", "user", T0, T0, "x")
    result(w.core.store.create_user(user))
    assert not w.hub.user_exists(user.id)
    return user


def test_user_made_by_another_process_is_reachable_by_dm(w, s):
    # Found live: a DM to an account made with `lairchat admin create-user` while the
    # server ran was user_not_found, on every path that names a DM, until a restart.
    fred = made_elsewhere(w, "fred")
    message = send(w, s.alice, dm(fred), "welcome")
    assert message.target == dm(fred)
    assert w.hub.username(fred.id) == "fred"  # the hub learnt the name
    assert [m.id for m in w.ok(w.core.messages.history(s.alice, dm(fred), 10)).messages] == [
        message.id
    ]
    assert w.ok(w.core.messages.mark_read(s.alice, dm(fred), None)) == {
        "unread_count": 0,
        "mention_count": 0,
    }


@pytest.mark.parametrize("call", ["history", "mark_read"])
def test_user_made_by_another_process_is_found_by_the_reading_paths(w, s, call):
    fred = made_elsewhere(w, "fred")
    if call == "history":
        assert w.ok(w.core.messages.history(s.alice, dm(fred), 10)).messages == []
    else:
        assert w.ok(w.core.messages.mark_read(s.alice, dm(fred), None)) == {
            "unread_count": 0,
            "mention_count": 0,
        }
    assert w.hub.user_exists(fred.id)


def test_messages_to_a_user_being_looked_up_keep_their_order(w, s, monkeypatch):
    fred = made_elsewhere(w, "fred")
    lookups = []

    def get_user(user_id):
        lookups.append(defer.Deferred())
        return lookups[-1]

    monkeypatch.setattr(w.core.store, "get_user", get_user)
    first = w.core.messages.send(s.alice, dm(fred), "one")
    second = w.core.messages.send(s.alice, dm(fred), "two")
    elsewhere = w.core.messages.send(s.bob, Target("dm", new_id()), "nobody")
    assert len(lookups) == 2  # one per id asked about, however many wait on it
    lookups[0].callback(fred)
    lookups[1].callback(None)
    assert [w.ok(first).content, w.ok(second).content] == ["one", "two"]
    w.fails(elsewhere, "user_not_found")
    history = w.ok(w.core.messages.history(s.alice, dm(fred), 10)).messages
    assert [m.content for m in history] == ["two", "one"]


def test_a_failed_lookup_fails_the_message(w, s, monkeypatch):
    fred = made_elsewhere(w, "fred")
    monkeypatch.setattr(
        w.core.store, "get_user", lambda user_id: defer.fail(LairError("internal_error"))
    )
    w.fails(w.core.messages.send(s.alice, dm(fred), "one"), "internal_error")
    assert not w.hub.user_exists(fred.id)


# -- edit -----------------------------------------------------------------------------


def test_edit_by_the_author(w, s):
    message = send(w, s.bob, s.target, "first")
    w.clear()
    w.clock.advance(60)
    edited = w.ok(w.core.messages.edit(s.bob, message.id, " second "))
    assert (edited.content, edited.edited, edited.created_at) == (" second ", True, T0)
    stored = result(w.core.store.get_message(message.id))
    assert (stored.content, stored.edited, stored.updated_at) == (" second ", True, T0 + 60)
    assert who_got(w, s, "message_edited") == ["alice", "alice2", "bob", "carol", "erin"]
    payload = s.subs["erin"].payloads("message_edited")[0]
    assert payload == {
        "type": "message_edited",
        "message": edited.to_wire(),
        "previous_content": "first",
    }
    assert list(payload) == EDITED_KEYS
    assert payload["message"]["edited"] is True
    assert payload["message"]["created_at"] == ts(T0)


@pytest.mark.parametrize("editor", ["alice", "carol", "erin", "dave"])
def test_only_the_author_may_edit(w, s, editor):
    message = send(w, s.bob, s.target, "mine")
    w.fails(w.core.messages.edit(getattr(s, editor), message.id, "theirs"), "not_message_author")
    # authorship is checked before the content
    w.fails(w.core.messages.edit(getattr(s, editor), message.id, ""), "not_message_author")
    assert result(w.core.store.get_message(message.id)).content == "mine"


@pytest.mark.parametrize("message_id", [None, "", new_id()])
def test_edit_unknown_message(w, s, message_id):
    w.fails(w.core.messages.edit(s.bob, message_id, "x"), "message_not_found")


@pytest.mark.parametrize("content", ["", "   ", "x" * 4097])
def test_edit_content_rules(w, s, content):
    message = send(w, s.bob, s.target, "ok")
    w.fails(w.core.messages.edit(s.bob, message.id, content), "content_invalid")


def test_author_may_edit_after_leaving(w, s):
    message = send(w, s.bob, s.target, "before")
    w.ok(w.core.rooms.leave(s.bob, s.room.id))
    w.clear()
    w.ok(w.core.messages.edit(s.bob, message.id, "after"))
    # the event goes to the room's current members
    assert who_got(w, s, "message_edited") == ["alice", "alice2", "carol", "erin"]


def test_edit_of_a_direct_message_reaches_both_parties(w, s):
    message = send(w, s.bob, dm(s.dave), "x")
    w.clear()
    w.ok(w.core.messages.edit(s.bob, message.id, "y"))
    assert who_got(w, s, "message_edited") == ["bob", "dave"]


# -- delete ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "code"),
    [
        ("bob", None),  # author
        ("alice", None),  # room owner
        ("carol", None),  # room moderator
        ("erin", "permission_denied"),  # another member
        ("dave", "permission_denied"),  # outsider
    ],
)
def test_delete_room_message(w, s, actor, code):
    message = send(w, s.bob, s.target, "x")
    w.clear()
    d = w.core.messages.delete(getattr(s, actor), message.id)
    if code is not None:
        w.fails(d, code)
        assert result(w.core.store.get_message(message.id)) is not None
        assert w.received("message_deleted") == {}
        return
    w.ok(d)
    assert result(w.core.store.get_message(message.id)) is None  # hard delete
    assert who_got(w, s, "message_deleted") == ["alice", "alice2", "bob", "carol", "erin"]
    payload = s.subs["bob"].payloads("message_deleted")[0]
    assert payload == {
        "type": "message_deleted",
        "message_id": message.id,
        "target": {"type": "room", "room_id": s.room.id},
        "deleted_by": getattr(s, actor).id,
    }
    assert list(payload) == DELETED_KEYS


def test_moderator_who_left_may_no_longer_delete(w, s):
    message = send(w, s.bob, s.target, "x")
    w.ok(w.core.rooms.leave(s.carol, s.room.id))
    w.fails(w.core.messages.delete(s.carol, message.id), "permission_denied")


@pytest.mark.parametrize(("actor", "code"), [("alice", None), ("bob", "permission_denied")])
def test_direct_messages_are_deleted_by_their_author_only(w, s, actor, code):
    # room roles never apply to a DM, only authorship does
    message = send(w, s.alice, dm(s.bob), "x")
    w.clear()
    d = w.core.messages.delete(getattr(s, actor), message.id)
    if code:
        w.fails(d, code)
        return
    w.ok(d)
    assert who_got(w, s, "message_deleted") == ["alice", "alice2", "bob"]
    assert s.subs["bob"].payloads("message_deleted")[0]["target"] == {
        "type": "dm",
        "recipient": s.bob.id,
    }


def test_room_owner_cannot_delete_someone_elses_dm(w, s):
    message = send(w, s.bob, dm(s.erin), "x")
    w.fails(w.core.messages.delete(s.alice, message.id), "permission_denied")


@pytest.mark.parametrize("message_id", [None, new_id()])
def test_delete_unknown_message(w, s, message_id):
    w.fails(w.core.messages.delete(s.alice, message_id), "message_not_found")


def test_deleted_message_cannot_be_edited(w, s):
    message = send(w, s.bob, s.target, "x")
    w.ok(w.core.messages.delete(s.bob, message.id))
    w.fails(w.core.messages.edit(s.bob, message.id, "y"), "message_not_found")


# -- history --------------------------------------------------------------------------


@pytest.fixture
def many(w, s):
    """105 room messages, one per second, contents "0".."104"."""
    out = []
    for i in range(105):
        out.append(send(w, s.bob if i % 2 else s.erin, s.target, str(i)))
        w.clock.advance(1)
    return out


def contents(page) -> list[str]:
    return [m.content for m in page.messages]


@pytest.mark.parametrize(
    ("limit", "first", "length", "more"),
    [
        (None, "104", 50, True),  # default 50, newest first
        (10, "104", 10, True),
        (100, "104", 100, True),
        (150, "104", 100, True),  # capped at 100
        (0, None, 0, True),
    ],
)
def test_history_newest_first_capped(w, s, many, limit, first, length, more):
    page = w.ok(w.core.messages.history(s.alice, s.target, limit))
    assert (len(page.messages), page.has_more) == (length, more)
    if first is not None:
        assert page.messages[0].content == first
        assert contents(page) == [str(104 - i) for i in range(length)]
    wire = page.to_wire()
    assert list(wire) == ["messages", "has_more"]


def test_history_has_more_is_exact(w, s):
    for i in range(3):
        send(w, s.bob, s.target, str(i))
    assert w.ok(w.core.messages.history(s.bob, s.target, 3)).has_more is False
    assert w.ok(w.core.messages.history(s.bob, s.target, 2)).has_more is True
    assert w.ok(w.core.messages.history(s.bob, s.target, None)).has_more is False


def test_history_pages_back_by_message_id(w, s, many):
    page = w.ok(w.core.messages.history(s.alice, s.target, 100, before=many[100].id))
    assert contents(page) == [str(99 - i) for i in range(100)]
    assert page.has_more is False
    page = w.ok(w.core.messages.history(s.alice, s.target, 3, before=many[10].id))
    assert (contents(page), page.has_more) == (["9", "8", "7"], True)


def test_history_pages_forward_by_message_id(w, s, many):
    page = w.ok(w.core.messages.history(s.alice, s.target, 3, after=many[10].id))
    assert (contents(page), page.has_more) == (["13", "12", "11"], True)  # oldest after
    page = w.ok(w.core.messages.history(s.alice, s.target, 3, after=many[101].id))
    assert (contents(page), page.has_more) == (["104", "103", "102"], False)
    page = w.ok(w.core.messages.history(s.alice, s.target, 0, after=many[10].id))
    assert (contents(page), page.has_more) == ([], True)


def test_history_between_two_messages(w, s, many):
    page = w.ok(
        w.core.messages.history(s.alice, s.target, 50, before=many[20].id, after=many[15].id)
    )
    assert (contents(page), page.has_more) == (["19", "18", "17", "16"], False)


def test_history_bounds_by_time(w, s, many):
    page = w.ok(w.core.messages.history(s.alice, s.target, 3, before=ts(T0 + 10)))
    assert contents(page) == ["9", "8", "7"]
    page = w.ok(w.core.messages.history(s.alice, s.target, 3, after="2023-11-14T22:13:30Z"))
    assert contents(page) == ["13", "12", "11"]
    page = w.ok(w.core.messages.history(s.alice, s.target, 3, before="2023-11-14T23:13:30+01:00"))
    assert contents(page) == ["9", "8", "7"]


def test_history_empty_bounds_are_ignored(w, s, many):
    page = w.ok(w.core.messages.history(s.alice, s.target, 2, before="", after=None))
    assert contents(page) == ["104", "103"]


def test_history_bad_bounds(w, s, many):
    w.fails(w.core.messages.history(s.alice, s.target, 5, before=new_id()), "message_not_found")
    error = w.fails(
        w.core.messages.history(s.alice, s.target, 5, after="yesterday"), "validation_failed"
    )
    assert error.message == (
        "Validation failed: after - must be a message id or an RFC 3339 timestamp"
    )


def test_history_needs_membership(w, s):
    send(w, s.bob, s.target, "x")
    w.fails(w.core.messages.history(s.dave, s.target, None), "not_room_member")
    w.fails(w.core.messages.history(s.alice, Target("room", new_id()), None), "not_room_member")
    w.fails(w.core.messages.history(s.alice, Target("dm", new_id()), None), "user_not_found")


def test_dm_history_is_the_conversation_of_both(w, s):
    ab = send(w, s.alice, dm(s.bob), "a→b")
    ba = send(w, s.bob, dm(s.alice), "b→a")
    send(w, s.alice, dm(s.dave), "a→d")
    send(w, s.dave, dm(s.bob), "d→b")
    note = send(w, s.alice, dm(s.alice), "note")
    send(w, s.alice, s.target, "room")
    for viewer, other in ((s.alice, s.bob), (s.bob, s.alice)):
        page = w.ok(w.core.messages.history(viewer, dm(other), None))
        assert [m.id for m in page.messages] == [ba.id, ab.id]
    assert [m.id for m in w.ok(w.core.messages.history(s.alice, dm(s.alice), None)).messages] == [
        note.id
    ]


def test_history_reflects_edits_and_deletes(w, s):
    first = send(w, s.bob, s.target, "one")
    second = send(w, s.bob, s.target, "two")
    w.ok(w.core.messages.edit(s.bob, first.id, "uno"))
    w.ok(w.core.messages.delete(s.bob, second.id))
    page = w.ok(w.core.messages.history(s.bob, s.target, None))
    assert [(m.content, m.edited) for m in page.messages] == [("uno", True)]


# -- unread counts and read markers (our addition) ------------------------------------

#: ``/users/me``'s mention counts when no unread message mentions the reader.
NO_MENTIONS = {"total": 0, "by_room": {}, "by_dm": {}}


def test_unread_counts_and_mark_read(w, s):
    room_msgs = [send(w, s.bob, s.target, str(i)) for i in range(3)]
    send(w, s.alice, s.target, "mine")  # own messages are never unread
    send(w, s.dave, dm(s.alice), "d1")
    send(w, s.dave, dm(s.alice), "d2")
    send(w, s.alice, dm(s.dave), "reply")
    counts = w.ok(w.core.messages.unread_counts(s.alice))
    assert counts == {
        "total": 5,
        "by_room": {s.room.id: 3},
        "by_dm": {s.dave.id: 2},
        "mentions": NO_MENTIONS,
    }

    assert w.ok(w.core.messages.mark_read(s.alice, s.target, room_msgs[0].id)) == {
        "unread_count": 2,
        "mention_count": 0,
    }
    assert w.ok(w.core.messages.mark_read(s.alice, dm(s.dave), None)) == {
        "unread_count": 0,
        "mention_count": 0,
    }
    counts = w.ok(w.core.messages.unread_counts(s.alice))
    assert counts == {"total": 2, "by_room": {s.room.id: 2}, "by_dm": {}, "mentions": NO_MENTIONS}
    assert w.ok(w.core.messages.mark_read(s.alice, s.target, None)) == {
        "unread_count": 0,
        "mention_count": 0,
    }
    assert w.ok(w.core.messages.unread_counts(s.alice))["total"] == 0
    # a marker never moves back
    assert w.ok(w.core.messages.mark_read(s.alice, s.target, room_msgs[0].id)) == {
        "unread_count": 0,
        "mention_count": 0,
    }


def test_mark_read_refused(w, s):
    w.fails(w.core.messages.mark_read(s.dave, s.target, None), "not_room_member")
    w.fails(
        w.core.messages.mark_read(s.alice, dm(SimpleNamespace(id=new_id())), None), "user_not_found"
    )
    w.fails(w.core.messages.mark_read(s.alice, s.target, new_id()), "message_not_found")
    w.fails(w.core.messages.mark_read(s.alice, s.target, "garbage"), "message_not_found")


def test_unread_counts_only_cover_current_rooms(w, s):
    send(w, s.alice, s.target, "x")
    assert w.ok(w.core.messages.unread_counts(s.bob))["by_room"] == {s.room.id: 1}
    w.ok(w.core.rooms.leave(s.bob, s.room.id))
    assert w.ok(w.core.messages.unread_counts(s.bob)) == {
        "total": 0,
        "by_room": {},
        "by_dm": {},
        "mentions": NO_MENTIONS,
    }
