"""The benchmark's servers start on ports the kernel chose and say which.

``bench/procs.py`` launches lairchat and the two bare relays the way ``python -m
bench`` does, minus the core pinning. None picks a port beforehand (a port picked
then could be taken before the server binds it, and a check that it accepts
connections would then pass against the wrong process): lairchat reports its ports
with ``READY=1``, a relay prints ``listening PORT``.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
from pathlib import Path

from bench.procs import LairServer, RelayServer
from bench.wire import authenticated, register

_PREFIX = struct.Struct("!I")


def _frame(data: bytes) -> bytes:
    return _PREFIX.pack(len(data)) + data


def _recv(sock: socket.socket, n: int) -> bytes:
    """``n`` bytes (the socket's timeout bounds each read); an early end fails, where
    reading on would get b"" for ever."""
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, f"the connection ended after {len(data)} of {n} bytes"
        data += chunk
    return data


def _read_frame(sock: socket.socket) -> bytes:
    (size,) = _PREFIX.unpack(_recv(sock, 4))
    return _recv(sock, size)


def test_lairchat_reports_its_ports_and_serves_on_them(tmp_path: Path) -> None:
    with LairServer(tmp_path, tmp_path / "bench.db", cores=None) as server:
        assert server.tcp_port and server.http_port and server.tcp_port != server.http_port
        user = register(server.tcp_port, "benchuser")  # the TCP protocol, end to end
        client = authenticated(server.tcp_port, user["token"])
        try:
            assert client.request("get_current_user")["user"]["id"] == user["id"]
        finally:
            client.close()
        sample = server.sample()  # /metrics on the reported HTTP port
        assert sample.commits is not None


def test_tcp_relay_reports_its_port_and_relays(tmp_path: Path) -> None:
    # Twice in one directory, as a bench run does: the second relay's log file holds
    # the first one's "listening" line too, and its own port must be the one used.
    for _ in range(2):
        with (
            RelayServer(tmp_path, "tcp", cores=None) as relay,
            socket.create_connection(("127.0.0.1", relay.port), 5) as a,
            socket.create_connection(("127.0.0.1", relay.port), 5) as b,
        ):
            a.settimeout(5)
            b.settimeout(5)
            # The relay registers a connection when it is accepted: wait until both
            # are, by a frame from b that a receives.
            b.sendall(_frame(b"ready"))
            assert _read_frame(a) == b"ready"
            a.sendall(_frame(b"hello"))
            assert _read_frame(b) == b"hello"


def test_ws_relay_reports_its_port_and_accepts_websockets(tmp_path: Path) -> None:
    with RelayServer(tmp_path, "ws", cores=None) as relay:
        key = base64.b64encode(os.urandom(16)).decode()
        with socket.create_connection(("127.0.0.1", relay.port), 5) as s:
            s.settimeout(5)
            s.sendall(
                (
                    "GET / HTTP/1.1\r\n"
                    f"Host: 127.0.0.1:{relay.port}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = s.recv(4096)
                assert chunk, f"the connection ended before the answer's end: {answer!r}"
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 101"), answer
