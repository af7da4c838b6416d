"""The shared fixed-window limiter, and its use by real-time commands."""

from __future__ import annotations

from twisted.internet import task

from lairchat.core.ratelimit import RateLimiter
from lairchat.testing import MemoryTCPServer, result


def test_window_allows_limit_then_refuses_until_reset() -> None:
    clock = task.Clock()
    limiter = RateLimiter(clock, {"t": (3, 60.0)})
    decisions = [limiter.hit("t", "k") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[-1].retry_after == 60
    clock.advance(59.5)
    assert not limiter.hit("t", "k").allowed
    clock.advance(0.5)
    assert limiter.hit("t", "k").allowed


def test_keys_and_tiers_are_separate_buckets() -> None:
    limiter = RateLimiter(task.Clock(), {"a": (1, 60.0), "b": (1, 60.0)})
    assert limiter.hit("a", "alice").allowed
    assert limiter.hit("a", "bob").allowed
    assert limiter.hit("b", "alice").allowed
    assert not limiter.hit("a", "alice").allowed


def test_memory_stays_bounded_under_many_keys() -> None:
    clock = task.Clock()
    limiter = RateLimiter(clock, {"t": (5, 60.0)}, max_keys=100)
    for i in range(10_000):
        limiter.hit("t", f"client-{i}")
    assert len(limiter) <= 100


def test_disabled_limiter_allows_everything() -> None:
    limiter = RateLimiter(task.Clock(), {"t": (1, 60.0)}, enabled=False)
    assert all(limiter.hit("t", "k").allowed for _ in range(10))


def test_tcp_send_message_counts_against_the_messaging_tier() -> None:
    server = MemoryTCPServer()
    server.core.limiter = RateLimiter(server.clock, enabled=True)
    alice = server.login("alice")
    room = result(server.core.rooms.create(server.account("alice").user, "lobby", None, None))
    target = {"type": "room", "room_id": room.id}
    for i in range(31):
        alice.send({"type": "send_message", "target": target, "content": f"m{i}"})
    responses = alice.of_type("send_message_response")
    assert [r["success"] for r in responses] == [True] * 30 + [False]
    error = responses[-1]["error"]
    assert error["code"] == "rate_limited"
    assert error["details"]["retry_after"] == 60
    # Other commands still work: they only count against the general tier.
    assert alice.ok("get_current_user")["user"]["username"] == "alice"
