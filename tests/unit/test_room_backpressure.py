"""Back-pressure through the real session and TCP adapter: while most of a room's
readers are behind, the server stops reading from whoever sends to that room."""

from __future__ import annotations

import orjson
from twisted.internet import defer

from lairchat.core.groupcommit import GroupCommit
from lairchat.core.hub import MAX_SENDER_PAUSE
from lairchat.realtime.session import MAX_IN_FLIGHT
from lairchat.testing import MemoryTCPClient, MemoryTCPServer, frame, result


def room_of(server: MemoryTCPServer, names: list[str], name: str = "busy") -> str:
    owner = server.account(names[0])
    room = result(server.core.rooms.create(owner.user, name, None, None))
    for name in names[1:]:
        result(server.core.rooms.join(server.account(name).user, room.id))
    return room.id


def say(client: MemoryTCPClient, room_id: str, text: str) -> dict:
    return client.request("send_message", target={"type": "room", "room_id": room_id}, content=text)


def test_a_congested_room_stops_reading_its_sender_until_readers_catch_up() -> None:
    server = MemoryTCPServer()
    names = ["sender", "reader1", "reader2", "reader3", "reader4"]
    room_id = room_of(server, names)
    sender, *readers = [server.login(n) for n in names]
    for reader in readers[:3]:
        reader.proto.pauseProducing()  # Twisted: this socket's buffer is full

    response = say(sender, room_id, "one")
    assert response["success"] is True  # accepted, stored and answered as usual
    assert sender.transport.producerState == "paused"  # but no more frames are read

    readers[0].proto.resumeProducing()  # 2 of 5 behind: no longer a majority
    assert sender.transport.producerState == "producing"


def test_one_stalled_reader_does_not_slow_the_room() -> None:
    server = MemoryTCPServer()
    names = ["sender", "reader1", "reader2"]
    room_id = room_of(server, names)
    sender, stalled, fine = [server.login(n) for n in names]
    stalled.proto.pauseProducing()
    for i in range(3):
        assert say(sender, room_id, f"m{i}")["success"] is True
    assert sender.transport.producerState == "producing"
    assert [f["message"]["content"] for f in fine.of_type("message_received")] == [
        "m0",
        "m1",
        "m2",
    ]


def test_a_message_to_another_room_is_not_held_back() -> None:
    server = MemoryTCPServer()
    busy = room_of(server, ["sender", "reader1", "reader2"])
    quiet = room_of(server, ["sender", "quiet1"], "quiet")
    sender, r1, r2, q1 = [server.login(n) for n in ["sender", "reader1", "reader2", "quiet1"]]
    r1.proto.pauseProducing()
    r2.proto.pauseProducing()
    assert server.core.hub.congested(busy) and not server.core.hub.congested(quiet)
    say(sender, quiet, "elsewhere")
    assert sender.transport.producerState == "producing"
    assert q1.of_type("message_received")[0]["message"]["content"] == "elsewhere"


def test_a_sender_is_paused_for_the_grace_at_most() -> None:
    server = MemoryTCPServer()
    names = ["sender", "reader1", "reader2"]
    room_id = room_of(server, names)
    sender, *readers = [server.login(n) for n in names]
    for reader in readers:
        reader.proto.pauseProducing()  # stalled, not just slow: they never catch up
    say(sender, room_id, "one")
    assert sender.transport.producerState == "paused"
    server.clock.advance(MAX_SENDER_PAUSE - 0.1)
    assert sender.transport.producerState == "paused"
    server.clock.advance(0.1)
    # Read again: what it sends next queues up for the stalled readers, who are then
    # shed as slow consumers after the same grace (transports/backpressure.py).
    assert sender.transport.producerState == "producing"
    assert say(sender, room_id, "two")["success"] is True


def test_time_spent_paused_does_not_count_as_idle() -> None:
    server = MemoryTCPServer(idle_timeout=30)
    names = ["sender", "reader1", "reader2"]
    room_id = room_of(server, names)
    sender, *readers = [server.login(n) for n in names]
    for reader in readers:
        reader.proto.pauseProducing()
    say(sender, room_id, "one")
    assert sender.transport.producerState == "paused"
    server.clock.advance(MAX_SENDER_PAUSE)  # released: idle from here on
    server.clock.advance(30 - MAX_SENDER_PAUSE)
    assert not sender.closed  # 30 s since its last frame, but it was not read for 10
    server.clock.advance(MAX_SENDER_PAUSE)
    assert sender.closed


# -- a sender's own commands in flight ------------------------------------------------


def held_commits(server: MemoryTCPServer) -> list[tuple[defer.Deferred, int]]:
    """Make the group commit wait: each batch's Deferred and size, in order, to fire."""
    batches: list[tuple[defer.Deferred, int]] = []

    def write(items: list) -> defer.Deferred:
        d: defer.Deferred = defer.Deferred()
        batches.append((d, len(items)))
        return d

    server.core.messages.commits = GroupCommit(write, server.core.hub.batch)
    return batches


def commit(batches: list[tuple[defer.Deferred, int]]) -> None:
    d, n = batches.pop(0)
    d.callback(list(range(1, n + 1)))


def frames_to(room_id: str, count: int) -> bytes:
    return b"".join(
        frame(
            orjson.dumps(
                {
                    "type": "send_message",
                    "target": {"type": "room", "room_id": room_id},
                    "content": f"m{i}",
                    "request_id": str(i),
                }
            )
        )
        for i in range(count)
    )


def test_a_sender_is_not_read_while_max_in_flight_of_its_messages_await_their_commit() -> None:
    server = MemoryTCPServer()
    room_id = room_of(server, ["sender", "reader"])
    sender, reader = server.login("sender"), server.login("reader")
    batches = held_commits(server)

    sender.send_raw(frames_to(room_id, MAX_IN_FLIGHT - 1))
    assert sender.transport.producerState == "producing"
    sender.send_raw(frames_to(room_id, 1))
    assert sender.transport.producerState == "paused"  # the rest waits in its socket

    commit(batches)  # the first message alone: MAX_IN_FLIGHT - 1 still in flight
    assert sender.transport.producerState == "paused"
    commit(batches)  # everything else
    assert sender.transport.producerState == "producing"
    responses = sender.of_type("send_message_response")
    assert len(responses) == MAX_IN_FLIGHT and all(r["success"] for r in responses)
    assert len(reader.of_type("message_received")) == MAX_IN_FLIGHT


def test_a_room_releasing_its_sender_does_not_resume_one_with_too_much_in_flight() -> None:
    server = MemoryTCPServer()
    names = ["sender", "reader1", "reader2"]
    room_id = room_of(server, names)
    sender, *readers = [server.login(n) for n in names]
    batches = held_commits(server)
    for reader in readers:
        reader.proto.pauseProducing()
    sender.send_raw(frames_to(room_id, MAX_IN_FLIGHT))
    assert sender.transport.producerState == "paused"

    readers[0].proto.resumeProducing()  # the room is no longer congested
    assert sender.transport.producerState == "paused"  # its own messages still are
    commit(batches)
    commit(batches)
    assert sender.transport.producerState == "producing"
