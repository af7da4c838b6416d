"""The hub: who is connected, who is in which room, and event fan-out.

Membership and presence live here in memory, updated by the services right after
the database write that changes them, so delivering an event never touches the
database. Presence counts authenticated connections of every transport together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from twisted.logger import Logger
from zope.interface import Attribute, Interface

from lairchat.core.events import (
    Event,
    EveryoneAudience,
    RoomAudience,
    UserAudience,
)
from lairchat.outbox import Outbox


class ISubscriber(Interface):
    """An authenticated real-time connection, as the hub sees it."""

    user_id = Attribute("The connected user's id.")
    session_id = Attribute("The id of the session the connection authenticated with.")
    fast = Attribute(
        "None, or ``(encode, write)`` while the connection can take an event's bytes "
        "as they are: the hub then calls ``write(encode(event))`` instead of "
        "``send_event(event)``. ``encode`` caches its result on the event, so one "
        "encoding serves every recipient of that wire format."
    )

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
        self._user_rooms: dict[str, set[str]] = defaultdict(set)
        #: room -> the connections of its members, rebuilt after membership or
        #: presence changes; fan-out to a room is then one list walk.
        self._room_subs: dict[str, list] = {}
        self._names: dict[str, str] = {}
        #: Events published inside :meth:`batch`, delivered when it ends.
        self._batched: list[Event] | None = None
        #: Joins each connection's writes inside a batch into one send (transports
        #: that write through it).
        self.outbox = Outbox()
        self.deliveries = 0

    # -- directory and membership ---------------------------------------------------

    def load(self, memberships: Iterable[tuple[str, str]], names: dict[str, str]) -> None:
        for room_id, user_id in memberships:
            self.add_member(room_id, user_id)
        self._names.update(names)

    def set_name(self, user_id: str, username: str) -> None:
        self._names[user_id] = username

    def username(self, user_id: str) -> str | None:
        return self._names.get(user_id)

    def user_exists(self, user_id: str) -> bool:
        return user_id in self._names

    def add_member(self, room_id: str, user_id: str) -> None:
        self._rooms[room_id].add(user_id)
        self._user_rooms[user_id].add(room_id)
        self._room_subs.pop(room_id, None)

    def remove_member(self, room_id: str, user_id: str) -> None:
        members = self._rooms.get(room_id)
        if members is not None:
            members.discard(user_id)
        self._user_rooms.get(user_id, set()).discard(room_id)
        self._room_subs.pop(room_id, None)

    def drop_room(self, room_id: str) -> None:
        for user_id in self._rooms.pop(room_id, ()):
            self._user_rooms.get(user_id, set()).discard(room_id)
        self._room_subs.pop(room_id, None)

    def _presence_changed(self, user_id: str) -> None:
        for room_id in self._user_rooms.get(user_id, ()):
            self._room_subs.pop(room_id, None)

    def is_member(self, room_id: str, user_id: str) -> bool:
        members = self._rooms.get(room_id)
        return members is not None and user_id in members

    def rooms_of(self, user_id: str) -> list[str]:
        return list(self._user_rooms.get(user_id, ()))

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
        self._presence_changed(user_id)

    def detach(self, sub: object) -> None:
        """Forget a connection; the user's last one going away announces them offline."""
        user_id = sub.user_id
        conns = self._by_user.get(user_id)
        if not conns or sub not in conns:
            return
        conns.discard(sub)
        self._presence_changed(user_id)
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

    def room_connections(self, room_id: str) -> list:
        subs = self._room_subs.get(room_id)
        if subs is None:
            by_user = self._by_user
            subs = [s for u in self._rooms.get(room_id, ()) for s in by_user.get(u, ())]
            self._room_subs[room_id] = subs
        return subs

    def recipients(self, event: Event) -> list:
        audience = event.audience
        by_user = self._by_user
        if isinstance(audience, EveryoneAudience):
            return [s for conns in by_user.values() for s in conns if s is not audience.exclude]
        if isinstance(audience, RoomAudience):
            subs = self.room_connections(audience.room_id)
            if audience.also:
                extra = set(audience.also).difference(self._rooms.get(audience.room_id, ()))
                subs = subs + [s for u in extra for s in by_user.get(u, ())]
            skip = audience.exclude_user
            return subs if skip is None else [s for s in subs if s.user_id != skip]
        if isinstance(audience, UserAudience):
            skip = audience.exclude_user
            # dict.fromkeys: a DM to oneself is one copy per connection, not two.
            users = dict.fromkeys(audience.user_ids)
            return [s for u in users if u != skip for s in by_user.get(u, ())]
        raise TypeError(audience)  # pragma: no cover - the Audience union is closed

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold what is published inside, then deliver it in order when the block ends.

        A run of consecutive events to the same room reaches each connection that can
        take raw bytes as one write of their joined encodings: a group commit of N
        messages costs a room of R members R writes, not N × R."""
        if self._batched is not None:  # nested: the outer batch delivers
            yield
            return
        self._batched = []
        with self.outbox.held():
            try:
                yield
            finally:
                events, self._batched = self._batched, None
                self.deliver(events)

    def publish(self, event: Event) -> int:
        """Deliver ``event`` to every recipient connection; return how many (0 inside
        :meth:`batch`, which delivers when it ends)."""
        if self._batched is not None:
            self._batched.append(event)
            return 0
        return self.deliver([event])

    def deliver(self, events: list[Event]) -> int:
        """Deliver ``events`` in order; return the number of deliveries."""
        total, i, n = 0, 0, len(events)
        while i < n:
            audience = events[i].audience
            j = i + 1
            if type(audience) is RoomAudience and not audience.also and not audience.exclude_user:
                while j < n and events[j].audience == audience:
                    j += 1
                total += self._deliver_run(events[i:j], self.room_connections(audience.room_id))
            else:
                total += self._deliver_run(events[i:j], self.recipients(events[i]))
            i = j
        self.deliveries += total
        return total

    def _deliver_run(self, events: list[Event], targets: list) -> int:
        """The hottest loop in the server: a connection that can take bytes as they are
        (``fast``) gets the run's cached encodings joined, in one write."""
        joined: dict = {}
        for sub in targets:
            try:
                fast = sub.fast
                if fast is None:
                    for event in events:
                        sub.send_event(event)
                    continue
                encode = fast[0]
                data = joined.get(encode)
                if data is None:
                    data = joined[encode] = b"".join([encode(event) for event in events])
                fast[1](data)
            except Exception:
                self.log.failure("delivering {type} failed", type=events[0].type)
        return len(targets) * len(events)
