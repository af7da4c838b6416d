"""The client model: everything the interface shows, and how server news changes it.

Pure on purpose: no I/O, no Twisted, no urwid. The controller feeds it HTTP results
and real-time events (decoded dicts, exactly as on the wire) and the widgets read it,
so every rule about what the user sees is testable with plain dicts and a fake clock.

Conversations are keyed ``("room", room_id)``, ``("dm", other_user_id)`` or
:data:`HOME` (the place for notices before a room is chosen). Messages are kept in
display order and de-duplicated by message id, because the server may send the same
message several ways: history page, ``message_received`` event, and the response to
our own ``send_message`` — in any order.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from lairchat.client.conversations import ConversationsMixin
from lairchat.client.events import FollowUp, apply_event
from lairchat.client.model import (
    HOME,
    NOTICE_TTL,
    ROLE_RANK,
    ChatMessage,
    Connection,
    Conversation,
    ConvKey,
    Invitation,
    Member,
    Notice,
    PanelRow,
    Pin,
    RoomInfo,
    Screen,
    SearchResults,
    SessionInfo,
    UserInfo,
)
from lairchat.client.timefmt import parse_time

__all__ = [
    "HOME",
    "ChatMessage",
    "ClientState",
    "ConvKey",
    "Conversation",
    "Invitation",
    "Member",
    "Notice",
    "PanelRow",
    "RoomInfo",
    "UserInfo",
    "panel_counts",
    "panel_rows",
]


def objects(items: Any) -> Iterator[dict[str, Any]]:
    """The objects of a list from the server, skipping anything else: one item of
    the wrong shape made a whole list (every user, every room) an internal error."""
    if isinstance(items, list):
        yield from (item for item in items if isinstance(item, dict))


def obj(value: Any) -> dict[str, Any]:
    """``value`` if it is an object, else an empty one."""
    return value if isinstance(value, dict) else {}


def text_or_none(value: Any) -> str | None:
    """A non-empty string from the server, else None."""
    return value if isinstance(value, str) and value else None


def count(value: Any) -> int:
    """A count from the server: an integer, else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _member_order(member: Member) -> tuple[int, str]:
    """Owners, moderators, members; by name within each."""
    return ROLE_RANK.get(member.role, 9), member.username.casefold()


class ClientState(ConversationsMixin):
    """The whole client model. Methods apply one piece of news each."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        """``clock`` gives seconds since the epoch (the reactor's ``seconds``)."""
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        """Forget everything about the account (log out, session lost)."""
        self.screen: Screen = "login"
        self.me: UserInfo | None = None
        self.current: ConvKey = HOME
        self.conversations: dict[ConvKey, Conversation] = {}
        self.users: dict[str, UserInfo] = {}
        self.rooms: dict[str, RoomInfo] = {}
        self.members: dict[str, dict[str, Member]] = {}
        self.invitations: list[Invitation] = []
        #: The account's sessions (``/sessions``): None until listed; whether the
        #: server left older ones out.
        self.sessions: list[SessionInfo] | None = None
        self.sessions_more = False
        #: Whether the account has two-factor sign-in on (``/users/me``'s
        #: ``two_factor``, and the client's own ``/2fa``): the account's deletion and
        #: export then ask for a code too.
        self.two_factor_on = False
        #: A room's pending invitations, for its owners and moderators (``I`` in the
        #: members box), by room id: absent until listed; whether older were left out.
        self.room_invitations: dict[str, tuple[list[Invitation], bool]] = {}
        #: A room's pinned messages, newest pin first (``/pins``, lairchat.client.pins),
        #: by room id: absent until listed.
        self.pins: dict[str, list[Pin]] = {}
        #: The message search shown (``/search``), None when none is.
        self.search: SearchResults | None = None
        self.notices: list[Notice] = []
        #: Live messages that called for attention (a mention, a DM, not shown) since
        #: the login: the controller rings the bell when an event makes it grow.
        self.alerts = 0
        #: What is being opened, as shown ("#general", "the DM with bob"), while the
        #: server is asked: keys typed meanwhile are held for it (rooms.py, chat.py).
        self.opening: str | None = None
        self.connection = Connection(
            transport=getattr(self, "connection", Connection()).transport,
            encrypted=getattr(self, "connection", Connection()).encrypted,
        )
        self._seq = 0
        self._low_seq = 0.0
        self._local_ids = 0

    # -- small helpers ----------------------------------------------------------------

    def now_dt(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def is_me(self, user_id: str | None) -> bool:
        return self.me is not None and user_id == self.me.id

    def username_of(self, user_id: str | None) -> str:
        if user_id is None:
            return "?"
        user = self.users.get(user_id)
        if user is not None:
            return user.username
        return user_id[:8]

    def conversation(self, key: ConvKey) -> Conversation:
        conv = self.conversations.get(key)
        if conv is None:
            conv = self.conversations[key] = Conversation(key)
            if key == HOME:
                conv.has_more = False
                conv.loaded = True
        return conv

    @property
    def current_conversation(self) -> Conversation:
        return self.conversation(self.current)

    def title_of(self, key: ConvKey) -> str:
        kind, ident = key
        if kind == "room":
            room = self.rooms.get(ident)
            return f"#{room.name}" if room else f"#{ident[:8]}"
        if kind == "dm":
            return f"DM: {self.username_of(ident)}"
        return "Lair Chat"

    @staticmethod
    def same_name(username: str, typed: str) -> bool:
        """Whether ``typed`` (``@bob``, ``Bob``) names the user ``username``."""
        return username.casefold() == typed.strip().lstrip("@").casefold()

    def find_user(self, name: str) -> UserInfo | None:
        for user in self.users.values():
            if self.same_name(user.username, name):
                return user
        return None

    def find_room(self, name_or_id: str) -> RoomInfo | None:
        wanted = name_or_id.strip().lstrip("#")
        if wanted in self.rooms:
            return self.rooms[wanted]
        folded = wanted.casefold()
        for room in self.rooms.values():
            if room.name.casefold() == folded or room.id.casefold() == folded:
                return room
        return None

    def my_role(self, room_id: str) -> str | None:
        room = self.rooms.get(room_id)
        return room.role if room else None

    def unread_total(self) -> int:
        return sum(c.unread for k, c in self.conversations.items() if k != self.current)

    def dm_unread(self, user_id: str) -> int:
        conv = self.conversations.get(("dm", user_id))
        return conv.unread if conv else 0

    def dm_mentions(self, user_id: str) -> int:
        conv = self.conversations.get(("dm", user_id))
        return conv.mentions if conv else 0

    def unread_mentions(self) -> list[tuple[ConvKey, int]]:
        """The conversations not shown with unread mentions, and how many each."""
        shown = self.current
        return [(k, c.mentions) for k, c in self.conversations.items() if c.mentions and k != shown]

    # -- notices and timers -----------------------------------------------------------

    def notify(self, text: str, level: str = "info") -> None:
        self.notices.append(Notice(text, level, self.clock() + NOTICE_TTL.get(level, 4.0)))
        del self.notices[:-20]

    def clear_notices(self) -> None:
        self.notices.clear()

    def latest_notice(self) -> Notice | None:
        """The notice to show: the newest error or success if any, else the newest of
        any kind. News that came after an error (someone going online) must not hide
        it; but the success of the user's next action ends it (a retry that worked
        was shown as the failure before it for the error's 8 s)."""
        for notice in reversed(self.notices):
            if notice.level in ("error", "success"):
                return notice
        return self.notices[-1] if self.notices else None

    def expire(self) -> bool:
        """Drop lapsed notices and typing indicators; True if anything changed."""
        now = self.clock()
        changed = False
        kept = [n for n in self.notices if n.expires > now]
        if len(kept) != len(self.notices):
            self.notices = kept
            changed = True
        for conv in self.conversations.values():
            lapsed = [uid for uid, until in conv.typing.items() if until <= now]
            for uid in lapsed:
                del conv.typing[uid]
            changed = changed or bool(lapsed)
        return changed

    def system(self, text: str, key: ConvKey | None = None, subject: str | None = None) -> None:
        """A notice line inside a conversation (the current one by default). With a
        ``subject``, it replaces the newest line if that is a notice of the same
        subject: someone going on and offline, or sending DM after DM, is one line
        with the latest news rather than a flood of them."""
        conv = self.conversation(self.current if key is None else key)
        last = conv.messages[-1] if conv.messages else None
        if subject is not None and last is not None and last.subject == subject:
            conv.messages.pop()
        conv.messages.append(
            ChatMessage(
                None,
                None,
                "",
                text,
                self.now_dt(),
                kind="system",
                seq=self._next_seq(),
                subject=subject,
            )
        )
        conv.version += 1

    # -- session ------------------------------------------------------------------------

    def logged_in(self, user: dict[str, Any]) -> None:
        """Our own account, from a login/register/authenticate answer."""
        me = self._user_from_wire(user)
        self.me = UserInfo(me.id, me.username, online=True)
        self.users[me.id] = UserInfo(me.id, me.username, online=True)
        self.screen = "chat"

    def open(self, key: ConvKey) -> Conversation:
        """Make ``key`` the shown conversation; its unread count is now seen. The one
        shown before is no longer read: it keeps only its newest lines."""
        previous, self.current = self.current, key
        if previous != key:
            self.trim(previous)
        conv = self.conversation(key)
        if conv.unread or conv.mentions:
            conv.unread = 0
            conv.mention_ids.clear()
            conv.mention_seed = 0
            conv.version += 1
        self.screen = "chat"
        return conv

    def set_unread(self, by_room: dict[str, Any], by_dm: dict[str, Any]) -> None:
        """Unread counts kept by the server (lairchat's ``/users/me`` extension)."""
        for kind, table in (("room", by_room), ("dm", by_dm)):
            for ident, unread in obj(table).items():
                key = (kind, str(ident))
                if key != self.current and count(unread) > 0:
                    conv = self.conversation(key)
                    conv.unread = count(unread)
                    conv.version += 1

    def read_elsewhere(self, target: Any, unread: Any, mentioned: Any) -> None:
        """lairchat's ``messages_read``: the user read ``target`` (as they sent it: a DM
        names the other party) on some device, and the server counts ``unread`` and
        ``mentioned`` left there. Counts only go down here: what came after the
        server counted is counted again live."""
        target = obj(target)
        kind = str(target.get("type", ""))
        ident = target.get("room_id") if kind == "room" else target.get("recipient")
        conv = self.conversations.get((kind, str(ident)))
        if conv is None:
            return
        conv.unread = min(conv.unread, count(unread))
        if conv.mentions > count(mentioned):
            conv.mention_ids.clear()
            conv.mention_seed = count(mentioned)
        conv.version += 1

    def live_mentions(self) -> dict[ConvKey, set[str]]:
        """The ids of the live mentions counted now, conversation by conversation (for
        :meth:`set_mentions`, taken before the server is asked)."""
        return {k: set(c.mention_ids) for k, c in self.conversations.items() if c.mention_ids}

    def set_mentions(self, counts: dict[str, Any], known: dict[ConvKey, set[str]]) -> None:
        """The server's mention counts (lairchat's ``unread_counts.mentions``), asked
        for when the live mentions were ``known``: those are among the server's if
        still unread, so they give way to its count; one that came since is added.
        The conversation shown has nothing unread."""
        seeds = {
            (kind, str(ident)): count(n)
            for kind, table in (("room", counts.get("by_room")), ("dm", counts.get("by_dm")))
            for ident, n in obj(table).items()
            if count(n) > 0
        }
        for key in {*seeds, *(k for k, c in self.conversations.items() if c.mentions)}:
            if key == self.current:
                continue
            conv = self.conversation(key)
            conv.mention_seed = seeds.get(key, 0)
            conv.mention_ids -= known.get(key, set())
            conv.version += 1

    def users_changed(self) -> None:
        """Names were learned: conversations must redraw their authors."""
        for conv in self.conversations.values():
            conv.version += 1

    def unknown_authors(self, key: ConvKey) -> set[str]:
        conv = self.conversations.get(key)
        if conv is None:
            return set()
        return {m.author_id for m in conv.messages if m.author_id and m.author_id not in self.users}

    def mark_stale(self) -> None:
        """After a reconnection: every conversation must refresh its newest page."""
        for key, conv in self.conversations.items():
            if key != HOME:
                conv.loaded = False

    # -- users and presence ---------------------------------------------------------

    @staticmethod
    def _user_from_wire(user: dict[str, Any]) -> UserInfo:
        return UserInfo(str(user.get("id", "")), str(user.get("username", "?")))

    def add_user(self, user: dict[str, Any], online: bool | None = None) -> UserInfo:
        info = self._user_from_wire(user)
        known = self.users.get(info.id)
        if known is None:
            known = self.users[info.id] = info
        else:
            known.username = info.username
        if online is not None:
            known.online = online
        if self.is_me(info.id):
            known.online = True
        return known

    def set_users(self, items: Iterable[dict[str, Any]]) -> None:
        """``GET /users`` items ``{"user", "online"}`` (every page, concatenated)."""
        for item in objects(items):
            if isinstance(item.get("user"), dict):
                self.add_user(item["user"], bool(item.get("online", False)))

    def set_online(self, user_id: str, username: str | None, online: bool) -> None:
        user = self.users.get(user_id)
        if user is None:
            user = self.users[user_id] = UserInfo(user_id, username or user_id[:8])
        elif username:
            user.username = username
        user.online = online or self.is_me(user_id)

    # -- rooms ------------------------------------------------------------------------

    def add_room(
        self,
        room: dict[str, Any],
        *,
        member_count: int | None = None,
        is_member: bool | None = None,
        role: str | None = None,
    ) -> RoomInfo:
        room_id = str(room.get("id", ""))
        settings = obj(room.get("settings"))
        info = self.rooms.get(room_id)
        if info is None:
            info = self.rooms[room_id] = RoomInfo(room_id, str(room.get("name", "?")))
        info.name = str(room.get("name", info.name))
        info.owner = str(room.get("owner", info.owner))
        info.description = settings.get("description")
        info.is_private = bool(settings.get("is_private", False))
        if member_count is not None:
            info.member_count = member_count
        if is_member is not None:
            info.is_member = is_member
            if not is_member:
                info.role = None
        if role is not None:
            info.role = role
        return info

    def set_rooms(self, public: Iterable[dict[str, Any]], joined: Iterable[dict[str, Any]]) -> None:
        """The public room list and our own rooms (``joined_only``), as RoomListItems."""
        seen: set[str] = set()
        member_of: set[str] = set()
        for item in objects(public):
            if not isinstance(item.get("room"), dict):
                continue
            info = self.add_room(
                item["room"],
                member_count=count(item.get("member_count")),
                is_member=bool(item.get("is_member", False)),
            )
            seen.add(info.id)
            if info.is_member:
                member_of.add(info.id)
        for item in objects(joined):
            if not isinstance(item.get("room"), dict):
                continue
            info = self.add_room(
                item["room"], member_count=count(item.get("member_count")), is_member=True
            )
            seen.add(info.id)
            member_of.add(info.id)
        for room_id in list(self.rooms):
            if room_id not in seen:
                del self.rooms[room_id]
        for room_id, info in self.rooms.items():
            if room_id not in member_of:
                info.is_member = False
                info.role = None

    def room_joined(self, room: dict[str, Any] | None, membership: dict[str, Any]) -> RoomInfo:
        """Our join (or accepted invitation) succeeded."""
        room_id = str(membership.get("room_id") or (room or {}).get("id", ""))
        info = self.rooms.get(room_id)
        if room is not None:
            info = self.add_room(room, is_member=True)
        elif info is None:
            info = self.rooms[room_id] = RoomInfo(room_id, room_id[:8], is_member=True)
        if not info.is_member:
            info.is_member = True
        info.role = str(membership.get("role", "member"))
        info.member_count = max(info.member_count, 1)
        self.invitations = [i for i in self.invitations if i.room_id != room_id]
        return info

    def room_created(self, room: dict[str, Any]) -> RoomInfo:
        info = self.add_room(room, member_count=1, is_member=True, role="owner")
        if self.me is not None:
            self.members[info.id] = {self.me.id: Member(self.me.id, self.me.username, "owner")}
        return info

    def room_left(self, room_id: str) -> None:
        """We are no longer in the room (left, kicked, or it was deleted)."""
        info = self.rooms.get(room_id)
        if info is not None:
            info.is_member = False
            info.role = None
            if info.is_private:
                del self.rooms[room_id]
        self.members.pop(room_id, None)
        self.pins.pop(room_id, None)
        key = ("room", room_id)
        conv = self.conversations.pop(key, None)
        if conv is not None and self.current == key:
            self.current = HOME

    # -- members ------------------------------------------------------------------------

    def set_members(self, room_id: str, members: Iterable[dict[str, Any]]) -> None:
        """``GET /rooms/{id}/members``: who is in, their roles, their presence."""
        table: dict[str, Member] = {}
        for item in objects(members):
            uid = str(item.get("user_id", ""))
            name = str(item.get("username", uid[:8]))
            role = str(item.get("role", "member"))
            table[uid] = Member(uid, name, role)
            self.set_online(uid, name, bool(item.get("is_online", False)))
            if self.is_me(uid) and room_id in self.rooms:
                self.rooms[room_id].role = role
        self.members[room_id] = table
        if room_id in self.rooms:
            self.rooms[room_id].member_count = len(table)

    def sorted_members(self, room_id: str) -> list[Member]:
        return sorted(self.members.get(room_id, {}).values(), key=_member_order)

    # -- invitations ----------------------------------------------------------------------

    @staticmethod
    def _invitation_from_wire(inv: dict[str, Any]) -> Invitation:
        return Invitation(
            id=str(inv.get("id", "")),
            room_id=str(inv.get("room_id", "")),
            room_name=str(inv.get("room_name", "?")),
            inviter_id=str(inv.get("inviter_id", "")),
            inviter_name=str(inv.get("inviter_name", "?")),
            created_at=parse_time(inv.get("created_at")),
            invitee_name=str(inv.get("invitee_name", "?")),
            expires_at=parse_time(inv["expires_at"]) if inv.get("expires_at") else None,
        )

    def set_invitations(self, invitations: Iterable[dict[str, Any]]) -> None:
        self.invitations = [self._invitation_from_wire(i) for i in objects(invitations)]

    def add_invitation(self, invitation: dict[str, Any]) -> Invitation:
        inv = self._invitation_from_wire(invitation)
        self.invitations = [i for i in self.invitations if i.id != inv.id]
        self.invitations.insert(0, inv)
        return inv

    def remove_invitation(self, invitation_id: str) -> None:
        self.invitations = [i for i in self.invitations if i.id != invitation_id]

    def set_room_invitations(
        self, room_id: str, invitations: Iterable[dict[str, Any]], more: bool
    ) -> None:
        listed = [self._invitation_from_wire(i) for i in objects(invitations)]
        self.room_invitations[room_id] = (listed, more)

    def room_invitation(self, invitation_id: str) -> Invitation | None:
        """A room's pending invitation held in a listing, by id."""
        for listed, _ in self.room_invitations.values():
            for inv in listed:
                if inv.id == invitation_id:
                    return inv
        return None

    def remove_room_invitation(self, invitation_id: str) -> Invitation | None:
        """Forget a revoked (or no longer pending) invitation; the one it was."""
        for room_id, (listed, more) in self.room_invitations.items():
            for inv in listed:
                if inv.id == invitation_id:
                    kept = [i for i in listed if i.id != invitation_id]
                    self.room_invitations[room_id] = (kept, more)
                    return inv
        return None

    # -- sessions -------------------------------------------------------------------------

    def set_sessions(self, sessions: Iterable[dict[str, Any]], more: bool) -> None:
        now = self.now_dt()
        self.sessions = [
            SessionInfo(
                id=str(s.get("id", "")),
                created_at=parse_time(s.get("created_at"), now),
                expires_at=parse_time(s.get("expires_at"), now),
                current=s.get("current") is True,
                last_used=parse_time(s["last_active_at"], now)
                if isinstance(s.get("last_active_at"), str)
                else None,
                address=text_or_none(s.get("ip_address")),
                agent=text_or_none(s.get("user_agent")),
            )
            for s in objects(sessions)
        ]
        self.sessions_more = more

    def remove_session(self, session_id: str) -> None:
        if self.sessions is not None:
            self.sessions = [s for s in self.sessions if s.id != session_id]

    def apply_event(self, event: dict[str, Any]) -> list[FollowUp]:
        """Apply one real-time event (see ``events.py``); returns follow-ups."""
        return apply_event(self, event)


#: People listed in each section of the side panel (by name); the others are counted
#: in a last row. With tens of thousands of people known (presence events bring
#: everyone online), making every row at every redraw took 0.1 s a key, and a list
#: that long is not read but searched (``/dm NAME``).
PANEL_SECTION = 200


def _first(people: list[Any], key: Callable[[Any], Any]) -> list[Any]:
    """The first :data:`PANEL_SECTION` of ``people`` in ``key`` order."""
    if len(people) > PANEL_SECTION:
        return heapq.nsmallest(PANEL_SECTION, people, key=key)
    return sorted(people, key=key)


def _more(rows: list[PanelRow], total: int) -> None:
    if total > PANEL_SECTION:
        rows.append(PanelRow("header", f"… {total - PANEL_SECTION:,} more: /dm NAME"))


def panel_rows(state: ClientState) -> list[PanelRow]:
    """The side panel: members of the shown room, then everyone else by presence,
    each section cut at :data:`PANEL_SECTION` people."""
    rows: list[PanelRow] = []
    kind, ident = state.current
    table = state.members.get(ident, {}) if kind == "room" else {}
    if kind == "room" and ident in state.members:
        rows.append(PanelRow("header", f"Members ({len(table)})"))
        for m in _first(list(table.values()), _member_order):
            user = state.users.get(m.user_id)
            rows.append(
                PanelRow(
                    "user",
                    m.username,
                    m.user_id,
                    online=bool(user and user.online),
                    role=m.role,
                    unread=state.dm_unread(m.user_id),
                    mentions=state.dm_mentions(m.user_id),
                    is_me=state.is_me(m.user_id),
                )
            )
        _more(rows, len(table))
    others = [u for u in state.users.values() if u.id not in table and not state.is_me(u.id)]
    for online, label in ((True, "Online"), (False, "Offline")):
        group = [u for u in others if u.online == online]
        if not group:
            continue
        rows.append(PanelRow("header", f"{label} ({len(group)})"))
        rows.extend(
            PanelRow(
                "user",
                u.username,
                u.id,
                online=online,
                unread=state.dm_unread(u.id),
                mentions=state.dm_mentions(u.id),
            )
            for u in _first(group, lambda u: u.username.casefold())
        )
        _more(rows, len(group))
    return rows


def panel_counts(state: ClientState) -> tuple[int, int]:
    """How many of the people in the side panel are online, and how many there are
    (all of them, not only the rows listed)."""
    kind, ident = state.current
    table = state.members.get(ident, {}) if kind == "room" else {}
    online = total = 0
    for user_id in table:
        user = state.users.get(user_id)
        online += bool(user and user.online)
        total += 1
    for user in state.users.values():
        if user.id not in table and not state.is_me(user.id):
            online += user.online
            total += 1
    return online, total
