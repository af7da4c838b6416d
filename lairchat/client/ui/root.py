"""The top-level widget: the current screen, the notice and status lines, overlays.

It routes keys (an open overlay first, then the screen) and redraws everything from
the state in :meth:`RootView.update`, which the controller calls after every change.
A key handler that fails is reported in the notice line and logged, never raised into
urwid (which would end the program).
"""

from __future__ import annotations

import logging
from typing import Any

import urwid

from lairchat.client import commands as c
from lairchat.client.state import ClientState
from lairchat.client.ui.base import Controller
from lairchat.client.ui.chat import PASTE_GAP, PASTE_KEYS, ChatView
from lairchat.client.ui.login import LoginView
from lairchat.client.ui.overlays import Overlay, PaletteOverlay
from lairchat.client.ui.rooms import RoomsView
from lairchat.client.ui.statusbar import NoticeLine, StatusBar

__all__ = ["RootView"]

log = logging.getLogger(__name__)


class RootView(urwid.WidgetWrap):
    def __init__(self, state: ClientState, controller: Controller, server: str) -> None:
        self.state = state
        self.controller = controller
        self.login = LoginView(controller, server)
        self.chat = ChatView(controller)
        self.rooms = RoomsView(controller)
        self.rooms.type_ahead = self.chat.type_ahead
        self.notice = NoticeLine()
        self.status = StatusBar()
        self.frame = urwid.Frame(self.login, footer=urwid.Pile([self.notice, self.status]))
        self.overlay: Overlay | None = None
        #: Between ``begin paste`` and ``end paste`` (bracketed paste), and when the
        #: last key came.
        self._pasting = False
        self._paste_at = 0.0
        #: What the client is busy with ("Logging in…"), shown on the login screen
        #: and in the status bar.
        self.activity = ""
        self._screen = "login"
        super().__init__(self.frame)
        self.update()

    # -- drawing ------------------------------------------------------------------------

    def update(self) -> None:
        state = self.state
        screen = state.screen
        if screen != self._screen:
            if screen == "login":
                self.chat.reset()
                self.close_overlay()
            self._screen = screen
        body = {"login": self.login, "chat": self.chat, "rooms": self.rooms}[screen]
        if self.frame.body is not body:
            self.frame.body = body
        hints = ""
        if screen == "login":
            self.login.update(state, self.activity)
        elif screen == "chat":
            self.chat.update(state)
            hints = self.chat.hints()
        else:
            self.rooms.update(state)
            hints = self.rooms.hints()
        self.notice.update(state)
        self.status.update(state, hints, self.activity if screen != "login" else "")
        if self.overlay is not None:
            self.overlay.update(state)
            if self.overlay.done:
                self.close_overlay()

    def open_overlay(self, overlay: Overlay) -> None:
        self.overlay = overlay
        overlay.update(self.state)
        self._w = urwid.Overlay(
            overlay,
            self.frame,
            align="center",
            width=("relative", overlay.width),
            valign="middle",
            height=("relative", overlay.height) if overlay.height > 20 else overlay.height,
            min_width=36,
            min_height=5,
        )
        self._invalidate()

    def close_overlay(self) -> None:
        self.overlay = None
        self._w = self.frame
        self._invalidate()

    # -- keys ------------------------------------------------------------------------------

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        try:
            now = self.state.clock()
            if self._pasting and key != "end paste" and now - self._paste_at > PASTE_GAP:
                self.keypress(size, "end paste")  # the terminal's was lost
            if key in PASTE_KEYS:
                self._pasting = key == "begin paste"
            self._paste_at = now
            if key == "ctrl c" and not self._pasting:  # pasted, it is a character
                self.controller.dispatch(c.Quit())
                return None
            if (
                key == "ctrl p"
                and not self._pasting
                and self.overlay is None
                and self.state.screen != "login"
            ):
                self.open_overlay(PaletteOverlay(self.controller))
                return None
            if self.overlay is None and self.frame.body is self.chat and self.chat.takes_text(key):
                # Typed into the message field: nothing else on the screen changed, and
                # laying it all out again at each key made a paste (a key a character)
                # slow in proportion to the people and rooms known. Straight to the chat
                # (it reads only the columns of ``size``): the frame measured its
                # footer at every key, most of the cost of a key in a long paste.
                self.chat.keypress(size, key)
                return None
            # Pasted text is not keys of a box: "x" kicked the member selected, "a"
            # accepted an invitation, "y" quit. A box with fields (the palette, the
            # password form) takes it as text, its newlines not submitting.
            if (
                self.overlay is not None
                and (self._pasting or key in PASTE_KEYS)
                and (not self.overlay.takes_paste or key == "enter" or key in PASTE_KEYS)
            ):
                return None
            if self.overlay is not None:
                self._w.keypress(size, key)
                if self.overlay is not None and self.overlay.done:
                    self.close_overlay()
            else:
                super().keypress(size, key)
            self.update()
        except Exception:
            log.exception("error handling key %r", key)
            self.state.notify("Internal error (details in the log file)", "error")
        return None

    def mouse_event(self, *args: Any, **kwargs: Any) -> bool:
        return False
