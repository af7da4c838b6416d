"""The records the client model is made of: people, rooms, messages, notices.

Plain dataclasses with no behaviour beyond trivial lookups, shared by the state, the
event rules and the widgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

__all__ = [
    "HOME",
    "MAX_KEPT",
    "NOTICE_TTL",
    "ROLE_RANK",
    "TYPING_TTL",
    "ChatMessage",
    "Connection",
    "ConvKey",
    "Conversation",
    "Invitation",
    "Member",
    "Notice",
    "PanelRow",
    "Pin",
    "Reaction",
    "RoomInfo",
    "SearchResults",
    "SessionInfo",
    "UserInfo",
]

ConvKey = tuple[str, str]
HOME: ConvKey = ("home", "")

#: Messages a conversation keeps once its newest are what is read: the oldest
#: beyond that are dropped (paging brings them back from the server), so a long
#: session in busy rooms neither grows without bound nor redraws ever slower.
MAX_KEPT = 1000
#: Seconds a typing indicator stays up without a fresh ``user_typing``.
TYPING_TTL = 6.0
#: Seconds a notice stays in the notice line, by level (as the original's toasts).
NOTICE_TTL = {"info": 4.0, "success": 4.0, "warning": 6.0, "error": 8.0}
ROLE_RANK = {"owner": 0, "moderator": 1, "member": 2}

Screen = Literal["login", "chat", "rooms"]
MessageKind = Literal["user", "system", "pending", "failed"]


@dataclass
class UserInfo:
    id: str
    username: str
    online: bool = False


@dataclass
class RoomInfo:
    id: str
    name: str
    owner: str = ""
    description: str | None = None
    is_private: bool = False
    member_count: int = 0
    is_member: bool = False
    #: Our role in the room when known (from a membership or the member list).
    role: str | None = None


@dataclass
class Member:
    user_id: str
    username: str
    role: str = "member"


@dataclass
class Invitation:
    id: str
    room_id: str
    room_name: str
    inviter_id: str
    inviter_name: str
    created_at: datetime
    #: Whom it invites: shown in a room's pending invitations (``I`` in the members
    #: box), where the invitee is who it is about; one's own are to oneself.
    invitee_name: str = "?"
    expires_at: datetime | None = None


@dataclass
class SessionInfo:
    """One of the account's live sessions (``GET /auth/sessions``): every login
    makes one, on any device, and each lasts until logout, its end or expiry."""

    id: str
    created_at: datetime
    expires_at: datetime
    #: The session of the token this client holds: ending it is a logout.
    current: bool = False
    #: When it was last used, and the address and User-Agent of the client that
    #: made it, as lairchat lists them (None where the server says nothing).
    last_used: datetime | None = None
    address: str | None = None
    agent: str | None = None


@dataclass
class SearchResults:
    """A message search (``/search``) and what its pages found so far, newest first:
    the messages as the server sent them (``GET /messages/search``)."""

    query: str
    #: The conversation searched; None for every one the user can read.
    scope: ConvKey | None
    #: ``from:NAME``: the name as typed (said in the header) and, once found, the id.
    author_name: str | None = None
    author: str | None = None
    #: ``since:`` and ``until:``, the first and last day searched (local days).
    since: date | None = None
    until: date | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    #: Whether older messages are left to search, from ``next_before``.
    has_more: bool = False
    next_before: str | None = None
    #: A page is being asked for.
    busy: bool = False
    #: Why the last page failed, as the server said (or :data:`~lairchat.client.search.NO_SEARCH`).
    error: str | None = None


@dataclass
class Reaction:
    """One emoji under a message (lairchat.client.reactions): how many reacted so,
    and whether we are among them (drawn highlighted)."""

    emoji: str
    count: int
    mine: bool = False


@dataclass
class ChatMessage:
    """One line of a conversation: a server message, a notice, or our unsent text."""

    id: str | None
    author_id: str | None
    author: str
    content: str
    created_at: datetime
    kind: MessageKind = "user"
    edited: bool = False
    #: Tie-breaker for equal timestamps (the server stores whole seconds).
    seq: float = 0.0
    #: Our handle on a pending message until the server answers.
    local_id: int | None = None
    error: str | None = None
    #: A notice's subject (``presence:<user id>``): a notice that follows one with
    #: the same subject at the bottom replaces it, so a repeated event is one line.
    subject: str | None = None
    #: The message mentions you (``@name``, lairchat/domain/mentions.py): drawn
    #: highlighted, wherever it came from (live, history, an edit).
    mention: bool = False
    #: Its reactions, emoji in the order first used (lairchat.client.reactions).
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class Pin:
    """One of a room's pinned messages (lairchat.client.pins): the message as history
    gives it, who pinned it (a user id) and when."""

    message: ChatMessage
    pinned_by: str
    pinned_at: datetime


@dataclass
class Conversation:
    key: ConvKey
    messages: list[ChatMessage] = field(default_factory=list)
    #: Older messages may exist on the server (a history page came back full).
    has_more: bool = True
    #: The newest history page has been applied since the last (re)connection.
    loaded: bool = False
    unread: int = 0
    #: Of the unread messages, the ids of those that came live and mention you: the
    #: room list and the people panel mark the conversation with ``@`` until it is
    #: read. Ids, not a number: one deleted, or edited to mention you no more, is
    #: taken off (a mention made and deleted at once left an ``@`` with nothing).
    mention_ids: set[str] = field(default_factory=set)
    #: Unread messages mentioning you that the server counted when we last
    #: (re)connected (lairchat's ``unread_counts.mentions``): known by number only,
    #: so they stay until the conversation is read or the next count.
    mention_seed: int = 0
    #: user id → clock time at which the indicator lapses.
    typing: dict[str, float] = field(default_factory=dict)
    #: Bumped on every change to the messages, so widgets can cache what they drew.
    version: int = 0

    @property
    def mentions(self) -> int:
        """How many unread messages mention you: the server's count at the last
        (re)connection and those that came live since (:attr:`mention_ids`)."""
        return self.mention_seed + len(self.mention_ids)

    def ids(self) -> set[str]:
        return {m.id for m in self.messages if m.id is not None}

    def find(self, message_id: str) -> ChatMessage | None:
        for m in self.messages:
            if m.id == message_id:
                return m
        return None


@dataclass
class Notice:
    text: str
    level: str
    expires: float


@dataclass
class Connection:
    """What the status bar says about the real-time link."""

    state: str = "offline"
    transport: str = "TCP"
    encrypted: bool = False
    detail: str = ""


@dataclass
class PanelRow:
    """One row of the side panel: a section header or a person."""

    kind: Literal["header", "user"]
    text: str
    user_id: str | None = None
    online: bool = False
    role: str | None = None
    unread: int = 0
    #: Of those, how many mention you (shown as ``@``).
    mentions: int = 0
    is_me: bool = False
