"""Fan-out: one encoding per event, written as is to every connection that can take it."""

from __future__ import annotations

import json
import struct

from lairchat.core.events import Event, RoomAudience
from lairchat.core.hub import Hub
from lairchat.testing import MemoryTCPServer
from lairchat.transports.tcp import tcp_frame


class FastConn:
    """A connection on the fast path: it records the bytes the hub writes."""

    def __init__(self, user_id: str):
        self.user_id, self.session_id = user_id, f"s-{user_id}"
        self.written: list[bytes] = []
        self.fast = (tcp_frame, self.written.append)

    def send_event(self, event: Event) -> None:  # pragma: no cover - must not be called
        raise AssertionError("fast connections get bytes, not events")

    def close(self, reason: str) -> None:
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
