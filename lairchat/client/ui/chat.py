"""The chat screen: title, messages, typing line and input on the left; people on
the right. Vim-like: normal mode navigates (``j``/``k``/``g``/``G``, ``r``, ``m``…),
``i`` enters insert mode where keys go to the input line, ``Esc`` leaves it. ``e``
edits your last message in a state of its own (:class:`Editing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import urwid

from lairchat.client import commands as c
from lairchat.client.conversations import STILL_SENDING
from lairchat.client.state import ChatMessage, ClientState, ConvKey
from lairchat.client.timefmt import format_clock
from lairchat.client.ui.base import Controller
from lairchat.client.ui.editing import LINE_KEYS, line_edit_key
from lairchat.client.ui.messages import MessagePane
from lairchat.client.ui.people import PeoplePanel
from lairchat.client.ui.safeedit import SafeEdit
from lairchat.client.ui.safetext import SafeLine, SafeLineBox

__all__ = [
    "EDIT_SETTLE",
    "PASTE_GAP",
    "PASTE_KEYS",
    "ChatView",
    "Editing",
    "pasted_text",
    "typing_text",
]

PANEL_WIDTH = 26
#: Below this width the people panel is hidden to leave room for messages.
NARROW = 60
#: The keys urwid gives for a terminal's bracketed paste around what is pasted.
PASTE_KEYS = ("begin paste", "end paste")
#: A paste whose next key is this late (seconds) has ended, its ``end paste`` lost
#: (the keys of a paste come together): the root view then ends it.
PASTE_GAP = 1.0
#: A letter typed this soon (seconds) after ``e``, the field untouched, is the rest of
#: a word typed in normal mode ("excellent"), not the start of an edit: someone
#: editing reads the message put in the field before typing into it.
EDIT_SETTLE = 0.5


def typing_text(names: list[str]) -> str:
    if not names:
        return ""
    if len(names) == 1:
        return f"{names[0]} is typing…"
    if len(names) <= 3:
        return f"{', '.join(names[:-1])} and {names[-1]} are typing…"
    return "Several people are typing…"


def pasted_text(key: str) -> str:
    """The text a key inside a paste stands for. urwid names the bytes of a paste as
    keys: a newline is ``enter``, a control character ``ctrl c``, and those were
    acted on (Enter sent the message, Ctrl+C quit, Esc left insert mode and the rest
    of the paste ran as keys). In the field they are the characters they stand for,
    shown as marks; what cannot be told apart (a cursor key's sequence) is left out."""
    if len(key) == 1:
        return key
    if key in ("enter", "tab", "esc", "backspace"):
        return {"enter": "\n", "tab": "\t", "esc": "\x1b", "backspace": "\x7f"}[key]
    name = key.removeprefix("ctrl ")
    if name != key and len(name) == 1 and "a" <= name <= "z":
        return chr(ord(name) - ord("a") + 1)
    return ""


class Capped(urwid.WidgetWrap):
    """A flow widget shown at most :attr:`max_rows` high: the rows up to its cursor.

    The message field grew with its text, so a long paste pushed the messages, then
    the field's own title and border, off the screen (in normal mode the whole field
    went, with the keys its title lists)."""

    def __init__(self, widget: urwid.Widget, max_rows: int = 8) -> None:
        super().__init__(widget)
        self.max_rows = max_rows

    def rows(self, size: tuple[int], focus: bool = False) -> int:
        return min(self._w.rows(size, focus), self.max_rows)

    def _top(self, size: tuple[int], total: int) -> int:
        """The first row shown: the cursor's row is the last, or the end."""
        cursor = self._w.get_cursor_coords(size)
        row = cursor[1] if cursor is not None else total - 1
        return max(0, min(row - self.max_rows + 1, total - self.max_rows))

    def render(self, size: tuple[int], focus: bool = False) -> urwid.Canvas:
        canvas = self._w.render(size, focus)
        total = canvas.rows()
        if total <= self.max_rows:
            return canvas
        shown = urwid.CompositeCanvas(canvas)
        shown.trim(self._top(size, total), self.max_rows)
        return shown

    def get_cursor_coords(self, size: tuple[int]) -> tuple[int, int] | None:
        cursor = self._w.get_cursor_coords(size)
        total = self._w.rows(size)
        if cursor is None or total <= self.max_rows:
            return cursor
        return cursor[0], cursor[1] - self._top(size, total)


@dataclass
class Editing:
    """The message being edited (``e``): the field holds its text, Enter saves that
    message (the one chosen, not whichever is newest by then), and the draft the
    field held before comes back afterwards."""

    key: ConvKey
    message_id: str
    original: str
    #: Its time, for the field's title.
    when: str
    draft: str
    draft_pos: int
    started: float
    #: The text Enter was pressed on when it only adds to the end of the message:
    #: saving that asks for a second Enter (see ``_save_edit``).
    confirming: str | None = None


class ChatView(urwid.WidgetWrap):
    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.mode = "normal"
        self.focus_area = "messages"
        self.editing: Editing | None = None
        #: Between ``begin paste`` and ``end paste`` (bracketed paste, __main__.py),
        #: and the text pasted so far.
        self.pasting = False
        self._pasted: list[str] = []
        #: When the last key of normal mode was typed, if it was a character: an ``e``
        #: right after one is inside a word (see ``keypress``).
        self._letter_at: float | None = None
        self._narrow = False
        self._state: ClientState | None = None
        self.title = SafeLine("")
        self._title_attr = urwid.AttrMap(self.title, "title")
        self.pane = MessagePane(on_top=controller.load_older)
        self.typing_line = SafeLine("")
        self.edit = SafeEdit("", multiline=True)
        self._field = Capped(self.edit)
        self.input_box = SafeLineBox(self._field, title="", title_align="left")
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
        if self.editing is not None and self.editing.key != state.current:
            self._end_edit()  # another conversation is shown: the message is not here
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
        if self.editing is not None:
            title = (
                f"EDIT your message of {self.editing.when} · Enter: save · Esc: cancel"
                " · Alt+Enter: newline"
            )
            self.input_box.set_title(title)
            self._input_attr.set_attr_map({None: "box_edit"})
            return
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
        self._letter_at = None
        self.left.focus_position = 3 if mode == "insert" else 1
        if mode == "insert":
            self.set_focus_area("messages")
        self._set_input_title()

    def set_focus_area(self, area: str) -> None:
        self.focus_area = area
        self.people.set_focus(area == "panel")

    def hints(self) -> str:
        if self.editing is not None:
            return "Esc:cancel edit Enter:save Alt+Enter:newline"
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
        self._field.max_rows = max(1, size[1] // 3)
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
        if self._paste_key(key):
            return None
        if key.startswith("meta ") and len(key) == 6:
            # Esc and a key typed at once (``Esc`` ``k`` to scroll) reach urwid as one
            # "meta k": it is Esc, then that key, not a lost keystroke.
            self.keypress(size, "esc")
            return self.keypress(size, key[5:])
        if self.mode == "insert":
            return self._insert_key(size, key)
        action = c.normal_key(key) if self.focus_area == "messages" else c.panel_key(key)
        after_letter = self._letter_at is not None and self._now() - self._letter_at < EDIT_SETTLE
        self._letter_at = self._now() if len(key) == 1 else None
        if action == c.EditPrompt() and after_letter:
            # "e" inside a word typed in normal mode ("yes", "the"): not an edit.
            action = c.TYPE_HINT
        return self._normal_action(action, key)

    def _paste_key(self, key: str) -> bool:
        """Bracketed paste: the text between ``begin paste`` and ``end paste`` goes
        into the field at once, newlines included. Each pasted line used to be sent
        by its newline (Enter), a paste in normal mode was keys, and a paste inserted
        a character at a time cost the square of its length (60,000 characters, 7 s).
        Whether ``key`` was taken as part of a paste."""
        if key == "begin paste":
            self._flush_paste()
            self.pasting = True
            if self.mode != "insert":
                self.set_mode("insert")
            return True
        if key == "end paste":
            self._flush_paste()
            return True
        if not self.pasting:
            return False
        self._pasted.append(pasted_text(key))
        return True

    def _flush_paste(self) -> None:
        if not self.pasting:
            return
        text, self._pasted, self.pasting = "".join(self._pasted), [], False
        if not text:
            return
        self.edit.insert_text(text)
        if self.editing is not None:
            self.editing.confirming = None
        elif not self.edit.edit_text.startswith("/"):
            self.controller.typing()

    def _now(self) -> float:
        return self._state.clock() if self._state is not None else 0.0

    def takes_text(self, key: str) -> bool:
        """Whether ``key`` only types into the message field, changing nothing else
        on the screen (the root view then leaves the rest of it alone)."""
        if self.pasting:
            return True
        return self.mode == "insert" and self.editing is None and len(key) == 1

    def type_ahead(self, key: str) -> str | None:
        """A key typed in the room list while the room picked opens: text and the
        editing keys go to the message line, ready when the room shows (without a
        typing notification: the room shown is still the previous one). The text
        the line then holds, or None for a key it does not take."""
        if len(key) != 1 and key not in ("backspace", "delete") and key not in LINE_KEYS:
            return None
        self._end_edit()
        if not line_edit_key(self.edit, key):
            self.edit.keypress((self._edit_cols((80,)),), key)
        return self.edit.edit_text

    def _insert_key(self, size: tuple[int, ...], key: str) -> str | None:
        edit = self.edit
        if self.editing is not None:
            return self._edit_key(size, key, self.editing)
        if key == "esc":
            self.set_mode("normal")
            return None
        if key == "enter":
            text = edit.edit_text
            opening = self._state.opening if self._state is not None else None
            if opening and isinstance(c.parse_input(text), c.SendMessage):
                # "/join x", Enter, then at once "hello", Enter: sent to the conversation
                # still shown, not to the one asked for.
                self.controller.dispatch(
                    c.Hint(f"Opening {opening}: your message waits here until it shows")
                )
                return None
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

    def enter_insert(self, prefill: str = "") -> None:
        """Insert mode, the field holding ``prefill`` if given (``/`` in normal mode,
        *Search messages* in the palette), the cursor after it."""
        self.set_mode("insert")
        if prefill:
            self.edit.set_edit_text(prefill)
            self.edit.set_edit_pos(len(prefill))

    def _normal_action(self, action: c.Action | None, key: str) -> str | None:
        match action:
            case None:
                return key
            case c.Scroll(to=to):
                self.pane.scroll(to)
            case c.EnterInsert(prefill=prefill):
                self.enter_insert(prefill)
            case c.EditPrompt():
                self._start_edit()
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

    # -- editing a message ------------------------------------------------------------

    def _start_edit(self) -> None:
        state = self._state
        if state is not None and state.sending_own():
            self.controller.dispatch(c.CommandError(STILL_SENDING))
            return
        last = state.last_own_message() if state else None
        if state is None or last is None or not last.id:
            self.controller.dispatch(c.CommandError("No message of yours here to edit"))
            return
        self._open_edit(state, last, last.content, self._now())

    def _open_edit(self, state: ClientState, msg: ChatMessage, text: str, started: float) -> None:
        """Edit ``msg`` with ``text`` in the field; what the field held waits."""
        assert msg.id is not None
        self.editing = Editing(
            key=state.current,
            message_id=msg.id,
            original=msg.content,
            when=format_clock(msg.created_at, state.now_dt()),
            draft=self.edit.edit_text,
            draft_pos=self.edit.edit_pos,
            started=started,
        )
        self.set_mode("insert")
        self.edit.set_edit_text(text)
        self.edit.set_edit_pos(len(text))

    def resume_edit(self, key: ConvKey, message_id: str, text: str) -> bool:
        """An edit saved with Enter was refused or lost (not connected, a timeout):
        put ``text`` back in the field, editing that message again, rather than lose
        what was typed. Only where nothing else is under way: the conversation is
        still shown, in normal mode, no edit open. Whether it was put back."""
        state = self._state
        if state is None or state.current != key or self.mode != "normal" or self.editing:
            return False
        msg = state.current_conversation.find(message_id)
        if msg is None:
            return False
        self._open_edit(state, msg, text, self._now() - EDIT_SETTLE)
        return True

    def _end_edit(self) -> None:
        """Leave the editing state; the draft comes back into the field."""
        editing, self.editing = self.editing, None
        if editing is not None:
            self.edit.set_edit_text(editing.draft)
            self.edit.set_edit_pos(editing.draft_pos)
        self._set_input_title()

    def _edit_key(self, size: tuple[int, ...], key: str, editing: Editing) -> str | None:
        edit = self.edit
        if key == "esc":
            self._end_edit()
            self.set_mode("normal")
            self.controller.dispatch(c.Hint("Edit cancelled: your message is as it was"))
            return None
        if key == "enter":
            self._save_edit(editing)
            return None
        if (
            len(key) == 1
            and self._now() - editing.started < EDIT_SETTLE
            and edit.edit_text == editing.original
        ):
            # "e" and at once more letters: a word typed in normal mode ("excellent"),
            # which would have been added to the old message and saved over it.
            self._end_edit()
            edit.insert_text("e")
            self.controller.dispatch(
                c.Hint("Taken as typing, not an edit: to edit your message, press e and pause")
            )
            return self._insert_key(size, key)
        editing.confirming = None
        if key in ("meta enter", "shift enter"):
            edit.insert_text("\n")
        elif not line_edit_key(edit, key):
            edit.keypress((self._edit_cols(size),), key)
        return None

    def _save_edit(self, editing: Editing) -> None:
        """Enter while editing. A text that only adds to the end of the message, the
        shape of a word typed after ``e`` by mistake, is saved on a second Enter."""
        text = self.edit.edit_text
        if text == editing.original:
            self._end_edit()
            self.set_mode("normal")
            self.controller.dispatch(c.Hint("Your message is unchanged: nothing sent"))
        elif not text.strip():
            self.controller.dispatch(
                c.CommandError("An edit cannot be empty (/delete deletes the message)")
            )
        elif text.startswith(editing.original) and editing.confirming != text:
            editing.confirming = text
            added = text[len(editing.original) :]
            self.controller.dispatch(
                c.Hint(
                    "Enter again to add this to the end of your message (Esc: cancel): " + added,
                    "warning",
                )
            )
        else:
            self._end_edit()
            self.set_mode("normal")
            self.controller.dispatch(c.EditLast(text, message_id=editing.message_id))

    def reset(self) -> None:
        """Back to the initial look (after logging out)."""
        self.editing = None
        self.pasting, self._pasted = False, []
        self.edit.set_edit_text("")
        self.set_mode("normal")
        self.set_focus_area("messages")

    def selectable(self) -> bool:
        return True

    def mouse_event(self, *args: Any, **kwargs: Any) -> bool:
        return False
