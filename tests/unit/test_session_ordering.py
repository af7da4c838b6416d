"""A command's response reaches its sender before the events the command caused."""

from __future__ import annotations

from twisted.internet import defer

from lairchat.domain.types import Target
from lairchat.realtime.session import MAX_IN_FLIGHT, MAX_PIPELINE, MAX_PIPELINE_BYTES
from lairchat.testing import MemoryTCPServer, result
from lairchat.transports.backpressure import MAX_FRAME

NO_SUCH_MESSAGE = "7f1e4c1e-8a1b-4a55-9b2f-1d5c0c2e9a11"


def world() -> tuple[MemoryTCPServer, str]:
    """Alice and Bob in one room; returns the server and the room's id."""
    server = MemoryTCPServer()
    alice, bob = server.account("alice"), server.account("bob")
    room = result(server.core.rooms.create(alice.user, "lobby", None, None))
    result(server.core.rooms.join(bob.user, room.id))
    return server, room.id


def test_sender_gets_the_response_before_its_own_event() -> None:
    server, room_id = world()
    alice = server.login("alice")
    alice.send({"type": "send_message", "target": {"type": "room", "room_id": room_id},
                "content": "hi"})  # fmt: skip
    assert alice.types() == ["send_message_response", "message_received"]


def stall_lookups(core) -> defer.Deferred:
    """Make the next message lookup (alice's delete_message) hang, as on a slow disk."""
    stalled: defer.Deferred = defer.Deferred()
    real_get_message = core.store.get_message

    def get_message(message_id: str) -> defer.Deferred:
        core.store.get_message = real_get_message
        return stalled

    core.store.get_message = get_message
    return stalled


def assert_delete_answered(alice, stalled: defer.Deferred) -> None:
    stalled.callback(None)
    reply = alice.frames()
    assert [f["type"] for f in reply] == ["delete_message_response"]
    assert reply[0]["error"]["code"] == "message_not_found"


def test_events_of_unknown_cause_wait_at_most_one_reactor_turn_behind_a_slow_command() -> None:
    server, room_id = world()
    alice = server.login("alice")
    server.login("bob")
    alice.frames()  # bob's user_online
    stalled = stall_lookups(server.core)
    alice.send({"type": "delete_message", "message_id": NO_SUCH_MESSAGE})
    # Bob posts over HTTP: nothing tells alice's connection what caused the event, so
    # it might be her pending command; it is held for one turn, no longer.
    bob_user = server.account("bob").user
    result(server.core.messages.send(bob_user, Target("room", room_id), "hello"))
    alice.silent()
    server.clock.advance(0)
    assert alice.types() == ["message_received"]
    assert_delete_answered(alice, stalled)


def test_events_caused_elsewhere_are_not_held_behind_a_slow_command() -> None:
    server, room_id = world()
    alice, bob = server.login("alice"), server.login("bob")
    alice.frames()
    stalled = stall_lookups(server.core)
    alice.send({"type": "delete_message", "message_id": NO_SUCH_MESSAGE})
    # Bob's real-time message was caused by his own command, already answered.
    bob.send({"type": "send_message", "target": {"type": "room", "room_id": room_id},
              "content": "hello"})  # fmt: skip
    assert alice.types() == ["message_received"]  # at once, not a turn later
    assert_delete_answered(alice, stalled)


def test_own_event_waits_for_its_response_behind_a_slow_command() -> None:
    server, room_id = world()
    alice = server.login("alice")
    stalled = stall_lookups(server.core)
    alice.send({"type": "delete_message", "message_id": NO_SUCH_MESSAGE})
    alice.send({"type": "send_message", "target": {"type": "room", "room_id": room_id},
                "content": "mine"})  # fmt: skip
    # Its response is owed behind the delete's, so its event is held too (for one
    # turn, as any event whose cause is not answered yet).
    alice.silent()
    stalled.callback(None)
    assert alice.types() == [
        "delete_message_response",
        "send_message_response",
        "message_received",
    ]


def stall_inserts(core) -> list[defer.Deferred]:
    """Make each message's commit wait until the test fires it, in any order."""
    stalled: list[defer.Deferred] = []

    def submit(message, done, *args):
        d: defer.Deferred = defer.Deferred()
        stalled.append(d)
        d.addBoth(done, *args)

    core.messages.commits.submit = submit
    return stalled


def rooms_named(core, name: str) -> list[str]:
    return [room.name for room, _ in result(core.store.list_public_rooms(100, 0, name))]


def test_pipelined_sends_overlap_and_answer_in_order() -> None:
    server, room_id = world()
    alice = server.login("alice")
    stalled = stall_inserts(server.core)
    target = {"type": "room", "room_id": room_id}
    for i in range(3):
        alice.send({"type": "send_message", "target": target, "content": f"m{i}",
                    "request_id": str(i)})  # fmt: skip
    assert len(stalled) == 3  # all three are in flight together: none waits for a response
    stalled[2].callback(3)
    stalled[1].callback(2)
    alice.silent()  # the first is still owed: nothing overtakes it
    stalled[0].callback(1)
    replies = alice.of_type("send_message_response")
    assert [r["request_id"] for r in replies] == ["0", "1", "2"]


def test_other_commands_wait_for_writes_in_flight_and_hold_later_frames() -> None:
    server, room_id = world()
    alice = server.login("alice")
    stalled = stall_inserts(server.core)
    target = {"type": "room", "room_id": room_id}
    alice.send({"type": "send_message", "target": target, "content": "first"})
    alice.send({"type": "create_room", "name": "second", "request_id": "c"})
    alice.send({"type": "send_message", "target": target, "content": "third"})
    # create_room waits for the send in flight; the send behind it waits too.
    assert len(stalled) == 1 and rooms_named(server.core, "second") == []
    stalled[0].callback(1)
    assert rooms_named(server.core, "second") == ["second"]
    assert len(stalled) == 2
    stalled[1].callback(2)
    kinds = [kind for kind in alice.types() if kind.endswith("_response")]
    assert kinds == ["send_message_response", "create_room_response", "send_message_response"]


def test_a_command_refused_at_once_does_not_lift_the_barrier_of_the_one_behind_it() -> None:
    # A send refused before it reaches the disk (here: empty content) finishes inside
    # its own handling, and in finishing starts the frames queued behind it. The
    # exclusive delete among them must still hold back the send after it: that send
    # used to start at once (a send behind a join could fail not_room_member).
    server, room_id = world()
    alice = server.login("alice")
    lookups: list[defer.Deferred] = []

    def get_message(message_id: str) -> defer.Deferred:
        lookups.append(defer.Deferred())
        return lookups[-1]

    server.core.store.get_message = get_message
    target = {"type": "room", "room_id": room_id}
    alice.send({"type": "delete_message", "message_id": NO_SUCH_MESSAGE})
    alice.send({"type": "send_message", "target": target, "content": ""})
    alice.send({"type": "delete_message", "message_id": NO_SUCH_MESSAGE})
    stalled = stall_inserts(server.core)
    alice.send({"type": "send_message", "target": target, "content": "last"})
    lookups[0].callback(None)
    assert len(lookups) == 2  # the second delete is in flight
    assert stalled == []  # and the send behind it waits
    lookups[1].callback(None)
    assert len(stalled) == 1
    stalled[0].callback(1)
    kinds = [kind for kind in alice.types() if kind.endswith("_response")]
    assert kinds == ["delete_message_response", "send_message_response"] * 2


def test_answers_owed_behind_a_write_in_flight_stop_the_reading() -> None:
    # Found by pinging behind one stalled send: every pong waited in memory behind
    # the send's response (100,000 of them after 100,000 pings), and the connection
    # was read on, since only commands in flight paused it. Answers owed count now.
    server, room_id = world()
    alice = server.login("alice")
    stalled = stall_inserts(server.core)
    alice.send({"type": "send_message", "target": {"type": "room", "room_id": room_id},
                "content": "slow"})  # fmt: skip
    session = alice.proto.session
    for _ in range(MAX_IN_FLIGHT - 2):
        alice.send({"type": "ping"})
    assert alice.transport.producerState == "producing"
    alice.send({"type": "ping"})  # the 256th answer owed
    assert alice.transport.producerState == "paused"
    assert len(session._replies) == MAX_IN_FLIGHT
    stalled[0].callback(1)
    assert alice.transport.producerState == "producing"
    kinds = alice.types()
    assert kinds[0] == "send_message_response" and kinds.count("pong") == MAX_IN_FLIGHT - 1


def test_a_client_that_pipelines_without_bound_is_dropped() -> None:
    server, _ = world()
    alice = server.login("alice")
    server.core.store.get_message = lambda message_id: defer.Deferred()  # never answers
    alice.send({"type": "delete_message", "message_id": NO_SUCH_MESSAGE})
    for _ in range(MAX_PIPELINE):
        alice.send({"type": "ping"})
    assert not alice.closed
    alice.send({"type": "ping"})
    assert alice.closed


def test_what_a_client_may_queue_is_bounded_in_bytes_too() -> None:
    server, room_id = world()
    alice = server.login("alice")
    server.core.store.get_message = lambda message_id: defer.Deferred()  # never answers
    alice.send({"type": "delete_message", "message_id": NO_SUCH_MESSAGE})
    big = {"type": "send_message", "target": {"type": "room", "room_id": room_id},
           "content": "x" * (MAX_FRAME - 200)}  # fmt: skip
    for _ in range(MAX_PIPELINE_BYTES // MAX_FRAME):
        alice.send(big)  # queued behind the stalled command: a few MiB are allowed
    assert not alice.closed
    alice.send(big)
    assert alice.closed
