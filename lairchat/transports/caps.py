"""Connection caps: past its cap, a listener's factory hands Twisted a protocol
that closes the new connection at once, sending nothing.

Returning None from ``buildProtocol`` does the same on a plain socket, but a TLS
listener wraps the factory (TLSMemoryBIOFactory) and fails on None with a traceback
per refused connection, which a flood of connections would turn into a flood of
log lines.
"""

from __future__ import annotations

from twisted.internet import protocol


class Refused(protocol.Protocol):
    """Closes its connection as soon as it is made (no bytes, no TLS handshake)."""

    def connectionMade(self) -> None:  # noqa: N802
        self.transport.abortConnection()


def over(open_now: int, cap: int) -> bool:
    """Whether one more connection would exceed ``cap`` (0 = unlimited)."""
    return bool(cap) and open_now >= cap
