"""Who reads a message: the one rule that reactions and pins both ask (a message
named by id, acted on by someone who must read its conversation now)."""

from __future__ import annotations

from lairchat.core.hub import Hub
from lairchat.core.users import UserService
from lairchat.domain.errors import LairError
from lairchat.domain.types import Message, User
from lairchat.storage.interfaces import IStore


async def readable_message(
    store: IStore, hub: Hub, users: UserService, actor: User, message_id: str | None
) -> Message:
    """The message, if the actor reads its conversation now. A room's message to a
    non-member is ``not_room_member`` (as the room's history answers them); a DM the
    actor is not a party to, or with a user deleted since, is ``message_not_found``,
    as a message that does not exist: nothing says a stranger's DM is there."""
    message = await store.get_message(message_id) if message_id else None
    if message is None:
        raise LairError("message_not_found")
    target = message.target
    if target.kind == "room":
        if not hub.is_member(target.id, actor.id):
            raise LairError("not_room_member")
        return message
    if actor.id not in (message.author, target.id):
        raise LairError("message_not_found")
    partner = target.id if message.author == actor.id else message.author
    if not await users.known(partner):
        raise LairError("message_not_found")
    return message
