"""Rooms and their members (HTTP.md §5.3)."""

from __future__ import annotations

from typing import Any

from lairchat.transports.http.bodies import Body, Query, json_body
from lairchat.transports.http.routing import RouteGroup, path_id, route


def room_settings(body: Body) -> dict[str, Any] | None:
    """``settings`` as the services take it: only ``public`` and ``max_members``
    (other keys, e.g. ``moderated``, are ignored like the original does)."""
    settings = body.opt_object("settings")
    if settings is None:
        return None
    return {"public": settings.opt_bool("public"), "max_members": settings.opt_u32("max_members")}


class RoomRoutes(RouteGroup):
    @route("POST", "/api/v1/rooms", status=201)
    async def create_room(self, request: Any) -> dict:
        claims = self.claims(request)
        body = json_body(request)
        name, description = body.text("name"), body.opt_text("description")
        settings = room_settings(body)
        user = await self.caller(claims)
        room = await self.core.rooms.create(user, name, description, settings)
        return {"room": room.to_wire()}

    @route("GET", "/api/v1/rooms")
    async def list_rooms(self, request: Any) -> dict:
        claims = self.claims(request)
        query = Query(request)
        joined_only = query.flag("joined_only")
        query.flag("public_only")  # accepted but not applied: listings are public anyway
        search = query.opt_text("search")
        limit, offset = query.u32("limit"), query.u32("offset") or 0
        user = await self.caller(claims)
        if joined_only:
            page = await self.core.rooms.list_joined(user, limit, offset)
        else:
            page = await self.core.rooms.list_public(user, limit, offset, search)
        return page.to_wire()

    @route("GET", "/api/v1/rooms/{room_id}")
    async def get_room(self, request: Any, room_id: str) -> dict:
        claims = self.claims(request)
        wanted = path_id(room_id, "room_not_found")
        user = await self.caller(claims)
        view = await self.core.rooms.get(user, wanted)
        return {
            "room": view.room.to_wire(),
            "membership": view.membership.to_wire() if view.membership else None,
            "member_count": view.member_count,
        }

    @route("PATCH", "/api/v1/rooms/{room_id}")
    async def update_room(self, request: Any, room_id: str) -> dict:
        claims = self.claims(request)
        body = json_body(request)
        name, description = body.opt_text("name"), body.opt_text("description")
        settings = room_settings(body)
        wanted = path_id(room_id, "room_not_found")
        user = await self.caller(claims)
        room = await self.core.rooms.update(
            user, wanted, name, description, settings, settings_given=settings is not None
        )
        return {"room": room.to_wire()}

    @route("DELETE", "/api/v1/rooms/{room_id}")
    async def delete_room(self, request: Any, room_id: str) -> dict:
        claims = self.claims(request)
        wanted = path_id(room_id, "room_not_found")
        user = await self.caller(claims)
        await self.core.rooms.delete(user, wanted)
        return {"success": True}

    @route("POST", "/api/v1/rooms/{room_id}/join")
    async def join_room(self, request: Any, room_id: str) -> dict:
        claims = self.claims(request)
        wanted = path_id(room_id, "room_not_found")
        user = await self.caller(claims)
        room, membership = await self.core.rooms.join(user, wanted)
        return {"room": room.to_wire(), "membership": membership.to_wire()}

    @route("POST", "/api/v1/rooms/{room_id}/leave")
    async def leave_room(self, request: Any, room_id: str) -> dict:
        claims = self.claims(request)
        wanted = path_id(room_id, "room_not_found")
        user = await self.caller(claims)
        await self.core.rooms.leave(user, wanted)
        return {"success": True}

    @route("GET", "/api/v1/rooms/{room_id}/members")
    async def list_members(self, request: Any, room_id: str) -> dict:
        claims = self.claims(request)
        wanted = path_id(room_id, "room_not_found")
        user = await self.caller(claims)
        members = await self.core.rooms.members(user, wanted)
        return {"members": [m.to_wire() for m in members], "total": len(members)}

    @route("GET", "/api/v1/rooms/{room_id}/pins")
    async def list_pins(self, request: Any, room_id: str) -> dict:
        """The room's pinned messages, the newest pin first (HTTP.md, "Pinned messages")."""
        claims = self.claims(request)
        wanted = path_id(room_id, "room_not_found")
        user = await self.caller(claims)
        return (await self.core.pins.of_room(user, wanted)).to_wire()

    @route("PUT", "/api/v1/rooms/{room_id}/members/{user_id}/role")
    async def change_member_role(self, request: Any, room_id: str, user_id: str) -> dict:
        claims = self.claims(request)
        role = json_body(request).text("role")
        room = path_id(room_id, "room_not_found")
        target = path_id(user_id, "user_not_found")
        user = await self.caller(claims)
        member = await self.core.rooms.change_role(user, room, target, role)
        return {"member": member.to_wire()}

    @route("DELETE", "/api/v1/rooms/{room_id}/members/{user_id}")
    async def kick_member(self, request: Any, room_id: str, user_id: str) -> dict:
        claims = self.claims(request)
        room = path_id(room_id, "room_not_found")
        target = path_id(user_id, "user_not_found")
        user = await self.caller(claims)
        await self.core.rooms.kick(user, room, target)
        return {"success": True}
