"""Room invite codes: a room's owners and moderators make, list and revoke them;
anyone signed in joins the room with one (docs/protocols/HTTP.md, "Invite codes").

Lair Chat has none: ours, beside the per-user invitations (core/invitations.py). A
code lets its holder into a private room too. Joining goes through
``RoomService.add_member``, as a join and an invitation's acceptance do: its checks
(already a member, the room full or gone) and its event (``user_joined_room``) are
theirs; the code's own (expired, used up, revoked meanwhile) is decided in the same
write, which counts the use. A wrong code counts against the caller's *auth* rate
allowance, as a wrong password does, and once that is used up every code is refused
until the window ends: 128 random bits are not guessed, and nobody gets to try.

The room's owners and moderators whose clients asked for lairchat's own events are
told of a code made, used, revoked, or deleted with its maker's kick or demotion
(``invite_code_created``, ``invite_code_used``, ``invite_code_revoked``: what the
listing shows, never the code), so each one's list follows the others'.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from twisted.internet import defer
from twisted.logger import Logger

from lairchat.core.deferreds import deferred
from lairchat.core.hub import Hub
from lairchat.core.ratelimit import RateLimiter, refused, user_key
from lairchat.core.rooms import RoomService
from lairchat.domain.errors import LairError, already_logged
from lairchat.domain.ids import new_id
from lairchat.domain.invitecodes import (
    PREFIX_LENGTH,
    REVOKED,
    InviteCode,
    check_limits,
    code_hash,
    new_code,
    not_found,
    revoked_event,
    well_formed,
)
from lairchat.domain.types import Membership, Room, User
from lairchat.storage.interfaces import IStore

#: The rate allowance a wrong code counts against (docs/protocols/HTTP.md, "Rate limits").
TIER = "auth"


class InviteCodeService:
    log = Logger()

    def __init__(self, store: IStore, hub: Hub, clock, rooms: RoomService):
        self.store = store
        self.hub = hub
        self.clock = clock
        self.rooms = rooms
        #: The rate limiter to count wrong codes on (Core.build: the core's).
        self.limiter_of: Callable[[], RateLimiter] = lambda: RateLimiter(clock, enabled=False)

    async def _moderated(self, actor: User, room_id: str | None) -> Room:
        """The room, if the actor is one of its owners or moderators now (the rule
        of a room's update and of inviting over HTTP: ``Membership.moderates``)."""
        room = await self.rooms._room(room_id)
        membership = await self.rooms._membership(room.id, actor.id)
        if not membership.moderates:
            raise LairError("permission_denied")
        return room

    @deferred
    async def create(
        self, actor: User, room_id: str | None, max_uses: int | None, hours: int | None
    ) -> InviteCode:
        """A new code for the room, its text in the answer alone. Runs with the room's
        role changes and kicks (RoomService.one_change): a moderator demoted or kicked
        meanwhile made it before that, or not at all."""
        async with self.rooms.one_change(room_id):
            room = await self._moderated(actor, room_id)
            max_uses, hours = check_limits(max_uses, hours)
            now = math.floor(self.clock.seconds())  # as read back: whole seconds
            text = new_code()
            code = InviteCode(
                new_id(),
                room.id,
                text[:PREFIX_LENGTH],
                actor.id,
                now,
                now + hours * 3600,
                max_uses,
                created_by_name=actor.username,
                code=text,
            )
            await self.rooms.written_in(room, self.store.create_invite_code(code, code_hash(text)))
            await self._tell(room.id, "invite_code_created", code)
        return code

    async def _tell(self, room_id: str, kind: str, code: InviteCode) -> None:
        payload = {"type": kind, "room_id": room_id, "invite_code": code.to_wire(secret=False)}
        await self.rooms.tell_moderators(room_id, [payload])

    @deferred
    async def of_room(self, actor: User, room_id: str | None) -> list[InviteCode]:
        """The room's live codes (neither expired nor used up), newest first, for its
        owners and moderators: each by its id and prefix, never its text."""
        room = await self._moderated(actor, room_id)
        return await self.store.list_invite_codes(room.id, self.clock.seconds())

    @deferred
    async def revoke(self, actor: User, room_id: str | None, code_id: str | None) -> None:
        """Delete one of the room's codes (any of them: whoever made it). An unknown
        id, or one of another room, is ``invite_code_not_found``."""
        async with self.rooms.one_change(room_id):
            room = await self._moderated(actor, room_id)
            if code_id is None or not await self.store.delete_invite_code(room.id, code_id):
                raise not_found()
            event = revoked_event(room.id, code_id, actor.id, REVOKED)
            await self.rooms.tell_moderators(room.id, [event])

    @deferred
    async def join(self, actor: User, text: str | None) -> tuple[Room, Membership]:
        """Join the code's room, as ``RoomService.join`` answers. A code that is
        malformed, unknown, expired, used up or revoked is ``invite_code_not_found``
        whichever it is, and counts against the caller's *auth* allowance; with that
        used up, ``rate_limited`` before the code is looked at. Every try is counted
        while it runs and given back unless the code was wrong: counted only once
        found wrong, tries sent at once all passed a limit none had reached yet."""
        key = user_key(actor.id)
        limiter = self.limiter_of()
        decision = limiter.hit(TIER, key)
        if not decision.allowed:
            raise refused(decision)
        wrong = True
        try:
            found = None
            if well_formed(text):
                found = await self.store.find_invite_code(code_hash(text), self.clock.seconds())
            if found is None:
                raise not_found()
            try:
                room = await self.rooms._room(found.room_id)
                # A pending invitation to the room is settled by the join, as RoomService.join's.
                membership = await self.rooms.add_member(actor, room, accepting=True, code=found.id)
            except LairError as error:
                if error.code in ("invite_code_not_found", "room_not_found"):
                    # Used up, revoked or gone with its room since it was read.
                    raise not_found() from None
                wrong = False
                raise
            wrong = False
        finally:
            if not wrong:
                limiter.give_back(TIER, key)
        # Not waited for: the joiner is not told, and the room is theirs already.
        defer.ensureDeferred(self._used(found))
        return room, membership

    async def _used(self, code: InviteCode) -> None:
        """Tell the room's moderators of the use just counted: the code as stored now,
        its ``uses`` at ``max_uses`` if used up (the listing no longer shows it). One
        gone since (revoked, which said so) or expired since is not told: the list
        has it no longer, and a count it never reached would be told otherwise."""
        try:
            now = await self.store.invite_code(code.room_id, code.id)
        except Exception as e:
            if not already_logged(e):
                self.log.failure(
                    "reading the invite codes of {room_id} failed", room_id=code.room_id
                )
            return
        if now is not None and now.expires_at > self.clock.seconds():
            await self._tell(code.room_id, "invite_code_used", now)
