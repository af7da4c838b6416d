"""TypingService: as the original documents it (not as it behaved): to the other
participants only, from room members only, at most once per 3 s per user and target."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lairchat.core import typing as typing_module
from lairchat.core.typing import TYPING_INTERVAL
from lairchat.domain.ids import new_id
from lairchat.domain.types import Target, User
from lairchat.testing import result


@pytest.fixture
def w(core_world):
    return core_world


@pytest.fixture
def s(w):
    """Room "general" with alice (owner), bob and carol; dave outside. alice twice."""
    users = {name: w.user(name) for name in ("alice", "bob", "carol", "dave")}
    room = w.ok(w.core.rooms.create(users["alice"], "general", None, None))
    for name in ("bob", "carol"):
        w.ok(w.core.rooms.join(users[name], room.id))
    subs = {name: w.connect(user) for name, user in users.items()}
    subs["alice2"] = w.connect(users["alice"])
    w.clear()
    return SimpleNamespace(room=room, target=Target("room", room.id), subs=subs, **users)


def typing(w, actor, target) -> bool:
    return w.core.typing.typing(actor, target)


def who_got(s) -> list[str]:
    return sorted(name for name, sub in s.subs.items() for _ in sub.payloads("user_typing"))


def test_room_typing_goes_to_the_other_members(w, s):
    assert typing(w, s.alice, s.target) is True
    assert who_got(s) == ["bob", "carol"]  # not the typer, on none of her connections
    payload = s.subs["bob"].payloads("user_typing")[0]
    assert payload == {
        "type": "user_typing",
        "user_id": s.alice.id,
        "target": {"type": "room", "room_id": s.room.id},
    }
    assert list(payload) == ["type", "user_id", "target"]


def test_dm_typing_goes_to_the_recipient(w, s):
    assert typing(w, s.dave, Target("dm", s.alice.id)) is True
    assert who_got(s) == ["alice", "alice2"]
    assert s.subs["alice"].payloads("user_typing")[0]["target"] == {
        "type": "dm",
        "recipient": s.alice.id,
    }


def test_dm_typing_reaches_a_user_made_by_another_process(w, s):
    # An account `lairchat admin create-user` wrote while the server ran is in the
    # database only: typing to it was dropped as if it did not exist.
    fred = User(new_id(), "fred", "fred@example.com", "user", 1, 1, "x")
    result(w.core.store.create_user(fred))
    sub = w.connect(fred, session_id=new_id())
    typing(w, s.alice, Target("dm", fred.id))  # announced once the store answers
    assert sub.payloads("user_typing") == [
        {
            "type": "user_typing",
            "user_id": s.alice.id,
            "target": {"type": "dm", "recipient": fred.id},
        }
    ]
    assert who_got(s) == []


def test_dm_typing_to_self_reaches_nobody(w, s):
    assert typing(w, s.alice, Target("dm", s.alice.id)) is True
    assert who_got(s) == []


@pytest.mark.parametrize(
    ("actor", "target"),
    [
        ("dave", "room"),  # not a member
        ("alice", "unknown-room"),
        ("alice", "unknown-user"),
    ],
)
def test_dropped_silently(w, s, actor, target):
    targets = {
        "room": s.target,
        "unknown-room": Target("room", new_id()),
        "unknown-user": Target("dm", new_id()),
    }
    assert typing(w, getattr(s, actor), targets[target]) is False
    assert who_got(s) == []


def test_throttled_to_once_per_interval_per_user_and_target(w, s):
    assert typing(w, s.bob, s.target) is True
    w.clock.advance(TYPING_INTERVAL - 0.1)
    assert typing(w, s.bob, s.target) is False
    w.clock.advance(0.1)
    assert typing(w, s.bob, s.target) is True
    assert typing(w, s.bob, s.target) is False
    assert who_got(s).count("alice") == 2


def test_throttle_is_per_target_and_per_user(w, s):
    assert typing(w, s.bob, s.target) is True
    assert typing(w, s.bob, Target("dm", s.carol.id)) is True  # another target
    assert typing(w, s.carol, s.target) is True  # another user
    assert typing(w, s.bob, Target("dm", s.carol.id)) is False


def test_a_dropped_attempt_does_not_start_the_throttle(w, s):
    assert typing(w, s.dave, s.target) is False
    w.ok(w.core.rooms.join(s.dave, s.room.id))
    assert typing(w, s.dave, s.target) is True


def test_throttle_memory_stays_bounded(w, s, monkeypatch):
    monkeypatch.setattr(typing_module, "TYPING_TRACKED_MAX", 3)
    for _ in range(5):
        assert typing(w, s.bob, Target("dm", new_id())) is False  # unknown: not tracked
    others = [w.user(f"user{i}") for i in range(4)]
    for other in others:
        assert typing(w, s.bob, Target("dm", other.id)) is True
        w.clock.advance(TYPING_INTERVAL)
    assert len(w.core.typing._last) <= 3
    # a recent entry survives the pruning and still throttles
    assert typing(w, s.bob, s.target) is True
    assert typing(w, s.bob, s.target) is False


def test_throttle_memory_stays_bounded_when_every_entry_is_fresh(w, s, monkeypatch):
    """Within one interval nothing is old enough to drop by age: the oldest entry goes
    (a doc audit found the table growing past its bound, rebuilt on every call)."""
    monkeypatch.setattr(typing_module, "TYPING_TRACKED_MAX", 3)
    others = [w.user(f"user{i}") for i in range(5)]
    for other in others:
        assert typing(w, s.bob, Target("dm", other.id)) is True
    assert len(w.core.typing._last) == 3
    assert typing(w, s.bob, Target("dm", others[-1].id)) is False  # newest: still throttled
    assert typing(w, s.bob, Target("dm", others[0].id)) is True  # oldest: forgotten
