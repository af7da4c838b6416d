"""Users: profiles, listing with presence, roles."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.python.failure import Failure

from lairchat.core import paging
from lairchat.core.deferreds import deferred
from lairchat.core.events import ConnectionsAudience, Event
from lairchat.core.hub import Hub
from lairchat.domain import validation
from lairchat.domain.audit import AuditEntry
from lairchat.domain.errors import LairError
from lairchat.domain.types import SYSTEM_ROLES, User
from lairchat.storage.interfaces import IStore


def signed_in_as(sub: Any) -> User | None:
    """The account a real-time connection signed in as, as it was then (its role
    kept up to date by :meth:`UserService.role_now`); None for one that keeps none."""
    return getattr(sub, "user", None)


class UserService:
    def __init__(self, store: IStore, hub: Hub, clock):
        self.store = store
        self.hub = hub
        self.clock = clock
        #: User id -> the callers waiting for its lookup (:meth:`known`).
        self._asking: dict[str, list[defer.Deferred]] = {}

    def known(self, user_id: str) -> defer.Deferred:
        """Fires with whether the user exists, for the paths that address a user by id
        (a DM, typing to one). The hub's directory answers without a query, but it is
        loaded at start and taught only the accounts made here: one made by another
        process writing the same database (``lairchat admin create-user`` while the
        server runs) was refused as ``user_not_found`` until a restart. So an id the
        hub does not know is looked up, and a user found is taught to the hub. Callers
        asking about one id while its lookup runs share it, and are answered in the
        order they asked (two messages to a new user keep their order)."""
        if self.hub.user_exists(user_id):
            return defer.succeed(True)
        waiter: defer.Deferred = defer.Deferred()
        waiting = self._asking.get(user_id)
        if waiting is not None:
            waiting.append(waiter)
        else:
            self._asking[user_id] = [waiter]  # before asking: the answer may come at once
            self.store.get_user(user_id).addBoth(self._found, user_id)
        return waiter

    def _found(self, outcome: User | None | Failure, user_id: str) -> None:
        waiting = self._asking.pop(user_id)
        if isinstance(outcome, User):
            self.hub.set_name(outcome.id, outcome.username)
        for waiter in waiting:
            if isinstance(outcome, Failure):
                waiter.errback(outcome)
            else:
                waiter.callback(outcome is not None)

    @deferred
    async def get(self, user_id: str | None) -> User:
        user = await self.store.get_user(user_id) if user_id else None
        if user is None:
            raise LairError("user_not_found")
        return user

    @deferred
    async def update_profile(self, actor: User, email: str | None) -> User:
        if email is not None:
            email = validation.check_email(email)
        user = await self.store.update_user_email(actor.id, email, self.clock.seconds())
        if user is None:
            raise LairError("user_not_found")
        return user

    @deferred
    async def list(
        self, limit: int | None, offset: int, search: str | None = None
    ) -> tuple[list[User], bool]:
        if search and len(search) > validation.USERNAME_MAX:
            # No username is that long, so nothing can match; and SQLite refuses LIKE
            # patterns over 50 000 bytes, which a real-time frame can carry.
            return [], paging.has_more(0, limit)
        users = await self.store.list_users(paging.cap(limit), offset, search)
        return users, paging.has_more(len(users), limit)

    def listing_to_wire(self, users: list[User], more: bool) -> dict[str, Any]:
        items = [{"user": u.to_wire(), "online": self.hub.is_online(u.id)} for u in users]
        return {"users": items, "has_more": more, "total_count": len(items)}

    @deferred
    async def set_role(self, user_id: str, role: str, audit: AuditEntry | None = None) -> User:
        """``audit``: the audit log's entry, written with the change if it is one."""
        if role not in SYSTEM_ROLES:
            raise LairError(
                "validation_failed",
                f"Validation failed: role - must be one of {', '.join(SYSTEM_ROLES)}",
            )
        user = await self.store.set_role(user_id, role, audit)
        if user is None:
            raise LairError("user_not_found")
        self.role_now(user)
        return user

    def role_now(self, user: User) -> bool:
        """``user`` as stored now: their connections that signed in with another
        system role hold this one from now on, and their connections that asked for
        lairchat's own events are told (``system_role_changed``, with the account as
        ``get_current_user`` answers it); a connection that holds it already (one
        that signed in after the change) is not. For a change made here
        (:meth:`set_role`), and one another process made (``lairchat admin
        set-role``), which :class:`lairchat.revocation.RoleWatcher` finds. True if
        any connection was stale."""
        stale = [
            sub
            for sub in self.hub.connections_of(user.id)
            if (held := signed_in_as(sub)) is not None and held.role != user.role
        ]
        if not stale:
            return False
        for sub in stale:
            sub.user = user
        payload = {"type": "system_role_changed", "user": user.to_wire()}
        self.hub.publish(Event(payload, ConnectionsAudience(tuple(stale))))
        return True
