"""Text from the server, shown so that it cannot mislead (docs/SECURITY.md).

The server returns names, room names, descriptions and messages exactly as they were
sent. Printed raw, some characters act on the terminal rather than being read:
escape sequences (urwid drops them, which hides them instead), ``U+202E`` which turns
``exe.txt`` into ``txt.exe``, NUL and the other controls that vanish. Every widget of
the client that shows text is a :class:`SafeText`, which shows each such character as
a visible mark in the ``escaped`` style, by the same rule as the web client
(``UNSAFE`` and ``mark()`` in ``lairchat/web/app.js``):

- C0 controls as the control pictures ``␀`` … ``␟`` (``ESC`` is ``␛``), ``DEL`` as
  ``␡``; tab and newline are kept, and ``\\r\\n`` is a newline;
- C1 controls and the bidirectional embeddings, overrides and isolates
  (``U+202A``–``U+202E``, ``U+2066``–``U+2069``) as ``U+XXXX``.

Widgets of one row (titles, the status bar, list rows) are :class:`SafeLine`, which
shows a newline as ``␊`` too: a name or description cannot add a row to the layout.
Edit fields keep the real characters: they hold what the user is editing.
"""

from __future__ import annotations

import re
from typing import Any

import urwid

__all__ = [
    "ESCAPED",
    "UNSAFE",
    "UNSAFE_IN_LINE",
    "SafeLine",
    "SafeLineBox",
    "SafeText",
    "mark",
    "safe_markup",
]

#: The display attribute of a mark (``theme.py`` gives it a style of its own).
ESCAPED = "escaped"

#: What is never printed as is: C0 and C1 controls but tab and newline, DEL, and the
#: bidi embeddings, overrides and isolates.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: The same and newline, for text that must stay on one row.
UNSAFE_IN_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def mark(char: str) -> str:
    """The visible stand-in for one :data:`UNSAFE` character."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"U+{code:04X}"


def _safe_str(text: str, unsafe: re.Pattern[str]) -> str | list[Any]:
    text = text.replace("\r\n", "\n")
    if unsafe.search(text) is None:
        return text
    parts: list[Any] = []
    last = 0
    for found in unsafe.finditer(text):
        if found.start() > last:
            parts.append(text[last : found.start()])
        parts.append((ESCAPED, mark(found.group())))
        last = found.end()
    if last < len(text):
        parts.append(text[last:])
    return parts


def safe_markup(markup: Any, newlines: bool = True) -> Any:
    """urwid text markup (a string, ``(attr, markup)``, or a list of markup) with every
    :data:`UNSAFE` character (:data:`UNSAFE_IN_LINE` without ``newlines``) replaced by
    its :func:`mark` under :data:`ESCAPED`; the attributes around it are kept."""
    if isinstance(markup, str):
        return _safe_str(markup, UNSAFE if newlines else UNSAFE_IN_LINE)
    if isinstance(markup, bytes):
        return safe_markup(markup.decode("utf-8", "replace"), newlines)
    if isinstance(markup, tuple):
        attr, inner = markup
        return (attr, safe_markup(inner, newlines))
    if isinstance(markup, list):
        return [safe_markup(part, newlines) for part in markup]
    raise TypeError(f"not text markup: {markup!r}")


class SafeText(urwid.Text):
    """``urwid.Text`` that shows unsafe characters as marks (see the module)."""

    #: Whether newlines are kept (rather than shown as ``␊``).
    newlines = True

    def __init__(self, markup: Any = "", *args: Any, newlines: bool | None = None, **kw: Any):
        if newlines is not None:
            self.newlines = newlines
        super().__init__(markup, *args, **kw)

    def set_text(self, markup: Any) -> None:
        super().set_text(safe_markup(markup, self.newlines))


class SafeLine(SafeText):
    """A :class:`SafeText` of one row: newlines are marks too, and what does not fit
    ends in an ellipsis."""

    newlines = False

    def __init__(self, markup: Any = "", **kwargs: Any) -> None:
        super().__init__(markup, **{"wrap": "ellipsis", **kwargs})


class SafeLineBox(urwid.LineBox):
    """``urwid.LineBox`` whose title is shown as :class:`SafeLine` shows text."""

    def format_title(self, text: Any) -> Any:
        return super().format_title(safe_markup(text, newlines=False))
