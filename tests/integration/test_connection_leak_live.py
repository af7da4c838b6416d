"""Connections ended every way leave nothing open in a real server process.

A server run for months sees connections end in every way a network allows: a clean
close, a reset in the middle of a frame, of the TLS handshake or of the WebSocket
upgrade, a TLS peer that never sends ``close_notify``. Each must give its socket back:
an HTTPS connection that stayed open for good after ``Connection: close`` was found
once (87b3135). Here a TLS server (HTTPS, WSS and TCP inside TLS) is churned through
each ending, then its open sockets (``/proc/PID/fd``) must be its two listeners
again. Measured with many more cycles
(docs/operations.md, "What grows over a long run"); this keeps the check.
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lairchat.testing import frame
from lairchat.testing_clients import TCPClient, WSClient
from tests.security.test_tls import dev_certificate

CYCLES = 30
#: Longest the server may take to let the last connections go: a TLS connection it
#: closed is aborted after CLOSE_GRACE (5 s) if the peer never answers.
SETTLE = 20.0
#: A TLS record header and the start of a ClientHello that never ends.
TRUNCATED_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40)


def reset(sock: socket.socket) -> None:
    """Close with a TCP reset instead of a FIN (SO_LINGER 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def open_sockets(pid: int) -> list[str]:
    """The sockets among the process's open descriptors (``socket:[inode]``): the
    database connections of reader threads started on demand are files, not these."""
    folder = Path(f"/proc/{pid}/fd")
    targets = []
    for fd in folder.iterdir():
        try:
            targets.append(os.readlink(fd))
        except FileNotFoundError:  # closed meanwhile
            continue
    return sorted(t for t in targets if t.startswith("socket:"))


@pytest.fixture(scope="module")
def tls_server(start_live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    cert, key = dev_certificate(tmp_path_factory.mktemp("certs"))
    server = start_live_server(
        LAIR_TLS_ENABLED="true",
        LAIR_TCP_TLS="true",
        LAIR_TLS_CERT_PATH=str(cert),
        LAIR_TLS_KEY_PATH=str(key),
    )
    server.context = ssl.create_default_context(cafile=str(cert))
    return server


def endings(server: Any, token: str) -> dict[str, Callable[[], None]]:
    """One connection's life per way of ending it."""
    context = server.context

    def raw(port: int) -> socket.socket:
        return socket.create_connection(("127.0.0.1", port), timeout=10)

    def tls(port: int) -> ssl.SSLSocket:
        return context.wrap_socket(raw(port), server_hostname="localhost")

    def tcp_life() -> None:
        with TCPClient.connect(server.tcp_port, tls=context) as client:
            client.hello(encrypted=True)
            client.ok("authenticate", token=token)

    def tcp_reset_mid_frame() -> None:
        client = TCPClient.connect(server.tcp_port, tls=context)
        client.send_raw(frame(b'{"type":"client_hello"')[:-5])
        reset(client.sock)

    def wss_life_without_close_frame() -> None:
        ws = WSClient(server.http_port, f"/ws?token={token}", host="localhost", tls=context)
        ws.wait_for(lambda m: m["type"] == "authenticate_response")
        ws.close()

    def ws_upgrade_cut_short() -> None:
        sock = tls(server.http_port)
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n")
        reset(sock)

    def tls_hello_cut_short(port: int) -> Callable[[], None]:
        def run() -> None:
            sock = raw(port)
            sock.sendall(TRUNCATED_HELLO)
            reset(sock)

        return run

    def tls_reset_after_handshake(port: int) -> Callable[[], None]:
        return lambda: reset(tls(port))

    def https_without_close_notify() -> None:
        sock = tls(server.http_port)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.close()  # a FIN, no close_notify

    return {
        "tcp life": tcp_life,
        "tcp reset mid-frame": tcp_reset_mid_frame,
        "wss life without a close frame": wss_life_without_close_frame,
        "ws upgrade cut short": ws_upgrade_cut_short,
        "tls hello cut short (tcp)": tls_hello_cut_short(server.tcp_port),
        "tls hello cut short (http)": tls_hello_cut_short(server.http_port),
        "reset after the tls handshake (tcp)": tls_reset_after_handshake(server.tcp_port),
        "reset after the tls handshake (http)": tls_reset_after_handshake(server.http_port),
        "https without close_notify": https_without_close_notify,
    }


def settled(server: Any, most: int) -> list[str]:
    """Wait until at most ``most`` sockets are open (bounded polling); those open then."""
    deadline = time.monotonic() + SETTLE
    while len(sockets := open_sockets(server.process.pid)) > most:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return sockets


def test_connections_ended_every_way_give_their_sockets_back(tls_server: Any) -> None:
    server = tls_server
    # Nothing has connected yet. The socket the readiness notification went out on
    # closes just after it is sent, and a busy machine can show it still open.
    listening = settled(server, 2)
    assert len(listening) == 2, listening  # TCP and HTTP
    with TCPClient.connect(server.tcp_port, tls=server.context) as client:
        client.hello()
        name = f"churn_{os.getpid()}"
        token = client.ok(
            "register", username=name, email=f"{name}@example.com", password="password123"
        )["token"]

    for end in endings(server, token).values():
        for _ in range(CYCLES):
            end()

    assert settled(server, len(listening)) == listening
    assert server.alive()
