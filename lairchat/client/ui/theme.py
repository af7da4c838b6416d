"""Colours, by role rather than by widget, so the whole client restyles in one place.

Entries are ``(name, foreground, background)``, and ``escaped`` (the marks standing
for control and bidi characters, ``safetext.py``) also has a monochrome setting: a
mark must look unlike the same characters typed, on every terminal. So do ``mention``
and ``mention_mark`` (a message that mentions you): they are bold without colours,
and the mark is a character (:data:`MENTION_MARK`), never a colour alone. A search's
``match`` is underlined as well as coloured, for the same reason, and one's own
reaction (``reaction_mine``) is bold."""

from __future__ import annotations

__all__ = ["MENTION_MARK", "PALETTE", "unread_badge"]

#: Stands in the column of a message's time, before a message that mentions you.
MENTION_MARK = "▌"


def unread_badge(count: str, mentions: int) -> str:
    """An unread count as the room list and the people panel show it (``3 new``,
    ``3``), with ``@`` after it while one of those messages mentions you."""
    return f"{count} @" if mentions else count


PALETTE: list[tuple[str, ...]] = [
    ("title", "white,bold", "dark blue"),
    ("title_dm", "white,bold", "dark magenta"),
    ("title_home", "black,bold", "light gray"),
    ("time", "dark gray", ""),
    ("author", "light green,bold", ""),
    ("author_me", "light cyan,bold", ""),
    ("system", "dark cyan", ""),
    ("pending", "dark gray", ""),
    ("failed", "light red", ""),
    ("edited", "dark gray", ""),
    ("typing", "yellow", ""),
    ("hint", "dark gray", ""),
    ("status", "white", "dark gray"),
    ("status_ok", "light green,bold", "dark gray"),
    ("status_warn", "yellow,bold", "dark gray"),
    ("status_bad", "light red,bold", "dark gray"),
    ("status_hint", "light gray", "dark gray"),
    ("notice_info", "light cyan", ""),
    ("notice_success", "light green", ""),
    ("notice_warning", "yellow,bold", ""),
    ("notice_error", "light red,bold", ""),
    ("header", "light magenta,bold", ""),
    ("online", "light green", ""),
    ("offline", "dark gray", ""),
    ("unread", "yellow,bold", ""),
    ("selected", "black", "yellow"),
    ("box", "light gray", ""),
    ("box_focus", "yellow", ""),
    ("box_edit", "light magenta,bold", ""),
    ("field", "white", "dark gray"),
    ("field_focus", "black", "light gray"),
    ("button", "light gray", ""),
    ("button_focus", "black,bold", "yellow"),
    ("banner", "light cyan,bold", ""),
    ("error", "light red,bold", ""),
    ("escaped", "black", "light magenta", "standout"),
    ("mention", "white,bold", "", "bold"),
    ("mention_mark", "yellow,bold", "", "bold"),
    ("reaction", "light gray", ""),
    ("reaction_mine", "light cyan,bold", "", "bold"),
    ("match", "black,underline", "yellow", "underline"),
]
