"""Colours, by role rather than by widget, so the whole client restyles in one place.

Entries are ``(name, foreground, background)``, and ``escaped`` (the marks standing
for control and bidi characters, ``safetext.py``) also has a monochrome setting: a
mark must look unlike the same characters typed, on every terminal."""

from __future__ import annotations

__all__ = ["PALETTE"]

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
]
