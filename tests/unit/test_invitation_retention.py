"""Invitations settled long ago leave the database (lairchat.core.retention).

Answered, revoked and expired invitations were kept for good, though nothing shows
them once they are not pending. The always-on sweep that deletes expired sessions
now also deletes invitations settled more than INVITATIONS_KEPT_DAYS days ago, on
its own timer (a task.Clock here), nothing else.
"""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet import defer, task
from twisted.logger import globalLogPublisher

from lairchat.core import passwords, retention
from lairchat.core.deferreds import result
from lairchat.domain.errors import LairError
from lairchat.testing import make_core
from lairchat.transports.http.testing import CHEAP_HASHER

DAY = 86400
KEPT = retention.INVITATIONS_KEPT_DAYS * DAY


@pytest.fixture
def clock() -> task.Clock:
    clock = task.Clock()
    clock.advance(1_700_000_000)
    return clock


@pytest.fixture
def core(clock: task.Clock, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)
    return make_core(clock=clock)


def invitations(core: Any) -> dict[str, str]:
    conn = core.store._writer.connection
    return dict(conn.execute("SELECT id, status FROM invitations"))


def test_the_sweep_deletes_invitations_settled_over_the_age(core, clock) -> None:
    def user(name: str) -> Any:
        return result(core.auth.register(name, f"{name}@example.com", "password123")).user

    owner = user("owner")
    guests = [user(f"guest{i}") for i in range(6)]
    rooms = [result(core.rooms.create(owner, f"room{i}", None, {"public": False})) for i in "ab"]

    def invite(room: Any, guest: Any) -> str:
        return result(core.invitations.create(owner, room.id, guest.id, True)).id

    # Day 0: four invitations, three answered at once.
    accepted_early = invite(rooms[0], guests[0])
    declined_early = invite(rooms[0], guests[1])
    revoked_early = invite(rooms[0], guests[2])
    expired_early = invite(rooms[0], guests[3])  # unanswered: settled at its expiry, day 7
    result(core.invitations.accept(guests[0], accepted_early))
    result(core.invitations.decline(guests[1], declined_early))
    result(core.invitations.revoke(owner, revoked_early))
    clock.advance(10 * DAY)
    declined_late = invite(rooms[1], guests[4])  # day 10
    result(core.invitations.decline(guests[4], declined_late))
    clock.advance(25 * DAY)
    pending = invite(rooms[1], guests[5])  # day 35

    sweeper = retention.ExpiredSessionsService(core.store, clock, first=0, batch=2)
    logged: list[dict] = []
    globalLogPublisher.addObserver(logged.append)
    try:
        sweeper.startService()
        clock.advance(0)  # the first pass, on day 35
        for _ in range(10):
            clock.advance(retention.PAUSE)
        # Settled 35 days ago go; 28 (expired on day 7) and 25 days ago stay.
        assert set(invitations(core)) == {expired_early, declined_late, pending}
        clock.advance(3 * DAY)  # the next pass, on day 38: 31 and 28 days
        for _ in range(10):
            clock.advance(retention.PAUSE)
        assert invitations(core) == {declined_late: "declined", pending: "pending"}
    finally:
        globalLogPublisher.removeObserver(logged.append)
        sweeper.stopService()

    lines = [e["log_format"] for e in logged if "invitation" in e.get("log_format", "")]
    assert (
        lines == ["retention: deleted {deleted} invitation(s) settled over {days} day(s) ago"] * 2
    )
    assert [e["deleted"] for e in logged if "invitation" in e.get("log_format", "")] == [3, 1]
    # What the invitations did stays: the accepted one's member, the pending one.
    assert result(core.store.get_membership(rooms[0].id, guests[0].id)) is not None
    assert [i.id for i in result(core.invitations.pending(guests[5]))[0]] == [pending]
    with pytest.raises(LairError) as gone:
        result(core.invitations.accept(guests[0], accepted_early))
    assert gone.value.code == "invitation_not_found"
    assert clock.getDelayedCalls() == []


def test_an_invitation_settled_just_under_the_age_is_kept(core, clock) -> None:
    """The bound is exact: settled KEPT seconds ago stays; a second more goes."""
    owner = result(core.auth.register("owner", "o@example.com", "password123")).user
    guest = result(core.auth.register("guest", "g@example.com", "password123")).user
    room = result(core.rooms.create(owner, "room", None, None))
    invitation = result(core.invitations.create(owner, room.id, guest.id, True))
    result(core.invitations.decline(guest, invitation.id))

    def prune() -> int:
        return result(retention.prune_invitations(core.store, clock.seconds(), no_pause))

    clock.advance(KEPT)
    assert prune() == 0
    clock.advance(1)
    assert prune() == 1
    assert invitations(core) == {}


def no_pause() -> defer.Deferred:
    return defer.succeed(None)
