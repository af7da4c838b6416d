"""Message reactions: add and remove one, and who hears of it (docs/protocols/HTTP.md,
"Reactions"; TCP.md, "lairchat's own events").

Whoever reads a conversation may react in it: a room's members, a DM's two parties.
A change is announced as lairchat's own event, to the participants' connections
that asked (Lair Chat's client would end its TCP connection on an unknown type); a
repeat that changes nothing announces nothing. History carries the reactions
(:meth:`MessageService.history`, one read per page).
"""

from __future__ import annotations

from lairchat.core.access import readable_message
from lairchat.core.deferreds import deferred
from lairchat.core.events import Event, OptedInAudience
from lairchat.core.hub import Hub
from lairchat.core.users import UserService
from lairchat.domain.reactions import check_emoji
from lairchat.domain.types import Message, User
from lairchat.storage.interfaces import IStore


class ReactionService:
    def __init__(self, store: IStore, hub: Hub, clock, users: UserService):
        self.store = store
        self.hub = hub
        self.clock = clock
        self.users = users

    @deferred
    async def add(self, actor: User, message_id: str | None, emoji: str) -> None:
        """React to a message; nothing happens (and nothing is announced) if the actor
        has already reacted with this emoji."""
        emoji = check_emoji(emoji)
        message = await readable_message(self.store, self.hub, self.users, actor, message_id)
        if await self.store.add_reaction(message.id, actor.id, emoji, self.clock.seconds()):
            self._announce("reaction_added", actor, message, emoji)

    @deferred
    async def remove(self, actor: User, message_id: str | None, emoji: str) -> None:
        """Take one's reaction back; nothing happens if there was none."""
        emoji = check_emoji(emoji)
        message = await readable_message(self.store, self.hub, self.users, actor, message_id)
        if await self.store.remove_reaction(message.id, actor.id, emoji):
            self._announce("reaction_removed", actor, message, emoji)

    def _announce(self, kind: str, actor: User, message: Message, emoji: str) -> None:
        target = message.target
        if target.kind == "room":
            audience = OptedInAudience(tuple(self.hub.members(target.id)))
        else:
            audience = OptedInAudience((message.author, target.id))
        self.hub.publish(
            Event(
                {
                    "type": kind,
                    "message_id": message.id,
                    "target": target.to_wire(),
                    "user_id": actor.id,
                    "emoji": emoji,
                },
                audience,
            )
        )
