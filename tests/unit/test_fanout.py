"""Fan-out: one encoding per event, written as is to every connection that can take it."""

from __future__ import annotations

import json
import struct

from lairchat.core.events import Event, RoomAudience
from lairchat.core.hub import Hub
from lairchat.testing import MemoryTCPServer, json_frames
from lairchat.transports.tcp import tcp_frame


class FastConn:
    """A connection on the fast path: it records the bytes the hub writes."""

    backlogged = False

    def __init__(self, user_id: str):
        self.user_id, self.session_id = user_id, f"s-{user_id}"
        self.written: list[bytes] = []
        self.fast = (tcp_frame, self.written.append)

    def send_event(self, event: Event) -> None:  # pragma: no cover - must not be called
        raise AssertionError("fast connections get bytes, not events")

    def close(self, reason: str, notice: object = None) -> None:
        pass


def test_every_fast_recipient_gets_the_same_encoded_bytes() -> None:
    hub = Hub()
    conns = [FastConn(f"u{i}") for i in range(5)]
    for conn in conns:
        hub.add_member("room", conn.user_id)
        hub.attach(conn)
    event = Event({"type": "message_received", "content": "hi"}, RoomAudience("room"))
    assert hub.publish(event) == 5
    frames = [conn.written[-1] for conn in conns]
    assert all(frame is frames[0] for frame in frames)  # encoded once, shared
    (length,) = struct.unpack("!I", frames[0][:4])
    assert json.loads(frames[0][4 : 4 + length]) == {"type": "message_received", "content": "hi"}


def test_room_recipients_follow_membership_and_presence_changes() -> None:
    hub = Hub()
    alice, bob = FastConn("alice"), FastConn("bob")
    hub.add_member("room", "alice")
    hub.attach(alice)

    def publish() -> int:
        return hub.publish(Event({"type": "x"}, RoomAudience("room")))

    assert publish() == 1
    hub.add_member("room", "bob")
    assert publish() == 1  # bob is a member but not connected
    hub.attach(bob)
    assert publish() == 2
    hub.remove_member("room", "alice")
    assert publish() == 1
    hub.detach(bob)
    assert publish() == 0
    hub.drop_room("room")
    assert hub.rooms_of("bob") == []


def test_tcp_sessions_leave_the_fast_path_while_owing_responses_or_backlogged() -> None:
    server = MemoryTCPServer()
    client = server.connect()
    session = client.proto.session
    assert session.fast is None  # not authenticated yet
    client.hello()
    client.authenticate(server.account("alice"))
    assert session.fast is not None
    client.proto.pauseProducing()  # the socket buffer is full: writes must be accounted for
    assert session.fast is None
    client.proto.resumeProducing()
    assert session.fast is not None
    session.close("test")
    assert session.fast is None


class SlowConn(FastConn):
    """A connection off the fast path (e.g. it owes responses): it gets events."""

    def __init__(self, user_id: str):
        super().__init__(user_id)
        self.fast = None
        self.events: list[Event] = []

    def send_event(self, event: Event) -> None:
        self.events.append(event)


def room_hub(*conns: FastConn, rooms: tuple[str, ...] = ("room",)) -> Hub:
    hub = Hub()
    for conn in conns:
        for room in rooms:
            hub.add_member(room, conn.user_id)
        hub.attach(conn)
    for conn in conns:  # forget the user_online announcements
        conn.written.clear()
        getattr(conn, "events", []).clear()
    hub.deliveries = 0
    return hub


def msg(n: int, room: str = "room") -> Event:
    return Event({"type": "message_received", "n": n}, RoomAudience(room))


def test_a_batch_holds_events_then_writes_a_room_run_once_per_connection() -> None:
    a, b = FastConn("a"), FastConn("b")
    hub = room_hub(a, b)
    with hub.batch():
        assert hub.publish(msg(1)) == 0 and hub.publish(msg(2)) == 0
        assert a.written == [] and b.written == []  # held until the batch ends
        hub.publish(msg(3))
    assert len(a.written) == 1 and a.written[0] is b.written[0]  # one shared write
    assert [f["n"] for f in json_frames(a.written[0])] == [1, 2, 3]
    assert hub.deliveries == 6


def test_slow_connections_get_each_event_of_a_run_in_order() -> None:
    fast, slow = FastConn("a"), SlowConn("b")
    hub = room_hub(fast, slow)
    with hub.batch():
        for n in range(3):
            hub.publish(msg(n))
    assert [e.payload["n"] for e in slow.events] == [0, 1, 2]
    assert [f["n"] for f in json_frames(fast.written[0])] == [0, 1, 2]


def test_a_batch_keeps_publication_order_across_rooms_and_audiences() -> None:
    a, b = FastConn("a"), FastConn("b")
    hub = room_hub(a, b, rooms=("r1", "r2"))
    with hub.batch():
        hub.publish(msg(1, "r1"))
        hub.publish(msg(2, "r1"))
        hub.publish(msg(3, "r2"))
        hub.publish(Event({"type": "x", "n": 4}, RoomAudience("r1", exclude_user="b")))
        hub.publish(msg(5, "r1"))
    received = [f["n"] for data in a.written for f in json_frames(data)]
    assert received == [1, 2, 3, 4, 5]
    assert [f["n"] for data in b.written for f in json_frames(data)] == [1, 2, 3, 5]
    assert len(a.written) == 4  # runs: [1, 2], [3], [4], [5]


def test_nested_batches_deliver_once_when_the_outer_one_ends() -> None:
    a = FastConn("a")
    hub = room_hub(a)
    with hub.batch():
        with hub.batch():
            hub.publish(msg(1))
        assert a.written == []
        hub.publish(msg(2))
    assert [f["n"] for f in json_frames(a.written[0])] == [1, 2]


def test_a_failing_connection_does_not_stop_a_batch() -> None:
    class Broken(FastConn):
        def __init__(self, user_id: str):
            super().__init__(user_id)
            self.fast = (tcp_frame, self.fail)

        def fail(self, data: bytes) -> None:
            raise OSError("socket gone")

    a, broken, b = FastConn("a"), Broken("x"), FastConn("b")
    hub = room_hub(a, broken, b)
    with hub.batch():
        hub.publish(msg(1))
        hub.publish(msg(2))
    assert len(a.written) == 1 and len(b.written) == 1
