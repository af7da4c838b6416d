"""The forms that stand between a command and what it cannot undo: deleting a room
(``/delete-room``, ``/admin delete-room``) asks for its name typed again; deleting
someone else's account (``/delete-user``) asks, as deleting one's own does, for the
admin's own password (masked) and the account's name typed again."""

from __future__ import annotations

from lairchat.client import commands as c
from lairchat.client.ui.base import Controller
from lairchat.client.ui.login import Field
from lairchat.client.ui.overlays import DeleteAccountOverlay, FormOverlay

__all__ = ["DeleteRoomOverlay", "DeleteUserOverlay", "delete_room_intro", "delete_user_intro"]


def delete_room_intro(name: str) -> str:
    """What the room's deletion does (HTTP.md, ``DELETE /rooms/{id}``)."""
    return (
        f"This deletes #{name} for good, for everyone in it; it cannot be undone. Its"
        " members are removed, its pending invitations cancelled, and its messages can"
        " no longer be read by anyone. Type the room's name to confirm."
    )


def delete_user_intro(username: str) -> str:
    """What deleting an account does (SECURITY.md, "Deleting an account"), and why
    the admin's own password is asked."""
    return (
        f"This deletes {username}'s account for good; it cannot be undone. Every"
        " message it wrote is erased, and the direct messages sent to it; its rooms"
        " pass to other members; every session of it ends. Your own password is asked"
        " (a stolen session alone cannot delete accounts), then the name typed again."
    )


class DeleteRoomOverlay(FormOverlay):
    """The room's name typed again (a leading ``#`` allowed), then
    :class:`~lairchat.client.commands.DeleteRoom`; the name is checked here, not
    sent."""

    title = "Delete room"
    width = 64
    height = 13

    def __init__(self, controller: Controller, room_id: str, name: str, admin: bool = False):
        self.room_id, self.name, self.admin = room_id, name, admin
        super().__init__(
            controller,
            delete_room_intro(name),
            [Field("Room name")],
            "Enter: delete · Esc: cancel",
        )

    def _submit(self) -> None:
        typed = self.fields[0].edit.edit_text.strip()
        if typed.removeprefix("#") != self.name:
            self.fields[0].edit.set_edit_text("")
            self._say(f"Type the room's name, {self.name}, to confirm")
        else:
            self._send("Deleting the room…", c.DeleteRoom(self.room_id, self.name, self.admin))


class DeleteUserOverlay(DeleteAccountOverlay):
    """``/delete-user``: the form of ``/delete-account`` for another account, sending
    :class:`~lairchat.client.commands.DeleteUser` with the admin's password."""

    title = "Delete user"
    height = 15

    def __init__(self, controller: Controller, user_id: str, username: str) -> None:
        self.user_id = user_id
        super().__init__(controller, username, delete_user_intro(username))

    def _confirm_hint(self) -> str:
        return f"Type the account's username, {self.username}, to confirm"

    def _deletion(self, password: str, code: str | None) -> c.Action:
        """The admin's password only: the server asks no code of it."""
        return c.DeleteUser(self.user_id, self.username, password)
