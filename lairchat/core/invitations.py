"""Invitations: create, list, accept (joins the room), decline, revoke. They expire
after 7 days."""

from __future__ import annotations

from lairchat.core import paging
from lairchat.core.deferreds import deferred
from lairchat.core.events import Event, OptedInAudience, UserAudience
from lairchat.core.hub import Hub
from lairchat.core.rooms import RoomService
from lairchat.domain.errors import LairError
from lairchat.domain.ids import new_id
from lairchat.domain.types import Invitation, Membership, Room, User
from lairchat.storage.interfaces import IStore

INVITATION_LIFETIME = 7 * 24 * 3600
#: Pending invitations listed at most (as every other list's largest page).
LISTED_MAX = 100


class InvitationService:
    def __init__(self, store: IStore, hub: Hub, clock, rooms: RoomService):
        self.store = store
        self.hub = hub
        self.clock = clock
        self.rooms = rooms

    @deferred
    async def create(
        self, actor: User, room_id: str | None, user_id: str | None, moderators_only: bool
    ) -> Invitation:
        """Invite ``user_id``. HTTP requires a room owner or moderator (``moderators_only``)
        and checks membership before existence; the real-time command, as in the
        original, lets any member invite and reports an unknown room first. Runs
        with the room's role changes and kicks (RoomService.one_change): an inviter
        demoted or kicked meanwhile has invited before that, or not at all."""
        async with self.rooms.one_change(room_id):
            return await self._create(actor, room_id, user_id, moderators_only)

    async def _create(
        self, actor: User, room_id: str | None, user_id: str | None, moderators_only: bool
    ) -> Invitation:
        if moderators_only:
            membership = await self.store.get_membership(room_id, actor.id) if room_id else None
            if membership is None:
                raise LairError("not_room_member")
            if not membership.moderates:
                raise LairError("permission_denied")
            room = await self.rooms._room(room_id)
        else:
            room = await self.rooms._room(room_id)
            await self.rooms._membership(room.id, actor.id)
        invitee = await self.store.get_user(user_id) if user_id else None
        if invitee is None:
            raise LairError("user_not_found")
        now = self.clock.seconds()
        invitation = Invitation(
            new_id(),
            room.id,
            actor.id,
            invitee.id,
            "pending",
            now,
            now + INVITATION_LIFETIME,
            room_name=room.name,
            inviter_name=actor.username,
            invitee_name=invitee.username,
        )
        # Membership (already_member) and pending duplicates (already_invited) are
        # checked in the write: one who joined meanwhile is not invited.
        await self.rooms.written_in(room, self.store.create_invitation(invitation, now))
        self.hub.publish(
            Event(
                {"type": "invitation_received", "invitation": invitation.to_wire()},
                UserAudience((invitee.id,)),
            )
        )
        return invitation

    @deferred
    async def pending(
        self, actor: User, limit: int | None = None, offset: int = 0
    ) -> tuple[list[Invitation], bool]:
        """The caller's pending invitations, newest first: a page of ``limit`` (at most
        :data:`LISTED_MAX`, the default) after ``offset``, and whether there are more.
        Unbounded, a user invited to some 2,000 rooms got a list larger than a frame
        may be (1 MiB): ``internal_error`` instead of any invitation."""
        size = paging.bounded(limit, LISTED_MAX)
        found = await self.store.list_pending_invitations(
            actor.id, self.clock.seconds(), size + 1, offset
        )
        return paging.split(found, size)

    @deferred
    async def of_room(
        self, actor: User, room_id: str | None, limit: int | None = None, offset: int = 0
    ) -> tuple[list[Invitation], bool]:
        """A room's pending invitations, newest first, a page of ``limit`` (at most
        :data:`LISTED_MAX`) after ``offset``, and whether there are more, for its owners
        and moderators (our addition): whoever would revoke one (:meth:`revoke`) and
        did not send it had no way to learn its id, the case of an invitation from a
        moderator since demoted or kicked. Checks as a room update."""
        room = await self.rooms._room(room_id)
        membership = await self.rooms._membership(room.id, actor.id)
        if not membership.moderates:
            raise LairError("permission_denied")
        size = paging.bounded(limit, LISTED_MAX)
        found = await self.store.list_room_invitations(
            room.id, self.clock.seconds(), size + 1, offset
        )
        return paging.split(found, size)

    async def _respondable(self, actor: User, invitation_id: str | None) -> Invitation:
        invitation = await self.store.get_invitation(invitation_id) if invitation_id else None
        if invitation is None:
            raise LairError("invitation_not_found")
        if invitation.invitee_id != actor.id:
            raise LairError("not_invitee")
        if invitation.status != "pending" or self.clock.seconds() >= invitation.expires_at:
            raise LairError("invitation_expired")
        return invitation

    @deferred
    async def accept(self, actor: User, invitation_id: str | None) -> tuple[Membership, Room]:
        invitation = await self._respondable(actor, invitation_id)
        room = await self.rooms._room(invitation.room_id)
        # Answered meanwhile (a decline), it admits no one: checked in the same write.
        entry = (invitation.id, "invitation_expired")
        membership = await self.rooms.add_member(actor, room, accepting=True, entry=entry)
        return membership, room

    @deferred
    async def decline(self, actor: User, invitation_id: str | None) -> None:
        invitation = await self._respondable(actor, invitation_id)
        # Accepted (or expired) since it was read: answered once, by what came first.
        if not await self.store.set_invitation_status(
            invitation.id, "declined", self.clock.seconds()
        ):
            raise LairError("invitation_expired")

    @deferred
    async def revoke(self, actor: User, invitation_id: str | None) -> None:
        """Withdraw a pending invitation (our addition: Lair Chat has none, so one sent by
        mistake to a private room, or by a moderator since demoted or kicked, let its
        invitee in for its 7 days). Its inviter while still a member, or any owner or
        moderator of the room, may; the invitee declines instead. Someone who is none of
        invitee, inviter or member is not told it exists (``invitation_not_found``).
        Stored as ``cancelled``, the status Lair Chat defines and never writes: it then
        answers accept and join as a declined one does. Runs with the room's role
        changes and kicks (RoomService.one_change): a moderator demoted or kicked
        meanwhile revoked before that, or not at all. No event type for it is one the
        original's client knows (docs/architecture.md, "Decisions"): only clients that
        asked for lairchat's own events (the invitee's and the inviter's) are told,
        ``invitation_revoked``."""
        invitation = await self.store.get_invitation(invitation_id) if invitation_id else None
        if invitation is None:
            raise LairError("invitation_not_found")
        async with self.rooms.one_change(invitation.room_id):
            membership = await self.store.get_membership(invitation.room_id, actor.id)
            if membership is None and actor.id not in (
                invitation.inviter_id,
                invitation.invitee_id,
            ):
                raise LairError("invitation_not_found")
            if membership is None or not (
                membership.moderates or actor.id == invitation.inviter_id
            ):
                raise LairError("permission_denied")
            # Answered, revoked or expired since it was read: answered once, by what came
            # first (the write checks it is still pending, as decline's does). Gone with
            # its room (whose deletion waits for no change): as a moment later.
            if not await self.store.set_invitation_status(
                invitation.id, "cancelled", self.clock.seconds()
            ):
                if await self.store.get_invitation(invitation.id) is None:
                    raise LairError("invitation_not_found")
                raise LairError("invitation_expired")
        self.hub.publish(
            Event(
                {
                    "type": "invitation_revoked",
                    "invitation_id": invitation.id,
                    "room_id": invitation.room_id,
                    "revoked_by": actor.id,
                },
                OptedInAudience((invitation.invitee_id, invitation.inviter_id)),
            )
        )
