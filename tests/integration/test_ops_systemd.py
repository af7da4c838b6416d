"""systemd integration without systemd itself.

* Socket activation: ``systemd-socket-activate`` (from the Debian ``systemd`` package)
  binds both ports, execs ``twistd -n lairchat`` on the first connection and passes
  the sockets as fds 3 and 4 (``LISTEN_FDS``/``LISTEN_PID``/``LISTEN_FDNAMES``), in the
  order of its ``-l`` options, as systemd does for a ``.socket`` unit's ``ListenStream``
  lines. The server adopts them through ``systemd:`` endpoints.
* Readiness: ``NOTIFY_SOCKET`` names a datagram socket of the test's own; the server
  sends ``READY=1`` once both listeners listen, ``WATCHDOG=1`` when asked to, and
  ``STOPPING=1`` on SIGTERM.
"""

from __future__ import annotations

import shutil
import signal
import socket
import uuid
from pathlib import Path

import pytest

from tests.integration.test_ops_support import (
    TIMEOUT,
    Server,
    TCPClient,
    closing_all,
    free_ports,
)

ACTIVATE = shutil.which("systemd-socket-activate") or "/usr/bin/systemd-socket-activate"


def activated_server(tmp_path: Path, tcp_endpoint: str, http_endpoint: str, names: str) -> Server:
    """A server whose two sockets systemd-socket-activate binds and hands over.

    ``names`` is LISTEN_FDNAMES: systemd always sets it (the socket unit's name for
    each fd of one ``.socket`` unit, unless ``FileDescriptorName=`` says otherwise),
    and Twisted ignores the fds without it; the activator sets it only if told to."""
    tcp_port, http_port = free_ports(2)
    ports = (tcp_port, http_port)
    env = {
        "LAIR_TCP_ENDPOINT": tcp_endpoint,
        "LAIR_HTTP_ENDPOINT": http_endpoint,
        "LAIR_TCP_PORT": None,
        "LAIR_HTTP_PORT": None,
        "LAIR_BIND_ADDRESS": None,
    }
    # The activator hands its child only the variables it is told to (-E).
    passed = ["PYTHONPATH", "LAIR_DATABASE_URL", "LAIR_JWT_SECRET", "LAIR_RATE_LIMITS"]
    command = [
        ACTIVATE,
        f"--listen=127.0.0.1:{ports[0]}",
        f"--listen=127.0.0.1:{ports[1]}",
        f"--fdname={names}",
        *(f"--setenv={name}" for name in [*passed, "LAIR_TCP_ENDPOINT", "LAIR_HTTP_ENDPOINT"]),
    ]
    return Server(tmp_path, env=env, command=command, wait=False, ports=ports)


@pytest.mark.parametrize(
    ("tcp_endpoint", "http_endpoint", "names"),
    [
        # What contrib/systemd/lairchat.service uses with lairchat.socket: one unit,
        # so both fds have its name and only the index tells them apart.
        ("systemd:domain=INET:index=0", "systemd:domain=INET:index=1", "lairchat:lairchat"),
        # By FileDescriptorName= (one .socket unit per port).
        ("systemd:domain=INET:name=tcp", "systemd:domain=INET:name=http", "tcp:http"),
    ],
)
def test_socket_activation(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    tcp_endpoint: str,
    http_endpoint: str,
    names: str,
) -> None:
    assert Path(ACTIVATE).exists(), "install the Debian package systemd (see .ci/run)"
    server = activated_server(tmp_path, tcp_endpoint, http_endpoint, names)
    request.addfinalizer(server.stop)
    # The first connection (this /ready request) is what makes the activator exec the
    # server; it waits in the socket's backlog until the server has adopted it.
    server.wait_ready()
    status, _, body = server.get("/health")
    assert status == 200, body
    assert b'"healthy"' in body

    client = TCPClient.connect(server.tcp_port)
    with closing_all(client):
        assert client.server_hello["type"] == "server_hello"
        client.register(f"activated_{uuid.uuid4().hex[:8]}")

    output = server.output()
    assert "Execing" in output  # it really went through the activator
    assert f"tcp listening on 127.0.0.1:{server.tcp_port}" in output
    assert f"http listening on 127.0.0.1:{server.http_port}" in output
    server.signal(signal.SIGTERM)
    server.wait_exit()


def test_missing_systemd_socket_is_a_one_line_error(tmp_path: Path) -> None:
    """Started without the activator, a systemd: endpoint is a configuration error."""
    server = Server(tmp_path, env={"LAIR_TCP_ENDPOINT": "systemd:domain=INET:index=0"}, wait=False)
    try:
        server.process.wait(timeout=TIMEOUT * 3)
        assert server.process.returncode == 2
        output = server.output().strip()
        assert output.startswith("lairchat: LAIR_TCP_ENDPOINT: systemd passed no such socket")
        assert "\n" not in output
    finally:
        server.stop()


# --------------------------------------------------------------------------- sd_notify


@pytest.fixture
def notify_socket() -> socket.socket:
    """A datagram socket in the abstract namespace, as NOTIFY_SOCKET=@name."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0lairchat-test-" + uuid.uuid4().hex)
    sock.settimeout(TIMEOUT * 3)
    yield sock
    sock.close()


def notifications(sock: socket.socket, until: str) -> list[str]:
    """Datagrams received until one holds the line ``until``."""
    seen = []
    while True:
        lines = sock.recv(4096).decode().split("\n")
        seen.append("\n".join(lines))
        if until in lines:
            return seen


def test_ready_watchdog_and_stopping(
    tmp_path: Path, request: pytest.FixtureRequest, notify_socket: socket.socket
) -> None:
    address = "@" + notify_socket.getsockname()[1:].decode()
    server = Server(tmp_path, env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000"}, wait=False)
    request.addfinalizer(server.stop)

    ready = notifications(notify_socket, "READY=1")[-1]
    # Both listeners listen by the time READY=1 is sent.
    assert f"127.0.0.1:{server.tcp_port}" in ready
    assert f"127.0.0.1:{server.http_port}" in ready
    status, _, _ = server.get("/ready")
    assert status == 200
    client = server.tcp()
    client.close()

    notifications(notify_socket, "WATCHDOG=1")  # every 0.1 s: half of WATCHDOG_USEC

    server.signal(signal.SIGTERM)
    stopping = notifications(notify_socket, "STOPPING=1")
    assert "READY=1" not in "".join(stopping)
    server.wait_exit()
