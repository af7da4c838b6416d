"""What the controller does for two-factor sign-in (``/2fa setup``, ``/2fa enable
CODE``, ``/2fa disable``, ``/2fa codes``), over the REST API (docs/CLIENT.md, "Two-factor sign-in";
docs/protocols/HTTP.md, "Two-factor sign-in (TOTP)"). Asking for the code at login
is the login screen's (``ui/login.py``) and ``App._login``'s.

A mixin of :class:`~lairchat.client.app.App`. Turning it on or off ends the
account's other sessions on the server and keeps this one: the token and the
real-time link stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from lairchat.client import commands as c
from lairchat.client.net.errors import ServerError
from lairchat.client.roomadmin import lairchat_only
from lairchat.client.ui.twofactor import (
    NewCodesOverlay,
    RecoveryCodesOverlay,
    TextOverlay,
    TwoFactorDisableOverlay,
    TwoFactorSetupOverlay,
)

if TYPE_CHECKING:
    from lairchat.client.state import ClientState
    from lairchat.client.ui.root import RootView

__all__ = ["TwoFactorMixin", "recovery_lines", "secret_lines"]

#: A server without two-factor sign-in (the original Lair Chat) answers a bare 404.
UNSUPPORTED = lairchat_only("do two-factor sign-in")


def secret_lines(answer: dict[str, Any]) -> list[str]:
    """What ``/2fa setup`` shows: the secret to type in, the URI to paste, and the
    next step."""
    return [
        "Add this account to your authenticator app: type in the secret, or paste",
        "the URI (apps that read QR codes take it typed or pasted too).",
        "",
        f"Secret: {answer.get('secret', '')}",
        "",
        "URI (c copies it):",
        str(answer.get("otpauth_uri", "")),
        "",
        "Then turn it on with the code the app shows: /2fa enable CODE",
        "Until then, logins are as before. This secret is not shown again.",
    ]


#: What ``/2fa enable`` says above the recovery codes.
TURNED_ON = "Two-factor sign-in is on; your other sessions have ended. Keep these"
#: ... and ``/2fa codes``.
RENEWED = "New recovery codes: the ones you had no longer work. Keep these"


def recovery_lines(codes: list[str], first: str = TURNED_ON) -> list[str]:
    """What ``/2fa enable`` and ``/2fa codes`` show, once: the recovery codes (the
    box stays until ``s`` says they are stored: :class:`NewCodesOverlay`)."""
    return [
        first,
        "recovery codes somewhere safe: each signs in once without the app.",
        "They are not shown again.",
        "",
        *(f"  {code}" for code in codes),
    ]


class TwoFactorMixin:
    """The attributes below come from ``App``."""

    state: ClientState
    api: Any
    ui: RootView
    spawn: Callable[..., Any]
    copy: Callable[[str], None]
    _form_request: Callable[..., Coroutine[Any, Any, bool]]

    def two_factor(self, action: c.TwoFactorAction) -> None:
        match action:
            case c.ShowTwoFactorSetup():
                self.ui.open_overlay(TwoFactorSetupOverlay(self))
            case c.SetUpTwoFactor(password=password):
                self.spawn(self._set_up(password))
            case c.EnableTwoFactor(code=code):
                self.spawn(self._enable(code))
            case c.CopyTwoFactorUri(uri=uri):
                self.copy(uri)
            case c.ShowTwoFactorDisable():
                self.ui.open_overlay(TwoFactorDisableOverlay(self))
            case c.DisableTwoFactor(password=password, code=code):
                self.spawn(self._disable(password, code))
            case c.ShowNewRecoveryCodes():
                self.ui.open_overlay(RecoveryCodesOverlay(self))
            case c.NewRecoveryCodes(password=password, code=code):
                self.spawn(self._new_codes(password, code))

    async def _set_up(self, password: str) -> None:
        answer: dict[str, Any] = {}

        async def request() -> None:
            answer.update(await self.api.setup_two_factor(password))

        done = await self._form_request(
            TwoFactorSetupOverlay, request(), "Two-factor sign-in not set up", UNSUPPORTED
        )
        if done:
            uri = answer.get("otpauth_uri")
            copy = c.CopyTwoFactorUri(uri) if isinstance(uri, str) and uri else None
            lines = secret_lines(answer)
            self.ui.open_overlay(TextOverlay("Two-factor sign-in: your secret", lines, self, copy))

    async def _enable(self, code: str) -> None:
        """No form: the code was typed on the command line (it is good once)."""
        try:
            codes = await self.api.enable_two_factor(code)
        except ServerError as err:
            if err.session_lost:
                raise
            self.state.notify(f"Two-factor sign-in not turned on: {UNSUPPORTED(err)}", "error")
            return
        self.state.two_factor_on = True
        self.ui.open_overlay(NewCodesOverlay("Two-factor sign-in is on", recovery_lines(codes)))

    async def _disable(self, password: str, code: str) -> None:
        request = self.api.disable_two_factor(password, code)
        if await self._form_request(
            TwoFactorDisableOverlay, request, "Two-factor sign-in not turned off", UNSUPPORTED
        ):
            self.state.two_factor_on = False
            self.state.notify(
                "Two-factor sign-in is off; your other sessions have ended", "success"
            )

    async def _new_codes(self, password: str, code: str) -> None:
        codes: list[str] = []

        async def request() -> None:
            codes.extend(await self.api.new_recovery_codes(password, code))

        if await self._form_request(
            RecoveryCodesOverlay, request(), "No new recovery codes", UNSUPPORTED
        ):
            lines = recovery_lines(codes, RENEWED)
            self.ui.open_overlay(NewCodesOverlay("New recovery codes", lines))
