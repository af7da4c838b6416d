"""The message pane: a conversation drawn bottom-up, scrolled by lines.

A custom box widget rather than a ``ListBox`` because chat scrolls from the bottom:
the position is kept as "lines above the newest", so older pages loaded at the top do
not move what the reader is looking at, and reaching the top is easy to detect (which
is when older history is fetched).

Each message hangs: its head (the time, or the ``·`` of a notice) has a column of its
own and the rest wraps beside it, so only a message's first row starts at column 0. A
newline in a message, or a line long enough to wrap at the right place, cannot show
a row that looks like another message ("12:01 admin: ..."). Notices are made of one
line by the client (``You joined #name``), so a newline in them, from a name, shows
as ``␊`` rather than starting a row that could pass for a notice. Messages are drawn with
:class:`~lairchat.client.ui.safetext.SafeText`, and a message's widget is kept while
it is unchanged, so that a redraw renders only the rows on screen.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import urwid

from lairchat.client import reactions
from lairchat.client.state import ChatMessage, ClientState, Conversation
from lairchat.client.timefmt import format_clock
from lairchat.client.ui.safetext import SafeText
from lairchat.client.ui.theme import MENTION_MARK

__all__ = ["Hanging", "MessagePane", "message_markup"]

#: Below this many columns for the text, the head's column narrows instead.
MIN_BODY = 10
SYSTEM_HEAD = ("system", "  · ")
#: Characters of a message shown: twice what lairchat accepts (4096 bytes), so every
#: message it relays shows whole, while a server sending a message of megabytes
#: cannot freeze the client laying it out (urwid's layout of one long line grows
#: with its square: 500,000 characters took 100 s, 100,000 hidden ones 130 s).
SHOWN_MAX = 8192
#: Lines of a message shown: 4,000 blank lines pushed a conversation off screen and
#: slowed every redraw; a message this long is read by copying it (``y``).
SHOWN_LINES = 500
#: Characters of an author's name shown (lairchat's names are at most 32): a server
#: naming someone with 200,000 took 5 s to lay out each of their messages.
NAME_MAX = 256


def shown_content(content: str) -> tuple[str, str]:
    """``content`` as far as it is shown, and a note of what is not ("" if none)."""
    cut = content[:SHOWN_MAX]
    lines = cut.split("\n", SHOWN_LINES)
    if len(lines) > SHOWN_LINES:
        cut = "\n".join(lines[:SHOWN_LINES])
    if len(cut) == len(content):
        return content, ""
    return cut, f"  [… {len(content) - len(cut):,} more characters not shown]"


def message_markup(msg: ChatMessage, mine: bool, now: datetime | None = None) -> tuple[Any, Any]:
    """One message as urwid text markup: the head ``(attr, "HH:MM ")`` and the body
    ``author: content``. A message that mentions you has :data:`MENTION_MARK` in
    place of the head's space and its text in ``mention``: a mark that shows without
    colours, and text that goes through the same :class:`SafeText` as any other."""
    if msg.kind == "system":
        content, cut = shown_content(msg.content)
        return SYSTEM_HEAD, [("system", content), ("hint", cut)]
    clock = format_clock(msg.created_at, now)
    when = clock + " "
    content, cut = shown_content(msg.content)
    author = msg.author if len(msg.author) <= NAME_MAX else msg.author[:NAME_MAX] + "…"
    if msg.kind == "pending":
        return ("pending", when), [
            ("pending", f"{author}: {content}"),
            ("hint", cut),
            ("pending", " …"),
        ]
    shown: Any = ("mention", content) if msg.mention else content
    parts: list[Any] = [("author_me" if mine else "author", author), ": ", shown]
    if cut:
        parts.append(("hint", cut))
    if msg.edited:
        parts.append(("edited", " (edited)"))
    if msg.kind == "failed":
        parts.append(("failed", f"  [not sent: {msg.error}]"))
    parts += reactions.markup(msg)
    if msg.mention:
        return [("time", clock), ("mention_mark", MENTION_MARK)], parts
    return ("time", when), parts


class Hanging(urwid.Widget):
    """``head`` in a column as wide as it is, ``body`` wrapping in the columns right of
    it: no row but the first starts at column 0 (a flow widget)."""

    _sizing = frozenset([urwid.Sizing.FLOW])
    ignore_focus = True

    def __init__(self, head: Any, body: Any, newlines: bool = True) -> None:
        super().__init__()
        self.head = SafeText(head, wrap="ellipsis")  # one row, whatever the width
        self.body = SafeText(body, newlines=newlines)
        self.indent = self.head.pack()[0]

    def _split(self, cols: int) -> int:
        """The head's width at ``cols`` columns."""
        if cols >= self.indent + MIN_BODY:
            return self.indent
        return min(self.indent, cols // 2)

    def rows(self, size: tuple[int], focus: bool = False) -> int:
        (cols,) = size
        return self.body.rows((cols - self._split(cols),))

    def render(self, size: tuple[int], focus: bool = False) -> urwid.Canvas:
        (cols,) = size
        head = self._split(cols)
        if not head:
            return urwid.CompositeCanvas(self.body.render((cols,)))
        return urwid.CanvasJoin(
            [
                (self.head.render((head,)), None, False, head),
                (self.body.render((cols - head,)), None, False, cols - head),
            ]
        )


class MessagePane(urwid.Widget):
    """Draws one :class:`Conversation`; ``offset`` counts lines above the bottom."""

    _sizing = frozenset([urwid.Sizing.BOX])
    _selectable = True
    ignore_focus = False

    def __init__(self, on_top: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.offset = 0
        self.page = 10
        self._max_offset = 0
        self._want_older = False
        self._on_top = on_top
        self._key: tuple[Any, ...] = ()
        self._texts: list[urwid.Widget] = []
        #: Each message's widget, by everything that it shows: kept while unchanged.
        self._widgets: dict[tuple[Any, ...], Hanging] = {}
        #: The rows each of ``_texts`` takes at ``_heights_at`` columns (-1: not
        #: measured yet).
        self._heights: list[int] = []
        self._heights_at = 0
        self._newest: Any = None
        self._hold = False
        self._total = 0

    def show(self, state: ClientState, conv: Conversation) -> None:
        """Point the pane at ``conv`` (cheap when nothing changed)."""
        key = (conv.key, conv.version, len(conv.messages), conv.has_more, conv.loaded)
        if key == self._key:
            return
        last = conv.messages[-1] if conv.messages else None
        newest = (last.id, last.local_id, last.kind) if last else None
        if not self._key or self._key[0] != conv.key:
            self.offset = 0
            self._want_older = False
            self._total = 0
        elif newest != self._newest and self.offset > 0:
            # New lines at the bottom while the reader is scrolled up: keep still.
            self._hold = True
        self._newest = newest
        self._key = key
        now = state.now_dt()
        today = now.astimezone().date()  # the day decides how times are written
        texts: list[urwid.Widget] = []
        if conv.key[0] != "home":
            if not conv.loaded:
                texts.append(SafeText(("hint", "  (loading history…)")))
            elif conv.has_more:
                texts.append(SafeText(("hint", "  ↑ older messages: scroll to the top (g)")))
            else:
                texts.append(SafeText(("hint", "  — beginning of the conversation —")))
        widgets: dict[tuple[Any, ...], Hanging] = {}
        for msg in conv.messages:
            if msg.author_id and msg.author_id in state.users:
                msg.author = state.users[msg.author_id].username
            mine = state.is_me(msg.author_id)
            shown = (msg.id, msg.local_id, msg.seq, msg.kind, msg.author, msg.content)
            shown += (msg.edited, msg.error, msg.created_at, mine, today, msg.mention)
            shown += reactions.shown_key(msg)
            widget = self._widgets.get(shown)
            if widget is None:
                # A notice is one line (``You joined #name``): a newline is a mark.
                widget = Hanging(*message_markup(msg, mine, now), msg.kind != "system")
            widgets[shown] = widget
            texts.append(widget)
        if len(texts) <= 1 and conv.key[0] != "home" and conv.loaded:
            texts.append(SafeText(("hint", "  No messages yet. Press i and say hello.")))
        # A kept widget keeps its height: only new ones are measured at the next render.
        known = dict(zip(map(id, self._texts), self._heights, strict=False))
        self._heights = [known.get(id(t), -1) for t in texts]
        self._widgets = widgets
        self._texts = texts
        self._invalidate()

    # -- scrolling ---------------------------------------------------------------------

    @property
    def at_bottom(self) -> bool:
        return self.offset == 0

    def scroll(self, to: str) -> None:
        if to == "up":
            self.offset += 1
            self._want_older = True
        elif to == "down":
            self.offset = max(0, self.offset - 1)
        elif to == "page_up":
            self.offset += self.page
            self._want_older = True
        elif to == "page_down":
            self.offset = max(0, self.offset - self.page)
        elif to == "top":
            self.offset = 1 << 30
            self._want_older = True
        elif to == "bottom":
            self.offset = 0
        self._invalidate()

    def keypress(self, size: tuple[int, int], key: str) -> str | None:
        return key

    def render(self, size: tuple[int, int], focus: bool = False) -> urwid.Canvas:
        cols, rows = size
        self.page = max(1, rows - 1)
        if not self._texts:
            return urwid.SolidCanvas(" ", cols, rows)
        if self._heights_at != cols:
            self._heights = [t.rows((cols,)) for t in self._texts]
            self._heights_at = cols
        elif -1 in self._heights:
            self._heights = [
                t.rows((cols,)) if h < 0 else h
                for t, h in zip(self._texts, self._heights, strict=True)
            ]
        total = sum(self._heights)
        if self._hold and self._total and total > self._total:
            self.offset += total - self._total
        self._hold = False
        self._total = total
        self._max_offset = max(0, total - rows)
        if self.offset > self._max_offset:
            self.offset = self._max_offset
        if self._want_older and self.offset == self._max_offset and self._on_top is not None:
            self._want_older = False
            self._on_top()
        # Only the widgets with a row in the window [top, bottom) are rendered.
        bottom = total - self.offset
        top = max(0, bottom - rows)
        parts = []
        start = total
        for text, height in zip(reversed(self._texts), reversed(self._heights), strict=True):
            if start <= top:
                break
            start -= height
            if start < bottom:
                parts.append((text.render((cols,)), None, False))
        parts.reverse()
        canvas = urwid.CanvasCombine(parts)
        canvas.trim(top - start, bottom - top)
        if bottom - top < rows:
            canvas.pad_trim_top_bottom(0, rows - (bottom - top))
        return canvas
