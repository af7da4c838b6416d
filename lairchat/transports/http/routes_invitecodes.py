"""Room invite codes (HTTP.md, "Invite codes"): lairchat's own."""

from __future__ import annotations

from typing import Any

from lairchat.transports.http.bodies import json_body
from lairchat.transports.http.routing import RouteGroup, path_id, route


class InviteCodeRoutes(RouteGroup):
    @route("POST", "/api/v1/rooms/{room_id}/invite-codes", status=201)
    async def create_invite_code(self, request: Any, room_id: str) -> dict:
        claims = self.claims(request)
        body = json_body(request)
        max_uses, hours = body.opt_u32("max_uses"), body.opt_u32("expires_in_hours")
        wanted = path_id(room_id, "room_not_found")
        user = await self.caller(claims)
        code = await self.core.invite_codes.create(user, wanted, max_uses, hours)
        return {"invite_code": code.to_wire()}

    @route("GET", "/api/v1/rooms/{room_id}/invite-codes")
    async def list_invite_codes(self, request: Any, room_id: str) -> dict:
        claims = self.claims(request)
        wanted = path_id(room_id, "room_not_found")
        user = await self.caller(claims)
        codes = await self.core.invite_codes.of_room(user, wanted)
        return {"invite_codes": [code.to_wire() for code in codes]}

    @route("DELETE", "/api/v1/rooms/{room_id}/invite-codes/{code_id}")
    async def revoke_invite_code(self, request: Any, room_id: str, code_id: str) -> dict:
        claims = self.claims(request)
        wanted = path_id(room_id, "room_not_found")
        code = path_id(code_id, "invite_code_not_found")
        user = await self.caller(claims)
        await self.core.invite_codes.revoke(user, wanted, code)
        return {"success": True}

    @route("POST", "/api/v1/invite-codes/{code}/join")
    async def join_by_invite_code(self, request: Any, code: str) -> dict:
        """The code is in the path, never in a log line: the access log writes the
        route's template for this one (observability/http.py)."""
        claims = self.claims(request)
        user = await self.caller(claims)
        room, membership = await self.core.invite_codes.join(user, code)
        return {"room": room.to_wire(), "membership": membership.to_wire()}
