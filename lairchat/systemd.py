"""Telling systemd how the server is doing: the ``sd_notify`` protocol, no library needed.

A ``Type=notify`` service gets ``NOTIFY_SOCKET`` in its environment: a datagram Unix
socket, by path or, starting with ``@``, in the abstract namespace. Each notification
is one datagram of newline-separated ``KEY=VALUE`` lines (``READY=1``,
``STOPPING=1``, ``STATUS=...``, ``WATCHDOG=1``); see sd_notify(3). Without the
variable every call is a no-op, so the server behaves the same outside systemd.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any

from twisted.internet.task import LoopingCall
from twisted.logger import Logger

log = Logger()


def notify_address(environ: Mapping[str, str] | None = None) -> str | None:
    """Where notifications go: a socket path, an abstract name (leading NUL), or None."""
    value = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None  # unset, or a kind we do not speak (vsock:...)


def notify(*lines: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``lines`` as one notification; True if it was sent.

    Never raises: systemd going away must not take the server with it.
    """
    address = notify_address(environ)
    if address is None:
        return False
    data = "\n".join(lines).encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(data, address)
    except OSError as e:
        log.warn("sd_notify to {address!r} failed: {error}", address=address, error=e)
        return False
    return True


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half of ``WatchdogSec=``), or None."""
    env = os.environ if environ is None else environ
    pid = env.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2e6 if usec > 0 else None


class Watchdog:
    """Pings systemd's watchdog from the reactor: if the reactor stalls, systemd
    notices and restarts the service (``WatchdogSec=`` in the unit)."""

    def __init__(self, clock: Any, interval: float, environ: Mapping[str, str] | None = None):
        self.interval = interval
        self._loop = LoopingCall(notify, "WATCHDOG=1", environ=environ)
        self._loop.clock = clock

    def start(self) -> None:
        self._loop.start(self.interval, now=True)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()
