"""The frames the original Lair Chat client really sends, replayed byte for byte.

They were captured by running the original client's own protocol code against
lairchat: ``protocol/tcp.rs``, ``protocol/messages.rs``, ``protocol/http.rs`` and
``crypto/`` of ``crates/lair-chat-client`` at berrym/lair-chat commit cd0edfe
(client 0.8.0), compiled unchanged into a headless driver, one frame per command the
client can build (docs/protocols/TCP.md, "Tried with the original client"). Only the
ids are templated (``$room`` ...) and ``before`` is moved to 2099 so that it keeps the
messages; key order, omitted ``None`` fields, the defaulted filter fields written
out, chrono's nine-digit ``before`` and the client's own ``RoomSettings``
(``public``, ``moderated``, ``description``) are as serde wrote them.

Every response came back with the type the client expects and ``success: true``;
this keeps it so, over TCP encrypted as the client does it and over WebSocket as
``WsConnection::connect_and_handshake`` does it (the TUI's two transports). Whether
the client can parse the answers is tests/integration/test_client_serde_compat.py's
subject; here it is whether lairchat accepts what the client says.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from string import Template
from typing import Any

import pytest

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TEXT, TCPClient, WSClient, rest

#: The client's ``ClientHello`` (``client_hello_with_encryption`` on TCP, plain on
#: WebSocket), then its ``Authenticate``.
HELLO_PLAIN = '{"type":"client_hello","version":"1.0","client_name":"Lair Chat TUI","features":[]}'
AUTHENTICATE = '{"type":"authenticate","request_id":"$rid","token":"$token"}'

#: label: (frame, the response type the client waits for; "" for none). ``$rid`` is
#: a fresh request id each time.
COMMANDS: dict[str, tuple[str, str]] = {
    "typing room": ('{"type":"typing","target":{"type":"room","room_id":"$room"}}', ""),
    "send room": (
        '{"type":"send_message","request_id":"$rid",'
        '"target":{"type":"room","room_id":"$room"},"content":"hello room"}',
        "send_message_response",
    ),
    "send dm": (
        '{"type":"send_message","request_id":"$rid",'
        '"target":{"type":"dm","recipient":"$bob"},"content":"dm a->b"}',
        "send_message_response",
    ),
    "typing dm": ('{"type":"typing","target":{"type":"dm","recipient":"$bob"}}', ""),
    "history room": (
        '{"type":"get_messages","request_id":"$rid","target":{"type":"room","room_id":"$room"},"limit":10}',
        "get_messages_response",
    ),
    "history dm": (
        '{"type":"get_messages","request_id":"$rid","target":{"type":"dm","recipient":"$bob"}}',
        "get_messages_response",
    ),
    "history before": (
        '{"type":"get_messages","request_id":"$rid","target":{"type":"room","room_id":"$room"},"limit":2,"before":"2099-12-06T21:08:19.601746733Z"}',
        "get_messages_response",
    ),
    "rooms": ('{"type":"list_rooms","request_id":"$rid"}', "list_rooms_response"),
    "rooms joined": (
        '{"type":"list_rooms","request_id":"$rid","filter":{"search":"lobby","joined_only":true,"public_only":false},"limit":5,"offset":0}',
        "list_rooms_response",
    ),
    "rooms public page": (
        '{"type":"list_rooms","request_id":"$rid","filter":{"joined_only":false,"public_only":true},"limit":1,"offset":1}',
        "list_rooms_response",
    ),
    "get room": ('{"type":"get_room","request_id":"$rid","room_id":"$room"}', "get_room_response"),
    "users": ('{"type":"list_users","request_id":"$rid"}', "list_users_response"),
    "users online": (
        '{"type":"list_users","request_id":"$rid","filter":{"online_only":true}}',
        "list_users_response",
    ),
    "users search": (
        '{"type":"list_users","request_id":"$rid","filter":{"search":"bob","online_only":false},"limit":1,"offset":0}',
        "list_users_response",
    ),
    "me": ('{"type":"get_current_user","request_id":"$rid"}', "get_current_user_response"),
    "get user": ('{"type":"get_user","request_id":"$rid","user_id":"$bob"}', "get_user_response"),
    "create open": (
        '{"type":"create_room","request_id":"$rid","name":"open$tag","description":"d","settings":{"public":true,"max_members":10,"moderated":false}}',
        "create_room_response",
    ),
    "create closed": (
        '{"type":"create_room","request_id":"$rid","name":"closed$tag","settings":{"public":false,"moderated":true,"description":"sd"}}',
        "create_room_response",
    ),
    "create side": (
        '{"type":"create_room","request_id":"$rid","name":"side$tag"}',
        "create_room_response",
    ),
    "invitations": ('{"type":"list_invitations","request_id":"$rid"}', "list_invitations_response"),
    "ping": ('{"type":"ping"}', "pong"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("original-client-frames"), startup_timeout=30)
    yield srv
    srv.stop()


def register(server: ServerProcess, name: str) -> dict[str, Any]:
    """``POST /auth/register`` with the body ``HttpClient::register`` sends."""
    body = {"username": name, "email": f"{name}@example.com", "password": "Password123!"}
    status, answer = rest(server, "POST", "/api/v1/auth/register", body)
    assert status == 201, answer
    return answer


class Replayer:
    """One connection of the original client, sending the captured frames as text."""

    def __init__(self, server: ServerProcess, transport: str, ids: dict[str, str]) -> None:
        self.ids = ids
        self.count = 0
        if transport == "tcp":
            self.conn: TCPClient | WSClient = TCPClient.connect(server.tcp_port)
            # TcpClient::handshake_with_encryption: hello with "encryption", key exchange.
            self.conn.hello(encrypted=True, client_name="Lair Chat TUI")
        else:
            self.conn = WSClient(server.http_port)
            assert self.conn.recv()["type"] == "server_hello"
            self.send_text(HELLO_PLAIN)

    def send_text(self, template: str) -> str:
        """The frame with its ids filled in, sent as is; returns its ``request_id``."""
        self.count += 1
        rid = f"00000000-0000-4000-8000-{self.count:012d}"
        text = Template(template).substitute(self.ids, rid=rid)
        if isinstance(self.conn, TCPClient):
            self.conn.send_payload(text.encode())
        else:
            self.conn.send_frame(TEXT, text.encode())
        return rid

    def command(self, template: str, expect: str) -> dict[str, Any]:
        rid = self.send_text(template)
        if expect == "pong":
            return self.conn.wait_for(lambda m: m["type"] == "pong")
        answer = self.conn.wait_for(lambda m: m["type"] == expect)
        assert answer.get("request_id") == rid, answer
        assert answer["success"] is True, (template, answer)
        return answer


@pytest.mark.parametrize("transport", ["tcp", "ws"])
def test_the_original_clients_frames_all_succeed(server: ServerProcess, transport: str) -> None:
    tag = transport
    alice, bob = register(server, f"alice_{tag}"), register(server, f"bob_{tag}")
    # HttpClient::create_room with description and settings None: both omitted.
    status, made = rest(server, "POST", "/api/v1/rooms", {"name": f"lobby_{tag}"}, alice["token"])
    assert status == 201, made
    room = made["room"]["id"]
    status, joined = rest(server, "POST", f"/api/v1/rooms/{room}/join", None, bob["token"])
    assert status == 200, joined
    ids = {"room": room, "bob": bob["user"]["id"], "tag": f"_{tag}", "token": alice["token"]}
    a = Replayer(server, transport, ids)
    b = Replayer(server, transport, {**ids, "token": bob["token"]})
    with contextlib.ExitStack() as stack:
        stack.callback(a.conn.close)
        stack.callback(b.conn.close)
        assert a.command(AUTHENTICATE, "authenticate_response")["user"]["id"] == alice["user"]["id"]
        b.command(AUTHENTICATE, "authenticate_response")
        answers = {}
        for label, (template, expect) in COMMANDS.items():
            if expect:
                answers[label] = a.command(template, expect)
            else:
                a.send_text(template)
        # The client's RoomSettings: "public" read as the original reads it, the
        # extra "moderated" and "description" ignored.
        opened, closed = answers["create open"]["room"], answers["create closed"]["room"]
        assert (opened["settings"]["is_private"], opened["settings"]["max_members"]) == (False, 10)
        assert opened["settings"]["description"] == "d"
        assert closed["settings"]["is_private"] is True
        assert closed["settings"]["description"] is None
        # chrono's nanoseconds in `before` are read, not refused.
        older = answers["history before"]["messages"]
        assert [m["content"] for m in older] == ["hello room"]
        side = answers["create side"]["room"]["id"]
        sent = answers["send room"]["message"]["id"]

        a.ids.update(side=side, message=sent)
        a.command(
            '{"type":"edit_message","request_id":"$rid","message_id":"$message",'
            '"content":"hello room (edited)"}',
            "edit_message_response",
        )
        a.command(
            '{"type":"invite_to_room","request_id":"$rid","room_id":"$side","user_id":"$bob","message":"pls"}',
            "invite_to_room_response",
        )
        invitation = b.conn.event("invitation_received")["invitation"]["id"]
        b.ids.update(invitation=invitation, room=room)
        b.command(
            '{"type":"decline_invitation","request_id":"$rid","invitation_id":"$invitation"}',
            "decline_invitation_response",
        )
        a.command(
            '{"type":"delete_message","request_id":"$rid","message_id":"$message"}',
            "delete_message_response",
        )
        b.command(
            '{"type":"leave_room","request_id":"$rid","room_id":"$room"}', "leave_room_response"
        )
        b.command(
            '{"type":"join_room","request_id":"$rid","room_id":"$room"}', "join_room_response"
        )


def test_the_original_clients_tcp_register_login_logout(server: ServerProcess) -> None:
    """The client's deprecated TCP ``Register``/``Login`` and its ``Logout``."""
    ids = {"name": "carol_tcp"}
    first = Replayer(server, "tcp", ids)
    with contextlib.closing(first.conn):
        first.command(
            '{"type":"register","request_id":"$rid","username":"$name","email":"$name@example.com","password":"Password123!"}',
            "register_response",
        )
        first.command('{"type":"logout","request_id":"$rid"}', "logout_response")
        assert first.conn.expect_closed() == []
    second = Replayer(server, "tcp", ids)
    with contextlib.closing(second.conn):
        answer = second.command(
            '{"type":"login","request_id":"$rid","identifier":"$name","password":"Password123!"}',
            "login_response",
        )
        assert answer["user"]["username"] == "carol_tcp"
