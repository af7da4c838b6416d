"""The message pane: a conversation drawn bottom-up, scrolled by lines.

A custom box widget rather than a ``ListBox`` because chat scrolls from the bottom:
the position is kept as "lines above the newest", so older pages loaded at the top do
not move what the reader is looking at, and reaching the top is easy to detect (which
is when older history is fetched).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import urwid

from lairchat.client.state import ChatMessage, ClientState, Conversation
from lairchat.client.timefmt import format_clock

__all__ = ["MessagePane", "message_markup"]


def message_markup(msg: ChatMessage, mine: bool, now: datetime | None = None) -> list[Any]:
    """One message as urwid text markup: ``HH:MM author: content``."""
    if msg.kind == "system":
        return [("system", f"  · {msg.content}")]
    when = format_clock(msg.created_at, now)
    if msg.kind == "pending":
        return [("pending", f"{when} {msg.author}: {msg.content} …")]
    parts: list[Any] = [
        ("time", when + " "),
        ("author_me" if mine else "author", msg.author),
        ": ",
        msg.content,
    ]
    if msg.edited:
        parts.append(("edited", " (edited)"))
    if msg.kind == "failed":
        parts.append(("failed", f"  [not sent: {msg.error}]"))
    return parts


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
        self._texts: list[urwid.Text] = []
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
        texts: list[urwid.Text] = []
        if conv.key[0] != "home":
            if not conv.loaded:
                texts.append(urwid.Text(("hint", "  (loading history…)")))
            elif conv.has_more:
                texts.append(urwid.Text(("hint", "  ↑ older messages: scroll to the top (g)")))
            else:
                texts.append(urwid.Text(("hint", "  — beginning of the conversation —")))
        for msg in conv.messages:
            if msg.author_id and msg.author_id in state.users:
                msg.author = state.users[msg.author_id].username
            texts.append(urwid.Text(message_markup(msg, state.is_me(msg.author_id), now)))
        if len(texts) <= 1 and conv.key[0] != "home" and conv.loaded:
            texts.append(urwid.Text(("hint", "  No messages yet. Press i and say hello.")))
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
        parts = [(t.render((cols,)), None, False) for t in self._texts]
        canvas = urwid.CanvasCombine(parts)
        total = canvas.rows()
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
        if total > rows:
            canvas.trim(total - rows - self.offset, rows)
        else:
            canvas.pad_trim_top_bottom(0, rows - total)
        return canvas
