"""The shared fixed-window limiter, and its use by real-time commands."""

from __future__ import annotations

import json
import struct

from twisted.internet import task
from twisted.internet.testing import StringTransport

from lairchat.core.ratelimit import RateLimiter
from lairchat.realtime.session import SessionSettings
from lairchat.testing import make_core, result
from lairchat.transports.tcp import LairTCPFactory


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


def _frames(transport: StringTransport) -> list[dict]:
    data, out = transport.value(), []
    transport.clear()
    while data:
        (n,) = struct.unpack("!I", data[:4])
        out.append(json.loads(data[4 : 4 + n]))
        data = data[4 + n :]
    return out


def _send(proto, obj: dict) -> None:
    payload = json.dumps(obj).encode()
    proto.dataReceived(struct.pack("!I", len(payload)) + payload)


def test_tcp_send_message_counts_against_the_messaging_tier() -> None:
    clock = task.Clock()
    core = make_core(clock=clock)
    core.limiter = RateLimiter(clock, enabled=True)
    alice = result(core.auth.register("alice", "alice@example.com", "password1"))
    room = result(core.rooms.create(alice.user, "lobby", None, None))
    proto = LairTCPFactory(core, SessionSettings("tcp"), clock, 0).buildProtocol(None)
    transport = StringTransport()
    proto.makeConnection(transport)
    _send(proto, {"type": "client_hello", "version": "1.0"})
    _send(proto, {"type": "authenticate", "token": alice.token})
    _frames(transport)
    target = {"type": "room", "room_id": room.id}
    for i in range(31):
        _send(proto, {"type": "send_message", "target": target, "content": f"m{i}"})
    responses = [f for f in _frames(transport) if f["type"] == "send_message_response"]
    assert [r["success"] for r in responses] == [True] * 30 + [False]
    error = responses[-1]["error"]
    assert error["code"] == "rate_limited"
    assert error["details"]["retry_after"] == 60
    # Other commands still work: they only count against the general tier.
    _send(proto, {"type": "get_current_user", "request_id": "me"})
    assert _frames(transport)[0]["success"] is True
