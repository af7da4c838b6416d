"""Acknowledged means durable: a SIGKILL mid-stream loses no acknowledged message.

Several clients send messages as fast as the server acknowledges them (a window of
requests in flight each). After a few hundred ``send_message_response`` frames the
server is killed with SIGKILL, every response already on its way is still read, and
the server is started again on the same database. Every message whose response
arrived must then be in the room's history exactly once (read back through
``GET /api/v1/messages``, paging with ``before``), nothing may appear that was never
sent, and SQLite's ``integrity_check`` must say ``ok``.

No sleeps: every wait is a socket read or a process wait with a deadline.
"""

from __future__ import annotations

import contextlib
import http.client
import selectors
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from lairchat.testing import ServerNotReady, ServerProcess, frame, split_frames
from lairchat.testing_clients import TCPClient

PASSWORD = "durable-password"
CLIENTS = 4
WINDOW = 32
KILL_AFTER = 400  # acknowledgements before the SIGKILL
TIMEOUT = 15.0


class Server(ServerProcess):
    """The shared launcher over the database at ``db`` (which outlives the process)."""

    def __init__(self, workdir: Path, db: Path):
        try:
            super().__init__(
                workdir,
                secret="durability-test-secret-0123456789abcdef",
                LAIR_DATABASE_URL=f"sqlite:{db}",
                LAIR_LOG_LEVEL="warning",
            )
        except ServerNotReady as e:
            pytest.fail(str(e))
        self.database = db


class Sender:
    """One client sending ``WINDOW`` messages ahead of its acknowledgements."""

    def __init__(self, client: TCPClient, index: int, room_id: str):
        self.sock, self.buffer = client.sock, client.buffer
        self.sock.setblocking(False)
        self.index, self.room_id = index, room_id
        self.sent = 0
        self.acked: dict[str, str] = {}  # content -> message id
        self.open = True

    def fill(self) -> None:
        data = b""
        while self.sent - len(self.acked) < WINDOW:
            content = f"durable-{self.index}-{self.sent}"
            target = {"type": "room", "room_id": self.room_id}
            message = {"type": "send_message", "target": target, "content": content}
            data += frame(orjson.dumps(message))
            self.sent += 1
        if data:
            self.sock.sendall(data)  # a window of small frames fits the socket buffer

    def readable(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:  # reset by the killed server
            chunk = b""
        if not chunk:
            self.open = False
            return
        payloads, self.buffer = split_frames(self.buffer + chunk)
        for f in map(orjson.loads, payloads):
            if f["type"] == "send_message_response":
                assert f["success"], f
                message = f["message"]
                self.acked[message["content"]] = message["id"]


# -- the test ----------------------------------------------------------------------------


def history(server: Server, token: str, room_id: str) -> list[dict[str, Any]]:
    """The whole room history through the REST API, newest first, paging back."""
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=TIMEOUT)
    messages: list[dict[str, Any]] = []
    before = ""
    for _ in range(1000):  # bounded: far more pages than the test writes
        query = f"target_type=room&target_id={room_id}&limit=100{before}"
        conn.request(
            "GET", f"/api/v1/messages?{query}", headers={"Authorization": f"Bearer {token}"}
        )
        response = conn.getresponse()
        body = orjson.loads(response.read())
        assert response.status == 200, body
        messages += body["messages"]
        if not body["has_more"] or not body["messages"]:
            break
        before = f"&before={body['messages'][-1]['id']}"
    conn.close()
    return messages


def test_acknowledged_messages_survive_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "durable.db"
    server = Server(tmp_path, db)
    restarted = None
    try:
        tokens, clients = [], []
        for i in range(CLIENTS):
            client = TCPClient.connect(server.tcp_port, timeout=TIMEOUT)
            client.hello()
            name = f"durable{i}"
            r = client.ok("register", username=name, email=f"{name}@example.com", password=PASSWORD)
            tokens.append(r["token"])
            clients.append(client)
        room_id = clients[0].ok("create_room", name="durability")["room"]["id"]
        for client in clients[1:]:
            client.ok("join_room", room_id=room_id)

        senders = [Sender(c, i, room_id) for i, c in enumerate(clients)]
        selector = selectors.DefaultSelector()
        for s in senders:
            selector.register(s.sock, selectors.EVENT_READ, s)
            s.fill()

        # Send until KILL_AFTER acknowledgements, then kill the server mid-stream.
        deadline = time.monotonic() + 30
        while sum(len(s.acked) for s in senders) < KILL_AFTER:
            assert time.monotonic() < deadline, "the server acknowledged too slowly"
            for key, _ in selector.select(timeout=1.0):
                key.data.readable()
                if key.data.open:
                    key.data.fill()
        server.kill()
        in_flight = sum(s.sent - len(s.acked) for s in senders)
        # Read every response that left the server before it died, until each socket ends.
        deadline = time.monotonic() + TIMEOUT
        while any(s.open for s in senders):
            assert time.monotonic() < deadline, "sockets stayed open after the kill"
            for key, _ in selector.select(timeout=1.0):
                key.data.readable()
                if not key.data.open:
                    selector.unregister(key.fileobj)
        selector.close()
        for s in senders:
            s.sock.close()
        acked = {content: mid for s in senders for content, mid in s.acked.items()}
        sent = {f"durable-{s.index}-{n}" for s in senders for n in range(s.sent)}
        assert in_flight > 0, "the kill should catch messages in flight"
        assert len(acked) >= KILL_AFTER

        restarted = Server(tmp_path, db)
        stored = history(restarted, tokens[0], room_id)

        ids = Counter(m["id"] for m in stored)
        contents = Counter(m["content"] for m in stored)
        assert [i for i, n in ids.items() if n > 1] == [], "a message id appears twice"
        assert [c for c, n in contents.items() if n > 1] == [], "a message was stored twice"
        assert set(contents) <= sent, "history holds messages nobody sent"
        by_content = {m["content"]: m["id"] for m in stored}
        missing = [c for c in acked if c not in by_content]
        assert missing == [], f"{len(missing)} acknowledged messages were lost: {missing[:5]}"
        assert all(by_content[c] == mid for c, mid in acked.items())

        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            (count,) = conn.execute(
                "SELECT count(*) FROM messages WHERE target_id = ?", (room_id,)
            ).fetchone()
        assert count == len(stored)
    finally:
        server.stop()
        if restarted is not None:
            restarted.stop()
