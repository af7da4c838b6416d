"""Helpers for testing the client without a terminal or a server.

Wire-object builders (the JSON shapes of PROTOCOL.md §10), a controller that records
actions, a fake clock, and a stand-in for the REST API. Shipped with the package, as
``lairchat.testing`` is, so client tests stay short.
"""

from __future__ import annotations

from typing import Any

import urwid

from lairchat.client import commands as c

__all__ = [
    "FakeApi",
    "FakeClock",
    "RecordingController",
    "message",
    "render_text",
    "room",
    "user",
]

CREATED = "2025-01-21T12:00:00Z"


def user(uid: str, name: str) -> dict[str, Any]:
    return {
        "id": uid,
        "username": name,
        "email": "",
        "role": "user",
        "created_at": CREATED,
        "updated_at": CREATED,
        "last_seen_at": None,
    }


def room(rid: str, name: str, owner: str = "", private: bool = False) -> dict[str, Any]:
    return {
        "id": rid,
        "name": name,
        "owner": owner,
        "settings": {"description": None, "is_private": private, "max_members": None},
        "created_at": CREATED,
    }


def message(
    mid: str,
    author: str,
    content: str,
    *,
    room_id: str | None = None,
    to: str | None = None,
    created_at: str = CREATED,
) -> dict[str, Any]:
    target = {"type": "room", "room_id": room_id} if to is None else {"type": "dm", "recipient": to}
    return {
        "id": mid,
        "author": author,
        "target": target,
        "content": content,
        "edited": False,
        "created_at": created_at,
    }


class FakeClock:
    """A settable ``seconds()``; also callable, for ``ClientState(clock=...)``."""

    def __init__(self, now: float = 1_737_460_800.0) -> None:  # 2025-01-21T12:00:00Z
        self.now = now

    def __call__(self) -> float:
        return self.now

    def seconds(self) -> float:
        return self.now


class RecordingController:
    """Stands in for the app behind widgets: remembers what they asked for."""

    def __init__(self) -> None:
        self.actions: list[c.Action | c.CommandError | None] = []
        self.typed = 0
        self.tops = 0

    def dispatch(self, action: c.Action | c.CommandError | None) -> None:
        self.actions.append(action)

    def typing(self) -> None:
        self.typed += 1

    def load_older(self) -> None:
        self.tops += 1


def render_text(widget: urwid.Widget, cols: int, rows: int, focus: bool = True) -> list[str]:
    """The characters a box widget draws at ``cols`` × ``rows``, one string per row."""
    canvas = widget.render((cols, rows), focus=focus)
    return [line.decode("utf-8") for line in canvas.text]


class FakeApi:
    """The subset of :class:`~lairchat.client.net.http.HttpApi` the app uses, in memory.

    Each method answers from the attributes below; ``fail[name] = ServerError(...)``
    makes that method raise instead. ``calls`` records (name, args).
    """

    def __init__(self) -> None:
        self.token: str | None = None
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.fail: dict[str, Exception] = {}
        self.me_user = user("u-me", "me")
        self.users_list: list[dict[str, Any]] = [{"user": self.me_user, "online": True}]
        self.rooms_list: list[dict[str, Any]] = []
        self.joined_list: list[dict[str, Any]] = []
        self.invitation_list: list[dict[str, Any]] = []
        self.history_pages: dict[tuple[str, str, str | None], tuple[list[Any], bool]] = {}
        self.members_list: dict[str, list[dict[str, Any]]] = {}
        self.closed = False

    async def _answer(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if name in self.fail:
            raise self.fail[name]

    def called(self, name: str) -> list[tuple[Any, ...]]:
        return [args for n, args in self.calls if n == name]

    def close(self) -> None:
        self.closed = True

    async def login(self, identifier: str, password: str) -> dict[str, Any]:
        await self._answer("login", identifier, password)
        self.token = "token-1"
        return {"user": self.me_user, "session": {"id": "s1"}, "token": self.token}

    async def register(self, username: str, email: str, password: str) -> dict[str, Any]:
        await self._answer("register", username, email, password)
        self.token = "token-1"
        return {"user": self.me_user, "session": {"id": "s1"}, "token": self.token}

    async def logout(self) -> None:
        await self._answer("logout")
        self.token = None

    async def me(self) -> dict[str, Any]:
        await self._answer("me")
        return {"user": self.me_user}

    async def users(self) -> list[dict[str, Any]]:
        await self._answer("users")
        return self.users_list

    async def user(self, user_id: str) -> dict[str, Any]:
        await self._answer("user", user_id)
        for item in self.users_list:
            if item["user"]["id"] == user_id:
                return item
        from lairchat.client.net.errors import ServerError

        raise ServerError("user_not_found", "User not found", status=404)

    async def rooms(self) -> list[dict[str, Any]]:
        await self._answer("rooms")
        return self.rooms_list

    async def my_rooms(self) -> list[dict[str, Any]]:
        await self._answer("my_rooms")
        return self.joined_list

    async def create_room(self, name: str, private: bool = False) -> dict[str, Any]:
        await self._answer("create_room", name, private)
        return room(f"r-{name}", name, owner="u-me", private=private)

    async def join_room(self, room_id: str) -> dict[str, Any]:
        await self._answer("join_room", room_id)
        name = next(
            (i["room"]["name"] for i in self.rooms_list if i["room"]["id"] == room_id), room_id
        )
        return {
            "room": room(room_id, name),
            "membership": {"room_id": room_id, "user_id": "u-me", "role": "member"},
        }

    async def leave_room(self, room_id: str) -> None:
        await self._answer("leave_room", room_id)

    async def members(self, room_id: str) -> list[dict[str, Any]]:
        await self._answer("members", room_id)
        return self.members_list.get(room_id, [])

    async def set_role(self, room_id: str, user_id: str, role: str) -> dict[str, Any]:
        await self._answer("set_role", room_id, user_id, role)
        return {"user_id": user_id, "role": role}

    async def kick(self, room_id: str, user_id: str) -> None:
        await self._answer("kick", room_id, user_id)

    async def history(
        self, kind: str, target_id: str, *, limit: int = 50, before: str | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        await self._answer("history", kind, target_id, before)
        return self.history_pages.get((kind, target_id, before), ([], False))

    async def mark_read(self, kind: str, target_id: str) -> None:
        await self._answer("mark_read", kind, target_id)

    async def invite(self, room_id: str, user_id: str) -> dict[str, Any]:
        await self._answer("invite", room_id, user_id)
        return {}

    async def invitations(self) -> list[dict[str, Any]]:
        await self._answer("invitations")
        return self.invitation_list

    async def accept(self, invitation_id: str) -> dict[str, Any]:
        await self._answer("accept", invitation_id)
        inv = next(i for i in self.invitation_list if i["id"] == invitation_id)
        return {
            "membership": {"room_id": inv["room_id"], "user_id": "u-me", "role": "member"},
            "room": room(inv["room_id"], inv["room_name"], private=True),
        }

    async def decline(self, invitation_id: str) -> None:
        await self._answer("decline", invitation_id)
