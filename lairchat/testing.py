"""Helpers for tests and benchmarks: a whole core on a synchronous store and a fake
clock, and in-memory TCP connections to it.

Like ``twisted.internet.testing``, this ships with the package so that our tests,
benchmarks and third-party client authors can drive a real core deterministically.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import socket
import struct
import subprocess
import sys
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

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


def frame(payload: bytes) -> bytes:
    """``payload`` behind its 4-byte big-endian length: one frame of the TCP protocol
    (and of the message writer's pipe), written here rather than by the server's code so
    that tests check the framing instead of sharing its bugs."""
    return _PREFIX.pack(len(payload)) + payload


def split_frames(data: bytes) -> tuple[list[bytes], bytes]:
    """The payloads of the whole frames at the start of ``data``, and what follows
    them: the start of a frame still to come, which a reader keeps for the next call."""
    payloads = []
    offset = 0
    while len(data) - offset >= 4:
        (size,) = _PREFIX.unpack_from(data, offset)
        end = offset + 4 + size
        if end > len(data):
            break
        payloads.append(data[offset + 4 : end])
        offset = end
    return payloads, data[offset:]


def json_frames(data: bytes) -> list[Any]:
    """Every frame of ``data`` decoded from JSON, for tests that hold a whole stream
    (``data`` must end where a frame ends)."""
    payloads, rest = split_frames(data)
    assert rest == b"", f"{len(rest)} bytes after the last whole frame"
    return [orjson.loads(payload) for payload in payloads]


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
        # The peer the factory was told of (StringTransport's own is 192.168.1.1).
        self.transport = StringTransport(peerAddress=address)
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
        payloads, rest = split_frames(data[self._offset :])
        assert rest == b"", "the server wrote a partial frame"
        self._offset = len(data)
        return payloads

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
        self.send_raw(frame(payload))

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

    def hello(self, encrypted: bool = False, version: str = "1.0", extended: bool = False) -> None:
        """``extended``: ask for lairchat's own events (core.events.LAIRCHAT_EVENTS)."""
        features = (["encryption"] if encrypted else []) + (["lairchat-events"] if extended else [])
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

    def login(self, name: str, encrypted: bool = False, extended: bool = False) -> MemoryTCPClient:
        """An authenticated connection of ``name``, with nothing left to read."""
        client = self.connect()
        client.hello(encrypted=encrypted, extended=extended)
        client.authenticate(self.account(name))
        client.frames()
        return client


# -- a real server in a subprocess ------------------------------------------------------

#: ``twistd`` as the interpreter running the tests sees it (no PATH lookup).
TWISTD = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]
#: The checkout (or installed tree) lairchat is imported from.
SOURCE_ROOT = Path(__file__).resolve().parents[1]


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel just handed out on ``host`` (loopback only, in tests)."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` different ports the kernel just handed out on ``host``: each stays
    bound until all are chosen. (Two calls of :func:`free_port` in a row return the
    same port about once in 14,000, 7 times in 50,000 here; a server given it for
    both of its listeners does not start.)"""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in sockets]


def server_env(workdir: Path, secret: str = TEST_SECRET, **extra: str) -> dict[str, str]:
    """The environment of a lairchat server in ``workdir`` on free loopback ports,
    rate limits off (``extra`` overrides any of it)."""
    keys = [key for key in ("LAIR_TCP_PORT", "LAIR_HTTP_PORT") if key not in extra]
    ports = {key: str(port) for key, port in zip(keys, free_ports(len(keys)), strict=True)}
    return {
        **os.environ,
        "PYTHONPATH": str(SOURCE_ROOT),
        **ports,
        "LAIR_BIND_ADDRESS": "127.0.0.1",
        "LAIR_DATABASE_URL": f"sqlite:{workdir / 'chat.db'}",
        "LAIR_JWT_SECRET": secret,
        "LAIR_RATE_LIMITS": "off",
        **extra,
    }


#: ``tcp on 127.0.0.1:4000`` in the server's status line (lifecycle.LairService._ready).
_LISTENING = re.compile(r"(\w+) on [^,]*:(\d+)")
_NOTIFY_NAMES = itertools.count()


class ServerNotReady(RuntimeError):
    """The server exited or did not listen in time; the message holds its output."""


class Readiness:
    """Where a lairchat server started with ``env`` reports that it is ready: systemd's
    notification protocol (``READY=1`` and ``STATUS=Serving: tcp on HOST:PORT, ...``)
    on an abstract datagram socket of ours. A server told to bind port 0 says here
    which ports it got, so nothing picks a port beforehand (see :func:`free_port`)."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._socket.bind(f"\0lairchat-test-{os.getpid()}-{next(_NOTIFY_NAMES)}")
        #: The environment that points a server at this socket.
        self.env = {"NOTIFY_SOCKET": "@" + self._socket.getsockname()[1:].decode()}

    def wait(
        self, process: subprocess.Popen, timeout: float, output: Callable[[], str]
    ) -> dict[str, int]:
        """Until ``process`` says READY=1; the ports it listens on, by listener name.
        :class:`ServerNotReady` (with ``output()``) if it exits or times out first."""
        deadline = time.monotonic() + timeout
        self._socket.settimeout(0.05)  # bounded polling, to notice an exit
        while True:
            try:
                lines = self._socket.recv(4096).decode().splitlines()
            except TimeoutError:
                lines = []
            if "READY=1" in lines:
                break
            if process.poll() is not None:
                raise ServerNotReady(f"lairchat exited with {process.returncode}:\n{output()}")
            if time.monotonic() > deadline:
                raise ServerNotReady(f"lairchat was not ready within {timeout:.0f} s:\n{output()}")
        status = next(line for line in lines if line.startswith("STATUS="))
        return {m[0]: int(m[1]) for m in _LISTENING.findall(status)}

    def close(self) -> None:
        self._socket.close()


#: Lines of each server's log a failed test's report shows (:func:`logs_for_report`).
LOG_TAIL = 100


class ServerProcess:
    """``twistd -n lairchat`` in a subprocess on loopback ports, configured by its
    environment (rate limits off unless ``extra_env`` says otherwise), with its
    output in ``<workdir>/server.log``. For integration tests and benchmarks.

    Unless ``extra_env`` names them, the server binds port 0 and reports the ports
    it got (see :class:`Readiness`). A port picked beforehand with :func:`free_port`
    could be taken by another process before the server binds it, and a check that
    the port accepts connections would then pass against that other process."""

    #: The servers started and not stopped yet: those whose logs a failed test's
    #: report shows (:func:`logs_for_report`).
    running: ClassVar[weakref.WeakSet[ServerProcess]] = weakref.WeakSet()

    def __init__(
        self,
        workdir: Path,
        startup_timeout: float = 60.0,
        secret: str = TEST_SECRET,
        command_prefix: Sequence[str] = (),
        **extra_env: str,
    ):
        """``command_prefix`` runs before twistd's argv: a launcher that restricts the
        process, then executes the rest (see tests/integration/test_ops_seccomp.py)."""
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.database = workdir / "chat.db"
        self._ready = Readiness()
        own = {"LAIR_TCP_PORT": "0", "LAIR_HTTP_PORT": "0", **self._ready.env}
        self.env = server_env(workdir, secret, **{**own, **extra_env})
        self.log_path = workdir / "server.log"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*command_prefix, *TWISTD, "-n", "--pidfile=", "lairchat"],
            cwd=workdir,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        ServerProcess.running.add(self)
        try:
            self._wait_until_ready(startup_timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        scheme = "https" if self.env.get("LAIR_TLS_ENABLED") else "http"
        return f"{scheme}://127.0.0.1:{self.http_port}"

    def _wait_until_ready(self, timeout: float) -> None:
        ports = self._ready.wait(self.process, timeout, self.log)
        self.tcp_port, self.http_port = ports["tcp"], ports["http"]

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

    def log_tail(self, lines: int = LOG_TAIL, since: int = 0) -> str:
        """The last ``lines`` lines the server logged after ``since`` (a
        :meth:`log_size` value)."""
        return "".join(self.log_since(since).splitlines(keepends=True)[-lines:])

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush (what durability is tested against)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 15 s)."""
        ServerProcess.running.discard(self)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
        self._ready.close()


def log_sizes() -> dict[ServerProcess, int]:
    """Where each running server's log is now: what :func:`logs_for_report` is
    given when a test begins."""
    return {server: server.log_size() for server in ServerProcess.running}


def logs_for_report(
    since: Mapping[ServerProcess, int], lines: int = LOG_TAIL
) -> list[tuple[str, str]]:
    """``(title, text)`` report sections for a failed test: the last ``lines`` lines
    each running server logged since the test began (``since``, :func:`log_sizes`
    then; all of a server started later), none for a server that logged nothing
    meanwhile. CI keeps no server's log, and a failure that a rerun does not repeat
    (a fresh server's first ``register`` answered ``internal_error``) must be
    readable in its report: the server's line says why."""
    sections = []
    for server in ServerProcess.running:
        text = server.log_tail(lines, since.get(server, 0))
        if text:
            sections.append((f"server log {server.log_path} (last {lines} lines)", text))
    return sections


__all__ = [
    "TEST_SECRET",
    "MemoryTCPClient",
    "MemoryTCPServer",
    "Readiness",
    "ServerNotReady",
    "ServerProcess",
    "frame",
    "free_port",
    "free_ports",
    "json_frames",
    "log_sizes",
    "logs_for_report",
    "make_core",
    "server_env",
    "split_frames",
    "result",
    "run_now",
]
