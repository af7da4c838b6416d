"""The hub: who is connected, who is in which room, and event fan-out.

Membership and presence live here in memory, updated by the services right after
the database write that changes them, so delivering an event never touches the
database. Presence counts authenticated connections of every transport together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from twisted.logger import Logger
from zope.interface import Attribute, Interface

from lairchat.core.bounded import forget_oldest
from lairchat.core.events import (
    ConnectionsAudience,
    Event,
    EveryoneAudience,
    OptedInAudience,
    RoomAudience,
    UserAudience,
)
from lairchat.domain.errors import LairError
from lairchat.domain.lookalike import LookalikeIndex
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

    extended = Attribute(
        "True if the client asked for lairchat's own event types "
        "(events.LAIRCHAT_EVENTS); only then does it get OptedInAudience's events."
    )

    backlogged = Attribute(
        "True while the connection's socket buffer is full (its reader is behind); "
        "the connection tells the hub with :meth:`Hub.set_backlogged`."
    )

    def send_event(event):
        """Deliver one event (already encoded on first use; must not block)."""

    def pause_reading():
        """Stop reading the client's frames (back-pressure); frames already read
        are still handled."""

    def resume_reading():
        """Read the client's frames again."""

    def close(reason, notice=None):
        """Close the connection, e.g. after logout or a ban; ``reason`` is for the log,
        ``notice`` (a LairError), if any, is told to the client first."""


#: How long a reader's socket may stay full before the transports shed it as a slow
#: consumer (transports/backpressure.py): a delivery rule, so it is the hub's.
SLOW_GRACE = 10.0
#: The longest a sender's reading is paused at a time by back-pressure: the same
#: grace, so readers that are stalled rather than slow are shed, not waited for.
MAX_SENDER_PAUSE = SLOW_GRACE
#: Ended sessions remembered (:meth:`Hub.ended`): a token is checked within
#: milliseconds of its session being read, far fewer sessions end meanwhile.
ENDED_TRACKED_MAX = 10_000


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
        #: Back-pressure: how many of a room's connections are backlogged (counted
        #: with its connection list, kept up to date after), and the senders whose
        #: reading is paused until the room they sent to is no longer congested.
        self._room_backlog: dict[str, int] = {}
        self._paused: dict[str, set] = {}
        self._paused_in: dict[object, str] = {}
        self.senders_paused = 0
        self._names: dict[str, str] = {}
        #: Every name known here and every one being registered, by how it looks: a
        #: registration must not look like either (:mod:`lairchat.domain.lookalike`).
        self.lookalikes = LookalikeIndex()
        #: Events published inside :meth:`batch`, delivered when it ends.
        self._batched: list[Event] | None = None
        #: Joins each connection's writes inside a batch into one send (transports
        #: that write through it).
        self.outbox = Outbox()
        self.deliveries = 0
        #: Sessions ended here (:meth:`close_session`), with the notice their
        #: connections got: a connection whose token was checked before its session
        #: ended is refused by it (:meth:`ended`) rather than attached. Ids are never
        #: reused; bounded, the oldest forgotten first.
        self._ended: dict[str, Any] = {}

    # -- directory and membership ---------------------------------------------------

    def load(self, memberships: Iterable[tuple[str, str]], names: dict[str, str]) -> None:
        for room_id, user_id in memberships:
            self.add_member(room_id, user_id)
        self._names.update(names)
        pairs = self.lookalikes.load(names)
        if pairs:
            self.log.warn(
                "{pairs} pair(s) of usernames look alike (Unicode's confusables): they"
                " keep working, and no new name may look like any of them"
                " (docs/SECURITY.md, look-alike usernames)",
                pairs=pairs,
            )

    def set_name(self, user_id: str, username: str) -> None:
        """Teach the directory a user (one made by another process, say: the
        operator's ``lairchat admin create-user`` while the server runs)."""
        self._names[user_id] = username
        self.lookalikes.add(user_id, username)

    def forget_user(self, user_id: str, rowid: int) -> None:
        """The user (row ``rowid`` of ``users``) was deleted: no longer in the
        directory, and their name free for a new account."""
        self._names.pop(user_id, None)
        self.lookalikes.forget(user_id, rowid)

    def username(self, user_id: str) -> str | None:
        return self._names.get(user_id)

    def user_exists(self, user_id: str) -> bool:
        return user_id in self._names

    def add_member(self, room_id: str, user_id: str) -> None:
        self._rooms[room_id].add(user_id)
        self._user_rooms[user_id].add(room_id)
        self._room_changed(room_id)

    def remove_member(self, room_id: str, user_id: str) -> None:
        members = self._rooms.get(room_id)
        if members is not None:
            members.discard(user_id)
        self._user_rooms.get(user_id, set()).discard(room_id)
        self._room_changed(room_id)

    def drop_room(self, room_id: str) -> None:
        for user_id in self._rooms.pop(room_id, ()):
            self._user_rooms.get(user_id, set()).discard(room_id)
        self._room_changed(room_id)

    def _presence_changed(self, user_id: str) -> None:
        for room_id in list(self._user_rooms.get(user_id, ())):
            self._room_changed(room_id)

    def _room_changed(self, room_id: str) -> None:
        """Who is in the room, or connected, changed: rebuild its list on next use."""
        self._room_subs.pop(room_id, None)
        self._room_backlog.pop(room_id, None)
        if room_id in self._paused:
            self._release_if_clear(room_id)

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
        self._forget_paused(sub)
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

    def connections_held(self, user_id: str) -> Collection:
        """The user's connections as the hub holds them, not copied as by
        :meth:`connections_of`: for a reader done with them before anything else
        runs (attach and detach change them), as ``RoleWatcher``
        (``lairchat.revocation``) is with each connected user's."""
        return self._by_user.get(user_id, ())

    def session_ids(self) -> list[str]:
        """The ids of the sessions connected now, read from the hub's own index
        rather than from every connection."""
        return list(self._by_session)

    # -- revocation -----------------------------------------------------------------

    def close_session(self, session_id: str, reason: str, notice: Any = None) -> None:
        """Close the session's connections (``notice`` first), now and for one still
        authenticating with it (:meth:`ended`)."""
        self.sessions_ended((session_id,), notice)
        for sub in list(self._by_session.get(session_id, ())):
            sub.close(reason, notice)

    def sessions_ended(self, session_ids: Iterable[str], notice: Any = None) -> None:
        """Refuse these sessions to a connection still authenticating with one, with
        ``notice`` (:meth:`ended`); their live connections are closed apart."""
        for session_id in session_ids:
            self._ended[session_id] = notice
        forget_oldest(self._ended, ENDED_TRACKED_MAX)

    def ended(self, session_id: str) -> LairError | None:
        """Why a connection may not attach with this session (ended by
        :meth:`close_session` after its token was checked); None if it may."""
        if session_id not in self._ended:
            return None
        return self._ended[session_id] or LairError("session_not_found")

    def session_user(self, session_id: str) -> str | None:
        """The user a connected session belongs to; None if none of its connections is."""
        for sub in self._by_session.get(session_id, ()):
            return sub.user_id
        return None

    def revoke_user(
        self, user_id: str, session_ids: Iterable[str], reason: str, notice: Any = None
    ) -> None:
        """The user's sessions ``session_ids`` were deleted (a ban, an account
        deletion): refuse them to a connection still authenticating, and close
        every live connection of the user, ``notice`` first."""
        self.sessions_ended(session_ids, notice)
        self.close_user(user_id, reason, notice)

    def close_user(self, user_id: str, reason: str, notice: Any = None) -> None:
        for sub in list(self._by_user.get(user_id, ())):
            sub.close(reason, notice)

    # -- fan-out --------------------------------------------------------------------

    def room_connections(self, room_id: str) -> list:
        subs = self._room_subs.get(room_id)
        if subs is None:
            members = self._rooms.get(room_id)
            if members is None:
                return []  # deleted, or never known: nothing kept for it
            by_user = self._by_user
            subs = [s for u in members for s in by_user.get(u, ())]
            self._room_subs[room_id] = subs
            self._room_backlog[room_id] = sum(1 for s in subs if s.backlogged)
        return subs

    # -- back-pressure --------------------------------------------------------------
    #
    # When most of a room's readers are behind, the server stops reading from the
    # connections that send to it, until most have caught up; a sender is then read
    # again (and what it sent meanwhile waits in its own socket, not in our memory).
    # A majority is needed, per room: one stalled reader slows no one (it is shed as
    # a slow consumer after the grace, see transports/backpressure.py). A sender is
    # paused for MAX_SENDER_PAUSE at most (its session releases it): if the readers
    # are stalled rather than slow, what it sends next makes them slow consumers, and
    # they are shed after the same grace.

    def congested(self, room_id: str) -> bool:
        """Whether more than half of the room's connections are backlogged."""
        if self._room_backlog.get(room_id) == 0:  # asked on every message to the room
            return False
        subs = self.room_connections(room_id)
        return 2 * self._room_backlog.get(room_id, 0) > len(subs)  # none kept: deleted

    def throttle(self, room_id: str, sender: object) -> bool:
        """Called after ``sender`` sent to the room: pause its reading while the room
        is congested. True if it was paused."""
        if (
            self._room_backlog.get(room_id) == 0  # the common case, decided without a call
            or sender in self._paused_in
            or not self.congested(room_id)
        ):
            return False
        sender.pause_reading()
        self._paused.setdefault(room_id, set()).add(sender)
        self._paused_in[sender] = room_id
        self.senders_paused += 1
        return True

    def set_backlogged(self, sub: object) -> None:
        """``sub.backlogged`` changed: count it in its rooms, and resume the senders
        of rooms that are congested no longer."""
        if sub not in self._by_user.get(sub.user_id, ()):
            return  # not attached: counted when it is
        step = 1 if sub.backlogged else -1
        for room_id in list(self._user_rooms.get(sub.user_id, ())):
            if room_id in self._room_backlog:
                self._room_backlog[room_id] += step
            if step < 0 and room_id in self._paused:
                self._release_if_clear(room_id)

    def release(self, sender: object) -> None:
        """Read ``sender`` again, congested or not (see MAX_SENDER_PAUSE)."""
        if self._forget_paused(sender):
            sender.resume_reading()

    def _forget_paused(self, sender: object) -> bool:
        room_id = self._paused_in.pop(sender, None)
        if room_id is None:
            return False
        waiting = self._paused[room_id]
        waiting.discard(sender)
        if not waiting:
            del self._paused[room_id]
        return True

    def _release_if_clear(self, room_id: str) -> None:
        if self.congested(room_id):
            return
        for sender in self._paused.pop(room_id, ()):
            del self._paused_in[sender]
            sender.resume_reading()

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
        if isinstance(audience, OptedInAudience):
            ids = by_user if audience.user_ids is None else dict.fromkeys(audience.user_ids)
            return [s for u in ids for s in by_user.get(u, ()) if s.extended]
        if isinstance(audience, ConnectionsAudience):  # still attached, if held in a batch
            return [
                s for s in audience.connections if s.extended and s in by_user.get(s.user_id, ())
            ]
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
                while j < n and (events[j].audience is audience or events[j].audience == audience):
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
