"""What the controller does for each user action: lists, conversations, rooms,
people and messages.

A mixin of :class:`~lairchat.client.app.App`, which provides ``state``, ``api``,
``link``, ``ui``, ``reactor``, ``spawn`` and ``refresh``. Coroutines here raise
:class:`~lairchat.client.net.errors.ServerError` freely: ``App.spawn`` turns every
failure into a notice (or, for a lost session, a return to the login screen).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, ensureDeferred, gatherResults
from twisted.python.failure import Failure

from lairchat.client import commands as c
from lairchat.client import pins, reactions
from lairchat.client.conversations import STILL_SENDING
from lairchat.client.model import HOME, ConvKey, SearchResults
from lairchat.client.net.errors import ServerError
from lairchat.client.search import NO_SEARCH, day_after, day_start, unsupported
from lairchat.client.state import objects
from lairchat.client.timefmt import parse_time

if TYPE_CHECKING:
    from lairchat.client.net.link import Link
    from lairchat.client.state import ClientState
    from lairchat.client.ui.root import RootView

__all__ = ["ActionsMixin"]

log = logging.getLogger(__name__)

#: At most one ``typing`` notification per conversation in this many seconds
#: (the server forwards at most one per 3 s anyway).
TYPING_INTERVAL = 3.0
HISTORY_PAGE = 50
#: How far back a send the server could not confirm is looked for.
UNCONFIRMED_PAGE = 100
NOT_STORED = "the server lost it: send it again"
MAYBE_STORED = "the server may have stored it: look in history before sending it again"


def _looks_like_id(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _target(key: ConvKey) -> dict[str, str]:
    kind, ident = key
    if kind == "room":
        return {"type": "room", "room_id": ident}
    return {"type": "dm", "recipient": ident}


def _older_than(message: Any, message_id: str) -> bool:
    """Whether ``message`` was created before the message ``message_id`` names, by
    the time in the id (lairchat's message ids are UUIDv7: 48 bits of Unix
    milliseconds first); False when either cannot say."""
    try:
        created = parse_time(message.get("created_at")).timestamp()
        minted = int(message_id.replace("-", "")[:12], 16) / 1000
    except (AttributeError, TypeError, ValueError):
        return False
    return message_id[14:15] == "7" and created < minted - 1


class ActionsMixin:
    """The controller's operations; the attributes below come from ``App``."""

    state: ClientState
    api: Any
    link: Link | None
    ui: RootView
    reactor: Any
    spawn: Callable[..., Deferred]
    refresh: Callable[[], None]
    session_lost: Callable[[ServerError], None]
    _failed: Callable[..., None]
    _after: Callable[[Any], Any]
    _clipboard: Callable[[str], None]
    _typing_sent: dict[ConvKey, float]
    _loading: set[ConvKey]
    _fetching_users: set[str]
    _asked_users: set[str]

    # -- loading lists -----------------------------------------------------------------

    async def _after_login(self) -> None:
        await gatherResults(
            [
                self.spawn(self.refresh_users(), "Could not list users"),
                self.spawn(self.refresh_rooms(), "Could not list rooms"),
                self.spawn(self.refresh_invitations(), "Could not list invitations"),
                self.spawn(self._load_unread()),
            ]
        )
        count = len(self.state.invitations)
        if count:
            plural = "s" if count != 1 else ""
            self.state.notify(f"You have {count} pending invitation{plural} (I to view)", "warning")

    async def _after_reconnect(self) -> None:
        """Catch up: the lists, the server's unread counts (messages missed in
        conversations not shown), and the newest page of the one shown."""
        await gatherResults(
            [
                self.spawn(self.refresh_users()),
                self.spawn(self.refresh_rooms()),
                self.spawn(self.refresh_invitations()),
                self.spawn(self._load_unread()),
            ]
        )
        key = self.state.current
        if key[0] in ("room", "dm"):
            await self.load_latest(key)
            if key[0] == "room":
                await self.load_members(key[1])

    async def _load_unread(self) -> None:
        """The server's unread counts, and its mention counts where it keeps them (a
        server without, Lair Chat, leaves the live ones counted as they are)."""
        known = self.state.live_mentions()
        try:
            me = await self.api.me()
        except ServerError:
            return
        two_factor = me.get("two_factor")
        self.state.two_factor_on = (
            isinstance(two_factor, dict) and two_factor.get("enabled") is True
        )
        counts = me.get("unread_counts")
        if isinstance(counts, dict):
            self.state.set_unread(counts.get("by_room") or {}, counts.get("by_dm") or {})
            if isinstance(counts.get("mentions"), dict):
                self.state.set_mentions(counts["mentions"], known)

    async def refresh_users(self) -> None:
        self.state.set_users(await self.api.users())
        self.state.users_changed()

    async def refresh_rooms(self) -> None:
        public = await self.api.rooms()
        joined = await self.api.my_rooms()
        self.state.set_rooms(public, joined)

    async def refresh_invitations(self) -> None:
        self.state.set_invitations(await self.api.invitations())

    async def refresh_sessions(self) -> None:
        try:
            listed, more = await self.api.sessions()
        except ServerError:
            self._close_unloaded(self.state.sessions is None)
            raise
        self.state.set_sessions(listed, more)

    def list_room_invitations(self, room_id: str) -> None:
        self.spawn(self._load_room_invitations(room_id), "Could not list the room's invitations")

    async def _load_room_invitations(self, room_id: str) -> None:
        try:
            listed, more = await self.api.room_invitations(room_id)
        except ServerError:
            self._close_unloaded(room_id not in self.state.room_invitations)
            raise
        self.state.set_room_invitations(room_id, listed, more)

    def _close_unloaded(self, unloaded: bool) -> None:
        """A list box whose list could not be had (a member asking for a room's
        invitations, a rate limit) closes rather than say "loading" for ever; the
        refusal is shown in the server's words. One already filled stays."""
        if unloaded:
            self.ui.close_overlay()

    async def load_members(self, room_id: str) -> None:
        try:
            members = await self.api.members(room_id)
        except ServerError as err:
            if err.code in ("not_room_member", "room_not_found"):
                return
            raise
        self.state.set_members(room_id, members)

    def _learn_authors(self, key: ConvKey, authors: set[str] | None = None) -> None:
        """Ask the server the names of the conversation's unknown authors (of
        ``authors`` only, if given: a live message's, rather than going through the
        whole conversation at every message), each once until the next
        (re)connection: an account deleted since stays unknown, and asking again at
        every message of a busy room would be a request each."""
        if authors is None:
            authors = self.state.unknown_authors(key)
        unknown = {a for a in authors if a and a not in self.state.users}
        unknown -= self._fetching_users | self._asked_users
        # At most a page's worth at once: a server answering a page of thousands of
        # messages by as many strangers had the client send as many requests at once.
        for user_id in sorted(unknown)[:HISTORY_PAGE]:
            self._fetching_users.add(user_id)
            self._asked_users.add(user_id)
            self.spawn(self._fetch_user(user_id))

    async def _fetch_user(self, user_id: str) -> None:
        try:
            data = await self.api.user(user_id)
        except ServerError:
            return
        finally:
            self._fetching_users.discard(user_id)
        self.state.add_user(data.get("user") or {}, bool(data.get("online", False)))
        self.state.users_changed()

    # -- conversations ------------------------------------------------------------------

    async def open_conversation(self, key: ConvKey) -> None:
        """Show ``key``, ready to type in: the user picked it to talk there, and in
        normal mode the first words typed would be taken as keys (``g``, ``r``, ``I``
        of "great, I…" scroll, open the room list, the invitations)."""
        previous = self.state.current
        if previous != key:
            self._mark_read(previous)
        conv = self.state.open(key)
        self.ui.chat.pane.scroll("bottom")
        self.ui.chat.set_mode("insert")
        self.refresh()
        if not conv.loaded:
            await self.load_latest(key)
        if key[0] == "room" and key[1] not in self.state.members:
            await self.load_members(key[1])
        self._mark_read(key)

    async def load_latest(self, key: ConvKey, replace: bool = False) -> None:
        """The newest page; with ``replace``, instead of what is shown, not merged."""
        if key in self._loading:
            return
        self._loading.add(key)
        try:
            page, more = await self.api.history(key[0], key[1], limit=HISTORY_PAGE)
        finally:
            self._loading.discard(key)
        self.state.apply_history(key, page, more, replace=replace)
        self._learn_authors(key)

    def load_older(self) -> None:
        """The pane reached its top (called while drawing: act on the next turn)."""
        self.reactor.callLater(0, self._load_older, self.state.current)

    def _load_older(self, key: ConvKey) -> None:
        conv = self.state.conversations.get(key)
        if conv is None or key == HOME or not conv.loaded or not conv.has_more:
            return
        if key in self._loading:
            return
        oldest = next((m.id for m in conv.messages if m.id), None)
        if oldest is None:
            return
        self.spawn(self._fetch_older(key, oldest), "Could not load older messages")

    async def _fetch_older(self, key: ConvKey, before: str) -> None:
        self._loading.add(key)
        try:
            page, more = await self.api.history(key[0], key[1], limit=HISTORY_PAGE, before=before)
        except ServerError as e:
            if e.code != "message_not_found":
                raise
            page, more = None, False
        finally:
            self._loading.discard(key)
        if page is None:
            # The oldest message shown is gone with no event to say so (the server's
            # retention pruned it), and maybe more: start again from the newest page.
            await self.load_latest(key, replace=True)
            return
        self.state.apply_history(key, page, more, older=True)
        self._learn_authors(key)

    async def _settle_unconfirmed(self, key: ConvKey, local: int, message_id: str) -> None:
        """A send the server could neither confirm nor deny storing: its history is
        final by then (TCP.md, "Storage faults"), so the newest page says which, and
        the line shows it as sent or as safe to send again instead of a bare
        "Internal error" (pressed again, that could show it twice). A page that
        cannot tell (more messages came since than it holds) says to look first."""
        try:
            page, more = await self.api.history(key[0], key[1], limit=UNCONFIRMED_PAGE)
        except ServerError:
            page, more = [], True
        found = next((m for m in page if isinstance(m, dict) and m.get("id") == message_id), None)
        if found is not None:
            self.state.confirm_pending(local, found)
        elif not more or _older_than(page[-1] if page else None, message_id):
            self.state.fail_pending(local, NOT_STORED)
        else:
            self.state.fail_pending(local, MAYBE_STORED)

    def _newest_shown(self, key: ConvKey) -> str | None:
        """What a conversation is marked read up to: the id of the newest message it
        shows (not a pending send, which has none), not the server's newest, which
        may have been stored while the request was on its way and never seen. None
        when it shows none (empty, or its history failed to load): then nothing is
        marked, since without up_to the server would mark its newest."""
        if key[0] not in ("room", "dm"):
            return None
        conv = self.state.conversations.get(key)
        return next((m.id for m in reversed(conv.messages) if m.id), None) if conv else None

    def _mark_read(self, key: ConvKey) -> None:
        newest = self._newest_shown(key)
        if newest is None or not self.api.token:
            return
        d = ensureDeferred(self.api.mark_read(key[0], key[1], newest))
        d.addErrback(lambda f: None)  # lairchat's extension; other servers say 404

    # -- search --------------------------------------------------------------------------

    def _search(self, action: c.Search) -> None:
        """A new search, in the conversation shown (everywhere when asked, or when
        none is): its first page is asked for; the box shows it as it comes. A
        ``from:NAME`` is looked up first, as ``/dm`` looks up its name."""
        key = self.state.current
        scope = None if action.everywhere or key[0] not in ("room", "dm") else key
        results = SearchResults(
            action.query, scope, action.author, None, action.since, action.until
        )
        self.state.search = results
        if action.author is None:
            self._search_page(results)
        else:
            results.busy = True
            self.spawn(self._search_by(results, action.author))

    async def _search_by(self, results: SearchResults, name: str) -> None:
        try:
            user = await self._find_user(name)
        finally:
            results.busy = False
        if self.state.search is not results:
            return
        if user is None:
            results.error = f"No user named {name!r}"
            return
        results.author = user.id
        self._search_page(results)

    def _search_older(self) -> None:
        """The next page of the search shown, once the last one is in: asked when
        the reader goes past its last result (or presses ``o``), never on its own,
        since each page may scan 5,000 messages of the server's."""
        results = self.state.search
        if results is not None and results.has_more and not results.busy and not results.error:
            self._search_page(results)

    def _search_page(self, results: SearchResults) -> None:
        results.busy = True
        results.error = None
        self.spawn(self._fetch_search(results))

    async def _fetch_search(self, results: SearchResults) -> None:
        """One page. A refusal is shown in the box in the server's words, and a
        server without search (404 without the API's envelope) says so; an answer
        to a search replaced meanwhile is dropped."""
        kind, target_id = results.scope if results.scope is not None else (None, None)
        try:
            page = await self.api.search_messages(
                results.query,
                kind,
                target_id,
                before=results.next_before,
                author=results.author,
                since=day_start(results.since) if results.since else None,
                until=day_after(results.until) if results.until else None,
            )
        except ServerError as err:
            results.error = NO_SEARCH if unsupported(err.status, err.code) else err.describe()
            if err.session_lost:
                raise
            return
        finally:
            results.busy = False
        if self.state.search is not results:
            return
        found = [m for m in objects(page.get("messages")) if isinstance(m.get("id"), str)]
        results.messages.extend(found)
        next_before = page.get("next_before")
        results.has_more = page.get("has_more") is True and isinstance(next_before, str)
        results.next_before = next_before if results.has_more else None
        people = {str(m.get("author", "")) for m in found}
        people |= {k[1] for k in map(self.state.key_for_message, found) if k[0] == "dm"}
        self._learn_authors(HOME, people)

    # -- rooms ---------------------------------------------------------------------------

    async def _find_room(self, wanted: str) -> Any:
        room = self.state.find_room(wanted)
        if room is None:
            await self.refresh_rooms()
            room = self.state.find_room(wanted)
        return room

    @contextmanager
    def _opening(self, label: str) -> Iterator[None]:
        """``state.opening`` says what is being opened while the server is asked: the
        room list holds the keys typed then (``RoomsView``), and the message field
        does not send to the conversation still shown (``ChatView``)."""
        self.state.opening = label
        try:
            yield
        finally:
            self.state.opening = None

    async def _join(self, wanted: str) -> None:
        """Join (or switch to) a room."""
        room = self.state.find_room(wanted)
        with self._opening(f"#{room.name if room is not None else wanted}"):
            room_id = await self._join_room(wanted)
        if room_id is not None:
            await self.open_conversation(("room", room_id))

    async def _join_room(self, wanted: str) -> str | None:
        """The room's id once we are in it, or None (and a notice) if there is none."""
        room = await self._find_room(wanted)
        if room is None and _looks_like_id(wanted):
            room_id = wanted
        elif room is None:
            self.state.notify(f"No room named {wanted!r} (r lists them)", "error")
            return None
        else:
            room_id = room.id
            if room.is_member:
                return room_id
        try:
            data = await self.api.join_room(room_id)
        except ServerError as err:
            if err.code != "already_member":
                raise
            data = None
        if data is not None:
            info = self.state.room_joined(data.get("room"), data.get("membership") or {})
            self.state.system(f"You joined #{info.name}", ("room", room_id))
        return room_id

    async def _create(self, name: str, private: bool) -> None:
        with self._opening(f"#{name}"):
            room = await self.api.create_room(name, private)
        info = self.state.room_created(room)
        kind = "private room" if private else "room"
        self.state.system(f"You created the {kind} #{info.name}", ("room", info.id))
        await self.open_conversation(("room", info.id))

    async def _leave(self) -> None:
        kind, room_id = self.state.current
        if kind != "room":
            self.state.notify("You are not in a room", "error")
            return
        room = self.state.rooms.get(room_id)
        await self.api.leave_room(room_id)
        if room is not None and room.is_member:
            self.state.room_left(room_id)
            self.state.notify(f"You left #{room.name}")

    async def _accept(self, invitation_id: str) -> None:
        data = await self.api.accept(invitation_id)
        self.state.remove_invitation(invitation_id)
        info = self.state.room_joined(data.get("room"), data.get("membership") or {})
        self.state.notify(f"Joined #{info.name}", "success")
        self.ui.close_overlay()
        await self.open_conversation(("room", info.id))

    async def _decline(self, invitation_id: str) -> None:
        await self.api.decline(invitation_id)
        self.state.remove_invitation(invitation_id)
        self.state.notify("Invitation declined")

    async def _revoke(self, action: c.RevokeInvitation) -> None:
        """Withdraw a pending invitation. One answered or revoked meanwhile
        (``invitation_expired``) or gone (``invitation_not_found``) is refused in
        the server's words, and the room's list fetched again. Who it invited is
        read first: its ``invitation_revoked`` may take it off the list before the
        answer comes."""
        inv = self.state.room_invitation(action.invitation_id)
        try:
            await self.api.revoke(action.invitation_id)
        except ServerError as err:
            if err.code in ("invitation_expired", "invitation_not_found"):
                self.list_room_invitations(action.room_id)
            raise
        self.state.remove_room_invitation(action.invitation_id)
        whom = f" of {inv.invitee_name}" if inv is not None else ""
        self.state.notify(f"Invitation{whom} revoked", "success")

    # -- people ---------------------------------------------------------------------------

    async def _find_user(self, username: str) -> Any:
        """Someone by name: known here, or else asked of the server by name. The
        client loads at most ten pages of users, so on a server of more than a
        thousand, ``/dm`` and ``/invite`` reached only the first thousand by name."""
        user = self.state.find_user(username)
        if user is None:
            for item in await self.api.search_users(username.strip().lstrip("@")):
                found = item.get("user") if isinstance(item, dict) else None
                if isinstance(found, dict) and self.state.same_name(
                    str(found.get("username", "")), username
                ):
                    user = self.state.add_user(found, bool(item.get("online", False)))
                    self.state.users_changed()
                    break
        if user is None:
            self.state.notify(f"No user named {username!r}", "error")
        return user

    async def _start_dm(self, username: str) -> None:
        with self._opening(f"the DM with {username}"):
            user = await self._find_user(username)
        if user is None:
            return
        if self.state.is_me(user.id):
            self.state.notify("That is you: pick someone else to message", "error")
            return
        await self.open_conversation(("dm", user.id))

    def _current_room(self) -> str | None:
        kind, room_id = self.state.current
        if kind != "room":
            self.state.notify("Open a room first (r)", "error")
            return None
        return room_id

    async def _invite(self, username: str) -> None:
        room_id = self._current_room()
        if room_id is None:
            return
        user = await self._find_user(username)
        if user is None:
            return
        await self.api.invite(room_id, user.id)
        self.state.notify(
            f"Invited {user.username} to {self.state.title_of(('room', room_id))}", "success"
        )

    async def _member(self, room_id: str, username: str) -> Any:
        if room_id not in self.state.members:
            await self.load_members(room_id)
        for member in self.state.members.get(room_id, {}).values():
            if self.state.same_name(member.username, username):
                return member
        self.state.notify(f"{username} is not a member of this room", "error")
        return None

    async def _kick(self, username: str) -> None:
        room_id = self._current_room()
        member = await self._member(room_id, username) if room_id else None
        if room_id is None or member is None:
            return
        await self.api.kick(room_id, member.user_id)
        self.state.notify(f"Removed {member.username} from the room", "success")

    async def _set_role(self, username: str, role: str) -> None:
        room_id = self._current_room()
        member = await self._member(room_id, username) if room_id else None
        if room_id is None or member is None:
            return
        updated = await self.api.set_role(room_id, member.user_id, role)
        member.role = str(updated.get("role", role))
        if self.state.is_me(member.user_id) and room_id in self.state.rooms:
            self.state.rooms[room_id].role = member.role
        self.state.notify(f"{member.username} is now {member.role}", "success")

    # -- messages -------------------------------------------------------------------------

    def _send(self, text: str) -> None:
        key = self.state.current
        if key == HOME:
            self.state.notify("Pick a room first (r) or start a DM with /dm USER", "error")
            return
        local = self.state.add_pending(key, text)
        self.ui.chat.pane.scroll("bottom")
        if self.link is None:
            self.state.fail_pending(local, "not connected")
            return
        d = self.link.request({"type": "send_message", "target": _target(key), "content": text})

        def sent(response: dict[str, Any]) -> None:
            message = response.get("message")
            if isinstance(message, dict):
                self.state.confirm_pending(local, message)
            else:  # its echo, if it comes, still takes the line's place
                self.state.fail_pending(local, "the server's answer holds no message")

        def refused(failure: Failure) -> None:
            unconfirmed = (
                failure.value.unconfirmed_id if isinstance(failure.value, ServerError) else None
            )
            if unconfirmed is not None:
                self.spawn(self._settle_unconfirmed(key, local, unconfirmed))
                return
            reason = (
                failure.value.describe()
                if isinstance(failure.value, ServerError)
                else failure.getErrorMessage()
            )
            self.state.fail_pending(local, reason)
            if isinstance(failure.value, ServerError) and failure.value.session_lost:
                self.session_lost(failure.value)

        d.addCallbacks(sent, refused)
        d.addErrback(self._failed)
        d.addBoth(self._after)
        self._typing_sent.pop(key, None)

    def typing(self) -> None:
        key = self.state.current
        if key == HOME or self.link is None:
            return
        now = self.reactor.seconds()
        if now - self._typing_sent.get(key, -TYPING_INTERVAL) < TYPING_INTERVAL:
            return
        if self.link.send({"type": "typing", "target": _target(key)}):
            self._typing_sent[key] = now

    def _realtime(
        self,
        message: dict[str, Any],
        done: Callable[[dict[str, Any]], None],
        context: str,
        undone: Callable[[], str | None] | None = None,
    ) -> None:
        """Send a request. If it fails, ``undone`` may act on it and say so: the
        notice then begins with what it returns rather than ``context``."""

        def notice() -> str:
            return (undone() if undone else None) or context

        if self.link is None:
            self.state.notify(f"{notice()}: not connected", "error")
            return
        d = self.link.request(message)
        d.addCallback(done)

        def failed(failure: Failure) -> None:
            self._failed(failure, notice())

        d.addErrback(failed)
        d.addBoth(self._after)

    def _copy_last(self) -> None:
        conv = self.state.current_conversation
        last = next((m for m in reversed(conv.messages) if m.kind != "system"), None)
        if last is None:
            self.state.notify("No message to copy", "error")
            return
        self.copy(last.content)

    def copy(self, text: str) -> None:
        """``text`` to the terminal's clipboard, and a notice saying so."""
        try:
            self._clipboard(text)
        except Exception as exc:
            log.info("copy failed: %s", exc)
            self.state.notify("Could not copy to the clipboard", "error")
            return
        self.state.notify("Copied to the clipboard (if your terminal allows OSC 52)")

    def _edit_last(self, text: str, message_id: str | None = None) -> None:
        """``message_id``: the message picked when editing started, even if one of
        yours came in since (sent from another client)."""
        if message_id is None:
            if self.state.sending_own():
                self.state.notify(STILL_SENDING, "error")
                return
            last = self.state.last_own_message()
        else:
            last = self.state.current_conversation.find(message_id)
        if last is None or not last.id:
            self.state.notify(
                "No message of yours here to edit"
                if message_id is None
                else "That message is gone (deleted meanwhile): nothing was changed",
                "error",
            )
            return
        key, picked = self.state.current, last.id

        def put_back() -> str | None:
            if message_id is not None and self.ui.chat.resume_edit(key, picked, text):
                return "Your edit is back in the field (Enter tries again), not saved"
            return None

        self._realtime(
            {"type": "edit_message", "message_id": picked, "content": text},
            lambda r: self.state.edit_message(r.get("message") or {}),
            "Could not edit",
            put_back,
        )

    def _delete_last(self) -> None:
        if self.state.sending_own():
            self.state.notify(STILL_SENDING, "error")
            return
        last = self.state.last_own_message()
        if last is None or last.id is None:
            self.state.notify("No message of yours here to delete", "error")
            return
        message_id = last.id
        self._realtime(
            {"type": "delete_message", "message_id": message_id},
            lambda r: self.state.delete_message(message_id),
            "Could not delete",
        )

    def _react(self, emoji: str, remove: bool) -> None:
        """Send the reaction; the count under the message changes with the event
        the server sends every participant who asked, us included (a repeat,
        which changes nothing, is told to no one and counts once)."""
        msg, emoji = reactions.pick(self.state, emoji, remove)
        if msg is None or msg.id is None:
            self.state.notify(
                f"No {emoji} of yours here to take back" if remove else "No message here",
                "error",
            )
            return
        kind = "remove_reaction" if remove else "add_reaction"
        self._realtime(
            {"type": kind, "message_id": msg.id, "emoji": emoji},
            lambda r: None,
            "Could not take back the reaction" if remove else "Could not react",
        )

    # -- pinned messages (lairchat.client.pins) -------------------------------------------

    def _pin(self, action: c.Pin) -> None:
        """Pin or unpin the message ``/pin N`` means (or the one chosen in ``/pins``);
        the room's list changes with the event the server sends its members."""
        message_id = action.message_id
        if message_id is None:
            kind = self.state.current[0]
            if kind != "room":
                no_room = (
                    "A direct message has no pins" if kind == "dm" else "Open a room first (r)"
                )
                self.state.notify(no_room, "error")
                return
            msg = pins.nth_newest(self.state, action.n)
            if msg is None:
                self.state.notify(f"No message {action.n} here (1 is the newest)", "error")
                return
            message_id = msg.id
        self.spawn(
            self._send_pin(str(message_id), action.remove),
            "Could not unpin" if action.remove else "Could not pin",
        )

    async def _send_pin(self, message_id: str, remove: bool) -> None:
        await self._pin_route(self.api.unpin(message_id) if remove else self.api.pin(message_id))
        self.state.notify("Unpinned" if remove else "Pinned")

    def list_pins(self, room_id: str) -> None:
        self.spawn(self._load_pins(room_id), "Could not list the pinned messages")

    async def _load_pins(self, room_id: str) -> None:
        try:
            listed = await self._pin_route(self.api.pins(room_id))
        except ServerError:
            self._close_unloaded(room_id not in self.state.pins)
            raise
        pins.set_pins(self.state, room_id, listed)
        people = {p.pinned_by for p in self.state.pins[room_id]}
        people |= {str(p.message.author_id) for p in self.state.pins[room_id]}
        self._learn_authors(HOME, people)

    @staticmethod
    async def _pin_route(request: Any) -> Any:
        """``request``'s answer; a server without pins is said to be one
        (:data:`~lairchat.client.pins.NO_PINS`) rather than shown its 404."""
        try:
            return await request
        except ServerError as err:
            if not pins.cannot_pin(err):
                raise
            raise ServerError(err.code, pins.NO_PINS, status=err.status) from None
