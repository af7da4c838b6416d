"""A real lairchat server on loopback ports, and a blocking TCP protocol client.

The server is ``python -m twisted lairchat`` (the ``twist`` runner with our plugin) in
a subprocess, configured through the environment like in production. Tests talk to it
with plain blocking sockets: every wait is a socket read with a deadline, so there is
no reactor in the test process and no sleeping.

Fixtures:

``live_server``
    One server for the whole test session (default timeouts).
``start_live_server``
    Start another one with extra environment (e.g. short timeouts); it is stopped at
    the end of the test session.

Both give a :class:`LiveServer`, whose :meth:`~LiveServer.connect` opens a
:class:`TCPClient`.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import socket
import struct
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lairchat.testing import ServerNotReady, ServerProcess

SECRET = "tcp-live-test-secret-0123456789abcdef"
PASSWORD = "password123"
#: Longest a test waits for any one frame.
READ_TIMEOUT = 10.0
STARTUP_TIMEOUT = 30.0
PREFIX = struct.Struct("!I")


def unique(prefix: str) -> str:
    """A username no other test of this session uses (the server is shared)."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class ServerClosed(ConnectionError):
    """The server closed the connection (EOF or reset)."""


# --------------------------------------------------------------------------- the server


class LiveServer(ServerProcess):
    """The shared launcher (failing the test with the server's output if it does not
    start), plus blocking TCP clients."""

    def __init__(self, workdir: Path, extra_env: dict[str, str] | None = None):
        try:
            super().__init__(
                workdir, startup_timeout=STARTUP_TIMEOUT, secret=SECRET, **(extra_env or {})
            )
        except ServerNotReady as e:
            pytest.fail(str(e), pytrace=False)

    def connect(self) -> TCPClient:
        return TCPClient(self.tcp_port)

    def register(self, prefix: str, encrypted: bool = False) -> TCPClient:
        """A new user, registered and authenticated on a new connection (legacy
        ``register``: no HTTP needed). ``client.token``/``user_id``/``username`` are set."""
        client = self.connect()
        client.hello(encrypted=encrypted)
        name = unique(prefix)
        response = client.ok(
            "register", username=name, email=f"{name}@example.com", password=PASSWORD
        )
        client.token = response["token"]
        client.user_id = response["user"]["id"]
        client.username = name
        client.session_id = response["session"]["id"]
        return client

    def login(self, token: str, encrypted: bool = False) -> TCPClient:
        """Another connection authenticated with an existing token."""
        client = self.connect()
        client.hello(encrypted=encrypted)
        response = client.ok("authenticate", token=token)
        client.token = token
        client.user_id = response["user"]["id"]
        client.username = response["user"]["username"]
        client.session_id = response["session"]["id"]
        return client


@pytest.fixture(scope="session")
def start_live_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []
    counter = itertools.count()

    def start(**extra_env: str) -> LiveServer:
        workdir = tmp_path_factory.mktemp(f"lairchat-{next(counter)}")
        server = LiveServer(workdir, extra_env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def live_server(start_live_server: Callable[..., LiveServer]) -> LiveServer:
    return start_live_server()


# --------------------------------------------------------------------------- the client


class TCPClient:
    """A blocking client of the TCP protocol: length-prefixed JSON, optional
    X25519 + AES-256-GCM (written here from the spec, independent of the server)."""

    def __init__(self, port: int, timeout: float = READ_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.aead: AESGCM | None = None
        self.backlog: list[dict[str, Any]] = []
        self._buffer = b""
        self._ids = itertools.count(1)
        self.token = self.user_id = self.username = self.session_id = ""
        self.server_hello = self.recv()
        assert self.server_hello["type"] == "server_hello", self.server_hello

    # -- bytes ----------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_payload(self, payload: bytes) -> None:
        if self.aead is not None:
            nonce = os.urandom(12)
            payload = nonce + self.aead.encrypt(nonce, payload, None)
        self.send_raw(PREFIX.pack(len(payload)) + payload)

    def send(self, message: dict[str, Any]) -> None:
        self.send_payload(orjson.dumps(message))

    def _fill(self, n: int) -> None:
        while len(self._buffer) < n:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError) as e:
                raise ServerClosed(str(e)) from None
            if not chunk:
                raise ServerClosed("EOF")
            self._buffer += chunk

    def recv_payload(self) -> bytes:
        """The next frame's payload as sent (encrypted, if encryption is on)."""
        self._fill(4)
        (size,) = PREFIX.unpack(self._buffer[:4])
        self._fill(4 + size)
        payload, self._buffer = self._buffer[4 : 4 + size], self._buffer[4 + size :]
        return payload

    def recv(self) -> dict[str, Any]:
        """The next frame, from the backlog first."""
        if self.backlog:
            return self.backlog.pop(0)
        payload = self.recv_payload()
        if self.aead is not None:
            payload = self.aead.decrypt(payload[:12], payload[12:], None)
        return orjson.loads(payload)

    # -- waiting ----------------------------------------------------------------------

    def wait_for(
        self, match: Callable[[dict[str, Any]], bool], keep_others: bool = True
    ) -> dict[str, Any]:
        """Read until a frame matches; the others stay in the backlog (or are dropped)."""
        skipped = []
        for i, frame in enumerate(self.backlog):
            if match(frame):
                del self.backlog[i]
                return frame
        pending, self.backlog = self.backlog, []
        try:
            while True:
                frame = self.recv()
                if match(frame):
                    return frame
                skipped.append(frame)
        finally:
            self.backlog = (pending + skipped) if keep_others else []

    def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        """The next event of ``kind`` whose top-level fields equal ``fields``."""
        return self.wait_for(
            lambda f: f["type"] == kind and all(f.get(k) == v for k, v in fields.items())
        )

    def barrier(self) -> list[dict[str, Any]]:
        """Ping and wait for the pong; return every other frame received until then.

        The server writes to one connection in order, so anything it sent this
        connection before it handled the ping is in the returned list."""
        self.send({"type": "ping"})
        frames, self.backlog = self.backlog, []
        while True:
            frame = self.recv()
            if frame["type"] == "pong":
                return frames
            frames.append(frame)

    def expect_closed(self) -> list[dict[str, Any]]:
        """Read until the server closes; return the frames that came first."""
        frames = list(self.backlog)
        self.backlog = []
        try:
            while True:
                frames.append(self.recv())
        except ServerClosed:
            return frames

    # -- protocol steps ----------------------------------------------------------------

    def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        request_id = f"{kind}-{next(self._ids)}"
        self.send({"type": kind, "request_id": request_id, **fields})
        return self.wait_for(
            lambda f: f["type"] == f"{kind}_response" and f.get("request_id") == request_id
        )

    def ok(self, kind: str, **fields: Any) -> dict[str, Any]:
        response = self.request(kind, **fields)
        assert response["success"] is True, response
        return response

    def hello(self, encrypted: bool = False) -> None:
        if not encrypted:
            self.send({"type": "client_hello", "version": "1.0", "client_name": "pytest"})
            return
        private = X25519PrivateKey.generate()
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.send({"type": "client_hello", "version": "1.0", "features": ["encryption"]})
        self.send({"type": "key_exchange", "public_key": base64.b64encode(public).decode()})
        reply = orjson.loads(self.recv_payload())  # plaintext, like nothing after it
        assert reply["type"] == "key_exchange_response", reply
        peer = X25519PublicKey.from_public_bytes(base64.b64decode(reply["public_key"]))
        # The AES-256-GCM key is the raw X25519 shared secret (no KDF).
        self.aead = AESGCM(private.exchange(peer))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> TCPClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
