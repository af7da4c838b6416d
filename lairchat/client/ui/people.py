"""The side panel: the shown room's members, then everyone else, with presence.

``●`` online, ``○`` offline; ``*`` owner, ``+`` moderator; ``(n)`` unread direct
messages from that person, ``(n @)`` when one of them mentions you. With the panel
focused (``Tab``), ``j``/``k`` select, ``Enter`` opens a DM and ``i`` invites to the
shown room, as in the original.
"""

from __future__ import annotations

from typing import Any

import urwid

from lairchat.client.state import ClientState, PanelRow, panel_counts, panel_rows
from lairchat.client.ui.safetext import SafeLine, SafeLineBox, SafeText
from lairchat.client.ui.theme import unread_badge

__all__ = ["PeoplePanel", "row_markup"]

ROLE_MARK = {"owner": "*", "moderator": "+"}


def row_markup(row: PanelRow, selected: bool) -> Any:
    if row.kind == "header":
        return ("header", f"─ {row.text} ─")
    dot = ("online" if row.online else "offline", "● " if row.online else "○ ")
    name = ROLE_MARK.get(row.role or "", "") + row.text + (" (you)" if row.is_me else "")
    tail = [("unread", f" ({unread_badge(str(row.unread), row.mentions)})")] if row.unread else []
    if selected:
        return ("selected", f"> {'●' if row.online else '○'} {name}" + "".join(t[1] for t in tail))
    return [" ", dot, name, *tail]


class PeoplePanel(urwid.WidgetWrap):
    """A boxed list of :class:`PanelRow` with one selectable person."""

    def __init__(self) -> None:
        self.entries: list[PanelRow] = []
        self.selected = 0
        self.focused = False
        self._walker = urwid.SimpleFocusListWalker([])
        #: Each row's widget by what it shows, kept while unchanged: on a server with
        #: thousands of people a presence change redraws one row, not all of them.
        self._lines: dict[tuple[Any, ...], urwid.Widget] = {}
        self._box = SafeLineBox(urwid.ListBox(self._walker), title="People", title_align="left")
        self._attr = urwid.AttrMap(self._box, "box")
        super().__init__(self._attr)
        self._redraw()  # "No one else yet" until an update brings people

    @property
    def people(self) -> list[PanelRow]:
        return [r for r in self.entries if r.kind == "user"]

    def selected_row(self) -> PanelRow | None:
        people = self.people
        if not people:
            return None
        return people[min(self.selected, len(people) - 1)]

    def move(self, step: int) -> None:
        count = len(self.people)
        self.selected = max(0, min(count - 1, self.selected + step)) if count else 0
        self._redraw()

    def set_focus(self, focused: bool) -> None:
        self.focused = focused
        self._attr.set_attr_map({None: "box_focus" if focused else "box"})
        self._redraw()

    def update(self, state: ClientState) -> None:
        entries = panel_rows(state)
        if entries == self.entries:
            return
        self.entries = entries
        self.selected = min(self.selected, max(0, len(self.people) - 1))
        online, count = panel_counts(state)
        self._box.set_title(f"People {online}/{count}")
        self._redraw()

    def _redraw(self) -> None:
        items: list[urwid.Widget] = []
        lines: dict[tuple[Any, ...], urwid.Widget] = {}
        focus_index = 0
        person = -1
        for row in self.entries:
            selected = False
            if row.kind == "user":
                person += 1
                selected = self.focused and person == self.selected
                if person == self.selected:
                    focus_index = len(items)
            shown = (row.kind, row.text, row.user_id, row.online, row.role, row.unread)
            shown += (row.mentions, row.is_me, selected)
            line = self._lines.get(shown) or SafeLine(row_markup(row, selected))
            lines[shown] = line
            items.append(line)
        self._lines = lines
        if not items:
            items.append(SafeText(("hint", "  No one else yet")))
        self._walker[:] = items
        self._walker.set_focus(focus_index)
