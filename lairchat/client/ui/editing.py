"""Shell-style line editing, the same in every text field of the client.

urwid's ``Edit`` knows the arrows, ``Home``/``End`` and the deleting keys but none of
the ``Ctrl`` keys a terminal user types without thinking (readline's): ``Ctrl+U`` to
wipe a mistyped password, ``Ctrl+W`` for the last word. Each acts on the line that
holds the cursor, so a multi-line message keeps its other lines.
"""

from __future__ import annotations

from collections.abc import Callable

import urwid

__all__ = ["LINE_KEYS", "line_edit_key"]


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    """Start and end of the line that holds ``pos``."""
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end < 0 else end


def _start(edit: urwid.Edit) -> None:
    edit.set_edit_pos(_line_bounds(edit.edit_text, edit.edit_pos)[0])


def _end(edit: urwid.Edit) -> None:
    edit.set_edit_pos(_line_bounds(edit.edit_text, edit.edit_pos)[1])


def _delete(edit: urwid.Edit, start: int, end: int) -> None:
    text = edit.edit_text
    edit.set_edit_text(text[:start] + text[end:])
    edit.set_edit_pos(start)


def _kill_to_start(edit: urwid.Edit) -> None:
    pos = edit.edit_pos
    _delete(edit, _line_bounds(edit.edit_text, pos)[0], pos)


def _kill_to_end(edit: urwid.Edit) -> None:
    pos = edit.edit_pos
    _delete(edit, pos, _line_bounds(edit.edit_text, pos)[1])


def _kill_word(edit: urwid.Edit) -> None:
    text, pos = edit.edit_text, edit.edit_pos
    line_start = _line_bounds(text, pos)[0]
    start = max(line_start, text[:pos].rstrip(" ").rfind(" ") + 1)
    _delete(edit, start, pos)


#: Key → what it does to an ``Edit`` (readline's ``Ctrl+A/E/U/K/W``).
LINE_KEYS: dict[str, Callable[[urwid.Edit], None]] = {
    "ctrl a": _start,
    "ctrl e": _end,
    "ctrl u": _kill_to_start,
    "ctrl k": _kill_to_end,
    "ctrl w": _kill_word,
}


def line_edit_key(edit: urwid.Edit, key: str) -> bool:
    """Apply ``key`` if it is one of :data:`LINE_KEYS`; whether it was."""
    action = LINE_KEYS.get(key)
    if action is None:
        return False
    action(edit)
    return True
