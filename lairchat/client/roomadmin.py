"""What the controller does for a room's owners and moderators (``/topic``,
``/rename``, ``/private``, ``/limit``, ``/delete-room``) and for the server's admins
(``/admin stats``, ``/admin audit``, ``/ban``, ``/unban``, ``/delete-user``,
``/admin delete-room``), over the REST API.

A mixin of :class:`~lairchat.client.app.App`, beside
:class:`~lairchat.client.actions.ActionsMixin`, whose lookups it uses (a room by
name, a user by name). Nothing here decides who may do what: the commands are
offered to everyone and the server's refusal is shown in its words, since a role
cached here may be stale (an admin demoted, a moderator promoted meanwhile).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred

from lairchat.client import commands as c
from lairchat.client.events import on_room_deleted, room_changed
from lairchat.client.net.errors import ServerError, unsupported
from lairchat.client.state import obj, objects
from lairchat.client.timefmt import format_clock, parse_time
from lairchat.client.ui.adminforms import DeleteRoomOverlay, DeleteUserOverlay
from lairchat.domain.hidden import one_line

if TYPE_CHECKING:
    from lairchat.client.state import ClientState
    from lairchat.client.ui.root import RootView

__all__ = ["RoomAdminMixin", "lairchat_only", "lairchat_route"]

#: ``GET /admin/stats``'s counts, in the order they are told, with their names.
STATS = (
    ("total_users", "users"),
    ("online_users", "online"),
    ("connections", "connections"),
    ("total_rooms", "rooms"),
    ("total_messages", "messages"),
)


def lairchat_only(what: str) -> Callable[[ServerError], str]:
    """The reason to show for a refusal of one of lairchat's own routes: a server
    without it (the original Lair Chat) answers a bare 404, which would otherwise
    read as a wrong ``--http-url``."""

    def reason(err: ServerError) -> str:
        return f"This server cannot {what}" if unsupported(err.status, err.code) else err.describe()

    return reason


async def lairchat_route(request: Coroutine[Any, Any, Any], what: str) -> Any:
    """``request``'s answer; a server without the route is said to be one."""
    try:
        return await request
    except ServerError as err:
        if not unsupported(err.status, err.code):
            raise
        raise ServerError(err.code, lairchat_only(what)(err), status=err.status) from None


#: What parse_time gives for a time it cannot read, here (rather than now).
_UNREAD = datetime.min.replace(tzinfo=UTC)


def when_text(value: object) -> str:
    """A wire time as local clock text, or ``?``: an audit entry shown as made now
    would be dated wrongly, where a message is worth showing at any time."""
    at = parse_time(value, _UNREAD)
    return "?" if at is _UNREAD else format_clock(at)


def audit_line(entry: dict[str, Any]) -> str:
    """One audit log entry: when (local time), who (``operator`` for the operator's
    command), the action, the user or room with its name then, the details (values
    as JSON, so a reason's newline is ``\\n``). One line whatever the server sends:
    a control character left (in a name) is shown as its mark (:func:`one_line`,
    as ``lairchat admin audit`` prints it). What the server adds later (actions,
    details) is shown as it comes."""
    actor, subject = obj(entry.get("actor")), obj(entry.get("subject"))
    who = "operator" if actor.get("operator") is True else str(actor.get("username", "?"))
    kind, name = str(subject.get("type", "")), str(subject.get("name", subject.get("id", "?")))
    target = f"#{name}" if kind == "room" else name
    details = []
    for key, value in obj(entry.get("details")).items():
        if key == "until" and isinstance(value, str):
            told = when_text(value)
        elif key == "until" and value is None:
            told = "for good"
        elif value is None or isinstance(value, str | int | float | bool):
            told = json.dumps(value, ensure_ascii=False)
        else:  # a list or object: not one of ours, and maybe nested without end
            told = "…"
        details.append(f"{key} {told}")
    when = when_text(entry.get("at"))
    line = f"{when} {who}: {entry.get('action', '?')} {target}"
    return one_line(f"{line} ({', '.join(details)})" if details else line)


class RoomAdminMixin:
    """Room settings and server administration; the attributes below come from
    ``App`` and ``ActionsMixin``."""

    state: ClientState
    api: Any
    ui: RootView
    spawn: Callable[..., Deferred]
    _current_room: Callable[[], str | None]
    _find_room: Callable[[str], Coroutine[Any, Any, Any]]
    _find_user: Callable[[str], Coroutine[Any, Any, Any]]
    _form_request: Callable[..., Coroutine[Any, Any, bool]]

    def room_admin(self, action: c.RoomAdminAction) -> None:
        """Carry out one of the actions of ``/topic`` … ``/delete-user``."""
        match action:
            case c.ShowRoomInfo(about=about):
                self.spawn(self._show_room_info(about), "Could not read the room")
            case c.EditRoom():
                self.spawn(self._edit_room(action), "Room not changed")
            case c.SetRoomSetting(key=key, value=value):
                self.spawn(self._set_room_setting(key, value), "Room not changed")
            case c.ShowDeleteRoomForm(room=room, admin=admin):
                self.spawn(self._open_delete_room(room, admin), "Could not find the room")
            case c.DeleteRoom():
                self.spawn(self._delete_room(action))
            case c.AdminStats():
                self.spawn(self._admin_stats(), "No server stats")
            case c.AdminAudit(count=count):
                self.spawn(self._admin_audit(count), "No audit log")
            case c.Ban():
                self.spawn(self._ban(action), f"Could not ban {action.username}")
            case c.Unban(username=username):
                self.spawn(self._unban(username), f"Could not unban {username}")
            case c.ShowDeleteUserForm(username=username):
                self.spawn(self._open_delete_user(username))
            case c.DeleteUser():
                self.spawn(self._delete_user(action))

    # -- the room shown ------------------------------------------------------------------

    async def _room_now(self, room_id: str) -> dict[str, Any]:
        """The room as the server has it (``GET /rooms/{id}``), learnt here too."""
        data = await self.api.room(room_id)
        room = obj(data.get("room"))
        if room.get("id") == room_id and room_id in self.state.rooms:
            count = data.get("member_count")
            self.state.add_room(room, member_count=count if isinstance(count, int) else None)
        return room

    async def _show_room_info(self, about: str) -> None:
        room_id = self._current_room()
        if room_id is None:
            return
        room = await self._room_now(room_id)
        name = self.state.title_of(("room", room_id))
        settings = obj(room.get("settings"))
        if about == "topic":
            topic = settings.get("description")
            line = f"Topic of {name}: {topic}" if topic else f"{name} has no topic (/topic TEXT)"
        else:
            kind = "private (invitation only)" if settings.get("is_private") else "public"
            limit = settings.get("max_members")
            most = f"at most {limit} members" if isinstance(limit, int) else "no member limit"
            line = f"{name} is {kind}, {most}"
        self.state.system(line, ("room", room_id), subject=f"room-info:{about}")

    async def _edit_room(self, action: c.EditRoom) -> None:
        room_id = self._current_room()
        if room_id is None:
            return
        room = await self.api.update_room(room_id, name=action.name, description=action.description)
        self._changed(room_id, room)
        title = self.state.title_of(("room", room_id))
        if action.name is not None:
            self.state.notify(f"Room renamed to {title}", "success")
        else:
            done = "set" if action.description else "cleared"
            self.state.notify(f"Topic of {title} {done}", "success")

    async def _set_room_setting(self, key: str, value: bool | int | None) -> None:
        """``settings`` replaces every setting (HTTP.md), so the others are sent as
        the server has them just before, not as this client last heard of them."""
        room_id = self._current_room()
        if room_id is None:
            return
        now = obj((await self._room_now(room_id)).get("settings"))
        settings = {"public": not now.get("is_private"), "max_members": now.get("max_members")}
        settings[key] = value
        room = await self.api.update_room(room_id, settings=settings)
        self._changed(room_id, room)
        title = self.state.title_of(("room", room_id))
        if key == "public":
            kind = "public" if value else "private: only those invited can join"
            self.state.notify(f"{title} is now {kind}", "success")
        else:
            most = f"at most {value} members" if value is not None else "any number of members"
            self.state.notify(f"{title} now allows {most}", "success")

    def _changed(self, room_id: str, room: dict[str, Any]) -> None:
        """Our change, as its ``room_updated`` event would show it."""
        if room.get("id") == room_id and room_id in self.state.rooms:
            me = self.state.me.id if self.state.me is not None else ""
            room_changed(self.state, room, me)

    async def _open_delete_room(self, wanted: str | None, admin: bool) -> None:
        """The form for the room shown, or (admins) the one named: by name among the
        rooms listed, else by id (a private room the admin is not in)."""
        if wanted is None:
            room_id = self._current_room()
            if room_id is None:
                return
            name = self.state.title_of(("room", room_id)).removeprefix("#")
        else:
            found = await self._find_room(wanted)
            if found is not None:
                room_id, name = found.id, found.name
            else:
                try:
                    room = obj((await self.api.room(wanted)).get("room"))
                except ServerError as err:
                    if err.code != "room_not_found":
                        raise
                    room = {}
                if not isinstance(room.get("id"), str):
                    self.state.notify(f"No room named {wanted!r} (a private one: its id)", "error")
                    return
                room_id, name = room["id"], str(room.get("name", room["id"]))
        self.ui.open_overlay(DeleteRoomOverlay(self, room_id, name, admin))

    async def _delete_room(self, action: c.DeleteRoom) -> None:
        """Gone from the lists, and closed if shown, as its ``room_deleted`` event
        does (which may come first, or not at all for an admin not in it)."""
        if action.admin:
            request = self.api.admin_delete_room(action.room_id)
            reason = lairchat_only("delete rooms as an admin")
        else:
            request, reason = self.api.delete_room(action.room_id), ServerError.describe
        if await self._form_request(DeleteRoomOverlay, request, "Room not deleted", reason):
            on_room_deleted(self.state, {"room_id": action.room_id, "room_name": action.name})
            self.state.notify(f"You deleted #{action.name}", "success")

    # -- administration ------------------------------------------------------------------

    async def _admin_stats(self) -> None:
        stats = await self.api.admin_stats()
        told = [
            f"{stats[key]} {label}"
            for key, label in STATS
            if isinstance(stats.get(key), int) and not isinstance(stats.get(key), bool)
        ]
        self.state.system("Server: " + ", ".join(told or ["no counts"]), subject="admin:stats")

    async def _admin_audit(self, count: int) -> None:
        """The newest ``count`` entries, one system line each after a heading; a
        server without the route (Lair Chat, an older lairchat) keeps none."""
        try:
            entries, more = await self.api.admin_audit(count)
        except ServerError as err:
            if not unsupported(err.status, err.code):
                raise
            self.state.system("This server keeps no audit log", subject="admin:audit")
            return
        shown = [audit_line(entry) for entry in objects(entries)]
        older = "; older entries not shown" if more else ""
        heading = f"Audit log, newest first{older}:" if shown else "Audit log: no entries"
        self.state.system(heading, subject="admin:audit")
        for line in shown:
            self.state.system(line)

    async def _ban(self, action: c.Ban) -> None:
        user = await self._find_user(action.username)
        if user is None:
            return
        request = self.api.ban_user(user.id, action.reason, action.hours)
        answer = await lairchat_route(request, "ban users")
        expires = answer.get("expires_at")
        until = f"until {format_clock(parse_time(expires))}" if isinstance(expires, str) else ""
        why = f" ({action.reason})" if action.reason else ""
        self.state.notify(f"{user.username} is banned {until or 'for good'}{why}", "success")

    async def _unban(self, username: str) -> None:
        user = await self._find_user(username)
        if user is None:
            return
        await lairchat_route(self.api.unban_user(user.id), "unban users")
        self.state.notify(f"{user.username} is no longer banned (they log in again)", "success")

    async def _open_delete_user(self, username: str) -> None:
        user = await self._find_user(username)
        if user is None:
            return
        if self.state.is_me(user.id):
            self.state.notify("That is you: /delete-account deletes your own account", "error")
            return
        self.ui.open_overlay(DeleteUserOverlay(self, user.id, user.username))

    async def _delete_user(self, action: c.DeleteUser) -> None:
        request = self.api.admin_delete_user(action.user_id, action.password)
        failed = f"{action.username}'s account not deleted"
        reason = lairchat_only("delete accounts")
        if await self._form_request(DeleteUserOverlay, request, failed, reason):
            self.state.notify(f"{action.username}'s account was deleted", "success")
