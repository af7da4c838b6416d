"""Typing indicators, as the original documents them: sent to the other participants,
at most once per 3 seconds per user and target. Nothing is stored."""

from __future__ import annotations

from twisted.logger import Logger
from twisted.python.failure import Failure

from lairchat.core.bounded import forget_expired, forget_oldest
from lairchat.core.events import Event, target_audience
from lairchat.core.hub import Hub
from lairchat.core.users import UserService
from lairchat.domain.errors import already_logged
from lairchat.domain.types import Target, User

TYPING_INTERVAL = 3.0
#: Bound on remembered (user, target) pairs; the oldest are forgotten first.
TYPING_TRACKED_MAX = 100_000


class TypingService:
    log = Logger()

    def __init__(self, hub: Hub, clock, users: UserService):
        self.hub = hub
        self.clock = clock
        self.users = users
        self._last: dict[tuple[str, Target], float] = {}

    def typing(self, actor: User, target: Target) -> bool:
        """Announce; return False when dropped (throttled, not a member, no such user)
        or not announced yet: a DM recipient the hub does not know is looked up first
        (:meth:`UserService.known`), and announced to then if found."""
        if target.kind == "room":
            if not self.hub.is_member(target.id, actor.id):
                return False
        elif not self.hub.user_exists(target.id):
            self.users.known(target.id).addCallbacks(
                lambda found: found and self.typing(actor, target), self._lookup_failed
            )
            return False
        now = self.clock.seconds()
        key = (actor.id, target)
        last = self._last.pop(key, None)
        if last is not None and now - last < TYPING_INTERVAL:
            self._last[key] = last
            return False
        # Re-inserted, so the table stays in the order of last announcement.
        self._last[key] = now
        # What throttles nothing any more goes: a room deleted long ago, say.
        forget_expired(self._last, lambda _, last: now - last >= TYPING_INTERVAL)
        forget_oldest(self._last, TYPING_TRACKED_MAX)
        self.hub.publish(
            Event(
                {"type": "user_typing", "user_id": actor.id, "target": target.to_wire()},
                target_audience(target, actor.id, exclude_user=actor.id),
            )
        )
        return True

    def _lookup_failed(self, failure: Failure) -> None:
        """Typing has no response to carry an error: the notice is dropped, and the
        failure logged (unless the store did already)."""
        if not already_logged(failure.value):
            self.log.failure("looking up the recipient of a typing notice failed", failure)
