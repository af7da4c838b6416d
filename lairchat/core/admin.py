"""Administration: statistics, server bans, forced room deletion, notices.

Only users whose *stored* role is ``admin`` may call these (the token's role claim
is never trusted for authorization).
"""

from __future__ import annotations

from typing import Any

from lairchat.core.audit import page as audit_page
from lairchat.core.audit import record
from lairchat.core.deferreds import deferred
from lairchat.core.deletion import AccountDeletion
from lairchat.core.events import Event, EveryoneAudience
from lairchat.core.hub import Hub
from lairchat.core.rooms import RoomService
from lairchat.domain.errors import LairError, validation_failed
from lairchat.domain.timefmt import ts
from lairchat.domain.types import Ban, User
from lairchat.domain.validation import DESCRIPTION_MAX, size_problem
from lairchat.storage.interfaces import IStore

NOTICE_SEVERITIES = ("info", "warning", "critical")
#: Longest timed ban (100 years); longer is what "permanent" (no duration) is for.
MAX_BAN_HOURS = 876_000
#: Longest ban reason in bytes of UTF-8 (our bound, a room description's).
BAN_REASON_MAX = DESCRIPTION_MAX
#: What a timed ban's duration must be, as the API and the operator command say it.
BAN_HOURS_RULE = f"must be more than 0 and at most {MAX_BAN_HOURS}"


def ban_reason_problem(reason: str) -> str | None:
    """Why a ban reason is refused, or None: at most :data:`BAN_REASON_MAX` bytes (the
    original sets no bound; unbounded, every ban could store two megabytes)."""
    return size_problem(reason, BAN_REASON_MAX)


def check_ban_reason(reason: str | None) -> str | None:
    """The one rule on ban reasons (None: no reason), for the API; the ``lairchat``
    command states :func:`ban_reason_problem` as a usage error."""
    if reason is not None and (problem := ban_reason_problem(reason)):
        raise validation_failed("reason", problem)
    return reason


def check_ban_hours(duration_hours: float | None) -> float | None:
    """The one rule on ban durations (None: permanent), for the API and the ``lairchat``
    command alike. NaN and infinity fail the comparison and are refused with the rest."""
    if duration_hours is not None and not 0 < duration_hours <= MAX_BAN_HOURS:
        raise validation_failed("duration_hours", BAN_HOURS_RULE)
    return duration_hours


def ban_expiry(now: float, duration_hours: float | None) -> float | None:
    """When a ban made at ``now`` ends (None: never), once the duration is checked."""
    hours = check_ban_hours(duration_hours)
    return None if hours is None else now + hours * 3600


class AdminService:
    def __init__(
        self, store: IStore, hub: Hub, clock, rooms: RoomService, deletion: AccountDeletion
    ):
        self.store = store
        self.hub = hub
        self.clock = clock
        self.rooms = rooms
        self.deletion = deletion

    async def require_admin(self, actor: User) -> User:
        """The caller as stored (its name now, for the audit log), if an admin."""
        stored = await self.store.get_user(actor.id)
        if stored is None or stored.role != "admin":
            raise LairError("permission_denied")
        return stored

    @deferred
    async def stats(self, actor: User) -> dict[str, Any]:
        await self.require_admin(actor)
        counts = await self.store.counts()
        return {
            "total_users": counts["users"],
            "total_rooms": counts["rooms"],
            "online_users": len(self.hub.online_user_ids()),
            "total_messages": counts["messages"],
            "connections": self.hub.connection_count(),
        }

    @deferred
    async def delete_user(
        self, actor: User, user_id: str | None, password: str | None, source: str = ""
    ) -> None:
        """Delete another account for good, as ``lairchat admin delete-user`` does.
        The admin's own password is asked first, as for their own account
        (:meth:`AccountDeletion.confirm`): a stolen admin token alone must not erase
        accounts and their history. Their own account goes through
        ``DELETE /users/me``; the last admin is kept. Fires once the account's
        sessions have ended and its rooms are handed over (the erasure goes on)."""
        admin = await self.require_admin(actor)
        await self.deletion.confirm(actor, password, source)
        if user_id == actor.id:
            raise LairError(
                "permission_denied",
                "Permission denied: delete your own account with DELETE /api/v1/users/me",
            )
        target = await self.store.get_user(user_id) if user_id else None
        if target is None:
            raise LairError("user_not_found")
        entry = record(admin, "user.delete", target, self.clock.seconds())
        await self.deletion.delete(target.id, keep_an_admin=True, audit=entry)

    @deferred
    async def ban(
        self, actor: User, user_id: str | None, reason: str | None, duration_hours: float | None
    ) -> dict[str, Any]:
        """Ban a user: their sessions are deleted and live connections closed at once.
        Admins may ban admins (an account may be stolen), but not while banned
        themselves (:meth:`IStore.put_ban`): two crossing bans leave one admin."""
        admin = await self.require_admin(actor)
        target = await self._target(user_id)
        if target.id == actor.id:
            raise LairError("permission_denied", "Permission denied: cannot ban yourself")
        expires, _ = await self.impose_ban(target, reason, admin, duration_hours)
        return {"success": True, "expires_at": None if expires is None else ts(expires)}

    async def _target(self, user_id: str | None) -> User:
        target = await self.store.get_user(user_id) if user_id else None
        if target is None:
            raise LairError("user_not_found")
        return target

    @deferred
    async def impose_ban(
        self, target: User, reason: str | None, by: User | None, duration_hours: float | None
    ) -> tuple[float | None, list[str]]:
        """The ban itself, for the API (``by``: the admin) and the operator command
        (``by`` None): stored with its audit entry, every session of the user deleted
        and their live connections here closed. Returns its expiry (None: permanent)
        and the ids of the sessions ended."""
        check_ban_reason(reason)
        now = self.clock.seconds()
        expires = ban_expiry(now, duration_hours)
        until = None if expires is None else ts(expires)
        entry = record(by, "user.ban", target, now, reason=reason, until=until)
        by_id = None if by is None else by.id
        await self.store.put_ban(Ban(target.id, reason, by_id, now, expires), entry)
        sessions = await self.store.delete_user_sessions(target.id)
        self.hub.revoke_user(target.id, sessions, "banned", LairError("account_banned"))
        return expires, sessions

    @deferred
    async def unban(self, actor: User, user_id: str | None) -> None:
        admin = await self.require_admin(actor)
        await self.lift_ban(await self._target(user_id), admin)

    @deferred
    async def lift_ban(self, target: User, by: User | None) -> bool:
        """Lift the user's ban, for the API (``by``: the admin) and the operator
        command (None); True if one was in force (then, only, it is in the audit log:
        a ban run out already let its user in)."""
        now = self.clock.seconds()
        entry = record(by, "user.unban", target, now)
        return await self.store.delete_ban(target.id, None if by is None else by.id, now, entry)

    @deferred
    async def delete_room(self, actor: User, room_id: str | None) -> None:
        admin = await self.require_admin(actor)
        now = self.clock.seconds()
        await self.rooms.delete(
            actor, room_id, force=True, audit=lambda room: record(admin, "room.delete", room, now)
        )

    @deferred
    async def audit(
        self,
        actor: User,
        limit: int | None,
        before: str | None,
        action: str | None,
        subject_id: str | None,
        actor_id: str | None,
    ) -> dict[str, Any]:
        """``GET /admin/audit``: a page of the audit log, newest first."""
        await self.require_admin(actor)
        entries, more = await audit_page(self.store, limit, before, action, subject_id, actor_id)
        return {"entries": [e.to_wire() for e in entries], "has_more": more}

    def notice(self, message: str, severity: str = "info") -> int:
        """Broadcast a ``server_notice`` to every connection (e.g. before shutdown)."""
        if severity not in NOTICE_SEVERITIES:
            raise validation_failed("severity", "must be info, warning or critical")
        return self.hub.publish(
            Event(
                {"type": "server_notice", "message": message, "severity": severity},
                EveryoneAudience(),
            )
        )
