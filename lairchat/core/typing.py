"""Typing indicators, as the original documents them: sent to the other participants,
at most once per 3 seconds per user and target. Nothing is stored."""

from __future__ import annotations

from lairchat.core.bounded import forget_oldest
from lairchat.core.events import Event, target_audience
from lairchat.core.hub import Hub
from lairchat.domain.types import Target, User

TYPING_INTERVAL = 3.0
#: Bound on remembered (user, target) pairs; the oldest are forgotten first.
TYPING_TRACKED_MAX = 100_000


class TypingService:
    def __init__(self, hub: Hub, clock):
        self.hub = hub
        self.clock = clock
        self._last: dict[tuple[str, Target], float] = {}

    def typing(self, actor: User, target: Target) -> bool:
        """Announce; return False when dropped (throttled, not a member, no such user)."""
        if target.kind == "room":
            if not self.hub.is_member(target.id, actor.id):
                return False
        elif not self.hub.user_exists(target.id):
            return False
        now = self.clock.seconds()
        key = (actor.id, target)
        last = self._last.pop(key, None)
        if last is not None and now - last < TYPING_INTERVAL:
            self._last[key] = last
            return False
        # Re-inserted, so the table stays in the order of last announcement.
        self._last[key] = now
        forget_oldest(self._last, TYPING_TRACKED_MAX)
        self.hub.publish(
            Event(
                {"type": "user_typing", "user_id": actor.id, "target": target.to_wire()},
                target_audience(target, actor.id, exclude_user=actor.id),
            )
        )
        return True
