"""Back-pressure on real sockets: readers that stop reading make the server stop
reading from the sender of their room, instead of queueing without bound; once they
catch up, the sender is read again."""

from __future__ import annotations

import contextlib
import select
import struct
import time
import urllib.request
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from conftest import LiveServer

#: Each phase is bounded; on loopback it takes well under a second each.
PHASE_TIMEOUT = 30.0


def senders_paused(live_server: LiveServer) -> float:
    """How many times the server has paused a sender for its room's readers."""
    metrics = urllib.request.urlopen(f"{live_server.url}/metrics", timeout=10).read().decode()
    paused = [ln for ln in metrics.splitlines() if ln.startswith("lair_chat_senders_paused_total")]
    assert paused, "no lair_chat_senders_paused_total in /metrics"
    return float(paused[0].split()[-1])


def test_a_room_whose_readers_stall_stops_reading_its_sender(live_server: LiveServer) -> None:
    sender = live_server.register("bps")
    room_id = sender.ok("create_room", name=f"bp-{sender.username}")["room"]["id"]
    readers = [live_server.register("bpr") for _ in range(3)]
    for reader in readers:
        reader.ok("join_room", room_id=room_id)
    sender.barrier()  # the joins' events are read: from here on, nobody reads
    paused_before = senders_paused(live_server)  # the server is shared

    payload = orjson.dumps(
        {
            "type": "send_message",
            "target": {"type": "room", "room_id": room_id},
            "content": "x" * 2000,
        }
    )
    frames = (struct.pack("!I", len(payload)) + payload) * 64
    sender.sock.setblocking(False)
    # Flood until the socket stays full for a second and the server says it paused
    # the sender for its room. (A quiet second alone is not enough: the server also
    # stops reading while 256 commands wait for their commit, which a slow disk can
    # make last a second before the readers fall behind. And it may read the sender
    # again now and then: whenever the kernel takes what was queued for a reader,
    # that reader is no longer behind, the room no longer congested.)
    deadline = time.monotonic() + PHASE_TIMEOUT
    sent = 0
    while time.monotonic() < deadline:
        readable, writable, _ = select.select([sender.sock], [sender.sock], [], 1.0)
        if readable:  # the sender keeps up with its own responses and events
            assert sender.sock.recv(1 << 20), "the sender was dropped"
        elif not writable and senders_paused(live_server) > paused_before:
            break
        if writable:
            with contextlib.suppress(BlockingIOError):
                sent += sender.sock.send(frames)
    else:
        raise AssertionError(f"the server never paused the sender ({sent} bytes sent)")

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
