"""The chat screen: title, messages, typing line and input on the left; people on
the right. Vim-like: normal mode navigates (``j``/``k``/``g``/``G``, ``r``, ``m``…),
``i`` enters insert mode where keys go to the input line, ``Esc`` leaves it.
"""

from __future__ import annotations

from typing import Any

import urwid

from lairchat.client import commands as c
from lairchat.client.state import ClientState
from lairchat.client.ui.base import Controller
from lairchat.client.ui.editing import line_edit_key
from lairchat.client.ui.messages import MessagePane
from lairchat.client.ui.people import PeoplePanel
from lairchat.client.ui.safeedit import SafeEdit
from lairchat.client.ui.safetext import SafeLine, SafeLineBox

__all__ = ["ChatView", "typing_text"]

PANEL_WIDTH = 26
#: Below this width the people panel is hidden to leave room for messages.
NARROW = 60


def typing_text(names: list[str]) -> str:
    if not names:
        return ""
    if len(names) == 1:
        return f"{names[0]} is typing…"
    if len(names) <= 3:
        return f"{', '.join(names[:-1])} and {names[-1]} are typing…"
    return "Several people are typing…"


class ChatView(urwid.WidgetWrap):
    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.mode = "normal"
        self.focus_area = "messages"
        self._narrow = False
        self._state: ClientState | None = None
        self.title = SafeLine("")
        self._title_attr = urwid.AttrMap(self.title, "title")
        self.pane = MessagePane(on_top=controller.load_older)
        self.typing_line = SafeLine("")
        self.edit = SafeEdit("", multiline=True)
        self.input_box = SafeLineBox(self.edit, title="", title_align="left")
        self._input_attr = urwid.AttrMap(self.input_box, "box")
        self.left = urwid.Pile(
            [
                ("pack", self._title_attr),
                self.pane,
                ("pack", urwid.AttrMap(self.typing_line, "typing")),
                ("pack", self._input_attr),
            ],
            focus_item=1,
        )
        self.people = PeoplePanel()
        self.columns = urwid.Columns([self.left, (PANEL_WIDTH, self.people)], focus_column=0)
        super().__init__(self.columns)
        self._set_input_title()

    # -- drawing ----------------------------------------------------------------------

    def update(self, state: ClientState) -> None:
        self._state = state
        conv = state.current_conversation
        self.pane.show(state, conv)
        kind, ident = state.current
        if kind == "room":
            room = state.rooms.get(ident)
            title = state.title_of(state.current)
            if room is not None:
                if room.is_private:
                    title += " (private)"
                if room.description:
                    title += f" — {room.description}"
                if room.role in ("owner", "moderator"):
                    title += f"  [{room.role}]"
            attr = "title"
        elif kind == "dm":
            user = state.users.get(ident)
            presence = "online" if user and user.online else "offline"
            title, attr = f"{state.title_of(state.current)} ({presence})", "title_dm"
        else:
            title, attr = "Lair Chat — r: rooms · /dm USER: direct message · ?: help", "title_home"
        others = state.unread_total()
        if others:
            title += f"   [{others} unread elsewhere]"
        self.title.set_text(" " + title)
        self._title_attr.set_attr_map({None: attr})
        self.typing_line.set_text(" " + typing_text(state.typing_names()))
        self.people.update(state)
        self._set_input_title()

    def _set_input_title(self) -> None:
        has_target = self._state is not None and self._state.current[0] != "home"
        if self.mode == "insert":
            title = "INSERT  Enter: send · Alt+Enter: newline · Esc: normal mode"
            if not has_target:
                title = "INSERT  commands only here: /join NAME, /dm USER, /create NAME"
        elif has_target:
            title = "i: type · r: rooms · m: members · Tab: people · ?: help"
        else:
            title = "r: pick a room · i: type a /command · ?: help"
        self.input_box.set_title(title)
        self._input_attr.set_attr_map({None: "box_focus" if self.mode == "insert" else "box"})

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.left.focus_position = 3 if mode == "insert" else 1
        if mode == "insert":
            self.set_focus_area("messages")
        self._set_input_title()

    def set_focus_area(self, area: str) -> None:
        self.focus_area = area
        self.people.set_focus(area == "panel")

    def hints(self) -> str:
        if self.mode == "insert":
            return "Esc:normal Enter:send Alt+Enter:newline"
        if self.focus_area == "panel":
            return "Tab:chat j/k:select Enter:DM i:invite Esc:back"
        return "Tab:people i:type r:rooms I:invites m:members ?:help q:quit"

    # -- keys -------------------------------------------------------------------------

    def _edit_cols(self, size: tuple[int, ...]) -> int:
        cols = size[0]
        if cols >= NARROW:
            cols -= PANEL_WIDTH
        return max(1, cols - 2)

    def render(self, size: tuple[int, int], focus: bool = False) -> urwid.Canvas:
        narrow = size[0] < NARROW
        if narrow != self._narrow:
            self._narrow = narrow
            contents = [(self.left, self.columns.options())]
            if not narrow:
                contents.append((self.people, self.columns.options("given", PANEL_WIDTH)))
            self.columns.contents = contents
            self.columns.focus_position = 0
        return super().render(size, focus)

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        if key.startswith("meta ") and len(key) == 6:
            # Esc and a key typed at once (``Esc`` ``k`` to scroll) reach urwid as one
            # "meta k": it is Esc, then that key, not a lost keystroke.
            self.keypress(size, "esc")
            return self.keypress(size, key[5:])
        if self.mode == "insert":
            return self._insert_key(size, key)
        action = c.normal_key(key) if self.focus_area == "messages" else c.panel_key(key)
        return self._normal_action(action, key)

    def _insert_key(self, size: tuple[int, ...], key: str) -> str | None:
        edit = self.edit
        if key == "esc":
            self.set_mode("normal")
            return None
        if key == "enter":
            text = edit.edit_text
            edit.set_edit_text("")
            self.controller.dispatch(c.parse_input(text))
            return None
        if key in ("meta enter", "shift enter"):
            edit.insert_text("\n")
            return None
        before = edit.edit_text
        if not line_edit_key(edit, key):
            edit.keypress((self._edit_cols(size),), key)
        if edit.edit_text != before and edit.edit_text and not edit.edit_text.startswith("/"):
            self.controller.typing()
        return None

    def _normal_action(self, action: c.Action | None, key: str) -> str | None:
        match action:
            case None:
                return key
            case c.Scroll(to=to):
                self.pane.scroll(to)
            case c.EnterInsert(prefill=prefill):
                self.set_mode("insert")
                if prefill:
                    self.edit.set_edit_text(prefill)
                    self.edit.set_edit_pos(len(prefill))
            case c.EditPrompt():
                last = self._state.last_own_message() if self._state else None
                if last is None:
                    self.controller.dispatch(c.CommandError("No message of yours here to edit"))
                else:
                    self._normal_action(c.EnterInsert(f"/edit {last.content}"), key)
            case c.ToggleFocus():
                self.set_focus_area("panel" if self.focus_area == "messages" else "messages")
            case c.PanelMove(step=step):
                self.people.move(step)
            case c.PanelOpen():
                row = self.people.selected_row()
                if row is not None:
                    self.set_focus_area("messages")
                    self.controller.dispatch(c.StartDM(row.text))
            case c.PanelInvite():
                row = self.people.selected_row()
                if row is not None:
                    self.controller.dispatch(c.Invite(row.text))
            case _:
                self.controller.dispatch(action)
        return None

    def reset(self) -> None:
        """Back to the initial look (after logging out)."""
        self.edit.set_edit_text("")
        self.set_mode("normal")
        self.set_focus_area("messages")

    def selectable(self) -> bool:
        return True

    def mouse_event(self, *args: Any, **kwargs: Any) -> bool:
        return False
