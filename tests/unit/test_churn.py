"""A server that runs for months sees millions of connections come and go: what one
connection leaves behind must go with it. Each test churns connections through a
whole life (hello, authentication, a room, messages, typing) and checks that the
server's per-connection state is back where it started (the hub's tables, the
factory's open set, timers still pending on the clock) and that no churned
connection's protocol or session is still alive."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.logger import Logger, LogLevel, formatEvent
from twisted.python.failure import Failure

from lairchat.core.hub import Hub
from lairchat.realtime.session import Session
from lairchat.testing import MemoryTCPServer, result
from lairchat.transports.tcp import LairTCPProtocol
from lairchat.transports.websocket import LairWSProtocol
from tests.unit.test_websocket import World, make_config

CYCLES = 50


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What a connection logs at warning level or above, as text. The per-connection
    loggers stop feeding Twisted's global start-up buffer, which keeps the last 65,536
    events (each with its source, the protocol) until logging begins, as it does in
    ``twistd`` but not in a test run."""
    seen: list[str] = []

    def observe(event: dict) -> None:
        if event["log_level"] >= LogLevel.warn:
            seen.append(formatEvent(event))

    for cls, name in ((LairTCPProtocol, "log"), (LairWSProtocol, "_log"), (Session, "log")):
        namespace = getattr(cls, name).namespace
        monkeypatch.setattr(cls, name, Logger(namespace, observer=observe))
    return seen


def footprint(hub: Hub, open_conns: set, clock: Clock) -> dict[str, Any]:
    """What the server holds for connections: to compare before and after a churn."""
    return {
        "hub": {
            name: len(getattr(hub, name))
            for name in ("_by_user", "_by_session", "_room_subs", "_paused", "_paused_in")
        },
        "open": len(open_conns),
        "timers": len(clock.getDelayedCalls()),
        "outbox": len(hub.outbox._kept),
    }


class Gone:
    """Weak references to the protocol and session of each churned connection: once
    its life is over, nothing may keep them alive."""

    def __init__(self) -> None:
        self.refs: list[weakref.ref] = []

    def watch(self, protocol: Any) -> None:
        self.refs += [weakref.ref(protocol), weakref.ref(protocol.session)]

    def alive(self) -> list[Any]:
        gc.collect()
        return [o for o in (r() for r in self.refs) if o is not None]


def room_for(server: MemoryTCPServer, *names: str) -> str:
    owner = server.account(names[0]).user
    room = result(server.core.rooms.create(owner, "churn", None, None))
    for name in names[1:]:
        result(server.core.rooms.join(server.account(name).user, room.id))
    return room.id


def one_life(server: MemoryTCPServer, room_id: str, encrypted: bool, how: str, gone: Gone) -> None:
    bob = server.connect()
    gone.watch(bob.proto)
    bob.hello(encrypted=encrypted)
    bob.authenticate(result(server.core.auth.login("bob", "password1")))  # a new session
    bob.frames()
    bob.ok("send_message", target={"type": "room", "room_id": room_id}, content="hi")
    bob.send({"type": "typing", "target": {"type": "room", "room_id": room_id}})
    bob.ok("get_messages", target={"type": "room", "room_id": room_id}, limit=5)
    if how == "logout":
        bob.ok("logout")
    bob.drop()


def test_connections_that_come_and_go_leave_nothing_behind(warnings: list[str]) -> None:
    server = MemoryTCPServer()
    room_id = room_for(server, "alice", "bob")
    alice = server.login("alice")  # stays: sees every event of the churn
    gone = Gone()
    one_life(server, room_id, False, "drop", gone)  # warm caches, first timers
    alice.frames()
    state = (server.core.hub, server.factory.open, server.clock)
    before = footprint(*state)
    for i in range(CYCLES):
        one_life(server, room_id, i % 2 == 1, "logout" if i % 5 == 0 else "drop", gone)
        alice.frames()
    assert footprint(*state) == before
    assert gone.alive() == []
    assert warnings == []


def test_websocket_connections_that_come_and_go_leave_nothing_behind(
    core_world: Any, warnings: list[str]
) -> None:
    world = World(core_world, make_config())
    core = world.core
    alice = world.login("alice")
    bob_id = core_world.register("bob").user.id
    owner = result(core.store.get_user(world.ids["alice"]))
    room_id = result(core.rooms.create(owner, "churn", None, None)).id
    result(core.rooms.join(result(core.store.get_user(bob_id)), room_id))
    target = {"type": "room", "room_id": room_id}

    def one_ws_life(i: int) -> None:
        token = result(core.auth.login("bob", core_world.password)).token
        bob = world.connect(f"/ws?token={token}")
        gone.watch(bob.proto)
        assert bob.types() == ["server_hello", "authenticate_response"]
        bob.send({"type": "send_message", "request_id": "s", "target": target, "content": "hi"})
        bob.send({"type": "typing", "target": target})
        if i % 3 == 0:
            bob.close()  # a clean close: the server answers and drops the socket
            bob.lost()
        else:
            bob.proto.connectionLost(Failure(ConnectionDone()))  # the client vanished
        alice.messages()

    gone = Gone()
    one_ws_life(1)
    state = (core.hub, world.factory.open, world.clock)
    before = footprint(*state)
    for i in range(CYCLES):
        one_ws_life(i)
    assert footprint(*state) == before
    assert gone.alive() == []
    assert warnings == []
