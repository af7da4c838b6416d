"""The two bottom lines: the latest notice, and the status bar.

The status bar always answers "am I connected, how, as whom, where": connection
state, transport and encryption, user, conversation, pending invitations, unread
mentions elsewhere, then the keys that matter on the current screen.
"""

from __future__ import annotations

from typing import Any

import urwid

from lairchat.client.state import ClientState
from lairchat.client.ui.safetext import SafeLine

__all__ = ["NoticeLine", "StatusBar", "connection_markup", "mentions_text", "status_markup"]

_STATES = {
    "online": ("status_ok", "● online"),
    "connecting": ("status_warn", "◌ connecting"),
    "handshaking": ("status_warn", "◌ signing in"),
    "waiting": ("status_warn", "◌ reconnecting"),
    "offline": ("status_bad", "○ offline"),
}


def connection_markup(state: ClientState) -> list[Any]:
    conn = state.connection
    attr, text = _STATES.get(conn.state, ("status_warn", conn.state))
    parts: list[Any] = [(attr, f" {text} ")]
    transport = conn.transport + (" encrypted" if conn.encrypted else "")
    parts.append(("status", f"│ {transport} "))
    if conn.state == "waiting" and conn.detail:
        parts.append(("status_warn", f"({conn.detail}) "))
    return parts


def mentions_text(state: ClientState) -> str:
    """``@ 2 mentions in #room`` (``in 3 conversations`` when there are several), or
    "" when no conversation but the one shown has unread mentions: it stays until
    they are read, unlike a notice, which lapses."""
    found = state.unread_mentions()
    if not found:
        return ""
    total = sum(n for _, n in found)
    where = state.title_of(found[0][0]) if len(found) == 1 else f"{len(found)} conversations"
    return f"@ {total} mention{'s' if total != 1 else ''} in {where}"


def status_markup(state: ClientState, hints: str = "", activity: str = "") -> list[Any]:
    parts = connection_markup(state)
    if state.me is not None:
        parts.append(("status", f"│ {state.me.username} "))
        if state.screen != "login" and state.current[0] != "home":
            parts.append(("status", f"│ {state.title_of(state.current)} "))
    if state.invitations:
        count = len(state.invitations)
        parts.append(("status_warn", f"│ {count} invitation{'s' if count != 1 else ''} (I) "))
    if mentioned := mentions_text(state):
        parts.append(("status_warn", f"│ {mentioned} "))
    if activity:
        parts.append(("status_warn", f"│ {activity} "))
    if hints:
        parts.append(("status_hint", f"│ {hints}"))
    return parts


class StatusBar(urwid.WidgetWrap):
    def __init__(self) -> None:
        self.text = SafeLine("")
        super().__init__(urwid.AttrMap(self.text, "status"))

    def update(self, state: ClientState, hints: str = "", activity: str = "") -> None:
        self.text.set_text(status_markup(state, hints, activity))


class NoticeLine(urwid.WidgetWrap):
    def __init__(self) -> None:
        self.text = SafeLine("")
        super().__init__(self.text)

    def update(self, state: ClientState) -> None:
        notice = state.latest_notice()
        if notice is None:
            self.text.set_text("")
        else:
            self.text.set_text((f"notice_{notice.level}", f" {notice.text}"))
