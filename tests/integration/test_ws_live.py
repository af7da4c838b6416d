"""WebSocket against a real server: ``twist lairchat`` in a subprocess, loopback sockets.

The clients are small blocking ones written here with the standard library (an HTTP
upgrade plus RFC 6455 framing; TCP is 4-byte length-prefixed JSON), so every step is
a plain read with a deadline: no reactor in the test process, no sleeps. Accounts are
made with the legacy TCP ``register`` command, which needs nothing but the TCP port.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from lairchat.testing import ServerProcess
from lairchat.tls import write_dev_certificate

SECRET = "ws-live-test-secret-0123456789abcdef"
TIMEOUT = 10.0
WS_MAGIC = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


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


# -- a blocking TCP client ----------------------------------------------------------------


class TCPClient:
    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode()
        self.sock.sendall(struct.pack("!I", len(data)) + data)

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed by the server")
            data += chunk
        return data

    def recv(self) -> dict[str, Any]:
        (n,) = struct.unpack("!I", self._exactly(4))
        return json.loads(self._exactly(n))

    def close(self) -> None:
        self.sock.close()


# -- a blocking WebSocket client ------------------------------------------------------------


class Refused(Exception):
    def __init__(self, status: int):
        hint = " (is /ws mounted in service.py?)" if status == 404 else ""
        super().__init__(f"HTTP {status}{hint}")
        self.status = status


class WSClient:
    """RFC 6455 client side: masked frames out, unmasked frames in; no extensions."""

    def __init__(
        self,
        port: int,
        path: str = "/ws",
        headers: dict[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
    ):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname="127.0.0.1")
        key = base64.b64encode(os.urandom(16)).decode()
        fields = {
            "Host": f"127.0.0.1:{port}",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": key,
            "Sec-WebSocket-Version": "13",
            **(headers or {}),
        }
        request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        self.sock.sendall((request + "\r\n").encode("latin-1"))
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        if status != 101:
            self.sock.close()
            raise Refused(status)
        reply = {
            k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])
        }
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_MAGIC).digest()).decode()
        assert reply["sec-websocket-accept"] == accept

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buf += chunk

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def send_frame(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send(self, message: dict[str, Any]) -> None:
        self.send_frame(TEXT, json.dumps(message).encode())

    def recv_frame(self) -> tuple[int, bytes]:
        b0, b1 = self._take(2)
        assert not b1 & 0x80, "server frames are never masked"
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._take(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._take(8))
        return b0 & 0x0F, self._take(n)

    def recv(self) -> dict[str, Any]:
        """The next JSON message (the server sends only text, never pings)."""
        opcode, payload = self.recv_frame()
        assert opcode == TEXT, (opcode, payload)
        return json.loads(payload)

    def close(self) -> None:
        self.sock.close()

    def close_cleanly(self) -> None:
        """Close frame, the server's close frame, then its end of the socket: once this
        returns, the server has finished with the connection."""
        self.send_frame(CLOSE, struct.pack("!H", 1000))
        while self.recv_frame()[0] != CLOSE:
            pass
        while self.sock.recv(4096):
            pass
        self.sock.close()

    def close_cleanly_after_server_close(self) -> None:
        """Answer the server's close frame, then see the server end the socket."""
        self.send_frame(CLOSE, struct.pack("!H", 1000))
        while self.sock.recv(4096):
            pass
        self.sock.close()


Client = TCPClient | WSClient


def until(client: Client, kind: str, **match: Any) -> dict[str, Any]:
    """Read until a message of type ``kind`` (whose fields include ``match``) arrives."""
    while True:
        message = client.recv()
        if message["type"] == kind and all(message.get(k) == v for k, v in match.items()):
            return message


def nothing_more(client: Client) -> list[str]:
    """Types received before the answer to a ping: what else was already on its way."""
    client.send({"type": "ping"})
    seen = []
    while (message := client.recv())["type"] != "pong":
        seen.append(message["type"])
    return seen


# -- accounts ----------------------------------------------------------------------------


def register(server: Server, name: str | None = None) -> tuple[TCPClient, dict[str, Any]]:
    """A TCP connection authenticated by the legacy ``register``, and the response."""
    name = name or f"u{uuid.uuid4().hex[:10]}"
    tcp = TCPClient(server.tcp_port)
    assert tcp.recv()["type"] == "server_hello"
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
