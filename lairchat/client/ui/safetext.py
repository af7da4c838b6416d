"""Text from the server, shown so that it cannot mislead (docs/SECURITY.md).

The server returns names, room names, descriptions and messages exactly as they were
sent. Printed raw, some characters act on the terminal rather than being read:
escape sequences (urwid drops them, which hides them instead), ``U+202E`` which turns
``exe.txt`` into ``txt.exe``, NUL and the other controls that vanish. Others are
simply invisible: a zero-width space or a word joiner in a name that looks like
another, a left-to-right mark, a Hangul filler that is a blank name. Every widget of
the client that shows text is a :class:`SafeText`, which shows each such character as
a visible mark in the ``escaped`` style:

- C0 controls as the control pictures ``␀`` … ``␟`` (``ESC`` is ``␛``), ``DEL`` as
  ``␡``; tab and newline are kept, and ``\\r\\n`` is a newline;
- C1 controls and the invisible or layout-changing characters of
  ``tests/fixtures/hidden_characters.json`` (:data:`HIDDEN`: bidi marks, embeddings,
  overrides and isolates, zero-width and line separators, soft hyphen, BOM, Hangul
  fillers, tag characters…) as ``U+XXXX``. Tag characters are kept in an emoji tag
  sequence (``U+1F3F4``, tags, ``U+E007F``: the flag of England), marked anywhere
  else.

That file is the one list the web client (``lairchat/web/app.js``) follows too, and
both clients' tests check every range in it, and the text it says to leave alone
(ZWJ emoji sequences, ZWNJ, variation selectors, combining marks, no-break space).

A mark is plain ASCII (or one control picture), so urwid measures it as the terminal
draws it. Most characters it replaces are ones urwid counts as no column while a
terminal may not: tmux draws ``U+3164`` two columns wide, so a row of them shown raw
was far wider on the screen than urwid had laid it out, and pushed the rest of its
row (more of the message, the people panel's border) off the screen.

Widgets of one row (titles, the status bar, list rows) are :class:`SafeLine`, which
shows a newline as ``␊`` too: a name or description cannot add a row to the layout.
Edit fields show the same marks over the real text they hold (``safeedit.py``).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Hashable
from typing import Any, NamedTuple

import urwid

from lairchat.domain.hidden import HIDDEN, mark, unsafe_pattern

__all__ = [
    "ESCAPED",
    "HIDDEN",
    "UNSAFE",
    "UNSAFE_IN_LINE",
    "SafeLine",
    "SafeLineBox",
    "SafeText",
    "Shown",
    "mark",
    "marked",
    "reshown",
    "safe_markup",
    "shown_text",
]

#: The display attribute of a mark (``theme.py`` gives it a style of its own).
ESCAPED = "escaped"

#: What is never printed as is, in group 1: C0 and C1 controls but tab and newline,
#: DEL, and :data:`HIDDEN`. A match without group 1 is an emoji tag sequence, kept
#: whole (see :func:`marked`).
UNSAFE = unsafe_pattern(r"\x00-\x08\x0b-\x1f")
#: The same and newline, for text that must stay on one row.
UNSAFE_IN_LINE = unsafe_pattern(r"\x00-\x08\x0a-\x1f")
#: The only match longer than one character, an emoji tag sequence, starts with this.
_FLAG = "\U0001f3f4"
#: What may follow :data:`_FLAG` inside a tag sequence before its end.
_TAGS = re.compile("[\U000e0020-\U000e007e]*")


def marked(text: str, newlines: bool = True) -> list[int]:
    """The indexes of the characters of ``text`` shown as marks (with ``newlines``
    false, newlines too)."""
    unsafe = UNSAFE if newlines else UNSAFE_IN_LINE
    return [found.start() for found in unsafe.finditer(text) if found.lastindex]


class Shown(NamedTuple):
    """A text with its marks (:func:`shown_text`), and where they are."""

    text: str
    #: urwid display attributes of :attr:`text`: runs of ``None`` or :data:`ESCAPED`.
    attrib: list[tuple[Hashable, int]]
    #: The index of each marked character in the real text, in order.
    starts: list[int]
    #: The index of each mark in :attr:`text`, and its length.
    shown_starts: list[int]
    lengths: list[int]
    #: The index in :attr:`attrib` of each mark's run.
    runs: list[int]

    def shown_pos(self, pos: int) -> int:
        """A position in the real text (before ``text[pos]``) → in the shown text."""
        i = bisect_left(self.starts, pos) - 1
        if i < 0:
            return pos
        return self.shown_starts[i] + self.lengths[i] + pos - self.starts[i] - 1

    def real_pos(self, pos: int) -> int:
        """A position in the shown text → in the real text; inside a mark, the nearer
        of its two edges."""
        i = bisect_right(self.shown_starts, pos) - 1
        if i < 0:
            return pos
        into = pos - self.shown_starts[i]
        if into < self.lengths[i]:
            return self.starts[i] + (2 * into >= self.lengths[i])
        return self.starts[i] + 1 + into - self.lengths[i]

    def cut(self, pos: int) -> Shown:
        """The shown form of the real text's first ``pos`` characters (``pos`` not
        inside a match of more than one character: see :func:`reshown`)."""
        k = bisect_left(self.starts, pos)
        return Shown(
            self.text[: self.shown_pos(pos)],
            self.attrib[: self.runs[k - 1] + 1] if k else [],
            self.starts[:k],
            self.shown_starts[:k],
            self.lengths[:k],
            self.runs[:k],
        )

    def joined(self, tail: Shown, real_length: int) -> Shown:
        """This (the shown form of a real text of ``real_length`` characters)
        followed by ``tail``, as :func:`shown_text` gives the two texts' join."""
        if not tail.starts:
            return self._replace(text=self.text + tail.text)
        attrib = list(self.attrib)
        covered = self.shown_starts[-1] + self.lengths[-1] if self.starts else 0
        if covered < len(self.text):
            attrib.append((None, len(self.text) - covered))
        tail_attrib, shift = tail.attrib, len(attrib)
        if attrib and attrib[-1][0] is None and tail_attrib[0][0] is None:
            attrib[-1] = (None, attrib[-1][1] + tail_attrib[0][1])
            tail_attrib, shift = tail_attrib[1:], shift - 1
        attrib.extend(tail_attrib)
        at = len(self.text)
        return Shown(
            self.text + tail.text,
            attrib,
            self.starts + [start + real_length for start in tail.starts],
            self.shown_starts + [start + at for start in tail.shown_starts],
            self.lengths + tail.lengths,
            self.runs + [run + shift for run in tail.runs],
        )

    def markup(self) -> str | list[Any]:
        """:attr:`text` as urwid markup, the marks under :data:`ESCAPED`."""
        if not self.starts:
            return self.text
        parts: list[Any] = []
        at = 0
        for attr, run in self.attrib:
            piece = self.text[at : at + run]
            parts.append(piece if attr is None else (attr, piece))
            at += run
        if at < len(self.text):
            parts.append(self.text[at:])
        return parts


def shown_text(text: str, newlines: bool = True) -> Shown:
    """``text`` with each character :func:`marked` finds replaced by its :func:`mark`."""
    starts = marked(text, newlines)
    parts: list[str] = []
    attrib: list[tuple[Hashable, int]] = []
    shown_starts: list[int] = []
    lengths: list[int] = []
    runs: list[int] = []
    last = at = 0
    for index in starts:
        if index > last:
            parts.append(text[last:index])
            attrib.append((None, index - last))
            at += index - last
        stand_in = mark(text[index])
        parts.append(stand_in)
        runs.append(len(attrib))
        attrib.append((ESCAPED, len(stand_in)))
        shown_starts.append(at)
        lengths.append(len(stand_in))
        at += len(stand_in)
        last = index + 1
    parts.append(text[last:])
    return Shown("".join(parts), attrib, starts, shown_starts, lengths, runs)


def _common_start(old: str, new: str) -> int:
    """How many first characters ``old`` and ``new`` share (comparing slices, which
    is C's work: a few comparisons of the whole text rather than a loop over it)."""
    if new.startswith(old):
        return len(old)
    low, high = 0, min(len(old), len(new))
    while low < high:
        middle = (low + high + 1) // 2
        if old[:middle] == new[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def reshown(old: str, seen: Shown, new: str, newlines: bool = True) -> Shown:
    """``shown_text(new, newlines)``, given ``seen``, the shown form of ``old``: only
    what follows the two texts' common beginning is looked at again. A field marked
    whole at every key took seconds for a paste of 20,000 characters, which arrives
    as 20,000 keys; typed or pasted at the end, the work per key is now the keys'.

    The scan starts again at the common beginning, or, if that is inside a run of tag
    characters after a black flag, at the flag: an emoji tag sequence is the only
    match of more than one character, and a change inside it may make or break it."""
    start = _common_start(old, new)
    flag = new.rfind(_FLAG, 0, start)
    if flag >= 0 and _TAGS.fullmatch(new, flag + 1, start):
        start = flag
    return seen.cut(start).joined(shown_text(new[start:], newlines), start)


def safe_markup(markup: Any, newlines: bool = True) -> Any:
    """urwid text markup (a string, ``(attr, markup)``, or a list of markup) with every
    character :func:`marked` finds replaced by its :func:`mark` under :data:`ESCAPED`;
    the attributes around it are kept."""
    if isinstance(markup, str):
        return shown_text(markup.replace("\r\n", "\n"), newlines).markup()
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
