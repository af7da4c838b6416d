"""Getting bytes to sockets in as few system calls as possible.

Twisted's ``transport.write`` only queues: the reactor registers the socket for
writability (``epoll_ctl``), sends on its next turn, and unregisters it again. That
is three system calls and one reactor turn of delay per write, and a chat server's
writes are many and small. Two things here cut that down:

- :func:`sender` sends at once when nothing is queued for the transport, which is
  what Twisted would do next turn anyway, in the same order. What the kernel does
  not take is queued by ``transport.write`` as usual, so producers, back-pressure
  and closing behave exactly as before.
- :class:`Outbox` joins what is written to one connection while it is held (one
  group commit's acknowledgements and events, one read's replies) into one send.

Measured with ``python -m bench`` (issue 8); the figures are in
docs/performance.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.abstract import FileDescriptor
from twisted.logger import Logger

Send = Callable[[bytes], None]
_log = Logger()


def sender(transport: Any) -> Send:
    """A ``write(data)`` for ``transport`` that sends at once when it can.

    Only a plain file descriptor transport (a TCP connection, a pipe) qualifies;
    TLS (which may be switched on later with ``startTLS``) and wrapping transports
    (TLS over memory BIOs, test transports) get their own ``write``."""
    if not isinstance(transport, FileDescriptor):
        return transport.write
    sock = getattr(transport, "socket", None)
    # A socket is sent to directly (Twisted's writeSomeData adds a slice and a retry
    # loop per call, and this runs for every send: one per delivery at low load);
    # a pipe goes through it.
    send = sock.send if sock is not None else transport.writeSomeData

    def write(data: bytes) -> None:
        if (
            transport.dataBuffer
            or transport._tempDataBuffer
            or not transport.connected
            or transport.disconnecting
            or transport._writeDisconnected
            or getattr(transport, "TLS", False)
        ):
            transport.write(data)
            return
        try:
            sent = send(data)
        except OSError:  # EAGAIN, EINTR, ENOBUFS, or the connection is gone
            sent = 0
        if not isinstance(sent, int):
            sent = 0  # writeSomeData's "connection lost": the reactor finds that out
        if sent < len(data):
            transport.write(data[sent:] if sent else data)

    return write


class Outbox:
    """While held, writes are kept per destination and joined into one send when the
    outermost hold ends; otherwise they go out at once. Order per destination is
    kept. One outbox serves every connection of the process (the hub holds it)."""

    def __init__(self) -> None:
        self._depth = 0
        self._kept: dict[Send, list[bytes]] = {}

    def write(self, send: Send, data: bytes) -> None:
        if not self._depth:
            send(data)
            return
        kept = self._kept.get(send)
        if kept is None:
            self._kept[send] = [data]
        else:
            kept.append(data)

    def flush(self, send: Send) -> None:
        """Send what is kept for ``send`` now (before a close frame, say)."""
        chunks = self._kept.pop(send, None)
        if chunks:
            send(b"".join(chunks))

    def held(self) -> Outbox:
        """``with outbox.held():`` holds writes until the outermost block ends. The
        outbox is its own context manager (no generator per use: every read of every
        connection enters one)."""
        return self

    def __enter__(self) -> None:
        self._depth += 1

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if not self._depth and self._kept:
            self._flush()

    def _flush(self) -> None:
        kept, self._kept = self._kept, {}
        for send, chunks in kept.items():
            try:
                send(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            except Exception:
                _log.failure("writing to a connection failed")
