"""Pinned messages: pin and unpin a room's message, list a room's pins, and who hears
of it (docs/protocols/HTTP.md, "Pinned messages"; TCP.md, "lairchat's own events").

A room's moderators (owner, moderator) pin and unpin; its members list the pins. A
DM has none. A system admin has no override here, as for the rest of a room's
moderation (docs/SECURITY.md). A change is announced as lairchat's own event to the
members' connections that asked; a repeat that changes nothing announces nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lairchat.core.access import readable_message
from lairchat.core.deferreds import deferred
from lairchat.core.events import Event, OptedInAudience
from lairchat.core.hub import Hub
from lairchat.core.messages import HistoryPage
from lairchat.core.rooms import RoomService
from lairchat.core.users import UserService
from lairchat.domain.errors import LairError
from lairchat.domain.pins import not_a_room_message
from lairchat.domain.timefmt import ts
from lairchat.domain.types import Message, User
from lairchat.storage.interfaces import IStore


@dataclass(slots=True)
class Pins:
    """A room's pins, the newest first: the messages as a history page shows them
    (reactions included, and cut to a frame as a page is), and who pinned each when."""

    page: HistoryPage
    pinned: dict[str, tuple[str, float]]

    def to_wire(self) -> dict[str, Any]:
        wired = self.page.to_wire()["messages"]
        return {"pins": [self._pin(message) for message in wired]}

    def _pin(self, message: dict[str, Any]) -> dict[str, Any]:
        by, at = self.pinned[message["id"]]
        return {"message": message, "pinned_by": by, "pinned_at": ts(at)}

    def within(self, budget: int) -> Pins:
        """Cut to ``budget`` bytes from its oldest pins (:meth:`HistoryPage.within`);
        ``page.has_more`` then says so. Each pin's two fields more take about 110
        bytes, which the real-time budget's slack covers for 50 pins."""
        return Pins(self.page.within(budget), self.pinned)


class PinService:
    def __init__(self, store: IStore, hub: Hub, clock, users: UserService, rooms: RoomService):
        self.store = store
        self.hub = hub
        self.clock = clock
        self.users = users
        self.rooms = rooms

    @deferred
    async def pin(self, actor: User, message_id: str | None) -> None:
        """Pin a room's message; nothing happens (nor is announced) if it is pinned."""
        message = await self._moderated(actor, message_id)
        room_id = message.target.id
        # With the room's role changes and kicks: a moderator demoted or kicked while
        # this ran has pinned before or not at all (as deleting others' messages).
        # Told as soon as it is stored, with nothing awaited between (the message's
        # reactions are read first): an unpin, or the message's deletion by its author,
        # stored after this pin must not be told before it, or clients would show as
        # pinned a message that is not, or is gone.
        async with self.rooms.one_change(room_id):
            await self._check_moderates(actor, room_id)
            page = await self._page([message])
            # Whole seconds, as stored: the event says what the list will.
            now = int(self.clock.seconds())
            if not await self.store.pin_message(message.id, room_id, actor.id, now):
                return
            pin = Pins(page, {message.id: (actor.id, now)}).to_wire()["pins"][0]
            self._announce({"type": "message_pinned", "room_id": room_id, **pin}, room_id)

    @deferred
    async def unpin(self, actor: User, message_id: str | None) -> None:
        """Unpin a room's message; nothing happens if it was not pinned."""
        message = await self._moderated(actor, message_id)
        room_id = message.target.id
        async with self.rooms.one_change(room_id):
            await self._check_moderates(actor, room_id)
            if not await self.store.unpin_message(message.id):
                return
        self._announce(
            {
                "type": "message_unpinned",
                "room_id": room_id,
                "message_id": message.id,
                "unpinned_by": actor.id,
            },
            room_id,
        )

    @deferred
    async def of_room(self, actor: User, room_id: str | None) -> Pins:
        """The room's pins, for its members: ``room_not_found`` for a room that does
        not exist, ``not_room_member`` for anyone else."""
        room = await self.store.get_room(room_id) if room_id else None
        if room is None:
            raise LairError("room_not_found")
        if not self.hub.is_member(room.id, actor.id):
            raise LairError("not_room_member")
        rows = await self.store.pins_of(room.id)
        page = await self._page([message for message, _, _ in rows], actor.id)
        return Pins(page, {message.id: (by, at) for message, by, at in rows})

    async def _page(self, messages: list[Message], reader: str | None = None) -> HistoryPage:
        """``reader``: whose ``me`` the reactions carry (a list's caller; an event,
        read by many, carries none)."""
        reactions = await self.store.reactions_of([m.id for m in messages], reader)
        return HistoryPage(messages, False, reactions=reactions)

    async def _moderated(self, actor: User, message_id: str | None) -> Message:
        """The room message named, if the actor reads it: a DM they read has no pins
        (``validation_failed``); one they do not is ``message_not_found``."""
        message = await readable_message(self.store, self.hub, self.users, actor, message_id)
        if message.target.kind != "room":
            raise not_a_room_message()
        return message

    async def _check_moderates(self, actor: User, room_id: str) -> None:
        """Read inside :meth:`RoomService.one_change`, from the store: the role now."""
        membership = await self.store.get_membership(room_id, actor.id)
        if membership is None:
            raise LairError("not_room_member")
        if not membership.moderates:
            raise LairError("permission_denied")

    def _announce(self, payload: dict[str, Any], room_id: str) -> None:
        self.hub.publish(Event(payload, OptedInAudience(tuple(self.hub.members(room_id)))))
