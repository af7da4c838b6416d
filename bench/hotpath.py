"""The send_message path in one process, without sockets or disk: what it costs.

``python -m bench.hotpath`` drives lairchat's own TCP protocol, session, services
and hub (``lairchat.testing.MemoryTCPServer``) with the durable-acceptance load:
100 senders, each in a room of its own, 16 pipelined ``send_message`` frames per
read. The message writer is replaced by one that commits nothing and answers
every 17 senders' worth of messages as one batch, as group commits do under load.
It prints the CPU time per accepted message. ``--room-size 10`` puts the senders
in rooms of ten instead, every member sending, as in the fan-out load at R=10 (each
message then reaches ten connections).

``--floor`` runs the least Python the same work could be: the same frames parsed,
checked, numbered and answered (a response and a ``message_received`` per
message, joined per connection per batch) in three functions, with none of the
protocol's rules beyond the shape. What lies between the two is what any
rewrite of the path could gain.

Timings on a shared VM move by 20%; instruction counts do not. The difference
between two runs under callgrind counts one run's extra rounds exactly::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python -m bench.hotpath --rounds 2     # and again with --rounds 6
    # (instructions of the second - the first) / (4 rounds * 1600 messages)

Set ``PYTHONHASHSEED=0`` for both, or dict layouts make them differ by ~0.5%.
"""

from __future__ import annotations

import argparse
import gc
import struct
import time
from collections.abc import Callable

import orjson

from lairchat.collector import settle_heap

SENDERS = 100
IN_FLIGHT = 16
#: Senders whose messages make one group commit (about 270 messages, as measured
#: on the real server under this load).
COMMIT_EVERY = 17
_PREFIX = struct.Struct("!I")


def _frame(room_id: str, i: int) -> bytes:
    payload = orjson.dumps(
        {
            "type": "send_message",
            "target": {"type": "room", "room_id": room_id},
            "content": "B|x|%08d|%019d|" % (i, i) + "x" * 20,  # noqa: UP031 - the bench's body
            "request_id": str(i),
        }
    )
    return _PREFIX.pack(len(payload)) + payload


def lairchat_round(room_size: int = 1) -> Callable[[], None]:
    """One round of the load through lairchat's real path; returns the round.
    ``room_size`` > 1: the senders share rooms of that many (fan-out's R), each
    message delivered to every member."""
    from twisted.internet import defer

    import lairchat.core.passwords as passwords
    from lairchat.core.groupcommit import GroupCommit
    from lairchat.testing import MemoryTCPServer, result
    from lairchat.transports.http.testing import CHEAP_HASHER

    passwords.HASHER = CHEAP_HASHER  # accounts are set up, not measured
    server = MemoryTCPServer(idle_timeout=1e9)
    core = server.core
    core.limiter.enabled = False  # as in the benchmark (LAIR_RATE_LIMITS=off)
    names = [f"user{i:04d}" for i in range(SENDERS)]
    rooms = []
    for i, name in enumerate(names):
        user = server.account(name).user
        if i % room_size == 0:
            room = result(core.rooms.create(user, "r" + name, None, None))
        else:
            result(core.rooms.join(user, room.id))
        rooms.append(room)
    clients = [server.login(name) for name in names]
    batches: list[tuple[defer.Deferred, int]] = []
    last = 0

    def write(messages: list) -> defer.Deferred:
        d: defer.Deferred = defer.Deferred()
        batches.append((d, len(messages)))
        return d

    core.messages.commits = GroupCommit(write, core.hub.batch)

    def commit() -> None:
        nonlocal last
        while batches:
            d, n = batches.pop(0)
            last += n
            d.callback(list(range(last - n + 1, last + 1)))

    reads = [b"".join(_frame(room.id, i) for i in range(IN_FLIGHT)) for room in rooms]

    def one_round() -> None:
        for i, (client, data) in enumerate(zip(clients, reads, strict=True)):
            client.proto.dataReceived(data)
            if i % COMMIT_EVERY == COMMIT_EVERY - 1:
                commit()
        commit()
        server.clock.advance(0)
        commit()
        for client in clients:
            client.transport.clear()

    # What is timed must be the path that accepts: every sender gets its 16
    # responses, successful, and its 16 events.
    for client in clients:
        client.frames()  # presence events from the logins after its own
    for client, data in zip(clients, reads, strict=True):
        client.proto.dataReceived(data)
    commit()
    for client in clients:
        kinds = [(f["type"], f.get("success")) for f in client.frames()]
        expected = [("send_message_response", True)] * IN_FLIGHT
        expected += [("message_received", None)] * (IN_FLIGHT * room_size)
        if sorted(kinds) != sorted(expected):
            raise RuntimeError(f"the path did not accept the load: {kinds[:4]}")
    return one_round


def floor_round() -> Callable[[], None]:
    """One round of the same work with the least Python: parse, check the shape and
    membership, mint an id and a time, queue; then per batch build each message's
    response and event and join them per connection."""
    from lairchat.domain.ids import new_ordered_id
    from lairchat.domain.timefmt import ts

    rooms = [f"0199aaaa-bbbb-7ccc-8ddd-{i:012d}" for i in range(SENDERS)]
    members = {room: {f"u{i}"} for i, room in enumerate(rooms)}
    reads = [b"".join(_frame(room, i) for i in range(IN_FLIGHT)) for room in rooms]
    senders = [(f"u{i}", f"user{i:04d}") for i in range(SENDERS)]
    queued: list[tuple] = []
    sent: list[bytes] = []

    def received(sender: tuple[str, str], data: bytes) -> None:
        offset, end = 0, len(data)
        while end - offset >= 4:
            (size,) = _PREFIX.unpack_from(data, offset)
            stop = offset + 4 + size
            m = orjson.loads(data[offset + 4 : stop])
            offset = stop
            content, room = m["content"], m["target"]["room_id"]
            if m["type"] != "send_message" or type(content) is not str or not content:
                raise ValueError(m)
            if sender[0] not in members[room]:
                raise ValueError(room)
            stamp = ts(time.time())
            queued.append((sender, m.get("request_id"), new_ordered_id(), room, content, stamp))

    def commit() -> None:
        batch = queued[:]
        queued.clear()
        orjson.dumps([row[2:] for row in batch])  # what goes to the writer
        out: dict[tuple[str, str], list[bytes]] = {}
        for sender, request_id, mid, room, content, stamp in batch:
            wire = {
                "id": mid,
                "author": sender[0],
                "target": {"type": "room", "room_id": room},
                "content": content,
                "edited": False,
                "created_at": stamp,
            }
            response = orjson.dumps(
                {
                    "type": "send_message_response",
                    "request_id": request_id,
                    "success": True,
                    "message": wire,
                }
            )
            event = orjson.dumps(
                {"type": "message_received", "message": wire, "author_username": sender[1]}
            )
            frames = out.setdefault(sender, [])
            frames.append(_PREFIX.pack(len(response)) + response)
            frames.append(_PREFIX.pack(len(event)) + event)
        sent.extend(b"".join(frames) for frames in out.values())

    def one_round() -> None:
        for i, (sender, data) in enumerate(zip(senders, reads, strict=True)):
            received(sender, data)
            if i % COMMIT_EVERY == COMMIT_EVERY - 1:
                commit()
        commit()
        sent.clear()

    return one_round


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hotpath", description=__doc__)
    parser.add_argument("--rounds", type=int, default=300, help="measured rounds (1,600 msgs)")
    parser.add_argument("--floor", action="store_true", help="the least-Python floor instead")
    parser.add_argument(
        "--room-size", type=int, default=1, help="senders per room (fan-out's R; default 1)"
    )
    args = parser.parse_args(argv)
    one_round = floor_round() if args.floor else lairchat_round(args.room_size)
    for _ in range(5):  # warm caches (room targets, id pool, formatted seconds)
        one_round()
    gc.collect()
    settle_heap()  # as the server does once ready
    started = time.process_time()
    for _ in range(args.rounds):
        one_round()
    elapsed = time.process_time() - started
    messages = args.rounds * SENDERS * IN_FLIGHT
    if messages:
        print(f"{1e6 * elapsed / messages:.1f} us per message ({messages} messages)")


if __name__ == "__main__":
    main()
