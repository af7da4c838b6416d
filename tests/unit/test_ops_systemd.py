"""sd_notify without systemd: datagrams to a socket of the test's own."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest
from twisted.internet import task

from lairchat import systemd


@pytest.fixture
def abstract_socket() -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0lairchat-unit-" + uuid.uuid4().hex)
    sock.settimeout(5)
    yield sock
    sock.close()


def name_of(sock: socket.socket) -> str:
    return "@" + sock.getsockname()[1:].decode()


def test_notify_to_an_abstract_socket(abstract_socket: socket.socket) -> None:
    env = {"NOTIFY_SOCKET": name_of(abstract_socket)}
    assert systemd.notify("READY=1", "STATUS=Serving", environ=env) is True
    assert abstract_socket.recv(1024) == b"READY=1\nSTATUS=Serving"


def test_notify_to_a_socket_path(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(5)
        assert systemd.notify("STOPPING=1", environ={"NOTIFY_SOCKET": path})
        assert sock.recv(1024) == b"STOPPING=1"


@pytest.mark.parametrize("value", ["", "relative/path", "vsock:2:1234"])
def test_notify_without_a_usable_socket_is_a_no_op(value: str) -> None:
    assert systemd.notify("READY=1", environ={"NOTIFY_SOCKET": value}) is False
    assert systemd.notify("READY=1", environ={}) is False


def test_notify_never_raises(tmp_path: Path) -> None:
    # Nobody listens there: systemd went away. The server must not.
    missing = str(tmp_path / "gone")
    assert systemd.notify("READY=1", environ={"NOTIFY_SOCKET": missing}) is False


def test_watchdog_interval_is_half_of_watchdog_usec() -> None:
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    mine = str(os.getpid())
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": mine}) == 1.0
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}) is None
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
    assert systemd.watchdog_interval({}) is None


def test_watchdog_pings_on_the_clock(abstract_socket: socket.socket) -> None:
    clock = task.Clock()
    dog = systemd.Watchdog(clock, 10.0, environ={"NOTIFY_SOCKET": name_of(abstract_socket)})
    dog.start()
    assert abstract_socket.recv(64) == b"WATCHDOG=1"  # at once
    clock.advance(10)
    assert abstract_socket.recv(64) == b"WATCHDOG=1"
    dog.stop()
    dog.stop()  # twice is fine
    clock.advance(10)
    abstract_socket.settimeout(0)
    with pytest.raises(BlockingIOError):
        abstract_socket.recv(64)
