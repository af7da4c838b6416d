"""The terminal bell, for a mention or a direct message in a conversation not shown.

Rate-limited: a busy room whose people keep naming you, or a flood of DMs, rings once
per :data:`BELL_GAP` seconds rather than once a message (a bell is a sound, or a
flash, or an urgency hint to the window manager: one says enough). The controller
rings it only for live ``message_received`` events, so history pages and catching up
after a reconnection never ring (see ``ConversationsMixin._unread_arrival``).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["BELL_GAP", "Bell"]

#: Seconds after a ring during which another is left out.
BELL_GAP = 5.0


class Bell:
    """Rings through ``write`` (BEL sent to urwid's screen), at most once per
    :data:`BELL_GAP` seconds of ``clock`` (the reactor's ``seconds``)."""

    def __init__(
        self, clock: Callable[[], float], write: Callable[[], None], enabled: bool = True
    ) -> None:
        self.clock = clock
        self.write = write
        self.enabled = enabled
        self._last: float | None = None

    def ring(self) -> bool:
        """Ring, unless switched off or rung less than :data:`BELL_GAP` ago; whether
        it rang."""
        now = self.clock()
        if not self.enabled or (self._last is not None and now - self._last < BELL_GAP):
            return False
        self._last = now
        self.write()
        return True
