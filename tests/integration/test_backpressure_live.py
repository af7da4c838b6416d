"""Back-pressure on real sockets: readers that stop reading make the server stop
reading from the sender of their room, instead of queueing without bound; once they
catch up, the sender is read again."""

from __future__ import annotations

import select
import struct
import time
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from conftest import LiveServer

#: Each phase is bounded; on loopback it takes well under a second each.
PHASE_TIMEOUT = 30.0


def test_a_room_whose_readers_stall_stops_reading_its_sender(live_server: LiveServer) -> None:
    sender = live_server.register("bps")
    room_id = sender.ok("create_room", name=f"bp-{sender.username}")["room"]["id"]
    readers = [live_server.register("bpr") for _ in range(3)]
    for reader in readers:
        reader.ok("join_room", room_id=room_id)
    sender.barrier()  # the joins' events are read: from here on, nobody reads

    payload = orjson.dumps(
        {
            "type": "send_message",
            "target": {"type": "room", "room_id": room_id},
            "content": "x" * 2000,
        }
    )
    frames = (struct.pack("!I", len(payload)) + payload) * 64
    sender.sock.setblocking(False)
    # Flood until the socket stays full: the server no longer reads it.
    deadline = time.monotonic() + PHASE_TIMEOUT
    sent = 0
    while time.monotonic() < deadline:
        _, writable, _ = select.select([], [sender.sock], [], 1.0)
        if not writable:
            break
        try:
            sent += sender.sock.send(frames)
        except BlockingIOError:
            continue
    else:
        raise AssertionError(f"the server kept reading the sender ({sent} bytes sent)")
    _, writable, _ = select.select([], [sender.sock], [], 1.0)
    assert not writable, "the sender was read again while its room was still congested"

    # The readers catch up: read everything they were sent, until the sender is read
    # again (its socket drains and becomes writable).
    for reader in readers:
        reader.sock.setblocking(False)
    deadline = time.monotonic() + PHASE_TIMEOUT
    while time.monotonic() < deadline:
        readable, writable, _ = select.select([r.sock for r in readers], [sender.sock], [], 1.0)
        if writable:
            break
        for sock in readable:
            assert sock.recv(1 << 20), "a reader was dropped instead of waited for"
    else:
        raise AssertionError("the sender was never read again")
    for client in (sender, *readers):
        client.close()
