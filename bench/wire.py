"""A small blocking client of lairchat's TCP protocol, for setting the stage.

Accounts, rooms and memberships are created through the public protocol before any
timing starts; the timed traffic comes from the compiled load generator.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

PREFIX = struct.Struct("!I")
PASSWORD = "bench-password-1"
TIMEOUT = 60.0


class WireError(RuntimeError):
    pass


class Client:
    """One connection: hello on connect; ``request`` waits for the matching response
    and skips events."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = b""
        self.send({"type": "client_hello", "version": "1.0", "client_name": "bench"})

    def send(self, message: dict[str, Any]) -> None:
        payload = orjson.dumps(message)
        self.sock.sendall(PREFIX.pack(len(payload)) + payload)

    def recv(self) -> dict[str, Any]:
        while True:
            if len(self._buffer) >= 4:
                (size,) = PREFIX.unpack_from(self._buffer)
                if len(self._buffer) >= 4 + size:
                    payload = self._buffer[4 : 4 + size]
                    self._buffer = self._buffer[4 + size :]
                    return orjson.loads(payload)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise WireError("the server closed the connection")
            self._buffer += chunk

    def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        self.send({"type": kind, **fields})
        while True:
            frame = self.recv()
            if frame["type"] == f"{kind}_response":
                if not frame.get("success"):
                    raise WireError(f"{kind} failed: {frame.get('error')}")
                return frame
            if frame["type"] == "error":
                raise WireError(f"{kind}: {frame}")

    def close(self) -> None:
        self.sock.close()


def register(port: int, username: str) -> dict[str, str]:
    """A new account through the legacy ``register`` command: id, name and token."""
    client = Client(port)
    try:
        r = client.request(
            "register", username=username, email=f"{username}@bench.example", password=PASSWORD
        )
        return {"id": r["user"]["id"], "username": username, "token": r["token"]}
    finally:
        client.close()


def register_many(port: int, names: Iterable[str], parallel: int = 8) -> list[dict[str, str]]:
    """Register in parallel: the server hashes passwords in two threads, so a few
    requests in flight keep it busy."""
    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(lambda name: register(port, name), names))


def authenticated(port: int, token: str) -> Client:
    client = Client(port)
    client.request("authenticate", token=token)
    return client


def create_room(port: int, token: str, name: str) -> str:
    client = authenticated(port, token)
    try:
        return client.request("create_room", name=name)["room"]["id"]
    finally:
        client.close()


def join(port: int, token: str, room_id: str) -> None:
    client = authenticated(port, token)
    try:
        client.request("join_room", room_id=room_id)
    finally:
        client.close()


def room_with(port: int, users: list[dict[str, str]], name: str, parallel: int = 8) -> str:
    """A room owned by ``users[0]`` with every other user of the list as a member."""
    room_id = create_room(port, users[0]["token"], name)
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(lambda u: join(port, u["token"], room_id), users[1:]))
    return room_id
