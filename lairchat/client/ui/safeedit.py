"""Text fields that show every character they hold (docs/CLIENT.md, "Text you type").

A zero-width space pasted into a message, a right-to-left mark in a copied name, or a
control character left in ``/edit`` of a message sent from another client: drawn raw
by ``urwid.Edit``, each was invisible in the field, and sent as it was. A
:class:`SafeEdit` draws its text as :class:`~lairchat.client.ui.safetext.SafeText`
draws the server's: each character :func:`~lairchat.client.ui.safetext.marked` finds
as its mark in the ``escaped`` style (newlines kept in a multi-line field). Its
``edit_text`` stays the real text: it is what is sent, and what the editing keys act
on, so to them a mark is the one character it stands for: the cursor steps over it
whole and ``Backspace`` deletes it whole. (A hidden character that Unicode joins to
the one before it, a combining grapheme joiner or a tag character, is deleted with
it, as urwid deletes a letter with its accents.) The marks are in the field rather
than in a warning elsewhere (the status bar saying that the draft holds ``U+200B``):
a warning tells that something is hidden, not where, and the user who wants it gone
has to find it.

urwid's ``Edit`` lays its text out and places the cursor from :meth:`get_text`, here
the shown text, with positions in it. :meth:`position_coords` translates a position
in the real text to the shown one, :meth:`move_cursor_to_coords` (``↑``, ``↓``,
``Home``, ``End``) back, to the nearest edge of a mark. A masked field (the password)
shows its mask, one per character, hidden ones included.

Only the wrap modes ``space`` and ``any``, which every field uses: in ``clip`` and
``ellipsis`` urwid scrolls the row to ``edit_pos`` as if it were a position in the
shown text.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import urwid
from urwid import text_layout

from lairchat.client.ui.safetext import Shown, reshown, safe_markup, shown_text

__all__ = ["SafeEdit"]

_WRAPS = (urwid.WrapMode.SPACE, urwid.WrapMode.ANY)


class SafeEdit(urwid.Edit):
    """``urwid.Edit`` that shows hidden characters and controls as marks (see the
    module); ``edit_text`` and ``edit_pos`` are the real text and a position in it."""

    _masked = False
    _cache: tuple[str, Shown] | None = None

    def __init__(self, caption: Any = "", *args: Any, **kwargs: Any) -> None:
        super().__init__(safe_markup(caption, newlines=False), *args, **kwargs)

    def set_caption(self, caption: Any) -> None:
        super().set_caption(safe_markup(caption, newlines=False))

    def set_mask(self, mask: str | None) -> None:
        self._masked = mask is not None
        super().set_mask(mask)

    def shown(self) -> Shown:
        """The edit text as shown (the mask aside), worked out again from where it
        changed (:func:`~lairchat.client.ui.safetext.reshown`): urwid asks for it at
        every key, and a paste is a key per character."""
        text = self.edit_text
        if self._cache is None:
            self._cache = (text, shown_text(text, newlines=self.multiline))
        elif self._cache[0] != text:
            old, seen = self._cache
            self._cache = (text, reshown(old, seen, text, newlines=self.multiline))
        return self._cache[1]

    def get_text(self) -> tuple[str, list[tuple[Hashable, int]]]:
        text, attrib = super().get_text()
        seen = self.shown()
        if self._masked or not seen.starts:
            return text, attrib
        caption = self.caption
        covered = sum(run for _attr, run in attrib)
        padding = [(None, len(caption) - covered)] if covered < len(caption) else []
        return caption + seen.text, [*attrib, *padding, *seen.attrib]

    def get_line_translation(self, maxcol: int, ta: Any = None) -> Any:
        if self.wrap not in _WRAPS:
            raise ValueError(f"SafeEdit cannot place its cursor with wrap={self.wrap!r}")
        return super().get_line_translation(maxcol, ta)

    def position_coords(self, maxcol: int, pos: int) -> tuple[int, int]:
        trans = self.get_line_translation(maxcol)
        at = len(self.caption) + (pos if self._masked else self.shown().shown_pos(pos))
        return text_layout.calc_coords(self.get_text()[0], trans, at)

    def move_cursor_to_coords(self, size: tuple[int], x: Any, y: int) -> bool:
        (maxcol,) = size
        trans = self.get_line_translation(maxcol)
        if y < self.position_coords(maxcol, 0)[1] or y >= len(trans):
            return False
        at = max(0, text_layout.calc_pos(self.get_text()[0], trans, x, y) - len(self.caption))
        self.set_edit_pos(at if self._masked else self.shown().real_pos(at))
        self.pref_col_maxcol = x, maxcol
        return True
