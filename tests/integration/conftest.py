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
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ROOT = Path(__file__).resolve().parents[2]
SECRET = "tcp-live-test-secret-0123456789abcdef"
PASSWORD = "password123"
#: Longest a test waits for any one frame.
READ_TIMEOUT = 10.0
STARTUP_TIMEOUT = 30.0
PREFIX = struct.Struct("!I")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique(prefix: str) -> str:
    """A username no other test of this session uses (the server is shared)."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class ServerClosed(ConnectionError):
    """The server closed the connection (EOF or reset)."""


# --------------------------------------------------------------------------- the server


class LiveServer:
    def __init__(self, workdir: Path, extra_env: dict[str, str] | None = None):
        workdir.mkdir(parents=True, exist_ok=True)
        self.tcp_port, self.http_port = free_port(), free_port()
        self.log_path = workdir / "server.log"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "LAIR_TCP_PORT": str(self.tcp_port),
            "LAIR_HTTP_PORT": str(self.http_port),
            "LAIR_BIND_ADDRESS": "127.0.0.1",
            "LAIR_DATABASE_URL": f"sqlite:{workdir / 'chat.db'}",
            "LAIR_JWT_SECRET": SECRET,
            "LAIR_RATE_LIMITS": "off",
            **(extra_env or {}),
        }
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "twisted", "--log-format=text", "--log-file=-", "lairchat"],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_listening()
        except BaseException:
            self.stop()
            raise

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.process.poll() is not None:
                pytest.fail(
                    f"the lairchat server exited with status {self.process.returncode} "
                    f"before listening; its output:\n{self.log()}",
                    pytrace=False,
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.tcp_port), timeout=1) as s,
            ):
                s.settimeout(READ_TIMEOUT)
                if s.recv(4):  # the server_hello is on its way: the server is up
                    return
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the lairchat server did not accept TCP connections on port "
                    f"{self.tcp_port} within {STARTUP_TIMEOUT:.0f} s; its output:\n{self.log()}",
                    pytrace=False,
                )
            # Bounded polling while the server starts: a short wait on the process.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=0.05)

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def log_size(self) -> int:
        self._log.flush()
        return self.log_path.stat().st_size

    def log_since(self, offset: int) -> str:
        """What the server logged after ``offset`` (a :meth:`log_size` value)."""
        self._log.flush()
        with self.log_path.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

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
