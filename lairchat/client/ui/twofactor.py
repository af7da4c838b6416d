"""Two-factor sign-in's forms and what they show once (``/2fa``): the password before
a new secret (``/2fa setup``), the password and a code to turn it off (``/2fa
disable``), and a box of text for the secret and its ``otpauth://`` URI, then for the
recovery codes, to copy from the terminal (no QR code: the URI and the secret are
what an authenticator app takes typed or pasted)."""

from __future__ import annotations

import urwid

from lairchat.client import commands as c
from lairchat.client.ui.base import Controller
from lairchat.client.ui.login import Field
from lairchat.client.ui.overlays import FormOverlay, Overlay
from lairchat.client.ui.safetext import SafeText

__all__ = [
    "NewCodesOverlay",
    "RecoveryCodesOverlay",
    "TextOverlay",
    "TwoFactorDisableOverlay",
    "TwoFactorSetupOverlay",
]

SETUP_INTRO = (
    "Two-factor sign-in asks, at every login, for a code from an authenticator app on"
    " your phone as well as your password. Your password first; then add the secret"
    " shown to the app, and turn it on with /2fa enable and the app's code."
)
DISABLE_INTRO = (
    "Your password and a code from your authenticator app (or a recovery code) turn"
    " two-factor sign-in off. Your other sessions end; this one stays signed in."
)
CODES_INTRO = (
    "Your password and a code from your authenticator app (or a recovery code) give"
    " you ten new recovery codes; the ones you have stop working. No session ends."
)


class TwoFactorSetupOverlay(FormOverlay):
    """``/2fa setup``: the password (masked), then
    :class:`~lairchat.client.commands.SetUpTwoFactor`."""

    title = "Two-factor sign-in"
    width = 64
    height = 12

    def __init__(self, controller: Controller) -> None:
        super().__init__(
            controller,
            SETUP_INTRO,
            [Field("Password", "*")],
            "Enter: continue · Esc: cancel",
        )

    def _submit(self) -> None:
        password = self.fields[0].edit.edit_text
        if not password:
            self._say("Please fill in: password")
        else:
            self._send("Asking for a secret…", c.SetUpTwoFactor(password))


class TwoFactorDisableOverlay(FormOverlay):
    """``/2fa disable``: the password (masked) and a code, then
    :class:`~lairchat.client.commands.DisableTwoFactor`."""

    title = "Turn off two-factor sign-in"
    width = 64
    height = 13

    intro = DISABLE_INTRO
    working = "Turning it off…"
    footer = "Tab/Enter: next field · Enter on Code: turn off · Esc: cancel"

    def __init__(self, controller: Controller) -> None:
        super().__init__(
            controller, self.intro, [Field("Password", "*"), Field("Code")], self.footer
        )

    def _submit(self) -> None:
        password, code = (f.edit.edit_text for f in self.fields)
        if not password or not code.strip():
            self._focus = 0 if not password else 1
            self._say("Please fill in: " + ("password" if not password else "code"))
        else:
            self._send(self.working, self._action(password, code.strip()))

    def _action(self, password: str, code: str) -> c.Action:
        return c.DisableTwoFactor(password, code)


class RecoveryCodesOverlay(TwoFactorDisableOverlay):
    """``/2fa codes``: the password and a code, as to turn it off, then
    :class:`~lairchat.client.commands.NewRecoveryCodes`."""

    title = "New recovery codes"
    intro = CODES_INTRO
    working = "Asking for new recovery codes…"
    footer = "Tab/Enter: next field · Enter on Code: ask · Esc: cancel"

    def _action(self, password: str, code: str) -> c.Action:
        return c.NewRecoveryCodes(password, code)


#: Said in the box of new recovery codes when a key that closes other boxes is pressed.
KEEP_CODES = "Not closed: store them first, then press s"


class TextOverlay(Overlay):
    """Lines to read and copy, shown once (the secret): each its own line, nothing to
    select but the text; ``Esc``/``Enter``/``q`` closes. With ``copy`` (an action),
    ``c`` sends it: the URI to the clipboard, which a terminal selection would take
    with the box's borders where it wraps."""

    width = 76
    height = 20  # rows: the recovery codes and a few wrapped lines
    #: The keys that close it, and the footer's words for them.
    close_keys: tuple[str, ...] = ("esc", "enter", "q")
    closing = "Esc/Enter/q: close"

    def __init__(
        self,
        title: str,
        lines: list[str],
        controller: Controller | None = None,
        copy: c.Action | None = None,
    ) -> None:
        self.title = title
        self.controller = controller
        self.copy = copy
        self.pile = urwid.Pile([SafeText(line) for line in lines])
        keys = f"c: copy the URI · {self.closing}" if copy else self.closing
        super().__init__(urwid.Filler(self.pile, valign="top"), keys)

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        if key in self.close_keys:
            self.done = True
        elif key == "c" and self.copy is not None and self.controller is not None:
            self.controller.dispatch(self.copy)
        return None


class NewCodesOverlay(TextOverlay):
    """Recovery codes just made (``/2fa enable``, ``/2fa codes``), shown this once.
    ``Esc``, ``Enter`` and ``q``, which close the other boxes, do not close this one
    (a key pressed by mistake would lose the codes for good): it says so in the
    blank line above them (no row more: the box is as tall as it can be on a
    24-row terminal). ``s`` says they are stored and closes it, as the browser keeps
    them until *I have stored them*."""

    close_keys = ("s", "S")
    closing = "s: I have stored them"

    def __init__(self, title: str, lines: list[str]) -> None:
        super().__init__(title, lines)
        self.message = self.pile.contents[lines.index("")][0]

    def keypress(self, size: tuple[int, ...], key: str) -> str | None:
        if key in TextOverlay.close_keys:
            self.message.set_text(("notice_error", KEEP_CODES))
            return None
        return super().keypress(size, key)
