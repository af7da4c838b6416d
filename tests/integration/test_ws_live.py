"""WebSocket against a real server: ``twist lairchat`` in a subprocess, loopback sockets.

The clients are the small blocking ones of :mod:`lairchat.testing_clients` (an HTTP
upgrade plus RFC 6455 framing; TCP is 4-byte length-prefixed JSON), so every step is
a plain read with a deadline: no reactor in the test process, no sleeps. Accounts are
made with the legacy TCP ``register`` command, which needs nothing but the TCP port.
"""

from __future__ import annotations

import json
import ssl
import struct
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from lairchat.testing import ServerProcess
from lairchat.testing_clients import (
    BINARY,
    CLOSE,
    TEXT,
    Refused,
    TCPClient,
    WSClient,
    masked_frame,
)
from lairchat.tls import write_dev_certificate

SECRET = "ws-live-test-secret-0123456789abcdef"


# -- the server --------------------------------------------------------------------------


class Server(ServerProcess):
    """The shared launcher; with ``tls``, HTTPS/WSS with a development certificate
    (``self.tls`` is an SSL context that trusts it)."""

    def __init__(self, tmp: Path, tls: bool = False):
        self.tls: ssl.SSLContext | None = None
        extra = {}
        if tls:
            cert, key = write_dev_certificate(str(tmp))
            self.tls = ssl.create_default_context(cafile=str(cert))
            extra = {
                "LAIR_TLS_ENABLED": "true",
                "LAIR_TLS_CERT_PATH": str(cert),
                "LAIR_TLS_KEY_PATH": str(key),
            }
        super().__init__(tmp, secret=SECRET, **extra)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("ws-live"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("wss-live"), tls=True)
    yield srv
    srv.stop()


Client = TCPClient | WSClient


def until(client: Client, kind: str, **match: Any) -> dict[str, Any]:
    """Read until a message of type ``kind`` (whose fields include ``match``) arrives."""
    while True:
        message = client.recv()
        if message["type"] == kind and all(message.get(k) == v for k, v in match.items()):
            return message


def nothing_more(client: Client) -> list[str]:
    """Types received before the answer to a ping: what else was already on its way."""
    return [message["type"] for message in client.barrier()]


# -- accounts ----------------------------------------------------------------------------


def register(server: Server, name: str | None = None) -> tuple[TCPClient, dict[str, Any]]:
    """A TCP connection authenticated by the legacy ``register``, and the response."""
    name = name or f"u{uuid.uuid4().hex[:10]}"
    tcp = TCPClient.connect(server.tcp_port)  # checks server_hello
    tcp.send({"type": "client_hello", "version": "1.0"})
    tcp.send(
        {
            "type": "register",
            "username": name,
            "email": f"{name}@example.com",
            "password": "correct horse battery",
        }
    )
    response = until(tcp, "register_response")
    assert response["success"] is True, response
    return tcp, response


def token_for(server: Server) -> tuple[str, dict[str, Any]]:
    """A fresh account's token and user (its TCP connection is closed)."""
    tcp, response = register(server)
    tcp.close()
    return response["token"], response["user"]


def ws_login(server: Server, token: str) -> WSClient:
    ws = WSClient(server.http_port, f"/ws?token={token}", tls=server.tls)
    assert ws.recv()["type"] == "server_hello"
    response = ws.recv()
    assert response["type"] == "authenticate_response" and response["success"] is True
    return ws


# -- scenarios ---------------------------------------------------------------------------


def test_handshake_then_authenticate(server: Server) -> None:
    token, user = token_for(server)
    ws = WSClient(server.http_port)
    assert ws.recv() == {
        "type": "server_hello",
        "version": "1.0",
        "server_name": "Lair Chat",
        "features": ["encryption"],
        "encryption_required": False,
    }
    ws.send({"type": "client_hello", "version": "1.0", "features": ["encryption"]})
    ws.send({"type": "authenticate", "token": token, "request_id": "r1"})
    response = ws.recv()
    assert response["type"] == "authenticate_response"
    assert response["success"] is True and response["request_id"] == "r1"
    assert response["user"]["id"] == user["id"]
    ws.send({"type": "key_exchange", "public_key": "AAAA"})
    assert ws.recv()["code"] == "not_supported"
    ws.send_frame(BINARY, b"\x01\x02")
    assert ws.recv()["code"] == "unsupported"
    ws.send({"type": "ping"})
    assert ws.recv()["type"] == "pong"
    ws.close()


def test_preauth_with_token(server: Server) -> None:
    token, user = token_for(server)
    ws = WSClient(server.http_port, f"/ws?token={token}")
    assert ws.recv()["type"] == "server_hello"
    response = ws.recv()
    assert response["type"] == "authenticate_response"
    assert response["success"] is True and response["request_id"] is None
    assert response["user"]["id"] == user["id"]
    ws.send({"type": "client_hello", "version": "1.0"})
    assert ws.recv() == {
        "type": "error",
        "code": "invalid_state",
        "message": "Already authenticated",
    }
    ws.close()


def test_bad_and_expired_tokens_fall_back_to_the_normal_flow(server: Server) -> None:
    token, user = token_for(server)
    expired = jwt.encode(
        {
            "sub": user["id"],
            "sid": str(uuid.uuid4()),
            "exp": int(time.time()) - 60,
            "iat": int(time.time()) - 3600,
        },
        SECRET,
        algorithm="HS256",
    )
    for bad, code in (
        ("garbage", "invalid_token"),
        ("", "invalid_token"),
        (expired, "token_expired"),
    ):
        ws = WSClient(server.http_port, f"/ws?token={bad}")
        assert ws.recv()["type"] == "server_hello"
        response = ws.recv()
        assert response["type"] == "authenticate_response"
        assert response["success"] is False and response["error"]["code"] == code, response
        ws.send({"type": "client_hello", "version": "1.0"})
        ws.send({"type": "authenticate", "token": token})
        assert ws.recv()["success"] is True
        ws.close()


def test_ws_and_tcp_clients_talk_both_ways(server: Server) -> None:
    token, alice = token_for(server)
    ws = ws_login(server, token)
    tcp, bob_response = register(server)
    bob = bob_response["user"]
    assert until(ws, "user_online", user_id=bob["id"])["username"] == bob["username"]

    ws.send({"type": "create_room", "name": f"r{uuid.uuid4().hex[:8]}"})
    room = until(ws, "create_room_response")["room"]
    tcp.send({"type": "join_room", "room_id": room["id"]})
    assert until(tcp, "join_room_response")["success"] is True
    assert until(ws, "user_joined_room", room_id=room["id"])["user"]["id"] == bob["id"]
    target = {"type": "room", "room_id": room["id"]}

    ws.send({"type": "send_message", "target": target, "content": "hi from ws"})
    got = until(tcp, "message_received")
    assert got["message"]["content"] == "hi from ws"
    assert got["author_username"] == alice["username"]
    tcp.send({"type": "send_message", "target": target, "content": "hi from tcp"})
    got = until(ws, "message_received", author_username=bob["username"])
    assert got["message"]["content"] == "hi from tcp"

    ws.send({"type": "typing", "target": target})
    assert until(tcp, "user_typing")["user_id"] == alice["id"]
    tcp.send({"type": "typing", "target": target})
    assert until(ws, "user_typing", user_id=bob["id"])["target"] == target

    tcp.close()
    assert until(ws, "user_offline", user_id=bob["id"])["username"] == bob["username"]
    ws.close()


def test_a_user_on_both_transports_gets_every_event_on_both(server: Server) -> None:
    carol_tcp, carol_response = register(server)
    carol = carol_response["user"]
    carol_ws = ws_login(server, carol_response["token"])
    # Carol was already online: her second connection announces nothing.
    assert "user_online" not in nothing_more(carol_tcp)

    dave_tcp, dave_response = register(server)
    dave = dave_response["user"]
    for conn in (carol_tcp, carol_ws):
        assert until(conn, "user_online", user_id=dave["id"])

    dave_tcp.send(
        {
            "type": "send_message",
            "target": {"type": "dm", "recipient": carol["id"]},
            "content": "psst",
        }
    )
    for conn in (carol_tcp, carol_ws):
        got = until(conn, "message_received")
        assert got["message"]["content"] == "psst" and got["author_username"] == dave["username"]

    carol_ws.send({"type": "create_room", "name": f"r{uuid.uuid4().hex[:8]}"})
    room = until(carol_ws, "create_room_response")["room"]
    dave_tcp.send({"type": "join_room", "room_id": room["id"]})
    for conn in (carol_tcp, carol_ws):
        assert until(conn, "user_joined_room", room_id=room["id"])["user"]["id"] == dave["id"]
    dave_tcp.send({"type": "typing", "target": {"type": "room", "room_id": room["id"]}})
    for conn in (carol_tcp, carol_ws):
        assert until(conn, "user_typing", user_id=dave["id"])

    # Closing one of Carol's connections is not going offline; closing both is.
    carol_ws.close_cleanly()
    assert "user_offline" not in nothing_more(dave_tcp)
    carol_tcp.close()
    assert until(dave_tcp, "user_offline", user_id=carol["id"])
    dave_tcp.close()


def test_logout_sends_a_close_frame(server: Server) -> None:
    token, _ = token_for(server)
    ws = ws_login(server, token)
    ws.send({"type": "logout", "request_id": "bye"})
    response = until(ws, "logout_response")
    assert response["request_id"] == "bye"
    opcode, payload = ws.recv_frame()
    assert opcode == CLOSE and struct.unpack("!H", payload[:2])[0] == 1000
    ws.send_frame(CLOSE, struct.pack("!H", 1000))
    assert ws.sock.recv(1) == b""  # the server ends the socket with a FIN, not a reset
    ws.close()


def test_origins_and_limits(server: Server) -> None:
    with pytest.raises(Refused) as refused:
        WSClient(server.http_port, headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403
    same = WSClient(server.http_port, headers={"Origin": f"http://127.0.0.1:{server.http_port}"})
    assert same.recv()["type"] == "server_hello"
    same.send_frame(TEXT, b'{"type":"ping","pad":"' + b"x" * (1 << 20) + b'"}')
    opcode, payload = same.recv_frame()
    assert opcode == CLOSE and struct.unpack("!H", payload[:2])[0] == 1009
    same.close()


def test_a_plain_get_of_ws_is_426_in_the_error_envelope(server: Server) -> None:
    """Through the HTTP front like any answer: CORS and rate-limit headers, the JSON
    error body, a reason phrase (Autobahn answered a bare status line)."""
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/ws", timeout=10)
    assert answer.value.code == 426 and answer.value.reason == "Upgrade Required"
    headers = answer.value.headers
    assert headers["Upgrade"] == "websocket"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(answer.value.read())["error"]["code"] == "upgrade_required"


@pytest.mark.parametrize("secure", [False, True], ids=["ws", "wss"])
def test_frames_sent_with_the_upgrade_request_are_answered(
    server: Server, tls_server: Server, secure: bool
) -> None:
    """A client that does not wait for the 101 sends its first frames in the upgrade's
    packet; they used to be read as a next HTTP request, then dropped."""
    where = tls_server if secure else server
    token, user = token_for(where)
    early = masked_frame(TEXT, b'{"type":"ping"}') + masked_frame(
        TEXT, b'{"type":"get_current_user","request_id":"early"}'
    )
    ws = WSClient(where.http_port, f"/ws?token={token}", tls=where.tls, early=early)
    assert ws.recv()["type"] == "server_hello"
    assert ws.recv()["type"] == "authenticate_response"
    assert ws.recv()["type"] == "pong"
    current = ws.recv()
    assert current["type"] == "get_current_user_response" and current["request_id"] == "early"
    assert current["user"]["id"] == user["id"]
    ws.close()


def test_the_tcp_port_is_unaffected_by_ws_traffic(server: Server) -> None:
    tcp, _ = register(server)
    tcp.send({"type": "ping"})
    assert until(tcp, "pong")
    tcp.close()


def test_wss_on_the_https_port(tls_server: Server) -> None:
    token, alice = token_for(tls_server)
    ws = ws_login(tls_server, token)
    tcp, bob_response = register(tls_server)
    assert until(ws, "user_online", user_id=bob_response["user"]["id"])
    tcp.send(
        {
            "type": "send_message",
            "target": {"type": "dm", "recipient": alice["id"]},
            "content": "over tls",
        }
    )
    assert until(ws, "message_received")["message"]["content"] == "over tls"
    ws.send({"type": "logout"})
    assert until(ws, "logout_response")
    assert ws.recv_frame()[0] == CLOSE
    ws.close_cleanly_after_server_close()
    tcp.close()
