"""Boxes drawn over the current screen: help, invitations, members, sessions, a
room's pending invitations, message search results, a room's pinned messages, and
"quit?".

Each one takes keys while open and sets ``done`` when it wants to close; the root
view removes it then. Lists keep a selection index, and act on the selected item
through the controller; what cannot be undone (ending a session, revoking an
invitation) is asked first, in the box's footer.
"""

from __future__ import annotations

from typing import Any

import urwid

from lairchat.client import commands as c
from lairchat.client.model import Pin
from lairchat.client.search import excerpt, filter_words
from lairchat.client.state import ClientState
from lairchat.client.timefmt import format_clock, parse_time
from lairchat.client.ui.base import Controller
from lairchat.client.ui.editing import line_edit_key
from lairchat.client.ui.login import Field
from lairchat.client.ui.people import ROLE_MARK
from lairchat.client.ui.safeedit import SafeEdit
from lairchat.client.ui.safetext import SafeLine, SafeLineBox, SafeText

__all__ = [
    "DELETE_ACCOUNT_INTRO",
    "ConfirmDialog",
    "DeleteAccountOverlay",
    "ExportOverlay",
    "FormOverlay",
    "HelpOverlay",
    "InvitationsOverlay",
    "MembersOverlay",
    "Overlay",
    "PaletteOverlay",
    "PasswordOverlay",
    "PinsOverlay",
    "RoomInvitationsOverlay",
    "SearchOverlay",
    "SessionsOverlay",
]

#: What the search box says while older messages are left to search.
OLDER_NOT_SEARCHED = "older messages not searched yet"
#: The label of a form's field for the second factor (FormOverlay.ask_code).
CODE = "Code"

KEYS_NORMAL = [
    ("i", "type a message (insert mode)"),
    ("Esc", "back to normal mode; clear notices"),
    ("j / k", "scroll down / up (older history loads at the top)"),
    ("G / g", "jump to the newest / oldest message"),
    ("PgUp / PgDn", "scroll a page"),
    ("r", "room list"),
    ("I", "invitations"),
    ("m", "members of the room (roles, kick)"),
    ("e", "edit your last message"),
    ("y", "copy the newest message to the clipboard"),
    ("Ctrl+P", "command palette"),
    ("Tab", "switch between messages and people"),
    ("R", "reconnect now"),
    ("? / F1", "this help"),
    ("q", "quit"),
]
KEYS_INSERT = [
    ("Enter", "send"),
    ("Alt+Enter", "new line"),
    ("Ctrl+A / Ctrl+E", "start / end of line"),
    ("Ctrl+U / Ctrl+K", "delete to start / end of line"),
    ("Ctrl+W", "delete the word before the cursor"),
    ("//text", "send a message that starts with /"),
]
KEYS_PEOPLE = [
    ("j / k", "select"),
    ("Enter", "direct message (then type)"),
    ("i", "invite to this room"),
]
KEYS_ROOMS = [
    ("j / k", "select"),
    ("Enter", "join / open (then type)"),
    ("c", "create"),
    ("b / Esc", "back"),
]


class Overlay(urwid.WidgetWrap):
    """Base: a titled box with ``done`` and the footer line of keys."""

    title = ""
    width = 70
    height = 70
    #: Whether a paste is text for it (its fields), rather than keys to ignore.
    takes_paste = False

    def __init__(self, body: urwid.Widget, keys: str) -> None:
        self.done = False
        self.footer = SafeText(("hint", keys), align="center")
        self.frame = urwid.Frame(body, footer=self.footer)
        self.box = SafeLineBox(self.frame, title=self.title)
        super().__init__(urwid.AttrMap(self.box, "box_focus"))

    def update(self, state: ClientState) -> None:
        """Redraw from the state (lists change while the box is open)."""


class _ListOverlay(Overlay):
    def __init__(self, controller: Controller, keys: str) -> None:
        self.controller = controller
        self.keys = keys
        #: The action a question in the footer waits for ``y`` to send (see ``_ask``).
        self.asking: c.Action | None = None
        self.selected = 0
        self.count = 0
        self.walker = urwid.SimpleFocusListWalker([])
        #: The items and selectable lines the walker shows, and the line styled as
        #: selected (see ``_set_items``).
        self._shown: tuple[list[Any], list[int]] = ([], [])
        self._chosen: int | None = None
        super().__init__(urwid.ListBox(self.walker), keys)

    def _set_items(self, items: list[Any], selectable: list[int]) -> None:
        """``items``: markup per line; ``selectable``: line indexes of the entries.

        The lines are made again only when they change: the box is updated at every
        key and event, and in a room of 10,000 members making them all again took
        over half a second for each ``j``. A move of the selection restyles two."""
        self.count = len(selectable)
        if self.count:
            self.selected = max(0, min(self.selected, self.count - 1))
        if (items, selectable) != self._shown:
            self._shown = (items, selectable)
            self.walker[:] = [urwid.AttrMap(SafeLine(markup), None) for markup in items]
            self._chosen = None
        line = selectable[self.selected] if self.count else None
        if line != self._chosen:
            if self._chosen is not None:
                self.walker[self._chosen].set_attr_map({None: None})
            if line is not None:
                self.walker[line].set_attr_map({None: "selected"})
                self.walker.set_focus(line)
            self._chosen = line

    def _ask(self, question: str, action: c.Action) -> None:
        """Ask before ``action``, in the footer: ``y``/``Enter`` sends it, any other
        key cancels (so a key pressed by mistake never does what cannot be undone)."""
        self.asking = action
        self.footer.set_text(("notice_warning", f"{question} y/Enter: yes · n/Esc: no"))

    def _answer(self, key: str) -> bool:
        """The key answers the question asked, if one is: True if it was taken."""
        action, self.asking = self.asking, None
        if action is None:
            return False
        self.footer.set_text(("hint", self.keys))
        if key in ("y", "Y", "enter"):
            self.controller.dispatch(action)
        return True

    def _move(self, key: str) -> bool:
        if key in ("j", "down"):
            self.selected = min(self.count - 1, self.selected + 1) if self.count else 0
        elif key in ("k", "up"):
            self.selected = max(0, self.selected - 1)
        else:
            return False
        return True


class HelpOverlay(Overlay):
    title = "Help"
    height = 85

    def __init__(self) -> None:
        lines: list[Any] = []

        def section(name: str, rows: list[tuple[str, str]]) -> None:
            lines.append(("header", name))
            for key, text in rows:
                lines.append([("author_me", f"  {key:<17}"), text])
            lines.append("")

        section("Normal mode", KEYS_NORMAL)
        section("Insert mode", KEYS_INSERT)
        section("People panel (Tab)", KEYS_PEOPLE)
        section("Room list (r)", KEYS_ROOMS)
        section(
            "Commands (type in insert mode)", [(f"{n} {a}".strip(), d) for n, a, d in c.COMMANDS]
        )
        self.walker = urwid.SimpleFocusListWalker([SafeText(line) for line in lines])
        self.listbox = urwid.ListBox(self.walker)
        super().__init__(self.listbox, "j/k: scroll · g/G: top/bottom · Esc/Enter/q: close")

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        if key in ("esc", "enter", "q", " ", "?"):
            self.done = True
            return None
        mapped = {"j": "down", "k": "up", "g": "home", "G": "end"}.get(key, key)
        if mapped in ("home", "end"):
            self.listbox.set_focus(0 if mapped == "home" else len(self.walker) - 1)
            self.listbox.set_focus_valign("top" if mapped == "home" else "bottom")
        elif mapped in ("down", "up", "page down", "page up") and len(size) == 2:
            inner = (max(1, size[0] - 2), max(1, size[1] - 3))  # borders and footer
            self.listbox.keypress(inner, mapped)
        return None


class InvitationsOverlay(_ListOverlay):
    title = "Invitations"

    def __init__(self, controller: Controller) -> None:
        super().__init__(
            controller, "j/k: select · a/Enter: accept · d/x: decline · r: refresh · Esc/q: close"
        )
        self.ids: list[str] = []

    def update(self, state: ClientState) -> None:
        self.ids = [i.id for i in state.invitations]
        self.box.set_title(f"Invitations ({len(self.ids)})")
        if not state.invitations:
            self._set_items([("hint", "  No pending invitations")], [])
            return
        items: list[Any] = []
        selectable = []
        now = state.now_dt()
        for inv in state.invitations:
            selectable.append(len(items))
            items.append(f" #{inv.room_name}")
            items.append(
                ("hint", f"     from {inv.inviter_name} · {format_clock(inv.created_at, now)}")
            )
        self._set_items(items, selectable)

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        if key in ("esc", "q"):
            self.done = True
        elif self._move(key):
            pass
        elif key in ("a", "enter") and self.ids:
            self.controller.dispatch(c.AcceptInvitation(self.ids[self.selected]))
        elif key in ("d", "x") and self.ids:
            self.controller.dispatch(c.DeclineInvitation(self.ids[self.selected]))
        elif key == "r":
            self.controller.dispatch(c.RefreshInvitations())
        return None


class MembersOverlay(_ListOverlay):
    title = "Members"

    def __init__(self, controller: Controller) -> None:
        super().__init__(
            controller,
            "j/k: select · Enter: DM · p: mod · d: member · o: owner · x: kick"
            " · I: invitations · Esc/q: close",
        )
        self.names: list[str] = []

    def update(self, state: ClientState) -> None:
        kind, room_id = state.current
        room = state.rooms.get(room_id) if kind == "room" else None
        if room is None:
            self.done = True
            return
        members = state.sorted_members(room_id)
        self.names = [m.username for m in members]
        role = f" — you are {room.role}" if room.role else ""
        self.box.set_title(f"Members of #{room.name} ({len(members)}){role}")
        items: list[Any] = []
        selectable = []
        group = None
        for m in members:
            if m.role != group:
                group = m.role
                label = {"owner": "Owners", "moderator": "Moderators"}.get(m.role, "Members")
                items.append(("header", f"─ {label} ─"))
            user = state.users.get(m.user_id)
            online = bool(user and user.online)
            you = " (you)" if state.is_me(m.user_id) else ""
            selectable.append(len(items))
            items.append(
                [
                    " ",
                    ("online" if online else "offline", "● " if online else "○ "),
                    f"{ROLE_MARK.get(m.role, ' ')}{m.username}{you}",
                ]
            )
        if not members:
            items = [("hint", "  (loading members…)")]
        self._set_items(items, selectable)

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        name = self.names[self.selected] if self.names else None
        if self._answer(key):
            pass
        elif key in ("esc", "q"):
            self.done = True
        elif self._move(key):
            pass
        elif key == "I":
            self.controller.dispatch(c.ShowRoomInvitations())
        elif name is None:
            return None
        elif key == "enter":
            self.done = True
            self.controller.dispatch(c.StartDM(name))
        elif key == "p":
            self.controller.dispatch(c.SetRole(name, "moderator"))
        elif key == "d":
            self.controller.dispatch(c.SetRole(name, "member"))
        elif key == "o":
            self.controller.dispatch(c.SetRole(name, "owner"))
        elif key == "x":  # a kick cannot be undone (a private room needs a new invitation)
            self._ask(f"Kick {name} out of the room?", c.Kick(name))
        return None


class RoomInvitationsOverlay(_ListOverlay):
    """``I`` in the members box, ``/pending``: the room's pending invitations, whoever
    sent them, for its owners and moderators to revoke one (the server refuses the
    others, in its words). The invitee is not told of a revocation."""

    title = "Pending invitations"

    def __init__(self, controller: Controller, room_id: str) -> None:
        super().__init__(
            controller, "j/k: select · x/Del: revoke · r: refresh · b/Esc: members · q: close"
        )
        self.room_id = room_id
        self.listed: list[Any] = []

    def update(self, state: ClientState) -> None:
        room = state.rooms.get(self.room_id)
        name = room.name if room is not None else "?"
        listed, more = state.room_invitations.get(self.room_id, (None, False))
        self.listed = listed or []
        self.box.set_title(f"Pending invitations to #{name} ({len(self.listed)})")
        if listed is None:
            self._set_items([("hint", "  (loading invitations…)")], [])
            return
        if not listed:
            self._set_items([("hint", "  No pending invitations")], [])
            return
        items: list[Any] = []
        selectable = []
        now = state.now_dt()
        for inv in listed:
            selectable.append(len(items))
            items.append(f" @{inv.invitee_name}")
            expires = f" · expires {format_clock(inv.expires_at, now)}" if inv.expires_at else ""
            sent = format_clock(inv.created_at, now)
            items.append(("hint", f"     invited by {inv.inviter_name} · {sent}{expires}"))
        if more:
            items.append(("hint", "  (older invitations not listed)"))
        self._set_items(items, selectable)

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        if self._answer(key):
            pass
        elif key == "q":
            self.done = True
        elif key in ("esc", "b"):
            self.done = True
            self.controller.dispatch(c.ShowMembers())
        elif self._move(key):
            pass
        elif key == "r":
            self.controller.dispatch(c.RefreshRoomInvitations(self.room_id))
        elif key in ("x", "delete") and self.listed:
            inv = self.listed[self.selected]
            revoke = c.RevokeInvitation(inv.id, self.room_id)
            self._ask(f"Revoke the invitation of {inv.invitee_name}?", revoke)
        return None


class SessionsOverlay(_ListOverlay):
    """``/sessions``: where the account is signed in (every login makes a session,
    on any device), newest first, to end one: a token left on another machine, or
    stolen, stops working at once. Ending the one marked "this one" is a logout."""

    title = "Sessions"

    def __init__(self, controller: Controller) -> None:
        super().__init__(controller, "j/k: select · x/Del: end session · r: refresh · Esc/q: close")
        self.listed: list[Any] = []

    def update(self, state: ClientState) -> None:
        self.listed = state.sessions or []
        self.box.set_title(f"Sessions ({len(self.listed)})")
        if state.sessions is None:
            self._set_items([("hint", "  (loading sessions…)")], [])
            return
        items: list[Any] = []
        selectable = []
        now = state.now_dt()
        for number, session in enumerate(self.listed, 1):
            selectable.append(len(items))
            this = [("author_me", "  · this one")] if session.current else []
            items.append([f" Session {number}", *this])
            created = format_clock(session.created_at, now)
            expires = format_clock(session.expires_at, now)
            last = session.last_used
            used = f" · last used {format_clock(last, now)}" if last else ""
            items.append(("hint", f"     signed in {created}{used} · expires {expires}"))
            if session.address or session.agent:
                where = " · ".join(filter(None, [session.address, session.agent]))
                items.append(("hint", f"     from {where}"))
        if not self.listed:
            items.append(("hint", "  No live sessions"))
        if state.sessions_more:
            items.append(("hint", "  (older sessions not listed)"))
        self._set_items(items, selectable)

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        if self._answer(key):
            pass
        elif key in ("esc", "q"):
            self.done = True
        elif self._move(key):
            pass
        elif key == "r":
            self.controller.dispatch(c.RefreshSessions())
        elif key in ("x", "delete") and self.listed:
            session = self.listed[self.selected]
            if session.current:
                question = "End this session (you will be logged out)?"
            else:
                question = f"End session {self.selected + 1}? Its device is signed out."
            self._ask(question, c.EndSession(session.id, session.current))
        return None


class SearchOverlay(_ListOverlay):
    """``/search``: the messages found, newest first, each as its time, conversation
    and author, then the line holding the match, the match marked (``match``: a
    style of its own, underlined without colours). Older pages are asked for only
    when the reader goes past the last result or presses ``o``: each may scan 5,000
    messages on the server, and a search of the whole history is the reader's call."""

    title = "Search"
    height = 80

    def __init__(self, controller: Controller) -> None:
        super().__init__(
            controller, "j/k: select · Enter: open · o/past the last: search older · Esc/q: close"
        )
        self.keys_found: list[tuple[str, str]] = []
        self.more = False
        #: Each result's line, by (message id, query): the box is updated at every
        #: key and event, and folding every result's text again each time made a
        #: long list of results slow to move in.
        self._lines: dict[tuple[str, str], tuple[str, str, str]] = {}

    def update(self, state: ClientState) -> None:
        results = state.search
        if results is None:
            self.done = True
            return
        where = "everywhere" if results.scope is None else f"in {state.title_of(results.scope)}"
        found = len(results.messages)
        # In the title too: with a page of results the list's last line is out of sight.
        older = f", {OLDER_NOT_SEARCHED}" if results.has_more and not results.error else ""
        what = f"“{results.query}”" if results.query else ""
        what += filter_words(results.author_name, results.since, results.until)
        self.box.set_title(f"Search {what.strip()} {where} ({found}{older})")
        items: list[Any] = []
        selectable = []
        self.keys_found = []
        now = state.now_dt()
        for message in results.messages:
            key = state.key_for_message(message)
            self.keys_found.append(key)
            selectable.append(len(items))
            when = format_clock(parse_time(message.get("created_at")), now)
            author = state.username_of(str(message.get("author", "")))
            items.append([" ", ("time", when), f" {state.title_of(key)} · ", ("author", author)])
            seen = (str(message.get("id")), results.query)
            if seen not in self._lines:
                self._lines[seen] = excerpt(str(message.get("content", "")), results.query)
            before, match, after = self._lines[seen]
            items.append(["     ", before, ("match", match), after] if match else f"     {before}")
        self.more = results.has_more and not results.error
        if results.error:
            items.append(("notice_error", f"  {results.error}"))
        elif results.busy:
            items.append(("hint", "  (searching older…)" if found else "  (searching…)"))
        elif results.has_more:
            items.append(("hint", f"  ({OLDER_NOT_SEARCHED}: o, or j past the last, searches on)"))
        elif not found:
            items.append(("hint", "  No message holds that" if results.query else "  No message"))
        else:
            items.append(("hint", "  (no older match)"))
        self._set_items(items, selectable)

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        if key in ("esc", "q"):
            self.done = True
        elif key == "o" or (key in ("j", "down") and self.selected >= self.count - 1):
            if self.more:
                self.controller.dispatch(c.SearchOlder())
            self._move(key)
        elif self._move(key):
            pass
        elif key == "enter" and self.keys_found:
            self.done = True
            self.controller.dispatch(c.OpenConversation(self.keys_found[self.selected]))
        return None


class PinsOverlay(_ListOverlay):
    """``/pins``: the room's pinned messages, newest pin first, each as its time and
    author (as the conversation shows them), who pinned it when, and its first line;
    Enter shows the one selected whole. Its owners and moderators unpin from here
    (the server refuses the others, in its words). Kept up to date by the events
    (lairchat.client.pins)."""

    title = "Pinned messages"
    height = 80
    VIEW_KEYS = "j/k: scroll · Esc/Enter/b: back to the list · q: close"

    def __init__(self, controller: Controller, room_id: str) -> None:
        super().__init__(
            controller, "j/k: select · Enter: read whole · x/Del: unpin · r: refresh · Esc/q: close"
        )
        self.room_id = room_id
        self.listed: list[Pin] = []
        self.list_body = self.frame.body
        #: The message read whole (its id), None while the list is shown.
        self.viewing: str | None = None
        self.view = urwid.ListBox(urwid.SimpleFocusListWalker([]))
        #: What the view shows: made again only when it changes, or every key (each
        #: redraws the box) would scroll it back to its top.
        self._whole: tuple[Any, ...] | None = None

    @staticmethod
    def _heading(state: ClientState, pin: Pin) -> list[Any]:
        """``12:03 alice · pinned by bob 12:05``: the message's line head, as in the
        conversation, and who pinned it when."""
        now = state.now_dt()
        msg = pin.message
        by = f"{' (edited)' if msg.edited else ''} · pinned by {state.username_of(pin.pinned_by)}"
        return [
            ("time", format_clock(msg.created_at, now)),
            " ",
            ("author", state.username_of(msg.author_id)),
            ("hint", f"{by} {format_clock(pin.pinned_at, now)}"),
        ]

    def update(self, state: ClientState) -> None:
        info = state.rooms.get(self.room_id)
        if info is None or not info.is_member:  # left, kicked, or the room deleted
            self.done = True
            return
        listed = state.pins.get(self.room_id)
        self.listed = listed or []
        room = state.title_of(("room", self.room_id))
        self.box.set_title(f"Pinned in {room} ({len(self.listed)})")
        shown = next((p for p in self.listed if p.message.id == self.viewing), None)
        if shown is None:
            self._show_list()
        else:
            self._show_whole(state, shown)
        if listed is None:
            self._set_items([("hint", "  (loading pinned messages…)")], [])
            return
        if not listed:
            self._set_items([("hint", "  No pinned messages (/pin pins the newest)")], [])
            return
        items: list[Any] = []
        selectable = []
        for pin in listed:
            selectable.append(len(items))
            items.append([" ", *self._heading(state, pin)])
            first, _, more = pin.message.content.partition("\n")
            items.append(f"     {first}{' …' if more else ''}")
        self._set_items(items, selectable)

    def _show_list(self) -> None:
        self.viewing = self._whole = None
        if self.frame.body is not self.list_body:
            self.frame.body = self.list_body
            self.footer.set_text(("hint", self.keys))

    def _show_whole(self, state: ClientState, pin: Pin) -> None:
        head = self._heading(state, pin)
        whole = (pin.message.id, pin.message.content, *map(str, head))
        if whole != self._whole:
            self._whole = whole
            self.view.body[:] = [SafeText(head), urwid.Divider(), SafeText(pin.message.content)]
            self.frame.body = self.view
            self.footer.set_text(("hint", self.VIEW_KEYS))

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        if self.viewing is not None:
            return self._view_key(size, key)
        if self._answer(key):
            pass
        elif key in ("esc", "q"):
            self.done = True
        elif self._move(key):
            pass
        elif key == "r":
            self.controller.dispatch(c.RefreshPins(self.room_id))
        elif key == "enter" and self.listed:
            self.viewing = self.listed[self.selected].message.id
        elif key in ("x", "delete") and self.listed:
            unpin = c.Pin(remove=True, message_id=self.listed[self.selected].message.id)
            self._ask("Unpin the message selected?", unpin)
        return None

    def _view_key(self, size: tuple[int, ...], key: str) -> str | None:
        mapped = {"j": "down", "k": "up"}.get(key, key)
        if key == "q":
            self.done = True
        elif key in ("esc", "enter", "b"):
            self.viewing = None
        elif mapped in ("down", "up", "page down", "page up") and len(size) == 2:
            inner = (max(1, size[0] - 2), max(1, size[1] - 3))  # borders and footer
            self.view.keypress(inner, mapped)
        return None


class ConfirmDialog(Overlay):
    title = "Quit"
    width = 40
    height = 7

    def __init__(self, question: str, on_yes: Any) -> None:
        self.on_yes = on_yes
        body = urwid.Filler(SafeText(question, align="center"), valign="middle")
        super().__init__(body, "y/Enter: yes · n/Esc: no")

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        if key in ("y", "Y", "enter"):
            self.done = True
            self.on_yes()
        elif key in ("n", "N", "esc", "q"):
            self.done = True
        return None


class PaletteOverlay(Overlay):
    """``Ctrl+P``: type a few letters of what you want, Enter runs it."""

    title = "Command palette"
    width = 60
    height = 14
    takes_paste = True

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.query = SafeEdit("> ")
        self.selected = 0
        self.matches = list(c.PALETTE)
        self.walker = urwid.SimpleFocusListWalker([])
        body = urwid.Pile(
            [("pack", self.query), ("pack", urwid.Divider("─")), urwid.ListBox(self.walker)]
        )
        super().__init__(body, "type to filter · ↑/↓: select · Enter: run · Esc: close")
        self._redraw()

    def _redraw(self) -> None:
        self.matches = c.fuzzy_filter(self.query.edit_text, c.PALETTE)
        self.selected = max(0, min(self.selected, len(self.matches) - 1))
        rows = [
            urwid.AttrMap(
                SafeText([f" {name:<18}", ("hint", text)]),
                "selected" if i == self.selected else None,
            )
            for i, (name, text, _) in enumerate(self.matches)
        ]
        self.walker[:] = rows or [SafeText(("hint", "  no matching command"))]
        # The list scrolls to the selection: with more commands than rows, one
        # selected below the box was run unseen.
        self.walker.set_focus(self.selected)

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        if key in ("esc", "ctrl p"):
            self.done = True
        elif key in ("down", "ctrl n", "ctrl j"):
            self.selected += 1
            self._redraw()
        elif key in ("up", "ctrl k"):
            self.selected -= 1
            self._redraw()
        elif key == "enter":
            if self.matches:
                self.done = True
                self.controller.dispatch(self.matches[self.selected][2])
        else:
            if not line_edit_key(self.query, key):
                self.query.keypress((40,), key)
            self.selected = 0
            self._redraw()
        return None


class FormOverlay(Overlay):
    """A form of masked and plain fields (the password change, the account's
    deletion): ``Tab``/``Enter`` to the next field, ``Enter`` on the last sends it
    (:meth:`_submit`), ``Esc`` cancels.

    The fields are emptied when the form is sent, and when it is closed: a password
    is then only in the request, not in a field left behind the chat or in the form
    reopened. A refusal is shown here in the server's words (:meth:`answered`); the
    user types it all again."""

    takes_paste = True  # from a password manager

    def __init__(self, controller: Controller, intro: str, fields: list[Field], footer: str):
        self.controller = controller
        self.fields = fields
        self.message = SafeText("")
        #: Sent, not answered yet: Enter does not send it again.
        self.busy = False
        self._focus = 0
        rows = [SafeText(("hint", intro)), urwid.Divider(), *(f.row for f in fields)]
        self.pile = urwid.Pile([*rows, urwid.Divider(), self.message])
        super().__init__(urwid.Filler(self.pile, valign="top"), footer)
        self._apply_focus()

    def _apply_focus(self) -> None:
        self._focus %= len(self.fields)
        for i, f in enumerate(self.fields):
            f.mark(i == self._focus)
        self.pile.focus_position = 2 + self._focus
        self.fields[self._focus].row.focus_position = 1

    def _clear(self) -> None:
        for f in self.fields:
            f.edit.set_edit_text("")

    def _say(self, text: str, level: str = "error") -> None:
        self.message.set_text((f"notice_{level}", text))

    def _send(self, working: str, action: c.Action) -> None:
        """Empty the fields and send ``action``, saying ``working`` until answered."""
        self._clear()
        self._focus = 0
        self.busy = True
        self._say(working, "info")
        self.controller.dispatch(action)

    def _submit(self) -> None:
        raise NotImplementedError

    def ask_code(self) -> None:
        """The server wants the second factor too (``totp_required``): a Code field
        last (the fields were emptied as the form was sent: the password first)."""
        if self.code_field() is None:
            field = Field(CODE)
            self.fields.append(field)
            self.pile.contents.insert(1 + len(self.fields), (field.row, self.pile.options()))
        self._focus = 0
        self._apply_focus()

    def code_field(self) -> Field | None:
        return next((f for f in self.fields if f.name == CODE), None)

    def code(self) -> str | None:
        """What the Code field holds (spaces trimmed), None without one."""
        field = self.code_field()
        return None if field is None else field.edit.edit_text.strip()

    def _missing_code(self) -> bool:
        """With a Code field, an empty one is said, with the cursor put there."""
        if self.code() != "":
            return False
        self._focus = self.fields.index(self.code_field())
        self._say("Please fill in: code")
        return True

    def answered(self, refusal: str | None) -> None:
        """The server's answer: None when done (the form closes), else why not."""
        self.busy = False
        if refusal is None:
            self.done = True
        else:
            self._say(refusal)

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        if key == "esc":
            self._clear()
            self.done = True
        elif key in ("tab", "down"):
            self._focus += 1
            self._apply_focus()
        elif key in ("shift tab", "up"):
            self._focus -= 1
            self._apply_focus()
        elif key == "enter":
            if self._focus == len(self.fields) - 1:
                if not self.busy:
                    self._submit()
                self._apply_focus()
            else:
                self._focus += 1
                self._apply_focus()
        else:
            edit = self.fields[self._focus].edit
            if not line_edit_key(edit, key):
                edit.keypress((40,), key)
        return None


class PasswordOverlay(FormOverlay):
    """``/password``: the current password and the new one twice, masked; sent as
    :class:`~lairchat.client.commands.ChangePassword`."""

    title = "Change password"
    width = 60
    height = 13

    def __init__(self, controller: Controller) -> None:
        super().__init__(
            controller,
            "Your other sessions end; this one stays signed in.",
            [Field("Current", "*"), Field("New", "*"), Field("Confirm", "*")],
            "Tab/Enter: next field · Enter on Confirm: change · Esc: cancel",
        )

    def _submit(self) -> None:
        current, new, again = (f.edit.edit_text for f in self.fields)
        if not current or not new:
            self._focus = 0 if not current else 1
            self._say("Please fill in: " + ("current password" if not current else "new password"))
        elif new != again:
            for f in self.fields[1:]:
                f.edit.set_edit_text("")
            self._focus = 1
            self._say("The new password and its confirmation differ: type them again")
        else:
            self._send("Changing the password…", c.ChangePassword(current, new))


def export_intro(path: str) -> str:
    """What the export form says (docs/SECURITY.md, "Exporting your data"): what the
    file holds, and that whoever has it can read it all."""
    return (
        f"Your data is saved to {path}: your account with its email, your sessions"
        " (with the addresses you signed in from), your rooms, invitations, read"
        " markers and reactions, and every message you wrote or were sent directly."
        " Whoever has the file can read all of it."
    )


class ExportOverlay(FormOverlay):
    """``/export PATH``: the password (masked), and with ``code`` (two-factor sign-in
    on) a code, then :class:`~lairchat.client.commands.ExportData`. It stays open,
    saying so, while the export is written."""

    title = "Export your data"
    width = 64
    height = 15  # a row for the code

    def __init__(self, controller: Controller, path: str, overwrite: bool, code: bool = False):
        self.path = path
        self.overwrite = overwrite
        super().__init__(
            controller,
            export_intro(path),
            [Field("Password", "*"), *([Field(CODE)] if code else [])],
            "Enter: export · Esc: close (an export under way goes on)",
        )

    def _submit(self) -> None:
        password = self.fields[0].edit.edit_text
        if not password:
            self._focus = 0
            self._say("Please fill in: password")
        elif not self._missing_code():
            self._send(
                "Exporting… (a large account takes a while)",
                c.ExportData(self.path, self.overwrite, password, self.code()),
            )


#: What the deletion form says before anything is typed (docs/SECURITY.md, "Deleting
#: an account"): what goes, what others keep, that nothing brings it back.
DELETE_ACCOUNT_INTRO = (
    "This deletes your account for good; it cannot be undone. Every message you wrote"
    " (rooms and direct messages) is erased, and the direct messages sent to you; you"
    " leave your rooms, and a room you own passes to another member (or goes, when no"
    " one else is in it); your name becomes free for anyone to take. Every session of"
    " yours ends, on every device."
)


class DeleteAccountOverlay(FormOverlay):
    """``/delete-account``: the password (masked), the username typed again, and with
    ``code`` (two-factor sign-in on) a code, then
    :class:`~lairchat.client.commands.DeleteAccount`. The username is checked here,
    not sent: it only proves that the reader meant this account."""

    title = "Delete account"
    width = 64
    height = 18  # a row for the code

    def __init__(
        self,
        controller: Controller,
        username: str,
        intro: str = DELETE_ACCOUNT_INTRO,
        code: bool = False,
    ):
        self.username = username
        super().__init__(
            controller,
            intro,
            [Field("Password", "*"), Field("Username"), *([Field(CODE)] if code else [])],
            "Tab/Enter: next field · Enter on the last: delete · Esc: cancel",
        )

    def _submit(self) -> None:
        password, typed = (f.edit.edit_text for f in self.fields[:2])
        if not password:
            self._focus = 0
            self._say("Please fill in: password")
        elif typed.strip() != self.username:
            self.fields[1].edit.set_edit_text("")
            self._focus = 1
            self._say(self._confirm_hint())
        elif not self._missing_code():
            self._send("Deleting the account…", self._deletion(password, self.code()))

    def _confirm_hint(self) -> str:
        return f"Type your username, {self.username}, to confirm"

    def _deletion(self, password: str, code: str | None) -> c.Action:
        """What the form sends once filled in (another account's, for an admin's)."""
        return c.DeleteAccount(password, code)
