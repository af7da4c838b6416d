"""Bounding what a slow reader can make the server hold, for every transport.

Each transport registers itself as a streaming producer with its socket, so Twisted
tells it when the socket's buffer is full (pause) and drained (resume). While
paused, :class:`OutboundBacklog` counts what is still written. A reader is a slow
consumer when more than ``MAX_BACKLOG`` bytes queued while its buffer stayed full
for ``SLOW_GRACE`` seconds: a burst (one group commit fanned out in one reactor
turn) is not slowness. ``HARD_BACKLOG`` bounds any one connection, grace or not.
"""

from __future__ import annotations

from typing import Any

from lairchat.core.hub import SLOW_GRACE
from lairchat.realtime.codec import MAX_FRAME

__all__ = ["HARD_BACKLOG", "MAX_BACKLOG", "MAX_FRAME", "SLOW_GRACE", "OutboundBacklog"]

MAX_BACKLOG = 4 * MAX_FRAME
HARD_BACKLOG = 64 * MAX_FRAME


class OutboundBacklog:
    def __init__(self, clock: Any):
        self.clock = clock
        self.paused = False
        self.paused_since = 0.0
        self.queued = 0
        #: Set once the reader was judged too slow: everything after is discarded.
        self.dropped = False

    def pause(self) -> None:
        if not self.paused:
            self.paused, self.paused_since = True, self.clock.seconds()

    def resume(self) -> None:
        self.paused, self.queued = False, 0

    def admit(self, size: int) -> bool:
        """Count ``size`` bytes about to be written; False means drop the connection
        now (returned once) or discard the write (after the drop)."""
        if self.dropped:
            return False
        if self.paused:
            self.queued += size
            if self.queued > MAX_BACKLOG and (
                self.queued > HARD_BACKLOG or self.clock.seconds() - self.paused_since >= SLOW_GRACE
            ):
                self.dropped = True
                return False
        return True
