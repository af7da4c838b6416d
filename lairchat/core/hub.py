"""The hub: who is connected, who is in which room, and event fan-out.

Membership and presence live here in memory, updated by the services right after
the database write that changes them, so delivering an event never touches the
database. Presence counts authenticated connections of every transport together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from twisted.logger import Logger
from zope.interface import Attribute, Interface

from lairchat.core.events import (
    Event,
    EveryoneAudience,
    RoomAudience,
    UserAudience,
)


class ISubscriber(Interface):
    """An authenticated real-time connection, as the hub sees it."""

    user_id = Attribute("The connected user's id.")
    session_id = Attribute("The id of the session the connection authenticated with.")

    def send_event(event):
        """Deliver one event (already encoded on first use; must not block)."""

    def close(reason):
        """Close the connection, e.g. after logout or a ban; ``reason`` is for the log."""


class Hub:
    log = Logger()

    def __init__(self) -> None:
        self._by_user: dict[str, set] = defaultdict(set)
        self._by_session: dict[str, set] = defaultdict(set)
        self._rooms: dict[str, set[str]] = defaultdict(set)
        self._names: dict[str, str] = {}
        self.deliveries = 0

    # -- directory and membership ---------------------------------------------------

    def load(self, memberships: Iterable[tuple[str, str]], names: dict[str, str]) -> None:
        for room_id, user_id in memberships:
            self._rooms[room_id].add(user_id)
        self._names.update(names)

    def set_name(self, user_id: str, username: str) -> None:
        self._names[user_id] = username

    def username(self, user_id: str) -> str | None:
        return self._names.get(user_id)

    def user_exists(self, user_id: str) -> bool:
        return user_id in self._names

    def add_member(self, room_id: str, user_id: str) -> None:
        self._rooms[room_id].add(user_id)

    def remove_member(self, room_id: str, user_id: str) -> None:
        members = self._rooms.get(room_id)
        if members is not None:
            members.discard(user_id)

    def drop_room(self, room_id: str) -> None:
        self._rooms.pop(room_id, None)

    def is_member(self, room_id: str, user_id: str) -> bool:
        members = self._rooms.get(room_id)
        return members is not None and user_id in members

    def rooms_of(self, user_id: str) -> list[str]:
        """The user's rooms (a scan: for occasional queries, never for fan-out)."""
        return [room_id for room_id, users in self._rooms.items() if user_id in users]

    def members(self, room_id: str) -> frozenset[str]:
        return frozenset(self._rooms.get(room_id, ()))

    # -- presence -------------------------------------------------------------------

    def attach(self, sub: object) -> None:
        """Register an authenticated connection; the user's first one announces them."""
        user_id = sub.user_id
        first = not self._by_user.get(user_id)
        if first:
            self.publish(
                Event(
                    {
                        "type": "user_online",
                        "user_id": user_id,
                        "username": self._names.get(user_id, user_id),
                    },
                    EveryoneAudience(exclude=sub),
                )
            )
        self._by_user[user_id].add(sub)
        self._by_session[sub.session_id].add(sub)

    def detach(self, sub: object) -> None:
        """Forget a connection; the user's last one going away announces them offline."""
        user_id = sub.user_id
        conns = self._by_user.get(user_id)
        if not conns or sub not in conns:
            return
        conns.discard(sub)
        session = self._by_session.get(sub.session_id)
        if session is not None:
            session.discard(sub)
            if not session:
                del self._by_session[sub.session_id]
        if not conns:
            del self._by_user[user_id]
            self.publish(
                Event(
                    {
                        "type": "user_offline",
                        "user_id": user_id,
                        "username": self._names.get(user_id, user_id),
                    },
                    EveryoneAudience(),
                )
            )

    def is_online(self, user_id: str) -> bool:
        return bool(self._by_user.get(user_id))

    def online_user_ids(self) -> list[str]:
        return list(self._by_user)

    def connection_count(self) -> int:
        return sum(len(c) for c in self._by_user.values())

    def connections_of(self, user_id: str) -> frozenset:
        return frozenset(self._by_user.get(user_id, ()))

    # -- revocation -----------------------------------------------------------------

    def close_session(self, session_id: str, reason: str) -> None:
        for sub in list(self._by_session.get(session_id, ())):
            sub.close(reason)

    def close_user(self, user_id: str, reason: str) -> None:
        for sub in list(self._by_user.get(user_id, ())):
            sub.close(reason)

    # -- fan-out --------------------------------------------------------------------

    def recipients(self, event: Event) -> list:
        audience = event.audience
        by_user = self._by_user
        if isinstance(audience, EveryoneAudience):
            return [s for conns in by_user.values() for s in conns if s is not audience.exclude]
        if isinstance(audience, RoomAudience):
            users: Iterable[str] = self._rooms.get(audience.room_id, set())
            if audience.also:
                users = set(users).union(audience.also)
        elif isinstance(audience, UserAudience):
            users = dict.fromkeys(audience.user_ids)  # DM to self: one copy per connection
        else:  # pragma: no cover - the Audience union is closed
            raise TypeError(audience)
        skip = audience.exclude_user
        return [s for u in users if u != skip for s in by_user.get(u, ())]

    def publish(self, event: Event) -> int:
        """Deliver ``event`` to every recipient connection; return how many."""
        targets = self.recipients(event)
        for sub in targets:
            try:
                sub.send_event(event)
            except Exception:
                self.log.failure("delivering {type} failed", type=event.type)
        self.deliveries += len(targets)
        return len(targets)
