"""Downloading one's data from the terminal client (docs/CLIENT.md, "Downloading your
data"): ``/export PATH`` asks the password in a masked form, streams the export to
PATH (mode 0600, never over an existing file unless ``/export!``), says how many
bytes and messages, and takes a cut-off export for an error that leaves no file."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import defer
from twisted.internet.error import ConnectionLost
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed

from lairchat.client import commands as c
from lairchat.client.export import ExportFile
from lairchat.client.net.errors import ServerError
from lairchat.client.net.http import EXPORT_IDLE
from lairchat.client.ui.overlays import ExportOverlay
from tests.unit.test_client_app import SIZE, World, open_by_command, type_lines
from tests.unit.test_client_net import Response, api, run


@pytest.fixture
def world() -> World:
    return World()


def whole(world: World) -> bytes:
    return b"".join(world.api.export_pieces)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def open_form(world: World, command: str) -> ExportOverlay:
    world.login()
    form = open_by_command(world, command)
    assert isinstance(form, ExportOverlay), world.notice()
    return form


def test_the_command_takes_the_whole_rest_as_the_path() -> None:
    assert c.parse_input("/export ~/my data.json") == c.ShowExportForm("~/my data.json")
    assert c.parse_input("/export! out.json") == c.ShowExportForm("out.json", overwrite=True)
    for line in ("/export", "/export   ", "/export!"):
        refusal = c.parse_input(line)
        assert isinstance(refusal, c.CommandError)
        assert refusal.message.startswith("Usage: /export PATH")
    assert "/export" in {name for name, _, _ in c.COMMANDS}


def test_the_form_says_what_the_file_holds_and_masks_the_password(
    world: World, tmp_path: Path
) -> None:
    form = open_form(world, f"/export {tmp_path / 'me.json'}")
    screen = " ".join(world.screen().replace("│", " ").split())
    assert "Whoever has the file can read all of it." in screen
    for key in "hunter22":
        world.app.ui.keypress(SIZE, key)
    assert "hunter22" not in world.screen() and "▸ Password  ********" in world.screen()
    world.app.ui.keypress(SIZE, "esc")
    assert world.app.ui.overlay is None and form.fields[0].edit.edit_text == ""
    assert world.api.called("export_data") == [] and leftovers(tmp_path) == []


def test_the_export_is_saved_private_with_its_counts(
    world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    target = tmp_path / "me.json"
    open_form(world, f"/export {target}")
    type_lines(world, "hunter22")

    assert world.api.called("export_data") == [("hunter22",)]
    assert target.read_bytes() == whole(world)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert leftovers(tmp_path) == ["me.json"]  # no partial file left beside it
    size = len(whole(world))
    # Two messages: the "author" split across two pieces counts once, the one in a
    # message's text (escaped) not at all.
    assert world.notice() == f"Your data is saved in {target}: {size:,} bytes, 2 messages"
    assert world.app.ui.overlay is None
    assert "hunter22" not in caplog.text


def test_an_existing_file_is_kept_unless_export_bang(world: World, tmp_path: Path) -> None:
    target = tmp_path / "me.json"
    target.write_bytes(b"precious")
    world.login()
    assert open_by_command(world, f"/export {target}") is None  # no password asked
    assert world.notice() == (
        f"Export not started: {target} exists: /export! PATH replaces it, or name another"
    )
    assert target.read_bytes() == b"precious"

    type_lines(world, f"/export! {target}")  # still in the message field
    assert isinstance(world.app.ui.overlay, ExportOverlay)
    type_lines(world, "hunter22")
    assert target.read_bytes() == whole(world)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert leftovers(tmp_path) == ["me.json"]


def test_a_file_made_while_the_export_runs_is_not_replaced(world: World, tmp_path: Path) -> None:
    target = tmp_path / "me.json"
    gate: defer.Deferred[None] = defer.Deferred()
    world.api.gates["export_data"] = gate
    open_form(world, f"/export {target}")
    type_lines(world, "hunter22")
    target.write_bytes(b"made meanwhile")
    gate.callback(None)
    assert target.read_bytes() == b"made meanwhile"
    assert leftovers(tmp_path) == ["me.json"]
    assert world.notice().startswith(f"Export failed: {target} exists")


def test_a_cut_off_export_is_an_error_and_leaves_no_file(world: World, tmp_path: Path) -> None:
    world.api.export_pieces = world.api.export_pieces[:-1]
    form = open_form(world, f"/export {tmp_path / 'me.json'}")
    type_lines(world, "hunter22")
    size = len(whole(world))
    shown = (
        f"Export failed: The export was cut off after {size} bytes (the server stopped or "
        "the connection broke): nothing was saved, try again"
    )
    assert world.notice() == shown
    assert world.app.ui.overlay is form and not form.busy
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("refusal", "shown"),
    [
        (
            ServerError("invalid_credentials", "Invalid credentials", status=401),
            "Invalid credentials",
        ),
        (ServerError("account_locked", "Account locked", status=403), "Account locked"),
        (
            ServerError("rate_limited", "An export is being sent", status=429, retry_after=1),
            "Rate limited by the server: try again in 1 s",
        ),
        # A server without the route (Lair Chat, an older lairchat).
        (ServerError("http_404", "HTTP 404", status=404), "This server cannot export your data"),
        (ServerError("http_405", "HTTP 405", status=405), "This server cannot export your data"),
    ],
)
def test_a_refusal_is_shown_in_the_form_and_no_file_is_made(
    world: World, tmp_path: Path, refusal: ServerError, shown: str
) -> None:
    world.api.fail["export_data"] = refusal
    form = open_form(world, f"/export {tmp_path / 'me.json'}")
    type_lines(world, "wrong-one")
    assert world.notice() == f"Export failed: {shown}"
    assert world.app.ui.overlay is form and form.fields[0].edit.edit_text == ""
    assert leftovers(tmp_path) == []
    assert world.state.screen == "chat"


def test_an_empty_password_sends_nothing(world: World, tmp_path: Path) -> None:
    open_form(world, f"/export {tmp_path / 'me.json'}")
    type_lines(world, "")
    assert world.api.called("export_data") == []
    assert "Please fill in: password" in world.screen()


def test_a_folder_is_no_file_to_export_to(world: World, tmp_path: Path) -> None:
    world.login()
    assert open_by_command(world, f"/export {tmp_path}") is None
    assert world.notice() == f"Export not started: {tmp_path} is a folder: name a file"


def test_export_file_counts_only_message_authors_across_pieces(tmp_path: Path) -> None:
    target = ExportFile(str(tmp_path / "x.json"))
    for piece in (
        b'{"messages":[{"a',
        b'uthor":"u"},{"author',
        b'":"v","c":"\\"author\\":"}]',
        b',"complete":true}',
    ):
        target.write(piece)
    assert (target.messages, target.complete) == (2, True)
    target.finish()
    assert (tmp_path / "x.json").exists()


# -- the HTTP side ------------------------------------------------------------------------


class Broken(Response):
    """An answer whose connection breaks after the body's first bytes."""

    def deliverBody(self, protocol: Any) -> None:  # noqa: N802
        protocol.dataReceived(self.body[:10])
        protocol.connectionLost(Failure(ResponseFailed([Failure(ConnectionLost())])))


def test_the_body_is_handed_over_as_it_arrives() -> None:
    body = b'{"messages":[],"complete":true}' * 5_000  # several 64 KiB pieces
    http, client = api(Response(200, body))
    http.token = "T"
    pieces: list[bytes] = []
    assert run(http.export_data("pw", pieces.append)) is None
    assert len(pieces) > 1 and b"".join(pieces) == body
    method, url, kwargs = client.requests[0]
    assert (method, url) == ("POST", "http://chat.test:8082/api/v1/users/me/export")
    assert kwargs["json"] == {"password": "pw"}
    assert kwargs["headers"]["Authorization"] == ["Bearer T"]


def test_a_broken_connection_is_a_cut_off_export() -> None:
    http, _ = api(Broken(200, b'{"format":"lairchat-export"}'))
    pieces: list[bytes] = []
    failure = run(http.export_data("pw", pieces.append))
    assert isinstance(failure.value, ServerError) and failure.value.code == "cut_off"
    assert pieces == [b'{"format":']


def test_a_body_that_stops_coming_is_cut_off_after_a_while() -> None:
    http, _ = api(Response(200, b'{"format":', stall=True))
    clock = http._reactor
    d = defer.ensureDeferred(http.export_data("pw", lambda data: None))
    clock.advance(EXPORT_IDLE - 1)
    assert not d.called
    clock.advance(1)
    failure = run(d)
    assert failure.value.code == "cut_off" and "no data for 60 s" in failure.value.message


def test_a_refusal_is_read_as_any_other() -> None:
    body = b'{"error":{"code":"invalid_credentials","message":"Invalid credentials"}}'
    http, _ = api(Response(401, body))
    failure = run(http.export_data("bad", lambda data: None))
    assert (failure.value.code, failure.value.status) == ("invalid_credentials", 401)


def test_a_file_that_cannot_be_written_is_said_so(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"")
    target = ExportFile(str(tmp_path / "plain" / "me.json"))  # under a file: no folder
    with pytest.raises(ServerError) as caught:
        target.write(b"{")
    assert caught.value.code == "file_error"
    assert caught.value.message.startswith(f"Cannot write {tmp_path / 'plain' / 'me.json'}: ")


def test_the_file_is_on_disk_before_it_takes_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renamed unsynced, a machine crash could leave PATH empty or partial."""
    steps: list[str] = []
    real_fsync, real_link = os.fsync, os.link
    monkeypatch.setattr(os, "fsync", lambda fd: steps.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "link", lambda a, b: steps.append("link") or real_link(a, b))
    target = ExportFile(str(tmp_path / "me.json"))
    target.write(b'{"messages":[],"complete":true}')
    target.finish()
    assert steps == ["fsync", "link"]
    assert (tmp_path / "me.json").read_bytes() == b'{"messages":[],"complete":true}'


def test_a_failed_sync_saves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    target = ExportFile(str(tmp_path / "me.json"))
    target.write(b'{"complete":true}')
    with pytest.raises(ServerError) as refused:
        target.finish()
    assert refused.value.code == "file_error" and "No space left" in str(refused.value)
    assert list(tmp_path.iterdir()) == []  # neither PATH nor the hidden part
