"""Messages in conversations: history pages, live messages, our own unsent lines.

A mixin of :class:`~lairchat.client.state.ClientState`, kept apart because it is the
one subtle part of the model: the same message can come as a history row, as a
``message_received`` event and as the response to our own ``send_message``, in any
order, and must appear once, in order, with the reader's unread counts right.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from lairchat.client import reactions
from lairchat.client.model import MAX_KEPT, ChatMessage, Conversation, ConvKey, UserInfo
from lairchat.client.timefmt import parse_time
from lairchat.domain.mentions import mentions

__all__ = ["STILL_SENDING", "ConversationsMixin"]

#: What ``e``, ``/edit`` and ``/delete`` say while your newest message is being sent.
STILL_SENDING = "Your last message is still being sent: try again once it shows as sent"


def _order(message: ChatMessage) -> tuple[datetime, float]:
    """Where a message goes in its conversation: by time, then as it came."""
    return message.created_at, message.seq


#: How much earlier than our failed line the server's copy of it may be stamped
#: (the two clocks differ): an older message of the same words is another one.
SAME_SEND = timedelta(minutes=10)


class ConversationsMixin:
    """Message rules of :class:`~lairchat.client.state.ClientState` (which provides
    ``conversations``, ``users``, ``me``, ``current`` and the small helpers used here)."""

    def key_for_message(self, message: dict[str, Any]) -> ConvKey:
        """Where a message belongs: its room, or the DM with the *other* person."""
        target = message.get("target") or {}
        if target.get("type") == "room":
            return ("room", str(target.get("room_id", "")))
        author = str(message.get("author", ""))
        recipient = str(target.get("recipient", ""))
        return ("dm", recipient if self.is_me(author) else author)

    def mentions_me(self, author_id: str | None, content: str) -> bool:
        """Whether a message by ``author_id`` mentions us (lairchat/domain/mentions.py):
        never one of our own, whatever it says."""
        me = self.me
        return me is not None and author_id != me.id and mentions(content, me.username)

    def set_content(self, msg: ChatMessage, content: Any) -> None:
        """A message's new text (an edit, a fresh copy in a history page): whether it
        mentions us goes with it."""
        msg.content = str(content)
        msg.mention = self.mentions_me(msg.author_id, msg.content)

    def message_from_wire(self, message: dict[str, Any], author_name: Any = None) -> ChatMessage:
        """``author_name``: the event's ``author_username``, used only if it is a name
        (a list or a number there made every later redraw fail, freezing the screen)."""
        author_id = str(message.get("author", ""))
        if not isinstance(author_name, str):
            author_name = None
        if author_name and author_id not in self.users:
            self.users[author_id] = UserInfo(author_id, author_name)
        msg = ChatMessage(
            id=str(message.get("id", "")),
            author_id=author_id,
            author=author_name or self.username_of(author_id),
            content="",
            created_at=parse_time(message.get("created_at"), self.now_dt()),
            edited=bool(message.get("edited", False)),
        )
        self.set_content(msg, message.get("content", ""))
        msg.reactions = reactions.from_wire(message.get("reactions"), self.me and self.me.id)
        return msg

    @staticmethod
    def _sort(conv: Conversation) -> None:
        conv.messages.sort(key=_order)
        conv.version += 1

    @classmethod
    def _appended(cls, conv: Conversation) -> None:
        """After one message was appended: sorted again only if it is out of order
        (a live message is almost always the newest). Sorting at every message took
        milliseconds each in a conversation paged back through thousands."""
        messages = conv.messages
        if len(messages) > 1 and _order(messages[-1]) < _order(messages[-2]):
            cls._sort(conv)
        else:
            conv.version += 1

    def apply_history(
        self,
        key: ConvKey,
        page: list[dict[str, Any]],
        has_more: bool,
        *,
        older: bool = False,
        replace: bool = False,
    ) -> int:
        """A ``GET /messages`` page (newest first). Returns how many messages were new.

        ``older`` pages (``before=<oldest id>``) go above what we have. A fresh newest
        page merges with what we have; if it shares nothing with our messages and more
        exist, what we had is too old to join up (we were away a long time), so the
        page replaces it. A server that ignores ``before`` answers an older request with
        messages we already have: then there is nothing more to load. ``replace``: the
        page replaces what we have in any case (some of it is known to be gone).
        """
        conv = self.conversation(key)
        known = conv.ids()
        fetched = [m for m in reversed(page) if isinstance(m, dict)]
        if older:
            new = [m for m in fetched if str(m.get("id", "")) not in known]
            low = self._low_seq - len(new)
            for offset, raw in enumerate(new):
                msg = self.message_from_wire(raw)
                msg.seq = low + offset
                conv.messages.append(msg)
            self._low_seq = low - 1
            conv.has_more = has_more and bool(new)
            self._sort(conv)
            return len(new)
        overlap = any(str(m.get("id", "")) in known for m in fetched)
        if known and (replace or (not overlap and has_more)):
            conv.messages = [m for m in conv.messages if m.id is None]
            known = set()
        added = 0
        for raw in fetched:
            msg_id = str(raw.get("id", ""))
            existing = conv.find(msg_id) if msg_id in known else None
            if existing is not None:
                self.set_content(existing, raw.get("content", existing.content))
                existing.edited = bool(raw.get("edited", existing.edited))
                if "reactions" in raw:  # the server's counts now, events included
                    existing.reactions = reactions.from_wire(
                        raw["reactions"], self.me and self.me.id
                    )
                continue
            msg = self.message_from_wire(raw)
            msg.seq = self._next_seq()
            if not self._replaces_own_line(conv, msg):
                conv.messages.append(msg)
            added += 1
        conv.loaded = True
        self._sort(conv)
        # The page says whether older messages exist only if it reaches further back
        # than anything we already held.
        fetched_ids = {str(m.get("id", "")) for m in fetched}
        oldest = next((m.id for m in conv.messages if m.id is not None), None)
        if oldest is None or oldest in fetched_ids:
            conv.has_more = has_more
        return added

    def receive_message(self, message: dict[str, Any], author_name: Any = None) -> bool:
        """A live message (event or our send's response). False if already shown,
        or if it is not a message object at all."""
        if not isinstance(message, dict) or not isinstance(message.get("target", {}), dict):
            return False
        key = self.key_for_message(message)
        conv = self.conversation(key)
        msg_id = str(message.get("id", ""))
        if conv.find(msg_id) is not None:
            return False
        msg = self.message_from_wire(message, author_name)
        msg.seq = self._next_seq()
        if self._replaces_own_line(conv, msg):
            self._sort(conv)
            return True
        conv.typing.pop(msg.author_id or "", None)
        conv.messages.append(msg)
        if key != self.current and not self.is_me(msg.author_id):
            self._unread_arrival(key, conv, msg)
        self._appended(conv)
        if key != self.current:
            self.trim(key)
        return True

    def _unread_arrival(self, key: ConvKey, conv: Conversation, msg: ChatMessage) -> None:
        """Someone else's live message in a conversation not shown: counted unread,
        and a DM or a mention is told (a line, a notice) and counted in ``alerts``,
        for which the controller rings the terminal's bell. History pages never come
        here, so catching up after a reconnection rings nothing."""
        conv.unread += 1
        if msg.mention and msg.id:
            conv.mention_ids.add(msg.id)
        name = msg.author
        if key[0] == "dm":
            self.system(
                f"New DM from {name} ({conv.unread} unread) - /dm {name} to reply",
                subject=f"dm:{msg.author_id}",
            )
            self.notify(f"New direct message from {name}", "warning")
        elif msg.mention:
            self.notify(f"{name} mentioned you in {self.title_of(key)}", "warning")
        if key[0] == "dm" or msg.mention:
            self.alerts += 1

    def trim(self, key: ConvKey, keep: int = MAX_KEPT) -> None:
        """Keep the newest ``keep`` lines of a conversation read at its newest (or not
        shown). Older messages are the server's to give again when the reader
        scrolls to them, so the conversation says there are more; the dropped
        notices are gone."""
        conv = self.conversations.get(key)
        if conv is None or len(conv.messages) <= keep:
            return
        dropped = conv.messages[: len(conv.messages) - keep]
        del conv.messages[: len(dropped)]
        if any(m.id is not None for m in dropped):
            conv.has_more = True
        conv.version += 1

    def _replaces_own_line(self, conv: Conversation, msg: ChatMessage) -> bool:
        """Put the server's copy of our message in place of the line we showed for
        it, if one waits with that text: pending (the echo may beat the response),
        or failed because its answer was lost with the connection while the server
        kept it (the newest page after reconnecting brings it)."""
        if not self.is_me(msg.author_id):
            return False
        for kind in ("pending", "failed"):
            for i, old in enumerate(conv.messages):
                if old.kind != kind or old.content != msg.content:
                    continue
                if kind == "failed" and msg.created_at < old.created_at - SAME_SEND:
                    continue  # an older message of the same words ("ok"), not this one
                msg.local_id = old.local_id
                conv.messages[i] = msg
                return True
        return False

    def add_pending(self, key: ConvKey, content: str) -> int:
        """Our message, shown at once, until the server confirms or refuses it."""
        self._local_ids += 1
        me = self.me
        conv = self.conversation(key)
        conv.messages.append(
            ChatMessage(
                None,
                me.id if me else None,
                me.username if me else "me",
                content,
                self.now_dt(),
                kind="pending",
                seq=self._next_seq(),
                local_id=self._local_ids,
            )
        )
        conv.version += 1
        return self._local_ids

    def _find_local(self, local_id: int) -> tuple[Conversation, int] | None:
        for conv in self.conversations.values():
            for i, m in enumerate(conv.messages):
                if m.local_id == local_id:
                    return conv, i
        return None

    def confirm_pending(self, local_id: int, message: dict[str, Any]) -> None:
        found = self._find_local(local_id)
        if found is not None:
            conv, i = found
            if conv.messages[i].kind != "pending":
                return  # the event already replaced it
            del conv.messages[i]
            conv.version += 1
        self.receive_message(message, self.me.username if self.me else None)

    def fail_pending(self, local_id: int, reason: str) -> None:
        found = self._find_local(local_id)
        if found is not None:
            conv, i = found
            msg = conv.messages[i]
            if msg.kind == "pending":
                msg.kind = "failed"
                msg.error = reason
                conv.version += 1

    def edit_message(self, message: dict[str, Any]) -> bool:
        if not isinstance(message, dict) or not isinstance(message.get("target", {}), dict):
            return False
        conv = self.conversations.get(self.key_for_message(message))
        found = conv.find(str(message.get("id", ""))) if conv else None
        if conv is None or found is None:
            return False
        self.set_content(found, message.get("content", found.content))
        if not found.mention:  # counted no more (an edit adding one is not news)
            conv.mention_ids.discard(found.id or "")
        found.edited = True
        conv.version += 1
        return True

    def delete_message(self, message_id: str) -> bool:
        """The message goes, and with it its unread mention, if counted: also when its
        line was already trimmed from a conversation not shown."""
        for conv in self.conversations.values():
            counted = message_id in conv.mention_ids
            conv.mention_ids.discard(message_id)
            for i, m in enumerate(conv.messages):
                if m.id == message_id:
                    del conv.messages[i]
                    conv.version += 1
                    return True
            if counted:
                conv.version += 1
                return True
        return False

    def last_own_message(self, key: ConvKey | None = None) -> ChatMessage | None:
        """Your newest message here that the server has (see :meth:`sending_own`)."""
        conv = self.conversation(self.current if key is None else key)
        for m in reversed(conv.messages):
            if m.kind == "user" and self.is_me(m.author_id):
                return m
        return None

    def sending_own(self, key: ConvKey | None = None) -> bool:
        """Whether your newest message here is still on its way to the server. ``e``,
        ``/edit`` and ``/delete`` then refuse (:data:`STILL_SENDING`): they acted on
        the message before it, which is not the one just sent."""
        conv = self.conversation(self.current if key is None else key)
        for m in reversed(conv.messages):
            if m.kind in ("user", "pending") and self.is_me(m.author_id):
                return m.kind == "pending"
        return False

    def typing_names(self, key: ConvKey | None = None) -> list[str]:
        conv = self.conversation(self.current if key is None else key)
        now = self.clock()
        return sorted(self.username_of(uid) for uid, until in conv.typing.items() if until > now)
