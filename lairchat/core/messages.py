"""Messages: send, edit, delete, history with paging, unread counts and read markers.

Sending never reads the database: membership and the user directory are in the hub.
A message is acknowledged only after the commit that stores it; messages sent while
one commit is running share the next one (group commit).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from twisted.internet import defer
from twisted.python.failure import Failure

from lairchat.core import paging
from lairchat.core.deferreds import KeyedLocks, deferred
from lairchat.core.events import Event, OptedInAudience, target_audience
from lairchat.core.groupcommit import GroupCommit, settle
from lairchat.core.hub import Hub
from lairchat.core.rooms import RoomService
from lairchat.core.users import UserService
from lairchat.domain import search, validation
from lairchat.domain.errors import LairError, validation_failed
from lairchat.domain.ids import new_ordered_id, parse_uuid
from lairchat.domain.timefmt import parse_ts
from lairchat.domain.types import Message, Target, User
from lairchat.storage.interfaces import IStore


@dataclass(slots=True)
class HistoryPage:
    messages: list[Message]
    has_more: bool
    #: Paged forward (``after`` alone): the page's far end is its newest message.
    forward: bool = False
    #: The messages' reactions (store.reactions_of), or None: a page whose messages
    #: carry no ``reactions`` field (search's).
    reactions: dict[str, list[dict[str, Any]]] | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"messages": [self._wire(m) for m in self.messages], "has_more": self.has_more}

    def _wire(self, message: Message) -> dict[str, Any]:
        """A message as the page shows it: with its ``reactions`` last, in history."""
        if self.reactions is None:
            return message.to_wire()
        return {**message.to_wire(), "reactions": self.reactions.get(message.id, [])}

    def _reactions_size(self, message: Message) -> int:
        """At most how many bytes the message's reactions add as JSON: 64 per emoji
        and 40 per user id listed (ids are 36 characters, quoted, comma)."""
        if not self.reactions:
            return 0
        shown = self.reactions.get(message.id, ())
        return sum(64 + 6 * len(r["emoji"]) + 40 * len(r["user_ids"]) for r in shown)

    def within(self, budget: int) -> HistoryPage:
        """The page cut to at most ``budget`` bytes of messages as JSON, dropping from
        its far end (the oldest messages; paging forward, the newest), with
        ``has_more`` then set, so that the client pages on to what was cut. For the
        real-time protocols, whose frames hold 1 MiB: 100 messages of 4 KiB content
        in control characters (6 bytes each as JSON) need 2.4 MiB."""
        # A message's JSON is at most 6 bytes per character of content (a \u00XX
        # escape) and well under 512 besides: most pages are sure to fit unencoded.
        # Reactions add at most what _reactions_size says.
        if sum(6 * len(m.content) + 512 + self._reactions_size(m) for m in self.messages) <= budget:
            return self
        kept = self.messages[::-1] if self.forward else list(self.messages)
        used = sum(len(orjson.dumps(self._wire(m))) + 1 for m in kept)
        if used <= budget:
            return self
        while kept and used > budget:
            used -= len(orjson.dumps(self._wire(kept.pop()))) + 1
        return HistoryPage(kept[::-1] if self.forward else kept, True, self.forward, self.reactions)


@dataclass(slots=True)
class SearchPage:
    """A page of search matches, newest first; ``next_before`` is where the next page
    starts (the last message examined), None when nothing older matches."""

    messages: list[Message]
    has_more: bool
    next_before: str | None

    def to_wire(self) -> dict[str, Any]:
        return {
            "messages": [m.to_wire() for m in self.messages],
            "has_more": self.has_more,
            "next_before": self.next_before,
        }

    def within(self, budget: int) -> SearchPage:
        """The page cut as :meth:`HistoryPage.within` cuts, the next page then starting
        after the oldest match kept. A message's JSON is at most 24.5 KiB (4 KiB of
        content, 6 bytes a byte): one always fits a real-time frame."""
        cut = HistoryPage(self.messages, self.has_more).within(budget)
        if len(cut.messages) == len(self.messages):
            return self
        return SearchPage(cut.messages, True, cut.messages[-1].id)


def _naming(failure: Failure, message: Message) -> Failure:
    """A failed send whose message may be stored all the same (the store says
    ``"stored": "unknown"`` in the error's details: a message writer died with it
    and none could find out) names the message's id, so that its client can look
    for it in history before it sends it again (docs/protocols/TCP.md, "Storage
    faults"). The batch's error is shared by its senders: each gets a copy."""
    error = failure.value
    details = getattr(error, "details", None)
    if not isinstance(error, LairError) or not details or details.get("stored") != "unknown":
        return failure
    named = copy.copy(error)
    named.details = {**details, "message_id": message.id}
    return Failure(named)


def _in_conversation(message: Message, target: Target, viewer_id: str) -> bool:
    """Whether ``message`` belongs to the room or DM conversation ``target`` names."""
    if target.kind == "room":
        return message.target == target
    return message.target.kind == "dm" and {message.author, message.target.id} == {
        viewer_id,
        target.id,
    }


class MessageService:
    def __init__(self, store: IStore, hub: Hub, clock, users: UserService, rooms: RoomService):
        self.store = store
        self.hub = hub
        self.clock = clock
        self.users = users
        self.rooms = rooms
        self.accepted = 0
        self.commits: GroupCommit[Message] = GroupCommit(store.insert_messages, hub.batch)
        #: Read markers moved while one such write runs share the next transaction. A
        #: web client marks its open conversation read a second after each message:
        #: one transaction (a sync to disk, on the writer the other writes wait for)
        #: per reader per message in a busy room, not one per message.
        self.markers: GroupCommit[tuple[str, Target, int]] = GroupCommit(self._move_markers)
        #: One search read at a time per user: each may hold a read thread for its
        #: time bound (lairchat.domain.search), and the pool has two.
        self._searching = KeyedLocks()

    def check_target(self, actor: User, target: Target) -> None:
        """Room: the actor must be a member; DM: the recipient must exist (as far as
        the hub knows: see :meth:`reachable`)."""
        if target.kind == "room":
            if not self.hub.is_member(target.id, actor.id):
                raise LairError("not_room_member")
        elif not self.hub.user_exists(target.id):
            raise LairError("user_not_found")

    async def reachable(self, actor: User, target: Target) -> None:
        """:meth:`check_target`, asking the store about a DM recipient the hub does not
        know (:meth:`UserService.known`)."""
        if target.kind == "dm" and not await self.users.known(target.id):
            raise LairError("user_not_found")
        self.check_target(actor, target)

    def send(self, actor: User, target: Target, content: str) -> defer.Deferred:
        """Validate, store durably, then announce; fires with the message."""
        d: defer.Deferred = defer.Deferred()
        try:
            self.submit(actor, target, content, settle, d)
        except LairError:
            return defer.fail()
        return d

    def submit(
        self,
        actor: User,
        target: Target,
        content: str,
        done: Callable[..., Any],
        *args: Any,
        cause: Any = None,
    ) -> None:
        """:meth:`send` for the hottest path (real-time ``send_message``): no Deferred.
        Raises :class:`LairError` at once for a message that cannot be sent; else,
        once it is stored and announced, calls ``done(message, *args)`` (or
        ``done(failure, *args)`` if the commit failed). Reads nothing from the
        database, but for a DM recipient the hub does not know (:meth:`reachable`),
        whose ``user_not_found`` then comes through ``done``. ``cause`` is passed on as
        the event's (Event.cause)."""
        validation.check_content(content)
        if target.kind == "dm" and not self.hub.user_exists(target.id):
            d = defer.ensureDeferred(self.reachable(actor, target))
            d.addCallbacks(
                lambda _: self._commit(actor, target, content, done, args, cause),
                lambda failure: done(failure, *args),
            )
            return
        self.check_target(actor, target)
        self._commit(actor, target, content, done, args, cause)

    def submit_run(
        self,
        actor: User,
        sends: list[tuple[Target, str]],
        done: Callable[[list[Any]], Any],
        cause: Any = None,
    ) -> None:
        """:meth:`submit` for a run of messages to rooms from one sender (a read's
        ``send_message`` frames): each checked as :meth:`submit` checks it, those
        accepted stored in one transaction, then ``done(outcomes)`` called once with
        every message's outcome in order (the Message, or a Failure). Room targets
        only: then nothing is read from the database before the commit."""
        outcomes: list[Any] = []
        accepted: list[Message] = []
        now = self.clock.seconds()
        for target, content in sends:
            try:
                validation.check_content(content)
                self.check_target(actor, target)
            except LairError:
                outcomes.append(Failure())
                continue
            message = self._new(actor, target, content, now)
            accepted.append(message)
            outcomes.append(message)
        if accepted:
            self.commits.submit_run(accepted, self._stored_run, outcomes, actor, cause, done)
        else:
            done(outcomes)

    def _new(self, actor: User, target: Target, content: str, now: float) -> Message:
        """A new message, its wire shape built once for its event and its response."""
        message = Message(new_ordered_id(), actor.id, target, content, False, now, now)
        message.wire = message.to_wire()
        return message

    def _commit(
        self,
        actor: User,
        target: Target,
        content: str,
        done: Callable[..., Any],
        args: tuple,
        cause: Any,
    ) -> None:
        message = self._new(actor, target, content, self.clock.seconds())
        self.commits.submit(message, self._stored, message, actor, cause, done, args)

    def _stored_run(
        self,
        results: list[Any],
        outcomes: list[Any],
        actor: User,
        cause: Any,
        done: Callable[[list[Any]], Any],
    ) -> None:
        """:meth:`_stored` for a run: ``results`` are the commit's, one per message
        accepted; ``outcomes`` the run's, a Failure where a message was refused."""
        stored = iter(results)
        for i, message in enumerate(outcomes):
            if type(message) is Message:
                outcomes[i] = self._announce(next(stored), message, actor, cause)
        done(outcomes)

    def _stored(
        self,
        outcome: Any,
        message: Message,
        actor: User,
        cause: Any,
        done: Callable[..., Any],
        args: tuple,
    ) -> None:
        done(self._announce(outcome, message, actor, cause), *args)

    def _announce(self, outcome: Any, message: Message, actor: User, cause: Any) -> Any:
        """Once the commit is done: announce a stored message and return it, or return
        the commit's failure (naming the message where it may be stored all the same)."""
        if isinstance(outcome, Failure):
            return _naming(outcome, message)
        self.accepted += 1
        self.hub.publish(
            Event(
                {
                    "type": "message_received",
                    "message": message.wire,
                    "author_username": actor.username,
                },
                target_audience(message.target, actor.id),
                cause=cause,
            )
        )
        return message

    async def _own(self, message_id: str | None) -> Message:
        message = await self.store.get_message(message_id) if message_id else None
        if message is None:
            raise LairError("message_not_found")
        return message

    @deferred
    async def edit(self, actor: User, message_id: str | None, content: str) -> Message:
        message = await self._own(message_id)
        if message.author != actor.id:
            raise LairError("not_message_author")
        validation.check_content(content)
        previous, message.content, message.edited = message.content, content, True
        message.updated_at = self.clock.seconds()
        if not await self.store.update_message_content(message.id, content, message.updated_at):
            # Deleted since it was read: announcing the edit would bring it back.
            raise LairError("message_not_found")
        self.hub.publish(
            Event(
                {
                    "type": "message_edited",
                    "message": message.to_wire(),
                    "previous_content": previous,
                },
                target_audience(message.target, message.author),
            )
        )
        return message

    @deferred
    async def delete(self, actor: User, message_id: str | None) -> None:
        message = await self._own(message_id)
        if message.author == actor.id:
            await self._delete(actor, message)
        elif message.target.kind == "room":
            # With the room's role changes and kicks (RoomService.one_change): a
            # moderator demoted while this ran has deleted before or not at all.
            async with self.rooms.one_change(message.target.id):
                membership = await self.store.get_membership(message.target.id, actor.id)
                if membership is None or not membership.moderates:
                    raise LairError("permission_denied")
                await self._delete(actor, message)
        else:
            raise LairError("permission_denied")

    async def _delete(self, actor: User, message: Message) -> None:
        if not await self.store.delete_message(message.id):
            raise LairError("message_not_found")  # deleted meanwhile: announced once
        self.hub.publish(
            Event(
                {
                    "type": "message_deleted",
                    "message_id": message.id,
                    "target": message.target.to_wire(),
                    "deleted_by": actor.id,
                },
                target_audience(message.target, message.author),
            )
        )

    async def _bound(self, value: str | None, name: str) -> tuple[str, float] | None:
        """``before``/``after``: a message id (exclusive cursor) or an RFC 3339 time."""
        if value is None or value == "":
            return None
        message_id = parse_uuid(value)
        if message_id is not None:
            seq = await self.store.seq_of(message_id)
            if seq is None:
                raise LairError("message_not_found")
            return ("seq", seq)
        moment = parse_ts(value)
        if moment is None:
            raise validation_failed(name, "must be a message id or an RFC 3339 timestamp")
        return ("time", moment)

    @deferred
    async def history(
        self,
        actor: User,
        target: Target,
        limit: int | None,
        before: str | None = None,
        after: str | None = None,
    ) -> HistoryPage:
        """Newest first. ``has_more`` is true when older (or, paging with ``after``
        alone, newer) messages exist beyond this page."""
        await self.reachable(actor, target)
        size = paging.cap(limit)
        rows = await self.store.history(
            target,
            actor.id,
            size + 1,
            await self._bound(before, "before"),
            await self._bound(after, "after"),
        )
        # Checked again once read: a member kicked (or leaving) while the page was
        # being read would get messages sent after they left. The hub is updated
        # right after the removal's write, before a read that saw later messages.
        self.check_target(actor, target)
        forward = after is not None and before is None
        if forward:
            more, rows = len(rows) > size, rows[-size:] if size else []
        else:
            more, rows = len(rows) > size, rows[:size]
        reactions = await self.store.reactions_of([m.id for m in rows], actor.id)
        return HistoryPage(rows, more, forward, reactions)

    @deferred
    async def search(
        self,
        actor: User,
        query: Any,
        target: Target | None,
        limit: Any = None,
        before: Any = None,
        author: Any = None,
        since: Any = None,
        until: Any = None,
    ) -> SearchPage:
        """Messages whose content holds ``query`` (lairchat.domain.search), newest
        first, in ``target`` or (None) everywhere the actor reads: the rooms they are
        a member of now and their DMs; only ``author``'s (a user id) and those created
        from ``since`` up to ``until`` when given, and then ``query`` may be blank.
        Checked as :meth:`history` checks, before the read and again after it: a match
        from a room left meanwhile, or a DM with a user deleted meanwhile, is dropped.
        Every argument but ``target`` is taken as sent (any JSON value): a bad one is
        ``validation_failed``."""
        filters = search.filters(author, since, until)
        match, size = search.matcher(query, filters.asked), search.page_size(limit)
        if target is not None:
            await self.reachable(actor, target)
        seq = None
        if before is not None and before != "":
            cursor_id = parse_uuid(before)
            if cursor_id is None:
                raise validation_failed("before", "must be a message id")
            cursor = await self.store.get_message(cursor_id)
            if cursor is None or not await self._readable(actor, cursor, target):
                raise LairError("message_not_found")
            seq = cursor.seq
        async with self._searching.hold(actor.id):
            rooms = self.hub.rooms_of(actor.id) if target is None else []
            found, last, more = await self.store.search_messages(
                actor.id,
                target,
                rooms,
                seq,
                match,
                size,
                search.SCAN_MAX,
                search.SCAN_SECONDS,
                filters,
            )
        if target is not None:
            self.check_target(actor, target)
        kept = [m for m in found if target is not None or await self._readable(actor, m, None)]
        return SearchPage(kept, more, last if more else None)

    async def _readable(self, actor: User, message: Message, target: Target | None) -> bool:
        """Whether ``message`` is in ``target`` (None: anywhere the actor reads now)."""
        if target is not None:
            return _in_conversation(message, target, actor.id)
        if message.target.kind == "room":
            return self.hub.is_member(message.target.id, actor.id)
        partner = message.author if message.target.id == actor.id else message.target.id
        return actor.id in (message.author, message.target.id) and await self.users.known(partner)

    @deferred
    async def mark_read(self, actor: User, target: Target, up_to: str | None) -> dict[str, int]:
        """Move the read marker to ``up_to`` (a message id) or the newest message;
        return the conversation's remaining unread count and how many of those
        mention the actor, as both transports answer them: ``{"unread_count": n,
        "mention_count": m}``."""
        await self.reachable(actor, target)
        if up_to is not None:
            message_id = parse_uuid(up_to)
            message = await self.store.get_message(message_id) if message_id else None
            if message is None or not _in_conversation(message, target, actor.id):
                raise LairError("message_not_found")
            seq = message.seq
        else:
            seq = await self.store.latest_seq(target, actor.id)
        await self.markers.add((actor.id, target, seq))
        unread, mentioned = await self.store.unread_count(actor.id, target, actor.username)
        counts = {"unread_count": unread, "mention_count": mentioned}
        # The user's other devices learn it at once if their client asked for
        # lairchat's own events (Lair Chat tells no one: TCP.md, §8).
        self.hub.publish(
            Event(
                {"type": "messages_read", "target": target.to_wire(), **counts},
                OptedInAudience((actor.id,)),
            )
        )
        return counts

    def _move_markers(self, moves: list[tuple[str, Target, int]]) -> defer.Deferred:
        """One transaction for a batch of :attr:`markers`; fires with one result each."""
        return self.store.mark_read(moves, self.clock.seconds()).addCallback(
            lambda _: [None] * len(moves)
        )

    @deferred
    async def unread_counts(self, actor: User) -> dict[str, Any]:
        """``/users/me``'s ``unread_counts``: per room and DM partner, with their
        total, and the same of the unread messages that mention the actor
        (``mentions``, lairchat.domain.mentions)."""
        rooms = self.hub.rooms_of(actor.id)
        counts = await self.store.unread_counts(actor.id, rooms, actor.username)
        return {**_totalled(counts), "mentions": _totalled(counts["mentions"])}


def _totalled(counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    """``counts`` (``by_room``, ``by_dm``) with their sum as ``total``, first."""
    total = sum(counts["by_room"].values()) + sum(counts["by_dm"].values())
    return {"total": total, "by_room": counts["by_room"], "by_dm": counts["by_dm"]}
