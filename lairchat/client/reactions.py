"""Reactions in the terminal client: what a message carries, kept up to date from
history and from lairchat's own events, and the line drawn under it.

History (``get_messages``, ``GET /messages``) gives each message its ``reactions``
(docs/protocols/HTTP.md, "Reactions"); ``reaction_added`` and ``reaction_removed``
(which this client asks for in its hello) add or take one from a count. A message
not loaded is left alone: its history brings its reactions. ``/react`` and
``/unreact`` send the change and leave the count to the event, which the server
sends only when something changed (so a repeat counts once).
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

from lairchat.client.model import ChatMessage, Conversation, Reaction

if TYPE_CHECKING:
    from lairchat.client.state import ClientState

__all__ = ["apply_change", "from_wire", "markup", "pick", "shown_key"]

#: Emoji shown under one message: the server keeps at most 20 a message.
SHOWN_MAX = 20
#: Characters of one emoji shown: the server takes at most 32 bytes; a server
#: sending longer cannot stretch the line.
EMOJI_MAX = 32


def from_wire(raw: Any, me: str | None) -> list[Reaction]:
    """A message's ``reactions`` as history gives them; anything malformed is left
    out (a server of another kind, or none: no reactions). Ours are those the server
    says are (``me``): ``user_ids`` holds the first 50 reactors only, and ours beyond
    them was shown as someone else's (``/unreact`` then found nothing to take
    back). Our id ``me`` is looked for in them only from a lairchat that sends no
    ``me``."""
    if not isinstance(raw, list):
        return []
    found = []
    for item in raw[:SHOWN_MAX]:
        if not isinstance(item, dict):
            continue
        emoji, count, users = item.get("emoji"), item.get("count"), item.get("user_ids")
        if not isinstance(emoji, str) or not emoji or type(count) is not int or count < 1:
            continue
        mine = item.get("me")
        if type(mine) is not bool:
            mine = me is not None and isinstance(users, list) and me in users
        found.append(Reaction(emoji[:EMOJI_MAX], count, mine))
    return found


def _message(state: ClientState, event: dict[str, Any]) -> tuple[Conversation, ChatMessage] | None:
    """The loaded message an event names: in its room, or in any DM conversation
    (a DM's event names its recipient, who may be us or the other party)."""
    message_id = str(event.get("message_id", ""))
    target = event.get("target")
    if not message_id or not isinstance(target, dict):
        return None
    if target.get("type") == "room":
        convs = [state.conversations.get(("room", str(target.get("room_id", ""))))]
    else:
        convs = [c for key, c in state.conversations.items() if key[0] == "dm"]
    for conv in convs:
        found = conv.find(message_id) if conv is not None else None
        if found is not None:
            return conv, found
    return None


def apply_change(state: ClientState, event: dict[str, Any], added: bool) -> None:
    """``reaction_added`` (``added``) or ``reaction_removed``: one more or one less of
    that emoji on the message, ours marked or unmarked."""
    located = _message(state, event)
    emoji = event.get("emoji")
    if located is None or not isinstance(emoji, str) or not emoji:
        return
    conv, msg = located
    mine = state.is_me(str(event.get("user_id", "")))
    emoji = emoji[:EMOJI_MAX]
    one = next((r for r in msg.reactions if r.emoji == emoji), None)
    if added:
        if one is None:
            if len(msg.reactions) >= SHOWN_MAX:
                return
            msg.reactions.append(Reaction(emoji, 1, mine))
        else:
            one.count += 1
            one.mine = one.mine or mine
    elif one is not None:
        one.count -= 1
        one.mine = one.mine and not mine
        if one.count < 1:
            msg.reactions.remove(one)
    conv.version += 1


def pick(state: ClientState, emoji: str, remove: bool) -> tuple[ChatMessage | None, str]:
    """The message ``/react`` (the newest of the conversation shown) or ``/unreact``
    (the newest carrying our ``emoji``) acts on, and the emoji as the server stores
    it (NFC); None if there is none, with what to say."""
    emoji = unicodedata.normalize("NFC", emoji)
    conv = state.current_conversation
    for msg in reversed(conv.messages):
        if msg.kind != "user" or not msg.id:
            continue
        if not remove or any(r.emoji == emoji and r.mine for r in msg.reactions):
            return msg, emoji
    return None, emoji


def shown_key(msg: ChatMessage) -> tuple[tuple[str, int, bool], ...]:
    """What the reactions line shows: part of the message widget's key, so that a
    changed count draws the message again."""
    return tuple((r.emoji, r.count, r.mine) for r in msg.reactions)


def markup(msg: ChatMessage) -> list[Any]:
    """The line under a message: ``👍 2  🎉 1``, our own in ``reaction_mine``; nothing
    when it has none."""
    if not msg.reactions:
        return []
    parts: list[Any] = ["\n"]
    for i, r in enumerate(msg.reactions):
        if i:
            parts.append("  ")
        parts.append(("reaction_mine" if r.mine else "reaction", f"{r.emoji} {r.count}"))
    return parts
