"""Read markers on a real server (``ServerProcess``, real sockets): a message a
client has just been handed can be marked read at once, from two devices at once,
and REST and the real-time protocols count the same state alike
(docs/protocols/TCP.md ``mark_read``; HTTP.md ``/users/me``, ``/messages/read``).
Every wait is a read with a deadline; nothing sleeps."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing

import pytest

from lairchat.storage.sqlite.store import DM_FLOOR_STEP
from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient, WSClient, rest

PASSWORD = "correct horse battery"
#: ``unread_counts.mentions`` when no unread message mentions the reader.
NO_MENTIONS = {"total": 0, "by_room": {}, "by_dm": {}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("read-markers"))
    yield srv
    srv.stop()


class Account:
    """A registered user with a TCP connection, and a WebSocket one on demand."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        name = f"u{uuid.uuid4().hex[:10]}"
        self.tcp = TCPClient.connect(server.tcp_port)
        self.tcp.send({"type": "client_hello", "version": "1.0"})
        answer = self.tcp.request(
            "register", username=name, email=f"{name}@example.com", password=PASSWORD
        )
        assert answer["success"] is True, answer
        self.id, self.token = answer["user"]["id"], answer["token"]
        self.name = name

    def websocket(self) -> WSClient:
        ws = WSClient(self.server.http_port, f"/ws?token={self.token}")
        assert ws.recv()["type"] == "server_hello"
        assert ws.recv()["success"] is True
        return ws

    def rest(self, method: str, path: str, body: object = None) -> tuple[int, dict]:
        return rest(self.server, method, path, body, self.token)

    def counts(self) -> dict:
        status, body = self.rest("GET", "/api/v1/users/me")
        assert status == 200, body
        return body["unread_counts"]


def room(room_id: str) -> dict[str, str]:
    return {"type": "room", "room_id": room_id}


def dm(user_id: str) -> dict[str, str]:
    return {"type": "dm", "recipient": user_id}


def new_room(owner: Account, *members: Account) -> str:
    status, body = owner.rest("POST", "/api/v1/rooms", {"name": f"r{uuid.uuid4().hex[:10]}"})
    assert status == 201, body
    for member in members:
        status, joined = member.rest("POST", f"/api/v1/rooms/{body['room']['id']}/join")
        assert status == 200, joined
    return body["room"]["id"]


def test_each_message_received_is_marked_read_at_once_on_two_devices(
    server: ServerProcess,
) -> None:
    """A message is handed out only after its commit, so the id a client was just
    given is always there to mark: 150 messages sent in one burst, each marked read by
    two devices (TCP and WebSocket) the moment it arrives, without waiting for the
    answers. Every answer succeeds, and counts only what arrived after it."""
    alice, bob = Account(server), Account(server)
    room_id = new_room(bob, alice)
    devices = [alice.tcp, alice.websocket()]
    for device in devices:
        device.barrier()
    total = 150
    for i in range(total):
        bob.tcp.send(
            {
                "type": "send_message",
                "request_id": f"s{i}",
                "target": room(room_id),
                "content": str(i),
            }
        )
    for device in devices:
        received, answers = 0, {}
        while len(answers) < total:
            message = device.recv()
            if message["type"] == "message_received":
                received += 1
                device.send(
                    {
                        "type": "mark_read",
                        "request_id": str(received),
                        "target": room(room_id),
                        "up_to": message["message"]["id"],
                    }
                )
            elif message["type"] == "mark_read_response":
                assert message["success"] is True, message
                answers[int(message["request_id"])] = message["unread_count"]
        # Marked up to the k-th message: at most the ones after it are unread.
        assert all(n <= total - k for k, n in answers.items()), answers
        assert answers[total] == 0
    assert alice.counts() == {"total": 0, "by_room": {}, "by_dm": {}, "mentions": NO_MENTIONS}


def test_rest_and_real_time_count_the_same_state_alike(server: ServerProcess) -> None:
    alice, bob, carol = Account(server), Account(server), Account(server)
    room_id = new_room(bob, alice, carol)
    sent = [bob.tcp.ok("send_message", target=room(room_id), content=str(i)) for i in range(4)]
    carol.tcp.ok("send_message", target=room(room_id), content="carol")
    for i in range(3):
        bob.tcp.ok("send_message", target=dm(alice.id), content=f"dm{i}")
    carol.tcp.ok("send_message", target=dm(alice.id), content="hello")
    alice.tcp.ok("send_message", target=dm(carol.id), content="mine: never unread")
    first = sent[1]["message"]["id"]

    tcp = alice.tcp.ok("mark_read", target=room(room_id), up_to=first)["unread_count"]
    status, body = alice.rest(
        "POST", "/api/v1/messages/read", {"target": room(room_id), "up_to": first}
    )
    assert (status, body, tcp) == (200, {"unread_count": 3, "mention_count": 0}, 3)
    ws = alice.websocket()
    assert (
        ws.ok("mark_read", target=room(room_id), up_to=sent[0]["message"]["id"])["unread_count"]
        == 3
    )
    assert alice.counts() == {
        "total": 7,
        "by_room": {room_id: 3},
        "by_dm": {bob.id: 3, carol.id: 1},
        "mentions": NO_MENTIONS,
    }
    assert alice.tcp.ok("mark_read", target=dm(carol.id))["unread_count"] == 0
    status, body = alice.rest("POST", "/api/v1/messages/read", {"target": dm(bob.id)})
    assert (status, body) == (200, {"unread_count": 0, "mention_count": 0})
    assert alice.counts() == {
        "total": 3,
        "by_room": {room_id: 3},
        "by_dm": {},
        "mentions": NO_MENTIONS,
    }

    # The same refusals, in each one's documented form.
    elsewhere = dm(carol.id)
    refused = alice.tcp.request("mark_read", target=elsewhere, up_to=first)
    assert refused["error"]["code"] == "message_not_found", refused
    status, body = alice.rest(
        "POST", "/api/v1/messages/read", {"target": elsewhere, "up_to": first}
    )
    assert (status, body["error"]["code"]) == (404, "message_not_found")
    outsider = Account(server)
    refused = outsider.tcp.request("mark_read", target=room(room_id))
    assert refused["error"]["code"] == "not_room_member", refused
    status, body = outsider.rest("POST", "/api/v1/messages/read", {"target": room(room_id)})
    assert (status, body["error"]["code"]) == (403, "not_room_member")


def fullwidth(text: str) -> str:
    """``text``'s ASCII in fullwidth forms (NFKC makes them ASCII again)."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


def test_mentions_are_counted_alike_over_rest_and_real_time(server: ServerProcess) -> None:
    """The clients' rule, counted by the server among the unread messages: in
    ``/users/me`` and in every ``mark_read`` answer (REST, TCP, WebSocket)."""
    alice, bob = Account(server), Account(server)
    room_id = new_room(bob, alice)
    texts = [
        f"@{alice.name} first",
        "no one",
        f"see {fullwidth('@' + alice.name.upper())}!",
        f"@{alice.name}x is someone else",
        f"mail {alice.name}@example.com",
    ]
    sent = [bob.tcp.ok("send_message", target=room(room_id), content=t) for t in texts]
    bob.tcp.ok("send_message", target=dm(alice.id), content=f"(@{alice.name.upper()})")
    bob.tcp.ok("send_message", target=dm(alice.id), content="hi")
    alice.tcp.ok("send_message", target=room(room_id), content=f"@{alice.name} mine")
    assert alice.counts() == {
        "total": 7,
        "by_room": {room_id: 5},
        "by_dm": {bob.id: 2},
        "mentions": {"total": 3, "by_room": {room_id: 2}, "by_dm": {bob.id: 1}},
    }
    first = sent[0]["message"]["id"]
    tcp = alice.tcp.ok("mark_read", target=room(room_id), up_to=first)
    assert (tcp["unread_count"], tcp["mention_count"]) == (4, 1)
    ws = alice.websocket().ok("mark_read", target=room(room_id), up_to=sent[1]["message"]["id"])
    assert (ws["unread_count"], ws["mention_count"]) == (3, 1)
    status, body = alice.rest("POST", "/api/v1/messages/read", {"target": room(room_id)})
    assert (status, body) == (200, {"unread_count": 0, "mention_count": 0})
    assert alice.counts()["mentions"] == {"total": 1, "by_room": {}, "by_dm": {bob.id: 1}}


def test_dm_counts_stay_right_once_the_floor_rises(server: ServerProcess) -> None:
    """Past DM_FLOOR_STEP DMs, ``/users/me`` raises the caller's DM floor (a write on
    the server's writer thread, after its read): the counts it answers, and every
    later one, are what was sent and not read."""
    alice, bob, carol = Account(server), Account(server), Account(server)
    total = DM_FLOOR_STEP + 20
    for i in range(total):
        bob.tcp.send(
            {"type": "send_message", "request_id": f"d{i}", "target": dm(alice.id), "content": "x"}
        )
    last = bob.tcp.wait_for(lambda m: m.get("request_id") == f"d{total - 1}")
    alice.tcp.ok("mark_read", target=dm(bob.id), up_to=last["message"]["id"])
    carol.tcp.ok("send_message", target=dm(alice.id), content="unread")
    expected = {"total": 1, "by_room": {}, "by_dm": {carol.id: 1}, "mentions": NO_MENTIONS}
    assert alice.counts() == expected  # the floor rises here
    assert alice.counts() == expected
    dave = Account(server)
    dave.tcp.ok("send_message", target=dm(alice.id), content="new partner, above it")
    bob.tcp.ok("send_message", target=dm(alice.id), content="bob again")
    assert alice.counts() == {
        "total": 3,
        "by_room": {},
        "by_dm": {carol.id: 1, dave.id: 1, bob.id: 1},
        "mentions": NO_MENTIONS,
    }
    with closing(sqlite3.connect(f"file:{server.database}?mode=ro", uri=True)) as db:
        floor = db.execute("SELECT seq FROM dm_read_floors WHERE user_id = ?", (alice.id,))
        assert floor.fetchone() is not None
