"""Deleting one's account from the terminal client (docs/CLIENT.md, "Deleting your
account"): ``/delete-account`` and the palette open a form saying what goes, the
password masked and the username typed again; ``DELETE /users/me`` then signs out
to the login screen with no token kept; refusals in the server's words; a server
without the route; another device told why its session ended."""

from __future__ import annotations

import logging

import pytest

from lairchat.client.net.errors import ServerError
from lairchat.client.ui.overlays import DELETE_ACCOUNT_INTRO, DeleteAccountOverlay
from tests.unit.test_client_app import SIZE, World, open_by_command, type_lines


@pytest.fixture
def world() -> World:
    return World()


def open_form(world: World) -> DeleteAccountOverlay:
    world.login()
    form = open_by_command(world, "/delete-account")
    assert isinstance(form, DeleteAccountOverlay)
    return form


def test_the_form_says_what_goes_and_masks_the_password(world: World) -> None:
    """Nothing is sent before the password and the name typed again; the box says
    plainly what the deletion does (its words all on screen: none cut off)."""
    form = open_form(world)
    screen = " ".join(world.screen().replace("│", " ").split())
    assert " ".join(DELETE_ACCOUNT_INTRO.split()) in screen
    for key in "hunter22":
        world.app.ui.keypress(SIZE, key)
    assert "hunter22" not in world.screen() and "▸ Password  ********" in world.screen()
    assert "cannot be undone" in screen and "Esc: cancel" in screen
    assert world.api.called("delete_account") == []
    world.app.ui.keypress(SIZE, "esc")
    assert world.app.ui.overlay is None
    assert [f.edit.edit_text for f in form.fields] == ["", ""]
    assert world.api.called("delete_account") == []


def test_the_palette_opens_the_form(world: World) -> None:
    world.login()
    for key in ["ctrl p", *"delete account", "enter"]:
        world.app.ui.keypress(SIZE, key)
    assert isinstance(world.app.ui.overlay, DeleteAccountOverlay)


def test_the_account_is_deleted_and_the_client_signs_out(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    form = open_form(world)
    type_lines(world, "hunter22", "me")
    assert world.api.called("delete_account") == [("hunter22",)]
    assert world.state.screen == "login" and world.app.ui.overlay is None
    assert world.notice() == "Your account was deleted"
    assert "Your account was deleted" in world.screen()
    assert world.app.link is None and world.api.token is None
    assert [f.edit.edit_text for f in form.fields] == ["", ""]
    assert "hunter22" not in caplog.text


def test_a_username_that_differs_sends_nothing(world: World) -> None:
    form = open_form(world)
    type_lines(world, "hunter22", "bob")
    assert world.api.called("delete_account") == []
    assert "Type your username, me, to confirm" in world.screen()
    assert [f.edit.edit_text for f in form.fields] == ["hunter22", ""]
    assert "▸ Username" in world.screen()
    type_lines(world, "me")
    assert world.api.called("delete_account") == [("hunter22",)]


def test_an_empty_password_sends_nothing(world: World) -> None:
    open_form(world)
    type_lines(world, "", "me")
    assert world.api.called("delete_account") == []
    assert "Please fill in: password" in world.screen()
    assert "▸ Password" in world.screen()


@pytest.mark.parametrize(
    ("refusal", "shown"),
    [
        (
            ServerError("invalid_credentials", "Invalid credentials", status=401),
            "Invalid credentials",
        ),
        (
            ServerError(
                "account_locked",
                "Account locked",
                status=403,
            ),
            "Account locked",
        ),
        (
            ServerError(
                "permission_denied",
                "Permission denied: the last admin cannot be deleted",
                status=403,
            ),
            "Permission denied: the last admin cannot be deleted",
        ),
        (
            ServerError("rate_limited", "Too many requests", status=429, retry_after=30),
            "Rate limited by the server: try again in 30 s",
        ),
        # The original Lair Chat has no such route: 404 with an empty body.
        (ServerError("http_404", "HTTP 404", status=404), "This server cannot delete accounts"),
        (ServerError("http_405", "HTTP 405", status=405), "This server cannot delete accounts"),
    ],
)
def test_a_refusal_is_shown_in_the_form_and_nothing_ends(
    world: World, refusal: ServerError, shown: str
) -> None:
    world.api.fail["delete_account"] = refusal
    form = open_form(world)
    type_lines(world, "wrong-one", "me")
    assert world.app.ui.overlay is form and not form.busy
    assert f"Account not deleted: {shown}" in " ".join(world.screen().split())
    assert world.notice() == f"Account not deleted: {shown}"
    assert [f.edit.edit_text for f in form.fields] == ["", ""]
    assert world.state.screen == "chat" and world.app.link is not None and world.app.link.online
    assert world.api.token == "token-1"


def test_this_link_closed_by_the_deletion_before_the_answer(world: World) -> None:
    """The server closes every connection of the account, this client's too, and its
    notice may come before the REST answer: the answer still says it was deleted."""
    from twisted.internet import defer

    gate: defer.Deferred[None] = defer.Deferred()
    world.api.gates["delete_account"] = gate
    open_form(world)
    type_lines(world, "hunter22", "me")
    world.opener.handlers.frame_received(ACCOUNT_DELETED)
    assert world.state.screen == "login"
    gate.callback(None)
    assert world.notice() == "Your account was deleted"
    assert world.app.link is None and world.api.token is None


#: The error frame the server sends the account's other connections when it is
#: deleted (docs/protocols/TCP.md §6), before it closes them.
ACCOUNT_DELETED = {
    "type": "error",
    "code": "session_not_found",
    "message": "Session ended: the account was deleted",
}


def test_another_device_is_told_the_account_was_deleted(world: World) -> None:
    world.login()
    world.opener.handlers.frame_received(ACCOUNT_DELETED)
    assert world.state.screen == "login" and world.app.link is None
    assert world.notice() == "Session ended: the account was deleted. Please log in again"
    assert "Session ended: the account was deleted. Please log in again" in world.screen()
