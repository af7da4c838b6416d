"""Per-address connection caps on real sockets: one address cannot take every slot,
other addresses still get in, a trusted proxy is not limited, and a closed
connection gives its slot back. Loopback has many addresses (127.0.0.0/8), so the
clients bind 127.0.0.2 and 127.0.0.3 to be other peers."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from lairchat.testing_clients import closed_at_once, open_socket

PROXY = "127.0.0.3"


def hello(sock: socket.socket) -> socket.socket:
    """``sock`` once the server has accepted it (TCP: its server_hello arrived)."""
    assert sock.recv(1)
    return sock


@pytest.fixture(scope="module")
def server(start_live_server: Any) -> Any:
    return start_live_server(
        LAIR_TCP_MAX_CONNECTIONS_PER_ADDRESS="2",
        LAIR_HTTP_MAX_CONNECTIONS_PER_ADDRESS="2",
        LAIR_TRUSTED_PROXIES=PROXY,
    )


def test_tcp_per_address_cap(server: Any) -> None:
    held = [hello(open_socket(server.tcp_port)) for _ in range(2)]
    try:
        # A third from 127.0.0.1, again and again: closed cleanly each time, never
        # reset (a reset can fail a client's connect before it reads the end).
        assert all(closed_at_once(server.tcp_port) for _ in range(50))
        assert not closed_at_once(server.tcp_port, source="127.0.0.2")
        proxied = [hello(open_socket(server.tcp_port, PROXY)) for _ in range(4)]
        for sock in proxied:
            sock.close()
        held.pop().close()
        # The server sees the close asynchronously: poll (bounded) for the free slot.
        for _ in range(100):
            if not closed_at_once(server.tcp_port):
                break
        else:
            pytest.fail("the freed slot was never given back")
    finally:
        for sock in held:
            sock.close()
    assert "per-address limit" in server.log()


def test_http_per_address_cap(server: Any) -> None:
    # Accepted in the order they arrive: the third is counted after these two.
    held = [open_socket(server.http_port) for _ in range(2)]
    try:
        assert closed_at_once(server.http_port, 2.0)
        assert not closed_at_once(server.http_port, 0.5, source="127.0.0.2")  # silent: open
        proxied = [open_socket(server.http_port, PROXY) for _ in range(4)]
        assert not closed_at_once(server.http_port, 0.5, source=PROXY)
        for sock in proxied:
            sock.close()
    finally:
        for sock in held:
            sock.close()
    assert "http connection from" in server.log()
