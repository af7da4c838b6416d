"""Two writers, one SQLite file: the message writer process stores messages while
the server's own writer threads store everything else (rooms, memberships,
sessions). Under a stream of messages, those other writes must neither fail nor
stall the stream, and every acknowledged message must be stored once."""

from __future__ import annotations

import http.client
import threading
import time
from typing import TYPE_CHECKING, Any

import orjson

from tests.integration.test_durability import history

if TYPE_CHECKING:
    from conftest import LiveServer

MESSAGES = 4000
WINDOW = 32
#: Side writes that must be done while messages are still in flight. The stream
#: goes on until they are (it used to stop after MESSAGES, which a loaded machine
#: sometimes sent before the first room was even created).
MIN_SIDE_WRITES = 5
MAX_SIDE_WRITES = 1000
#: Where the stream stops all the same (the history read back pages through at
#: most 100,000): the side writes have stalled if 5 did not fit in these.
MAX_MESSAGES = 50_000
TIMEOUT = 60.0


def stream(client: Any, room_id: str, overlapped: threading.Event, outcome: dict[str, Any]) -> None:
    """Send messages with WINDOW in flight until MESSAGES are acknowledged and the
    side writes say they ``overlapped`` the stream (or TIMEOUT passes, or
    MAX_MESSAGES are sent, for the test to fail on); count what was sent and
    acknowledged."""
    sent = acked = 0
    deadline = time.monotonic() + TIMEOUT
    try:
        while True:
            more = acked < MESSAGES or not overlapped.is_set()
            if not more or sent >= MAX_MESSAGES or time.monotonic() > deadline:
                if acked == sent:
                    return
            else:
                while sent - acked < WINDOW and sent < MAX_MESSAGES:
                    client.send(
                        {
                            "type": "send_message",
                            "target": {"type": "room", "room_id": room_id},
                            "content": f"m{sent}",
                            "request_id": str(sent),
                        }
                    )
                    sent += 1
            frame = client.recv()
            if frame["type"] == "send_message_response":
                if not frame["success"]:
                    outcome["failed"] = frame
                    return
                acked += 1
    except Exception as e:  # a read timeout: the stream stalled
        outcome["failed"] = repr(e)
    finally:
        outcome["sent"], outcome["acked"] = sent, acked


def http_post(port: int, path: str, token: str, body: dict[str, Any]) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn.request("POST", path, body=orjson.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, orjson.loads(response.read() or b"null")
    finally:
        conn.close()


def test_other_writes_while_messages_stream(live_server: LiveServer) -> None:
    alice = live_server.register("mix")
    room_id = alice.ok("create_room", name=f"mix-{alice.username}")["room"]["id"]
    bob = live_server.register("mixb")
    outcome: dict[str, Any] = {}
    overlapped = threading.Event()
    streamer = threading.Thread(target=stream, args=(alice, room_id, overlapped, outcome))
    streamer.start()
    side_writes = 0
    try:
        # Meanwhile, for as long as it runs: rooms created over TCP and joined over HTTP.
        while streamer.is_alive() and side_writes < MAX_SIDE_WRITES:
            name = f"side-{bob.username}-{side_writes}"
            side = bob.ok("create_room", name=name)["room"]["id"]
            status, body = http_post(
                live_server.http_port, f"/api/v1/rooms/{side}/join", alice.token, {}
            )
            assert status == 200, (status, body)
            side_writes += 1
            if side_writes >= MIN_SIDE_WRITES:
                overlapped.set()
    finally:
        overlapped.set()
        streamer.join(TIMEOUT)
    assert not streamer.is_alive(), "the message stream stalled"
    assert "failed" not in outcome, outcome.get("failed")
    assert side_writes >= MIN_SIDE_WRITES, f"only {side_writes} other writes: {outcome}"
    assert outcome["acked"] == outcome["sent"] >= MESSAGES
    # Every acknowledged message is stored once: the room's history holds them all.
    contents = [m["content"] for m in history(live_server, alice.token, room_id)]
    assert sorted(contents) == sorted(f"m{i}" for i in range(outcome["sent"]))
