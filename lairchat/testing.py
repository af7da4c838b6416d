"""Helpers for tests and benchmarks: a whole core on a synchronous store and a fake
clock, and in-memory TCP connections to it.

Like ``twisted.internet.testing``, this ships with the package so that our tests,
benchmarks and third-party client authors can drive a real core deterministically.
"""

from __future__ import annotations

import itertools
import struct
from typing import Any

import orjson
from twisted.internet import task
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from lairchat.core.auth import AuthResult
from lairchat.core.deferreds import result, run_now
from lairchat.core.services import Core
from lairchat.realtime.crypto import FrameCipher, KeyExchange
from lairchat.realtime.session import SessionSettings
from lairchat.storage.sqlite.migrate import migrate
from lairchat.storage.sqlite.pool import ImmediatePool
from lairchat.storage.sqlite.store import SQLiteStore
from lairchat.transports.tcp import LairTCPFactory, LairTCPProtocol

TEST_SECRET = "lairchat-test-secret-0123456789abcdef"
_PREFIX = struct.Struct("!I")


def make_core(path: str = ":memory:", clock: task.Clock | None = None) -> Core:
    """A migrated store on ``path`` with every service, driven by ``clock``."""
    clock = clock or task.Clock()
    if clock.seconds() == 0:
        clock.advance(1_700_000_000)
    pool = ImmediatePool(path)
    migrate(pool.connection)
    store = SQLiteStore(pool, pool, path)
    core = Core.build(store, clock, TEST_SECRET, run_now)
    core.load()
    return core


class MemoryTCPClient:
    """One in-memory connection to a :class:`LairTCPFactory`, seen from the client side.

    Frames are read incrementally; after ``key_exchange_response`` (with :meth:`hello`
    ``encrypted=True``) both directions are encrypted, as on the wire.
    """

    _ports = itertools.count(40000)

    def __init__(self, factory: LairTCPFactory):
        address = IPv4Address("TCP", "127.0.0.1", next(self._ports))
        proto = factory.buildProtocol(address)
        if proto is None:
            raise ConnectionRefusedError("the factory refused the connection")
        self.proto: LairTCPProtocol = proto
        self.transport = StringTransport()
        self.proto.makeConnection(self.transport)
        self.cipher: FrameCipher | None = None
        self.kx: KeyExchange | None = None
        self.lost = False
        self._offset = 0
        self._inbox: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    # -- what the server wrote ------------------------------------------------------

    def raw_frames(self) -> list[bytes]:
        """New frame payloads as written on the wire (still encrypted, if they are)."""
        data = self.transport.value()
        out = []
        while len(data) - self._offset >= 4:
            (size,) = _PREFIX.unpack_from(data, self._offset)
            end = self._offset + 4 + size
            assert end <= len(data), "server wrote a partial frame"
            out.append(data[self._offset + 4 : end])
            self._offset = end
        assert self._offset == len(data), "stray bytes after the last frame"
        return out

    def _drain(self) -> None:
        for payload in self.raw_frames():
            if self.cipher is not None:
                payload = self.cipher.decrypt(payload)
            frame = orjson.loads(payload)
            self._inbox.append(frame)
            if frame["type"] == "key_exchange_response" and self.kx is not None:
                # The reply itself is plaintext; everything after it is encrypted.
                self.cipher = self.kx.agree(frame["public_key"])
                assert self.cipher is not None

    def frames(self) -> list[dict[str, Any]]:
        """Every frame received since the last call."""
        self._drain()
        out, self._inbox = self._inbox, []
        return out

    def types(self) -> list[str]:
        return [f["type"] for f in self.frames()]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """Frames of one type received since the last call; other frames are kept."""
        self._drain()
        mine = [f for f in self._inbox if f["type"] == kind]
        self._inbox = [f for f in self._inbox if f["type"] != kind]
        return mine

    def one(self) -> dict[str, Any]:
        frames = self.frames()
        assert len(frames) == 1, frames
        return frames[0]

    def error(self) -> tuple[str, str]:
        frame = self.one()
        assert frame["type"] == "error" and set(frame) == {"type", "code", "message"}, frame
        return frame["code"], frame["message"]

    def silent(self) -> None:
        assert self.frames() == []

    # -- what the client sends ------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        self.proto.dataReceived(data)

    def send_payload(self, payload: bytes) -> None:
        if self.cipher is not None:
            payload = self.cipher.encrypt(payload)
        self.send_raw(_PREFIX.pack(len(payload)) + payload)

    def send(self, message: dict[str, Any]) -> None:
        self.send_payload(orjson.dumps(message))

    def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Send a command with a fresh ``request_id``; return its response (checked to
        echo the id). Other frames that arrived meanwhile stay in the inbox."""
        request_id = f"r{next(self._ids)}"
        self.send({"type": kind, "request_id": request_id, **fields})
        responses = self.of_type(f"{kind}_response")
        assert len(responses) == 1, (kind, responses, self._inbox)
        response = responses[0]
        assert response["request_id"] == request_id
        assert list(response)[:3] == ["type", "request_id", "success"]
        return response

    def ok(self, kind: str, **fields: Any) -> dict[str, Any]:
        response = self.request(kind, **fields)
        assert response["success"] is True, response
        assert "error" not in response
        return response

    def fails(self, kind: str, code: str, message: str | None = None, **fields: Any) -> dict:
        response = self.request(kind, **fields)
        assert response["success"] is False, response
        assert response["error"]["code"] == code, response
        if message is not None:
            assert response["error"]["message"] == message, response
        return response

    def hello(self, encrypted: bool = False, version: str = "1.0") -> None:
        features = ["encryption"] if encrypted else []
        self.send({"type": "client_hello", "version": version, "features": features})
        if encrypted:
            self.kx = KeyExchange()
            self.send({"type": "key_exchange", "public_key": self.kx.public_key_b64})
            reply = self.one()
            assert reply["type"] == "key_exchange_response"
        self.silent()

    def authenticate(self, account: AuthResult) -> dict[str, Any]:
        return self.ok("authenticate", token=account.token)

    def ping(self) -> None:
        self.send({"type": "ping"})
        assert self.types() == ["pong"]

    # -- the connection -------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """The server closed (or aborted) the connection."""
        return self.transport.disconnecting

    @property
    def aborted(self) -> bool:
        return self.transport.disconnected

    def drop(self) -> None:
        """The socket is gone (client hung up, or the server's close completed)."""
        if not self.lost:
            self.lost = True
            self.proto.connectionLost(Failure(ConnectionDone()))


class MemoryTCPServer:
    """A whole core and its TCP factory on a fake clock, and a way to open connections."""

    client_class = MemoryTCPClient

    def __init__(self, max_connections: int = 0, **settings: Any):
        self.clock = task.Clock()
        self.core = make_core(clock=self.clock)
        self.settings = SessionSettings("tcp", **settings)
        self.factory = LairTCPFactory(self.core, self.settings, self.clock, max_connections)
        self.accounts: dict[str, AuthResult] = {}

    def account(self, name: str, password: str = "password1") -> AuthResult:
        """The account ``name``, registered on first use."""
        if name not in self.accounts:
            registered = self.core.auth.register(name, f"{name}@example.com", password)
            self.accounts[name] = result(registered)
        return self.accounts[name]

    def uid(self, name: str) -> str:
        return self.accounts[name].user.id

    def connect(self) -> MemoryTCPClient:
        client = self.client_class(self.factory)
        assert client.one()["type"] == "server_hello"
        return client

    def login(self, name: str, encrypted: bool = False) -> MemoryTCPClient:
        """An authenticated connection of ``name``, with nothing left to read."""
        client = self.connect()
        client.hello(encrypted=encrypted)
        client.authenticate(self.account(name))
        client.frames()
        return client


__all__ = [
    "TEST_SECRET",
    "MemoryTCPClient",
    "MemoryTCPServer",
    "make_core",
    "result",
    "run_now",
]
