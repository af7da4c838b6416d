"""Two-factor sign-in in the terminal client (docs/CLIENT.md, "Two-factor sign-in"):
the login screen asks for the code when the server answers ``totp_required``;
``/2fa setup`` shows the secret and URI as text, ``/2fa enable CODE`` the recovery
codes, ``/2fa disable`` asks the password and a code, ``/2fa codes`` shows new recovery
codes; with it on, the account's deletion and export ask for a code too; no password
in the logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lairchat.client import commands as c
from lairchat.client.net.errors import ServerError
from lairchat.client.testing import OTPAUTH_URI
from lairchat.client.ui.overlays import DeleteAccountOverlay, ExportOverlay
from lairchat.client.ui.twofactor import (
    NewCodesOverlay,
    RecoveryCodesOverlay,
    TextOverlay,
    TwoFactorDisableOverlay,
    TwoFactorSetupOverlay,
)
from tests.unit.test_client_app import SIZE, World, open_by_command, type_lines

ASKED = ServerError("totp_required", "Two-factor code required", status=401)
WRONG = ServerError("invalid_totp", "Invalid two-factor code", status=401)


@pytest.fixture
def world() -> World:
    return World()


def test_the_commands_parse() -> None:
    assert c.parse_input("/2fa setup") == c.ShowTwoFactorSetup()
    assert c.parse_input("/2fa enable 123 456") == c.EnableTwoFactor("123 456")
    assert c.parse_input("/2fa DISABLE") == c.ShowTwoFactorDisable()
    for line in ("/2fa", "/2fa enable", "/2fa off"):
        assert isinstance(c.parse_input(line), c.CommandError), line
    assert "hunter2" not in repr(c.DisableTwoFactor("hunter2", "123456"))
    assert "hunter2" not in repr(c.Login("h", "me", "hunter2", "654321"))


def test_the_login_asks_for_the_code_and_sends_it_with_the_password(world: World) -> None:
    login = world.app.ui.login
    world.api.fail["login"] = ASKED
    type_lines(world, "me", "secret-pw")
    assert world.api.called("login") == [("me", "secret-pw")]
    assert world.state.screen == "login"
    assert "Two-factor sign-in: type the code" in world.screen()
    assert "▸ Code" in world.screen()
    assert login.password.edit.edit_text == "secret-pw"  # kept for the second try

    world.api.fail["login"] = WRONG
    type_lines(world, "000000")
    assert world.api.called("login")[-1] == ("me", "secret-pw", "000000")
    assert "Login failed: Invalid two-factor code" in world.screen()
    assert (login.password.edit.edit_text, login.code.edit.edit_text) == ("secret-pw", "")
    assert "▸ Code" in world.screen()

    del world.api.fail["login"]
    type_lines(world, "492 039")
    assert world.api.called("login")[-1] == ("me", "secret-pw", "492 039")
    world.opener.accept()
    assert world.state.screen == "chat"
    # Signed in: no password, no code, and the field gone for the next login.
    assert (login.password.edit.edit_text, login.code.edit.edit_text) == ("", "")
    assert login.asking_code is False


def test_an_empty_code_sends_nothing(world: World) -> None:
    world.api.fail["login"] = ASKED
    type_lines(world, "me", "pw")
    type_lines(world, "")
    assert len(world.api.called("login")) == 1
    assert "Please fill in: code" in world.screen()


def test_setup_asks_the_password_then_shows_the_secret_and_uri(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world.login()
    form = open_by_command(world, "/2fa setup")
    assert isinstance(form, TwoFactorSetupOverlay)
    type_lines(world, "hunter22")
    assert world.api.called("setup_two_factor") == [("hunter22",)]
    shown = world.app.ui.overlay
    assert isinstance(shown, TextOverlay)
    screen = "".join(world.screen().replace("│", "").split())
    assert "Secret:JBSWY3DPEHPK3PXP" in screen
    assert OTPAUTH_URI in screen and "c: copy the URI" in world.screen()
    assert "/2faenableCODE" in screen
    assert "hunter22" not in caplog.text
    # The URI wraps in the box: c copies it whole (OSC 52), the secret in it unlogged.
    world.app.ui.keypress(SIZE, "c")
    assert world.copied == [OTPAUTH_URI]
    assert "JBSWY3DPEHPK3PXP" not in caplog.text
    assert world.app.ui.overlay is shown
    world.app.ui.keypress(SIZE, "esc")
    assert world.app.ui.overlay is None


def test_a_refused_setup_says_why_in_the_form(world: World) -> None:
    world.login()
    open_by_command(world, "/2fa setup")
    world.api.fail["setup_two_factor"] = ServerError(
        "invalid_credentials", "Invalid credentials", status=401
    )
    type_lines(world, "wrong")
    assert isinstance(world.app.ui.overlay, TwoFactorSetupOverlay)
    assert "Two-factor sign-in not set up: Invalid credentials" in world.screen()


def test_enable_shows_the_recovery_codes_once(world: World) -> None:
    world.login()
    open_by_command(world, "/2fa enable 123456")
    assert world.api.called("enable_two_factor") == [("123456",)]
    assert isinstance(world.app.ui.overlay, TextOverlay)
    screen = world.screen()
    assert "code-0000-abcd" in screen and "code-0009-abcd" in screen
    assert "not shown again" in screen


@pytest.mark.parametrize("how", ["/2fa enable", "/2fa codes"])
def test_the_recovery_codes_stay_until_they_are_said_to_be_stored(world: World, how: str) -> None:
    """Esc, Enter and q, which close the other boxes, leave this one and its codes
    (they are not shown again); a pasted s does not say they are stored; s does."""
    world.login()
    if how == "/2fa enable":
        world.app.dispatch(c.EnableTwoFactor("123456"))
        first, last = "code-0000-abcd", "code-0009-abcd"
    else:
        open_by_command(world, how)
        type_lines(world, "hunter22", "123456")
        first, last = "new-0000-abcd", "new-0009-abcd"
    shown = world.app.ui.overlay
    assert isinstance(shown, NewCodesOverlay)
    assert "s: I have stored them" in world.screen()
    assert "Not closed" not in world.screen()
    for key in ("esc", "enter", "q", "begin paste", "s", "end paste"):
        world.app.ui.keypress(SIZE, key)
        assert world.app.ui.overlay is shown, key
    screen = world.screen()
    assert first in screen and last in screen and "s: I have stored them" in screen
    assert "Not closed: store them first, then press s" in screen
    world.app.ui.keypress(SIZE, "s")
    assert world.app.ui.overlay is None
    assert first not in world.screen()


def test_a_wrong_code_to_enable_is_said(world: World) -> None:
    world.login()
    world.api.fail["enable_two_factor"] = WRONG
    world.app.dispatch(c.EnableTwoFactor("000000"))
    assert world.notice() == "Two-factor sign-in not turned on: Invalid two-factor code"
    assert world.app.ui.overlay is None


def test_disable_asks_the_password_and_a_code(world: World) -> None:
    world.login()
    form = open_by_command(world, "/2fa disable")
    assert isinstance(form, TwoFactorDisableOverlay)
    type_lines(world, "hunter22", "")
    assert world.api.called("disable_two_factor") == []
    assert "Please fill in: code" in world.screen()
    type_lines(world, "654321")
    assert world.api.called("disable_two_factor") == [("hunter22", "654321")]
    assert world.app.ui.overlay is None
    assert world.notice() == "Two-factor sign-in is off; your other sessions have ended"


def test_a_server_without_it_says_so(world: World) -> None:
    world.login()
    world.api.fail["enable_two_factor"] = ServerError("http_404", "HTTP 404", status=404)
    world.app.dispatch(c.EnableTwoFactor("000000"))
    assert world.notice() == (
        "Two-factor sign-in not turned on: This server cannot do two-factor sign-in"
    )


def test_new_recovery_codes_ask_the_password_and_a_code_and_show_them() -> None:
    world = World()
    world.login()
    assert c.parse_input("/2fa codes") == c.ShowNewRecoveryCodes()
    assert c.parse_input("/2fa recovery-codes") == c.ShowNewRecoveryCodes()
    assert "hunter2" not in repr(c.NewRecoveryCodes("hunter2", "123456"))
    form = open_by_command(world, "/2fa codes")
    assert isinstance(form, RecoveryCodesOverlay)
    assert "ten new recovery codes" in " ".join(world.screen().replace("│", " ").split())
    world.api.fail["new_recovery_codes"] = WRONG
    type_lines(world, "hunter22", "000000")
    assert world.api.called("new_recovery_codes") == [("hunter22", "000000")]
    assert isinstance(world.app.ui.overlay, RecoveryCodesOverlay)
    assert "No new recovery codes: Invalid two-factor code" in world.screen()
    del world.api.fail["new_recovery_codes"]
    type_lines(world, "hunter22", "k7dq-3m2a-pz5x")
    assert world.api.called("new_recovery_codes")[-1] == ("hunter22", "k7dq-3m2a-pz5x")
    assert isinstance(world.app.ui.overlay, TextOverlay)
    screen = world.screen()
    assert "new-0000-abcd" in screen and "new-0009-abcd" in screen
    assert "the ones you had no longer work" in screen and "not shown again" in screen


def test_the_state_of_it_is_read_from_users_me_and_follows_the_commands() -> None:
    world = World()
    world.login()
    world.api.two_factor = {"enabled": True, "recovery_codes_left": 3}
    world.app.spawn(world.app._load_unread())
    assert world.state.two_factor_on is True
    type_lines_by_form(world, "/2fa disable", "pw", "123456")
    assert world.state.two_factor_on is False
    world.app.dispatch(c.EnableTwoFactor("123456"))
    assert world.state.two_factor_on is True
    world.app.ui.keypress(SIZE, "s")
    world.api.two_factor = None  # Lair Chat's answer: none
    world.app.spawn(world.app._load_unread())
    assert world.state.two_factor_on is False


def type_lines_by_form(world: World, command: str, *lines: str) -> None:
    open_by_command(world, command)
    type_lines(world, *lines)


def test_with_it_on_the_deletion_asks_for_a_code() -> None:
    world = World()
    world.login()
    world.state.two_factor_on = True
    form = open_by_command(world, "/delete-account")
    assert isinstance(form, DeleteAccountOverlay)
    assert [f.name for f in form.fields] == ["Password", "Username", "Code"]
    type_lines(world, "hunter22", "me", "")
    assert world.api.called("delete_account") == []
    assert "Please fill in: code" in world.screen() and "▸ Code" in world.screen()
    type_lines(world, "492 039")
    assert world.api.called("delete_account") == [("hunter22", "492 039")]
    assert world.state.screen == "login"


def test_a_code_asked_for_by_the_server_adds_the_field() -> None:
    """Turned on elsewhere since this client looked: the server's totp_required puts
    a Code field in the form, which is sent with the password again."""
    world = World()
    world.login()
    form = open_by_command(world, "/delete-account")
    assert [f.name for f in form.fields] == ["Password", "Username"]
    world.api.fail["delete_account"] = ASKED
    type_lines(world, "hunter22", "me")
    assert world.api.called("delete_account") == [("hunter22",)]
    assert world.app.ui.overlay is form and world.state.two_factor_on is True
    assert [f.name for f in form.fields] == ["Password", "Username", "Code"]
    assert "two-factor sign-in is on: type your password again" in " ".join(
        world.screen().replace("│", " ").split()
    )
    assert "▸ Password" in world.screen() and "Code" in world.screen()
    del world.api.fail["delete_account"]
    type_lines(world, "hunter22", "me", "k7dq-3m2a-pz5x")
    assert world.api.called("delete_account")[-1] == ("hunter22", "k7dq-3m2a-pz5x")


def test_with_it_on_the_export_asks_for_a_code(tmp_path: Path) -> None:
    world = World()
    world.login()
    target = tmp_path / "me.json"
    form = open_by_command(world, f"/export {target}")
    assert isinstance(form, ExportOverlay) and len(form.fields) == 1
    world.api.fail["export_data"] = ASKED
    type_lines(world, "hunter22")
    assert isinstance(world.app.ui.overlay, ExportOverlay)
    assert [f.name for f in form.fields] == ["Password", "Code"]
    assert not target.exists()
    del world.api.fail["export_data"]
    type_lines(world, "hunter22", "123456")
    assert world.api.called("export_data") == [("hunter22",), ("hunter22", "123456")]
    assert target.exists()
    # Known on, the next export's form has the field from the start.
    world.app.dispatch(c.ShowExportForm(str(target), overwrite=True))
    assert [f.name for f in world.app.ui.overlay.fields] == ["Password", "Code"]
