"""Rooms and memberships: create, update, delete, join, leave, roles, kicks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from twisted.logger import Logger

from lairchat.core import paging
from lairchat.core.deferreds import KeyedLocks, deferred
from lairchat.core.events import Event, OptedInAudience, RoomAudience
from lairchat.core.hub import Hub
from lairchat.domain import validation
from lairchat.domain.audit import AuditEntry
from lairchat.domain.errors import LairError, already_logged
from lairchat.domain.ids import new_id
from lairchat.domain.invitecodes import DEMOTED, KICKED, revoked_event
from lairchat.domain.types import Member, Membership, Room, User, moderates
from lairchat.storage.interfaces import IStore

T = TypeVar("T")


def parse_room_role(value: str) -> str:
    """The original's lenient parse: owner; moderator or admin; anything else member."""
    lowered = value.lower()
    if lowered == "owner":
        return "owner"
    if lowered in ("moderator", "admin"):
        return "moderator"
    return "member"


@dataclass(slots=True)
class RoomView:
    room: Room
    membership: Membership | None
    member_count: int


@dataclass(slots=True)
class RoomPage:
    items: list[tuple[Room, int, bool]]
    has_more: bool

    def to_wire(self) -> dict[str, Any]:
        rooms = [
            {"room": room.to_wire(), "member_count": count, "is_member": member}
            for room, count, member in self.items
        ]
        return {"rooms": rooms, "has_more": self.has_more, "total_count": len(rooms)}


class RoomService:
    log = Logger()

    def __init__(self, store: IStore, hub: Hub, clock):
        self.store = store
        self.hub = hub
        self.clock = clock
        #: Room id -> the lock of its membership changes in progress (:meth:`one_change`).
        self._changing = KeyedLocks()

    @asynccontextmanager
    async def one_change(self, room_id: str | None) -> AsyncIterator[None]:
        """One change that depends on a member's role at a time per room: leaves,
        role changes, kicks, updates, and (from their services) invitations and
        deletions of others' messages. Each checks owners (``last_owner``) or roles
        before its write: two owners leaving, or demoting each other, at once both
        counted two owners and left the room with none; a moderator demoted while
        their update, invitation or deletion ran still had it done."""
        async with self._changing.hold(room_id):
            yield

    async def _room(self, room_id: str | None) -> Room:
        room = await self.store.get_room(room_id) if room_id else None
        if room is None:
            raise LairError("room_not_found")
        return room

    async def _membership(self, room_id: str | None, user_id: str) -> Membership:
        membership = None
        if room_id and user_id:
            membership = await self.store.get_membership(room_id, user_id)
        if membership is None:
            raise LairError("not_room_member")
        return membership

    @deferred
    async def create(
        self, actor: User, name: str, description: str | None, settings: dict | None
    ) -> Room:
        name = validation.check_room_name(name)
        validation.check_description(description)
        is_private, max_members = self._settings(settings)
        now = self.clock.seconds()
        room = Room(new_id(), name, actor.id, description, is_private, max_members, now, now)
        await self.store.create_room(room, Membership(room.id, actor.id, "owner", now))
        self._admit(room.id, actor)
        if not room.is_private:
            # Lair Chat announces no new room (its clients see it at their next
            # list_rooms); clients that asked for lairchat's own events are told.
            self.hub.publish(
                Event(
                    {"type": "room_created", "room": room.to_wire(), "created_by": actor.id},
                    OptedInAudience(None),
                )
            )
        return room

    def _admit(self, room_id: str, user: User) -> None:
        """The hub's side of a new membership. The directory may not know an account
        made by another process (the operator command), and the room's later events
        (member_role_changed) name its members: the member's name is taught too."""
        self.hub.add_member(room_id, user.id)
        self.hub.set_name(user.id, user.username)

    async def tell_moderators(self, room_id: str, payloads: list[dict[str, Any]]) -> None:
        """Publish ``payloads`` (lairchat's own events) to the room's owners and
        moderators as they are now, those of their connections that asked. Their
        roles are read only if one of the room's members has such a connection."""
        asked = [
            user_id
            for user_id in self.hub.members(room_id)
            if any(sub.extended for sub in self.hub.connections_of(user_id))
        ]
        if not payloads or not asked:
            return
        try:
            members = await self.store.list_members(room_id)
        except Exception as e:
            # The change is made: a read failing here must not answer it as failed.
            if not already_logged(e):
                self.log.failure("reading the moderators of {room_id} failed", room_id=room_id)
            return
        wanted = set(asked)
        audience = OptedInAudience(
            tuple(m.user_id for m in members if m.user_id in wanted and moderates(m.role))
        )
        for payload in payloads:
            self.hub.publish(Event(payload, audience))

    async def _codes_gone(self, room_id: str, codes: list[str], by: str, reason: str) -> None:
        """The invite codes of a member kicked or demoted (``reason``) went with it."""
        await self.tell_moderators(room_id, [revoked_event(room_id, c, by, reason) for c in codes])

    @staticmethod
    def _settings(settings: dict | None) -> tuple[bool, int | None]:
        """Input ``{"public", "max_members"}`` → (is_private, max_members); absent = public."""
        settings = settings or {}
        public = settings.get("public")
        return (public is False), settings.get("max_members")

    @deferred
    async def get(self, actor: User | None, room_id: str | None) -> RoomView:
        room = await self._room(room_id)
        membership = None
        if actor is not None:
            membership = await self.store.get_membership(room.id, actor.id)
        return RoomView(room, membership, await self.store.member_count(room.id))

    @deferred
    async def update(
        self,
        actor: User,
        room_id: str | None,
        name: str | None = None,
        description: str | None = None,
        settings: dict | None = None,
        settings_given: bool = False,
    ) -> Room:
        # With the room's other changes, so that a moderator demoted or kicked while
        # this runs has either changed the room before or not at all.
        async with self.one_change(room_id):
            return await self._update(actor, room_id, name, description, settings, settings_given)

    async def _update(
        self,
        actor: User,
        room_id: str | None,
        name: str | None,
        description: str | None,
        settings: dict | None,
        settings_given: bool,
    ) -> Room:
        room = await self._room(room_id)
        membership = await self._membership(room.id, actor.id)
        if not membership.moderates:
            raise LairError("permission_denied")
        if name is not None:
            room.name = validation.check_room_name(name)
        if description is not None:
            room.description = validation.check_description(description)
        if settings_given:
            room.is_private, room.max_members = self._settings(settings)
        room.updated_at = self.clock.seconds()
        await self.store.update_room(room)
        if not self.hub.is_member(room.id, actor.id):
            # Deleted while this ran (see _change_role): nothing was updated.
            raise LairError("room_not_found")
        self.hub.publish(
            Event(
                {"type": "room_updated", "room": room.to_wire(), "changed_by": actor.id},
                RoomAudience(room.id),
            )
        )
        return room

    @deferred
    async def delete(
        self,
        actor: User,
        room_id: str | None,
        force: bool = False,
        audit: Callable[[Room], AuditEntry] | None = None,
    ) -> None:
        """The room's creator or one of its owners, unless ``force`` (the admin path).
        Checked in the deletion's own write: the deletion waits for none of the room's
        changes (:meth:`one_change`), and an owner demoted or kicked while it ran
        would otherwise have deleted the room afterwards. ``audit(room)``: the audit
        log's entry (the admin path), written with the deletion."""
        room = await self._room(room_id)
        entry = None if audit is None else audit(room)
        await self.store.delete_room(room.id, None if force else actor.id, entry)
        # Members are still in the hub's index here: they are the recipients.
        self.hub.publish(
            Event(
                {
                    "type": "room_deleted",
                    "room_id": room.id,
                    "room_name": room.name,
                    "deleted_by": actor.id,
                },
                RoomAudience(room.id),
            )
        )
        self.hub.drop_room(room.id)

    @deferred
    async def join(self, actor: User, room_id: str | None) -> tuple[Room, Membership]:
        room = await self._room(room_id)
        now = self.clock.seconds()
        invitation = await self.store.find_pending_invitation(room.id, actor.id, now)
        if room.is_private and invitation is None:
            raise LairError("room_private")
        # A private room is entered with the invitation: declined (or expired) since
        # it was read here, it lets no one in.
        entry = (invitation.id, "room_private") if room.is_private and invitation else None
        membership = await self.add_member(actor, room, invitation is not None, entry)
        # ``room`` was read from the database above (whole seconds, as the original's
        # re-read after joining); nothing else runs after the join is announced, so the
        # joiner's response precedes its own user_joined_room.
        return room, membership

    async def written_in(self, room: Room, write: Awaitable[T]) -> T:
        """``write``'s outcome, for a row that names ``room`` (a membership, an
        invitation). The room was read before, and its deletion waits for no change
        (:meth:`one_change`): deleted since, the row breaks a foreign key. Say what
        the same request a moment later would, ``room_not_found``, not
        ``internal_error``."""
        try:
            return await write
        except LairError:
            raise
        except Exception:
            if await self.store.get_room(room.id) is None:
                raise LairError("room_not_found") from None
            raise

    async def add_member(
        self,
        user: User,
        room: Room,
        accepting: bool,
        entry: tuple[str, str] | None = None,
        code: str | None = None,
    ) -> Membership:
        """Insert a membership (capacity and duplicate checks are atomic in storage),
        update the index and announce it. Shared by join, invitation accept and
        invite codes. ``entry``: ``(invitation id, error code)``, the invitation the
        user enters with; ``code``: the id of the invite code they enter with; each
        checked in the same write (IStore.add_membership)."""
        now = self.clock.seconds()
        membership = Membership(room.id, user.id, "member", now)
        accepted_at = now if accepting else None
        await self.written_in(
            room,
            self.store.add_membership(membership, room.max_members, accepted_at, entry, code),
        )
        self._admit(room.id, user)
        self.hub.publish(
            Event(
                {
                    "type": "user_joined_room",
                    "room_id": room.id,
                    "user": user.public_wire(),
                    "membership": membership.to_wire(),
                },
                RoomAudience(room.id),
            )
        )
        return membership

    async def _remove(self, room_id: str, user_id: str, reason: str) -> None:
        """Remove a membership the caller checked. Leaves and kicks wait for each
        other (:meth:`one_change`), not for the room's deletion: one whose delete
        finds no row answers ``not_room_member`` and announces nothing (the room
        heard ``room_deleted``)."""
        if not await self.store.remove_membership(room_id, user_id):
            raise LairError("not_room_member")
        self._removed(room_id, user_id, reason)

    def _removed(self, room_id: str, user_id: str, reason: str) -> None:
        """The hub's side of a membership removed, and its ``user_left_room``."""
        self.hub.remove_member(room_id, user_id)
        self.hub.publish(
            Event(
                {
                    "type": "user_left_room",
                    "room_id": room_id,
                    "user_id": user_id,
                    "reason": reason,
                },
                RoomAudience(room_id, also=(user_id,)),
            )
        )

    @deferred
    async def leave(self, actor: User, room_id: str | None) -> None:
        async with self.one_change(room_id):
            room = await self._room(room_id)
            membership = await self._membership(room.id, actor.id)
            if membership.role == "owner" and await self.store.count_owners(room.id) <= 1:
                raise LairError("last_owner")
            await self._remove(room.id, actor.id, "left")

    @deferred
    async def members(self, actor: User, room_id: str | None) -> list[Member]:
        room = await self._room(room_id)
        await self._membership(room.id, actor.id)
        members = await self.store.list_members(room.id)
        for member in members:
            member.is_online = self.hub.is_online(member.user_id)
        return members

    @deferred
    async def change_role(
        self, actor: User, room_id: str | None, user_id: str | None, role: str
    ) -> Member:
        async with self.one_change(room_id):
            return await self._change_role(actor, room_id, user_id, role)

    async def _change_role(
        self, actor: User, room_id: str | None, user_id: str | None, role: str
    ) -> Member:
        new_role = parse_room_role(role)
        mine = await self._membership(room_id, actor.id)
        if mine.role != "owner":
            raise LairError("permission_denied")
        theirs = await self._membership(room_id, user_id)
        if (
            theirs.role == "owner"
            and new_role != "owner"
            and await self.store.count_owners(room_id) <= 1
        ):
            raise LairError("last_owner")
        codes: list[str] = []
        if theirs.moderates and new_role == "member":
            # The invite codes they made go with the power to make them (HTTP.md,
            # "Invite codes"); before the role, so that none is used in between.
            codes = await self.store.delete_invite_codes_by(room_id, user_id)
        await self.store.set_member_role(room_id, user_id, new_role)
        if not self.hub.is_member(room_id, user_id):
            # The room was deleted while this ran (leaves and kicks wait for it): the
            # hub is updated right after each write and writes finish in order, so the
            # deletion came first and nothing was changed. No member_role_changed for
            # someone no longer there.
            raise LairError("not_room_member")
        username = self._role_changed(room_id, user_id, theirs.role, new_role, actor.id)
        await self._codes_gone(room_id, codes, actor.id, DEMOTED)
        return Member(user_id, username, new_role, theirs.joined_at, self.hub.is_online(user_id))

    def _role_changed(
        self, room_id: str, user_id: str, old_role: str, new_role: str, by: str
    ) -> str:
        """Announce a member's new role; return the member's name."""
        username = self.hub.username(user_id) or user_id
        self.hub.publish(
            Event(
                {
                    "type": "member_role_changed",
                    "room_id": room_id,
                    "user_id": user_id,
                    "username": username,
                    "old_role": old_role,
                    "new_role": new_role,
                    "changed_by": by,
                },
                RoomAudience(room_id),
            )
        )
        return username

    @deferred
    async def hand_over(self, user_id: str) -> None:
        """Take an account being deleted out of every room it is in or created, one
        room at a time, each with the room's other changes (:meth:`one_change`): a
        room left to no one is deleted (nobody is told: nobody is in it); one whose
        owner it was gets the longest-standing moderator, else member, as owner, of
        those who can act (not banned, not being deleted) if any
        (``member_role_changed``, ``changed_by`` the account); then the room hears
        ``user_left_room``, reason ``left`` (IStore.hand_over_room)."""
        for room_id in await self.store.rooms_to_hand_over(user_id):
            async with self.one_change(room_id):
                handover = await self.store.hand_over_room(room_id, user_id, self.clock.seconds())
            if handover is None:
                continue
            if handover.deleted:
                self.hub.drop_room(room_id)
                continue
            if handover.heir is not None:
                heir, old_role = handover.heir
                self._role_changed(room_id, heir, old_role, "owner", user_id)
            if handover.left:
                self._removed(room_id, user_id, "left")

    @deferred
    async def kick(self, actor: User, room_id: str | None, user_id: str | None) -> None:
        if user_id == actor.id:
            raise LairError("permission_denied")
        async with self.one_change(room_id):
            mine = await self._membership(room_id, actor.id)
            theirs = await self._membership(room_id, user_id)
            allowed = mine.role == "owner" or (mine.moderates and not theirs.moderates)
            if not allowed:
                raise LairError("permission_denied")
            # Their invite codes go first: a kicked moderator would walk back into a
            # private room with one (HTTP.md, "Invite codes"). Still a member until
            # the next write, they can use none in between (already_member).
            codes = await self.store.delete_invite_codes_by(room_id, user_id)
            await self._remove(room_id, user_id, "kicked")
            await self._codes_gone(room_id, codes, actor.id, KICKED)

    @deferred
    async def list_public(
        self, actor: User | None, limit: int | None, offset: int, search: str | None = None
    ) -> RoomPage:
        if search and len(search) > validation.ROOM_NAME_MAX:
            # No room name is that long (see UserService.list).
            return RoomPage([], paging.has_more(0, limit))
        rows = await self.store.list_public_rooms(paging.cap(limit), offset, search)
        items = [
            (room, count, actor is not None and self.hub.is_member(room.id, actor.id))
            for room, count in rows
        ]
        return RoomPage(items, paging.has_more(len(items), limit))

    @deferred
    async def list_joined(self, actor: User, limit: int | None, offset: int) -> RoomPage:
        rows = await self.store.list_joined_rooms(actor.id, paging.cap(limit), offset)
        return RoomPage(
            [(room, count, True) for room, count in rows], paging.has_more(len(rows), limit)
        )
