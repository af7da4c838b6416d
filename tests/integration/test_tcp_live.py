"""The TCP protocol against a real server process over loopback sockets.

Every user is registered with the legacy TCP ``register`` command under a unique
name (the server is shared by the whole session). "Nothing else arrived" is checked
with a ping barrier: the server writes to a connection in order, so a frame sent
before the pong would have been read before it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from lairchat.testing_clients import closed_at_once

if TYPE_CHECKING:
    from conftest import LiveServer

    from lairchat.testing_clients import TCPClient


def room_target(room_id: str) -> dict[str, str]:
    return {"type": "room", "room_id": room_id}


def dm_target(user_id: str) -> dict[str, str]:
    return {"type": "dm", "recipient": user_id}


def of_type(frames: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [f for f in frames if f["type"] == kind]


def presence(frames: list[dict[str, Any]], user_id: str) -> list[dict[str, Any]]:
    """The presence events about one user (other tests' users come and go meanwhile)."""
    return [
        f
        for f in frames
        if f["type"] in ("user_online", "user_offline") and f["user_id"] == user_id
    ]


def close_all(*clients: TCPClient) -> None:
    for client in clients:
        client.close()


def test_two_users_chat_in_a_room_with_presence_and_typing(live_server: LiveServer) -> None:
    alice = live_server.register("alice")
    bob = live_server.register("bob")
    try:
        alice.event("user_online", user_id=bob.user_id, username=bob.username)

        room = alice.ok("create_room", name=f"room-{alice.username}")["room"]
        assert room["owner"] == alice.user_id
        joined = bob.ok("join_room", room_id=room["id"])
        assert joined["membership"]["role"] == "member"
        event = alice.event("user_joined_room", room_id=room["id"])
        assert event["user"]["id"] == bob.user_id and event["user"]["email"] == ""
        bob.event("user_joined_room", room_id=room["id"])

        alice.send({"type": "typing", "target": room_target(room["id"])})
        typing = bob.event("user_typing", user_id=alice.user_id)
        assert typing["target"] == room_target(room["id"])
        assert of_type(alice.barrier(), "user_typing") == []  # not to the typer

        sent = alice.ok("send_message", target=room_target(room["id"]), content="hi bob 👋")
        received = bob.event("message_received", author_username=alice.username)
        assert received["message"] == sent["message"]
        alice.event("message_received", author_username=alice.username)  # own copy

        reply = bob.ok("send_message", target=room_target(room["id"]), content="hi alice")
        got = alice.event("message_received", author_username=bob.username)
        assert got["message"]["id"] == reply["message"]["id"]

        history = alice.ok("get_messages", target=room_target(room["id"]))
        assert [m["content"] for m in history["messages"]] == ["hi alice", "hi bob 👋"]
        assert history["has_more"] is False

        bob.close()
        alice.event("user_offline", user_id=bob.user_id, username=bob.username)
    finally:
        close_all(alice, bob)


def test_direct_message_reaches_only_its_two_parties(live_server: LiveServer) -> None:
    alice = live_server.register("alice")
    bob = live_server.register("bob")
    carol = live_server.register("carol")
    try:
        sent = alice.ok("send_message", target=dm_target(bob.user_id), content="just us")
        for client in (alice, bob):
            event = client.event("message_received", author_username=alice.username)
            assert event["message"] == sent["message"]
            assert event["message"]["target"] == dm_target(bob.user_id)
        assert of_type(carol.barrier(), "message_received") == []
        assert of_type(alice.barrier() + bob.barrier(), "message_received") == []  # one copy

        history = bob.ok("get_messages", target=dm_target(alice.user_id))
        assert [m["id"] for m in history["messages"]] == [sent["message"]["id"]]
        outsider = carol.ok("get_messages", target=dm_target(alice.user_id))
        assert outsider["messages"] == []
    finally:
        close_all(alice, bob, carol)


def test_a_user_on_two_connections_gets_every_event_on_both(live_server: LiveServer) -> None:
    alice = live_server.register("alice")
    alice2 = live_server.login(alice.token)
    bob = live_server.register("bob")
    try:
        both = (alice, alice2)
        for client in both:
            client.event("user_online", user_id=bob.user_id)
        assert presence(bob.barrier(), alice.user_id) == []  # one online event, not two

        room = bob.ok("create_room", name=f"room-{bob.username}")["room"]["id"]
        alice.ok("join_room", room_id=room)
        for client in both:
            client.event("user_joined_room", room_id=room)

        bob.ok("send_message", target=room_target(room), content="to the room")
        bob.send({"type": "typing", "target": room_target(room)})
        bob.ok("send_message", target=dm_target(alice.user_id), content="to alice")
        secret = bob.ok("create_room", name=f"secret-{bob.username}", settings={"public": False})
        invitation = bob.ok("invite_to_room", room_id=secret["room"]["id"], user_id=alice.user_id)[
            "invitation"
        ]
        for client in both:
            room_message = client.event("message_received", author_username=bob.username)
            assert room_message["message"]["content"] == "to the room"
            client.event("user_typing", user_id=bob.user_id)
            dm = client.event("message_received", author_username=bob.username)
            assert dm["message"]["content"] == "to alice"
            assert client.event("invitation_received")["invitation"] == invitation

        alice2.ok("accept_invitation", invitation_id=invitation["id"])
        for client in both:
            client.event("user_joined_room", room_id=secret["room"]["id"])

        alice.close()  # one connection left: still online
        assert presence(bob.barrier(), alice.user_id) == []
        alice2.close()
        bob.event("user_offline", user_id=alice.user_id)
    finally:
        close_all(alice, alice2, bob)


def test_logout_closes_the_connection_and_the_session(live_server: LiveServer) -> None:
    alice = live_server.register("alice")
    alice2 = live_server.login(alice.token)
    bob = live_server.register("bob")
    try:
        alice.send({"type": "logout", "request_id": "bye"})
        frames = alice.expect_closed()
        assert {"type": "logout_response", "request_id": "bye", "success": True} in frames
        assert of_type(alice2.expect_closed(), "logout_response") == []  # closed, too
        bob.event("user_offline", user_id=alice.user_id)

        again = live_server.connect()
        again.hello()
        response = again.request("authenticate", token=alice.token)
        assert response["success"] is False
        assert response["error"] == {
            "code": "session_not_found",
            "message": "Session not found or expired",
        }
        again.close()
    finally:
        close_all(alice, alice2, bob)


def test_an_encrypted_client_chats_with_a_plaintext_one(live_server: LiveServer) -> None:
    alice = live_server.register("alice", encrypted=True)
    bob = live_server.register("bob")
    try:
        assert alice.aead is not None and bob.aead is None
        room = alice.ok("create_room", name=f"room-{alice.username}")["room"]["id"]
        bob.ok("join_room", room_id=room)
        alice.event("user_joined_room", room_id=room)

        bob.ok("send_message", target=room_target(room), content="in the clear")
        assert alice.event("message_received")["message"]["content"] == "in the clear"
        alice.ok("send_message", target=room_target(room), content="sealed ✓")
        event = bob.event("message_received", author_username=alice.username)
        assert event["message"]["content"] == "sealed ✓"

        # On the wire, alice's frames are nonce || ciphertext || tag, never JSON.
        alice.send({"type": "ping"})
        raw = alice.recv_payload()
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(raw)
        assert alice.aead.decrypt(raw[:12], raw[12:], None).startswith(b'{"type":')
    finally:
        close_all(alice, bob)


def test_broken_frames_close_only_their_connection(live_server: LiveServer) -> None:
    watcher = live_server.register("watcher")
    try:
        oversized = live_server.connect()
        oversized.send_raw(struct.pack("!I", 1_048_577) + b"{}")
        assert oversized.expect_closed() == []

        bad_utf8 = live_server.connect()
        bad_utf8.send_raw(struct.pack("!I", 2) + b"\xff\xfe")
        assert bad_utf8.expect_closed() == []

        tampered = live_server.connect()
        tampered.hello(encrypted=True)
        tampered.send_raw(struct.pack("!I", 40) + bytes(40))
        assert tampered.expect_closed() == []

        garbage = live_server.connect()
        garbage.send_payload(b"\x00not json")
        error = garbage.recv()
        assert error["type"] == "error" and error["code"] == "invalid_message"
        garbage.hello()
        garbage.barrier()
        close_all(oversized, bad_utf8, tampered, garbage)

        watcher.ok("get_current_user")
    finally:
        watcher.close()


def test_version_mismatch_closes(live_server: LiveServer) -> None:
    client = live_server.connect()
    client.send({"type": "client_hello", "version": "2.0"})
    assert client.expect_closed() == [
        {
            "type": "error",
            "code": "version_mismatch",
            "message": "Unsupported protocol version: 2.0. Server supports: 1.0",
        }
    ]


def test_real_timers_close_idle_connections(start_live_server: Any) -> None:
    # The auth timeout stays long: registering hashes a password in a thread.
    server = start_live_server(
        LAIR_HANDSHAKE_TIMEOUT="0.5", LAIR_AUTH_TIMEOUT="10", LAIR_IDLE_TIMEOUT="1"
    )
    timeout = {"type": "error", "code": "timeout", "message": "Connection timed out"}
    silent = server.connect()
    assert silent.expect_closed() == [timeout]

    alice = server.register("alice", encrypted=True)
    assert alice.expect_closed() == [timeout]  # decrypted: the error is encrypted too


def test_connection_cap(start_live_server: Any) -> None:
    server = start_live_server(LAIR_TCP_MAX_CONNECTIONS="2")
    first, second = server.connect(), server.connect()
    assert closed_at_once(server.tcp_port)  # accepted and closed at once, no bytes
    first.close()
    # The server sees the close asynchronously: poll (bounded) until the slot is free.
    for _ in range(100):
        second.barrier()
        if not closed_at_once(server.tcp_port):
            break
    else:
        pytest.fail("the freed connection slot was never reused")
    second.close()


def test_pipelined_commands_are_answered_in_order(live_server: LiveServer) -> None:
    alice = live_server.register("alice")
    alice.close()
    client = live_server.connect()
    try:
        frames = [
            {"type": "client_hello", "version": "1.0"},
            {"type": "authenticate", "token": alice.token, "request_id": "1"},
            {"type": "get_current_user", "request_id": "2"},
            {"type": "create_room", "name": f"pipe-{alice.username}", "request_id": "3"},
            {"type": "list_rooms", "filter": {"joined_only": True}, "request_id": "4"},
        ]
        client.send_raw(b"".join(struct.pack("!I", len(p)) + p for p in map(orjson.dumps, frames)))
        responses = [client.recv() for _ in range(4)]
        assert [(r["type"], r.get("request_id"), r.get("success")) for r in responses] == [
            ("authenticate_response", "1", True),
            ("get_current_user_response", "2", True),
            ("create_room_response", "3", True),
            ("list_rooms_response", "4", True),
        ]
        assert [r["room"]["name"] for r in responses[3]["rooms"]] == [f"pipe-{alice.username}"]
    finally:
        client.close()


def test_a_send_pipelined_behind_a_join_runs_after_it(live_server: LiveServer) -> None:
    # Found on a real server (19 of 20 tries): behind a command that reads the
    # database, a send refused at once (not a member yet) let the send after the
    # join start before the join had finished; it failed with not_room_member.
    owner = live_server.register("owner")
    client = live_server.register("joiner")
    try:
        room = owner.ok("create_room", name=f"pipe-{owner.username}")["room"]["id"]
        target = room_target(room)
        frames = [
            {"type": "list_users", "request_id": "1"},
            {"type": "send_message", "target": target, "content": "too early", "request_id": "2"},
            {"type": "join_room", "room_id": room, "request_id": "3"},
            {"type": "send_message", "target": target, "content": "joined", "request_id": "4"},
        ]
        client.send_raw(b"".join(struct.pack("!I", len(p)) + p for p in map(orjson.dumps, frames)))
        responses = []
        while len(responses) < len(frames):
            message = client.recv()
            if message["type"].endswith("_response"):
                responses.append(message)
        assert [r["request_id"] for r in responses] == ["1", "2", "3", "4"]
        assert [r["success"] for r in responses] == [True, False, True, True], responses
        assert responses[1]["error"]["code"] == "not_room_member"
    finally:
        close_all(owner, client)


def writer_processes(parent: int) -> list[int]:
    """Pids of the message writer processes whose parent is ``parent``."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
            cmdline = (status.parent / "cmdline").read_bytes()
            if fields.get("PPid", "").strip() == str(parent) and b"sqlite.writer" in cmdline:
                found.append(int(status.parent.name))
    return found


def test_messages_are_committed_by_the_writer_process_which_stops_with_the_server(
    start_live_server,
) -> None:
    server = start_live_server()
    alice = server.register("alice")
    room = alice.ok("create_room", name=f"room-{alice.username}")["room"]
    sent = alice.ok("send_message", target=room_target(room["id"]), content="stored")
    (writer,) = writer_processes(server.process.pid)
    with sqlite3.connect(server.database) as db:
        stored = db.execute("SELECT content FROM messages WHERE id = ?", (sent["message"]["id"],))
        assert stored.fetchall() == [("stored",)]
    alice.close()
    server.stop()
    assert not Path(f"/proc/{writer}").exists()  # exited and reaped, not orphaned
