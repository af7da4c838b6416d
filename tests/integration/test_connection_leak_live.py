"""Connections ended every way leave nothing open in a real server process.

A server run for months sees connections end in every way a network allows: a clean
close, a reset in the middle of a frame, of the TLS handshake or of the WebSocket
upgrade, a TLS peer that never sends ``close_notify``. Each must give its socket back:
an HTTPS connection that stayed open for good after ``Connection: close`` was found
once (87b3135). Here a TLS server (HTTPS, WSS and TCP inside TLS) is churned through
each ending, then its open file descriptors (``/proc/PID/fd``) and its connection
gauges must come back to where they were before. Measured with many more cycles
(docs/operations.md, "What grows over a long run"); this keeps the check.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import ssl
import struct
import time
from collections.abc import Callable
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


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def connections(server: Any, context: ssl.SSLContext) -> dict[str, float]:
    """The ``lair_chat_connections`` gauge by transport, from ``/metrics``."""
    conn = http.client.HTTPSConnection("localhost", server.http_port, context=context, timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    found = re.findall(r'^lair_chat_connections\{transport="(\w+)"\} (\S+)$', text, re.M)
    return {transport: float(value) for transport, value in found}


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


def settled(server: Any, fds: int) -> tuple[int, dict[str, float]]:
    """Wait until no more than ``fds`` descriptors are open and no real-time
    connection is (bounded polling); what was seen last."""
    pid = server.process.pid
    deadline = time.monotonic() + SETTLE
    while True:
        seen = open_fds(pid), connections(server, server.context)
        if seen[0] <= fds and not any(seen[1].values()):
            return seen
        if time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def test_connections_ended_every_way_give_their_sockets_back(tls_server: Any) -> None:
    server = tls_server
    with TCPClient.connect(server.tcp_port, tls=server.context) as client:
        client.hello()
        name = f"churn_{os.getpid()}"
        token = client.ok(
            "register", username=name, email=f"{name}@example.com", password="password123"
        )["token"]
    ways = endings(server, token)
    for end in ways.values():  # first uses open what lives as long as the server
        end()
    baseline = settled(server, open_fds(server.process.pid))[0]

    for end in ways.values():
        for _ in range(CYCLES):
            end()

    fds, gauges = settled(server, baseline)
    pid = server.process.pid
    targets = sorted(os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd"))
    assert fds <= baseline, targets
    assert gauges == {"tcp": 0.0, "websocket": 0.0}
    assert server.alive()
