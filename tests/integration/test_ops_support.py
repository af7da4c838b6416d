"""Shared pieces of the operations tests (``test_ops_*.py``): a ``twistd lairchat``
subprocess, a blocking HTTP client, a TCP client that registers (the clients themselves
are :mod:`lairchat.testing_clients`), and bounded waiting.

No tests here; the other modules import it as ``tests.integration.test_ops_support``
(the project root is on ``sys.path`` in the editable install). Every wait has a
deadline and sleeps only in short waits on a process or a socket: no fixed sleeps.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lairchat import testing_clients
from lairchat.testing import TWISTD, free_ports

ROOT = Path(__file__).resolve().parents[2]
SECRET = "ops-test-secret-0123456789abcdef-0123"
PASSWORD = "password123"
TIMEOUT = 10.0
STARTUP_TIMEOUT = 30.0


def wait_until(
    check: Callable[[], Any], what: str, timeout: float = TIMEOUT, process: Any = None
) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``timeout``. Between
    tries, a short wait on ``process`` (if given, failing if it exited) or a 20 ms
    ``select`` nap: bounded polling, never a long sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process exited ({process.returncode}) while waiting {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting {what}")
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.02)
        else:
            time.sleep(0.02)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie nobody reaped yet counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


# --------------------------------------------------------------------------- the server


class Server:
    """``twistd [args] lairchat`` with a fresh database in ``workdir``.

    ``daemon=False`` runs with ``-n`` and the output in ``workdir/stdout``;
    ``daemon=True`` passes ``--pidfile``/``--logfile`` and waits for the parent to
    exit. ``env`` adds to (``None`` values remove from) the server's environment.
    """

    def __init__(
        self,
        workdir: Path,
        env: dict[str, str | None] | None = None,
        daemon: bool = False,
        args: list[str] | None = None,
        plugin_args: list[str] | None = None,
        command: list[str] | None = None,
        wait: bool = True,
        ports: tuple[int, int] | None = None,
    ):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.tcp_port, self.http_port = ports or free_ports(2)
        self.db_path = workdir / "chat.db"
        self.pidfile = workdir / "twistd.pid"
        self.logfile = workdir / "server.log"
        self.stdout_path = workdir / "stdout"
        base = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "LAIR_TCP_PORT": str(self.tcp_port),
            "LAIR_HTTP_PORT": str(self.http_port),
            "LAIR_BIND_ADDRESS": "127.0.0.1",
            "LAIR_DATABASE_URL": f"sqlite:{self.db_path}",
            "LAIR_JWT_SECRET": SECRET,
            "LAIR_RATE_LIMITS": "off",
        }
        for key in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
            base.pop(key, None)
        for key, value in (env or {}).items():
            if value is None:
                base.pop(key, None)
            else:
                base[key] = value
        self.env = base
        self.daemon = daemon
        if daemon:
            twistd_args = [f"--pidfile={self.pidfile}", f"--logfile={self.logfile}"]
        else:
            twistd_args = ["-n", "--pidfile="]
        argv = (command or []) + TWISTD + twistd_args + (args or [])
        argv += ["lairchat", *(plugin_args or [])]
        self._out = self.stdout_path.open("wb")
        self.process = subprocess.Popen(
            argv,
            cwd=workdir,
            env=base,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        self.pid: int | None = None
        if daemon:
            try:
                self.process.wait(timeout=STARTUP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.stop()
                raise
            assert self.process.returncode == 0, self.output()
            self.pid = int(self.pidfile.read_text())
        else:
            self.pid = self.process.pid
        if wait:
            try:
                self.wait_ready()
            except BaseException:
                self.stop()
                raise

    # -- state ----------------------------------------------------------------------

    def alive(self) -> bool:
        if self.daemon:
            return self.pid is not None and pid_alive(self.pid)
        return self.process.poll() is None

    def output(self) -> str:
        """What the server wrote: its stdout (foreground) or its log file (daemon)."""
        self._out.flush()
        path = self.logfile if self.daemon else self.stdout_path
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        def ready() -> bool:
            if not self.alive():
                raise AssertionError(f"the server exited before it was ready:\n{self.output()}")
            try:
                return http_request(self.http_port, "GET", "/ready", timeout=2)[0] == 200
            except OSError:
                return False

        wait_until(ready, "for /ready", timeout, None if self.daemon else self.process)

    def wait_exit(self, timeout: float = TIMEOUT) -> None:
        wait_until(lambda: not self.alive(), "for the server to exit", timeout)

    # -- control --------------------------------------------------------------------

    def signal(self, signum: int = signal.SIGTERM) -> None:
        assert self.pid is not None
        os.kill(self.pid, signum)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a while: for finalizers."""
        with contextlib.suppress(ProcessLookupError, AssertionError):
            if self.alive():
                self.signal(signal.SIGTERM)
                with contextlib.suppress(AssertionError):
                    self.wait_exit(15)
            if self.alive() and self.pid is not None:
                os.kill(self.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._out.close()

    # -- clients --------------------------------------------------------------------

    def tcp(self) -> TCPClient:
        return TCPClient.connect(self.tcp_port)

    def get(self, path: str, **kw: Any) -> tuple[int, dict[str, str], bytes]:
        return http_request(self.http_port, "GET", path, **kw)


# --------------------------------------------------------------------------- HTTP


def http_request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    source: str | None = None,
    timeout: float = TIMEOUT,
    connection: http.client.HTTPConnection | None = None,
    tls: ssl.SSLContext | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request; ``source`` binds the client side to that local address; ``tls``
    makes it HTTPS."""
    source_address = (source, 0) if source else None
    if connection is not None:
        conn = connection
    elif tls is not None:
        conn = http.client.HTTPSConnection(
            host, port, timeout=timeout, source_address=source_address, context=tls
        )
    else:
        conn = http.client.HTTPConnection(
            host, port, timeout=timeout, source_address=source_address
        )
    data = None if body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json"} if data is not None else {}
    all_headers.update(headers or {})
    try:
        conn.request(method, path, body=data, headers=all_headers)
        response = conn.getresponse()
        payload = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload
    finally:
        if connection is None:
            conn.close()


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket (for a ``unix:`` endpoint)."""

    def __init__(self, path: str, timeout: float = TIMEOUT):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


# --------------------------------------------------------------------------- TCP


class TCPClient(testing_clients.TCPClient):
    """The shared blocking client, able to make its own account."""

    def register(self, username: str) -> dict[str, Any]:
        """client_hello, then the legacy ``register`` (which also authenticates)."""
        self.send({"type": "client_hello", "version": "1.0", "client_name": "ops-test"})
        response = self.ok(
            "register", username=username, email=f"{username}@example.com", password=PASSWORD
        )
        self.user_id = response["user"]["id"]
        self.username = username
        self.token = response["token"]
        return response


@contextlib.contextmanager
def closing_all(*things: Any) -> Iterator[None]:
    try:
        yield
    finally:
        for thing in things:
            with contextlib.suppress(Exception):
                thing.close()
