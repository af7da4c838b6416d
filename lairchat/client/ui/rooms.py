"""The room list: public rooms and our own (private ones included).

``j``/``k`` select, ``Enter`` joins (or switches to a room we are in), ``c`` creates a
room by name, ``b``/``Esc`` go back, as in the original. While a room is being joined
or created, keys are not the list's: what is typed goes to the message line of the
room about to open.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import urwid

from lairchat.client import commands as c
from lairchat.client.state import ClientState, RoomInfo
from lairchat.client.ui.base import Controller
from lairchat.client.ui.chat import PASTE_KEYS
from lairchat.client.ui.editing import line_edit_key
from lairchat.client.ui.safeedit import SafeEdit
from lairchat.client.ui.safetext import SafeLine, SafeLineBox, SafeText
from lairchat.client.ui.theme import unread_badge

__all__ = ["RoomsView", "room_markup", "sorted_rooms"]


def sorted_rooms(state: ClientState) -> list[RoomInfo]:
    """Our rooms first, then the others; by name within each group."""
    return sorted(state.rooms.values(), key=lambda r: (not r.is_member, r.name.casefold()))


def room_markup(state: ClientState, room: RoomInfo, selected: bool) -> Any:
    current = state.current == ("room", room.id)
    count = "1 member" if room.member_count == 1 else f"{room.member_count} members"
    flags = []
    if room.is_private:
        flags.append("private")
    if room.is_member:
        flags.append(room.role or "joined")
    unread = state.conversations.get(("room", room.id))
    text = f"{'* ' if current else '  '}{room.name}  ({count})"
    if flags:
        text += "  [" + ", ".join(flags) + "]"
    tail = ""
    if unread and unread.unread:
        tail = "  " + unread_badge(f"{unread.unread} new", unread.mentions)
    if selected:
        return ("selected", ">" + text[1:] + tail)
    return [text, ("unread", tail)]


class RoomsView(urwid.WidgetWrap):
    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.selected = 0
        self.creating = False
        self.rooms: list[RoomInfo] = []
        self._state: ClientState | None = None
        #: Where keys typed while a room opens go (the chat's message line, set by
        #: the root view): the text it then holds, or None for a key it does not take.
        self.type_ahead: Callable[[str], str | None] = lambda key: None
        #: What the message line holds, typed while the room opens.
        self._typed = ""
        #: Between ``begin paste`` and ``end paste``.
        self._pasting = False
        #: Each row's widget by the room and what it shows (see ``_redraw``).
        self._lines: dict[tuple[str, str], urwid.Widget] = {}
        self._walker = urwid.SimpleFocusListWalker([])
        self.box = SafeLineBox(urwid.ListBox(self._walker), title="Rooms", title_align="left")
        self.name_edit = SafeEdit("New room name: ")
        self.prompt = SafeText("")
        self.footer = urwid.Pile([self.prompt])
        super().__init__(urwid.Frame(self.box, footer=self.footer))
        self._set_prompt()

    def _opening(self) -> str | None:
        """What is being opened (``#general``), if anything is."""
        return self._state.opening if self._state is not None else None

    def hints(self) -> str:
        if self._opening() is not None:
            return "type your message · Esc:back"
        if self.creating:
            return "Enter:create Esc:cancel"
        return "j/k:select Enter:join c:create b/Esc:back q:quit"

    def update(self, state: ClientState) -> None:
        self._state = state
        self.rooms = sorted_rooms(state)
        if self.rooms:
            self.selected = max(0, min(self.selected, len(self.rooms) - 1))
        mine = sum(1 for r in self.rooms if r.is_member)
        self.box.set_title(f"Rooms ({len(self.rooms)}, {mine} joined)")
        if state.opening is None:
            self._typed = ""
        self._set_prompt()
        self._redraw()

    def _redraw(self) -> None:
        """The rows, each row's widget kept while what it shows is unchanged: the list
        is drawn again at every key and event, and with 10,000 rooms making every
        row again took a quarter of a second per ``j``."""
        state = self._state
        items: list[urwid.Widget] = []
        lines: dict[tuple[str, str], urwid.Widget] = {}
        if state is not None:
            for i, room in enumerate(self.rooms):
                markup = room_markup(state, room, i == self.selected)
                shown = (room.id, repr(markup))
                line = lines[shown] = self._lines.get(shown) or SafeLine(markup)
                items.append(line)
        self._lines = lines
        if not items:
            items = [
                SafeText(("hint", "  No rooms yet.")),
                SafeText(("hint", "  Press c to create the first one.")),
            ]
        if items != list(self._walker):
            self._walker[:] = items
        if self.rooms:
            self._walker.set_focus(self.selected)

    def _set_prompt(self) -> None:
        opening = self._opening()
        if opening is not None:
            typed = f": {self._typed[-60:]}" if self._typed else ""
            self.prompt.set_text(
                ("hint", f" Opening {opening}… what you type goes to its message line{typed}")
            )
            self.footer.contents = [(self.prompt, self.footer.options())]
        elif self.creating:
            self.footer.contents = [(self.name_edit, self.footer.options())]
        else:
            self.prompt.set_text(("hint", " Enter: join · c: create · b/Esc: back to chat"))
            self.footer.contents = [(self.prompt, self.footer.options())]

    def start_create(self) -> None:
        self.creating = True
        self.name_edit.set_edit_text("")
        self._set_prompt()

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        if key in PASTE_KEYS:
            self._pasting = key == "begin paste"
            return None
        if self._pasting and not self.creating and self._opening() is None:
            return None  # pasted text is not keys of the list ("c", "q", Enter)
        if self._pasting and key == "enter":
            return None  # a newline pasted into the new room's name does not submit it
        if self._opening() is not None:
            self._hold(key)
            return None
        if self.creating:
            if key == "esc":
                self.creating = False
                self._set_prompt()
            elif key == "enter":
                name = self.name_edit.edit_text.strip()
                self.creating = False
                self._set_prompt()
                if name:
                    self.controller.dispatch(c.CreateRoom(name))
            elif not line_edit_key(self.name_edit, key):
                self.name_edit.keypress((max(1, size[0] - 16),), key)
            return None
        if key in ("j", "down"):
            self.selected = min(len(self.rooms) - 1, self.selected + 1) if self.rooms else 0
            self._redraw()
        elif key in ("k", "up"):
            self.selected = max(0, self.selected - 1)
            self._redraw()
        elif key in ("g", "home"):
            self.selected = 0
            self._redraw()
        elif key in ("G", "end"):
            self.selected = max(0, len(self.rooms) - 1)
            self._redraw()
        elif key == "enter":
            if self.rooms:
                self.controller.dispatch(c.JoinRoom(self.rooms[self.selected].id))
        elif key in ("c", "n"):
            self.start_create()
        elif key in ("b", "esc"):
            self.controller.dispatch(c.ShowChat())
        elif key == "q":
            self.controller.dispatch(c.Quit(confirm=True))
        elif key in ("?", "f1"):
            self.controller.dispatch(c.ShowHelp())
        elif key == "I":
            self.controller.dispatch(c.ShowInvitations())
        elif key == "R":
            self.controller.dispatch(c.Reconnect())
        else:
            return key
        return None

    def _hold(self, key: str) -> None:
        """A key typed while a room opens: the keys of the list would pick, create or
        join another room under the words typed ("great, I can" scrolled, opened the
        invitations and the new-room prompt), and Enter joined a second room. Text
        goes to the room's message line; other keys wait (Esc goes back to chat, as
        it does from the list; the room still opens when the server answers)."""
        if key == "esc":
            self.controller.dispatch(c.ShowChat())
            return
        typed = self.type_ahead(key)
        if typed is not None:
            self._typed = typed
            self._set_prompt()
