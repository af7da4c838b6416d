"""The in-memory tables a client can grow forget what no longer counts.

The typing throttle, the login lockout and the rate limiter each keep a table bounded
by entries (100,000, 50,000, 100,000), oldest forgotten first once full. Until full,
an entry stayed however stale: a typing entry for a room deleted long ago, the
failures of a guesser gone for a month, the window of an address seen once. On a
server run for months every such table filled to its bound and stayed there: measured
(tracemalloc, helper-52), 54 MB for the typing table, 11 MB for the lockout's
failures, 24 MB for the rate windows, held for good. Each table is kept in the order
its entries became current, so what expired is at its front and is dropped as new
entries come in (core/bounded.py, ``forget_expired``).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock

from lairchat.core.auth import (
    LOCKOUT_DURATION,
    LOCKOUT_KNOWN_FOR,
    LOCKOUT_THRESHOLD,
    LOCKOUT_WINDOW,
)
from lairchat.core.ratelimit import RateLimiter
from lairchat.core.typing import TYPING_INTERVAL
from lairchat.domain.types import Target
from tests.unit.test_core_auth import fail_logins

CHURN = 300


def test_typing_in_rooms_long_deleted_is_forgotten(core_world: Any) -> None:
    w = core_world
    alice = w.user("alice")
    for i in range(CHURN):
        room = w.ok(w.core.rooms.create(alice, f"churn{i}", None, None))
        assert w.core.typing.typing(alice, Target("room", room.id)) is True
        w.ok(w.core.rooms.delete(alice, room.id))
    w.clock.advance(TYPING_INTERVAL)
    general = w.ok(w.core.rooms.create(alice, "general", None, None))
    target = Target("room", general.id)
    assert w.core.typing.typing(alice, target) is True
    assert len(w.core.typing._last) == 1
    assert w.core.typing.typing(alice, target) is False  # the fresh entry still throttles


def test_failed_logins_out_of_their_window_are_forgotten(core_world: Any) -> None:
    w = core_world
    lockout = w.core.auth.lockout
    for i in range(CHURN):
        fail_logins(w, f"ghost{i}", 1, f"ip:203.0.113.{i % 250}")
    fail_logins(w, "locked", LOCKOUT_THRESHOLD, "ip:192.0.2.1")
    assert len(lockout._failures) > 2 * CHURN - 250 and len(lockout._locked_until) == 1
    w.clock.advance(max(LOCKOUT_WINDOW, LOCKOUT_DURATION))
    fail_logins(w, "fresh", 1, "ip:192.0.2.2")
    assert len(lockout._failures) == 2  # the identifier's count, and from the address
    assert lockout._locked_until == {}
    # A count within its window still counts: four more lock the address out.
    fail_logins(w, "fresh", LOCKOUT_THRESHOLD - 1, "ip:192.0.2.2")
    w.fails(w.core.auth.login("fresh", w.password, "ip:192.0.2.2"), "account_locked")


def test_addresses_a_login_succeeded_from_are_forgotten_after_their_time(
    core_world: Any,
) -> None:
    w = core_world
    w.user("alice")
    lockout = w.core.auth.lockout
    for i in range(CHURN):
        w.ok(w.core.auth.login("alice", w.password, f"ip:198.51.100.{i % 250}.{i}"))
    assert len(lockout._known) == CHURN
    w.clock.advance(LOCKOUT_KNOWN_FOR)
    w.ok(w.core.auth.login("alice", w.password, "ip:192.0.2.9"))
    assert len(lockout._known) == 1


def test_rate_windows_that_ended_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(clock, {"t": (5, 60.0)})
    for i in range(CHURN):
        limiter.hit("t", f"ip:203.0.113.{i}")
    assert len(limiter) == CHURN
    clock.advance(60.0)
    assert limiter.hit("t", "ip:192.0.2.1").allowed
    assert len(limiter) == 1
    for _ in range(4):
        limiter.hit("t", "ip:192.0.2.1")
    assert not limiter.hit("t", "ip:192.0.2.1").allowed  # the live window still counts
