"""A command's response reaches its sender before the events the command caused."""

from __future__ import annotations

import json
import struct

from twisted.internet import defer, task
from twisted.internet.testing import StringTransport

from lairchat.realtime.session import MAX_PIPELINE, SessionSettings
from lairchat.testing import make_core, result
from lairchat.transports.tcp import LairTCPFactory


def frames(transport: StringTransport) -> list[dict]:
    data, out = transport.value(), []
    transport.clear()
    while data:
        (n,) = struct.unpack("!I", data[:4])
        out.append(json.loads(data[4 : 4 + n]))
        data = data[4 + n :]
    return out


def send(proto, obj: dict) -> None:
    payload = json.dumps(obj).encode()
    proto.dataReceived(struct.pack("!I", len(payload)) + payload)


def connect(factory: LairTCPFactory, token: str) -> tuple[object, StringTransport]:
    proto, transport = factory.buildProtocol(None), StringTransport()
    proto.makeConnection(transport)
    send(proto, {"type": "client_hello", "version": "1.0"})
    send(proto, {"type": "authenticate", "token": token})
    frames(transport)
    return proto, transport


def world():
    clock = task.Clock()
    core = make_core(clock=clock)
    alice = result(core.auth.register("alice", "alice@example.com", "password1"))
    bob = result(core.auth.register("bob", "bob@example.com", "password1"))
    room = result(core.rooms.create(alice.user, "lobby", None, None))
    result(core.rooms.join(bob.user, room.id))
    factory = LairTCPFactory(core, SessionSettings("tcp"), clock, 0)
    return clock, core, alice, bob, room, factory


def test_sender_gets_the_response_before_its_own_event() -> None:
    _, _, alice, _, room, factory = world()
    proto, transport = connect(factory, alice.token)
    target = {"type": "room", "room_id": room.id}
    send(proto, {"type": "send_message", "target": target, "content": "hi"})
    assert [f["type"] for f in frames(transport)] == ["send_message_response", "message_received"]


def test_unrelated_events_wait_at_most_one_reactor_turn_behind_a_slow_command() -> None:
    clock, core, alice, bob, room, factory = world()
    a_proto, a_transport = connect(factory, alice.token)
    b_proto, b_transport = connect(factory, bob.token)
    frames(a_transport)  # bob's user_online
    # Alice's next command hangs in storage (e.g. a slow disk).
    stalled: defer.Deferred = defer.Deferred()
    real_get_message = core.store.get_message
    core.store.get_message = lambda message_id: stalled
    send(a_proto, {"type": "delete_message", "message_id": "7f1e4c1e-8a1b-4a55-9b2f-1d5c0c2e9a11"})
    # Meanwhile bob talks: alice's connection holds the event for one turn, no longer.
    send(b_proto, {"type": "send_message", "target": {"type": "room", "room_id": room.id},
                   "content": "hello"})  # fmt: skip
    assert frames(a_transport) == []
    clock.advance(0)
    assert [f["type"] for f in frames(a_transport)] == ["message_received"]
    core.store.get_message = real_get_message
    stalled.callback(None)
    reply = frames(a_transport)
    assert [f["type"] for f in reply] == ["delete_message_response"]
    assert reply[0]["error"]["code"] == "message_not_found"


def stall_inserts(core) -> list[defer.Deferred]:
    """Make message inserts wait until the test fires them, in order."""
    stalled: list[defer.Deferred] = []

    def insert(message):
        d: defer.Deferred = defer.Deferred()
        stalled.append(d)
        return d

    core.store.insert_message = insert
    return stalled


def rooms_named(core, name: str) -> list[str]:
    return [room.name for room, _ in result(core.store.list_public_rooms(100, 0, name))]


def test_pipelined_sends_overlap_and_answer_in_order() -> None:
    _, core, alice, _, room, factory = world()
    proto, transport = connect(factory, alice.token)
    stalled = stall_inserts(core)
    target = {"type": "room", "room_id": room.id}
    for i in range(3):
        send(proto, {"type": "send_message", "target": target, "content": f"m{i}",
                     "request_id": str(i)})  # fmt: skip
    assert len(stalled) == 3  # all three are in flight together (one group commit)
    stalled[2].callback(3)
    stalled[1].callback(2)
    assert frames(transport) == []  # the first is still owed: nothing overtakes it
    stalled[0].callback(1)
    replies = [f for f in frames(transport) if f["type"] == "send_message_response"]
    assert [r["request_id"] for r in replies] == ["0", "1", "2"]


def test_other_commands_wait_for_writes_in_flight_and_hold_later_frames() -> None:
    _, core, alice, _, room, factory = world()
    proto, transport = connect(factory, alice.token)
    stalled = stall_inserts(core)
    target = {"type": "room", "room_id": room.id}
    send(proto, {"type": "send_message", "target": target, "content": "first"})
    send(proto, {"type": "create_room", "name": "second", "request_id": "c"})
    send(proto, {"type": "send_message", "target": target, "content": "third"})
    # create_room waits for the send in flight; the send behind it waits too.
    assert len(stalled) == 1 and rooms_named(core, "second") == []
    stalled[0].callback(1)
    assert rooms_named(core, "second") == ["second"]
    assert len(stalled) == 2
    stalled[1].callback(2)
    kinds = [f["type"] for f in frames(transport) if f["type"].endswith("_response")]
    assert kinds == ["send_message_response", "create_room_response", "send_message_response"]


def test_a_client_that_pipelines_without_bound_is_dropped() -> None:
    _, core, alice, _, _, factory = world()
    proto, transport = connect(factory, alice.token)
    core.store.get_message = lambda message_id: defer.Deferred()  # never answers
    send(proto, {"type": "delete_message", "message_id": "7f1e4c1e-8a1b-4a55-9b2f-1d5c0c2e9a11"})
    for _ in range(MAX_PIPELINE):
        send(proto, {"type": "ping"})
    assert not transport.disconnecting
    send(proto, {"type": "ping"})
    assert transport.disconnecting
