"""The shared fixed-window limiter, and its use by real-time commands."""

from __future__ import annotations

import pytest
from twisted.internet import task

import lairchat.core.passwords
from lairchat.core.ratelimit import RateLimiter, address_key, user_key
from lairchat.testing import MemoryTCPServer, result
from lairchat.transports.http.ratelimit import HttpRateLimiter
from lairchat.transports.http.testing import CHEAP_HASHER, ApiClient
from lairchat.transports.proxies import ProxyPolicy


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


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.9", "ip:203.0.113.9"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "ip:2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "ip:2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "ip:2001:db8:1:3::/64"),
        ("::ffff:203.0.113.9", "ip:203.0.113.9"),
        ("unix", "ip:unix"),
    ],
)
def test_address_key_counts_ipv6_by_slash_64(host: str, key: str) -> None:
    assert address_key(host) == key


def test_user_and_address_keys_never_meet() -> None:
    assert user_key("127.0.0.1") != address_key("127.0.0.1")


def _both_transports() -> tuple[MemoryTCPServer, ApiClient]:
    """One core with its limiter on, reached over TCP and over HTTP (both from
    127.0.0.1)."""
    server = MemoryTCPServer()
    core = server.core
    core.limiter = RateLimiter(server.clock, enabled=True)
    http = ApiClient(core)
    http.api.limiter = HttpRateLimiter(core.limiter, core.auth.tokens, ProxyPolicy(()))
    return server, http


def test_an_address_has_one_login_window_over_http_and_tcp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lairchat.core.passwords, "HASHER", CHEAP_HASHER)
    server, http = _both_transports()
    for i in range(10):  # the auth tier's 10 a minute, spent over HTTP
        body = {"identifier": f"nobody{i}", "password": "x" * 8}
        assert http.post("/api/v1/auth/login", body).status == 401
    tcp = server.connect()
    tcp.hello()
    response = tcp.request("login", identifier="nobody", password="x" * 8)
    assert response["error"]["code"] == "rate_limited"


def test_a_user_has_one_general_window_over_http_and_tcp() -> None:
    server, http = _both_transports()
    alice = server.login("alice")
    token = server.account("alice").token
    for _ in range(100):  # the general tier's 100 a minute, spent over HTTP
        assert http.get("/api/v1/users/me", token=token).status == 200
    alice.fails("get_current_user", "rate_limited")
